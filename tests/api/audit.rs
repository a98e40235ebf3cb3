//! The audit log: every staff action with who, what, target, old and new values and address;
//! admins read it, nobody edits it.

use reqwest::Method;
use serde_json::{Value, json};

use crate::support::{Server, User, assert_problem};
use friend::model::Role;

async fn entries(s: &Server, admin: &User, query: &str) -> Vec<Value> {
    let r = s.get(&format!("/api/v1/admin/audit-log?limit=100{query}"), &admin.access).await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.body["items"].as_array().unwrap().clone()
}

#[tokio::test]
async fn staff_actions_are_recorded_with_who_what_and_from_where() {
    let s = Server::start().await;
    let admin = s.staff(Role::Admin).await;
    let moderator = s.staff(Role::Moderator).await;
    let body = json!({"email": "pupil@school.test", "username": "pupil", "password": "pupil-password-1", "name": "Pupil"});
    let r = s.post("/api/v1/admin/users", Some(&moderator.access), body).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let pupil = r.body["id"].as_str().unwrap().to_string();
    let user_path = format!("/api/v1/admin/users/{pupil}");
    assert_eq!(s.patch(&user_path, &moderator.access, json!({"disabled": true})).await.status, 200);
    // A change to what is already so is not an action.
    assert_eq!(s.patch(&user_path, &moderator.access, json!({"disabled": true})).await.status, 200);
    assert_eq!(s.patch(&user_path, &admin.access, json!({"disabled": false, "role": "moderator"})).await.status, 200);
    let r = s.post(&format!("{user_path}/reset-password"), Some(&admin.access), json!({})).await;
    let code = r.body["reset_code"].as_str().unwrap().to_string();
    let r = s.post("/api/v1/admin/invites", Some(&moderator.access), json!({"code": "CLASS-7B", "max_uses": 30})).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(s.delete("/api/v1/admin/invites/CLASS-7B", &moderator.access, None).await.status, 204);
    assert_problem(&s.delete("/api/v1/admin/invites/CLASS-7B", &moderator.access, None).await, 404, "not_found");

    let all = entries(&s, &admin, "").await;
    let actions: Vec<&str> = all.iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(
        actions,
        ["invite.delete", "invite.create", "user.reset_code", "user.update", "user.update", "user.create", "user.create", "user.create"],
        "newest first, one entry per change: {all:#?}"
    );
    let by_moderator = |i: usize| {
        assert_eq!(all[i]["actor_id"], moderator.id.as_str());
        assert_eq!(all[i]["actor"], moderator.username.as_str());
        assert_eq!(all[i]["ip"], "127.0.0.1");
    };
    by_moderator(0);
    by_moderator(1);
    by_moderator(4);
    by_moderator(5);
    assert_eq!((&all[0]["target_type"], &all[0]["target_id"]), (&json!("invite"), &json!("CLASS-7B")));
    assert_eq!(all[0]["old"]["max_uses"], 30);
    assert_eq!(all[1]["new"]["max_uses"], 30);
    assert_eq!((&all[2]["actor"], &all[2]["target_id"]), (&json!(admin.username.as_str()), &json!(pupil.as_str())));
    assert_eq!(
        (&all[3]["old"], &all[3]["new"]),
        (&json!({"disabled": true, "role": "student"}), &json!({"disabled": false, "role": "moderator"}))
    );
    assert_eq!((&all[4]["old"], &all[4]["new"]), (&json!({"disabled": false}), &json!({"disabled": true})));
    assert_eq!(all[5]["new"]["username"], "pupil");
    assert_eq!((&all[5]["target_name"], &all[0]["target_name"]), (&json!("pupil"), &Value::Null), "user targets are named");
    // Staff accounts made at the server's console are the operator's actions.
    assert_eq!((&all[7]["actor"], &all[7]["actor_id"], &all[7]["ip"]), (&json!("operator"), &Value::Null, &Value::Null));
    let text = serde_json::to_string(&all).unwrap();
    assert!(!text.contains(&code) && !text.contains("pupil-password-1"), "no password or code in the log");
    assert!(all.iter().all(|e| e["at"].as_str().is_some_and(|t| t.ends_with('Z'))));

    // Filters.
    assert_eq!(entries(&s, &admin, "&action=invite").await.len(), 2);
    assert_eq!(entries(&s, &admin, "&action=user.update").await.len(), 2);
    assert_eq!(entries(&s, &admin, "&action=user.upd").await.len(), 0, "a family is a whole word");
    assert_eq!(entries(&s, &admin, &format!("&actor_id={}", moderator.id)).await.len(), 4);
    assert_eq!(entries(&s, &admin, &format!("&target_id={pupil}")).await.len(), 4);
    assert_eq!(entries(&s, &admin, &format!("&target_id={pupil}&action=user.update&actor_id={}", admin.id)).await.len(), 1);

    // Pages of two walk the same entries once each.
    let mut seen = Vec::new();
    let mut cursor = String::new();
    loop {
        let r = s.get(&format!("/api/v1/admin/audit-log?limit=2{cursor}"), &admin.access).await;
        assert_eq!(r.status, 200, "{}", r.body);
        seen.extend(r.body["items"].as_array().unwrap().iter().map(|e| e["id"].clone()));
        match r.body["next_cursor"].as_str() {
            Some(c) => cursor = format!("&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(seen, all.iter().map(|e| e["id"].clone()).collect::<Vec<_>>());
}

#[tokio::test]
async fn only_admins_read_the_log_and_no_endpoint_changes_it() {
    let s = Server::start().await;
    let admin = s.staff(Role::Admin).await;
    let moderator = s.staff(Role::Moderator).await;
    let student = s.register().await;
    assert_problem(&s.get("/api/v1/admin/audit-log", &student.access).await, 403, "forbidden");
    assert_problem(&s.get("/api/v1/admin/audit-log", &moderator.access).await, 403, "forbidden");
    let before = entries(&s, &admin, "").await;
    assert_eq!(before.len(), 2);
    let id = before[0]["id"].as_str().unwrap();
    for (method, path) in [
        (Method::POST, "/api/v1/admin/audit-log".to_string()),
        (Method::DELETE, "/api/v1/admin/audit-log".to_string()),
        (Method::PUT, "/api/v1/admin/audit-log".to_string()),
        (Method::PATCH, format!("/api/v1/admin/audit-log/{id}")),
        (Method::DELETE, format!("/api/v1/admin/audit-log/{id}")),
    ] {
        let r = s.call(method.clone(), &path, Some(&admin.access), Some(json!({"action": "nothing"}))).await;
        assert!([404, 405].contains(&r.status.as_u16()), "{method} {path}: {} {}", r.status, r.body);
    }
    assert_eq!(entries(&s, &admin, "").await, before);
    assert_problem(&s.get("/api/v1/admin/audit-log?actor_id=someone", &admin.access).await, 422, "validation_failed");
    assert_problem(&s.get("/api/v1/admin/audit-log?cursor=yesterday", &admin.access).await, 422, "validation_failed");
    assert_problem(&s.get("/api/v1/admin/audit-log?limit=0", &admin.access).await, 422, "validation_failed");
}
