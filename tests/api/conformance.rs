//! The contract of `shared/API.md` checked as an outside client would: every list is a page, a
//! block hides the blocker everywhere, and the OpenAPI document is valid for an independent
//! validator.

use std::collections::BTreeSet;

use reqwest::Method;
use serde_json::{Value, json};

use crate::support::{Server, assert_problem, spawn_with};

/// Follows `next_cursor` with `limit=1` and returns every item's `field`, checking the shape.
async fn walk(s: &Server, path: &str, token: &str, field: &str) -> Vec<String> {
    let sep = if path.contains('?') { '&' } else { '?' };
    let mut out = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..50 {
        let url = match &cursor {
            Some(c) => format!("{path}{sep}limit=1&cursor={}", urlencode(c)),
            None => format!("{path}{sep}limit=1"),
        };
        let r = s.get(&url, token).await;
        assert_eq!(r.status, 200, "{url}: {}", r.body);
        let items = r.body["items"].as_array().unwrap_or_else(|| panic!("{url} is not a page: {}", r.body));
        assert!(items.len() <= 1, "{url} ignored limit=1");
        out.extend(items.iter().map(|i| i[field].as_str().unwrap_or_default().to_string()));
        match r.body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => {
                assert!(r.body["next_cursor"].is_null(), "{url}: next_cursor must be null at the end");
                return out;
            }
        }
    }
    panic!("{path}: more than 50 pages");
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| if b.is_ascii_alphanumeric() || b"-._~".contains(&b) { (b as char).to_string() } else { format!("%{b:02X}") })
        .collect()
}

#[tokio::test]
async fn every_list_is_a_page_with_a_working_cursor() {
    let s = Server::start().await;
    let admin = s.staff(friend::model::Role::Admin).await;
    let a = s.register().await;
    let (b, c, d) = (s.register().await, s.register().await, s.register().await);

    // Sessions: three devices.
    s.login(&a.username, &a.password).await;
    s.login(&a.username, &a.password).await;
    let sessions = walk(&s, "/api/v1/auth/sessions", &a.access, "id").await;
    assert_eq!(sessions.len(), 3);
    assert_eq!(sessions.iter().collect::<BTreeSet<_>>().len(), 3, "no session twice");
    assert!(sessions.windows(2).all(|w| w[0] > w[1]), "newest first: {sessions:?}");

    // Chats: most recent activity first across pages; a chat that moves up is not repeated.
    let mut chats = Vec::new();
    for other in [&b, &c, &d] {
        s.befriend(&a, other).await;
        let r = s.post("/api/v1/chats", Some(&a.access), json!({"type": "private", "user_id": other.id})).await;
        assert_eq!(r.status, 201, "{}", r.body);
        chats.push(r.body["id"].as_str().unwrap().to_string());
    }
    let listed = walk(&s, "/api/v1/chats", &a.access, "id").await;
    assert_eq!(listed, chats.iter().rev().cloned().collect::<Vec<_>>());
    let first = s.get("/api/v1/chats?limit=2", &a.access).await;
    let cursor = first.body["next_cursor"].as_str().unwrap().to_string();
    // Activity in the oldest chat moves it to the top: the next page does not show it again.
    let sent = s.post(&format!("/api/v1/chats/{}/messages", chats[0]), Some(&a.access), json!({"content": "hi", "client_id": "c1"})).await;
    assert_eq!(sent.status, 201, "{}", sent.body);
    let rest = s.get(&format!("/api/v1/chats?limit=2&cursor={}", urlencode(&cursor)), &a.access).await;
    assert_eq!(rest.body["items"].as_array().unwrap().len(), 0, "{}", rest.body);
    assert_eq!(s.get("/api/v1/chats", &a.access).await.body["items"][0]["id"], chats[0].as_str());

    // Goals, oldest first.
    let mut goals = Vec::new();
    for t in ["one", "two", "three"] {
        let g = s
            .post(
                "/api/v1/goals",
                Some(&a.access),
                json!({"title": t, "period": "weekly", "metric": "study_minutes", "target_value": 60, "start_date": "2026-11-30"}),
            )
            .await;
        assert_eq!(g.status, 201, "{}", g.body);
        goals.push(g.body["id"].as_str().unwrap().to_string());
    }
    assert_eq!(walk(&s, "/api/v1/goals", &a.access, "id").await, goals);
    assert_eq!(walk(&s, "/api/v1/goals?status=active", &a.access, "id").await, goals);
    assert!(walk(&s, "/api/v1/goals?status=completed", &a.access, "id").await.is_empty());

    // Activities: one page holds the whole range.
    let days = s.get("/api/v1/activities?from=2026-01-01&to=2026-01-31", &a.access).await;
    assert_eq!((days.body["items"].as_array().map(Vec::len), &days.body["next_cursor"]), (Some(0), &Value::Null));

    // Invites, newest first.
    for code in ["ROOM-A1", "ROOM-B2", "ROOM-C3"] {
        assert_eq!(s.post("/api/v1/admin/invites", Some(&admin.access), json!({"code": code})).await.status, 201);
    }
    assert_eq!(walk(&s, "/api/v1/admin/invites", &admin.access, "code").await, ["ROOM-C3", "ROOM-B2", "ROOM-A1"]);

    // Bad paging is a problem document, and another user's lists stay theirs.
    assert_problem(&s.get("/api/v1/chats?limit=0", &a.access).await, 422, "validation_failed");
    assert_problem(&s.get("/api/v1/auth/sessions?limit=101", &a.access).await, 422, "validation_failed");
    assert_problem(&s.get(&format!("/api/v1/goals?cursor={}", "x".repeat(400)), &a.access).await, 422, "validation_failed");
    assert_eq!(walk(&s, "/api/v1/goals", &b.access, "id").await.len(), 0);
    assert_eq!(walk(&s, "/api/v1/chats", &b.access, "id").await, [chats[0].clone()]);
    assert_problem(&s.get("/api/v1/admin/invites", &a.access).await, 403, "forbidden");
}

#[tokio::test]
async fn after_a_block_the_blocker_does_not_exist_for_a_private_chat() {
    let s = Server::start().await;
    let (a, b) = (s.register().await, s.register().await);
    s.befriend(&a, &b).await;
    let chat = s.post("/api/v1/chats", Some(&a.access), json!({"type": "private", "user_id": b.id})).await;
    assert_eq!(chat.status, 201);
    assert_eq!(s.post("/api/v1/blocks", Some(&b.access), json!({"user_id": a.id})).await.status, 201);
    let again = s.post("/api/v1/chats", Some(&a.access), json!({"type": "private", "user_id": b.id})).await;
    assert_problem(&again, 404, "not_found");
    assert!(!again.body.to_string().contains(&b.username), "nothing of the blocker leaks: {}", again.body);
    // The same answer as for an id that never existed.
    let nobody = s.post("/api/v1/chats", Some(&a.access), json!({"type": "private", "user_id": friend::ids::new_id()})).await;
    assert_eq!((nobody.status, nobody.code()), (again.status, again.code()));
    // Unblocked, the old chat comes back (get-or-create).
    assert_eq!(s.delete(&format!("/api/v1/blocks/{}", a.id), &b.access, None).await.status, 204);
    let back = s.post("/api/v1/chats", Some(&a.access), json!({"type": "private", "user_id": b.id})).await;
    assert_eq!((back.status.as_u16(), &back.body["id"]), (200, &chat.body["id"]));
}

/// The document as served, checked by Python's `openapi-spec-validator` (tests/run.sh installs it).
#[tokio::test]
async fn openapi_document_is_valid_openapi_3_1() {
    let s = Server::start().await;
    let doc = s.call(Method::GET, "/openapi.json", None, None).await;
    assert_eq!(doc.status, 200);
    assert!(doc.body["openapi"].as_str().unwrap().starts_with("3.1"));
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), &doc.bytes).unwrap();
    let out = std::process::Command::new("python3")
        .args(["-m", "openapi_spec_validator", "--schema", "3.1.0"])
        .arg(file.path())
        .output()
        .expect("python3 with openapi-spec-validator (tests/run.sh installs tests/requirements.txt)");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success() && text.contains("OK"), "openapi-spec-validator:\n{text}");

    // The WebSocket is described: its query, its auth and its close codes.
    let ws = &doc.body["paths"]["/api/v1/ws"]["get"];
    assert!(ws.is_object(), "GET /api/v1/ws missing");
    let described = ws.to_string().to_lowercase();
    for needle in ["ticket", "101", "4001", "1013", "1008", "1009", "bearer"] {
        assert!(described.contains(needle), "the WebSocket description lacks {needle}: {described}");
    }
    // Every operation has at least one response.
    for (path, item) in doc.body["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            assert!(op["responses"].as_object().is_some_and(|r| !r.is_empty()), "{method} {path} has no responses");
        }
    }
}

#[test]
fn an_unknown_friend_variable_is_a_warning_and_a_known_one_still_applies() {
    let dir = tempfile::tempdir().unwrap();
    let p = spawn_with(dir.path(), &[("FRIEND_BIN", "/usr/local/bin/friend"), ("FRIEND_SCHOOL_NAME", "Hill School")]);
    let log = p.startup.join("\n");
    assert!(log.contains("FRIEND_BIN") && log.contains("FRIEND_BIND"), "{log}");
    assert!(log.contains("Hill School"), "the start line names the school: {log}");
    assert!(!log.contains("jwt_secret"), "the whole configuration is for debug only: {log}");
    p.terminate();
}

/// Requests a schema can call valid but the server refuses by a rule no schema states (checked
/// against stored data, or several fields together). Each is documented on its operation.
const RULES_NO_SCHEMA_STATES: &[(&str, &str)] = &[
    // A cursor is valid only as a previous page gave it.
    ("*", "cursor"),
    // Several fields together: a search needs a text, a tag or an author; a private chat a user.
    ("GET /api/v1/notes/search", "q"),
    ("GET /api/v1/users", "q"),
    ("POST /api/v1/chats", "user_id"),
    // Uploads must be the caller's own.
    ("POST /api/v1/notes", "attachment_ids[0]"),
    ("PATCH /api/v1/notes/{id}", "attachment_ids[0]"),
    // Not yourself; the endpoint must be an https URL of a known push service.
    ("POST /api/v1/blocks", "user_id"),
    ("POST /api/v1/push/subscriptions", "endpoint"),
    // One of the most common passwords, or the username.
    ("POST /api/v1/auth/register", "password"),
    // `ids` or `all: true`; a whole day in a batch needs its date; what a new goal or note needs.
    ("POST /api/v1/notifications/read", "ids"),
    ("POST /api/v1/activities/batch", "logs[0].date"),
    ("POST /api/v1/goals", "*"),
    ("POST /api/v1/notes", "title"),
    // An empty upload; an avatar that is not an image.
    ("POST /api/v1/media", "file"),
    ("PUT /api/v1/me/avatar", "file"),
];

/// A schema-based fuzzer (schemathesis, installed by tests/run.sh) builds requests from the
/// document at its boundaries: none that the document calls valid may be refused, but for the
/// rules above.
#[tokio::test]
async fn a_schema_fuzzer_finds_no_valid_request_refused() {
    let s = Server::start().await;
    let u = s.register().await;
    let scratch = tempfile::tempdir().unwrap();
    let out = tokio::process::Command::new("st")
        .current_dir(scratch.path())
        .args(["run", &s.url("/openapi.json"), "--checks", "positive_data_acceptance", "--phases", "examples,coverage"])
        .args(["--exclude-path-regex", "logout|password|/auth/refresh|/auth/sessions/|/setup|^/api/v1/me$|^/api/v1/ws$"])
        .args(["--seed", "1", "-w", "1", "--no-color", "-H", &format!("Authorization: Bearer {}", u.access)])
        .output()
        .await
        .expect("schemathesis (`st`; tests/run.sh installs tests/requirements.txt)");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(text.contains("API Operations"), "schemathesis did not run:\n{text}{}", String::from_utf8_lossy(&out.stderr));
    let mut refused = Vec::new();
    let mut operation = String::new();
    for line in text.lines() {
        let t = line.trim();
        if t.starts_with("___") {
            operation = t.trim_matches('_').trim().to_string();
        } else if let Some(body) = t.strip_prefix('`').and_then(|b| b.strip_suffix('`')) {
            let problem: Value = serde_json::from_str(body).unwrap_or(Value::Null);
            let fields: Vec<String> =
                problem["errors"].as_array().into_iter().flatten().filter_map(|e| e["field"].as_str().map(String::from)).collect();
            let allowed = |f: &str| {
                RULES_NO_SCHEMA_STATES.iter().any(|(op, field)| (*op == "*" || *op == operation) && (*field == "*" || *field == f))
            };
            if fields.is_empty() || !fields.iter().all(|f| allowed(f)) {
                refused.push(format!("{operation}: {body}"));
            }
        }
    }
    assert!(refused.is_empty(), "valid by the document, refused by the server:\n{}\n\n{text}", refused.join("\n"));
}
