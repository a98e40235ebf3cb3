//! Accounts: register, login, throttling, refresh rotation and reuse, logout, password, sessions.

use reqwest::Method;
use serde_json::json;

use crate::support::{Server, assert_problem, unique};

#[tokio::test]
async fn register_returns_tokens_and_own_profile() {
    let s = Server::start().await;
    let name = unique("Reg");
    let r = s
        .post(
            "/api/v1/auth/register",
            None,
            json!({"email": format!("{name}@School.test"), "username": name, "password": "correct horse", "name": " Ana "}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let u = &r.body["user"];
    assert_eq!(u["username"], name.as_str());
    assert_eq!(u["name"], "Ana");
    assert_eq!(u["role"], "student");
    assert_eq!(u["timezone"], "UTC");
    assert_eq!(r.body["token_type"], "Bearer");
    assert_eq!(r.body["expires_in"], 900);
    assert!(u["created_at"].as_str().unwrap().ends_with('Z'));
    let me = s.get("/api/v1/me", r.body["access_token"].as_str().unwrap()).await;
    assert_eq!(me.status, 200);
    assert_eq!(me.body["id"], u["id"]);
    assert_eq!(me.body["email"], format!("{name}@School.test"));
}

#[tokio::test]
async fn register_rejects_bad_input_with_field_errors() {
    let s = Server::start().await;
    let r = s.post("/api/v1/auth/register", None, json!({"email": "nope", "username": "a!", "password": "short", "name": ""})).await;
    assert_problem(&r, 422, "validation_failed");
    let fields: Vec<&str> = r.body["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["email", "username", "password", "name"]);

    let r = s.post("/api/v1/auth/register", None, json!({"email": "a@b.co"})).await;
    assert_problem(&r, 422, "validation_failed");
    assert_eq!(r.body["errors"][0]["field"], "username");

    let long = "x".repeat(1025);
    let r = s.post("/api/v1/auth/register", None, json!({"email": "a@b.co", "username": "longpw", "password": long, "name": "L"})).await;
    assert_problem(&r, 422, "validation_failed");

    let raw = s.http.post(s.url("/api/v1/auth/register")).header("content-type", "application/json").body("{\"email\":");
    assert_problem(&Server::finish(raw).await, 400, "bad_request");
    let text = s.http.post(s.url("/api/v1/auth/register")).header("content-type", "text/plain").body("hello");
    assert_problem(&Server::finish(text).await, 415, "unsupported_media_type");
    let huge = json!({"email": "a@b.co", "username": "big", "password": "password", "name": "x".repeat(300_000)});
    assert_problem(&s.post("/api/v1/auth/register", None, huge).await, 413, "payload_too_large");
}

#[tokio::test]
async fn email_and_username_are_unique_case_insensitively() {
    let s = Server::start().await;
    let a = s.register().await;
    let r = s
        .post(
            "/api/v1/auth/register",
            None,
            json!({"email": a.email.to_uppercase(), "username": unique("other"), "password": "a-solid-password", "name": "B"}),
        )
        .await;
    assert_problem(&r, 409, "conflict");
    assert_eq!(r.body["errors"][0]["field"], "email");
    let r = s
        .post(
            "/api/v1/auth/register",
            None,
            json!({"email": "new@school.test", "username": a.username.to_uppercase(), "password": "a-solid-password", "name": "B"}),
        )
        .await;
    assert_problem(&r, 409, "conflict");
    assert_eq!(r.body["errors"][0]["field"], "username");
}

#[tokio::test]
async fn concurrent_registrations_of_one_username_create_one_account() {
    let s = Server::start().await;
    let name = unique("race");
    let tasks: Vec<_> = (0..6)
        .map(|i| {
            let (http, url, name) = (s.http.clone(), s.url("/api/v1/auth/register"), name.clone());
            tokio::spawn(async move {
                let body = json!({"email": format!("r{i}@school.test"), "username": name, "password": "a-solid-password", "name": "R"});
                http.post(url).json(&body).send().await.unwrap().status().as_u16()
            })
        })
        .collect();
    let mut codes = Vec::new();
    for t in tasks {
        codes.push(t.await.unwrap());
    }
    assert_eq!(codes.iter().filter(|c| **c == 201).count(), 1, "{codes:?}");
    assert_eq!(codes.iter().filter(|c| **c == 409).count(), 5, "{codes:?}");
}

#[tokio::test]
async fn registration_modes_closed_and_invite() {
    let s = Server::start_with(|c| c.registration = friend::config::Registration::Closed).await;
    let body = json!({"email": "c@school.test", "username": "closed1", "password": "a-solid-password", "name": "C"});
    assert_problem(&s.post("/api/v1/auth/register", None, body).await, 403, "registration_closed");

    let s = Server::start_with(|c| c.registration = friend::config::Registration::Invite).await;
    let admin = s.staff(friend::model::Role::Admin).await;
    let body = |u: &str, code: Option<&str>| json!({"email": format!("{u}@school.test"), "username": u, "password": "a-solid-password", "name": u, "invite_code": code});
    assert_problem(&s.post("/api/v1/auth/register", None, body("inv0", None)).await, 403, "registration_closed");
    let r = s.post("/api/v1/auth/register", None, body("inv1", Some("NOPE-NOPE"))).await;
    assert_problem(&r, 422, "validation_failed");
    assert_eq!(r.body["errors"][0]["field"], "invite_code");
    let inv = s.post("/api/v1/admin/invites", Some(&admin.access), json!({"code": "CLASS-7B", "max_uses": 1})).await;
    assert_eq!(inv.status, 201, "{}", inv.body);
    assert_eq!(s.post("/api/v1/auth/register", None, body("inv2", Some("class-7b"))).await.status, 201);
    let r = s.post("/api/v1/auth/register", None, body("inv3", Some("CLASS-7B"))).await;
    assert_problem(&r, 422, "validation_failed");
    let list = s.get("/api/v1/admin/invites", &admin.access).await;
    assert_eq!(list.body["items"][0]["uses"], 1);
}

#[tokio::test]
async fn login_by_email_or_username_and_no_enumeration() {
    let s = Server::start().await;
    let u = s.register().await;
    s.login(&u.username.to_uppercase(), &u.password).await;
    s.login(&u.email, &u.password).await;
    let wrong = s.post("/api/v1/auth/login", None, json!({"login": u.username, "password": "wrong password"})).await;
    let unknown = s.post("/api/v1/auth/login", None, json!({"login": "nobody-here", "password": "wrong password"})).await;
    assert_problem(&wrong, 401, "invalid_credentials");
    assert_problem(&unknown, 401, "invalid_credentials");
    assert_eq!(wrong.body["detail"], unknown.body["detail"]);
    let r = s.post("/api/v1/auth/login", None, json!({"login": u.username})).await;
    assert_problem(&r, 422, "validation_failed");
}

#[tokio::test]
async fn failed_logins_are_throttled_per_device_with_retry_after() {
    let s = Server::start_with(|c| c.auth.max_failed_logins_per_device = 3).await;
    let u = s.register().await;
    for _ in 0..3 {
        let r = s.post("/api/v1/auth/login", None, json!({"login": u.username, "password": "bad password"})).await;
        assert_problem(&r, 401, "invalid_credentials");
    }
    let r = s.post("/api/v1/auth/login", None, json!({"login": u.username, "password": u.password})).await;
    assert_problem(&r, 429, "rate_limited");
    let retry: u64 = r.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!(retry > 0 && retry <= 900);
    // The same account from another device, and another account from this one, are not affected.
    let other = s.http.post(s.url("/api/v1/auth/login")).header("user-agent", "another phone");
    let r = Server::finish(other.json(&json!({"login": u.username, "password": u.password}))).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let v = s.register().await;
    s.login(&v.username, &v.password).await;
    // The window passes.
    s.clock.advance(chrono::Duration::seconds(901));
    s.login(&u.username, &u.password).await;
}

#[tokio::test]
async fn failed_logins_from_one_address_slow_only_its_unknown_devices() {
    let s = Server::start_with(|c| c.auth.max_logins_per_ip = 4).await;
    let u = s.register().await;
    for i in 0..4 {
        let r = s.post("/api/v1/auth/login", None, json!({"login": format!("ghost{i}"), "password": "bad password"})).await;
        assert_eq!(r.status, 401);
    }
    let new_phone = s.http.post(s.url("/api/v1/auth/login")).header("user-agent", "new phone");
    let r = Server::finish(new_phone.json(&json!({"login": u.username, "password": u.password}))).await;
    assert_problem(&r, 429, "rate_limited");
    // The device it registered from is known to the account: it signs in.
    s.login(&u.username, &u.password).await;
}

#[tokio::test]
async fn refresh_rotates_and_reuse_revokes_the_session() {
    let s = Server::start().await;
    let u = s.register().await;
    let r1 = s.post("/api/v1/auth/refresh", None, json!({"refresh_token": u.refresh})).await;
    assert_eq!(r1.status, 200, "{}", r1.body);
    let new_refresh = r1.body["refresh_token"].as_str().unwrap().to_string();
    let new_access = r1.body["access_token"].as_str().unwrap().to_string();
    assert_ne!(new_refresh, u.refresh);
    assert_eq!(s.get("/api/v1/me", &new_access).await.status, 200);
    // Reusing the rotated token: refused, and the whole session ends.
    let reuse = s.post("/api/v1/auth/refresh", None, json!({"refresh_token": u.refresh})).await;
    assert_problem(&reuse, 401, "invalid_token");
    assert_problem(&s.post("/api/v1/auth/refresh", None, json!({"refresh_token": new_refresh})).await, 401, "invalid_token");
    assert_problem(&s.get("/api/v1/me", &new_access).await, 401, "unauthorized");
    // Garbage.
    assert_problem(&s.post("/api/v1/auth/refresh", None, json!({"refresh_token": "garbage"})).await, 401, "invalid_token");
}

#[tokio::test]
async fn sessions_expire_and_access_tokens_expire() {
    let s = Server::start().await;
    let u = s.register().await;
    s.clock.advance(chrono::Duration::minutes(16));
    assert_problem(&s.get("/api/v1/me", &u.access).await, 401, "unauthorized");
    let r = s.post("/api/v1/auth/refresh", None, json!({"refresh_token": u.refresh})).await;
    assert_eq!(r.status, 200);
    s.clock.advance(chrono::Duration::days(31));
    let r2 = s.post("/api/v1/auth/refresh", None, json!({"refresh_token": r.body["refresh_token"]})).await;
    assert_problem(&r2, 401, "invalid_token");
}

#[tokio::test]
async fn logout_and_logout_all() {
    let s = Server::start().await;
    let u = s.register().await;
    let second = s.login(&u.username, &u.password).await;
    let r = s.post("/api/v1/auth/logout", None, json!({"refresh_token": u.refresh})).await;
    assert_eq!(r.status, 204);
    assert_problem(&s.get("/api/v1/me", &u.access).await, 401, "unauthorized");
    assert_eq!(s.get("/api/v1/me", &second.access).await.status, 200);
    // Logging out twice is fine.
    assert_eq!(s.post("/api/v1/auth/logout", None, json!({"refresh_token": u.refresh})).await.status, 204);
    let third = s.login(&u.username, &u.password).await;
    assert_eq!(s.call(Method::POST, "/api/v1/auth/logout-all", Some(&second.access), None).await.status, 204);
    assert_problem(&s.get("/api/v1/me", &second.access).await, 401, "unauthorized");
    assert_problem(&s.get("/api/v1/me", &third.access).await, 401, "unauthorized");
    assert_problem(&s.post("/api/v1/auth/refresh", None, json!({"refresh_token": third.refresh})).await, 401, "invalid_token");
}

#[tokio::test]
async fn password_change_signs_out_other_sessions() {
    let s = Server::start().await;
    let u = s.register().await;
    let other = s.login(&u.username, &u.password).await;
    let r =
        s.post("/api/v1/auth/password", Some(&u.access), json!({"current_password": "wrong one", "new_password": "a new password"})).await;
    assert_problem(&r, 422, "validation_failed");
    assert_eq!(r.body["errors"][0]["field"], "current_password");
    let r = s.post("/api/v1/auth/password", Some(&u.access), json!({"current_password": u.password, "new_password": "short"})).await;
    assert_problem(&r, 422, "validation_failed");
    assert_eq!(r.body["errors"][0]["field"], "new_password");
    let r =
        s.post("/api/v1/auth/password", Some(&u.access), json!({"current_password": u.password, "new_password": "a new password"})).await;
    assert_eq!(r.status, 204, "{}", r.body);
    assert_eq!(s.get("/api/v1/me", &u.access).await.status, 200, "current session stays");
    assert_problem(&s.get("/api/v1/me", &other.access).await, 401, "unauthorized");
    let old = s.post("/api/v1/auth/login", None, json!({"login": u.username, "password": u.password})).await;
    assert_problem(&old, 401, "invalid_credentials");
    s.login(&u.username, "a new password").await;
}

#[tokio::test]
async fn sessions_are_listed_and_revoked_only_by_their_owner() {
    let s = Server::start().await;
    let u = s.register().await;
    let phone = s.login(&u.username, &u.password).await;
    let eve = s.register().await;
    let list = s.get("/api/v1/auth/sessions", &u.access).await;
    assert_eq!(list.status, 200);
    let items = list.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!(items.iter().filter(|s| s["current"] == true).count(), 1);
    let phone_session = items.iter().find(|s| s["current"] == false).unwrap()["id"].as_str().unwrap().to_string();
    assert!(items[0]["ip"].as_str().unwrap().starts_with("127.0.0.1"));
    // Eve sees only her own session and cannot revoke Ana's.
    assert_eq!(s.get("/api/v1/auth/sessions", &eve.access).await.body["items"].as_array().unwrap().len(), 1);
    let r = s.delete(&format!("/api/v1/auth/sessions/{phone_session}"), &eve.access, None).await;
    assert_problem(&r, 404, "not_found");
    assert_eq!(s.get("/api/v1/me", &phone.access).await.status, 200);
    assert_eq!(s.delete(&format!("/api/v1/auth/sessions/{phone_session}"), &u.access, None).await.status, 204);
    assert_problem(&s.get("/api/v1/me", &phone.access).await, 401, "unauthorized");
    assert_problem(&s.delete("/api/v1/auth/sessions/not-an-id", &u.access, None).await, 404, "not_found");
}

#[tokio::test]
async fn missing_or_forged_tokens_are_refused() {
    let s = Server::start().await;
    let r = s.call(Method::GET, "/api/v1/me", None, None).await;
    assert_problem(&r, 401, "unauthorized");
    assert_eq!(r.headers["www-authenticate"], "Bearer");
    assert_problem(&s.get("/api/v1/me", "not.a.jwt").await, 401, "unauthorized");
    let u = s.register().await;
    let mut forged: Vec<char> = u.access.chars().collect();
    let i = forged.len() - 10;
    forged[i] = if forged[i] == 'A' { 'B' } else { 'A' };
    let forged: String = forged.into_iter().collect();
    assert_problem(&s.get("/api/v1/me", &forged).await, 401, "unauthorized");
}
