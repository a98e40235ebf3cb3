//! The staff dashboard's numbers: accounts by role, who was active, messages and notes per day
//! (kept across a restart), and the activity chart.

use serde_json::json;

use crate::support::{Server, assert_problem};
use friend::model::Role;

#[tokio::test]
async fn stats_count_accounts_activity_and_writes_per_day_and_survive_a_restart() {
    let s = Server::start().await;
    let admin = s.staff(Role::Admin).await;
    let moderator = s.staff(Role::Moderator).await;
    let (a, b, c) = (s.register().await, s.register().await, s.register().await);
    s.patch(&format!("/api/v1/admin/users/{}", c.id), &admin.access, json!({"disabled": true})).await;
    s.befriend(&a, &b).await;
    let chat = s.post("/api/v1/chats", Some(&a.access), json!({"type": "private", "user_id": b.id})).await;
    let chat = chat.body["id"].as_str().unwrap().to_string();
    for i in 0..3 {
        let r = s
            .post(
                &format!("/api/v1/chats/{chat}/messages"),
                Some(&a.access),
                json!({"content": format!("hi {i}"), "client_id": format!("c{i}")}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
    }
    // A retried message (same client_id) is not counted twice.
    s.post(&format!("/api/v1/chats/{chat}/messages"), Some(&a.access), json!({"content": "hi 0", "client_id": "c0"})).await;
    for title in ["Cells", "Atoms"] {
        let r = s.post("/api/v1/notes", Some(&b.access), json!({"title": title, "content": "notes", "visibility": "private"})).await;
        assert_eq!(r.status, 201, "{}", r.body);
    }

    let stats = s.get("/api/v1/admin/stats", &moderator.access).await;
    assert_eq!(stats.status, 200, "{}", stats.body);
    let st = &stats.body;
    assert_eq!(st["accounts"], json!({"students": 3, "moderators": 1, "admins": 1, "disabled": 1}));
    assert_eq!((&st["active_today"], &st["active_this_week"]), (&json!(5), &json!(5)), "everyone signed in today: {st}");
    let days = st["activity"].as_array().unwrap();
    assert_eq!(days.len(), 28);
    let today = days.last().unwrap();
    assert_eq!((&today["messages"], &today["notes"], &today["active_users"]), (&json!(3), &json!(2), &json!(5)), "{today}");
    assert!(days[..27].iter().all(|d| d["messages"] == 0), "nothing on earlier days");
    assert!(st["uptime_secs"].is_u64());

    // The counts are stored: a restart keeps them.
    let dir = s.stop().await;
    let s = Server::start_in(dir, |_| {}).await;
    let admin = s.login(&admin.username, &admin.password).await;
    let st = s.get("/api/v1/admin/stats", &admin.access).await.body;
    let today = st["activity"].as_array().unwrap().last().unwrap().clone();
    assert_eq!((&today["messages"], &today["notes"]), (&json!(3), &json!(2)), "{today}");
    assert_eq!(today["active_users"], 5);

    // The chart: SVG, both themes, bad options refused, staff only.
    let r =
        s.http.get(s.url("/api/v1/admin/stats/activity.svg?theme=dark&width=390&days=14")).bearer_auth(&admin.access).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"].to_str().unwrap().starts_with("image/svg+xml"));
    let svg = r.text().await.unwrap();
    assert!(svg.contains("<title>School activity") && svg.contains("3 messages, 2 notes"), "{}", &svg[..300.min(svg.len())]);
    roxmltree::Document::parse(&svg).expect("well-formed SVG");
    assert_problem(&s.get("/api/v1/admin/stats/activity.svg?days=400", &admin.access).await, 422, "validation_failed");
    assert_problem(&s.get("/api/v1/admin/stats/activity.svg?days=many", &admin.access).await, 422, "validation_failed");
    assert_problem(&s.get("/api/v1/admin/stats/activity.svg?theme=pink", &admin.access).await, 422, "validation_failed");
    let student = s.login(&a.username, &a.password).await;
    assert_problem(&s.get("/api/v1/admin/stats/activity.svg", &student.access).await, 403, "forbidden");
    assert_problem(&s.get("/api/v1/admin/stats", &student.access).await, 403, "forbidden");
}
