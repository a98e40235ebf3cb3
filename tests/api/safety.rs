//! Findings of the outside security review (issue 11): each test failed before its fix.

use std::time::Duration;

use serde_json::{Value, json};

use crate::support::{Server, User, assert_problem, png};
use crate::ws_support::Ws;

async fn pair(s: &Server) -> (User, User, String) {
    let (a, b) = (s.register().await, s.register().await);
    s.befriend(&a, &b).await;
    let r = s.post("/api/v1/chats", Some(&a.access), json!({"type": "private", "user_id": b.id})).await;
    (a, b, r.body["id"].as_str().unwrap().to_string())
}

/// Every frame `sync {since: 0}` replays to `ws`, as text.
async fn full_sync(ws: &mut Ws) -> Vec<String> {
    ws.send(json!({"type": "sync", "since": 0})).await;
    let mut frames = Vec::new();
    loop {
        let f = ws.next_within(Duration::from_secs(5)).await.expect("sync frames");
        if f["type"] == "sync.done" {
            return frames;
        }
        frames.push(f.to_string());
    }
}

#[tokio::test]
async fn deleted_and_edited_messages_leave_nothing_behind_in_sync_or_media() {
    let s = Server::start().await;
    let (a, b, chat) = pair(&s).await;
    let secret = "my address is 12 Elm Street";
    let text = s.post(&format!("/api/v1/chats/{chat}/messages"), Some(&a.access), json!({"content": secret, "client_id": "t1"})).await;
    let text_id = text.body["id"].as_str().unwrap().to_string();
    let typo =
        s.post(&format!("/api/v1/chats/{chat}/messages"), Some(&a.access), json!({"content": "call me on 0612", "client_id": "t2"})).await;
    let typo_id = typo.body["id"].as_str().unwrap().to_string();
    let up =
        Server::finish(s.http.post(s.url("/api/v1/media")).bearer_auth(&a.access).header("content-type", "image/png").body(png(16, 16)))
            .await;
    let media = up.body["id"].as_str().unwrap().to_string();
    let img = s
        .post(
            &format!("/api/v1/chats/{chat}/messages"),
            Some(&a.access),
            json!({"kind": "image", "attachment_id": media, "client_id": "i1"}),
        )
        .await;
    let img_id = img.body["id"].as_str().unwrap().to_string();
    let signed = img.body["attachment"]["url"].as_str().unwrap().to_string();
    assert_eq!(Server::finish(s.http.get(s.url(&signed))).await.status, 200, "the signed URL works while the message exists");

    // The author removes the address and the photo, and corrects the other message.
    assert_eq!(s.delete(&format!("/api/v1/chats/{chat}/messages/{text_id}"), &a.access, None).await.status, 204);
    assert_eq!(s.delete(&format!("/api/v1/chats/{chat}/messages/{img_id}"), &a.access, None).await.status, 204);
    assert_eq!(s.patch(&format!("/api/v1/chats/{chat}/messages/{typo_id}"), &a.access, json!({"content": "call me"})).await.status, 200);

    // No read path returns the old text or the file: not the history, not sync, not media.
    let history = s.get(&format!("/api/v1/chats/{chat}/messages"), &b.access).await.body.to_string();
    assert!(!history.contains("12 Elm") && !history.contains("0612") && !history.contains(&media), "{history}");
    let mut ws = Ws::connect(&s, &b.access).await;
    let frames = full_sync(&mut ws).await;
    let all = frames.join("\n");
    assert!(frames.iter().any(|f| f.contains(&text_id)), "the events are still replayed, as tombstones: {all}");
    assert!(!all.contains("12 Elm") && !all.contains("0612") && !all.contains(&media), "sync replays what was deleted: {all}");
    let replayed: Vec<Value> = frames.iter().map(|f| serde_json::from_str(f).unwrap()).collect();
    let first = replayed.iter().find(|f| f["type"] == "message.new" && f["message"]["id"] == text_id.as_str()).unwrap();
    assert_eq!((first["message"]["deleted"].as_bool(), first["message"]["content"].as_str()), (Some(true), Some("")));
    for token in [&b.access, &a.access] {
        let r = Server::finish(s.http.get(s.url(&format!("/api/v1/media/{media}"))).bearer_auth(token)).await;
        assert_problem(&r, 404, "not_found");
    }
    assert_eq!(Server::finish(s.http.get(s.url(&signed))).await.status, 404, "an old signed URL stops working");
    let export = s.get("/api/v1/me/export", &a.access).await.body.to_string();
    assert!(!export.contains("12 Elm") && !export.contains(&media), "the author's export keeps only the tombstones");
}

#[tokio::test]
async fn a_block_silences_typing_and_receipts_in_an_old_chat() {
    let s = Server::start().await;
    let (a, b, chat) = pair(&s).await;
    let m = s.post(&format!("/api/v1/chats/{chat}/messages"), Some(&b.access), json!({"content": "hi", "client_id": "h1"})).await;
    let mid = m.body["id"].as_str().unwrap().to_string();
    let mut wa = Ws::connect(&s, &a.access).await;
    let mut wb = Ws::connect(&s, &b.access).await;
    // Before the block both reach the other.
    wa.send(json!({"type": "typing.start", "chat_id": chat})).await;
    assert_eq!(wb.expect("typing").await["user_id"], a.id.as_str());
    wa.send(json!({"type": "typing.stop", "chat_id": chat})).await;
    wb.expect("typing").await;
    assert_eq!(s.post("/api/v1/blocks", Some(&b.access), json!({"user_id": a.id})).await.status, 201);
    wa.send(json!({"type": "typing.start", "chat_id": chat})).await;
    wa.send(json!({"type": "message.read", "chat_id": chat, "up_to_message_id": mid})).await;
    assert!(wb.none_of("typing", Duration::from_secs(1)).await, "typing crosses a block");
    assert!(wb.none_of("receipt", Duration::from_millis(300)).await, "receipts cross a block");
    // Nor the other way round, nor on a later sync.
    wb.send(json!({"type": "typing.start", "chat_id": chat})).await;
    assert!(wa.none_of("typing", Duration::from_secs(1)).await);
    let replay = full_sync(&mut wb).await.join("\n");
    assert!(!replay.contains(r#""type":"receipt""#), "{replay}");
}

#[tokio::test]
async fn signing_out_everywhere_closes_open_sockets_at_once() {
    let s = Server::start().await;
    let u = s.register().await;
    let mut ws = Ws::connect(&s, &u.access).await;
    assert_eq!(s.post("/api/v1/auth/logout-all", Some(&u.access), json!({})).await.status, 204);
    let closed = ws.expect_within("closed", Duration::from_secs(2)).await;
    assert_eq!(closed["code"], 4001, "closed with 'session ended', not at the next 25 s ping");
    // A revoked single session and a password change do the same.
    let second = s.login(&u.username, &u.password).await;
    let third = s.login(&u.username, &u.password).await;
    let mut ws2 = Ws::connect(&s, &second.access).await;
    let sessions = s.get("/api/v1/auth/sessions", &third.access).await.body;
    let list = sessions["items"].as_array().cloned().unwrap();
    let sid = list.iter().find(|x| x["current"] == false).unwrap()["id"].as_str().unwrap().to_string();
    assert_eq!(s.delete(&format!("/api/v1/auth/sessions/{sid}"), &third.access, None).await.status, 204);
    assert_eq!(ws2.expect_within("closed", Duration::from_secs(2)).await["code"], 4001);
    let mut ws3 = Ws::connect(&s, &third.access).await;
    assert!(ws3.none_of("closed", Duration::from_millis(300)).await, "the caller's own session stays");
}

#[tokio::test]
async fn a_friends_only_note_cannot_be_shared_where_a_stranger_would_read_it() {
    let s = Server::start().await;
    let (author, friend) = (s.register().await, s.register().await);
    let stranger = s.register().await;
    s.befriend(&author, &friend).await;
    s.befriend(&friend, &stranger).await;
    let note = s
        .post("/api/v1/notes", Some(&author.access), json!({"title": "Diary of Ana", "content": "private-ish", "visibility": "friends"}))
        .await;
    let note_id = note.body["id"].as_str().unwrap().to_string();
    let group = s
        .post("/api/v1/chats", Some(&friend.access), json!({"type": "group", "name": "Class", "member_ids": [stranger.id, author.id]}))
        .await;
    let group_id = group.body["id"].as_str().unwrap().to_string();
    let r = s.post(&format!("/api/v1/notes/{note_id}/share"), Some(&friend.access), json!({"chat_id": group_id})).await;
    assert_problem(&r, 422, "validation_failed");
    let history = s.get(&format!("/api/v1/chats/{group_id}/messages"), &stranger.access).await.body.to_string();
    assert!(!history.contains("Diary of Ana"), "the title leaked: {history}");
    // Into a chat where everyone may read it, the share works.
    let pair = s.post("/api/v1/chats", Some(&friend.access), json!({"type": "private", "user_id": author.id})).await;
    let r = s.post(&format!("/api/v1/notes/{note_id}/share"), Some(&friend.access), json!({"chat_id": pair.body["id"]})).await;
    assert_eq!(r.status, 201, "{}", r.body);
}

#[tokio::test]
async fn the_export_keeps_messages_of_chats_one_left() {
    let s = Server::start().await;
    let (a, b, chat) = pair(&s).await;
    s.post(&format!("/api/v1/chats/{chat}/messages"), Some(&a.access), json!({"content": "before I left", "client_id": "x1"})).await;
    assert_eq!(s.delete(&format!("/api/v1/chats/{chat}"), &a.access, None).await.status, 204);
    let export = s.get("/api/v1/me/export", &a.access).await.body;
    assert!(export["messages"].to_string().contains("before I left"), "{}", export["messages"]);
    assert!(!s.get("/api/v1/me/export", &b.access).await.body["messages"].to_string().contains("before I left"));
}

#[tokio::test]
async fn extreme_dates_are_refused_instead_of_crashing() {
    let s = Server::start().await;
    let u = s.register().await;
    let goal = json!({"title": "Forever", "period": "weekly", "metric": "study_days", "target_value": 1, "start_date": "262142-12-31"});
    assert_problem(&s.post("/api/v1/goals", Some(&u.access), goal).await, 422, "validation_failed");
    assert_problem(&s.get("/api/v1/reports/weekly?week=262143-W52", &u.access).await, 422, "validation_failed");
    assert_problem(&s.get("/api/v1/reports/monthly?month=262143-12", &u.access).await, 422, "validation_failed");
    assert_problem(&s.put("/api/v1/activities/1899-12-31", &u.access, json!({"sleep_hours": 8})).await, 422, "validation_failed");
    assert_eq!(s.put("/api/v1/activities/2026-11-27", &u.access, json!({"sleep_hours": 8})).await.status, 200);
}

#[cfg(unix)]
#[tokio::test]
async fn the_data_directory_and_backups_are_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let parent = tempfile::tempdir().unwrap();
    let dir = parent.path().join("data");
    let server = crate::support::spawn(&dir);
    server.terminate();
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&dir), 0o700, "a data dir the server creates is owner-only");
    let file = parent.path().join("b.jsonl");
    let out = std::process::Command::new(crate::support::binary()).arg("backup").arg(&file).arg("--data-dir").arg(&dir).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(mode(&file), 0o600, "a backup holds every student's data");
}

#[tokio::test]
async fn a_long_sync_comes_in_capped_parts_in_order_without_duplicates() {
    let s = Server::start_with(|c| c.chat.sync_max_events = 7).await;
    let (a, b, chat) = pair(&s).await;
    let mut wa = Ws::connect(&s, &a.access).await;
    for i in 0..20 {
        wa.say(&chat, &format!("m{i}"), &format!("message {i}")).await;
    }
    let mut wb = Ws::connect(&s, &b.access).await;
    let (mut since, mut seqs, mut parts) = (0u64, Vec::new(), 0);
    loop {
        wb.send(json!({"type": "sync", "since": since})).await;
        let mut got = 0;
        let done = loop {
            let f = wb.next_within(Duration::from_secs(5)).await.expect("frames");
            if f["type"] == "sync.done" {
                break f;
            }
            // b's notifications are being written meanwhile and arrive live too.
            if f["type"] == "notification.new" {
                continue;
            }
            seqs.push(f["seq"].as_u64().unwrap());
            got += 1;
        };
        parts += 1;
        assert!(got <= 7, "one sync replays at most the cap");
        since = done["seq"].as_u64().unwrap();
        if done["more"] == false {
            break;
        }
    }
    assert!(parts >= 3, "20 messages and more in parts of 7: {parts}");
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "in order, no duplicates: {seqs:?}");
    let news = seqs.len();
    assert!(news >= 20, "every event once: {news}");
}

#[tokio::test]
async fn a_flooding_socket_is_closed_and_an_oversized_frame_gets_1009() {
    let s = Server::start_with(|c| c.chat.frames_per_second = 5).await;
    let u = s.register().await;
    let mut ws = Ws::connect(&s, &u.access).await;
    for _ in 0..80 {
        ws.send_raw(r#"{"type":"ping"}"#).await;
    }
    let closed = ws.expect_within("closed", Duration::from_secs(5)).await;
    assert_eq!(closed["code"], 1008, "a flood is closed, not answered for ever");
    let mut ws = Ws::connect(&s, &u.access).await;
    ws.send_raw(&format!(r#"{{"type":"ping","pad":"{}"}}"#, "x".repeat(100 * 1024))).await;
    let closed = ws.expect_within("closed", Duration::from_secs(5)).await;
    assert_eq!(closed["code"], 1009);
}

#[tokio::test]
async fn wrong_passwords_on_password_change_and_account_deletion_are_throttled() {
    let s = Server::start_with(|c| c.auth.max_failed_logins_per_account = 3).await;
    let u = s.register().await;
    for _ in 0..3 {
        let r = s
            .post("/api/v1/auth/password", Some(&u.access), json!({"current_password": "guess-guess", "new_password": "a new password"}))
            .await;
        assert_problem(&r, 422, "validation_failed");
    }
    let right = json!({"current_password": u.password, "new_password": "a new password"});
    let r = s.post("/api/v1/auth/password", Some(&u.access), right).await;
    assert_problem(&r, 429, "rate_limited");
    assert!(r.headers.contains_key("retry-after"));
    let r = s.delete("/api/v1/me", &u.access, Some(json!({"password": u.password}))).await;
    assert_problem(&r, 429, "rate_limited");
    assert_eq!(s.get("/api/v1/me", &u.access).await.status, 200, "the account is still there");
}

#[tokio::test]
async fn metrics_answer_the_server_itself_and_others_only_with_the_token() {
    let s = Server::start_with(|c| {
        c.http.trust_forwarded_for = true;
        c.http.metrics_token = "prometheus-scrape-token-1234567890".into();
    })
    .await;
    let get = |ip: Option<&str>, token: Option<&str>| {
        let mut rb = s.http.get(s.url("/metrics"));
        if let Some(ip) = ip {
            rb = rb.header("x-forwarded-for", ip);
        }
        if let Some(t) = token {
            rb = rb.bearer_auth(t);
        }
        Server::finish(rb)
    };
    assert_eq!(get(None, None).await.status, 200, "from the machine itself");
    assert_problem(&get(Some("192.168.1.20"), None).await, 403, "forbidden");
    assert_problem(&get(Some("192.168.1.20"), Some("wrong")).await, 403, "forbidden");
    let ok = get(Some("192.168.1.20"), Some("prometheus-scrape-token-1234567890")).await;
    assert_eq!(ok.status, 200);
    assert!(String::from_utf8_lossy(&ok.bytes).contains("# TYPE"));
}

#[tokio::test]
async fn a_session_ends_after_its_absolute_lifetime_however_often_it_is_refreshed() {
    let s = Server::start().await;
    let u = s.register().await;
    let mut refresh = u.refresh.clone();
    for step in 1..=5 {
        s.clock.advance(chrono::Duration::days(20));
        let r = s.post("/api/v1/auth/refresh", None, json!({"refresh_token": refresh})).await;
        if step < 5 {
            assert_eq!(r.status, 200, "day {}: {}", step * 20, r.body);
            refresh = r.body["refresh_token"].as_str().unwrap().to_string();
        } else {
            assert_problem(&r, 401, "invalid_token");
            assert!(r.body["detail"].as_str().unwrap().contains("90 days"), "{}", r.body);
        }
    }
}

#[tokio::test]
async fn a_deleted_note_or_account_leaves_no_note_text_in_storage() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start_in(dir, |_| {}).await;
    let u = s.register().await;
    let kept = s.post("/api/v1/notes", Some(&u.access), json!({"title": "Volcano diary", "content": "lava-secret-one"})).await;
    assert_eq!(kept.status, 201);
    let gone = s.post("/api/v1/notes", Some(&u.access), json!({"title": "Crush list", "content": "lava-secret-two"})).await;
    let gone_id = gone.body["id"].as_str().unwrap().to_string();
    assert_eq!(s.delete(&format!("/api/v1/notes/{gone_id}"), &u.access, None).await.status, 204);
    assert_eq!(s.delete("/api/v1/me", &u.access, Some(json!({"password": u.password}))).await.status, 204);
    let dir = s.stop().await;
    let file = dir.path().join("after.jsonl");
    let out =
        std::process::Command::new(crate::support::binary()).arg("backup").arg(&file).arg("--data-dir").arg(dir.path()).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let backup = std::fs::read_to_string(&file).unwrap();
    for secret in ["Volcano diary", "lava-secret-one", "Crush list", "lava-secret-two", &u.email] {
        assert!(!backup.contains(secret), "{secret} is still in the backup");
    }
}

#[tokio::test]
async fn the_most_common_passwords_and_the_username_are_refused() {
    let s = Server::start().await;
    for (username, password) in [("kid1", "password"), ("kid2", "12345678"), ("kid3", "Password123"), ("kidkid99", "KIDKID99")] {
        let body = json!({"email": format!("{username}@school.test"), "username": username, "password": password, "name": "Kid"});
        let r = s.post("/api/v1/auth/register", None, body).await;
        assert_problem(&r, 422, "validation_failed");
        assert_eq!(r.body["errors"][0]["field"], "password", "{password}");
        let why = r.body["errors"][0]["message"].as_str().unwrap();
        assert!(why.contains("common") || why.contains("username"), "{password}: {why}");
    }
    let u = s.register().await;
    let r = s.post("/api/v1/auth/password", Some(&u.access), json!({"current_password": u.password, "new_password": "qwertyuiop"})).await;
    assert_problem(&r, 422, "validation_failed");
    let r = s.post("/api/v1/auth/password", Some(&u.access), json!({"current_password": u.password, "new_password": u.username})).await;
    assert_problem(&r, 422, "validation_failed");
}

#[tokio::test]
async fn a_deleted_note_leaves_its_title_in_no_chat_that_it_was_shared_to() {
    let s = Server::start().await;
    let (a, b, chat) = pair(&s).await;
    let note = s.post("/api/v1/notes", Some(&a.access), json!({"title": "Secret plans", "content": "x", "visibility": "friends"})).await;
    let id = note.body["id"].as_str().unwrap().to_string();
    assert_eq!(s.post(&format!("/api/v1/notes/{id}/share"), Some(&a.access), json!({"chat_id": chat})).await.status, 201);
    assert!(s.get(&format!("/api/v1/chats/{chat}/messages"), &b.access).await.body.to_string().contains("Secret plans"));
    assert_eq!(s.delete(&format!("/api/v1/notes/{id}"), &a.access, None).await.status, 204);
    let history = s.get(&format!("/api/v1/chats/{chat}/messages"), &b.access).await.body.to_string();
    assert!(!history.contains("Secret plans"), "{history}");
    let mut ws = Ws::connect(&s, &b.access).await;
    assert!(!full_sync(&mut ws).await.join("\n").contains("Secret plans"));
}

#[tokio::test]
async fn a_new_install_needs_an_invite_and_registration_is_rate_limited_per_address() {
    let body = |name: &str| json!({"email": format!("{name}@school.test"), "username": name, "password": format!("password-{name}"), "name": name});
    let s = Server::start_with(|c| c.registration = friend::config::Config::default().registration).await;
    assert_problem(&s.post("/api/v1/auth/register", None, body("walkin")).await, 403, "registration_closed");

    let s = Server::start_with(|c| c.auth.max_registrations_per_ip = 3).await;
    for i in 0..3 {
        assert_eq!(s.post("/api/v1/auth/register", None, body(&format!("burst{i}"))).await.status, 201);
    }
    let r = s.post("/api/v1/auth/register", None, body("burst3")).await;
    assert_problem(&r, 429, "rate_limited");
    assert!(r.headers.get("retry-after").is_some());
}

#[tokio::test]
async fn friend_requests_and_new_chats_are_rate_limited_per_student() {
    let s = Server::start_with(|c| {
        c.chat.friend_requests_per_hour = 2;
        c.chat.new_chats_per_hour = 2;
        c.chat.dm_policy = friend::config::DmPolicy::Anyone;
    })
    .await;
    let a = s.register().await;
    let others: Vec<User> = futures_util::future::join_all((0..4).map(|_| s.register())).await;
    for o in &others[..2] {
        assert_eq!(s.post("/api/v1/friend-requests", Some(&a.access), json!({"to_user_id": o.id})).await.status, 201);
    }
    let r = s.post("/api/v1/friend-requests", Some(&a.access), json!({"to_user_id": others[2].id})).await;
    assert_problem(&r, 429, "rate_limited");
    // Someone else is not limited by a's requests.
    assert_eq!(s.post("/api/v1/friend-requests", Some(&others[3].access), json!({"to_user_id": others[2].id})).await.status, 201);

    let open = |u: &User, to: &User| {
        let (token, body) = (u.access.clone(), json!({"type": "private", "user_id": to.id}));
        let s = &s;
        async move { s.post("/api/v1/chats", Some(&token), body).await }
    };
    assert_eq!(open(&a, &others[0]).await.status, 201);
    let g = s.post("/api/v1/chats", Some(&a.access), json!({"type": "group", "name": "g", "member_ids": [others[1].id]})).await;
    assert_eq!(g.status, 201, "{}", g.body);
    assert_problem(&open(&a, &others[2]).await, 429, "rate_limited");
    // Opening a chat that exists is not a new one.
    assert_eq!(open(&a, &others[0]).await.status, 200);
}

#[tokio::test]
async fn a_refresh_token_rotated_long_ago_is_still_detected_as_reuse() {
    let s = Server::start().await;
    let u = s.register().await;
    let first = u.refresh.clone();
    let mut current = first.clone();
    for _ in 0..40 {
        let r = s.post("/api/v1/auth/refresh", None, json!({"refresh_token": current})).await;
        assert_eq!(r.status, 200, "{}", r.body);
        current = r.body["refresh_token"].as_str().unwrap().to_string();
    }
    let reuse = s.post("/api/v1/auth/refresh", None, json!({"refresh_token": first})).await;
    assert_problem(&reuse, 401, "invalid_token");
    assert!(reuse.body["detail"].as_str().unwrap().contains("already used"), "{}", reuse.body);
    // The session is over: the newest token no longer works either.
    assert_problem(&s.post("/api/v1/auth/refresh", None, json!({"refresh_token": current})).await, 401, "invalid_token");
    // A forged token of a later generation is not this session's.
    let v = s.register().await;
    let forged = format!("{}.99.AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", v.refresh.split('.').next().unwrap());
    assert_problem(&s.post("/api/v1/auth/refresh", None, json!({"refresh_token": forged})).await, 401, "invalid_token");
    assert_eq!(s.post("/api/v1/auth/refresh", None, json!({"refresh_token": v.refresh})).await.status, 200);
}

#[tokio::test]
async fn old_events_age_out_of_the_log_and_a_sync_from_before_reports_the_gap() {
    let s = Server::start_with(|c| {
        c.activity.report_job_secs = 1;
        c.chat.event_retention_days = 30;
    })
    .await;
    let (a, b, chat) = pair(&s).await;
    let old =
        s.post(&format!("/api/v1/chats/{chat}/messages"), Some(&a.access), json!({"content": "from last term", "client_id": "o1"})).await;
    assert_eq!(old.status, 201);
    let mut ws = Ws::connect(&s, &b.access).await;
    let first = full_sync(&mut ws).await;
    assert!(first.iter().any(|f| f.contains("from last term")));
    assert!(first.iter().any(|f| f.contains("friend_request.new")));
    ws.close().await;

    s.clock.advance(chrono::Duration::days(31));
    let (a, b) = (s.login(&a.username, &a.password).await, s.login(&b.username, &b.password).await);
    let new = s.post(&format!("/api/v1/chats/{chat}/messages"), Some(&a.access), json!({"content": "this week", "client_id": "n1"})).await;
    assert_eq!(new.status, 201);
    let mut ws = Ws::connect(&s, &b.access).await;
    let mut frames = Vec::new();
    for _ in 0..50 {
        frames = full_sync(&mut ws).await;
        if !frames.iter().any(|f| f.contains("from last term")) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(!frames.iter().any(|f| f.contains("from last term") || f.contains("friend_request")), "{frames:?}");
    assert!(frames.iter().any(|f| f.contains("this week")));
    // A client that last synced before the removed events hears of the gap.
    ws.send(json!({"type": "sync", "since": 1})).await;
    loop {
        let f = ws.next_within(Duration::from_secs(5)).await.expect("frames");
        if f["type"] == "sync.done" {
            assert_eq!(f["gap"], true, "{f}");
            break;
        }
    }
    // The messages themselves stay in the chat's history.
    let history = s.get(&format!("/api/v1/chats/{chat}/messages"), &b.access).await;
    assert!(history.body.to_string().contains("from last term"));
}

#[tokio::test]
async fn a_socket_that_never_reads_is_closed_and_frees_its_slot() {
    use futures_util::StreamExt;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let s = Server::start_with(|c| {
        c.chat.max_sockets_per_user = 1;
        c.chat.frames_per_second = 100_000;
    })
    .await;
    let (a, b, chat) = pair(&s).await;
    // b connects with a tiny receive buffer and then never reads.
    let addr: std::net::SocketAddr = s.base.trim_start_matches("http://").parse().unwrap();
    let sock = tokio::net::TcpSocket::new_v4().unwrap();
    sock.set_recv_buffer_size(4096).unwrap();
    let stream = sock.connect(addr).await.unwrap();
    let mut req = format!("ws://{addr}/api/v1/ws").into_client_request().unwrap();
    req.headers_mut().insert("authorization", format!("Bearer {}", b.access).parse().unwrap());
    let (mut stuck, _) = tokio_tungstenite::client_async(req, stream).await.expect("websocket connects");
    // a fills it: far more than the kernel buffers and the hub queue hold.
    let mut wa = Ws::connect(&s, &a.access).await;
    let text = "x".repeat(4000);
    for i in 0..2500 {
        wa.say(&chat, &format!("f{i}"), &text).await;
    }
    tokio::time::sleep(Duration::from_secs(6)).await;
    // The server gives up on the write after its send timeout and ends the connection, so the
    // slot is free again while b still has not read a byte.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let mut fresh = loop {
        let mut req = format!("ws://{addr}/api/v1/ws").into_client_request().unwrap();
        req.headers_mut().insert("authorization", format!("Bearer {}", b.access).parse().unwrap());
        match tokio_tungstenite::connect_async(req).await {
            Ok((ws, _)) => break ws,
            Err(_) if std::time::Instant::now() < deadline => tokio::time::sleep(Duration::from_millis(500)).await,
            Err(e) => panic!("the never-reading socket still holds the only slot: {e}"),
        }
    };
    assert!(fresh.next().await.is_some_and(|m| m.is_ok_and(|m| m.to_text().unwrap_or("").contains("\"ready\""))));
    // And the stuck socket, read at last, ends after the frames that were in the buffers.
    let ended = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            match stuck.next().await {
                Some(Ok(m)) if !m.is_close() => continue,
                _ => return,
            }
        }
    })
    .await;
    assert!(ended.is_ok(), "the never-reading socket is still open");
}

/// Replaces the value of query parameter `key` in a relative URL.
fn with_query(url: &str, key: &str, value: &str) -> String {
    let (path, query) = url.split_once('?').unwrap();
    let parts: Vec<String> =
        query.split('&').map(|p| if p.split('=').next() == Some(key) { format!("{key}={value}") } else { p.to_string() }).collect();
    format!("{path}?{}", parts.join("&"))
}

#[tokio::test]
async fn signed_media_urls_are_short_lived_and_stop_when_access_ends() {
    let s = Server::start().await;
    let (owner, bob, carol) = (s.register().await, s.register().await, s.register().await);
    s.befriend(&owner, &bob).await;
    s.befriend(&owner, &carol).await;
    let g = s.post("/api/v1/chats", Some(&owner.access), json!({"type": "group", "name": "Art", "member_ids": [bob.id, carol.id]})).await;
    let chat = g.body["id"].as_str().unwrap().to_string();
    let mut wb = Ws::connect(&s, &bob.access).await;
    let mut wc = Ws::connect(&s, &carol.access).await;
    let up =
        Server::finish(s.http.post(s.url("/api/v1/media")).bearer_auth(&owner.access).header("content-type", "image/png").body(png(8, 8)))
            .await;
    let media = up.body["id"].as_str().unwrap().to_string();
    let sent = s
        .post(
            &format!("/api/v1/chats/{chat}/messages"),
            Some(&owner.access),
            json!({"kind": "image", "attachment_id": media, "client_id": "p"}),
        )
        .await;
    assert_eq!(sent.status, 201, "{}", sent.body);

    // Each member's frame carries a URL signed for that member; it lives at most 2 × 900 s.
    let live = |f: Value| f["message"]["attachment"]["url"].as_str().unwrap().to_string();
    let (bob_url, carol_url) = (live(wb.expect("message.new").await), live(wc.expect("message.new").await));
    assert!(bob_url.contains(&format!("u={}", bob.id)) && carol_url.contains(&format!("u={}", carol.id)), "{bob_url} {carol_url}");
    let exp: i64 = bob_url.split("exp=").nth(1).unwrap().split('&').next().unwrap().parse().unwrap();
    let now = chrono::Utc::now().timestamp();
    assert!(exp > now && exp <= now + 1800 + 5, "expires in {} s", exp - now);
    let history = s.get(&format!("/api/v1/chats/{chat}/messages"), &bob.access).await;
    let bob_thumb = history.body[0]["attachment"]["thumbnail_url"].as_str().unwrap().to_string();
    for url in [&bob_url, &carol_url, &bob_thumb] {
        assert_eq!(Server::finish(s.http.get(s.url(url))).await.status, 200, "{url}");
    }
    // A URL is bound to its user: another id, or no id, does not verify.
    assert_eq!(Server::finish(s.http.get(s.url(&with_query(&carol_url, "u", &bob.id)))).await.status, 404);
    let unbound = carol_url.replace(&format!("&u={}", carol.id), "");
    assert_eq!(Server::finish(s.http.get(s.url(&unbound))).await.status, 404);
    assert_eq!(Server::finish(s.http.get(s.url(&with_query(&carol_url, "u", "not-a-uuid")))).await.status, 404);

    // Bob is removed from the group: his URLs stop at once, Carol's keep working.
    assert_eq!(s.delete(&format!("/api/v1/chats/{chat}/members/{}", bob.id), &owner.access, None).await.status, 204);
    for url in [&bob_url, &bob_thumb] {
        assert_problem(&Server::finish(s.http.get(s.url(url))).await, 404, "not_found");
    }
    assert_eq!(Server::finish(s.http.get(s.url(&carol_url))).await.status, 200);
    // The owner's own URL (from the upload) works; a disabled account's URLs do not.
    let own = up.body["url"].as_str().unwrap().to_string();
    assert_eq!(Server::finish(s.http.get(s.url(&own))).await.status, 200);
    let moderator = s.staff(friend::model::Role::Moderator).await;
    assert_eq!(s.patch(&format!("/api/v1/admin/users/{}", carol.id), &moderator.access, json!({"disabled": true})).await.status, 200);
    assert_eq!(Server::finish(s.http.get(s.url(&carol_url))).await.status, 404);
}

#[tokio::test]
async fn a_shared_note_title_shows_only_to_members_who_may_read_the_note() {
    let s = Server::start().await;
    let (a, b, chat) = pair(&s).await;
    let note = s.post("/api/v1/notes", Some(&a.access), json!({"title": "My diary entry", "visibility": "friends"})).await;
    let note_id = note.body["id"].as_str().unwrap().to_string();
    let shared = s.post(&format!("/api/v1/notes/{note_id}/share"), Some(&a.access), json!({"chat_id": chat})).await;
    assert_eq!(shared.status, 201, "{}", shared.body);
    let first = |r: &crate::support::Resp| r.body[0]["content"].as_str().unwrap().to_string();
    assert_eq!(first(&s.get(&format!("/api/v1/chats/{chat}/messages"), &b.access).await), "My diary entry");
    // The author makes the note private again: the friend no longer sees its title anywhere.
    assert_eq!(s.patch(&format!("/api/v1/notes/{note_id}"), &a.access, json!({"visibility": "private"})).await.status, 200);
    assert_eq!(first(&s.get(&format!("/api/v1/chats/{chat}/messages"), &b.access).await), "");
    let chats = s.get("/api/v1/chats", &b.access).await.body.to_string();
    let mut ws = Ws::connect(&s, &b.access).await;
    let replay = full_sync(&mut ws).await.join("\n");
    assert!(!chats.contains("My diary") && !replay.contains("My diary"), "{chats}\n{replay}");
    // The author still sees it.
    assert_eq!(first(&s.get(&format!("/api/v1/chats/{chat}/messages"), &a.access).await), "My diary entry");
}
