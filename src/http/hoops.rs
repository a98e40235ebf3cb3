//! Middleware: state injection, request ids, security headers, metrics and access logs, bearer auth.

use std::sync::Arc;
use std::time::Instant;

use salvo::http::{HeaderValue, header};
use salvo::prelude::*;

use super::extract;
use super::problem::write_error;
use crate::error::AppError;
use crate::realtime::Hub;
use crate::state::AppState;

/// Depot key of the request id.
pub const REQUEST_ID: &str = "request_id";

/// Puts the shared state and the WebSocket hub in every request's depot.
pub struct InjectState(pub Arc<AppState>, pub Arc<Hub>);

#[async_trait]
impl Handler for InjectState {
    async fn handle(&self, req: &mut Request, depot: &mut Depot, res: &mut Response, ctrl: &mut FlowCtrl) {
        depot.insert_typed(self.0.clone());
        depot.insert_typed(self.1.clone());
        ctrl.call_next(req, depot, res).await;
    }
}

const CSP_APP: &str = "default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; script-src 'self'; \
connect-src 'self' ws: wss:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'";
/// Swagger UI's page starts itself with an inline script; it is our own, served from the binary.
const CSP_DOCS: &str = "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self' 'unsafe-inline'; \
connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'";

fn valid_request_id(s: &str) -> bool {
    (1..=64).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Request id, security headers, metrics and the access log, around everything else.
#[handler]
pub async fn observe(req: &mut Request, depot: &mut Depot, res: &mut Response, ctrl: &mut FlowCtrl) {
    let started = Instant::now();
    let rid =
        req.header::<String>("x-request-id").filter(|s| valid_request_id(s)).unwrap_or_else(|| crate::ids::new_id().simple().to_string());
    depot.insert(REQUEST_ID, rid.clone());
    ctrl.call_next(req, depot, res).await;

    let h = res.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&rid) {
        h.insert("x-request-id", v);
    }
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    let csp = if req.uri().path().starts_with("/docs") { CSP_DOCS } else { CSP_APP };
    h.entry(header::CONTENT_SECURITY_POLICY).or_insert(HeaderValue::from_static(csp));

    let status = res.status_code.unwrap_or(StatusCode::OK).as_u16();
    let route = match req.matched_path() {
        "" => "unmatched",
        p => p,
    };
    let elapsed = started.elapsed();
    let state = extract::state(depot);
    state.metrics.observe(req.method().as_str(), route, status, elapsed.as_secs_f64());
    tracing::debug!(target: "friend::access", request_id = %rid, method = %req.method(), path = %req.uri().path(), status, micros = elapsed.as_micros() as u64, "request");
}

/// Requires a valid bearer token; puts the [`crate::access::Caller`] in the depot.
#[handler]
pub async fn require_auth(req: &mut Request, depot: &mut Depot, res: &mut Response, ctrl: &mut FlowCtrl) {
    let state = extract::state(depot);
    let result = match extract::bearer_token(req) {
        None => Err(AppError::Unauthorized("send `Authorization: Bearer <access_token>`".into())),
        Some(t) => crate::service::auth::authenticate(&state, &t),
    };
    match result {
        Ok(user) => {
            depot.insert_typed(user);
            ctrl.call_next(req, depot, res).await;
        }
        Err(e) => {
            if e.status() == 401 {
                res.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            write_error(e, depot, res);
            ctrl.skip_rest();
        }
    }
}

/// Requires a staff role (after [`require_auth`]), signed in with two-factor login when the school
/// requires it; puts the [`crate::access::Staff`] handle in the depot.
#[handler]
pub async fn require_staff(depot: &mut Depot, res: &mut Response, ctrl: &mut FlowCtrl) {
    let checked = extract::me(depot).and_then(|me| {
        let staff = me.require_staff()?;
        crate::service::two_factor::check_staff_session(&extract::state(depot), me)?;
        Ok(staff)
    });
    match checked {
        Ok(staff) => {
            depot.insert_typed(staff);
        }
        Err(e) => {
            write_error(e, depot, res);
            ctrl.skip_rest();
        }
    }
}

/// `Idempotency-Key` on mutations of signed-in users: a retry with the same key replays the first
/// successful answer (with `Idempotent-Replayed: true`) instead of doing the work twice.
#[handler]
pub async fn idempotency(req: &mut Request, depot: &mut Depot, res: &mut Response, ctrl: &mut FlowCtrl) {
    use crate::service::idempotency::{self as svc, Decision};
    let key = match req.header::<String>("idempotency-key") {
        Some(k) if req.method() != salvo::http::Method::GET => k,
        _ => {
            ctrl.call_next(req, depot, res).await;
            return;
        }
    };
    let (state, me) = match extract::me(depot) {
        Ok(me) => (extract::state(depot), me),
        Err(_) => {
            ctrl.call_next(req, depot, res).await;
            return;
        }
    };
    // The body is read once here (bounded like every body) and cached for the handler, which
    // parses the same bytes; its hash tells a retry from a different request under the same key.
    let limit = state.config.media.max_upload_bytes.max(state.config.http.max_json_bytes) as usize + 128 * 1024;
    let body = match req.payload_with_max_size(limit).await {
        Ok(b) => b.clone(),
        Err(e) => {
            let err = match e {
                salvo::http::ParseError::PayloadTooLarge => AppError::PayloadTooLarge(format!("bodies may be at most {limit} bytes")),
                other => AppError::BadRequest(format!("could not read the body: {other}")),
            };
            write_error(err, depot, res);
            ctrl.skip_rest();
            return;
        }
    };
    let content_type = req.header::<String>("content-type").unwrap_or_default();
    let fingerprint = svc::fingerprint(req.method().as_str(), req.uri().path(), &content_type, &body);
    match svc::begin(&state, me.id(), &key, fingerprint.clone()).await {
        Err(e) => {
            write_error(e, depot, res);
            ctrl.skip_rest();
        }
        Ok(Decision::Replay(r)) => {
            res.status_code(StatusCode::from_u16(r.status.unwrap_or(200)).unwrap_or(StatusCode::OK));
            if let Ok(v) = HeaderValue::from_str(&r.content_type) {
                res.headers_mut().insert(header::CONTENT_TYPE, v);
            }
            res.headers_mut().insert("idempotent-replayed", HeaderValue::from_static("true"));
            if !r.body.is_empty() {
                let _ = res.write_body(r.body.into_bytes());
            }
            ctrl.skip_rest();
        }
        Ok(Decision::Run) => {
            ctrl.call_next(req, depot, res).await;
            let status = res.status_code.unwrap_or(StatusCode::OK);
            let body = match &res.body {
                salvo::http::ResBody::Once(b) => std::str::from_utf8(b).ok().map(str::to_string),
                salvo::http::ResBody::Chunks(c) => String::from_utf8(c.iter().flat_map(|b| b.iter().copied()).collect()).ok(),
                salvo::http::ResBody::None => Some(String::new()),
                _ => None,
            };
            let outcome = match body {
                Some(body) if status.is_success() => {
                    let content_type = res.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
                    let record = svc::answer(&state, fingerprint, status.as_u16(), content_type, body);
                    svc::remember(&state, me.id(), &key, record).await
                }
                _ => svc::forget(&state, me.id(), &key).await,
            };
            if let Err(e) = outcome {
                tracing::warn!(error = %e, "could not store the idempotent answer");
            }
        }
    }
}
