//! Operations: health, readiness, metrics, OpenAPI, docs, security headers, CORS, unknown routes.

use reqwest::Method;

use crate::support::{Server, assert_problem};

#[tokio::test]
async fn health_ready_and_metrics() {
    let s = Server::start().await;
    let h = s.call(Method::GET, "/healthz", None, None).await;
    assert_eq!((h.status.as_u16(), h.body["status"].as_str()), (200, Some("ok")));
    assert_eq!(s.call(Method::GET, "/readyz", None, None).await.status, 200);
    s.register().await;
    let m = s.call(Method::GET, "/metrics", None, None).await;
    let text = String::from_utf8(m.bytes).unwrap();
    assert!(text.contains(r#"friend_http_requests_total{method="POST",route="api/v1/auth/register",status="201"} 1"#), "{text}");
    assert!(text.contains("friend_http_request_duration_seconds_bucket{le=\"+Inf\"}"));
    assert!(text.contains("friend_websockets_open 0"));
    assert!(text.contains("friend_users 1"));
    assert!(text.contains("friend_sled_size_bytes "));
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
