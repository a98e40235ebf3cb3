//! Two-factor login for staff: set up from a QR code, confirmed with a first code, asked at each
//! sign-in, codes used once, recovery codes, the school's requirement, and an admin's reset.

use serde_json::json;

use crate::support::{Server, User, assert_problem, totp};
use friend::model::Role;

/// Sets up and confirms two-factor login for `u`; returns the secret and the recovery codes.
async fn turn_on(s: &Server, u: &User) -> (String, Vec<String>) {
    let r = s.post("/api/v1/auth/2fa/setup", Some(&u.access), json!({"password": u.password})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let secret = r.body["secret"].as_str().unwrap().to_string();
    let uri = r.body["otpauth_uri"].as_str().unwrap();
    assert!(uri.starts_with("otpauth://totp/") && uri.contains(&format!("secret={secret}")) && uri.contains(&u.username), "{uri}");
    assert!(r.body["qr_svg"].as_str().unwrap().starts_with("<?xml") || r.body["qr_svg"].as_str().unwrap().contains("<svg"));
    let r = s.post("/api/v1/auth/2fa/enable", Some(&u.access), json!({"code": totp(&secret, s.clock.unix())})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let codes: Vec<String> = r.body["recovery_codes"].as_array().unwrap().iter().map(|c| c.as_str().unwrap().to_string()).collect();
    assert_eq!(codes.len(), 10);
    (secret, codes)
}

fn login_body(u: &User, code: Option<&str>) -> serde_json::Value {
    match code {
        Some(c) => json!({"login": u.username, "password": u.password, "two_factor_code": c}),
        None => json!({"login": u.username, "password": u.password}),
    }
}

#[tokio::test]
async fn staff_turn_on_two_factor_login_and_each_sign_in_asks_for_a_fresh_code() {
    let s = Server::start().await;
    let admin = s.staff(Role::Admin).await;
    let other_session = s.login(&admin.username, &admin.password).await;
    let status = s.get("/api/v1/auth/2fa", &admin.access).await;
    assert_eq!((&status.body["enabled"], &status.body["required"]), (&json!(false), &json!(false)), "{}", status.body);

    // A wrong password or a wrong first code changes nothing.
    let r = s.post("/api/v1/auth/2fa/setup", Some(&admin.access), json!({"password": "not-it"})).await;
    assert_problem(&r, 422, "validation_failed");
    let r = s.post("/api/v1/auth/2fa/enable", Some(&admin.access), json!({"code": "123456"})).await;
    assert_problem(&r, 409, "conflict");
    let r = s.post("/api/v1/auth/2fa/setup", Some(&admin.access), json!({"password": admin.password})).await;
    let secret = r.body["secret"].as_str().unwrap().to_string();
    let wrong = if totp(&secret, s.clock.unix()) == "000000" { "111111" } else { "000000" };
    assert_problem(&s.post("/api/v1/auth/2fa/enable", Some(&admin.access), json!({"code": wrong})).await, 422, "validation_failed");
    assert_eq!(s.post("/api/v1/auth/login", None, login_body(&admin, None)).await.status, 200, "pending: not asked yet");

    let (secret, recovery) = turn_on(&s, &admin).await;
    let status = s.get("/api/v1/auth/2fa", &admin.access).await;
    assert_eq!(status.body, json!({"enabled": true, "pending": false, "recovery_codes_left": 10, "required": false, "this_session": true}));
    assert_problem(&s.get("/api/v1/me", &other_session.access).await, 401, "unauthorized");
    let me = s.get("/api/v1/me", &admin.access).await;
    assert_eq!(me.body["two_factor"], true, "{}", me.body);
    assert_problem(&s.post("/api/v1/auth/2fa/setup", Some(&admin.access), json!({"password": admin.password})).await, 409, "conflict");

    // Sign-in: the password alone asks for the code; the code just used at enable does not work
    // twice; the next step's code does; a recovery code works once.
    assert_problem(&s.post("/api/v1/auth/login", None, login_body(&admin, None)).await, 401, "two_factor_required");
    let used = totp(&secret, s.clock.unix());
    assert_problem(&s.post("/api/v1/auth/login", None, login_body(&admin, Some(&used))).await, 401, "two_factor_required");
    s.clock.advance(chrono::Duration::seconds(30));
    let fresh = totp(&secret, s.clock.unix());
    let r = s.post("/api/v1/auth/login", None, login_body(&admin, Some(&fresh))).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_problem(&s.post("/api/v1/auth/login", None, login_body(&admin, Some(&fresh))).await, 401, "two_factor_required");
    let bad_password = json!({"login": admin.username, "password": "wrong-password", "two_factor_code": fresh});
    assert_problem(&s.post("/api/v1/auth/login", None, bad_password).await, 401, "invalid_credentials");
    let lower = recovery[0].to_lowercase().replace('-', " ");
    assert_eq!(s.post("/api/v1/auth/login", None, login_body(&admin, Some(&lower))).await.status, 200);
    assert_problem(&s.post("/api/v1/auth/login", None, login_body(&admin, Some(&recovery[0]))).await, 401, "two_factor_required");
    assert_eq!(s.get("/api/v1/auth/2fa", &admin.access).await.body["recovery_codes_left"], 9);

    // New recovery codes replace the old ones.
    s.clock.advance(chrono::Duration::seconds(30));
    let body = json!({"password": admin.password, "code": totp(&secret, s.clock.unix())});
    let r = s.post("/api/v1/auth/2fa/recovery-codes", Some(&admin.access), body).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let renewed = r.body["recovery_codes"][0].as_str().unwrap().to_string();
    assert_problem(&s.post("/api/v1/auth/login", None, login_body(&admin, Some(&recovery[1]))).await, 401, "two_factor_required");
    assert_eq!(s.post("/api/v1/auth/login", None, login_body(&admin, Some(&renewed))).await.status, 200);

    // Turning it off needs the password and a code; then the password alone signs in again.
    s.clock.advance(chrono::Duration::seconds(30));
    let r = s.post("/api/v1/auth/2fa/disable", Some(&admin.access), json!({"password": admin.password, "code": "12345678"})).await;
    assert_problem(&r, 422, "validation_failed");
    let r = s
        .post("/api/v1/auth/2fa/disable", Some(&admin.access), json!({"password": admin.password, "code": totp(&secret, s.clock.unix())}))
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
    assert_eq!(s.post("/api/v1/auth/login", None, login_body(&admin, None)).await.status, 200);

    let log = s.get("/api/v1/admin/audit-log?action=user", &admin.access).await;
    let actions: Vec<&str> = log.body["items"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert!(actions.contains(&"user.two_factor_on") && actions.contains(&"user.two_factor_off"), "{actions:?}");
}

#[tokio::test]
async fn wrong_codes_are_throttled_like_wrong_passwords() {
    let s = Server::start().await;
    let admin = s.staff(Role::Admin).await;
    let (secret, _) = turn_on(&s, &admin).await;
    let wrong = if totp(&secret, s.clock.unix()) == "000000" { "111111" } else { "000000" };
    let mut last = 0;
    for _ in 0..12 {
        last = s.post("/api/v1/auth/login", None, login_body(&admin, Some(wrong))).await.status.as_u16();
        if last == 429 {
            break;
        }
    }
    assert_eq!(last, 429, "a guesser of codes is slowed down");
}

#[tokio::test]
async fn students_cannot_set_it_up_and_only_admins_reset_it() {
    let s = Server::start().await;
    let (admin, moderator, student) = (s.staff(Role::Admin).await, s.staff(Role::Moderator).await, s.register().await);
    let r = s.post("/api/v1/auth/2fa/setup", Some(&student.access), json!({"password": student.password})).await;
    assert_problem(&r, 403, "forbidden");
    assert_eq!(s.get("/api/v1/auth/2fa", &student.access).await.body["enabled"], false);
    let r = s
        .post("/api/v1/auth/login", None, json!({"login": student.username, "password": student.password, "two_factor_code": "123456"}))
        .await;
    assert_eq!(r.status, 200, "a code is ignored for an account without two-factor login");

    let (_, _) = turn_on(&s, &moderator).await;
    let path = format!("/api/v1/admin/users/{}/two-factor", moderator.id);
    assert_problem(&s.delete(&path, &student.access, None).await, 403, "forbidden");
    assert_problem(&s.delete(&path, &moderator.access, None).await, 403, "forbidden");
    assert_problem(&s.delete(&format!("/api/v1/admin/users/{}/two-factor", admin.id), &admin.access, None).await, 403, "forbidden");
    assert_problem(&s.delete(&format!("/api/v1/admin/users/{}/two-factor", student.id), &admin.access, None).await, 409, "conflict");
    let user = s.get(&format!("/api/v1/admin/users?q={}", moderator.username), &admin.access).await;
    assert_eq!(user.body["items"][0]["two_factor"], true, "{}", user.body);
    assert_eq!(s.delete(&path, &admin.access, None).await.status, 204);
    assert_problem(&s.get("/api/v1/me", &moderator.access).await, 401, "unauthorized");
    assert_eq!(s.post("/api/v1/auth/login", None, login_body(&moderator, None)).await.status, 200, "password alone again");
    let log = s.get(&format!("/api/v1/admin/audit-log?action=user.two_factor_reset&target_id={}", moderator.id), &admin.access).await;
    assert_eq!(log.body["items"].as_array().unwrap().len(), 1, "{}", log.body);
}

#[tokio::test]
async fn when_the_school_requires_it_staff_rights_need_a_session_signed_in_with_it() {
    let s = Server::start().await;
    let admin = s.staff(Role::Admin).await;
    let moderator = s.staff(Role::Moderator).await;
    let student = s.register().await;

    // The admin cannot require it before using it: nobody would be left to use the admin.
    let r = s.patch("/api/v1/admin/settings", &admin.access, json!({"staff_two_factor": true})).await;
    assert_problem(&r, 409, "conflict");
    let (secret, _) = turn_on(&s, &admin).await;
    let r = s.patch("/api/v1/admin/settings", &admin.access, json!({"staff_two_factor": true})).await;
    assert_eq!((r.status.as_u16(), &r.body["staff_two_factor"]), (200, &json!(true)), "{}", r.body);

    // The moderator without it keeps their account but loses staff rights until they set it up.
    assert_problem(&s.get("/api/v1/admin/reports", &moderator.access).await, 403, "two_factor_setup_required");
    assert_eq!(s.get("/api/v1/me", &moderator.access).await.status, 200);
    assert_eq!(s.get("/api/v1/auth/2fa", &moderator.access).await.body["required"], true);
    let (mod_secret, _) = turn_on(&s, &moderator).await;
    assert_eq!(s.get("/api/v1/admin/reports", &moderator.access).await.status, 200, "the session that confirmed it counts");
    let r = s
        .post(
            "/api/v1/auth/2fa/disable",
            Some(&moderator.access),
            json!({"password": moderator.password, "code": totp(&mod_secret, s.clock.unix() + 30)}),
        )
        .await;
    assert_problem(&r, 409, "conflict");

    // Students are not concerned; the admin's session signed in with a code keeps working.
    assert_eq!(s.get("/api/v1/auth/2fa", &student.access).await.body["required"], false);
    assert_eq!(s.get("/api/v1/admin/stats", &admin.access).await.status, 200);
    s.clock.advance(chrono::Duration::seconds(30));
    let r = s.post("/api/v1/auth/login", None, login_body(&admin, Some(&totp(&secret, s.clock.unix())))).await;
    let fresh = r.body["access_token"].as_str().unwrap().to_string();
    assert_eq!(s.get("/api/v1/admin/settings", &fresh).await.body["staff_two_factor"], true);
}
