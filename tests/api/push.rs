//! Push on a LAN with no Internet (issue 12): a user's ntfy topic, read with a client that speaks
//! ntfy's documented subscription protocol (JSON stream, SSE, WebSocket, `since`, `poll=1`),
//! with the push preferences, quiet hours and lock-screen privacy applied.

use std::time::Duration;

use futures_util::StreamExt;
use serde_json::{Value, json};

use crate::support::{Server, User};

/// The JSON objects of an ntfy stream, one per line, as they arrive.
struct Lines {
    body: reqwest::Response,
    buf: String,
}

impl Lines {
    async fn open(url: &str) -> Lines {
        let r = reqwest::get(url).await.unwrap();
        assert_eq!(r.status(), 200, "{url}");
        Lines { body: r, buf: String::new() }
    }

    /// The next object, or `None` when the stream ended or nothing came within `wait`.
    async fn next(&mut self, wait: Duration) -> Option<Value> {
        loop {
            if let Some(i) = self.buf.find('\n') {
                let line: String = self.buf.drain(..=i).collect();
                if line.trim().is_empty() {
                    continue;
                }
                return Some(serde_json::from_str(line.trim()).unwrap());
            }
            match tokio::time::timeout(wait, self.body.chunk()).await {
                Ok(Ok(Some(chunk))) => self.buf.push_str(&String::from_utf8_lossy(&chunk)),
                _ => return None,
            }
        }
    }

    /// The next `message` event (skipping keepalives).
    async fn message(&mut self) -> Value {
        loop {
            let m = self.next(Duration::from_secs(10)).await.expect("an ntfy message");
            if m["event"] == "message" {
                return m;
            }
        }
    }
}

async fn new_topic(s: &Server, u: &User) -> (String, String) {
    let r = s.post("/api/v1/push/ntfy", Some(&u.access), json!({})).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let topic = r.body["topic"].as_str().unwrap().to_string();
    assert_eq!(topic.len(), 26);
    assert_eq!(r.body["url"].as_str().unwrap(), s.url(&format!("/{topic}")));
    assert!(r.body["qr_svg"].as_str().unwrap().contains("<svg"), "{}", r.body);
    (topic.clone(), s.url(&format!("/{topic}")))
}

/// Polls a topic until it holds `n` messages (the sender is asynchronous).
async fn poll_until(url: &str, n: usize) -> Vec<Value> {
    for _ in 0..100 {
        let mut l = Lines::open(&format!("{url}/json?poll=1")).await;
        let mut got = Vec::new();
        while let Some(m) = l.next(Duration::from_secs(5)).await {
            got.push(m);
        }
        if got.len() >= n {
            return got;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{url} never had {n} messages");
}

#[tokio::test]
async fn an_ntfy_client_gets_pushes_live_and_from_the_cache_without_message_text() {
    let s = Server::start().await;
    let (ana, ben) = (s.register_as("ana").await, s.register_as("ben").await);
    let (topic, url) = new_topic(&s, &ana).await;
    assert_eq!(reqwest::get(format!("{url}/auth")).await.unwrap().json::<Value>().await.unwrap(), json!({"success": true}));
    let mut live = Lines::open(&format!("{url}/json")).await;
    let open = live.next(Duration::from_secs(5)).await.unwrap();
    assert_eq!((open["event"].as_str(), open["topic"].as_str()), (Some("open"), Some(topic.as_str())));

    // A friend request arrives as an ntfy message with the documented fields.
    let r = s.post("/api/v1/friend-requests", Some(&ben.access), json!({"to_user_id": ana.id})).await;
    let request = r.body["id"].as_str().unwrap().to_string();
    let m = live.message().await;
    assert_eq!(m["topic"], topic.as_str());
    assert_eq!(m["message"], "ben wants to be your friend");
    assert_eq!(m["priority"], 3);
    assert!(m["id"].as_str().unwrap().len() == 12 && m["time"].as_i64().unwrap() > 1_700_000_000, "{m}");
    assert!(m["tags"].as_array().is_some() && m["click"].as_str().is_some());
    s.post(&format!("/api/v1/friend-requests/{request}/accept"), Some(&ana.access), json!({})).await;

    // A chat message: the lock screen shows who wrote, never the text.
    let chat = s.post("/api/v1/chats", Some(&ben.access), json!({"type": "private", "user_id": ana.id})).await.body["id"]
        .as_str()
        .unwrap()
        .to_string();
    let sent = s
        .post(
            &format!("/api/v1/chats/{chat}/messages"),
            Some(&ben.access),
            json!({"content": "the answer is zebra crossing", "client_id": "m1"}),
        )
        .await;
    let m = live.message().await;
    assert_eq!(
        (m["title"].as_str(), m["message"].as_str(), m["priority"].as_i64()),
        (Some("Friend"), Some("New message from ben"), Some(4))
    );
    assert!(!m.to_string().contains("zebra"), "{m}");
    // With previews on (and the chat read, so the next message is a new notification): the text.
    let r = s.patch("/api/v1/me/notification-settings", &ana.access, json!({"message_previews": true})).await;
    assert_eq!(r.status, 200);
    let up_to = sent.body["id"].as_str().unwrap();
    s.post(&format!("/api/v1/chats/{chat}/read"), Some(&ana.access), json!({"up_to_message_id": up_to})).await;
    let later =
        s.post(&format!("/api/v1/chats/{chat}/messages"), Some(&ben.access), json!({"content": "see you at 5", "client_id": "m2"})).await;
    let m = live.message().await;
    assert_eq!((m["title"].as_str(), m["message"].as_str()), (Some("New message from ben"), Some("see you at 5")));
    // Deleted, its text is not served from the cache either.
    let later = later.body["id"].as_str().unwrap().to_string();
    assert_eq!(s.delete(&format!("/api/v1/chats/{chat}/messages/{later}"), &ben.access, None).await.status, 204);
    let cache = reqwest::get(format!("{url}/json?poll=1&since=all")).await.unwrap().text().await.unwrap();
    assert!(!cache.contains("see you"), "{cache}");

    // The cache: poll=1 returns everything and closes; since=<id> only what came after it.
    let all = poll_until(&url, 3).await;
    assert_eq!(all.len(), 3, "{all:?}");
    assert!(all.iter().all(|m| m["event"] == "message"));
    let first = all[0]["id"].as_str().unwrap();
    let after = {
        let mut l = Lines::open(&format!("{url}/json?poll=1&since={first}")).await;
        let mut v = Vec::new();
        while let Some(m) = l.next(Duration::from_secs(5)).await {
            v.push(m);
        }
        v
    };
    assert_eq!(after.len(), 2);
    assert_eq!(after[1]["id"], all[2]["id"]);
    // SSE: `event: open`, then messages as `data:`.
    let sse = reqwest::get(format!("{url}/sse?poll=1&since=all")).await.unwrap();
    assert!(sse.headers()["content-type"].to_str().unwrap().starts_with("text/event-stream"));
    let text = sse.text().await.unwrap();
    let data: Vec<Value> = text.lines().filter_map(|l| l.strip_prefix("data: ")).map(|d| serde_json::from_str(d).unwrap()).collect();
    assert_eq!(data.len(), 3, "{text}");
    // WebSocket: the same objects, from the cache with since=all.
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("{}/ws?since=all", url.replace("http://", "ws://"))).await.unwrap();
    let mut frames = Vec::new();
    while frames.len() < 4 {
        let f = tokio::time::timeout(Duration::from_secs(5), ws.next()).await.unwrap().unwrap().unwrap();
        frames.push(serde_json::from_str::<Value>(f.to_text().unwrap()).unwrap());
    }
    assert_eq!(frames[0]["event"], "open");
    assert_eq!(frames[3]["id"], all[2]["id"]);

    // Operators see the pushes in the metrics.
    let metrics = reqwest::get(s.url("/metrics")).await.unwrap().text().await.unwrap();
    let sent: u64 = metrics.lines().find_map(|l| l.strip_prefix("friend_pushes_total{channel=\"ntfy\"} ")).unwrap().parse().unwrap();
    assert!(sent >= 3 && metrics.contains("friend_push_queue "), "{metrics}");

    // Ben's topic gets none of Ana's pushes.
    let (_, ben_url) = new_topic(&s, &ben).await;
    let mut l = Lines::open(&format!("{ben_url}/json?poll=1")).await;
    assert!(l.next(Duration::from_secs(2)).await.is_none());

    // Revoked: 404 everywhere and the open stream ends.
    assert_eq!(s.delete("/api/v1/push/ntfy", &ana.access, None).await.status, 204);
    let mut ended = false;
    for _ in 0..5 {
        if live.next(Duration::from_secs(2)).await.is_none() {
            ended = true;
            break;
        }
    }
    assert!(ended, "the open subscription ends on revoke");
    for path in ["json", "sse", "auth"] {
        assert_eq!(reqwest::get(format!("{url}/{path}")).await.unwrap().status(), 404, "{path}");
    }
}

#[tokio::test]
async fn push_preferences_and_quiet_hours_hold_back_pushes_but_not_the_inbox() {
    let s = Server::start().await;
    let (ana, ben, cy) = (s.register_as("anna").await, s.register_as("bert").await, s.register_as("cyra").await);
    let (_, url) = new_topic(&s, &ana).await;
    // Friend requests: inbox yes, push no.
    let r = s.patch("/api/v1/me/notification-settings", &ana.access, json!({"friend_request": {"push": false}})).await;
    assert_eq!(r.body["friend_request"], json!({"in_app": true, "push": false}));
    s.post("/api/v1/friend-requests", Some(&ben.access), json!({"to_user_id": ana.id})).await;
    // Quiet hours around now (the user's time zone is UTC by default): no push either.
    let now = chrono::Utc::now();
    let (start, end) =
        ((now - chrono::Duration::hours(1)).format("%H:%M").to_string(), (now + chrono::Duration::hours(1)).format("%H:%M").to_string());
    let r = s
        .patch(
            "/api/v1/me/notification-settings",
            &ana.access,
            json!({"friend_request": {"push": true}, "quiet_hours": {"start": start, "end": end}}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    s.post("/api/v1/friend-requests", Some(&cy.access), json!({"to_user_id": ana.id})).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let inbox = s.get("/api/v1/notifications", &ana.access).await;
        if inbox.body["items"].as_array().unwrap().len() == 2 || std::time::Instant::now() > deadline {
            assert_eq!(inbox.body["items"].as_array().unwrap().len(), 2, "{}", inbox.body);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut l = Lines::open(&format!("{url}/json?poll=1")).await;
    assert!(l.next(Duration::from_secs(2)).await.is_none(), "nothing was pushed");
    // Outside quiet hours it is pushed.
    s.patch("/api/v1/me/notification-settings", &ana.access, json!({"quiet_hours": null})).await;
    let dee = s.register_as("dee").await;
    s.post("/api/v1/friend-requests", Some(&dee.access), json!({"to_user_id": ana.id})).await;
    let got = poll_until(&url, 1).await;
    assert_eq!(got[0]["message"], "dee wants to be your friend");
}

#[tokio::test]
async fn unknown_topics_answer_404_and_guessing_is_rate_limited() {
    let s = Server::start().await;
    let u = s.register().await;
    assert_eq!(s.call(reqwest::Method::POST, "/api/v1/push/ntfy", None, Some(json!({}))).await.status, 401);
    let (_, url) = new_topic(&s, &u).await;
    let bad = s.url("/abcdefghijklmnopqrstuvwxyz/json");
    assert_eq!(reqwest::get(&bad).await.unwrap().status(), 404);
    assert_eq!(reqwest::get(format!("{url}/json?poll=1&since=yesterday")).await.unwrap().status(), 422);
    assert_eq!(reqwest::get(format!("{url}/json?poll=1&since=1%C3%A9")).await.unwrap().status(), 422);
    let mut limited = false;
    for _ in 0..130 {
        if reqwest::get(&bad).await.unwrap().status() == 429 {
            limited = true;
            break;
        }
    }
    assert!(limited, "an address guessing topics is slowed down");
}
