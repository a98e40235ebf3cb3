//! Scheduled backups on an injected clock: one a day, verified, rotated; a failing target is
//! visible (`/readyz`, `/metrics`) and retried; `friend backup --verify` and `friend restore
//! --dry-run` read a file without touching any data.

use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::Timelike;
use friend::Clock;
use serde_json::Value;

use crate::storage::cli;
use crate::support::Server;

async fn ready(s: &Server) -> Value {
    reqwest::get(s.url("/readyz")).await.unwrap().json().await.unwrap()
}

/// Waits until `/readyz` satisfies `cond` (the schedule is looked at every second).
async fn wait_ready(s: &Server, what: &str, cond: impl Fn(&Value) -> bool) -> Value {
    for _ in 0..100 {
        let r = ready(s).await;
        if cond(&r) {
            return r;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{what}: {}", ready(s).await);
}

fn backups(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    names
}

#[tokio::test]
async fn scheduled_backups_run_daily_rotate_and_recover_from_a_failing_target() {
    let clock = Clock::system();
    let target = tempfile::tempdir().unwrap();
    let usb: PathBuf = target.path().join("usb");
    let hour = clock.now().hour();
    let dir = usb.clone();
    let s = Server::start_in_with_clock(tempfile::tempdir().unwrap(), clock.clone(), move |c| {
        c.backup.enabled = true;
        c.backup.dir = dir;
        c.backup.hour = hour;
        c.backup.keep_daily = 3;
        c.backup.keep_weekly = 2;
        c.backup.check_secs = 1;
    })
    .await;
    s.register_as("backed_up").await;

    // Today's slot has passed: the first backup is written at once, verified, and reported.
    let r = wait_ready(&s, "first backup", |r| r["backup"] == "ok").await;
    assert_eq!(r["status"], "ok");
    let first = backups(&usb);
    assert_eq!(first.len(), 1, "{first:?}");
    assert!(first[0].starts_with("friend-") && first[0].ends_with(".jsonl"));
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!((mode(&usb), mode(&usb.join(&first[0]))), (0o700, 0o600), "backups are owner-only");
    // Another file in the directory is never rotated away.
    std::fs::write(usb.join("notes.txt"), b"keep me").unwrap();

    // Nine more days: one backup a day, rotated to the newest 3 days and 2 weeks.
    for _ in 0..9 {
        let before = ready(&s).await["last_backup_at"].clone();
        clock.advance(chrono::Duration::days(1));
        wait_ready(&s, "the next day's backup", |r| r["last_backup_at"] != before && r["backup"] == "ok").await;
    }
    let kept: Vec<String> = backups(&usb).into_iter().filter(|n| n.starts_with("friend-")).collect();
    assert!((3..=5).contains(&kept.len()), "3 daily + up to 2 weekly: {kept:?}");
    assert!(!kept.contains(&first[0]), "the oldest went: {kept:?}");
    assert!(usb.join("notes.txt").exists());
    for name in &kept {
        let (ok, out) = cli(&["backup", "--verify", usb.join(name).to_str().unwrap()], target.path(), None);
        assert!(ok && out.contains("valid backup"), "{out}");
        assert!(out.lines().any(|l| l.trim_start().starts_with("user ") && l.trim_end().ends_with(" 1")), "{out}");
    }

    // The target fails (a file where the directory was): visible, counted, and retried.
    let away = target.path().join("usb-away");
    std::fs::rename(&usb, &away).unwrap();
    std::fs::write(&usb, b"not a directory").unwrap();
    clock.advance(chrono::Duration::days(1));
    let r = wait_ready(&s, "a failing backup", |r| r["backup"] == "failing").await;
    assert_eq!(r["status"], "ok", "a failing backup does not make the server unready");
    assert!(r.get("backup_error").is_none(), "why is for staff, not the public /readyz: {r}");
    let admin = s.staff(friend::model::Role::Admin).await;
    let stats = s.get("/api/v1/admin/stats", &admin.access).await.body;
    assert_eq!(stats["backup"], "failing", "{stats}");
    assert!(stats["backup_error"].as_str().unwrap().contains("usb"), "{stats}");
    let student = s.register().await;
    assert_eq!(s.get("/api/v1/admin/stats", &student.access).await.status, 403);
    let metrics = s.http.get(s.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("friend_job_failures_total{job=\"backup\"} 1"), "{metrics}");
    std::fs::remove_file(&usb).unwrap();
    std::fs::rename(&away, &usb).unwrap();
    // Not before the retry interval (30 minutes)...
    clock.advance(chrono::Duration::minutes(10));
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(ready(&s).await["backup"], "failing");
    // ...then it succeeds and the failure is cleared.
    clock.advance(chrono::Duration::minutes(25));
    wait_ready(&s, "the retried backup", |r| r["backup"] == "ok").await;
    // (The clock moved past the first admin token's lifetime.)
    let admin = s.staff(friend::model::Role::Admin).await;
    let stats = s.get("/api/v1/admin/stats", &admin.access).await.body;
    assert!(stats["backup_error"].is_null() && stats["last_backup_file"].as_str().unwrap().contains("usb"), "{stats}");
    let metrics = s.http.get(s.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("friend_backup_last_success_timestamp_seconds "), "{metrics}");
}

#[test]
fn verify_and_dry_run_read_a_backup_and_refuse_a_damaged_one() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("b.jsonl");
    let (ok, out) = cli(&["backup", file.to_str().unwrap()], &dir.path().join("data"), None);
    assert!(ok, "{out}");
    let (ok, out) = cli(&["restore", "--dry-run", file.to_str().unwrap()], &dir.path().join("empty"), None);
    assert!(ok && out.contains("valid backup"), "{out}");
    assert!(!dir.path().join("empty").exists(), "a dry run creates nothing");
    let mut text = std::fs::read_to_string(&file).unwrap();
    text.truncate(text.len() - 10);
    std::fs::write(&file, text).unwrap();
    for args in [["backup", "--verify"], ["restore", "--dry-run"]] {
        let (ok, out) = cli(&[args[0], args[1], file.to_str().unwrap()], dir.path(), None);
        assert!(!ok && out.contains("not a valid friend backup"), "{out}");
    }
}

#[tokio::test]
async fn a_filling_disk_is_reported_before_it_is_full() {
    let s = Server::start().await;
    let r = ready(&s).await;
    assert_eq!(r["disk"], "ok", "{r}");
    assert!(r["disk_free_bytes"].as_u64().unwrap() > 0);
    // A threshold above the disk's size: the warning shows, the server stays ready.
    let low = Server::start_with(|c| c.storage.warn_free_mb = u64::MAX / 2).await;
    let r = ready(&low).await;
    assert_eq!((r["status"].as_str(), r["disk"].as_str()), (Some("ok"), Some("low")), "{r}");
    let metrics = low.http.get(low.url("/metrics")).send().await.unwrap().text().await.unwrap();
    let free = metrics.lines().find(|l| l.starts_with("friend_disk_free_bytes ")).expect("friend_disk_free_bytes");
    assert!(free.split(' ').nth(1).unwrap().parse::<f64>().unwrap() > 0.0, "{free}");
}

/// A size-limited tmpfs mounted for one test, unmounted on drop.
struct SmallDisk(std::path::PathBuf);

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

#[tokio::test]
async fn a_full_disk_refuses_writes_cleanly_keeps_reads_and_recovers_by_itself() {
    let root = tempfile::tempdir().unwrap();
    let mnt = root.path().join("disk");
    std::fs::create_dir_all(&mnt).unwrap();
    let ok = std::process::Command::new("mount").args(["-t", "tmpfs", "-o", "size=96m", "tmpfs"]).arg(&mnt).status().unwrap().success();
    assert!(ok, "mounting a 96 MiB tmpfs needs root (tests/run.sh runs as root in CI)");
    let _disk = SmallDisk(mnt.clone());
    let s = Server::start_in(tempfile::tempdir_in(&mnt).unwrap(), |c| c.storage.reserve_mb = 48).await;
    let u = s.register().await;
    assert_eq!(s.patch("/api/v1/me", &u.access, serde_json::json!({"bio": "before"})).await.status, 200);

    // Fill the disk until less than the reserve is left.
    let junk = mnt.join("junk");
    let free = fs2_free(&mnt);
    std::fs::write(&junk, vec![1u8; (free - 40 * 1024 * 1024) as usize]).unwrap();
    let r = s.patch("/api/v1/me", &u.access, serde_json::json!({"bio": "during"})).await;
    assert_eq!((r.status.as_u16(), r.code()), (507, "insufficient_storage"), "{:?}", r.body);
    assert!(r.body["detail"].as_str().unwrap().contains("disk is full"));
    let r = s.post("/api/v1/notes", Some(&u.access), serde_json::json!({"title": "lost?"})).await;
    assert_eq!((r.status.as_u16(), r.code()), (507, "insufficient_storage"));
    // Reads go on, and nothing of the refused writes was stored.
    let me = s.get("/api/v1/me", &u.access).await;
    assert_eq!((me.status.as_u16(), me.body["bio"].as_str()), (200, Some("before")));
    assert_eq!(s.get("/api/v1/notes/feed", &u.access).await.status, 200);
    assert_eq!(ready(&s).await["disk"], "low");

    // Space is freed: writes work again without a restart.
    std::fs::remove_file(&junk).unwrap();
    let r = s.patch("/api/v1/me", &u.access, serde_json::json!({"bio": "after"})).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    assert_eq!(s.get("/api/v1/me", &u.access).await.body["bio"], "after");
    let _ = s.stop().await;
}

fn fs2_free(dir: &Path) -> u64 {
    let out = std::process::Command::new("df").args(["--output=avail", "-B1"]).arg(dir).output().unwrap();
    String::from_utf8(out.stdout).unwrap().lines().nth(1).unwrap().trim().parse().unwrap()
}

#[tokio::test]
async fn admins_make_list_download_and_verify_backups_and_each_is_audited() {
    use crate::support::assert_problem;
    use friend::model::Role;
    use serde_json::json;
    let s = Server::start().await;
    let admin = s.staff(Role::Admin).await;
    let moderator = s.staff(Role::Moderator).await;
    let kid = s.register().await;
    assert_problem(&s.post("/api/v1/admin/backups", Some(&moderator.access), json!({})).await, 403, "forbidden");
    assert_problem(&s.get("/api/v1/admin/backups", &kid.access).await, 403, "forbidden");
    assert_eq!(s.get("/api/v1/admin/backups", &admin.access).await.body["items"], json!([]));

    let r = s.post("/api/v1/admin/backups", Some(&admin.access), json!({})).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let id = r.body["id"].as_str().unwrap().to_string();
    assert!(id.starts_with("friend-") && id.ends_with(".jsonl"), "{id}");
    assert_eq!((&r.body["complete"], r.body["sha256"].as_str().map(str::len)), (&json!(true), Some(64)));
    assert!(r.body["records"].as_u64().unwrap() >= 3, "three accounts at least: {}", r.body);
    let list = s.get("/api/v1/admin/backups", &admin.access).await;
    assert_eq!(list.body["items"][0], r.body);

    // The download is the file, whole; its trailer states the listed checksum.
    let got = s.http.get(s.url(&format!("/api/v1/admin/backups/{id}"))).bearer_auth(&admin.access).send().await.unwrap();
    assert_eq!(got.status(), 200);
    assert_eq!(got.headers()["content-type"], "application/x-ndjson");
    assert!(got.headers()["content-disposition"].to_str().unwrap().contains(&id));
    let bytes = got.bytes().await.unwrap();
    assert_eq!(bytes.len() as u64, r.body["size_bytes"].as_u64().unwrap());
    let text = String::from_utf8(bytes.to_vec()).unwrap();
    assert!(text.lines().next().unwrap().contains(r#""friend-backup""#), "the header comes first");
    assert!(text.trim_end().lines().last().unwrap().contains(r.body["sha256"].as_str().unwrap()));
    assert!(text.contains(&kid.username));
    let bad_download = s.http.get(s.url(&format!("/api/v1/admin/backups/{id}"))).bearer_auth(&moderator.access).send().await.unwrap();
    assert_eq!(bad_download.status(), 403);

    let v = s.post(&format!("/api/v1/admin/backups/{id}/verify"), Some(&admin.access), json!({})).await;
    assert_eq!((v.status.as_u16(), &v.body["verified"], &v.body["records"]), (200, &json!(true), &r.body["records"]), "{}", v.body);

    // A damaged file: listed as incomplete, refused by verify.
    let file = s.data_dir().join("backups").join(&id);
    let whole = std::fs::read(&file).unwrap();
    std::fs::write(&file, &whole[..whole.len() / 2]).unwrap();
    assert_eq!(s.get("/api/v1/admin/backups", &admin.access).await.body["items"][0]["complete"], false);
    assert_problem(&s.post(&format!("/api/v1/admin/backups/{id}/verify"), Some(&admin.access), json!({})).await, 422, "validation_failed");
    for other in ["secrets.json", "friend-20260101T000000Z.jsonl", "friend-x.jsonl"] {
        assert_problem(&s.get(&format!("/api/v1/admin/backups/{other}"), &admin.access).await, 404, "not_found");
    }

    let log = s.get("/api/v1/admin/audit-log?action=backup", &admin.access).await;
    let actions: Vec<&str> = log.body["items"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["backup.verify", "backup.verify", "backup.download", "backup.create"], "{}", log.body);
    assert_eq!(log.body["items"][0]["new"]["verified"], false);
}
