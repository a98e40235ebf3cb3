//! School settings: staff read them, admins change them, a change applies at once, survives a
//! restart, is audited with old and new values, and a bad value changes nothing.

use serde_json::json;

use crate::support::{Server, assert_problem};
use friend::config::Registration;
use friend::model::Role;

#[tokio::test]
async fn an_admin_changes_school_settings_and_they_apply_at_once() {
    let s = Server::start_with(|c| c.school_name = "Lycée Curie".into()).await;
    let admin = s.staff(Role::Admin).await;
    let r = s.get("/api/v1/admin/settings", &admin.access).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!((&r.body["school_name"], &r.body["registration"], &r.body["changed"]), (&json!("Lycée Curie"), &json!("open"), &json!([])));

    // Registration closed: nobody registers, at once.
    let r = s.patch("/api/v1/admin/settings", &admin.access, json!({"registration": "closed"})).await;
    assert_eq!((r.status.as_u16(), &r.body["registration"], &r.body["changed"]), (200, &json!("closed"), &json!(["registration"])));
    let body = json!({"email": "late@school.test", "username": "late", "password": "a-solid-password", "name": "Late"});
    assert_problem(&s.post("/api/v1/auth/register", None, body.clone()).await, 403, "registration_closed");
    s.patch("/api/v1/admin/settings", &admin.access, json!({"registration": "open", "default_timezone": "Europe/Paris"})).await;
    let r = s.post("/api/v1/auth/register", None, body).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["user"]["timezone"], "Europe/Paris", "new accounts take the school's time zone");

    // The message size limit and who may start private chats.
    let (a, b) = (s.register().await, s.register().await);
    s.befriend(&a, &b).await;
    let chat = s.post("/api/v1/chats", Some(&a.access), json!({"type": "private", "user_id": b.id})).await;
    let chat = chat.body["id"].as_str().unwrap().to_string();
    s.patch("/api/v1/admin/settings", &admin.access, json!({"max_message_bytes": 20})).await;
    let send = |client: &str, content: String| json!({"content": content, "client_id": client});
    let r = s.post(&format!("/api/v1/chats/{chat}/messages"), Some(&a.access), send("m1", "x".repeat(21))).await;
    assert_problem(&r, 413, "payload_too_large");
    assert_eq!(s.post(&format!("/api/v1/chats/{chat}/messages"), Some(&a.access), send("m2", "x".repeat(20))).await.status, 201);
    s.patch("/api/v1/admin/settings", &admin.access, json!({"dm_policy": "staff_only"})).await;
    let c = s.register().await;
    s.befriend(&a, &c).await;
    let r = s.post("/api/v1/chats", Some(&a.access), json!({"type": "private", "user_id": c.id})).await;
    assert_eq!(r.status, 403, "{}", r.body);

    // School quiet hours show in every student's notification settings; null removes them.
    s.patch("/api/v1/admin/settings", &admin.access, json!({"school_quiet_hours": "21:30-07:00"})).await;
    let r = s.get("/api/v1/me/notification-settings", &a.access).await;
    assert_eq!(
        (&r.body["school_quiet_hours"]["start"], &r.body["school_quiet_hours"]["end"]),
        (&json!("21:30"), &json!("07:00")),
        "{}",
        r.body
    );
    let r = s.patch("/api/v1/admin/settings", &admin.access, json!({"school_quiet_hours": null, "school_name": "  Curie  "})).await;
    assert_eq!((&r.body["school_quiet_hours"], &r.body["school_name"]), (&json!(null), &json!("Curie")));
    assert!(s.get("/api/v1/me/notification-settings", &a.access).await.body["school_quiet_hours"].is_null());
    let page = s.http.get(s.url("/connect")).send().await.unwrap().text().await.unwrap();
    assert!(page.contains("Curie") && !page.contains("Lycée"), "the connect page names the school");

    // Each change is audited with the values it changed.
    let log = s.get("/api/v1/admin/audit-log?action=settings", &admin.access).await;
    let items = log.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 6, "{}", log.body);
    assert_eq!(
        (&items[0]["old"], &items[0]["new"]),
        (
            &json!({"school_name": "Lycée Curie", "school_quiet_hours": "21:30-07:00"}),
            &json!({"school_name": "Curie", "school_quiet_hours": null})
        )
    );
    assert_eq!(
        (&items[5]["old"], &items[5]["new"], &items[5]["actor"]),
        (&json!({"registration": "open"}), &json!({"registration": "closed"}), &json!(admin.username.as_str()))
    );

    // Kept across a restart, over config.toml's values; the other settings still follow the config.
    let dir = s.stop().await;
    let s = Server::start_in(dir, |c| {
        c.registration = Registration::Invite;
        c.school_name = "Ignored".into();
        c.chat.max_message_bytes = 999;
        c.default_timezone = "Asia/Tokyo".into();
    })
    .await;
    let admin = s.login(&admin.username, &admin.password).await;
    let r = s.get("/api/v1/admin/settings", &admin.access).await;
    assert_eq!(
        (&r.body["registration"], &r.body["school_name"], &r.body["max_message_bytes"], &r.body["dm_policy"], &r.body["default_timezone"]),
        (&json!("open"), &json!("Curie"), &json!(20), &json!("staff_only"), &json!("Europe/Paris"))
    );
    let mut changed: Vec<String> = serde_json::from_value(r.body["changed"].clone()).unwrap();
    changed.sort();
    assert_eq!(changed, ["default_timezone", "dm_policy", "max_message_bytes", "registration", "school_name", "school_quiet_hours"]);
}

#[tokio::test]
async fn only_admins_change_settings_and_bad_values_change_nothing() {
    let s = Server::start().await;
    let admin = s.staff(Role::Admin).await;
    let moderator = s.staff(Role::Moderator).await;
    let student = s.register().await;
    assert_problem(&s.get("/api/v1/admin/settings", &student.access).await, 403, "forbidden");
    assert_eq!(s.get("/api/v1/admin/settings", &moderator.access).await.status, 200, "moderators may read them");
    assert_problem(&s.patch("/api/v1/admin/settings", &moderator.access, json!({"registration": "open"})).await, 403, "forbidden");
    assert_problem(&s.patch("/api/v1/admin/settings", &student.access, json!({"registration": "open"})).await, 403, "forbidden");
    let before = s.get("/api/v1/admin/settings", &admin.access).await.body;
    for bad in [
        json!({"default_timezone": "Mars/Olympus"}),
        json!({"school_quiet_hours": "late"}),
        json!({"school_quiet_hours": "25:00-07:00"}),
        json!({"max_message_bytes": 0}),
        json!({"max_message_bytes": 1_000_000}),
        json!({"school_name": "   "}),
        json!({"registration": "sometimes"}),
        json!({"dm_policy": "everyone"}),
        json!({"colour": "blue"}),
        // One bad value spoils the whole change.
        json!({"school_name": "Fine", "default_timezone": "Nowhere"}),
    ] {
        let r = s.patch("/api/v1/admin/settings", &admin.access, bad.clone()).await;
        assert_problem(&r, 422, "validation_failed");
    }
    let r = s.patch("/api/v1/admin/settings", &admin.access, json!({"default_timezone": "Mars/Olympus", "max_message_bytes": 0})).await;
    let fields: Vec<&str> = r.body["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["default_timezone", "max_message_bytes"], "{}", r.body);
    assert_eq!(s.get("/api/v1/admin/settings", &admin.access).await.body, before);
    assert_eq!(s.get("/api/v1/admin/audit-log?action=settings", &admin.access).await.body["items"], json!([]));
}
