//! Reports and the moderation queue: anyone reports what they can see; staff see the reported
//! thing in context, every opening audited; deleting content removes it everywhere; the reporter
//! learns the outcome, not who decided.

use std::time::Duration;

use serde_json::{Value, json};

use crate::support::{Server, User, assert_problem};
use crate::ws_support::Ws;
use friend::model::Role;

async fn private_chat(s: &Server, a: &User, b: &User) -> String {
    s.befriend(a, b).await;
    let r = s.post("/api/v1/chats", Some(&a.access), json!({"type": "private", "user_id": b.id})).await;
    r.body["id"].as_str().unwrap().to_string()
}

async fn say(s: &Server, who: &User, chat: &str, text: &str) -> String {
    let client_id = crate::support::unique("m");
    let r = s.post(&format!("/api/v1/chats/{chat}/messages"), Some(&who.access), json!({"content": text, "client_id": client_id})).await;
    assert_eq!(r.status, 201, "{}", r.body);
    r.body["id"].as_str().unwrap().to_string()
}

fn report(kind: &str, id: &str) -> Value {
    json!({"entity_type": kind, "entity_id": id, "reason": "bullying", "details": "they keep doing this"})
}

#[tokio::test]
async fn a_reported_message_is_seen_in_context_deleted_everywhere_and_the_reporter_told() {
    let s = Server::start().await;
    let admin = s.staff(Role::Admin).await;
    let moderator = s.staff(Role::Moderator).await;
    let (ana, bo, cy) = (s.register().await, s.register().await, s.register().await);
    let chat = private_chat(&s, &ana, &bo).await;
    for i in 1..=4 {
        say(&s, &ana, &chat, &format!("before {i}")).await;
    }
    let bad = say(&s, &bo, &chat, "something cruel").await;
    say(&s, &ana, &chat, "after 1").await;

    // Only someone who can see the message can report it.
    assert_problem(&s.post("/api/v1/reports", Some(&cy.access), report("message", &bad)).await, 404, "not_found");
    assert_problem(&s.post("/api/v1/reports", Some(&bo.access), report("message", &bad)).await, 422, "validation_failed");
    let r = s.post("/api/v1/reports", Some(&ana.access), report("message", &bad)).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let id = r.body["id"].as_str().unwrap().to_string();
    assert_eq!((&r.body["status"], &r.body["outcome"]), (&json!("open"), &Value::Null));
    assert_problem(&s.post("/api/v1/reports", Some(&ana.access), report("message", &bad)).await, 409, "conflict");
    assert_eq!(s.get("/api/v1/reports", &ana.access).await.body["items"][0]["id"], id.as_str());
    assert_eq!(s.get("/api/v1/reports", &bo.access).await.body["items"], json!([]), "nobody sees others' reports");
    assert_eq!(s.get("/api/v1/me/export", &ana.access).await.body["reports"][0]["id"], id.as_str(), "in the reporter's export");
    assert_eq!(s.get("/api/v1/me/export", &bo.access).await.body["reports"], json!([]));

    // The queue shows the message with three before and one after; opening it is audited.
    assert_problem(&s.get("/api/v1/admin/reports", &ana.access).await, 403, "forbidden");
    let q = s.get("/api/v1/admin/reports", &moderator.access).await;
    assert_eq!(q.status, 200, "{}", q.body);
    let item = &q.body["items"][0];
    assert_eq!((&item["reporter"]["username"], &item["subject"]["username"]), (&json!(ana.username), &json!(bo.username)));
    let context: Vec<(&str, bool)> = item["context"]["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["content"].as_str().unwrap(), m["reported"].as_bool().unwrap()))
        .collect();
    assert_eq!(context, [("before 2", false), ("before 3", false), ("before 4", false), ("something cruel", true), ("after 1", false)]);
    let log = s.get("/api/v1/admin/audit-log?action=reports.view", &admin.access).await;
    assert_eq!(log.body["items"][0]["new"]["report_ids"], json!([id]), "{}", log.body);
    assert_eq!(log.body["items"][0]["actor"], moderator.username.as_str());

    // Deleting the content: gone from the chat, the members told a moderator removed it.
    let mut socket = Ws::connect(&s, &ana.access).await;
    let resolve = format!("/api/v1/admin/reports/{id}/resolve");
    let r = s.post(&resolve, Some(&moderator.access), json!({"action": "delete_content", "note": "first warning"})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        (&r.body["status"], &r.body["action"], &r.body["context"]["gone"]),
        (&json!("resolved"), &json!("delete_content"), &json!(true))
    );
    let frame = socket.expect_within("message.deleted", Duration::from_secs(5)).await;
    assert_eq!((&frame["message_id"], &frame["by_moderator"]), (&json!(bad), &json!(true)), "{frame}");
    let history = s.get(&format!("/api/v1/chats/{chat}/messages"), &ana.access).await;
    assert!(!history.body.to_string().contains("something cruel"));
    assert_problem(&s.post(&resolve, Some(&moderator.access), json!({"action": "dismiss"})).await, 409, "conflict");

    // The reporter is told the outcome, without the moderator's name or note.
    let n = socket.expect_within("notification.new", Duration::from_secs(5)).await;
    assert_eq!((&n["notification"]["type"], &n["notification"]["related_entity_type"]), (&json!("system"), &json!("report")));
    let mine = s.get("/api/v1/reports", &ana.access).await;
    assert_eq!((&mine.body["items"][0]["status"], &mine.body["items"][0]["outcome"]), (&json!("resolved"), &json!("action_taken")));
    let text = format!("{n}{}", mine.body);
    assert!(!text.contains(&moderator.username) && !text.contains("first warning"), "{text}");
    assert_eq!(s.get("/api/v1/admin/reports", &moderator.access).await.body["items"], json!([]), "the open queue is empty");
    let done = s.get("/api/v1/admin/reports?status=resolved", &moderator.access).await;
    assert_eq!(
        (&done.body["items"][0]["resolved_by"]["username"], &done.body["items"][0]["note"]),
        (&json!(moderator.username), &json!("first warning"))
    );
    let log = s.get("/api/v1/admin/audit-log?action=report.resolve", &admin.access).await;
    assert_eq!(log.body["items"][0]["new"]["action"], "delete_content");
}

#[tokio::test]
async fn notes_and_users_are_reported_and_staff_decide() {
    let s = Server::start().await;
    let admin = s.staff(Role::Admin).await;
    let moderator = s.staff(Role::Moderator).await;
    let (ana, bo, cy) = (s.register().await, s.register().await, s.register().await);
    let note = s.post("/api/v1/notes", Some(&bo.access), json!({"title": "Mean list", "content": "names", "visibility": "public"})).await;
    let note = note.body["id"].as_str().unwrap().to_string();
    let private = s.post("/api/v1/notes", Some(&bo.access), json!({"title": "Mine", "content": "x"})).await;
    let private = private.body["id"].as_str().unwrap().to_string();
    assert_problem(&s.post("/api/v1/reports", Some(&ana.access), report("note", &private)).await, 404, "not_found");
    let r = s.post("/api/v1/reports", Some(&ana.access), report("note", &note)).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let note_report = r.body["id"].as_str().unwrap().to_string();
    let r = s.post("/api/v1/reports", Some(&cy.access), report("user", &bo.id)).await;
    let user_report = r.body["id"].as_str().unwrap().to_string();
    assert_problem(&s.post("/api/v1/reports", Some(&cy.access), report("user", &cy.id)).await, 422, "validation_failed");
    assert_problem(
        &s.post("/api/v1/reports", Some(&cy.access), json!({"entity_type": "chat", "entity_id": bo.id, "reason": "x"})).await,
        422,
        "validation_failed",
    );
    assert_problem(
        &s.post("/api/v1/reports", Some(&cy.access), json!({"entity_type": "user", "entity_id": bo.id, "reason": " "})).await,
        422,
        "validation_failed",
    );

    let q = s.get("/api/v1/admin/reports?limit=10", &moderator.access).await;
    let items = q.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    assert_eq!((&items[1]["context"]["note_title"], &items[1]["context"]["note_content"]), (&json!("Mean list"), &json!("names")));
    assert_eq!(items[0]["entity_type"], "user");
    assert_problem(&s.get("/api/v1/admin/reports?status=maybe", &moderator.access).await, 422, "validation_failed");

    // A user report cannot delete content; the note is deleted everywhere (search included).
    let bad =
        s.post(&format!("/api/v1/admin/reports/{user_report}/resolve"), Some(&moderator.access), json!({"action": "delete_content"})).await;
    assert_problem(&bad, 422, "validation_failed");
    let r =
        s.post(&format!("/api/v1/admin/reports/{note_report}/resolve"), Some(&moderator.access), json!({"action": "delete_content"})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_problem(&s.get(&format!("/api/v1/notes/{note}"), &ana.access).await, 404, "not_found");
    let found = s.get("/api/v1/notes/search?q=mean", &ana.access).await;
    assert_eq!(found.body["items"], json!([]), "{}", found.body);
    // Content its author deleted meanwhile: deleting it is already done, the report resolves.
    let again = s.post("/api/v1/notes", Some(&bo.access), json!({"title": "Second list", "content": "more", "visibility": "public"})).await;
    let again = again.body["id"].as_str().unwrap().to_string();
    let r = s.post("/api/v1/reports", Some(&ana.access), report("note", &again)).await;
    let again_report = r.body["id"].as_str().unwrap().to_string();
    assert_eq!(s.delete(&format!("/api/v1/notes/{again}"), &bo.access, None).await.status, 204);
    let r = s
        .post(&format!("/api/v1/admin/reports/{again_report}/resolve"), Some(&moderator.access), json!({"action": "delete_content"}))
        .await;
    assert_eq!((r.status.as_u16(), &r.body["context"]["gone"]), (200, &json!(true)), "{}", r.body);

    // Disabling the reported user signs them out; a moderator cannot disable staff.
    let r =
        s.post(&format!("/api/v1/admin/reports/{user_report}/resolve"), Some(&moderator.access), json!({"action": "disable_user"})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_problem(&s.get("/api/v1/me", &bo.access).await, 403, "account_disabled");
    let staff_report = s.post("/api/v1/reports", Some(&cy.access), report("user", &admin.id)).await;
    let staff_report = staff_report.body["id"].as_str().unwrap().to_string();
    let r =
        s.post(&format!("/api/v1/admin/reports/{staff_report}/resolve"), Some(&moderator.access), json!({"action": "disable_user"})).await;
    assert_problem(&r, 403, "forbidden");
    let r = s.post(&format!("/api/v1/admin/reports/{staff_report}/resolve"), Some(&moderator.access), json!({"action": "dismiss"})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let mine = s.get("/api/v1/reports", &cy.access).await;
    assert_eq!(mine.body["items"][0]["outcome"], "no_action");
    assert_problem(
        &s.post("/api/v1/admin/reports/00000000-0000-7000-8000-000000000000/resolve", Some(&admin.access), json!({"action": "dismiss"}))
            .await,
        404,
        "not_found",
    );
}
