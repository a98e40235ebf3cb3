//! Operations: health, readiness, metrics, OpenAPI, docs, security headers, CORS, unknown routes.

use reqwest::Method;
use serde_json::{Value, json};

use crate::support::{Server, assert_problem};
use crate::ws_support::Ws;

#[tokio::test]
async fn health_ready_and_metrics() {
    let s = Server::start().await;
    let h = s.call(Method::GET, "/healthz", None, None).await;
    assert_eq!((h.status.as_u16(), h.body["status"].as_str()), (200, Some("ok")));
    assert_eq!(s.call(Method::GET, "/readyz", None, None).await.status, 200);
    let me = s.register().await;
    let _socket = Ws::connect(&s, &me.access).await;
    let m = s.call(Method::GET, "/metrics", None, None).await;
    assert_eq!(m.headers["content-type"], "application/openmetrics-text; version=1.0.0; charset=utf-8");
    let text = String::from_utf8(m.bytes).unwrap();
    assert!(text.contains(r#"friend_http_requests_total{method="POST",route="api/v1/auth/register",status="201"} 1"#), "{text}");
    assert!(text.contains("friend_websockets_open 1"), "{text}");
    assert!(text.contains("friend_users 1"), "{text}");
}

/// Samples of the exposition as read by Python's OpenMetrics parser (`prometheus_client`, installed
/// by tests/run.sh), which refuses anything the format does not allow: `[name, labels, value]`.
fn parse_openmetrics(text: &str) -> Vec<(String, serde_json::Map<String, Value>, f64)> {
    let script = "import json, sys\n\
        from prometheus_client.openmetrics.parser import text_string_to_metric_families\n\
        fams = text_string_to_metric_families(sys.stdin.read())\n\
        print(json.dumps([[x.name, x.labels, x.value] for f in fams for x in f.samples]))";
    let mut child = std::process::Command::new("python3")
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python3 with prometheus_client (tests/run.sh installs tests/requirements.txt)");
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), text.as_bytes()).unwrap();
    drop(child.stdin.take());
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "the OpenMetrics parser refused the exposition: {}\n{text}", String::from_utf8_lossy(&out.stderr));
    let rows: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    rows.into_iter().map(|r| (r[0].as_str().unwrap().to_owned(), r[1].as_object().unwrap().clone(), r[2].as_f64().unwrap())).collect()
}

#[tokio::test]
async fn metrics_parse_as_openmetrics_and_cover_process_storage_and_jobs() {
    let s = Server::start().await;
    let me = s.register().await;
    s.post("/api/v1/notes", Some(&me.access), json!({"title": "t", "content": "c"})).await;
    let _socket = Ws::connect(&s, &me.access).await;
    let mut samples = Vec::new();
    // The job loop runs its first pass at start; wait until it has counted it.
    for _ in 0..100 {
        let m = s.call(Method::GET, "/metrics", None, None).await;
        samples = parse_openmetrics(&String::from_utf8(m.bytes).unwrap());
        if samples.iter().any(|(n, l, v)| n == "friend_job_runs_total" && l["job"] == "event_ageing" && *v >= 1.0) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let value = |name: &str, labels: &[(&str, &str)]| -> f64 {
        samples
            .iter()
            .find(|(n, l, _)| n == name && labels.iter().all(|(k, v)| l.get(*k).and_then(Value::as_str) == Some(*v)))
            .unwrap_or_else(|| panic!("{name} {labels:?} missing: {samples:?}"))
            .2
    };
    assert_eq!(value("friend_http_requests_total", &[("method", "POST"), ("route", "api/v1/notes"), ("status", "201")]), 1.0);
    assert!(value("friend_http_request_duration_seconds_count", &[]) >= 2.0);
    assert_eq!(value("friend_websockets_open", &[]), 1.0);
    assert!(value("process_resident_memory_bytes", &[]) > 1e6);
    assert!(value("process_open_fds", &[]) > 3.0);
    assert!(value("process_max_fds", &[]) >= value("process_open_fds", &[]));
    assert!(value("process_start_time_seconds", &[]) > 1.7e9);
    assert!(value("friend_uptime_seconds", &[]) >= 0.0);
    assert!(value("friend_sled_size_bytes", &[]) > 0.0);
    assert!(value("friend_search_index_size_bytes", &[("index", "notes")]) > 0.0);
    assert!(value("friend_search_index_size_bytes", &[("index", "users")]) > 0.0);
    assert_eq!(value("friend_users", &[]), 1.0);
    assert_eq!(value("friend_push_queue", &[]), 0.0);
    assert!(value("friend_job_runs_total", &[("job", "event_ageing")]) >= 1.0);
    assert_eq!(value("friend_job_failures_total", &[("job", "reports")]), 0.0);
    assert_eq!(value("friend_webpush_total", &[("result", "sent")]), 0.0);
    assert_eq!(value("friend_webpush_queue", &[]), 0.0);
}

#[tokio::test]
async fn openapi_documents_every_route_and_docs_work_offline() {
    let s = Server::start().await;
    let doc = s.call(Method::GET, "/openapi.json", None, None).await;
    assert_eq!(doc.status, 200);
    let paths = doc.body["paths"].as_object().unwrap();
    for p in [
        "/api/v1/auth/register",
        "/api/v1/auth/login",
        "/api/v1/auth/refresh",
        "/api/v1/auth/logout",
        "/api/v1/auth/logout-all",
        "/api/v1/auth/password",
        "/api/v1/auth/sessions",
        "/api/v1/auth/sessions/{id}",
        "/api/v1/me",
        "/api/v1/me/avatar",
        "/api/v1/me/export",
        "/api/v1/users/{id_or_username}",
        "/api/v1/media",
        "/api/v1/media/{id}",
        "/api/v1/setup",
        "/api/v1/admin/invites",
        "/api/v1/notes",
        "/api/v1/notes/{id}",
        "/api/v1/notes/feed",
        "/api/v1/notes/search",
        "/api/v1/notes/{id}/like",
        "/api/v1/notes/{id}/share",
        "/api/v1/reports/weekly/chart.svg",
        "/api/v1/reports/monthly/chart.svg",
        "/healthz",
        "/readyz",
        "/metrics",
    ] {
        assert!(paths.contains_key(p), "{p} missing from OpenAPI");
    }
    assert!(doc.body["components"]["securitySchemes"]["bearer"].is_object());
    let page = s.call(Method::GET, "/docs/", None, None).await;
    assert_eq!(page.status, 200);
    let html = String::from_utf8(page.bytes).unwrap();
    assert!(html.contains("swagger-ui-bundle.js") && !html.contains("https://"), "docs assets are local");
    let js = s.call(Method::GET, "/docs/swagger-ui-bundle.js", None, None).await;
    assert_eq!(js.status, 200);
    assert!(js.bytes.len() > 100_000);
}

#[tokio::test]
async fn unknown_routes_and_methods_are_problem_documents_with_security_headers() {
    let s = Server::start().await;
    let r = s.call(Method::GET, "/api/v1/nothing-here", None, None).await;
    assert_problem(&r, 404, "not_found");
    assert_eq!(r.headers["x-content-type-options"], "nosniff");
    assert_eq!(r.headers["x-frame-options"], "DENY");
    let csp = r.headers["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("frame-ancestors 'none'"));
    assert!(r.headers.contains_key("x-request-id"));
    assert_eq!(r.body["request_id"], r.headers["x-request-id"].to_str().unwrap());
    let r = s.call(Method::PUT, "/healthz", None, None).await;
    assert_eq!(r.status.as_u16(), 405);
    assert_eq!(r.headers["content-type"], "application/problem+json");
    let echoed = Server::finish(s.http.get(s.url("/healthz")).header("x-request-id", "abc-123")).await;
    assert_eq!(echoed.headers["x-request-id"], "abc-123");
}

#[tokio::test]
async fn cors_allows_configured_origins_only() {
    let s = Server::start_with(|c| c.http.cors_origins = vec!["http://192.168.1.20:3000".into()]).await;
    let pre = |origin: &'static str| {
        s.http
            .request(Method::OPTIONS, s.url("/api/v1/auth/login"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "content-type")
            .send()
    };
    let ok = pre("http://192.168.1.20:3000").await.unwrap();
    assert_eq!(ok.headers()["access-control-allow-origin"], "http://192.168.1.20:3000");
    let other = pre("http://evil.example").await.unwrap();
    assert!(other.headers().get("access-control-allow-origin").is_none());
}

#[tokio::test]
async fn admin_pages_are_served_from_the_binary() {
    let s = Server::start().await;
    let r = Server::finish(s.http.get(s.url("/admin/"))).await;
    assert_eq!(r.status, 200);
    assert!(r.headers["content-type"].to_str().unwrap().starts_with("text/html"));
    let js = Server::finish(s.http.get(s.url("/admin/admin.js"))).await;
    assert_eq!(js.status, 200);
    assert_problem(&Server::finish(s.http.get(s.url("/admin/missing.js"))).await, 404, "not_found");
}

#[tokio::test]
async fn idempotency_key_replays_the_first_answer() {
    let s = Server::start().await;
    let u = s.register().await;
    let other = s.register().await;
    let upload = |token: &str, key: &str, bytes: Vec<u8>| {
        let rb = s
            .http
            .post(s.url("/api/v1/media"))
            .bearer_auth(token)
            .header("idempotency-key", key)
            .header("content-type", "image/png")
            .body(bytes);
        Server::finish(rb)
    };
    let first = upload(&u.access, "upload-1", crate::support::png(12, 12)).await;
    assert_eq!(first.status, 201);
    let again = upload(&u.access, "upload-1", crate::support::png(12, 12)).await;
    assert_eq!(again.status, 201);
    assert_eq!(again.headers["idempotent-replayed"], "true");
    assert_eq!(again.body["id"], first.body["id"], "the same upload, not a second one");
    let export = s.get("/api/v1/me/export", &u.access).await;
    assert_eq!(export.body["media"].as_array().unwrap().len(), 1);
    // Keys are per user.
    let theirs = upload(&other.access, "upload-1", crate::support::png(12, 12)).await;
    assert_ne!(theirs.body["id"], first.body["id"]);
    // The same key for a different request is refused.
    let different = upload(&u.access, "upload-1", crate::support::png(30, 30)).await;
    assert_problem(&different, 422, "idempotency_key_reused");
    // A failed request does not hold its key.
    let bad = upload(&u.access, "upload-2", b"not an image".to_vec()).await;
    assert_problem(&bad, 415, "unsupported_media_type");
    assert_eq!(upload(&u.access, "upload-2", crate::support::png(12, 12)).await.status, 201);
    let r = s
        .http
        .patch(s.url("/api/v1/me"))
        .bearer_auth(&u.access)
        .header("idempotency-key", "a key with spaces")
        .json(&serde_json::json!({}));
    assert_eq!(Server::finish(r).await.status.as_u16(), 400);
}
