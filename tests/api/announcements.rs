//! Announcements: staff send to everyone, a role or a group chat; recipients get a `system`
//! notification and a pinned announcement until they acknowledge it; staff see who read it.

use std::time::Duration;

use serde_json::{Value, json};

use crate::support::{Server, User, assert_problem};
use crate::ws_support::Ws;
use friend::model::Role;

async fn mine(s: &Server, u: &User) -> Vec<Value> {
    let r = s.get("/api/v1/announcements", &u.access).await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.body["items"].as_array().unwrap().clone()
}

#[tokio::test]
async fn an_announcement_reaches_its_audience_and_stays_pinned_until_acknowledged() {
    let s = Server::start().await;
    let admin = s.staff(Role::Admin).await;
    let moderator = s.staff(Role::Moderator).await;
    let (a, b, c) = (s.register().await, s.register().await, s.register().await);
    let mut socket = Ws::connect(&s, &a.access).await;

    let body = json!({"title": "Fire drill", "body": "Tomorrow at 10:00, meet in the yard.", "audience": {"role": "student"}});
    let r = s.post("/api/v1/admin/announcements", Some(&moderator.access), body).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let id = r.body["id"].as_str().unwrap().to_string();
    assert_eq!((&r.body["recipients"], &r.body["acknowledged"]), (&json!(3), &json!(0)));

    // It arrives as a system notification, live and in the inbox.
    let frame = socket.expect_within("notification.new", Duration::from_secs(5)).await;
    let n = &frame["notification"];
    assert_eq!((&n["type"], &n["related_entity_type"], &n["related_entity_id"]), (&json!("system"), &json!("announcement"), &json!(id)));
    assert_eq!(n["title"], "Fire drill");
    let inbox = s.get("/api/v1/notifications", &b.access).await;
    assert!(inbox.body["items"].as_array().unwrap().iter().any(|n| n["related_entity_id"] == id.as_str()), "{}", inbox.body);

    // Pinned until acknowledged; acknowledging twice is fine.
    let list = mine(&s, &a).await;
    assert_eq!((list.len(), &list[0]["pinned"], &list[0]["from"]), (1, &json!(true), &moderator.username.as_str().into()));
    assert_eq!(list[0]["body"], "Tomorrow at 10:00, meet in the yard.");
    assert_eq!(s.post(&format!("/api/v1/announcements/{id}/ack"), Some(&a.access), json!({})).await.status, 204);
    assert_eq!(s.post(&format!("/api/v1/announcements/{id}/ack"), Some(&a.access), json!({})).await.status, 204);
    let list = mine(&s, &a).await;
    assert_eq!(list[0]["pinned"], false);
    let export = s.get("/api/v1/me/export", &a.access).await;
    assert_eq!((&export.body["announcements"][0]["id"], &export.body["announcements"][0]["pinned"]), (&json!(id), &json!(false)));
    assert!(list[0]["acknowledged_at"].as_str().unwrap().ends_with('Z'));

    // Staff see "read by 1 of 3", those who have not read it first.
    let r = s.get(&format!("/api/v1/admin/announcements/{id}"), &moderator.access).await;
    assert_eq!((&r.body["recipients"], &r.body["acknowledged"]), (&json!(3), &json!(1)), "{}", r.body);
    let who: Vec<(&str, bool)> = r.body["recipients_list"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| (x["username"].as_str().unwrap(), x["acknowledged_at"].is_string()))
        .collect();
    assert_eq!(who.len(), 3);
    assert_eq!(who[2], (a.username.as_str(), true));
    assert!(!who[0].1 && !who[1].1);
    let sent = s.get("/api/v1/admin/announcements", &admin.access).await;
    assert_eq!((sent.body["items"][0]["id"].as_str(), &sent.body["items"][0]["acknowledged"]), (Some(id.as_str()), &json!(1)));

    // A group chat's members only; staff are not members of it.
    s.befriend(&a, &b).await;
    let g = s.post("/api/v1/chats", Some(&a.access), json!({"type": "group", "name": "Physics 7B", "member_ids": [b.id]})).await;
    let chat = g.body["id"].as_str().unwrap().to_string();
    let body = json!({"title": "Lab moved", "body": "Room 12 today.", "audience": {"chat_id": chat}});
    let r = s.post("/api/v1/admin/announcements", Some(&admin.access), body).await;
    assert_eq!((r.status.as_u16(), &r.body["recipients"]), (201, &json!(2)), "{}", r.body);
    let lab = r.body["id"].as_str().unwrap().to_string();
    assert_eq!(mine(&s, &b).await.len(), 2);
    assert_eq!(mine(&s, &c).await.len(), 1, "c is not in the group");
    assert_problem(&s.post(&format!("/api/v1/announcements/{lab}/ack"), Some(&c.access), json!({})).await, 404, "not_found");

    // Everyone: all active accounts but the sender.
    let r = s
        .post(
            "/api/v1/admin/announcements",
            Some(&admin.access),
            json!({"title": "Welcome", "body": "Hello all", "audience": {"all": true}}),
        )
        .await;
    assert_eq!(r.body["recipients"], 4, "moderator and three students: {}", r.body);
    assert_eq!(mine(&s, &moderator).await.len(), 1);
    assert!(mine(&s, &admin).await.is_empty());
    let log = s.get("/api/v1/admin/audit-log?action=announcement", &admin.access).await;
    assert_eq!(log.body["items"].as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn announcements_are_for_staff_to_send_and_bad_ones_are_refused() {
    let s = Server::start().await;
    let admin = s.staff(Role::Admin).await;
    let student = s.register().await;
    let good = json!({"title": "T", "body": "B", "audience": {"all": true}});
    assert_problem(&s.post("/api/v1/admin/announcements", Some(&student.access), good.clone()).await, 403, "forbidden");
    assert_problem(&s.get("/api/v1/admin/announcements", &student.access).await, 403, "forbidden");
    for bad in [
        json!({"title": "T", "body": "B", "audience": {}}),
        json!({"title": "T", "body": "B", "audience": {"all": true, "role": "student"}}),
        json!({"title": "T", "body": "B", "audience": {"all": false}}),
        json!({"title": "T", "body": "B", "audience": {"role": "teacher"}}),
        json!({"title": "T", "body": "B", "audience": {"chat_id": "00000000-0000-7000-8000-000000000000"}}),
        json!({"title": "  ", "body": "B", "audience": {"all": true}}),
        json!({"title": "T", "body": "", "audience": {"all": true}}),
        json!({"title": "T", "body": "x".repeat(10_001), "audience": {"all": true}}),
        json!({"title": "T", "body": "B"}),
    ] {
        assert_problem(&s.post("/api/v1/admin/announcements", Some(&admin.access), bad.clone()).await, 422, "validation_failed");
    }
    assert_eq!(s.get("/api/v1/admin/announcements", &admin.access).await.body["items"], json!([]));
    assert!(mine(&s, &student).await.is_empty());
    let nobody = "/api/v1/admin/announcements/00000000-0000-7000-8000-000000000000";
    assert_problem(&s.get(nobody, &admin.access).await, 404, "not_found");
    assert_problem(&s.post("/api/v1/announcements/not-an-id/ack", Some(&student.access), json!({})).await, 404, "not_found");
    assert_problem(&s.get("/api/v1/announcements?cursor=soon", &student.access).await, 422, "validation_failed");
}
