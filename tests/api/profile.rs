//! Profiles: own profile, patching, public profiles and visibility, deletion, export.

use serde_json::json;

use crate::support::{Server, assert_problem, png};

#[tokio::test]
async fn patch_me_validates_and_merges_settings() {
    let s = Server::start().await;
    let u = s.register().await;
    let r = s
        .patch(
            "/api/v1/me",
            &u.access,
            json!({"name": "Ana P", "bio": "Maths & music", "study_focus": "Maths", "timezone": "Pacific/Kiritimati",
                   "settings": {"theme": "dark", "language": "fr"}, "profile_visibility": "friends"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["timezone"], "Pacific/Kiritimati");
    assert_eq!(
        r.body["settings"],
        json!({"theme": "dark", "invisible": false, "read_receipts": true, "weekly_ranking": false, "insights": true, "language": "fr"})
    );
    let r = s.patch("/api/v1/me", &u.access, json!({"settings": {"language": null, "sound": true}})).await;
    assert_eq!(
        r.body["settings"],
        json!({"theme": "dark", "invisible": false, "read_receipts": true, "weekly_ranking": false, "insights": true, "sound": true})
    );
    assert_eq!(r.body["bio"], "Maths & music", "untouched fields stay");
    let me = s.get("/api/v1/me", &u.access).await;
    assert_eq!(me.body["profile_visibility"], "friends");

    for (body, field) in [
        (json!({"timezone": "Mars/Olympus"}), "timezone"),
        (json!({"settings": {"theme": "neon"}}), "settings.theme"),
        (json!({"name": "  "}), "name"),
        (json!({"bio": "b".repeat(501)}), "bio"),
        (json!({"username": "no spaces"}), "username"),
        (json!({"profile_visibility": "nobody"}), "profile_visibility"),
    ] {
        let r = s.patch("/api/v1/me", &u.access, body).await;
        assert_problem(&r, 422, "validation_failed");
        assert_eq!(r.body["errors"][0]["field"], field, "{}", r.body);
    }
    let r = s.patch("/api/v1/me", &u.access, json!({"role": "admin"})).await;
    assert_problem(&r, 422, "validation_failed");
    assert_eq!(s.get("/api/v1/me", &u.access).await.body["role"], "student");
}

#[tokio::test]
async fn username_change_keeps_uniqueness_and_frees_the_old_name() {
    let s = Server::start().await;
    let a = s.register().await;
    let b = s.register().await;
    let r = s.patch("/api/v1/me", &b.access, json!({"username": a.username.to_uppercase()})).await;
    assert_problem(&r, 409, "conflict");
    let new_name = format!("{}_new", a.username);
    let r = s.patch("/api/v1/me", &a.access, json!({"username": new_name})).await;
    assert_eq!(r.status, 200);
    s.login(&new_name, &a.password).await;
    assert_eq!(s.patch("/api/v1/me", &b.access, json!({"username": a.username})).await.status, 200);

    // Two users race for one free name: exactly one gets it.
    let c = s.register().await;
    let d = s.register().await;
    let wanted = format!("{}_x", c.username);
    let (r1, r2) = tokio::join!(
        s.patch("/api/v1/me", &c.access, json!({"username": wanted})),
        s.patch("/api/v1/me", &d.access, json!({"username": wanted}))
    );
    let mut codes = [r1.status.as_u16(), r2.status.as_u16()];
    codes.sort();
    assert_eq!(codes, [200, 409]);
}

#[tokio::test]
async fn public_profiles_hide_private_fields() {
    let s = Server::start().await;
    let a = s.register().await;
    let b = s.register().await;
    s.patch("/api/v1/me", &a.access, json!({"bio": "hello", "study_focus": "Physics"})).await;
    let by_id = s.get(&format!("/api/v1/users/{}", a.id), &b.access).await;
    assert_eq!(by_id.status, 200);
    assert_eq!(by_id.body["bio"], "hello");
    assert_eq!(by_id.body["friendship"], "none");
    for hidden in ["email", "settings", "timezone", "disabled"] {
        assert!(by_id.body.get(hidden).is_none(), "{hidden} leaked: {}", by_id.body);
    }
    let by_name = s.get(&format!("/api/v1/users/{}", a.username.to_uppercase()), &b.access).await;
    assert_eq!(by_name.body["id"], a.id.as_str());
    s.patch("/api/v1/me", &a.access, json!({"profile_visibility": "friends"})).await;
    let hidden = s.get(&format!("/api/v1/users/{}", a.id), &b.access).await;
    assert_eq!(hidden.body["bio"], "");
    assert_eq!(hidden.body["study_focus"], "");
    assert_eq!(hidden.body["username"], a.username.as_str());
    assert_problem(&s.get("/api/v1/users/nobody-at-all", &b.access).await, 404, "not_found");
    assert_problem(&s.get(&format!("/api/v1/users/{}", a.email), &b.access).await, 404, "not_found");
}

#[tokio::test]
async fn delete_account_requires_password_and_removes_personal_data() {
    let s = Server::start().await;
    let a = s.register().await;
    let b = s.register().await;
    let up = s.http.put(s.url("/api/v1/me/avatar")).bearer_auth(&a.access).header("content-type", "image/png").body(png(20, 20));
    let avatar = Server::finish(up).await;
    assert_eq!(avatar.status, 200);
    let r = s.delete("/api/v1/me", &a.access, Some(json!({"password": "not it at all"}))).await;
    assert_problem(&r, 422, "validation_failed");
    assert_eq!(s.delete("/api/v1/me", &a.access, Some(json!({"password": a.password}))).await.status, 204);
    assert_problem(&s.get("/api/v1/me", &a.access).await, 401, "unauthorized");
    let login = s.post("/api/v1/auth/login", None, json!({"login": a.username, "password": a.password})).await;
    assert_problem(&login, 401, "invalid_credentials");
    assert_problem(&s.get(&format!("/api/v1/users/{}", a.id), &b.access).await, 404, "not_found");
    let photo = s.http.get(s.url(avatar.body["profile_photo_url"].as_str().unwrap()));
    assert_eq!(Server::finish(photo).await.status, 404, "avatar is gone");
    // The name and email are free again.
    s.register_as(&a.username).await;
}

#[tokio::test]
async fn export_contains_only_the_callers_data() {
    let s = Server::start().await;
    let a = s.register().await;
    let b = s.register().await;
    let up = s.http.post(s.url("/api/v1/media")).bearer_auth(&a.access).header("content-type", "image/png").body(png(8, 8));
    assert_eq!(Server::finish(up).await.status, 201);
    let e = s.get("/api/v1/me/export", &a.access).await;
    assert_eq!(e.status, 200);
    assert!(e.headers["content-disposition"].to_str().unwrap().starts_with("attachment"));
    assert_eq!(e.body["profile"]["id"], a.id.as_str());
    assert_eq!(e.body["profile"]["email"], a.email.as_str());
    assert_eq!(e.body["sessions"].as_array().unwrap().len(), 1);
    assert_eq!(e.body["media"].as_array().unwrap().len(), 1);
    let eb = s.get("/api/v1/me/export", &b.access).await;
    assert_eq!(eb.body["profile"]["id"], b.id.as_str());
    assert_eq!(eb.body["media"].as_array().unwrap().len(), 0);
    assert!(!String::from_utf8_lossy(&eb.bytes).contains(&a.email));
}
