//! The one event log: a change and its event are stored together, so a crash between them loses
//! nothing and repeats nothing; one bearer parser for REST, socket and media; idempotency keys
//! that compare bodies.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use crate::support::{Process, Server, assert_problem, binary, spawn, spawn_with};

fn cli(args: &[&str], dir: &Path) -> String {
    let out = Command::new(binary()).args(args).arg("--data-dir").arg(dir).output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "friend {args:?}: {text}");
    text
}

/// The backup's records as JSON values (header and trailer left out).
fn backup_records(dir: &Path, name: &str) -> Vec<Value> {
    let file = dir.parent().unwrap().join(name);
    cli(&["backup", file.to_str().unwrap()], dir);
    let text = std::fs::read_to_string(&file).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    lines[1..lines.len() - 1].iter().map(|l| serde_json::from_str(l).unwrap()).collect()
}

fn events_of_kind<'a>(records: &'a [Value], kind: &str) -> Vec<&'a Value> {
    records.iter().filter(|r| r["kind"] == "logged" && r["data"]["kind"] == kind).collect()
}

/// Runs `friend serve` with the failpoint armed until it aborts (as `kill -9` would) at that point.
fn run_until_failpoint(dir: &Path, point: &str, env: &[(&str, &str)]) {
    let mut child = Command::new(binary())
        .args(["--bind", "127.0.0.1:0", "--data-dir"])
        .arg(dir)
        .env("FRIENDTEST_FAILPOINT", point)
        .envs(env.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(!status.success(), "the server must have died at the failpoint, got {status}");
            return;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the failpoint {point} was never reached");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Rewrites a backup so that every user joined `days` days ago (and re-signs its trailer).
fn backdate_users(file: &Path, days: i64) {
    let text = std::fs::read_to_string(file).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let joined = (chrono::Utc::now() - chrono::Duration::days(days)).to_rfc3339();
    for line in lines.iter_mut() {
        let mut v: Value = serde_json::from_str(line).unwrap();
        if v["kind"] == "user" {
            v["data"]["created_at"] = json!(joined);
            *line = v.to_string();
        }
    }
    let body = &lines[..lines.len() - 1];
    let mut hash = Sha256::new();
    for l in body {
        hash.update(l.as_bytes());
        hash.update(b"\n");
    }
    let trailer = json!({"kind": "end", "data": {"records": body.len() - 1, "sha256": hex::encode(hash.finalize())}});
    let mut out = body.join("\n");
    out.push('\n');
    out.push_str(&trailer.to_string());
    out.push('\n');
    std::fs::write(file, out).unwrap();
}

async fn register(p: &Process, username: &str) -> String {
    let body = json!({"email": format!("{username}@s.test"), "username": username, "password": "password-1", "name": username});
    let (status, body) = p.post("/api/v1/auth/register", None, body).await;
    assert_eq!(status, 201, "{body}");
    body["access_token"].as_str().unwrap().to_string()
}

async fn login(p: &Process, username: &str) -> String {
    let (status, body) = p.post("/api/v1/auth/login", None, json!({"login": username, "password": "password-1"})).await;
    assert_eq!(status, 200, "{body}");
    body["access_token"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn report_ready_survives_a_crash_between_marker_and_event_exactly_once() {
    // A student who joined 40 days ago, so finished weeks and a month are due.
    let first = tempfile::tempdir().unwrap();
    let server = spawn(first.path());
    register(&server, "ana").await;
    server.terminate();
    let file = first.path().parent().unwrap().join(format!("{}.jsonl", crate::support::unique("reports")));
    cli(&["backup", file.to_str().unwrap()], first.path());
    backdate_users(&file, 40);
    let dir = tempfile::tempdir().unwrap();
    cli(&["restore", file.to_str().unwrap()], dir.path());

    // The report job dies right after its transaction (markers and events), before the flush.
    run_until_failpoint(dir.path(), "committed:report_ready", &[("FRIEND_ACTIVITY__REPORT_JOB_SECS", "1")]);

    // Restarted: the job finishes what was lost, and each report has its event exactly once.
    let server = spawn_with(dir.path(), &[("FRIEND_ACTIVITY__REPORT_JOB_SECS", "1")]);
    let token = login(&server, "ana").await;
    let deadline = Instant::now() + Duration::from_secs(20);
    let ready = loop {
        let (status, ready) = server.get("/api/v1/reports/ready", &token).await;
        assert_eq!(status, 200, "{ready}");
        let n = ready.as_array().map_or(0, Vec::len);
        if n >= 5 || Instant::now() > deadline {
            break ready;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let periods: Vec<String> = ready.as_array().unwrap().iter().map(|r| r["period"].as_str().unwrap().to_string()).collect();
    assert!(periods.len() >= 5, "4 weeks and at least one month: {ready}");
    server.terminate();
    let records = backup_records(dir.path(), &format!("{}.jsonl", crate::support::unique("after")));
    let events = events_of_kind(&records, "report_ready");
    let mut logged: Vec<String> = events.iter().map(|e| e["data"]["payload"]["period"].as_str().unwrap().to_string()).collect();
    logged.sort();
    let mut want = periods.clone();
    want.sort();
    assert_eq!(logged, want, "one report_ready per ready report, none lost, none twice");
}

#[tokio::test]
async fn a_completed_goal_is_logged_once_across_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let today = chrono::Utc::now().date_naive().to_string();
    let server = spawn_with(dir.path(), &[("FRIENDTEST_FAILPOINT", "committed:goal_completed")]);
    let token = register(&server, "ben").await;
    let (status, goal) = server
        .post(
            "/api/v1/goals",
            Some(&token),
            json!({"title": "Read 3 books", "period": "monthly", "metric": "custom", "target_value": 3, "start_date": today}),
        )
        .await;
    assert_eq!(status, 201, "{goal}");
    let id = goal["id"].as_str().unwrap().to_string();
    // Reaching the target completes the goal; the server dies as that transition is committed.
    let r =
        server.http.post(format!("{}/api/v1/goals/{id}/progress", server.base)).bearer_auth(&token).json(&json!({"value": 3})).send().await;
    assert!(r.is_err() || !r.unwrap().status().is_success(), "the request died with the server");
    drop(server);

    let server = spawn(dir.path());
    let token = login(&server, "ben").await;
    let (_, goal) = server.get(&format!("/api/v1/goals/{id}"), &token).await;
    assert_eq!(goal["status"], "completed", "{goal}");
    let (_, again) = server.get(&format!("/api/v1/goals/{id}"), &token).await;
    assert_eq!(again["status"], "completed");
    server.terminate();
    let records = backup_records(dir.path(), &format!("{}.jsonl", crate::support::unique("goal")));
    let events = events_of_kind(&records, "goal_completed");
    assert_eq!(events.len(), 1, "exactly one goal_completed: {events:?}");
    assert_eq!(events[0]["data"]["payload"]["goal_id"], id.as_str());
}

#[tokio::test]
async fn the_bearer_scheme_is_case_insensitive_on_rest_socket_and_media() {
    let s = Server::start().await;
    let u = s.register().await;
    for scheme in ["Bearer", "bearer", "BEARER"] {
        let r = s.http.get(s.url("/api/v1/me")).header("authorization", format!("{scheme} {}", u.access)).send().await.unwrap();
        assert_eq!(r.status(), 200, "REST with {scheme}");
    }
    let up = s
        .http
        .post(s.url("/api/v1/media"))
        .bearer_auth(&u.access)
        .header("content-type", "image/png")
        .body(crate::support::png(8, 8))
        .send()
        .await
        .unwrap();
    let media: Value = up.json().await.unwrap();
    let r = s
        .http
        .get(s.url(&format!("/api/v1/media/{}", media["id"].as_str().unwrap())))
        .header("authorization", format!("bearer {}", u.access))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "media with a lower-case scheme");
    let url = s.base.replace("http://", "ws://") + "/api/v1/ws";
    let mut req = url.into_client_request().unwrap();
    req.headers_mut().insert("authorization", format!("bearer {}", u.access).parse().unwrap());
    assert!(tokio_tungstenite::connect_async(req).await.is_ok(), "socket with a lower-case scheme");
    let r = s.http.get(s.url("/api/v1/me")).header("authorization", format!("Basic {}", u.access)).send().await.unwrap();
    assert_eq!(r.status(), 401, "another scheme is not a bearer token");
}

#[tokio::test]
async fn an_idempotency_key_reused_with_a_different_body_of_the_same_length_is_refused() {
    let s = Server::start().await;
    let u = s.register().await;
    let patch = |name: &'static str| {
        s.http.patch(s.url("/api/v1/me")).bearer_auth(&u.access).header("idempotency-key", "rename-1").json(&json!({"name": name}))
    };
    let first = Server::finish(patch("Anna")).await;
    assert_eq!(first.status, 200);
    let retry = Server::finish(patch("Anna")).await;
    assert_eq!((retry.status.as_u16(), retry.headers["idempotent-replayed"].to_str().unwrap()), (200, "true"));
    let different = Server::finish(patch("Bert")).await;
    assert_problem(&different, 422, "idempotency_key_reused");
    assert_eq!(s.get("/api/v1/me", &u.access).await.body["name"], "Anna", "the different request did nothing");
}
