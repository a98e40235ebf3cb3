//! Local AI insights (issue 13): the built-in ONNX model on real logs written through the API,
//! evidence, not-enough-data, goals at risk, opt-out, privacy, a missing model, the weekly job.

use std::time::Duration;

use chrono::{Datelike, Timelike};
use reqwest::Method;
use serde_json::{Value, json};

use crate::support::{Server, User, assert_problem};

/// One day of a simulated student: days back from today, minutes, sleep, mood, session start hour.
struct D {
    back: i64,
    minutes: u32,
    sleep: f64,
    mood: u8,
    hour: u32,
}

fn date(s: &Server, back: i64) -> chrono::NaiveDate {
    s.clock.now().date_naive() - chrono::Duration::days(back)
}

/// Writes the days through `POST /activities/batch` (study split in sessions of at most 90 min).
async fn log(s: &Server, u: &User, days: &[D]) {
    for chunk in days.chunks(30) {
        let logs: Vec<Value> = chunk
            .iter()
            .map(|d| {
                let day = date(s, d.back);
                let mut sessions = Vec::new();
                let (mut left, mut hour) = (d.minutes, d.hour);
                while left > 0 {
                    let m = left.min(90);
                    let at = day.and_hms_opt(hour % 24, 0, 0).unwrap().and_utc();
                    sessions.push(json!({ "subject": "Maths", "minutes": m, "started_at": at.to_rfc3339() }));
                    left -= m;
                    hour += 2;
                }
                json!({ "date": day.to_string(), "study_sessions": sessions, "sleep_hours": d.sleep, "mood": { "score": d.mood } })
            })
            .collect();
        let r = s.post("/api/v1/activities/batch", Some(&u.access), json!({ "logs": logs })).await;
        assert_eq!(r.status, 200, "{}", r.body);
    }
}

/// Twelve calm weeks: about 80 minutes a day, 8 hours of sleep, a good mood.
fn healthy(back: std::ops::RangeInclusive<i64>) -> Vec<D> {
    back.map(|k| D { back: k, minutes: 60 + (k % 4) as u32 * 15, sleep: 8.0 + (k % 3) as f64 * 0.25, mood: 4, hour: 16 }).collect()
}

/// Eight calm weeks, then four of very long days, short nights, late sessions and a falling mood.
fn burning_out() -> Vec<D> {
    let mut days = healthy(29..=84);
    days.extend((1..=28).map(|k| D {
        back: k,
        minutes: 420 + (k % 3) as u32 * 30,
        sleep: 5.0 + (k % 2) as f64 * 0.5,
        mood: if k <= 9 {
            1
        } else if k <= 18 {
            2
        } else {
            3
        },
        hour: 20,
    }));
    days
}

fn kinds(v: &Value) -> Vec<String> {
    v["items"].as_array().unwrap().iter().map(|i| i["kind"].as_str().unwrap().to_string()).collect()
}

fn item<'a>(v: &'a Value, kind: &str) -> &'a Value {
    v["items"].as_array().unwrap().iter().find(|i| i["kind"] == kind).unwrap_or_else(|| panic!("no {kind} in {v}"))
}

#[tokio::test]
async fn the_burnout_pattern_is_recognised_with_its_reasons_and_a_healthy_student_is_left_alone() {
    let s = Server::start().await;
    let tired = s.register().await;
    let calm = s.register().await;
    log(&s, &tired, &burning_out()).await;
    log(&s, &calm, &healthy(1..=84)).await;

    let r = s.get("/api/v1/insights", &tired.access).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["status"], "ready");
    assert_eq!(r.body["model"]["name"], "friend-insights");
    assert!(r.body["model"]["trained_on"].as_str().unwrap().contains("synthetic"), "{}", r.body["model"]);
    let b = item(&r.body, "burnout_risk");
    assert!(b["score"].as_f64().unwrap() >= 0.7, "{b}");
    let drivers: Vec<&str> = b["evidence"]["drivers"].as_array().unwrap().iter().map(|d| d["feature"].as_str().unwrap()).collect();
    assert!(drivers.iter().any(|d| ["long_days", "study_mean", "last7_minutes"].contains(d)), "long hours: {drivers:?}");
    assert!(drivers.contains(&"sleep_debt"), "short sleep: {drivers:?}");
    assert!(drivers.iter().any(|d| ["mood_slope", "mood_mean"].contains(d)), "falling mood: {drivers:?}");
    let debt = b["evidence"]["drivers"].as_array().unwrap().iter().find(|d| d["feature"] == "sleep_debt").unwrap();
    assert!(debt["value"].as_f64().unwrap() > debt["usual"].as_f64().unwrap(), "the student's own usual value: {debt}");
    let body = b["body"].as_str().unwrap();
    assert!(body.contains("someone you trust"), "{body}");
    assert!(!kinds(&r.body).contains(&"consistency".to_string()), "no praise for long streaks while burning out");
    let forecast = item(&r.body, "forecast");
    assert!(forecast["evidence"]["predicted_minutes"].as_f64().unwrap() > 0.0);

    let calm_view = s.get("/api/v1/insights", &calm.access).await;
    assert_eq!(calm_view.status, 200);
    assert!(!kinds(&calm_view.body).contains(&"burnout_risk".to_string()), "{}", calm_view.body);
    assert!(kinds(&calm_view.body).contains(&"consistency".to_string()), "{}", calm_view.body);

    // The strong new insight becomes an `insight` notification for its student only.
    let mut found = Value::Null;
    for _ in 0..100 {
        let n = s.get("/api/v1/notifications", &tired.access).await;
        if let Some(i) = n.body["items"].as_array().unwrap().iter().find(|i| i["type"] == "insight") {
            found = i.clone();
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(found["related_entity_id"], b["id"], "{found}");
    assert_eq!(found["title"], b["title"]);
    let calm_inbox = s.get("/api/v1/notifications", &calm.access).await;
    assert!(calm_inbox.body["items"].as_array().unwrap().iter().all(|i| i["type"] != "insight"));

    // A refresh recomputes; the same strong insight is not announced twice.
    let again = s.post("/api/v1/insights/refresh", Some(&tired.access), json!({})).await;
    assert_eq!(again.status, 200, "{}", again.body);
    assert_ne!(item(&again.body, "burnout_risk")["id"], b["id"]);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let n = s.get("/api/v1/notifications", &tired.access).await;
    assert_eq!(n.body["items"].as_array().unwrap().iter().filter(|i| i["type"] == "insight").count(), 1);
}

#[tokio::test]
async fn too_little_data_says_so_and_a_goal_far_behind_pace_is_at_risk() {
    let s = Server::start().await;
    let new = s.register().await;
    let r = s.get("/api/v1/insights", &new.access).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["status"], "not_enough_data");
    assert_eq!(kinds(&r.body), ["not_enough_data"]);
    assert_eq!(r.body["items"][0]["evidence"]["logged_days"], 0);
    assert_eq!(r.body["items"][0]["evidence"]["needed_days"], 10);
    log(&s, &new, &healthy(1..=5)).await;
    let r = s.post("/api/v1/insights/refresh", Some(&new.access), json!({})).await;
    assert_eq!(r.body["items"][0]["evidence"]["logged_days"], 5, "{}", r.body);

    let u = s.register().await;
    log(&s, &u, &healthy(1..=84)).await;
    let (start, end) = (date(&s, 15), date(&s, -5));
    let g = s
        .post(
            "/api/v1/goals",
            Some(&u.access),
            json!({"title": "Read 60 hours", "period": "custom", "metric": "study_minutes", "target_value": 3600,
                   "start_date": start.to_string(), "end_date": end.to_string()}),
        )
        .await;
    assert_eq!(g.status, 201, "{}", g.body);
    let easy = s
        .post(
            "/api/v1/goals",
            Some(&u.access),
            json!({"title": "A little every day", "period": "custom", "metric": "study_minutes", "target_value": 600,
                   "start_date": start.to_string(), "end_date": end.to_string()}),
        )
        .await;
    let r = s.post("/api/v1/insights/refresh", Some(&u.access), json!({})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let risks: Vec<&Value> = r.body["items"].as_array().unwrap().iter().filter(|i| i["kind"] == "goal_at_risk").collect();
    assert_eq!(risks.len(), 1, "only the far-behind goal: {}", r.body);
    let e = &risks[0]["evidence"];
    assert_eq!(e["goal_id"], g.body["id"]);
    assert_ne!(e["goal_id"], easy.body["id"]);
    assert!(e["probability_on_time"].as_f64().unwrap() < 0.5);
    assert!(e["needed_per_day"].as_f64().unwrap() > 100.0, "{e}");
    assert!(risks[0]["title"].as_str().unwrap().contains("Read 60 hours"));
}

#[tokio::test]
async fn insights_are_the_students_own_and_can_be_turned_off() {
    let s = Server::start_with(|c| c.insights.refresh_per_hour = 3).await;
    let a = s.register().await;
    let friend = s.register().await;
    s.befriend(&a, &friend).await;
    let admin = s.staff(friend::model::Role::Admin).await;
    log(&s, &a, &burning_out()).await;
    let mine = s.get("/api/v1/insights", &a.access).await;
    let ids: Vec<String> = mine.body["items"].as_array().unwrap().iter().map(|i| i["id"].as_str().unwrap().to_string()).collect();
    assert!(!ids.is_empty());
    // Nobody else reaches them: their own insights, the profile, the admin's user list.
    for (who, paths) in [
        (&friend, vec!["/api/v1/insights".to_string(), format!("/api/v1/users/{}", a.id)]),
        (&admin, vec!["/api/v1/insights".to_string(), format!("/api/v1/users/{}", a.id), format!("/api/v1/admin/users?q={}", a.username)]),
    ] {
        for p in paths {
            let r = s.get(&p, &who.access).await;
            let text = String::from_utf8_lossy(&r.bytes);
            assert!(ids.iter().all(|id| !text.contains(id.as_str())), "{p} shows another's insight");
            assert!(!text.contains("burnout"), "{p}: {text}");
        }
    }
    assert_problem(&s.call(Method::GET, "/api/v1/insights", None, None).await, 401, "unauthorized");
    // The export holds them.
    let export = s.get("/api/v1/me/export", &a.access).await;
    assert_eq!(export.body["insights"]["items"].as_array().unwrap().len(), ids.len());

    // Off: what was computed is gone, nothing is computed, refresh is refused.
    let r = s.patch("/api/v1/me", &a.access, json!({"settings": {"insights": false}})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let off = s.get("/api/v1/insights", &a.access).await;
    assert_eq!(off.status, 200);
    assert_eq!(off.body["status"], "off");
    assert_eq!(off.body["items"], json!([]));
    assert_problem(&s.post("/api/v1/insights/refresh", Some(&a.access), json!({})).await, 409, "conflict");
    assert!(s.get("/api/v1/me/export", &a.access).await.body["insights"].is_null());
    assert_problem(&s.patch("/api/v1/me", &a.access, json!({"settings": {"insights": "maybe"}})).await, 422, "validation_failed");
    // On again: computed afresh; refreshes are limited.
    s.patch("/api/v1/me", &a.access, json!({"settings": {"insights": true}})).await;
    assert_eq!(s.get("/api/v1/insights", &a.access).await.body["status"], "ready");
    for _ in 0..3 {
        assert_eq!(s.post("/api/v1/insights/refresh", Some(&a.access), json!({})).await.status, 200);
    }
    let limited = s.post("/api/v1/insights/refresh", Some(&a.access), json!({})).await;
    assert_problem(&limited, 429, "rate_limited");
    assert!(limited.headers.contains_key("retry-after"));
    assert_eq!(s.post("/api/v1/insights/refresh", Some(&friend.access), json!({})).await.status, 200, "per student");
}

#[tokio::test]
async fn a_missing_model_answers_503_and_the_server_keeps_running() {
    let s = Server::start_with(|c| c.insights.model_path = "/nonexistent/insights.onnx".into()).await;
    let u = s.register().await;
    let r = s.get("/api/v1/insights", &u.access).await;
    assert_problem(&r, 503, "insights_unavailable");
    assert!(r.body["detail"].as_str().unwrap().contains("model_path"), "says how to fix it: {}", r.body);
    assert_problem(&s.post("/api/v1/insights/refresh", Some(&u.access), json!({})).await, 503, "insights_unavailable");
    let ready = s.call(Method::GET, "/readyz", None, None).await;
    assert_eq!(ready.status, 200);
    assert_eq!(ready.body["insights"], "unavailable");
    assert!(ready.body["insights_error"].as_str().unwrap().contains("/nonexistent/insights.onnx"));
    assert_eq!(s.get("/api/v1/me", &u.access).await.status, 200);
    log(&s, &u, &healthy(1..=3)).await;

    let ok = Server::start().await;
    assert_eq!(ok.call(Method::GET, "/readyz", None, None).await.body["insights"], "ok");
}

/// The next Monday at `hour`:00 UTC after now.
fn next_monday(s: &Server, hour: u32) -> chrono::Duration {
    let now = s.clock.now();
    let mut t = now.date_naive().and_hms_opt(hour, 0, 0).unwrap().and_utc();
    while t <= now || t.weekday() != chrono::Weekday::Mon {
        t += chrono::Duration::days(1);
    }
    t - now
}

#[tokio::test]
async fn the_weekly_job_runs_on_monday_morning_once_even_across_a_restart() {
    let s = Server::start_with(|c| c.activity.report_job_secs = 1).await;
    let u = s.register().await;
    log(&s, &u, &healthy(1..=40)).await;
    // A Monday 07:00: the job computes this week (also for a student who never asked).
    s.clock.advance(next_monday(&s, 7));
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let u = s.login(&u.username, &u.password).await;
    let first = s.get("/api/v1/insights", &u.access).await.body["computed_at"].clone();
    assert!(!first.is_null());
    // The next Monday at 05:00: not yet.
    s.clock.advance(next_monday(&s, 5));
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(s.clock.now().hour(), 5);
    let u = s.login(&u.username, &u.password).await;
    assert_eq!(s.get("/api/v1/insights", &u.access).await.body["computed_at"], first, "not before 06:00");
    s.clock.advance(chrono::Duration::hours(2));
    let u = s.login(&u.username, &u.password).await;
    let mut weekly = Value::Null;
    for _ in 0..100 {
        let v = s.get("/api/v1/insights", &u.access).await.body["computed_at"].clone();
        if v != first {
            weekly = v;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(!weekly.is_null(), "the Monday job ran");
    let clock = s.clock.clone();
    let dir = s.stop().await;
    clock.advance(chrono::Duration::hours(3));
    let s = Server::start_in_with_clock(dir, clock, |c| c.activity.report_job_secs = 1).await;
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let u2 = s.login(&u.username, &u.password).await;
    assert_eq!(s.get("/api/v1/insights", &u2.access).await.body["computed_at"], weekly, "not repeated after a restart");
}

#[tokio::test]
async fn the_training_data_export_is_pseudonymised_and_train_py_reads_it() {
    let s = Server::start().await;
    let u = s.register().await;
    let off = s.register().await;
    log(&s, &u, &healthy(1..=84)).await;
    log(&s, &off, &healthy(1..=84)).await;
    s.patch("/api/v1/me", &off.access, json!({"settings": {"insights": false}})).await;
    let (start, end) = (date(&s, 40), date(&s, 30));
    let g = s
        .post(
            "/api/v1/goals",
            Some(&u.access),
            json!({"title": "Secret title", "period": "custom", "metric": "study_minutes", "target_value": 500,
                   "start_date": start.to_string(), "end_date": end.to_string()}),
        )
        .await;
    assert_eq!(g.status, 201, "{}", g.body);
    let dir = s.stop().await;
    let out = dir.path().join("rows.jsonl");
    let run = std::process::Command::new(crate::support::binary())
        .args(["--data-dir"])
        .arg(dir.path())
        .args(["insights", "export-training-data", "--out"])
        .arg(&out)
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let text = std::fs::read_to_string(&out).unwrap();
    for secret in [u.id.as_str(), u.username.as_str(), u.email.as_str(), off.id.as_str(), "Secret title", "Maths"] {
        assert!(!text.contains(secret), "the export contains {secret}");
    }
    let rows: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let card: Value = serde_json::from_str(include_str!("../../models/insights.json")).unwrap();
    let names = |k: &str| card[k].as_array().unwrap().iter().map(|f| f["name"].as_str().unwrap().to_string()).collect::<Vec<_>>();
    let users: Vec<&Value> = rows.iter().filter(|r| r["kind"] == "user").collect();
    let goals: Vec<&Value> = rows.iter().filter(|r| r["kind"] == "goal").collect();
    // Mondays with 28 days before and 14 after within 84 days of logs: 6 or 7, one student only.
    assert!((6..=7).contains(&users.len()), "{} user rows", users.len());
    assert_eq!(goals.len(), 1);
    assert_eq!(goals[0]["on_time"], 1);
    let pseudonyms: std::collections::HashSet<&str> = rows.iter().map(|r| r["student"].as_str().unwrap()).collect();
    assert_eq!(pseudonyms.len(), 1, "one student (the one who opted out is left out)");
    for r in &users {
        let mut keys: Vec<String> = r["features"].as_object().unwrap().keys().cloned().collect();
        let mut want = names("user_features");
        keys.sort();
        want.sort();
        assert_eq!(keys, want);
        assert!(r["next_week_minutes"].as_f64().unwrap() > 300.0);
        assert_eq!(r["burnout_episode"], 0);
    }
    // train.py parses the rows (and says there are too few to train on).
    let py = std::process::Command::new("python3")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/models/train.py"))
        .arg("--data")
        .arg(&out)
        .arg("--out")
        .arg(dir.path().join("model"))
        .output()
        .expect("python3 (tests/run.sh installs models/requirements.txt)");
    let err = String::from_utf8_lossy(&py.stderr);
    assert!(err.contains(&format!("too few rows to train on ({} user rows, 1 goal rows", users.len())), "{err}");
}
