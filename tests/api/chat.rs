//! Chat over REST and real WebSocket clients: private and group chats, delivery, receipts,
//! typing, sync after a reconnect, idempotent resends, error frames and isolation.

use std::time::Duration;

use serde_json::{Value, json};

use crate::support::{Server, User, assert_problem, png};
use crate::ws_support::Ws;

async fn befriend(s: &Server, a: &User, b: &User) {
    s.befriend(a, b).await;
}

async fn private_chat(s: &Server, a: &User, b: &User) -> String {
    let r = s.post("/api/v1/chats", Some(&a.access), json!({"type": "private", "user_id": b.id})).await;
    assert!(r.status == 201 || r.status == 200, "{}", r.body);
    r.body["id"].as_str().unwrap().to_string()
}

async fn pair(s: &Server) -> (User, User, String) {
    let (a, b) = (s.register().await, s.register().await);
    befriend(s, &a, &b).await;
    let chat = private_chat(s, &a, &b).await;
    (a, b, chat)
}

#[tokio::test]
async fn private_chats_follow_the_dm_policy_and_are_get_or_create() {
    let s = Server::start().await;
    let (a, b, c) = (s.register().await, s.register().await, s.register().await);
    let r = s.post("/api/v1/chats", Some(&a.access), json!({"type": "private", "user_id": b.id})).await;
    assert_problem(&r, 403, "forbidden");
    befriend(&s, &a, &b).await;
    let first = s.post("/api/v1/chats", Some(&a.access), json!({"type": "private", "user_id": b.id})).await;
    assert_eq!(first.status, 201, "{}", first.body);
    assert_eq!(first.body["type"], "private");
    assert_eq!(first.body["members"].as_array().unwrap().len(), 2);
    let again = s.post("/api/v1/chats", Some(&a.access), json!({"type": "private", "user_id": b.id})).await;
    assert_eq!((again.status.as_u16(), &again.body["id"]), (200, &first.body["id"]));
    let theirs = s.post("/api/v1/chats", Some(&b.access), json!({"type": "private", "user_id": a.id})).await;
    assert_eq!(theirs.body["id"], first.body["id"]);
    let id = first.body["id"].as_str().unwrap();
    assert_problem(&s.get(&format!("/api/v1/chats/{id}"), &c.access).await, 404, "not_found");
    assert_problem(&s.get(&format!("/api/v1/chats/{id}/messages"), &c.access).await, 404, "not_found");
    let r = s.post(&format!("/api/v1/chats/{id}/messages"), Some(&c.access), json!({"content": "hi", "client_id": "x"})).await;
    assert_problem(&r, 404, "not_found");
    for bad in [json!({"type": "private"}), json!({"type": "party"}), json!({"type": "group", "member_ids": []})] {
        assert_problem(&s.post("/api/v1/chats", Some(&a.access), bad).await, 422, "validation_failed");
    }
    // Staff may message anyone; "anyone" lets strangers talk.
    let teacher = s.staff(friend::model::Role::Moderator).await;
    assert_eq!(s.post("/api/v1/chats", Some(&teacher.access), json!({"type": "private", "user_id": c.id})).await.status, 201);
    let open = Server::start_with(|cfg| cfg.chat.dm_policy = friend::config::DmPolicy::Anyone).await;
    let (x, y) = (open.register().await, open.register().await);
    assert_eq!(open.post("/api/v1/chats", Some(&x.access), json!({"type": "private", "user_id": y.id})).await.status, 201);
}

#[tokio::test]
async fn messages_reach_every_device_once_with_acks_and_idempotent_resends() {
    let s = Server::start().await;
    let (a, b, chat) = pair(&s).await;
    let mut a1 = Ws::connect(&s, &a.access).await;
    let mut a2 = Ws::connect(&s, &a.access).await;
    let mut b1 = Ws::connect(&s, &b.access).await;
    assert_eq!(a1.ready["user_id"], a.id.as_str());
    assert!(a1.ready["seq"].is_u64() && a1.ready["server_time"].is_string());
    let ack = a1.say(&chat, "c-1", "hello").await;
    assert_eq!(ack["client_id"], "c-1");
    let mid = ack["message"]["id"].as_str().unwrap().to_string();
    assert_eq!(ack["message"]["content"], "hello");
    assert_eq!(ack["message"]["from_user_id"], a.id.as_str());
    let got = b1.expect("message.new").await;
    assert_eq!(got["message"]["id"], mid.as_str());
    assert!(got["seq"].as_u64().unwrap() > b1.ready["seq"].as_u64().unwrap());
    assert_eq!(a2.expect("message.new").await["message"]["id"], mid.as_str(), "the sender's other device");
    // Resending the same client_id: the same message, acked again, not stored twice.
    let again = a1.say(&chat, "c-1", "hello").await;
    assert_eq!(again["message"]["id"], mid.as_str());
    assert!(b1.none_of("message.new", Duration::from_millis(300)).await);
    let history = s.get(&format!("/api/v1/chats/{chat}/messages"), &b.access).await;
    assert_eq!(history.body.as_array().unwrap().len(), 1);
    // REST sends reach sockets too; REST resends return 200.
    let r = s.post(&format!("/api/v1/chats/{chat}/messages"), Some(&b.access), json!({"content": "hey", "client_id": "r-1"})).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(a1.expect("message.new").await["message"]["content"], "hey");
    let r2 = s.post(&format!("/api/v1/chats/{chat}/messages"), Some(&b.access), json!({"content": "hey", "client_id": "r-1"})).await;
    assert_eq!((r2.status.as_u16(), &r2.body["id"]), (200, &r.body["id"]));
    // The chat list: newest activity first, unread counts per member.
    let list = s.get("/api/v1/chats", &a.access).await;
    assert_eq!(list.body["items"][0]["id"], chat.as_str());
    assert_eq!(list.body["items"][0]["unread_count"], 1);
    assert_eq!(list.body["items"][0]["last_message"]["content"], "hey");
    assert_eq!(s.get("/api/v1/chats", &b.access).await.body["items"][0]["unread_count"], 1);
}

#[tokio::test]
async fn receipts_and_the_read_receipts_setting() {
    let s = Server::start().await;
    let (a, b, chat) = pair(&s).await;
    let mut wa = Ws::connect(&s, &a.access).await;
    let mut wb = Ws::connect(&s, &b.access).await;
    let mid = wa.say(&chat, "m1", "one").await["message"]["id"].as_str().unwrap().to_string();
    wb.expect("message.new").await;
    wb.send(json!({"type": "message.delivered", "chat_id": chat, "message_id": mid})).await;
    let d = wa.expect("receipt").await;
    assert_eq!(
        (d["kind"].as_str(), d["user_id"].as_str(), d["message_id"].as_str()),
        (Some("delivered"), Some(b.id.as_str()), Some(mid.as_str()))
    );
    assert_eq!(s.post(&format!("/api/v1/chats/{chat}/read"), Some(&b.access), json!({"up_to_message_id": mid})).await.status, 204);
    assert_eq!(wa.expect("receipt").await["kind"], "read");
    assert_eq!(s.get(&format!("/api/v1/chats/{chat}"), &b.access).await.body["unread_count"], 0);
    let view = s.get(&format!("/api/v1/chats/{chat}"), &a.access).await;
    let bm = view.body["members"].as_array().unwrap().iter().find(|m| m["user"]["id"] == b.id.as_str()).unwrap().clone();
    assert_eq!(bm["last_read_message_id"], mid.as_str());
    // B stops sharing read receipts: A sees no new read positions from B.
    s.patch("/api/v1/me", &b.access, json!({"settings": {"read_receipts": false}})).await;
    let m2 = wa.say(&chat, "m2", "two").await["message"]["id"].as_str().unwrap().to_string();
    wb.send(json!({"type": "message.read", "chat_id": chat, "up_to_message_id": m2})).await;
    assert!(wa.none_of("receipt", Duration::from_millis(400)).await);
    let r = s
        .post(&format!("/api/v1/chats/{chat}/read"), Some(&b.access), json!({"up_to_message_id": "00000000-0000-7000-8000-000000000000"}))
        .await;
    assert_problem(&r, 404, "not_found");
}

#[tokio::test]
async fn typing_indicators_expire_by_themselves() {
    let s = Server::start().await;
    let (a, b, chat) = pair(&s).await;
    let mut wa = Ws::connect(&s, &a.access).await;
    let mut wb = Ws::connect(&s, &b.access).await;
    wa.send(json!({"type": "typing.start", "chat_id": chat})).await;
    let t = wb.expect("typing").await;
    assert_eq!((t["user_id"].as_str(), t["active"].as_bool()), (Some(a.id.as_str()), Some(true)));
    let started = std::time::Instant::now();
    let end = wb.expect_within("typing", Duration::from_secs(9)).await;
    assert_eq!(end["active"], false);
    assert!(started.elapsed() >= Duration::from_secs(3), "expires after ~5 s, not at once");
    wa.send(json!({"type": "typing.start", "chat_id": chat})).await;
    wb.expect("typing").await;
    wa.send(json!({"type": "typing.stop", "chat_id": chat})).await;
    assert_eq!(wb.expect("typing").await["active"], false);
    assert!(wa.none_of("typing", Duration::from_millis(200)).await, "no echo to the typer");
}

#[tokio::test]
async fn sync_replays_missed_events_in_order_without_duplicates() {
    let s = Server::start().await;
    let (a, b, chat) = pair(&s).await;
    let mut wa = Ws::connect(&s, &a.access).await;
    let mut wb = Ws::connect(&s, &b.access).await;
    wa.say(&chat, "s0", "before").await;
    let seen = wb.expect("message.new").await["seq"].as_u64().unwrap();
    wb.close().await;
    let m1 = wa.say(&chat, "s1", "one").await["message"]["id"].as_str().unwrap().to_string();
    wa.say(&chat, "s2", "two").await;
    let m3 = wa.say(&chat, "s3", "three").await["message"]["id"].as_str().unwrap().to_string();
    let r = s.patch(&format!("/api/v1/chats/{chat}/messages/{m1}"), &a.access, json!({"content": "one (edited)"})).await;
    assert_eq!(r.status, 200);
    assert!(r.body["edited_at"].is_string());
    assert_eq!(s.delete(&format!("/api/v1/chats/{chat}/messages/{m3}"), &a.access, None).await.status, 204);
    let mut wb = Ws::connect(&s, &b.access).await;
    wb.send(json!({"type": "sync", "since": seen})).await;
    let mut frames = Vec::new();
    loop {
        let f = wb.next_within(Duration::from_secs(5)).await.expect("sync frames");
        if f["type"] == "sync.done" {
            assert!(f["seq"].as_u64().unwrap() >= frames.iter().map(|f: &Value| f["seq"].as_u64().unwrap()).max().unwrap());
            break;
        }
        frames.push(f);
    }
    // (The chat's notification for b may come along: replayed, and live again when the
    // notification follower joins a later message to it meanwhile; always the one notification.
    // A follower slowed by a busy machine may also store b's friend-request notification after
    // `seen`: only the chat's count here.)
    let notified: std::collections::BTreeSet<String> = frames
        .iter()
        .filter(|f| f["type"] == "notification.new" && f["notification"]["related_entity_id"] == chat.as_str())
        .map(|f| f["notification"]["id"].to_string())
        .collect();
    assert!(notified.len() <= 1, "one notification for the chat: {notified:?}");
    frames.retain(|f| f["type"] != "notification.new");
    let kinds: Vec<&str> = frames.iter().map(|f| f["type"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["message.new", "message.new", "message.new", "message.updated", "message.deleted"]);
    let seqs: Vec<u64> = frames.iter().map(|f| f["seq"].as_u64().unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]) && seqs[0] > seen, "{seqs:?}");
    assert_eq!(frames[3]["message"]["content"], "one (edited)");
    assert_eq!(frames[4]["message_id"], m3.as_str());
    // Syncing from the newest cursor gives nothing new.
    // (b's chat notification may still arrive live meanwhile: it is not a replayed event.)
    wb.send(json!({"type": "sync", "since": seqs[4]})).await;
    let next = loop {
        let f = wb.next_within(Duration::from_secs(2)).await.unwrap();
        if f["type"] != "notification.new" {
            break f;
        }
    };
    assert_eq!(next["type"], "sync.done");
    // History shows the tombstone and the edit.
    let h = s.get(&format!("/api/v1/chats/{chat}/messages?limit=10"), &b.access).await;
    let newest = &h.body[0];
    assert_eq!((newest["deleted"].as_bool(), newest["content"].as_str()), (Some(true), Some("")));
    let after = s.get(&format!("/api/v1/chats/{chat}/messages?after={}", h.body[3]["id"].as_str().unwrap()), &b.access).await;
    let contents: Vec<&str> = after.body.as_array().unwrap().iter().map(|m| m["content"].as_str().unwrap()).collect();
    assert_eq!(contents, ["one (edited)", "two", ""]);
}

#[tokio::test]
async fn bad_frames_get_error_frames_and_the_socket_stays_up() {
    let s = Server::start_with(|c| c.chat.max_message_bytes = 100).await;
    let (a, _b, chat) = pair(&s).await;
    let stranger = s.register().await;
    let other_chat = pair(&s).await.2;
    let mut w = Ws::connect(&s, &a.access).await;
    w.send_raw("{not json").await;
    assert_eq!(w.expect("error").await["code"], "bad_frame");
    w.send(json!({"type": "dance"})).await;
    assert_eq!(w.expect("error").await["code"], "unknown_type");
    w.send(json!({"type": "message.send", "chat_id": other_chat, "client_id": "x1", "content": "hi"})).await;
    let e = w.expect("error").await;
    assert_eq!((e["code"].as_str(), e["ref"].as_str()), (Some("not_found"), Some("x1")));
    w.send(json!({"type": "message.send", "chat_id": chat, "client_id": "x2", "content": "x".repeat(101)})).await;
    let e = w.expect("error").await;
    assert_eq!((e["code"].as_str(), e["ref"].as_str()), (Some("payload_too_large"), Some("x2")));
    w.send(json!({"type": "message.send", "chat_id": chat, "client_id": "x3", "content": "  "})).await;
    assert_eq!(w.expect("error").await["code"], "validation_failed");
    w.send(json!({"type": "message.send", "chat_id": chat, "client_id": "x4", "kind": "system", "content": "fake"})).await;
    assert_eq!(w.expect("error").await["code"], "validation_failed");
    w.send(json!({"type": "ping"})).await;
    w.expect("pong").await;
    assert_eq!(s.get(&format!("/api/v1/chats/{chat}/messages"), &a.access).await.body.as_array().unwrap().len(), 0, "nothing stored");
    // Too many frames per second: error frames, not a dropped connection.
    for i in 0..60 {
        w.send(json!({"type": "ping", "n": i})).await;
    }
    let mut limited = false;
    for _ in 0..60 {
        if w.next_within(Duration::from_secs(2)).await.unwrap()["code"] == "rate_limited" {
            limited = true;
        }
    }
    assert!(limited);
    tokio::time::sleep(Duration::from_secs(2)).await;
    w.send(json!({"type": "ping"})).await;
    w.expect("pong").await;
    // No token, a bad token, a stranger's chat over the socket.
    let url = s.base.replace("http://", "ws://") + "/api/v1/ws";
    assert!(tokio_tungstenite::connect_async(url).await.is_err());
    let _ = stranger;
}

#[tokio::test]
async fn browser_tickets_work_once_and_expired_tokens_close_the_socket() {
    let s = Server::start().await;
    let u = s.register().await;
    let t = s.post("/api/v1/ws/ticket", Some(&u.access), json!({})).await;
    assert_eq!(t.body["expires_in"], 30);
    let ticket = t.body["ticket"].as_str().unwrap().to_string();
    let ws = Ws::connect_ticket(&s, &ticket).await.expect("ticket works");
    assert_eq!(ws.ready["user_id"], u.id.as_str());
    assert!(Ws::connect_ticket(&s, &ticket).await.is_err(), "only once");
    let mut w = Ws::connect(&s, &u.access).await;
    s.clock.advance(chrono::Duration::minutes(16));
    w.send(json!({"type": "ping"})).await;
    let closed = w.expect("closed").await;
    assert_eq!(closed["code"], 4001);
}

#[tokio::test]
async fn groups_roles_members_and_closing() {
    let s = Server::start().await;
    let owner = s.register().await;
    let (m1, m2, m3, outsider) = (s.register().await, s.register().await, s.register().await, s.register().await);
    for m in [&m1, &m2, &m3] {
        befriend(&s, &owner, m).await;
    }
    let r =
        s.post("/api/v1/chats", Some(&owner.access), json!({"type": "group", "name": "Physics 7B", "member_ids": [m1.id, m2.id]})).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let g = r.body["id"].as_str().unwrap().to_string();
    let roles: Vec<(String, String)> = r.body["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["user"]["id"].as_str().unwrap().to_string(), m["role"].as_str().unwrap().to_string()))
        .collect();
    assert!(roles.contains(&(owner.id.clone(), "owner".into())) && roles.len() == 3);
    let bad = s.post("/api/v1/chats", Some(&owner.access), json!({"type": "group", "name": "x", "member_ids": [outsider.id]})).await;
    assert_problem(&bad, 403, "forbidden");
    let mut w3 = Ws::connect(&s, &m3.access).await;
    let mut w1 = Ws::connect(&s, &m1.access).await;
    assert_problem(&s.patch(&format!("/api/v1/chats/{g}"), &m1.access, json!({"name": "mine"})).await, 403, "forbidden");
    assert_problem(&s.post(&format!("/api/v1/chats/{g}/members"), Some(&m1.access), json!({"user_ids": [m3.id]})).await, 403, "forbidden");
    let added = s.post(&format!("/api/v1/chats/{g}/members"), Some(&owner.access), json!({"user_ids": [m3.id]})).await;
    assert_eq!(added.body["members"].as_array().unwrap().len(), 4);
    assert_eq!(w3.expect("chat.updated").await["chat_id"], g.as_str());
    assert_eq!(w1.expect("message.new").await["message"]["kind"], "system");
    let renamed = s.patch(&format!("/api/v1/chats/{g}"), &owner.access, json!({"name": "Physics 7B (2026)"})).await;
    assert_eq!(renamed.body["name"], "Physics 7B (2026)");
    assert_problem(&s.patch(&format!("/api/v1/chats/{g}"), &owner.access, json!({"name": ""})).await, 422, "validation_failed");
    // A member leaves; the owner removes another; members cannot remove the owner.
    assert_eq!(s.delete(&format!("/api/v1/chats/{g}/members/{}", m2.id), &m2.access, None).await.status, 204);
    assert_problem(&s.get(&format!("/api/v1/chats/{g}"), &m2.access).await, 404, "not_found");
    assert_problem(&s.delete(&format!("/api/v1/chats/{g}/members/{}", owner.id), &m1.access, None).await, 403, "forbidden");
    assert_eq!(s.delete(&format!("/api/v1/chats/{g}/members/{}", m3.id), &owner.access, None).await.status, 204);
    let members = s.get(&format!("/api/v1/chats/{g}"), &owner.access).await.body["members"].as_array().unwrap().len();
    assert_eq!(members, 2);
    // Closing: read-only for everyone.
    assert_eq!(s.delete(&format!("/api/v1/chats/{g}"), &owner.access, None).await.status, 204);
    let r = s.post(&format!("/api/v1/chats/{g}/messages"), Some(&m1.access), json!({"content": "anyone?", "client_id": "late"})).await;
    assert_problem(&r, 403, "forbidden");
    assert_eq!(s.get(&format!("/api/v1/chats/{g}"), &m1.access).await.body["closed"], true);
}

#[tokio::test]
async fn edits_deletes_blocks_and_attachments_respect_who_may_do_what() {
    let s = Server::start().await;
    let (a, b, chat) = pair(&s).await;
    let c = s.register().await;
    let m = s.post(&format!("/api/v1/chats/{chat}/messages"), Some(&a.access), json!({"content": "mine", "client_id": "e1"})).await;
    let mid = m.body["id"].as_str().unwrap().to_string();
    assert_problem(&s.patch(&format!("/api/v1/chats/{chat}/messages/{mid}"), &b.access, json!({"content": "no"})).await, 403, "forbidden");
    assert_problem(&s.delete(&format!("/api/v1/chats/{chat}/messages/{mid}"), &b.access, None).await, 403, "forbidden");
    let moderator = s.staff(friend::model::Role::Moderator).await;
    assert_eq!(s.delete(&format!("/api/v1/chats/{chat}/messages/{mid}"), &moderator.access, None).await.status, 204);
    // Attachments: members may read them, others may not.
    let up =
        Server::finish(s.http.post(s.url("/api/v1/media")).bearer_auth(&a.access).header("content-type", "image/png").body(png(16, 16)))
            .await;
    let media = up.body["id"].as_str().unwrap().to_string();
    assert_problem(&Server::finish(s.http.get(s.url(&format!("/api/v1/media/{media}"))).bearer_auth(&b.access)).await, 404, "not_found");
    let img = s
        .post(
            &format!("/api/v1/chats/{chat}/messages"),
            Some(&a.access),
            json!({"kind": "image", "attachment_id": media, "client_id": "img"}),
        )
        .await;
    assert_eq!(img.status, 201, "{}", img.body);
    assert!(img.body["attachment"]["url"].is_string());
    assert_eq!(Server::finish(s.http.get(s.url(&format!("/api/v1/media/{media}"))).bearer_auth(&b.access)).await.status, 200);
    assert_problem(&Server::finish(s.http.get(s.url(&format!("/api/v1/media/{media}"))).bearer_auth(&c.access)).await, 404, "not_found");
    let theirs = s
        .post(
            &format!("/api/v1/chats/{chat}/messages"),
            Some(&b.access),
            json!({"kind": "image", "attachment_id": media, "client_id": "steal"}),
        )
        .await;
    assert_problem(&theirs, 422, "validation_failed");
    // A block stops the private conversation.
    s.post("/api/v1/blocks", Some(&b.access), json!({"user_id": a.id})).await;
    let r =
        s.post(&format!("/api/v1/chats/{chat}/messages"), Some(&a.access), json!({"content": "still there?", "client_id": "blk"})).await;
    assert_problem(&r, 403, "forbidden");
    // Export has the author's messages.
    let e = s.get("/api/v1/me/export", &a.access).await;
    assert!(e.body["messages"].as_array().unwrap().len() >= 2);
}

#[tokio::test]
async fn presence_goes_to_friends_when_the_first_socket_opens_and_the_last_closes() {
    let s = Server::start().await;
    let (a, b, _) = pair(&s).await;
    let stranger = s.register().await;
    let mut wb = Ws::connect(&s, &b.access).await;
    let mut ws = Ws::connect(&s, &stranger.access).await;
    let wa = Ws::connect(&s, &a.access).await;
    let p = wb.expect("presence").await;
    assert_eq!((p["user_id"].as_str(), p["is_online"].as_bool()), (Some(a.id.as_str()), Some(true)));
    assert_eq!(s.get("/api/v1/friends", &b.access).await.body["items"][0]["is_online"], true);
    assert!(ws.none_of("presence", Duration::from_millis(300)).await, "strangers see nothing");
    assert_eq!(s.get(&format!("/api/v1/users/{}", a.id), &stranger.access).await.body["is_online"], false);
    wa.close().await;
    let off = wb.expect("presence").await;
    assert_eq!(off["is_online"], false);
    assert!(off["last_seen_at"].is_string());
    assert!(s.get("/api/v1/friends", &b.access).await.body["items"][0]["last_seen_at"].is_string());
}

#[tokio::test]
async fn deleting_an_account_keeps_the_others_history() {
    let s = Server::start().await;
    let (a, b, chat) = pair(&s).await;
    s.post(&format!("/api/v1/chats/{chat}/messages"), Some(&a.access), json!({"content": "bye soon", "client_id": "d1"})).await;
    assert_eq!(s.delete("/api/v1/me", &a.access, Some(json!({"password": a.password}))).await.status, 204);
    let h = s.get(&format!("/api/v1/chats/{chat}/messages"), &b.access).await;
    assert_eq!(h.body[0]["content"], "bye soon");
    assert_eq!(h.body[0]["from_user_id"], a.id.as_str());
    assert_problem(&s.get(&format!("/api/v1/users/{}", a.id), &b.access).await, 404, "not_found");
    let view = s.get(&format!("/api/v1/chats/{chat}"), &b.access).await;
    assert_eq!(view.body["members"].as_array().unwrap().len(), 1, "the deleted account left the chat");
}

#[tokio::test]
async fn friend_request_events_arrive_on_the_socket_and_in_sync() {
    let s = Server::start().await;
    let (a, b) = (s.register().await, s.register().await);
    let mut wb = Ws::connect(&s, &b.access).await;
    let since = wb.ready["seq"].as_u64().unwrap();
    let r = s.post("/api/v1/friend-requests", Some(&a.access), json!({"to_user_id": b.id})).await;
    let f = wb.expect("friend_request.new").await;
    assert_eq!(f["request"]["id"], r.body["id"]);
    assert!(f["seq"].as_u64().unwrap() > since);
    let mut wa = Ws::connect(&s, &a.access).await;
    s.post(&format!("/api/v1/friend-requests/{}/accept", r.body["id"].as_str().unwrap()), Some(&b.access), json!({})).await;
    assert_eq!(wa.expect("friend_request.accepted").await["request"]["status"], "accepted");
    wb.send(json!({"type": "sync", "since": since})).await;
    assert_eq!(wb.expect("friend_request.new").await["request"]["id"], r.body["id"]);
    wb.expect("sync.done").await;
}

/// Unread counts are kept per member: new messages from others raise them, reading lowers them
/// to what is after the read position, a deleted unread message leaves them, a new member counts
/// the history, a member who left has none, and one member's reading moves no one else's.
#[tokio::test]
async fn unread_counts_follow_messages_reads_and_deletions() {
    let s = Server::start().await;
    let owner = s.register().await;
    let (m1, m2, late) = (s.register().await, s.register().await, s.register().await);
    for m in [&m1, &m2, &late] {
        befriend(&s, &owner, m).await;
    }
    let r = s.post("/api/v1/chats", Some(&owner.access), json!({"type": "group", "name": "Unread", "member_ids": [m1.id, m2.id]})).await;
    let g = r.body["id"].as_str().unwrap().to_string();
    let unread = |u: &User| {
        let (s, g, token) = (&s, g.clone(), u.access.clone());
        async move { s.get(&format!("/api/v1/chats/{g}"), &token).await.body["unread_count"].as_u64().unwrap() }
    };
    let mut ids = Vec::new();
    for i in 0..4 {
        let r = s.post(&format!("/api/v1/chats/{g}/messages"), Some(&owner.access), json!({"content": format!("m{i}")})).await;
        assert_eq!(r.status, 201, "{}", r.body);
        ids.push(r.body["id"].as_str().unwrap().to_string());
    }
    s.post(&format!("/api/v1/chats/{g}/messages"), Some(&m1.access), json!({"content": "mine"})).await;
    assert_eq!((unread(&owner).await, unread(&m1).await, unread(&m2).await), (1, 4, 5));
    // m1 reads up to the second message: two of the owner's remain after it.
    let read = s.post(&format!("/api/v1/chats/{g}/read"), Some(&m1.access), json!({"up_to_message_id": ids[1]})).await;
    assert_eq!(read.status, 204);
    assert_eq!((unread(&m1).await, unread(&m2).await), (2, 5));
    // Deleting one message m1 has read changes nothing for m1; one m1 has not read lowers both.
    assert_eq!(s.delete(&format!("/api/v1/chats/{g}/messages/{}", ids[0]), &owner.access, None).await.status, 204);
    assert_eq!((unread(&m1).await, unread(&m2).await), (2, 4));
    assert_eq!(s.delete(&format!("/api/v1/chats/{g}/messages/{}", ids[3]), &owner.access, None).await.status, 204);
    assert_eq!((unread(&m1).await, unread(&m2).await), (1, 3));
    // A new member sees the history as unread; the list shows the same count.
    s.post(&format!("/api/v1/chats/{g}/members"), Some(&owner.access), json!({"user_ids": [late.id]})).await;
    assert_eq!(unread(&late).await, 3);
    let list = s.get("/api/v1/chats", &late.access).await;
    assert_eq!(list.body["items"][0]["unread_count"], 3);
    // A member who left has no count; coming back counts afresh.
    assert_eq!(s.delete(&format!("/api/v1/chats/{g}/members/{}", m2.id), &m2.access, None).await.status, 204);
    assert_problem(&s.get(&format!("/api/v1/chats/{g}"), &m2.access).await, 404, "not_found");
    let last = s.post(&format!("/api/v1/chats/{g}/messages"), Some(&owner.access), json!({"content": "last"})).await;
    let last = last.body["id"].as_str().unwrap().to_string();
    assert_eq!((unread(&m1).await, unread(&late).await), (2, 4));
    s.post(&format!("/api/v1/chats/{g}/read"), Some(&late.access), json!({"up_to_message_id": last})).await;
    assert_eq!((unread(&late).await, unread(&m1).await), (0, 2));
}
