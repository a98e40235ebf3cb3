//! Daily activity logs: upserts, merges, validation, time zones, batches, isolation.

use chrono::Datelike;
use serde_json::json;

use crate::support::{Server, assert_problem};

fn day(s: &Server, offset_days: i64, tz: chrono_tz::Tz) -> String {
    (s.clock.now().with_timezone(&tz).date_naive() + chrono::Duration::days(offset_days)).format("%Y-%m-%d").to_string()
}

#[tokio::test]
async fn put_patch_get_list_and_delete_a_day() {
    let s = Server::start().await;
    let u = s.register().await;
    let today = day(&s, 0, chrono_tz::UTC);
    let body = json!({
        "study_sessions": [{"subject": "  maths   revision ", "minutes": 50}, {"subject": "Physics", "minutes": 40, "note": "waves"}],
        "sleep_hours": 7.5, "mood": {"score": 4, "emoji": "🙂", "label": "good"}, "tags": ["Exam", "exam", " focus "],
        "description": "mock exam week", "notes": ""
    });
    let r = s.put(&format!("/api/v1/activities/{today}"), &u.access, body.clone()).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["study_minutes"], 90);
    assert_eq!(r.body["study_sessions"][0]["subject"], "Maths revision");
    assert_eq!(r.body["tags"], json!(["exam", "focus"]));
    let session_id = r.body["study_sessions"][0]["id"].clone();
    // The same PUT again (an offline phone resending) changes nothing but updated_at.
    let again = s.put(&format!("/api/v1/activities/{today}"), &u.access, body).await;
    assert_eq!(again.body["study_minutes"], 90);
    let p = s.patch(&format!("/api/v1/activities/{today}"), &u.access, json!({"sleep_hours": null, "notes": "slept badly"})).await;
    assert_eq!(p.status, 200);
    assert!(p.body["sleep_hours"].is_null());
    assert_eq!(p.body["mood"]["score"], 4, "absent fields stay");
    assert_eq!(p.body["notes"], "slept badly");
    let keep = s
        .patch(
            &format!("/api/v1/activities/{today}"),
            &u.access,
            json!({"study_sessions": [{"id": session_id, "subject": "maths", "minutes": 55}]}),
        )
        .await;
    assert_eq!(keep.body["study_sessions"][0]["id"], session_id);
    let yesterday = day(&s, -1, chrono_tz::UTC);
    s.put(&format!("/api/v1/activities/{yesterday}"), &u.access, json!({"sleep_hours": 8})).await;
    let list = s.get(&format!("/api/v1/activities?from={yesterday}&to={today}"), &u.access).await;
    assert_eq!(list.body["next_cursor"], serde_json::Value::Null);
    let dates: Vec<&str> = list.body["items"].as_array().unwrap().iter().map(|d| d["date"].as_str().unwrap()).collect();
    assert_eq!(dates, [yesterday.as_str(), today.as_str()]);
    assert_eq!(s.get(&format!("/api/v1/activities/{today}"), &u.access).await.body["study_minutes"], 55);
    assert_eq!(s.delete(&format!("/api/v1/activities/{today}"), &u.access, None).await.status, 204);
    assert_problem(&s.get(&format!("/api/v1/activities/{today}"), &u.access).await, 404, "not_found");
    assert_problem(&s.delete(&format!("/api/v1/activities/{today}"), &u.access, None).await, 404, "not_found");
    assert_problem(&s.patch(&format!("/api/v1/activities/{today}"), &u.access, json!({"notes": "x"})).await, 404, "not_found");
    let e = s.get("/api/v1/me/export", &u.access).await;
    assert_eq!(e.body["activities"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn validation_names_each_bad_field() {
    let s = Server::start().await;
    let u = s.register().await;
    let today = day(&s, 0, chrono_tz::UTC);
    let path = |date: &str| format!("/api/v1/activities/{date}");
    let r = s
        .put(
            &path(&today),
            &u.access,
            json!({"study_sessions": [{"subject": " ", "minutes": 0}, {"subject": "Art", "minutes": 1441}], "sleep_hours": 25, "mood": {"score": 6}}),
        )
        .await;
    assert_problem(&r, 422, "validation_failed");
    let fields: Vec<&str> = r.body["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    assert_eq!(
        fields,
        [
            "study_sessions[0].subject",
            "study_sessions[0].minutes",
            "study_sessions[1].minutes",
            "study_sessions",
            "sleep_hours",
            "mood.score"
        ]
    );
    let r = s
        .put(&path(&today), &u.access, json!({"study_sessions": [{"subject": "A", "minutes": 800}, {"subject": "B", "minutes": 800}]}))
        .await;
    assert_eq!(r.body["errors"][0]["field"], "study_sessions");
    assert_problem(&s.put(&path("2026-02-30"), &u.access, json!({})).await, 422, "validation_failed");
    assert_problem(&s.put(&path(&day(&s, 1, chrono_tz::UTC)), &u.access, json!({})).await, 422, "validation_failed");
    assert_problem(&s.put(&path(&today), &u.access, json!({"minutes": 5})).await, 422, "validation_failed");
    let negative = json!({"study_sessions": [{"subject": "A", "minutes": -5}]});
    assert_problem(&s.put(&path(&today), &u.access, negative).await, 422, "validation_failed");
    assert_problem(&s.get("/api/v1/activities?from=2026-01-01", &u.access).await, 422, "validation_failed");
    assert_problem(&s.get("/api/v1/activities?from=2026-01-02&to=2026-01-01", &u.access).await, 422, "validation_failed");
    assert_problem(&s.get("/api/v1/activities?from=2024-01-01&to=2026-01-01", &u.access).await, 422, "validation_failed");
}

#[tokio::test]
async fn days_are_in_the_users_own_time_zone() {
    let s = Server::start().await;
    let kiribati = s.register().await;
    let hawaii = s.register().await;
    s.patch("/api/v1/me", &kiribati.access, json!({"timezone": "Pacific/Kiritimati"})).await;
    s.patch("/api/v1/me", &hawaii.access, json!({"timezone": "Pacific/Honolulu"})).await;
    // UTC+14 and UTC-10 are always on different calendar days.
    let k_today = day(&s, 0, chrono_tz::Pacific::Kiritimati);
    let h_today = day(&s, 0, chrono_tz::Pacific::Honolulu);
    assert_ne!(k_today, h_today);
    let path = |date: &str| format!("/api/v1/activities/{date}");
    assert_eq!(s.put(&path(&k_today), &kiribati.access, json!({"sleep_hours": 7})).await.status, 200, "today in Kiritimati");
    assert_problem(&s.put(&path(&k_today), &hawaii.access, json!({"sleep_hours": 7})).await, 422, "validation_failed");
    assert_eq!(s.put(&path(&h_today), &hawaii.access, json!({"sleep_hours": 7})).await.status, 200);
}

#[tokio::test]
async fn batches_store_all_days_or_none_and_users_see_only_their_own() {
    let s = Server::start().await;
    let u = s.register().await;
    let other = s.register().await;
    let days: Vec<String> = (0..3).map(|i| day(&s, -i, chrono_tz::UTC)).collect();
    let r = s
        .post(
            "/api/v1/activities/batch",
            Some(&u.access),
            json!({"logs": [
                {"date": days[0], "sleep_hours": 8},
                {"date": days[1], "study_sessions": [{"subject": "History", "minutes": 30}]},
                {"date": days[2], "mood": {"score": 2}}
            ]}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["items"].as_array().unwrap().len(), 3);
    let bad = s
        .post(
            "/api/v1/activities/batch",
            Some(&u.access),
            json!({"logs": [{"date": days[0], "sleep_hours": 1}, {"date": days[0]}, {"sleep_hours": 30}]}),
        )
        .await;
    assert_problem(&bad, 422, "validation_failed");
    let fields: Vec<&str> = bad.body["errors"].as_array().unwrap().iter().map(|e| e["field"].as_str().unwrap()).collect();
    assert_eq!(fields, ["logs[1].date", "logs[2].date"]);
    assert_eq!(
        s.get(&format!("/api/v1/activities/{}", days[0]), &u.access).await.body["sleep_hours"],
        8.0,
        "nothing from the failed batch"
    );
    assert_problem(&s.post("/api/v1/activities/batch", Some(&u.access), json!({"logs": []})).await, 422, "validation_failed");
    // Isolation.
    assert_problem(&s.get(&format!("/api/v1/activities/{}", days[0]), &other.access).await, 404, "not_found");
    let theirs = s.get(&format!("/api/v1/activities?from={}&to={}", days[2], days[0]), &other.access).await;
    assert!(theirs.body["items"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn the_study_timer_adds_sessions_splits_at_midnight_and_is_capped() {
    use crate::ws_support::Ws;
    let s = Server::start().await;
    let u = s.register().await;
    let friend = s.register().await;
    let stranger = s.register().await;
    let r = s.post("/api/v1/friend-requests", Some(&u.access), json!({"to_user_id": friend.id})).await;
    s.post(&format!("/api/v1/friend-requests/{}/accept", r.body["id"].as_str().unwrap()), Some(&friend.access), json!({})).await;
    let mut wf = Ws::connect(&s, &friend.access).await;
    assert_eq!(s.get("/api/v1/study-timer", &u.access).await.body["running"], false);
    assert_problem(&s.post("/api/v1/study-timer/stop", Some(&u.access), json!({})).await, 409, "conflict");
    assert_problem(&s.post("/api/v1/study-timer/start", Some(&u.access), json!({"subject": "  "})).await, 422, "validation_failed");
    let started = s.post("/api/v1/study-timer/start", Some(&u.access), json!({"subject": "chemistry"})).await;
    assert_eq!(started.status, 201, "{}", started.body);
    assert_eq!(started.body["subject"], "Chemistry");
    assert_problem(&s.post("/api/v1/study-timer/start", Some(&u.access), json!({"subject": "x"})).await, 409, "conflict");
    let p = wf.expect("presence").await;
    assert_eq!(p["studying_now"]["subject"], "Chemistry");
    let friends = s.get("/api/v1/friends", &friend.access).await;
    assert_eq!(friends.body["items"][0]["studying_now"]["subject"], "Chemistry");
    assert!(s.get(&format!("/api/v1/users/{}", u.id), &stranger.access).await.body.get("studying_now").is_none(), "friends only");
    s.clock.advance(chrono::Duration::minutes(95));
    let u = s.login(&u.username, &u.password).await; // the access token expired meanwhile
    let stopped = s.post("/api/v1/study-timer/stop", Some(&u.access), json!({})).await;
    assert_eq!(stopped.status, 200, "{}", stopped.body);
    assert_eq!((stopped.body["minutes"].as_i64(), stopped.body["capped"].as_bool()), (Some(95), Some(false)));
    let total: i64 = stopped.body["days"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["study_sessions"].as_array().unwrap().last().unwrap()["minutes"].as_i64().unwrap())
        .sum();
    assert_eq!(total, 95, "split pieces add up");
    assert!(wf.expect("presence").await["studying_now"].is_null());
    // Left running for ten hours: only six count, flagged.
    s.post("/api/v1/study-timer/start", Some(&u.access), json!({"subject": "History"})).await;
    s.clock.advance(chrono::Duration::hours(10));
    let u = s.login(&u.username, &u.password).await;
    let status = s.get("/api/v1/study-timer", &u.access).await;
    assert_eq!((status.body["capped"].as_bool(), status.body["elapsed_minutes"].as_i64()), (Some(true), Some(360)));
    assert!(
        s.get("/api/v1/friends", &s.login(&friend.username, &friend.password).await.access).await.body["items"][0]
            .get("studying_now")
            .is_none(),
        "a capped timer is not shown"
    );
    let capped = s.post("/api/v1/study-timer/stop", Some(&u.access), json!({})).await;
    assert_eq!((capped.body["minutes"].as_i64(), capped.body["capped"].as_bool()), (Some(360), Some(true)));
}

#[tokio::test]
async fn goals_follow_the_logs_complete_and_fail() {
    let s = Server::start().await;
    let u = s.register().await;
    let other = s.register().await;
    let today = day(&s, 0, chrono_tz::UTC);
    let yesterday = day(&s, -1, chrono_tz::UTC);
    let g = s
        .post(
            "/api/v1/goals",
            Some(&u.access),
            json!({"title": "Maths hours", "period": "weekly", "metric": "study_minutes", "subject": "maths", "target_value": 120, "start_date": yesterday}),
        )
        .await;
    assert_eq!(g.status, 201, "{}", g.body);
    let id = g.body["id"].as_str().unwrap().to_string();
    assert_eq!(g.body["end_date"], day(&s, 5, chrono_tz::UTC));
    assert_eq!((g.body["current_progress"].as_f64(), g.body["status"].as_str()), (Some(0.0), Some("active")));
    s.put(
        &format!("/api/v1/activities/{yesterday}"),
        &u.access,
        json!({"study_sessions": [{"subject": "Maths", "minutes": 60}, {"subject": "Art", "minutes": 90}]}),
    )
    .await;
    let half = s.get(&format!("/api/v1/goals/{id}"), &u.access).await;
    assert_eq!((half.body["current_progress"].as_f64(), half.body["progress_ratio"].as_f64()), (Some(60.0), Some(0.5)));
    // Editing the old day counts; reaching the target completes the goal at once.
    s.put(&format!("/api/v1/activities/{yesterday}"), &u.access, json!({"study_sessions": [{"subject": "maths", "minutes": 80}]})).await;
    s.put(&format!("/api/v1/activities/{today}"), &u.access, json!({"study_sessions": [{"subject": "Maths", "minutes": 45}]})).await;
    let done = s.get(&format!("/api/v1/goals/{id}"), &u.access).await;
    assert_eq!((done.body["status"].as_str(), done.body["progress_ratio"].as_f64()), (Some("completed"), Some(1.0)));
    assert!(done.body["completed_at"].is_string());
    // A study-days goal that ends short fails once its period is over.
    let days = s
        .post("/api/v1/goals", Some(&u.access), json!({"title": "Every day", "period": "custom", "metric": "study_days", "target_value": 5, "start_date": yesterday, "end_date": today}))
        .await;
    let days_id = days.body["id"].as_str().unwrap().to_string();
    assert_eq!(days.body["current_progress"], 2.0);
    s.clock.advance(chrono::Duration::days(2));
    let u = s.login(&u.username, &u.password).await;
    let other = s.login(&other.username, &other.password).await;
    let failed = s.get(&format!("/api/v1/goals/{days_id}"), &u.access).await;
    assert_eq!(failed.body["status"], "failed");
    assert_eq!(s.get("/api/v1/goals?status=completed", &u.access).await.body["items"].as_array().unwrap().len(), 1);
    // Custom goals take manual progress; others refuse it.
    let custom = s.post("/api/v1/goals", Some(&u.access), json!({"title": "Read 3 books", "period": "monthly", "metric": "custom", "target_value": 3, "start_date": day(&s, 0, chrono_tz::UTC)})).await;
    let cid = custom.body["id"].as_str().unwrap().to_string();
    let p = s.post(&format!("/api/v1/goals/{cid}/progress"), Some(&u.access), json!({"value": 2})).await;
    assert_eq!((p.body["current_progress"].as_f64(), p.body["status"].as_str()), (Some(2.0), Some("active")));
    let p = s.post(&format!("/api/v1/goals/{cid}/progress"), Some(&u.access), json!({"value": 1})).await;
    assert_eq!(p.body["status"], "completed");
    assert_problem(&s.post(&format!("/api/v1/goals/{days_id}/progress"), Some(&u.access), json!({"value": 1})).await, 409, "conflict");
    // Validation, isolation, delete.
    assert_problem(&s.post("/api/v1/goals", Some(&u.access), json!({"title": "x"})).await, 422, "validation_failed");
    let bad = json!({"title": "x", "period": "custom", "metric": "sleep_hours", "target_value": 30, "start_date": today});
    assert_problem(&s.post("/api/v1/goals", Some(&u.access), bad).await, 422, "validation_failed");
    assert_problem(&s.get(&format!("/api/v1/goals/{cid}"), &other.access).await, 404, "not_found");
    assert_problem(&s.patch(&format!("/api/v1/goals/{cid}"), &other.access, json!({"title": "mine"})).await, 404, "not_found");
    let renamed = s.patch(&format!("/api/v1/goals/{cid}"), &u.access, json!({"title": "Read 3 novels"})).await;
    assert_eq!(renamed.body["title"], "Read 3 novels");
    assert_eq!(s.delete(&format!("/api/v1/goals/{cid}"), &u.access, None).await.status, 204);
    assert_problem(&s.get(&format!("/api/v1/goals/{cid}"), &u.access).await, 404, "not_found");
    assert_problem(&s.get("/api/v1/goals?status=later", &u.access).await, 422, "validation_failed");
}

/// The Monday of the last full week on the server's clock.
fn last_monday(s: &Server) -> chrono::NaiveDate {
    let today = s.clock.now().date_naive();
    today - chrono::Duration::days(i64::from(today.weekday().num_days_from_monday()) + 7)
}

#[tokio::test]
async fn weekly_and_monthly_reports_and_csv() {
    let s = Server::start().await;
    let u = s.register().await;
    let other = s.register().await;
    let monday = last_monday(&s);
    let d = |i: i64| (monday + chrono::Duration::days(i)).format("%Y-%m-%d").to_string();
    let logs = json!({"logs": [
        {"date": d(-1), "study_sessions": [{"subject": "Maths", "minutes": 30}], "sleep_hours": 6, "mood": {"score": 2}},
        {"date": d(0), "study_sessions": [{"subject": "Maths", "minutes": 60}, {"subject": "Art", "minutes": 20}], "sleep_hours": 8, "mood": {"score": 4}},
        {"date": d(1), "study_sessions": [{"subject": "Physics", "minutes": 90}], "sleep_hours": 7, "mood": {"score": 4},
         "notes": "quiz, \"hard\"\nbut fine"},
        {"date": d(2), "sleep_hours": 9}
    ]});
    assert_eq!(s.post("/api/v1/activities/batch", Some(&u.access), logs).await.status, 200);
    let week = monday.iso_week();
    let label = format!("{}-W{:02}", week.year(), week.week());
    let r = s.get("/api/v1/reports/weekly", &u.access).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["period"], label.as_str(), "default: the last full week");
    assert_eq!((r.body["from"].as_str(), r.body["to"].as_str()), (Some(d(0).as_str()), Some(d(6).as_str())));
    assert_eq!(r.body["study_minutes_total"], 170);
    assert_eq!(r.body["study_minutes_by_day"].as_array().unwrap().len(), 7);
    assert_eq!(r.body["by_subject"][0], json!({"subject": "Physics", "minutes": 90}));
    assert_eq!(r.body["study_days"], 2);
    assert_eq!(r.body["sleep_hours_avg"], 8.0);
    assert_eq!(r.body["mood_avg"], 4.0);
    assert_eq!(r.body["mood_distribution"]["4"], 2);
    let cmp = &r.body["compared_to_previous"];
    assert_eq!(
        (cmp["study_minutes_delta"].as_i64(), cmp["sleep_hours_delta"].as_f64(), cmp["mood_delta"].as_f64()),
        (Some(140), Some(2.0), Some(2.0))
    );
    let same = s.get(&format!("/api/v1/reports/weekly?week={label}"), &u.access).await;
    assert_eq!(same.body["study_minutes_total"], 170);
    assert_eq!(s.get(&format!("/api/v1/reports/weekly?week={label}"), &other.access).await.body["study_minutes_total"], 0);
    assert_problem(&s.get("/api/v1/reports/weekly?week=2026-47", &u.access).await, 422, "validation_failed");
    assert_problem(&s.get("/api/v1/reports/weekly?week=2999-W01", &u.access).await, 422, "validation_failed");
    let month = monday.format("%Y-%m").to_string();
    let m = s.get(&format!("/api/v1/reports/monthly?month={month}"), &u.access).await;
    assert_eq!(m.status, 200);
    assert_eq!(m.body["period"], month.as_str());
    assert!(m.body["study_minutes_total"].as_u64().unwrap() >= 90);
    assert_problem(&s.get("/api/v1/reports/monthly?month=2026-13", &u.access).await, 422, "validation_failed");
    let csv =
        Server::finish(s.http.get(s.url(&format!("/api/v1/reports/export.csv?from={}&to={}", d(-1), d(6)))).bearer_auth(&u.access)).await;
    assert_eq!(csv.status, 200);
    assert!(csv.headers["content-type"].to_str().unwrap().starts_with("text/csv"));
    let text = String::from_utf8(csv.bytes).unwrap();
    assert!(text.starts_with("date,row,subject,minutes"));
    assert!(text.contains("\"quiz, \"\"hard\"\"\nbut fine\""), "{text}");
    assert_eq!(text.matches("\r\n").count(), 1 + 4 + 4, "header, 4 days, 4 sessions");
}

#[tokio::test]
async fn the_report_job_makes_each_report_once_and_catches_up_after_downtime() {
    let s = Server::start_with(|c| c.activity.report_job_secs = 1).await;
    let u = s.register().await;
    let ready = |s: &Server, token: String| {
        let (http, url) = (s.http.clone(), s.url("/api/v1/reports/ready"));
        async move { http.get(url).bearer_auth(token).send().await.unwrap().json::<serde_json::Value>().await.unwrap() }
    };
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    assert_eq!(ready(&s, u.access.clone()).await, json!([]), "nothing finished yet for a new account");
    s.clock.advance(chrono::Duration::days(8));
    let u = s.login(&u.username, &u.password).await;
    let mut got = json!([]);
    for _ in 0..50 {
        got = ready(&s, u.access.clone()).await;
        if got.as_array().is_some_and(|a| !a.is_empty()) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let weekly = |v: &serde_json::Value| v.as_array().unwrap().iter().filter(|r| r["kind"] == "weekly").count();
    assert_eq!(weekly(&got), 1, "{got}");
    let total = got.as_array().unwrap().len();
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    assert_eq!(ready(&s, u.access.clone()).await.as_array().unwrap().len(), total, "once per period");
    // Down for two weeks: both missed weeks are made on the next start.
    let clock = s.clock.clone();
    let dir = s.stop().await;
    clock.advance(chrono::Duration::days(14));
    let s = Server::start_in_with_clock(dir, clock, |c| c.activity.report_job_secs = 1).await;
    let u = s.login(&u.username, &u.password).await;
    let mut n = 0;
    for _ in 0..50 {
        n = ready(&s, u.access.clone()).await.as_array().unwrap().iter().filter(|r| r["kind"] == "weekly").count();
        if n >= 3 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(n, 3);
}

#[tokio::test]
async fn the_weekly_ranking_is_opt_in_and_counts_study_days() {
    let s = Server::start().await;
    let (a, b, c) = (s.register().await, s.register().await, s.register().await);
    for (x, y) in [(&a, &b), (&a, &c)] {
        let r = s.post("/api/v1/friend-requests", Some(&x.access), json!({"to_user_id": y.id})).await;
        s.post(&format!("/api/v1/friend-requests/{}/accept", r.body["id"].as_str().unwrap()), Some(&y.access), json!({})).await;
    }
    let today = s.clock.now().date_naive();
    let monday = today - chrono::Duration::days(i64::from(today.weekday().num_days_from_monday()) + 7);
    let d = |i: i64| (monday + chrono::Duration::days(i)).format("%Y-%m-%d").to_string();
    let study = |days: &[i64], minutes: u32| json!({"logs": days.iter().map(|i| json!({"date": d(*i), "study_sessions": [{"subject": "Maths", "minutes": minutes}]})).collect::<Vec<_>>()});
    // A studies long hours on two days; B a little on three: B ranks first.
    s.post("/api/v1/activities/batch", Some(&a.access), study(&[0, 1], 600)).await;
    s.post("/api/v1/activities/batch", Some(&b.access), study(&[0, 2, 4], 30)).await;
    s.post("/api/v1/activities/batch", Some(&c.access), study(&[0, 1, 2, 3, 4], 60)).await;
    assert!(s.get("/api/v1/reports/weekly", &a.access).await.body["friends_rank"].is_null(), "off by default");
    for u in [&a, &b] {
        s.patch("/api/v1/me", &u.access, json!({"settings": {"weekly_ranking": true}})).await;
    }
    let ra = s.get("/api/v1/reports/weekly", &a.access).await;
    assert_eq!(ra.body["friends_rank"], json!({"rank": 2, "out_of": 2, "study_days": 2, "goals_completed": 0}));
    let rb = s.get("/api/v1/reports/weekly", &b.access).await;
    assert_eq!(rb.body["friends_rank"]["rank"], 1);
    assert!(s.get("/api/v1/reports/weekly", &c.access).await.body["friends_rank"].is_null(), "C did not opt in and is not ranked");
    let month = monday.format("%Y-%m").to_string();
    assert!(s.get(&format!("/api/v1/reports/monthly?month={month}"), &a.access).await.body["friends_rank"].is_null(), "weekly only");
}

#[tokio::test]
async fn report_charts_are_svg_in_both_themes_and_only_of_the_callers_logs() {
    let s = Server::start().await;
    let u = s.register().await;
    let other = s.register().await;
    let monday = last_monday(&s);
    let d = |i: i64| (monday + chrono::Duration::days(i)).format("%Y-%m-%d").to_string();
    let logs = json!({"logs": [
        {"date": d(0), "study_sessions": [{"subject": "Maths", "minutes": 60}, {"subject": "<b>Art & \"Design\"</b>", "minutes": 20}],
         "sleep_hours": 8, "mood": {"score": 4}},
        {"date": d(1), "study_sessions": [{"subject": "Physics", "minutes": 90}], "sleep_hours": 7, "mood": {"score": 2}},
        {"date": d(3), "sleep_hours": 9}
    ]});
    assert_eq!(s.post("/api/v1/activities/batch", Some(&u.access), logs).await.status, 200);
    let chart = |path: String, token: String| {
        let req = s.http.get(s.url(&path)).bearer_auth(token);
        Server::finish(req)
    };
    let light = chart("/api/v1/reports/weekly/chart.svg".into(), u.access.clone()).await;
    assert_eq!(light.status, 200);
    assert!(light.headers["content-type"].to_str().unwrap().starts_with("image/svg+xml"));
    assert!(light.headers["cache-control"].to_str().unwrap().starts_with("private"));
    let svg = String::from_utf8(light.bytes).unwrap();
    let doc = roxmltree::Document::parse(&svg).expect("well-formed SVG even with markup in a subject");
    let texts: Vec<&str> = doc.descendants().filter(|n| n.has_tag_name("text")).filter_map(|n| n.text()).map(str::trim).collect();
    for label in ["Maths", "Physics", "<b>Art & \"Design\"</b>", "sleep", "mood", "minutes studied"] {
        assert!(texts.contains(&label), "{label} missing from {texts:?}");
    }
    assert!(texts.iter().any(|t| t.contains("2 h 50 min studied")), "title with the total: {texts:?}");
    let title = doc.descendants().find(|n| n.has_tag_name("title")).and_then(|n| n.text()).unwrap();
    assert!(title.starts_with("Week "), "{title}");
    let bars = doc.descendants().filter(|n| n.has_tag_name("rect") && n.attribute("fill") == Some("#0072B2")).count();
    assert!(bars >= 1, "Physics (most studied) bars in the first colour");
    assert!(svg.contains("#FFFFFF"), "light background");

    let dark = chart(
        format!("/api/v1/reports/weekly/chart.svg?theme=dark&width=360&week={}", {
            let w = monday.iso_week();
            format!("{}-W{:02}", w.year(), w.week())
        }),
        u.access.clone(),
    )
    .await;
    assert_eq!(dark.status, 200);
    let svg = String::from_utf8(dark.bytes).unwrap();
    let doc = roxmltree::Document::parse(&svg).unwrap();
    assert_eq!(doc.root_element().attribute("width"), Some("360"), "phone width");
    assert!(svg.contains("#121417") && !svg.contains("#FFFFFF"), "dark background");

    let month = chart(format!("/api/v1/reports/monthly/chart.svg?month={}", monday.format("%Y-%m")), u.access.clone()).await;
    assert_eq!(month.status, 200);
    assert!(String::from_utf8(month.bytes).unwrap().contains("Physics"));

    let theirs = chart("/api/v1/reports/weekly/chart.svg".into(), other.access.clone()).await;
    assert_eq!(theirs.status, 200);
    let svg = String::from_utf8(theirs.bytes).unwrap();
    assert!(!svg.contains("Physics") && !svg.contains("Maths"), "another user's chart shows only their own logs");
    assert!(svg.contains("0 min studied"));

    for (query, field) in [("theme=neon", "theme"), ("width=10", "width"), ("width=wide", "width"), ("week=2999-W01", "period")] {
        let r = chart(format!("/api/v1/reports/weekly/chart.svg?{query}"), u.access.clone()).await;
        assert_problem(&r, 422, "validation_failed");
        assert_eq!(r.body["errors"][0]["field"], field, "{query}");
    }
    assert_problem(&chart("/api/v1/reports/monthly/chart.svg?month=2026-13".into(), u.access.clone()).await, 422, "validation_failed");
    assert_eq!(s.http.get(s.url("/api/v1/reports/weekly/chart.svg")).send().await.unwrap().status(), 401);
}

#[tokio::test]
async fn streaks_count_consecutive_study_days_and_today_does_not_break_them() {
    let s = Server::start().await;
    let u = s.register().await;
    let today = s.clock.now().date_naive();
    let d = |i: i64| (today - chrono::Duration::days(i)).format("%Y-%m-%d").to_string();
    let study = |date: String| json!({"date": date, "study_sessions": [{"subject": "Maths", "minutes": 25}]});
    let logs = json!({"logs": [study(d(1)), study(d(2)), study(d(3)), {"date": d(4), "sleep_hours": 8}, study(d(5)), study(d(6))]});
    assert_eq!(s.post("/api/v1/activities/batch", Some(&u.access), logs).await.status, 200);
    let iso = today.iso_week();
    let this_week = format!("/api/v1/reports/weekly?week={}-W{:02}", iso.year(), iso.week());
    assert_eq!(s.get(&this_week, &u.access).await.body["streak_days"], 3, "a day with only sleep breaks it; today not yet");
    assert_eq!(s.put(&format!("/api/v1/activities/{}", d(0)), &u.access, json!({"sleep_hours": 7})).await.status, 200);
    assert_eq!(s.get(&this_week, &u.access).await.body["streak_days"], 3, "today without study yet does not break it");
    assert_eq!(s.put(&format!("/api/v1/activities/{}", d(0)), &u.access, study(d(0))).await.status, 200);
    assert_eq!(s.get(&this_week, &u.access).await.body["streak_days"], 4);
    assert_eq!(s.delete(&format!("/api/v1/activities/{}", d(2)), &u.access, None).await.status, 204);
    assert_eq!(s.get(&this_week, &u.access).await.body["streak_days"], 2, "a missing day breaks it");
}
