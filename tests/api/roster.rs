//! Roster import: a CSV class list becomes student accounts with one-time setup codes, all or
//! nothing, with bad rows named by line.

use serde_json::json;

use crate::support::{Server, assert_problem};
use friend::model::Role;

#[tokio::test]
async fn a_roster_creates_students_whose_setup_codes_work_once() {
    let s = Server::start().await;
    let teacher = s.staff(Role::Moderator).await;
    let csv = "Name,Username,Email,Class\r\nAna Lee,ana.lee,ana@school.test,7B\r\n\"Ben, Jr.\",ben7,,7B\r\nCara,cara7,,\r\n";
    let dry = s.post("/api/v1/admin/users/import", Some(&teacher.access), json!({"csv": csv, "dry_run": true})).await;
    assert_eq!(dry.status, 200, "{}", dry.body);
    assert_eq!(
        (&dry.body["dry_run"], &dry.body["accounts"][1]["name"], &dry.body["accounts"][1]["setup_code"]),
        (&json!(true), &json!("Ben, Jr."), &json!(null))
    );
    assert_problem(
        &s.post("/api/v1/auth/login", None, json!({"login": "ana.lee", "password": "whatever-123"})).await,
        401,
        "invalid_credentials",
    );

    let r = s.post("/api/v1/admin/users/import", Some(&teacher.access), json!({"csv": csv})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let accounts = r.body["accounts"].as_array().unwrap();
    assert_eq!(accounts.len(), 3);
    assert_eq!((&accounts[0]["line"], &accounts[0]["class"], &accounts[0]["email"]), (&json!(2), &json!("7B"), &json!("ana@school.test")));
    assert_eq!((&accounts[2]["class"], &accounts[2]["email"]), (&json!(null), &json!(null)));
    assert!(r.body["expires_at"].is_string() && r.body["server_url"].as_str().unwrap().starts_with("http"));
    let code = accounts[1]["setup_code"].as_str().unwrap().to_string();

    // Until the code is used nobody can sign in, whatever the password.
    assert_problem(
        &s.post("/api/v1/auth/login", None, json!({"login": "ben7", "password": "!roster-setup-code"})).await,
        401,
        "invalid_credentials",
    );
    let set = json!({"login": "ben7", "code": code.to_lowercase(), "new_password": "ben-chose-this"});
    assert_eq!(s.post("/api/v1/auth/reset", None, set.clone()).await.status, 204);
    assert_problem(&s.post("/api/v1/auth/reset", None, set).await, 401, "invalid_token");
    let ben = s.login("ben7", "ben-chose-this").await;
    let me = s.get("/api/v1/me", &ben.access).await;
    assert_eq!(
        (&me.body["role"], &me.body["name"], &me.body["class"]),
        (&json!("student"), &json!("Ben, Jr."), &json!(null)),
        "the class is for staff"
    );

    // Staff see the class; the import is in the audit log.
    let admin = s.staff(Role::Admin).await;
    let found = s.get("/api/v1/admin/users?q=ana.lee", &admin.access).await;
    assert_eq!(found.body["items"][0]["class"], "7B", "{}", found.body);
    let log = s.get("/api/v1/admin/audit-log?action=user.import", &admin.access).await;
    assert_eq!(log.body["items"][0]["new"]["accounts"], 3, "{}", log.body);

    // Two e-mail-less accounts do not collide; an existing username is refused by line.
    let again = "name,username\nDan,dan7\nCara Again,cara7\n";
    let r = s.post("/api/v1/admin/users/import", Some(&teacher.access), json!({"csv": again})).await;
    assert_problem(&r, 422, "validation_failed");
    assert_eq!(r.body["errors"], json!([{"field": "line 3: username", "message": "is taken by an existing account"}]));
    assert_problem(
        &s.post("/api/v1/auth/login", None, json!({"login": "dan7", "password": "x-password-1"})).await,
        401,
        "invalid_credentials",
    );
    let found = s.get("/api/v1/admin/users?q=dan7", &admin.access).await;
    assert_eq!(found.body["items"], json!([]), "nothing half-created");
}

#[tokio::test]
async fn bad_rows_create_nothing_and_students_cannot_import() {
    let s = Server::start().await;
    let admin = s.staff(Role::Admin).await;
    let student = s.register().await;
    let csv = "name,username,email\nAna,ana9,ana9@school.test\n,nameless\nBo,b\nCy,ana9\nDee,dee9,not-mail\n";
    assert_problem(&s.post("/api/v1/admin/users/import", Some(&student.access), json!({"csv": csv})).await, 403, "forbidden");
    let r = s.post("/api/v1/admin/users/import", Some(&admin.access), json!({"csv": csv})).await;
    assert_problem(&r, 422, "validation_failed");
    let fields: Vec<&str> = r.body["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["line 3: name", "line 4: username", "line 5: username", "line 6: email"]);
    assert_eq!(s.get("/api/v1/admin/users?q=ana9", &admin.access).await.body["items"], json!([]), "the good row was not created either");
    assert_problem(
        &s.post("/api/v1/admin/users/import", Some(&admin.access), json!({"csv": "name,username\n"})).await,
        422,
        "validation_failed",
    );
    assert_problem(&s.post("/api/v1/admin/users/import", Some(&admin.access), json!({"rows": []})).await, 422, "validation_failed");
}
