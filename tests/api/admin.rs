//! Staff tools: roles, disabling accounts, creating accounts, password resets, invites, user list.

use serde_json::json;

use crate::support::{Server, assert_problem};
use crate::ws_support::Ws;
use friend::model::Role;

#[tokio::test]
async fn students_cannot_use_admin_endpoints() {
    let s = Server::start().await;
    let u = s.register().await;
    for path in ["/api/v1/admin/stats", "/api/v1/admin/users", "/api/v1/admin/invites"] {
        assert_problem(&s.get(path, &u.access).await, 403, "forbidden");
    }
    let r = s.post("/api/v1/admin/invites", Some(&u.access), json!({})).await;
    assert_problem(&r, 403, "forbidden");
    let r = s.patch(&format!("/api/v1/admin/users/{}", u.id), &u.access, json!({"role": "admin"})).await;
    assert_problem(&r, 403, "forbidden");
}

#[tokio::test]
async fn disabling_an_account_signs_it_out_and_blocks_login() {
    let s = Server::start().await;
    let admin = s.staff(Role::Admin).await;
    let moderator = s.staff(Role::Moderator).await;
    let u = s.register().await;
    let r = s.patch(&format!("/api/v1/admin/users/{}", u.id), &moderator.access, json!({"disabled": true})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["disabled"], true);
    assert_problem(&s.get("/api/v1/me", &u.access).await, 403, "account_disabled");
    assert_problem(&s.post("/api/v1/auth/refresh", None, json!({"refresh_token": u.refresh})).await, 401, "invalid_token");
    let login = s.post("/api/v1/auth/login", None, json!({"login": u.username, "password": u.password})).await;
    assert_problem(&login, 403, "account_disabled");
    // A wrong password on a disabled account says nothing about the account.
    let wrong = s.post("/api/v1/auth/login", None, json!({"login": u.username, "password": "not the password"})).await;
    assert_problem(&wrong, 401, "invalid_credentials");
    assert_eq!(s.get(&format!("/api/v1/users/{}", u.id), &admin.access).await.status, 200, "staff still see it");
    // Moderators cannot change roles; admins can.
    let r = s.patch(&format!("/api/v1/admin/users/{}", u.id), &moderator.access, json!({"role": "moderator"})).await;
    assert_problem(&r, 403, "forbidden");
    let r = s.patch(&format!("/api/v1/admin/users/{}", u.id), &admin.access, json!({"disabled": false, "role": "moderator"})).await;
    assert_eq!(r.body["role"], "moderator");
    s.login(&u.username, &u.password).await;
    let r = s.patch(&format!("/api/v1/admin/users/{}", admin.id), &admin.access, json!({"disabled": true})).await;
    assert_problem(&r, 403, "forbidden");
    let r = s.patch("/api/v1/admin/users/00000000-0000-7000-8000-000000000000", &admin.access, json!({"disabled": true})).await;
    assert_problem(&r, 404, "not_found");
}

#[tokio::test]
async fn staff_create_accounts_and_reset_passwords() {
    let s = Server::start().await;
    let admin = s.staff(Role::Admin).await;
    let moderator = s.staff(Role::Moderator).await;
    let body = json!({"email": "new@school.test", "username": "newkid", "password": "first-password", "name": "New Kid"});
    let r = s.post("/api/v1/admin/users", Some(&moderator.access), body.clone()).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["email"], "new@school.test");
    let r = s.post("/api/v1/admin/users", Some(&moderator.access), body).await;
    assert_problem(&r, 409, "conflict");
    let staff_body =
        json!({"email": "t@school.test", "username": "teacher", "password": "first-password", "name": "T", "role": "moderator"});
    assert_problem(&s.post("/api/v1/admin/users", Some(&moderator.access), staff_body.clone()).await, 403, "forbidden");
    assert_eq!(s.post("/api/v1/admin/users", Some(&admin.access), staff_body).await.status, 201);

    s.login("newkid", "first-password").await;
}

#[tokio::test]
async fn reset_codes_work_once_expire_and_sign_the_student_out() {
    let s = Server::start().await;
    let admin = s.staff(Role::Admin).await;
    let moderator = s.staff(Role::Moderator).await;
    let kid = s.register().await;
    let issue = |by: &str, who: &str| {
        let (by, path) = (by.to_string(), format!("/api/v1/admin/users/{who}/reset-password"));
        let s = &s;
        async move { s.post(&path, Some(&by), json!({})).await }
    };
    let reset = |code: &str, password: &str| json!({"login": kid.username, "code": code, "new_password": password});

    // Moderators issue codes for students, not for staff; students not at all.
    assert_problem(&issue(&moderator.access, &admin.id).await, 403, "forbidden");
    assert_problem(&issue(&kid.access, &kid.id).await, 403, "forbidden");
    assert_problem(&issue(&admin.access, "00000000-0000-7000-8000-000000000000").await, 404, "not_found");
    let r = issue(&moderator.access, &kid.id).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let code = r.body["reset_code"].as_str().unwrap().to_string();
    assert!(code.len() == 9 && code.as_bytes()[4] == b'-', "two groups of four: {code}");
    assert!(r.body["expires_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(s.get("/api/v1/me", &kid.access).await.status, 200, "issuing a code signs nobody out");

    // Wrong code, and a refused password, use nothing up.
    assert_problem(&s.post("/api/v1/auth/reset", None, reset("AAAA-AAAA", "a-brand-new-password")).await, 401, "invalid_token");
    assert_problem(&s.post("/api/v1/auth/reset", None, reset(&code, "password")).await, 422, "validation_failed");
    let r = s.post("/api/v1/auth/reset", None, json!({"login": "nobody-here", "code": code, "new_password": "a-brand-new-password"})).await;
    assert_problem(&r, 401, "invalid_token");
    assert_problem(&s.post("/api/v1/auth/reset", None, json!({"login": kid.username})).await, 422, "validation_failed");
    // Typed in lower case without the dash: it works, once, and every session ends.
    let typed = code.replace('-', " ").to_lowercase();
    assert_eq!(s.post("/api/v1/auth/reset", None, reset(&typed, "a-brand-new-password")).await.status, 204);
    assert_problem(&s.get("/api/v1/me", &kid.access).await, 401, "unauthorized");
    assert_problem(&s.post("/api/v1/auth/reset", None, reset(&code, "another-new-password")).await, 401, "invalid_token");
    s.login(&kid.username, "a-brand-new-password").await;

    // A new code replaces the previous one; codes expire after 72 hours.
    let first = issue(&admin.access, &kid.id).await.body["reset_code"].as_str().unwrap().to_string();
    let second = issue(&admin.access, &kid.id).await.body["reset_code"].as_str().unwrap().to_string();
    assert_problem(&s.post("/api/v1/auth/reset", None, reset(&first, "third-new-password")).await, 401, "invalid_token");
    s.clock.advance(chrono::Duration::hours(73));
    assert_problem(&s.post("/api/v1/auth/reset", None, reset(&second, "third-new-password")).await, 401, "invalid_token");
    s.login(&kid.username, "a-brand-new-password").await;

    // Issuing is audited (without the code).
    let admin = s.login(&admin.username, &admin.password).await;
    let log = s.get(&format!("/api/v1/admin/audit-log?action=user.reset_code&target_id={}", kid.id), &admin.access).await;
    assert_eq!(log.body["items"].as_array().unwrap().len(), 3, "{}", log.body);
    assert!(!log.body.to_string().contains(&second));
}

#[tokio::test]
async fn user_list_filters_and_paginates() {
    let s = Server::start().await;
    let admin = s.staff(Role::Admin).await;
    for name in ["zed_alpha", "zed_beta", "zed_gamma", "other_one"] {
        s.register_as(name).await;
    }
    let r = s.get("/api/v1/admin/users?q=ZED&limit=2", &admin.access).await;
    assert_eq!(r.status, 200);
    let names: Vec<&str> = r.body["items"].as_array().unwrap().iter().map(|u| u["username"].as_str().unwrap()).collect();
    assert_eq!(names, ["zed_alpha", "zed_beta"]);
    let cursor = r.body["next_cursor"].as_str().unwrap();
    let r2 = s.get(&format!("/api/v1/admin/users?q=zed&limit=2&cursor={cursor}"), &admin.access).await;
    let names: Vec<&str> = r2.body["items"].as_array().unwrap().iter().map(|u| u["username"].as_str().unwrap()).collect();
    assert_eq!(names, ["zed_gamma"]);
    assert!(r2.body["next_cursor"].is_null());
    assert_problem(&s.get("/api/v1/admin/users?limit=500", &admin.access).await, 422, "validation_failed");
    assert_problem(&s.get("/api/v1/admin/users?cursor=zzz", &admin.access).await, 422, "validation_failed");
}

#[tokio::test]
async fn invites_can_expire_and_be_deleted() {
    let s = Server::start_with(|c| c.registration = friend::config::Registration::Invite).await;
    let admin = s.staff(Role::Admin).await;
    let r = s.post("/api/v1/admin/invites", Some(&admin.access), json!({"expires_in_hours": 1})).await;
    assert_eq!(r.status, 201);
    let code = r.body["code"].as_str().unwrap().to_string();
    assert_problem(&s.post("/api/v1/admin/invites", Some(&admin.access), json!({"code": code})).await, 409, "conflict");
    assert_problem(&s.post("/api/v1/admin/invites", Some(&admin.access), json!({"code": "a b"})).await, 422, "validation_failed");
    assert_problem(&s.post("/api/v1/admin/invites", Some(&admin.access), json!({"max_uses": 0})).await, 422, "validation_failed");
    s.clock.advance(chrono::Duration::hours(2));
    let admin = s.login(&admin.username, &admin.password).await;
    let body =
        json!({"email": "late@school.test", "username": "late", "password": "a-solid-password", "name": "Late", "invite_code": code});
    assert_problem(&s.post("/api/v1/auth/register", None, body).await, 422, "validation_failed");
    assert_eq!(s.delete(&format!("/api/v1/admin/invites/{code}"), &admin.access, None).await.status, 204);
    assert_problem(&s.delete(&format!("/api/v1/admin/invites/{code}"), &admin.access, None).await, 404, "not_found");
}

#[tokio::test]
async fn an_invite_has_a_join_link_with_a_qr_code() {
    let s = Server::start().await;
    let moderator = s.staff(Role::Moderator).await;
    let r = s.post("/api/v1/admin/invites", Some(&moderator.access), json!({"code": "ROOM-7B"})).await;
    let join = r.body["join_url"].as_str().unwrap().to_string();
    assert_eq!(join, format!("{}/join/ROOM-7B", s.base));
    let listed = s.get("/api/v1/admin/invites", &moderator.access).await;
    assert_eq!(listed.body["items"][0]["join_url"], join.as_str());
    let qr = s.http.get(s.url("/api/v1/admin/invites/ROOM-7B/qr.svg")).bearer_auth(&moderator.access).send().await.unwrap();
    assert!(qr.headers()["content-type"].to_str().unwrap().starts_with("image/svg+xml"));
    roxmltree::Document::parse(&qr.text().await.unwrap()).expect("an SVG image");
    assert_problem(&s.get("/api/v1/admin/invites/NOPE/qr.svg", &moderator.access).await, 404, "not_found");
    let student = s.register().await;
    assert_problem(&s.get("/api/v1/admin/invites/ROOM-7B/qr.svg", &student.access).await, 403, "forbidden");
    // The link opens a page (no sign-in) with the code to type and the server's address.
    let page = s.http.get(&join).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("id=\"invite\">ROOM-7B<") && page.contains(&s.base) && page.contains("<svg"), "{page}");
    let odd = s.http.get(s.url("/join/%3Cb%3E")).send().await.unwrap().text().await.unwrap();
    assert!(odd.contains("&lt;b&gt;") && !odd.contains("<b>"), "the code is text, not markup");
}

#[tokio::test]
async fn staff_see_and_end_a_students_sessions_and_filter_accounts() {
    let s = Server::start().await;
    let admin = s.staff(Role::Admin).await;
    let moderator = s.staff(Role::Moderator).await;
    let kid = s.register().await;
    let phone = s.login(&kid.username, &kid.password).await;
    let path = format!("/api/v1/admin/users/{}/sessions", kid.id);
    let r = s.get(&path, &moderator.access).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let sessions = r.body["items"].as_array().unwrap().clone();
    assert_eq!(sessions.len(), 2, "registration and the second sign-in");
    assert!(sessions.iter().all(|x| x["ip"] == "127.0.0.1" && x["id"].is_string()));
    // Moderators manage students only; students nobody's; unknown ids are 404.
    assert_problem(&s.get(&format!("/api/v1/admin/users/{}/sessions", admin.id), &moderator.access).await, 403, "forbidden");
    assert_problem(&s.get(&path, &kid.access).await, 403, "forbidden");
    assert_problem(&s.delete(&path, &kid.access, None).await, 403, "forbidden");
    let nobody = "/api/v1/admin/users/00000000-0000-7000-8000-000000000000/sessions";
    assert_problem(&s.get(nobody, &admin.access).await, 404, "not_found");

    // End one session: that device is signed out, its socket closes; the other stays.
    let mut socket = Ws::connect(&s, &phone.access).await;
    let mut other = Ws::connect(&s, &kid.access).await;
    let phone_session =
        sessions.iter().find(|x| x["id"] != sessions[sessions.len() - 1]["id"]).unwrap()["id"].as_str().unwrap().to_string();
    let r = s.delete(&format!("{path}/{phone_session}"), &moderator.access, None).await;
    assert_eq!(r.status, 204, "{}", r.body);
    assert_eq!(socket.expect_within("closed", std::time::Duration::from_secs(2)).await["code"], 4001);
    assert_problem(&s.get("/api/v1/me", &phone.access).await, 401, "unauthorized");
    assert_eq!(s.get("/api/v1/me", &kid.access).await.status, 200);
    assert!(other.none_of("closed", std::time::Duration::from_millis(300)).await);
    assert_problem(&s.delete(&format!("{path}/{phone_session}"), &moderator.access, None).await, 404, "not_found");
    // Everywhere.
    assert_eq!(s.delete(&path, &admin.access, None).await.status, 204);
    assert_eq!(other.expect_within("closed", std::time::Duration::from_secs(2)).await["code"], 4001);
    assert_problem(&s.get("/api/v1/me", &kid.access).await, 401, "unauthorized");
    assert_eq!(s.get(&path, &admin.access).await.body["items"], json!([]));
    let log = s.get(&format!("/api/v1/admin/audit-log?action=user.sign_out&target_id={}", kid.id), &admin.access).await;
    let entries = log.body["items"].as_array().unwrap();
    assert_eq!((entries.len(), &entries[0]["new"]["sessions"], &entries[1]["new"]["session_id"]), (2, &json!(1), &json!(phone_session)));

    // Filters: role and disabled.
    assert_eq!(s.patch(&format!("/api/v1/admin/users/{}", kid.id), &admin.access, json!({"disabled": true})).await.status, 200);
    let names = |r: &crate::support::Resp| -> Vec<String> {
        r.body["items"].as_array().unwrap().iter().map(|u| u["username"].as_str().unwrap().to_string()).collect()
    };
    assert_eq!(names(&s.get("/api/v1/admin/users?role=moderator", &admin.access).await), [moderator.username.as_str()]);
    assert_eq!(names(&s.get("/api/v1/admin/users?disabled=true", &admin.access).await), [kid.username.as_str()]);
    assert_eq!(names(&s.get("/api/v1/admin/users?disabled=false&role=student", &admin.access).await), Vec::<String>::new());
    assert_problem(&s.get("/api/v1/admin/users?role=teacher", &admin.access).await, 422, "validation_failed");
    assert_problem(&s.get("/api/v1/admin/users?disabled=maybe", &admin.access).await, 422, "validation_failed");
}

#[tokio::test]
async fn the_last_admin_cannot_be_demoted_or_disabled() {
    let s = Server::start().await;
    let first = s.staff(Role::Admin).await;
    let second = s.staff(Role::Admin).await;
    // Two admins: one may demote the other, which leaves one.
    let r = s.patch(&format!("/api/v1/admin/users/{}", second.id), &first.access, json!({"role": "moderator"})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let second = s.login(&second.username, &second.password).await;
    assert_problem(
        &s.patch(&format!("/api/v1/admin/users/{}", first.id), &second.access, json!({"disabled": true})).await,
        403,
        "forbidden",
    );
    let stats = s.get("/api/v1/admin/stats", &first.access).await;
    assert_eq!(stats.body["admins"], 1);
    // Nobody can remove the last one: not itself, and no moderator may change an admin.
    assert_problem(
        &s.patch(&format!("/api/v1/admin/users/{}", first.id), &first.access, json!({"role": "student"})).await,
        403,
        "forbidden",
    );
    assert_problem(
        &s.patch(&format!("/api/v1/admin/users/{}", first.id), &second.access, json!({"role": "student"})).await,
        403,
        "forbidden",
    );
}
