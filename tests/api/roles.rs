//! The role matrix: every `/admin` endpoint for a student, a moderator and an admin. Students get
//! 403 everywhere; moderators get 403 on the admin-only endpoints (settings changes, audit log,
//! backups, two-factor resets, staff accounts) and reach the rest; admins reach everything.

use reqwest::Method;
use serde_json::{Value, json};

use crate::support::{Server, assert_problem};
use friend::model::Role;

/// (method, path, body, admins only).
#[allow(clippy::too_many_arguments)]
fn endpoints(
    student: &str,
    session: &str,
    other_student: &str,
    staff_member: &str,
    invite: &str,
    report: &str,
    announcement: &str,
    backup: &str,
) -> Vec<(Method, String, Option<Value>, bool)> {
    let p = |s: &str| s.to_string();
    vec![
        (Method::GET, p("/api/v1/admin/stats"), None, false),
        (Method::GET, p("/api/v1/admin/stats/activity.svg"), None, false),
        (Method::GET, p("/api/v1/admin/users"), None, false),
        (
            Method::POST,
            p("/api/v1/admin/users"),
            Some(json!({"email": "n1@school.test", "username": "new_one", "password": "a-good-password", "name": "N"})),
            false,
        ),
        (
            Method::POST,
            p("/api/v1/admin/users"),
            Some(
                json!({"email": "m1@school.test", "username": "new_mod", "password": "a-good-password", "name": "M", "role": "moderator"}),
            ),
            true,
        ),
        (Method::POST, p("/api/v1/admin/users/import"), Some(json!({"csv": "name,username\nAnn,ann_roles", "dry_run": true})), false),
        (Method::PATCH, format!("/api/v1/admin/users/{student}"), Some(json!({"disabled": false})), false),
        (Method::PATCH, format!("/api/v1/admin/users/{other_student}"), Some(json!({"role": "moderator"})), true),
        (Method::PATCH, format!("/api/v1/admin/users/{staff_member}"), Some(json!({"disabled": false})), true),
        (Method::POST, format!("/api/v1/admin/users/{student}/reset-password"), Some(json!({})), false),
        (Method::POST, format!("/api/v1/admin/users/{staff_member}/reset-password"), Some(json!({})), true),
        (Method::GET, format!("/api/v1/admin/users/{student}/sessions"), None, false),
        (Method::DELETE, format!("/api/v1/admin/users/{student}/sessions/{session}"), None, false),
        (Method::DELETE, format!("/api/v1/admin/users/{other_student}/sessions"), None, false),
        (Method::DELETE, format!("/api/v1/admin/users/{staff_member}/two-factor"), None, true),
        (Method::GET, p("/api/v1/admin/invites"), None, false),
        (Method::POST, p("/api/v1/admin/invites"), Some(json!({})), false),
        (Method::GET, format!("/api/v1/admin/invites/{invite}/qr.svg"), None, false),
        (Method::GET, p("/api/v1/admin/audit-log"), None, true),
        (Method::GET, p("/api/v1/admin/settings"), None, false),
        (Method::PATCH, p("/api/v1/admin/settings"), Some(json!({"school_name": "Hill"})), true),
        (Method::GET, p("/api/v1/admin/announcements"), None, false),
        (Method::POST, p("/api/v1/admin/announcements"), Some(json!({"title": "T", "body": "B", "audience": {"all": true}})), false),
        (Method::GET, format!("/api/v1/admin/announcements/{announcement}"), None, false),
        (Method::GET, p("/api/v1/admin/reports"), None, false),
        (Method::POST, format!("/api/v1/admin/reports/{report}/resolve"), Some(json!({"action": "dismiss"})), false),
        (Method::GET, p("/api/v1/admin/backups"), None, true),
        (Method::POST, p("/api/v1/admin/backups"), Some(json!({})), true),
        (Method::GET, format!("/api/v1/admin/backups/{backup}"), None, true),
        (Method::POST, format!("/api/v1/admin/backups/{backup}/verify"), Some(json!({})), true),
        (Method::DELETE, format!("/api/v1/admin/invites/{invite}"), None, false),
    ]
}

#[tokio::test]
async fn every_admin_endpoint_answers_each_role_as_documented() {
    let s = Server::start().await;
    let admin = s.staff(Role::Admin).await;
    let moderator = s.staff(Role::Moderator).await;
    let (student, other, reporter) = (s.register().await, s.register().await, s.register().await);
    let invite =
        s.post("/api/v1/admin/invites", Some(&admin.access), json!({"code": "ROLES-1"})).await.body["code"].as_str().unwrap().to_string();
    let r =
        s.post("/api/v1/reports", Some(&reporter.access), json!({"entity_type": "user", "entity_id": student.id, "reason": "spam"})).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let report = r.body["id"].as_str().unwrap().to_string();
    let a = s.post("/api/v1/admin/announcements", Some(&admin.access), json!({"title": "T", "body": "B", "audience": {"all": true}})).await;
    let announcement = a.body["id"].as_str().unwrap().to_string();
    let backup = s.post("/api/v1/admin/backups", Some(&admin.access), json!({})).await.body["id"].as_str().unwrap().to_string();

    // A second sign-in of the student, for staff to end (the first one keeps asking below).
    let spare = s.login(&student.username, &student.password).await;
    let sessions = s.get("/api/v1/auth/sessions", &spare.access).await;
    let session =
        sessions.body["items"].as_array().unwrap().iter().find(|x| x["current"] == true).unwrap()["id"].as_str().unwrap().to_string();
    let list = endpoints(&student.id, &session, &other.id, &moderator.id, &invite, &report, &announcement, &backup);
    let mut checked = 0;
    for (method, path, body, admin_only) in &list {
        let r = s.call(method.clone(), path, None, body.clone()).await;
        assert_eq!(r.status, 401, "{method} {path} without a token");
        assert_problem(&s.call(method.clone(), path, Some(&student.access), body.clone()).await, 403, "forbidden");
        let r = s.call(method.clone(), path, Some(&moderator.access), body.clone()).await;
        if *admin_only {
            assert_problem(&r, 403, "forbidden");
        } else {
            assert!(r.status.is_success(), "a moderator may {method} {path}: {} {}", r.status, r.body);
        }
        checked += 1;
    }
    // Admins reach every one of them (those above that a moderator already used up answer 404).
    for (method, path, body, _) in &list {
        let r = s.call(method.clone(), path, Some(&admin.access), body.clone()).await;
        assert!(r.status.is_success() || r.status == 404 || r.status == 409, "an admin may {method} {path}: {} {}", r.status, r.body);
    }
    assert_eq!(checked, list.len());
}
