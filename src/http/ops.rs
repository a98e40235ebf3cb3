//! Operations: health, readiness, Prometheus metrics, the OpenAPI document, docs and the web admin.

use rust_embed::RustEmbed;
use salvo::http::{HeaderValue, header};
use salvo::prelude::*;
use serde::Serialize;

use super::extract::{bearer_token, client, state};
use crate::error::AppError;

/// Health answer.
#[derive(Serialize, ToSchema)]
pub struct Health {
    /// `ok`.
    pub status: &'static str,
    /// Server version.
    pub version: &'static str,
}

/// Alive.
#[endpoint(tags("operations"))]
async fn healthz() -> Json<Health> {
    Json(Health { status: "ok", version: env!("CARGO_PKG_VERSION") })
}

/// Readiness answer.
#[derive(Serialize, ToSchema)]
pub struct Ready {
    /// `ok` or `unavailable`.
    pub status: &'static str,
    /// Server version.
    pub version: &'static str,
    /// Web Push: `ok`, or `unreachable` while no push service answers (no Internet). Push is
    /// best effort: the server stays ready, pushes wait and are retried.
    pub push: &'static str,
    /// Since when no push service answers (RFC 3339), when `push` is `unreachable`.
    pub push_unreachable_since: Option<String>,
    /// Local AI insights: `ok`, or `unavailable` (no working model; the server stays ready and
    /// `GET /insights` answers 503 `insights_unavailable`).
    pub insights: &'static str,
    /// Why insights are unavailable and how to fix it.
    pub insights_error: Option<String>,
    /// Scheduled backups: `ok`, `failing` (the last attempt failed; it is retried), `none` (none
    /// written yet) or `off`. A failing backup does not make the server unready.
    pub backup: &'static str,
    /// When the last scheduled backup was written and verified (RFC 3339). Why a backup fails is
    /// shown to staff (`GET /admin/stats`), not here: this answer is public.
    pub last_backup_at: Option<String>,
    /// The data directory's disk: `ok`, or `low` below `storage.warn_free_mb` (a warning: the
    /// server stays ready; uploads stop below `media.min_free_mb`).
    pub disk: &'static str,
    /// Free bytes on the data directory's disk.
    pub disk_free_bytes: Option<u64>,
}

/// Ready: storage answers (503 otherwise). Also tells whether push services answer.
#[endpoint(tags("operations"))]
async fn readyz(depot: &mut Depot, res: &mut Response) -> Json<Ready> {
    let st = state(depot);
    let since = crate::service::ops::push_unreachable_since(&st);
    let push = if since.is_some() { "unreachable" } else { "ok" };
    let version = env!("CARGO_PKG_VERSION");
    let insights_error = st.insights_model.as_ref().err().cloned();
    let insights = if insights_error.is_some() { "unavailable" } else { "ok" };
    let b = crate::service::backups::status(&st).unwrap_or_default();
    let backup = crate::service::backups::state_word(&st, &b);
    let disk = crate::service::ops::disk_free(&st);
    let ready = crate::service::ops::ready(&st);
    if !ready {
        res.status_code(StatusCode::SERVICE_UNAVAILABLE);
    }
    Json(Ready {
        status: if ready { "ok" } else { "unavailable" },
        version,
        push,
        push_unreachable_since: since,
        insights,
        insights_error,
        backup,
        last_backup_at: b.last_ok_at.map(crate::clock::rfc3339),
        disk: if disk.is_some_and(|d| d.1) { "low" } else { "ok" },
        disk_free_bytes: disk.map(|d| d.0),
    })
}

/// Prometheus metrics in the OpenMetrics 1.0 text format. Answers the server machine itself (loopback) and clients that send
/// `Authorization: Bearer <http.metrics_token>`; others get 403 `forbidden`.
#[endpoint(tags("operations"), responses((status_code = 200, description = "OpenMetrics 1.0 text (application/openmetrics-text), which Prometheus reads"), (status_code = 403, description = "Not from loopback and no valid metrics token")))]
async fn metrics(req: &mut Request, depot: &mut Depot, res: &mut Response) -> Result<(), AppError> {
    let st = state(depot);
    let ip = client(req, &st).ip;
    if !crate::service::ops::may_read_metrics(&st, &ip, bearer_token(req).as_deref()) {
        return Err(AppError::Forbidden("metrics are readable from the server itself or with the metrics token".into()));
    }
    let text = crate::service::ops::metrics_text(&st).await?;
    res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(crate::metrics::CONTENT_TYPE));
    res.render(text);
    Ok(())
}

/// The local certificate authority's certificate (PEM), for phones and laptops to trust this
/// server's HTTPS once. Only with `tls.mode = "local-ca"`; 404 `not_found` otherwise.
#[endpoint(tags("operations"), responses((status_code = 200, description = "The CA certificate, PEM (application/x-x509-ca-cert); compare its SHA-256 fingerprint with the one the server printed at start-up"), (status_code = 404, description = "HTTPS does not run with a local CA")))]
async fn ca_crt(depot: &mut Depot, res: &mut Response) -> Result<(), AppError> {
    let st = state(depot);
    let pem = crate::infra::tls::ca_pem(&st.config).ok_or(AppError::NotFound("local certificate authority"))?;
    res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/x-x509-ca-cert"));
    res.headers_mut().insert(header::CONTENT_DISPOSITION, HeaderValue::from_static("attachment; filename=\"friend-ca.crt\""));
    res.render(pem);
    Ok(())
}

/// The connect page for students and staff: the server's address as a QR code, and with the local
/// CA its certificate, fingerprint and how to trust it on each system. HTML, printable.
#[endpoint(tags("operations"), responses((status_code = 200, description = "An HTML page (text/html)")))]
async fn connect(depot: &mut Depot, res: &mut Response) -> Result<(), AppError> {
    connect_page(depot, res, None)
}

/// An invite's join link (staff print or share it; `join_url` of an invite): the connect page with
/// the invite code to type when registering, and the link as its QR code.
#[endpoint(tags("operations"), parameters(("code" = String, Path, description = "Invite code")),
    responses((status_code = 200, description = "An HTML page (text/html)")))]
async fn join(req: &mut Request, depot: &mut Depot, res: &mut Response) -> Result<(), AppError> {
    let code = req.param::<String>("code").unwrap_or_default();
    if code.is_empty() || code.len() > 64 {
        return Err(AppError::NotFound("invite"));
    }
    connect_page(depot, res, Some(&code))
}

fn connect_page(depot: &mut Depot, res: &mut Response, invite: Option<&str>) -> Result<(), AppError> {
    let html = crate::service::connect::page(&state(depot), invite)?;
    res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    res.render(Text::Html(html));
    Ok(())
}

/// Web admin and other static pages, embedded in the binary.
#[derive(RustEmbed)]
#[folder = "static/"]
struct Static;

#[handler]
async fn static_file(req: &mut Request, res: &mut Response) {
    let path = req.param::<String>("path").unwrap_or_default();
    if path.is_empty() && !req.uri().path().ends_with('/') {
        res.render(Redirect::permanent("/admin/"));
        return;
    }
    let path = if path.is_empty() || path.ends_with('/') { format!("{path}index.html") } else { path };
    embedded(res, &format!("admin/{path}"));
}

/// Writes the embedded file `full` (revalidated on each use, so an upgrade shows at once), or 404.
fn embedded(res: &mut Response, full: &str) {
    match Static::get(full) {
        Some(file) => {
            let mime = mime_for(full);
            res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(mime));
            res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
            res.body(file.data.into_owned());
        }
        None => {
            res.status_code(StatusCode::NOT_FOUND);
        }
    }
}

/// The student app: its page at `/`, its files under `/app/`.
#[handler]
async fn app_file(req: &mut Request, res: &mut Response) {
    let path = req.param::<String>("path").unwrap_or_default();
    let path = if path.is_empty() || path.ends_with('/') { format!("{path}index.html") } else { path };
    embedded(res, &format!("app/{path}"));
}

/// The student app's service worker and manifest, at the root so they cover the whole app.
#[handler]
async fn app_root_file(req: &mut Request, res: &mut Response) {
    let name = req.uri().path().trim_start_matches('/').to_string();
    embedded(res, &format!("app/{name}"));
    if name == "sw.js" {
        res.headers_mut().insert("service-worker-allowed", HeaderValue::from_static("/"));
    }
}

fn mime_for(path: &str) -> &'static str {
    match path.rsplit('.').next() {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("json") => "application/json",
        Some("webmanifest") => "application/manifest+json",
        _ => "application/octet-stream",
    }
}

/// `/healthz`, `/readyz`, `/metrics`, `/ca.crt`, `/connect`, `/admin/`.
pub fn router() -> Router {
    Router::new()
        .push(Router::with_path("healthz").get(healthz))
        .push(Router::with_path("ca.crt").get(ca_crt))
        .push(Router::with_path("connect").get(connect))
        .push(Router::with_path("join/{code}").get(join))
        .push(Router::with_path("readyz").get(readyz))
        .push(Router::with_path("metrics").get(metrics))
        .push(Router::with_path("admin/{**path}").get(static_file))
        .push(Router::new().get(app_file))
        .push(Router::with_path("app/{**path}").get(app_file))
        .push(Router::with_path("sw.js").get(app_root_file))
        .push(Router::with_path("manifest.webmanifest").get(app_root_file))
}
