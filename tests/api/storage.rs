//! The binary as an operator runs it: kill -9 durability, the setup code, CLI admin commands,
//! backup and restore, configuration checks.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::{Value, json};

use crate::support::{Process, binary, spawn};

pub(crate) async fn register(c: &Process, username: &str) -> String {
    let (status, body) = c
        .post(
            "/api/v1/auth/register",
            None,
            json!({"email": format!("{username}@s.test"), "username": username, "password": "password-1", "name": username}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    body["access_token"].as_str().unwrap().to_string()
}

pub(crate) async fn login(c: &Process, username: &str, password: &str) -> String {
    let (status, body) = c.post("/api/v1/auth/login", None, json!({"login": username, "password": password})).await;
    assert_eq!(status, 200, "{body}");
    body["access_token"].as_str().unwrap().to_string()
}

pub(crate) fn cli(args: &[&str], dir: &Path, stdin: Option<&str>) -> (bool, String) {
    let mut child = Command::new(binary())
        .args(args)
        .arg("--data-dir")
        .arg(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(s) = stdin {
        child.stdin.take().unwrap().write_all(s.as_bytes()).unwrap();
    }
    let out = child.wait_with_output().unwrap();
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

#[tokio::test]
async fn acknowledged_writes_survive_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let server = spawn(dir.path());
    let token = register(&server, "crashy").await;
    let (acked_tx, mut acked_rx) = tokio::sync::mpsc::unbounded_channel::<usize>();
    let next = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut writers = Vec::new();
    for _ in 0..16 {
        let (http, url, token, next, acked) =
            (server.http.clone(), format!("{}/api/v1/me", server.base), token.clone(), next.clone(), acked_tx.clone());
        writers.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let body = json!({"settings": {format!("k{i}"): i}});
                match http.patch(&url).bearer_auth(&token).json(&body).send().await {
                    Ok(r) if r.status() == 200 => {
                        let _ = acked.send(i);
                    }
                    Ok(r) => panic!("unexpected {}", r.status()),
                    Err(_) => return,
                }
            }
        }));
    }
    drop(acked_tx);
    let mut acked = Vec::new();
    while acked.len() < 300 {
        acked.push(acked_rx.recv().await.unwrap());
    }
    server.kill9();
    for w in writers {
        let _ = w.await;
    }
    while let Ok(i) = acked_rx.try_recv() {
        acked.push(i);
    }

    let again = spawn(dir.path());
    let token = login(&again, "crashy", "password-1").await;
    let (status, me) = again.get("/api/v1/me", &token).await;
    assert_eq!(status, 200);
    let missing: Vec<usize> = acked.iter().copied().filter(|i| me["settings"][format!("k{i}")] != json!(i)).collect();
    assert!(missing.is_empty(), "{} of {} acknowledged writes lost: {missing:?}", missing.len(), acked.len());
    again.terminate();
}

#[tokio::test]
async fn setup_code_creates_the_first_admin_once() {
    let dir = tempfile::tempdir().unwrap();
    let server = spawn(dir.path());
    let url = server.setup_url.clone().expect("a fresh server prints a setup link");
    let code = url.split("setup=").nth(1).unwrap().to_string();
    let body = |code: &str| json!({"code": code, "email": "head@s.test", "username": "head", "password": "password-head", "name": "Head"});
    let (status, r) = server.post("/api/v1/setup", None, body("wrong-code")).await;
    assert_eq!((status, r["code"].as_str()), (401, Some("invalid_token")));
    let (status, r) = server.post("/api/v1/setup", None, body(&code)).await;
    assert_eq!(status, 201, "{r}");
    assert_eq!(r["user"]["role"], "admin");
    let token = r["access_token"].as_str().unwrap().to_string();
    let (status, stats) = server.get("/api/v1/admin/stats", &token).await;
    assert_eq!((status, stats["admins"].as_u64()), (200, Some(1)));
    let (_, log) = server.get("/api/v1/admin/audit-log", &token).await;
    let first = &log["items"][0];
    assert_eq!(
        (&first["action"], &first["actor"], &first["ip"]),
        (&json!("setup.first_admin"), &json!("head"), &json!("127.0.0.1")),
        "{log}"
    );
    let (status, _) = server.post("/api/v1/setup", None, body(&code)).await;
    assert_eq!(status, 401, "the code works once");
    server.terminate();
    let again = spawn(dir.path());
    assert!(again.setup_url.is_none(), "no setup link once an admin exists");
    again.terminate();
}

#[tokio::test]
async fn cli_admin_backup_and_restore_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let server = spawn(dir.path());
    // Admin created from the CLI while the server runs (through the control socket).
    let (ok, out) =
        cli(&["admin", "create", "--email", "boss@s.test", "--username", "boss", "--password-stdin"], dir.path(), Some("boss-password\n"));
    assert!(ok, "{out}");
    let admin = login(&server, "boss", "boss-password").await;
    let student = register(&server, "kid").await;
    let avatar = crate::support::png(40, 40);
    let r = server
        .http
        .put(format!("{}/api/v1/me/avatar", server.base))
        .bearer_auth(&student)
        .header("content-type", "image/png")
        .body(avatar)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let (status, _) = server.post("/api/v1/admin/invites", Some(&admin), json!({"code": "ROOM-12"})).await;
    assert_eq!(status, 201);
    let r = server
        .http
        .patch(format!("{}/api/v1/admin/settings", server.base))
        .bearer_auth(&admin)
        .json(&json!({"school_name": "Hill School"}));
    assert_eq!(r.send().await.unwrap().status(), 200);
    let (_, kid) = server.get("/api/v1/me", &student).await;
    let (status, request) = server.post("/api/v1/friend-requests", Some(&admin), json!({"to_user_id": kid["id"]})).await;
    assert_eq!(status, 201);
    let accept = format!("/api/v1/friend-requests/{}/accept", request["id"].as_str().unwrap());
    assert_eq!(server.post(&accept, Some(&student), json!({})).await.0, 200);
    let (status, chat) = server.post("/api/v1/chats", Some(&admin), json!({"type": "private", "user_id": kid["id"]})).await;
    assert_eq!(status, 201);
    let chat_id = chat["id"].as_str().unwrap().to_string();
    let (status, _) =
        server.post(&format!("/api/v1/chats/{chat_id}/messages"), Some(&admin), json!({"content": "welcome", "client_id": "w"})).await;
    assert_eq!(status, 201);
    let (status, note) =
        server.post("/api/v1/notes", Some(&student), json!({"title": "Volcano field trip", "visibility": "friends"})).await;
    assert_eq!(status, 201, "{note}");
    let note_id = note["id"].as_str().unwrap().to_string();
    assert_eq!(server.post(&format!("/api/v1/notes/{note_id}/like"), Some(&admin), json!({})).await.0, 200);
    assert_eq!(server.post(&format!("/api/v1/notes/{note_id}/share"), Some(&admin), json!({"chat_id": chat_id})).await.0, 201);
    let (ok, out) = cli(&["admin", "reset-password", "--login", "kid", "--password-stdin"], dir.path(), Some("kid-new-password\n"));
    assert!(ok, "{out}");
    let student = login(&server, "kid", "kid-new-password").await;
    let (_, before) = server.get("/api/v1/me", &student).await;
    // The inbox is written by a follower of the log: wait for it (kid: the request and one
    // notification for the two chat messages; the admin: the acceptance).
    for _ in 0..200 {
        let (_, kid) = server.get("/api/v1/notifications", &student).await;
        let (_, adm) = server.get("/api/v1/notifications", &admin).await;
        let items = |v: &serde_json::Value| v["items"].as_array().map_or(0, Vec::len);
        if items(&kid) == 2 && kid["items"][0]["count"] == 2 && items(&adm) == 1 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }

    let backups = tempfile::tempdir().unwrap();
    let file = backups.path().join("school.jsonl");
    let (ok, out) = cli(&["backup", file.to_str().unwrap()], dir.path(), None);
    assert!(ok, "{out}");
    assert!(out.contains("verified"), "{out}");
    server.terminate();

    // A damaged file is refused and the target stays empty.
    let restored = tempfile::tempdir().unwrap();
    let mut damaged = std::fs::read_to_string(&file).unwrap();
    damaged = damaged.replacen("kid", "kiD", 1);
    let bad = backups.path().join("bad.jsonl");
    std::fs::write(&bad, damaged).unwrap();
    let (ok, out) = cli(&["restore", bad.to_str().unwrap()], restored.path(), None);
    assert!(!ok && out.contains("checksum"), "{out}");

    let (ok, out) = cli(&["restore", file.to_str().unwrap()], restored.path(), None);
    assert!(ok, "{out}");
    let (ok, out) = cli(&["restore", file.to_str().unwrap()], restored.path(), None);
    assert!(!ok && out.contains("empty"), "restore refuses a non-empty target: {out}");

    let server = spawn(restored.path());
    let student = login(&server, "kid", "kid-new-password").await;
    let (_, after) = server.get("/api/v1/me", &student).await;
    let strip = |mut v: Value| {
        v["profile_photo_url"] = Value::Null;
        v
    };
    assert_eq!(strip(before.clone()), strip(after.clone()));
    let photo = server.http.get(format!("{}{}", server.base, after["profile_photo_url"].as_str().unwrap())).send().await.unwrap();
    assert_eq!(photo.status(), 200);
    let admin = login(&server, "boss", "boss-password").await;
    let (_, invites) = server.get("/api/v1/admin/invites", &admin).await;
    assert_eq!(invites["items"][0]["code"], "ROOM-12");
    // The audit log survives the restore, and the restore is in it.
    let (_, log) = server.get("/api/v1/admin/audit-log", &admin).await;
    let actions: Vec<(&str, &str)> =
        log["items"].as_array().unwrap().iter().map(|e| (e["action"].as_str().unwrap(), e["actor"].as_str().unwrap())).collect();
    assert_eq!(
        actions,
        [
            ("backup.restore", "operator"),
            ("user.reset_password", "operator"),
            ("settings.update", "boss"),
            ("invite.create", "boss"),
            ("user.create", "operator")
        ],
        "{log}"
    );
    assert_eq!((&log["items"][3]["target_id"], &log["items"][3]["ip"]), (&json!("ROOM-12"), &json!("127.0.0.1")));
    let (_, settings) = server.get("/api/v1/admin/settings", &admin).await;
    assert_eq!((&settings["school_name"], &settings["changed"]), (&json!("Hill School"), &json!(["school_name"])), "settings are restored");
    let (_, friends) = server.get("/api/v1/friends", &admin).await;
    assert_eq!(friends["items"][0]["username"], "kid");
    let (_, history) = server.get(&format!("/api/v1/chats/{chat_id}/messages"), &student).await;
    assert!(history.as_array().unwrap().iter().any(|m| m["content"] == "welcome"), "{history}");
    assert!(history.as_array().unwrap().iter().any(|m| m["note_id"] == note_id.as_str()), "the shared note message survives");
    let (status, again) = server.post("/api/v1/chats", Some(&admin), json!({"type": "private", "user_id": kid["id"]})).await;
    assert_eq!((status, again["id"].as_str()), (200, Some(chat_id.as_str())), "the private pair survives");
    let (_, found) = server.get("/api/v1/users?q=kid", &admin).await;
    assert_eq!(found["items"][0]["username"], "kid", "the search index is rebuilt from the restored data");
    let (ok, out) = cli(&["reindex"], restored.path(), None);
    assert!(ok && out.contains("rebuilt"), "reindex while the server runs: {out}");
    let (_, notes) = server.get("/api/v1/notes/search?q=volcano", &admin).await;
    let hit = &notes["items"][0]["note"];
    assert_eq!(hit["id"], note_id.as_str(), "notes are restored and searchable: {notes}");
    assert_eq!((hit["likes_count"].as_u64(), hit["shares_count"].as_u64(), hit["liked_by_me"].as_bool()), (Some(1), Some(1), Some(true)));
    server.terminate();

    // The restored data backs up to the same records (offline backup, server stopped).
    let file2 = backups.path().join("again.jsonl");
    let (ok, out) = cli(&["backup", file2.to_str().unwrap()], restored.path(), None);
    assert!(ok, "{out}");
    // Same records, except the sessions the logins above added to the restored server and the
    // insights its weekly job computed for the students (derived data, recomputed at any time).
    let records = |p: &Path| {
        let text = std::fs::read_to_string(p).unwrap();
        let lines: Vec<String> = text.lines().map(str::to_string).collect();
        let body: std::collections::BTreeSet<String> = lines[1..lines.len() - 1].iter().cloned().collect();
        let (sessions, rest): (Vec<String>, Vec<String>) = body.into_iter().partition(|l| l.starts_with(r#"{"kind":"session""#));
        // The restore and the backups made since are new audit entries of the restored server.
        let new_entry = |l: &String| l.starts_with(r#"{"kind":"audit""#) && (l.contains("backup.restore") || l.contains("backup.create"));
        (sessions, rest.into_iter().filter(|l| !l.starts_with(r#"{"kind":"insights""#) && !new_entry(l)).collect::<Vec<_>>())
    };
    let ((s1, r1), (s2, r2)) = (records(&file), records(&file2));
    let only1: Vec<&String> = r1.iter().filter(|l| !r2.contains(l)).collect();
    let only2: Vec<&String> = r2.iter().filter(|l| !r1.contains(l)).collect();
    assert!(r1 == r2, "records differ after the round trip: {only1:?} vs {only2:?}");
    assert!(s1.iter().all(|s| s2.contains(s)), "original sessions survive the round trip");
    let kinds: Vec<String> = r1.iter().map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["kind"].to_string()).collect();
    assert_eq!(
        r1.len(),
        35,
        "2 users, invite, media, 2 blobs, friendship, request, chat, 2 members, pair, 2 messages, 9 events in the one log \
         (the friend request's two among them, no longer also in an outbox; 4 notification.new), sequence, note, its share \
         count, like, 3 notifications, 4 audit entries (the admin, the invite, the settings, the reset), the settings: {kinds:?}"
    );
}

#[test]
fn config_is_checked_and_init_writes_a_secret() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(binary()).arg("check-config").env("FRIEND_DEFAULT_TIMEZONE", "Moon/Base").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("IANA"));
    let out = Command::new(binary()).args(["check-config", "--config", "/nonexistent/friend.toml"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("friend init"));
    let path = dir.path().join("config.toml");
    let out = Command::new(binary()).args(["init", "--path"]).arg(&path).output().unwrap();
    assert!(out.status.success());
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.lines().any(|l| l.starts_with("jwt_secret = \"") && l.len() > 50));
    let out = Command::new(binary()).args(["check-config", "--config"]).arg(&path).args(["--bind", "127.0.0.1:9999"]).output().unwrap();
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{printed}");
    assert!(printed.contains("127.0.0.1:9999") && printed.contains("<redacted>"), "{printed}");
    let out = Command::new(binary()).args(["init", "--path"]).arg(&path).output().unwrap();
    assert!(!out.status.success(), "init does not overwrite");
}

#[tokio::test]
async fn acknowledged_chat_messages_survive_kill_9() {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;

    let dir = tempfile::tempdir().unwrap();
    let server = crate::support::spawn_with(dir.path(), &[("FRIEND_CHAT__FRAMES_PER_SECOND", "100000")]);
    let a = register(&server, "sender").await;
    let b = register(&server, "reader").await;
    let (_, me_b) = server.get("/api/v1/me", &b).await;
    let (_, me_a) = server.get("/api/v1/me", &a).await;
    let (_, req) = server.post("/api/v1/friend-requests", Some(&a), json!({"to_user_id": me_b["id"]})).await;
    server.post(&format!("/api/v1/friend-requests/{}/accept", req["id"].as_str().unwrap()), Some(&b), json!({})).await;
    let (_, chat) = server.post("/api/v1/chats", Some(&a), json!({"type": "private", "user_id": me_b["id"]})).await;
    let chat_id = chat["id"].as_str().unwrap().to_string();
    let _ = me_a;
    let mut request = format!("{}/api/v1/ws", server.base.replace("http://", "ws://")).into_client_request().unwrap();
    request.headers_mut().insert("authorization", format!("Bearer {a}").parse().unwrap());
    let (ws, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    let (mut tx, mut rx) = ws.split();
    // Pipeline sends; collect acks until 200 arrived, then kill the server mid-stream.
    let sender = tokio::spawn(async move {
        for i in 0..2000 {
            let f = json!({"type": "message.send", "chat_id": chat_id, "client_id": format!("k{i}"), "content": format!("m{i}")});
            if tx.send(Message::text(f.to_string())).await.is_err() {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        }
    });
    let mut acked = std::collections::BTreeSet::new();
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    while let Ok(Some(Ok(msg))) = tokio::time::timeout_at(deadline, rx.next()).await {
        if let Message::Text(t) = msg {
            let v: Value = serde_json::from_str(&t).unwrap();
            if v["type"] == "message.ack" {
                acked.insert(v["message"]["content"].as_str().unwrap().to_string());
                if acked.len() == 200 {
                    break;
                }
            }
        }
    }
    assert_eq!(acked.len(), 200, "acks arrive");
    server.kill9();
    sender.abort();
    let again = spawn(dir.path());
    let b = login(&again, "reader", "password-1").await;
    let (_, chats) = again.get("/api/v1/chats", &b).await;
    let chat_id = chats["items"][0]["id"].as_str().unwrap().to_string();
    let mut stored = std::collections::BTreeSet::new();
    let mut before: Option<String> = None;
    loop {
        let path = match &before {
            Some(id) => format!("/api/v1/chats/{chat_id}/messages?limit=100&before={id}"),
            None => format!("/api/v1/chats/{chat_id}/messages?limit=100"),
        };
        let (_, page) = again.get(&path, &b).await;
        let page = page.as_array().unwrap().clone();
        if page.is_empty() {
            break;
        }
        before = page.last().unwrap()["id"].as_str().map(str::to_string);
        stored.extend(page.iter().map(|m| m["content"].as_str().unwrap().to_string()));
    }
    let lost: Vec<&String> = acked.iter().filter(|m| !stored.contains(*m)).collect();
    assert!(lost.is_empty(), "{} of {} acknowledged messages lost", lost.len(), acked.len());
    again.terminate();
}
