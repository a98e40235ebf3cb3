//! Web Push (issue 12): subscriptions, encrypted and VAPID-signed pushes decrypted by an
//! independent implementation, the push service's answers (404/410, 429 with Retry-After, 500,
//! a hung endpoint), SSRF refusals, and subscriptions ending with their session.

use std::time::Duration;

use serde_json::{Value, json};

use crate::push_service::{Browser, PushService, check_vapid};
use crate::support::{Server, User, assert_problem};

async fn server_for(fake: &PushService, tweak: impl FnOnce(&mut friend::config::Config)) -> Server {
    let allow = format!("127.0.0.1:{}", fake.port);
    Server::start_with(move |c| {
        c.push.allow_hosts = vec![allow];
        c.push.timeout_secs = 1;
        tweak(c);
    })
    .await
}

async fn subscribe(s: &Server, u: &User, b: &Browser, endpoint: &str) -> Value {
    let r = s.post("/api/v1/push/subscriptions", Some(&u.access), b.subscription(endpoint)).await;
    assert_eq!(r.status, 201, "{}", r.body);
    r.body
}

async fn friend_request(s: &Server, from: &User, to: &User) {
    let r = s.post("/api/v1/friend-requests", Some(&from.access), json!({"to_user_id": to.id})).await;
    assert_eq!(r.status, 201, "{}", r.body);
}

/// Waits until the notifications of befriending reached `u`'s inbox (made before any push
/// subscription, so they are never pushed).
async fn settled(s: &Server, u: &User) {
    for _ in 0..200 {
        if s.get("/api/v1/notifications", &u.access).await.body["items"].as_array().is_some_and(|a| !a.is_empty()) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("no notification arrived");
}

async fn metric(s: &Server, name: &str) -> f64 {
    let text = reqwest::get(s.url("/metrics")).await.unwrap().text().await.unwrap();
    text.lines().find_map(|l| l.strip_prefix(name).and_then(|v| v.trim().parse().ok())).unwrap_or(0.0)
}

#[tokio::test]
async fn a_push_is_encrypted_for_the_device_and_signed_with_the_servers_vapid_key() {
    let fake = PushService::start(None).await;
    let s = server_for(&fake, |_| {}).await;
    let (ana, ben, cleo) = (s.register_as("ana").await, s.register_as("ben").await, s.register_as("cleo").await);
    s.befriend(&ana, &ben).await;
    settled(&s, &ana).await;
    let key = reqwest::get(s.url("/api/v1/push/vapid-public-key")).await.unwrap().json::<Value>().await.unwrap()["key"]
        .as_str()
        .unwrap()
        .to_string();
    let device = Browser::new();
    let sub = subscribe(&s, &ana, &device, &fake.endpoint("/ok/ana")).await;
    assert_eq!(sub["endpoint"], fake.endpoint("/ok/ana"));
    let listed = s.get("/api/v1/push/subscriptions", &ana.access).await;
    assert_eq!(listed.body.as_array().unwrap().len(), 1);

    // A friend request: one push, decrypted here with the device's private key.
    friend_request(&s, &cleo, &ana).await;
    let got = fake.wait_for("/ok/ana", 1, Duration::from_secs(10)).await;
    let push = &got[0];
    assert_eq!(push.headers.get("content-encoding").map(String::as_str), Some("aes128gcm"));
    assert_eq!(push.headers.get("urgency").map(String::as_str), Some("normal"));
    let ttl: u32 = push.headers["ttl"].parse().unwrap();
    assert!(ttl > 0 && ttl <= 4 * 3600, "{ttl}");
    assert!(push.headers.get("topic").is_some_and(|t| t.len() <= 32));
    check_vapid(push, &key, &format!("http://127.0.0.1:{}", fake.port));
    let payload = device.decrypt(&push.body);
    let inbox = s.get("/api/v1/notifications", &ana.access).await;
    let n = &inbox.body["items"][0];
    assert_eq!(payload["id"], n["id"], "{payload}");
    assert_eq!(payload["type"], "friend_request");
    assert_eq!(payload["body"], "cleo wants to be your friend");
    assert!(payload["link"].as_str().is_some() && payload["url"].as_str().is_some(), "{payload}");
    assert!(push.body.len() < 3300);

    // A chat message: high urgency, a topic per chat, and no message text on the lock screen.
    let chat = s.post("/api/v1/chats", Some(&ben.access), json!({"type": "private", "user_id": ana.id})).await.body["id"]
        .as_str()
        .unwrap()
        .to_string();
    s.post(&format!("/api/v1/chats/{chat}/messages"), Some(&ben.access), json!({"content": "secret zebra", "client_id": "z1"})).await;
    let got = fake.wait_for("/ok/ana", 2, Duration::from_secs(10)).await;
    let push = &got[1];
    assert_eq!(push.headers.get("urgency").map(String::as_str), Some("high"));
    let payload = device.decrypt(&push.body);
    assert_eq!((payload["type"].as_str(), payload["body"].as_str()), (Some("message"), Some("New message from ben")), "{payload}");
    assert!(!payload.to_string().contains("zebra"));
    let topic = push.headers["topic"].clone();
    // A second message moments later joins the notification: no second buzz.
    s.post(&format!("/api/v1/chats/{chat}/messages"), Some(&ben.access), json!({"content": "again", "client_id": "z2"})).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(fake.to("/ok/ana").len(), 2);
    assert!(topic.starts_with('c'));

    // Push switched off for friend requests: none comes.
    let r = s.patch("/api/v1/me/notification-settings", &ana.access, json!({"friend_request": {"push": false}})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let dan = s.register_as("dan").await;
    friend_request(&s, &dan, &ana).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(fake.to("/ok/ana").len(), 2);
    assert_eq!(metric(&s, "friend_webpush_total{result=\"sent\"}").await, 2.0);
}

#[tokio::test]
async fn the_push_services_answers_are_honoured() {
    let fake = PushService::start(None).await;
    let s = server_for(&fake, |_| {}).await;
    let (ana, ben) = (s.register_as("ana").await, s.register_as("ben").await);
    let paths = ["/gone/a", "/missing/a", "/busy/a", "/broken/a", "/hang/a", "/bad/a"];
    let devices: Vec<Browser> = paths.iter().map(|_| Browser::new()).collect();
    for (p, d) in paths.iter().zip(&devices) {
        subscribe(&s, &ana, d, &fake.endpoint(p)).await;
    }
    friend_request(&s, &ben, &ana).await;

    // 429 with Retry-After: 1 is tried again, not before a second has passed.
    let busy = fake.wait_for("/busy/a", 2, Duration::from_secs(15)).await;
    assert!(busy[1].at - busy[0].at >= Duration::from_millis(990), "{:?}", busy[1].at - busy[0].at);
    // 500 and a hung request (timed out after push.timeout_secs) are tried again.
    fake.wait_for("/broken/a", 2, Duration::from_secs(15)).await;
    fake.wait_for("/hang/a", 2, Duration::from_secs(20)).await;
    // Every retried push decrypts the same.
    let again = devices[2].decrypt(&busy[1].body);
    assert_eq!(again["type"], "friend_request");

    // 410 and 404 removed their subscriptions; 400 dropped the push, once.
    let left: Vec<String> = s
        .get("/api/v1/push/subscriptions", &ana.access)
        .await
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["endpoint"].as_str().unwrap().to_string())
        .collect();
    assert!(!left.iter().any(|e| e.contains("/gone/") || e.contains("/missing/")), "{left:?}");
    assert_eq!(left.len(), 4);
    assert_eq!(fake.to("/gone/a").len(), 1);
    assert_eq!(fake.to("/bad/a").len(), 1);
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(fake.to("/bad/a").len(), 1, "a 400 is not retried");
    assert_eq!(fake.to("/busy/a").len(), 2, "delivered pushes are not sent again");
    assert_eq!(metric(&s, "friend_webpush_total{result=\"gone\"}").await, 2.0);
    assert_eq!(metric(&s, "friend_webpush_total{result=\"rejected\"}").await, 1.0);
    assert!(metric(&s, "friend_webpush_total{result=\"retried\"}").await >= 3.0);
    assert_eq!(metric(&s, "friend_webpush_queue").await, 0.0);
    let ready = reqwest::get(s.url("/readyz")).await.unwrap().json::<Value>().await.unwrap();
    assert_eq!((ready["status"].as_str(), ready["push"].as_str()), (Some("ok"), Some("ok")), "{ready}");
}

#[tokio::test]
async fn endpoints_outside_the_push_services_are_refused_and_never_reached() {
    let target = PushService::start(None).await;
    let fake = PushService::start(Some(target.endpoint("/ok/stolen"))).await;
    // `localhost` made a "known push service" here, to see the check at connection time refuse
    // its loopback address.
    let s = server_for(&fake, |c| c.push.known_hosts.push("localhost".into())).await;
    let (ana, ben) = (s.register_as("ana").await, s.register_as("ben").await);
    let d = Browser::new();
    for bad in [
        format!("http://127.0.0.1:{}/ok/x", target.port),
        "http://fcm.googleapis.com/fcm/send/x".to_string(),
        "https://push.example.com/x".to_string(),
        "https://10.0.0.8/x".to_string(),
        "https://169.254.169.254/latest/meta-data".to_string(),
        "https://user:pw@fcm.googleapis.com/x".to_string(),
        "file:///etc/passwd".to_string(),
        "not a url".to_string(),
    ] {
        let r = s.post("/api/v1/push/subscriptions", Some(&ana.access), d.subscription(&bad)).await;
        assert_problem(&r, 422, "validation_failed");
        assert_eq!(r.body["errors"][0]["field"], "endpoint", "{bad}: {}", r.body);
    }
    let mut bad_keys = d.subscription(&fake.endpoint("/ok/a"));
    bad_keys["keys"]["p256dh"] = json!("AAAA");
    assert_eq!(s.post("/api/v1/push/subscriptions", Some(&ana.access), bad_keys).await.status, 422);
    let mut off_curve = d.subscription(&fake.endpoint("/ok/a"));
    off_curve["keys"]["p256dh"] = json!(base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, [4u8; 65]));
    assert_eq!(s.post("/api/v1/push/subscriptions", Some(&ana.access), off_curve).await.status, 422);
    let mut short_auth = d.subscription(&fake.endpoint("/ok/a"));
    short_auth["keys"]["auth"] = json!("AAAA");
    assert_eq!(s.post("/api/v1/push/subscriptions", Some(&ana.access), short_auth).await.status, 422);
    assert_eq!(s.post("/api/v1/push/subscriptions", None, d.subscription(&fake.endpoint("/ok/a"))).await.status, 401);

    // Accepted, then refused when sending: a redirect is not followed; a known host that
    // resolves to a loopback address is never connected to.
    subscribe(&s, &ana, &d, &fake.endpoint("/redirect/a")).await;
    subscribe(&s, &ana, &Browser::new(), "https://localhost/push/a").await;
    friend_request(&s, &ben, &ana).await;
    fake.wait_for("/redirect/a", 1, Duration::from_secs(10)).await;
    for _ in 0..100 {
        if metric(&s, "friend_webpush_total{result=\"rejected\"}").await >= 2.0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(metric(&s, "friend_webpush_total{result=\"rejected\"}").await, 2.0);
    assert_eq!(metric(&s, "friend_webpush_total{result=\"retried\"}").await, 0.0);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(*target.connections.lock().unwrap(), 0, "the redirect target and refused hosts get no request");
    assert_eq!(fake.to("/redirect/a").len(), 1);
}

#[tokio::test]
async fn a_subscription_ends_with_its_session_and_belongs_to_its_owner() {
    let fake = PushService::start(None).await;
    let s = server_for(&fake, |_| {}).await;
    let (ana, ben) = (s.register_as("ana").await, s.register_as("ben").await);
    let phone = Browser::new();
    subscribe(&s, &ana, &phone, &fake.endpoint("/ok/phone")).await;
    // Ben can neither see nor remove Ana's device.
    assert_eq!(s.get("/api/v1/push/subscriptions", &ben.access).await.body, json!([]));
    let r = s.delete("/api/v1/push/subscriptions", &ben.access, Some(json!({"endpoint": fake.endpoint("/ok/phone")}))).await;
    assert_problem(&r, 404, "not_found");
    assert_eq!(s.get("/api/v1/push/subscriptions", &ana.access).await.body.as_array().unwrap().len(), 1);
    // Subscribing the same endpoint again replaces it (one device, one subscription).
    subscribe(&s, &ana, &phone, &fake.endpoint("/ok/phone")).await;
    assert_eq!(s.get("/api/v1/push/subscriptions", &ana.access).await.body.as_array().unwrap().len(), 1);

    // Signing out of that session removes it: the next notification is not pushed.
    let laptop = s.login("ana", &ana.password).await;
    let r = s.post("/api/v1/auth/logout", None, json!({"refresh_token": ana.refresh})).await;
    assert_eq!(r.status, 204, "{}", r.body);
    assert_eq!(s.get("/api/v1/push/subscriptions", &laptop.access).await.body, json!([]));
    friend_request(&s, &ben, &ana).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(fake.to("/ok/phone").is_empty());

    // Unsubscribing: 204, then 404.
    subscribe(&s, &laptop, &phone, &fake.endpoint("/ok/laptop")).await;
    let body = json!({"endpoint": fake.endpoint("/ok/laptop")});
    assert_eq!(s.delete("/api/v1/push/subscriptions", &laptop.access, Some(body.clone())).await.status, 204);
    assert_problem(&s.delete("/api/v1/push/subscriptions", &laptop.access, Some(body)).await, 404, "not_found");
}
