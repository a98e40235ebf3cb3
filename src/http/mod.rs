//! HTTP: salvo lives only here. One `router()` per file, thin handlers, OpenAPI annotations.

pub mod activity;
pub mod admin;
pub mod announcements;
pub mod auth;
pub mod backups;
pub mod chat;
pub mod contract;
pub mod extract;
pub mod goals;
pub mod hoops;
pub mod insights;
pub mod listen;
pub mod me;
pub mod media;
pub mod moderation;
pub mod notes;
pub mod notifications;
pub mod ntfy;
pub mod ops;
pub mod problem;
pub mod reply;
pub mod reports;
pub mod social;
pub mod two_factor;
pub mod web_push;
pub mod ws;

use std::sync::Arc;
use std::time::Duration;

use salvo::catcher::Catcher;
use salvo::cors::{AllowHeaders, AllowMethods, AllowOrigin, Cors};
use salvo::oapi::security::{Http, HttpAuthScheme, SecurityScheme};
use salvo::oapi::swagger_ui::SwaggerUi;
use salvo::oapi::{Info, OpenApi};
use salvo::prelude::*;

use crate::state::AppState;

/// The API under `/api/v1`.
fn api() -> Router {
    Router::with_path("api/v1")
        .push(auth::public())
        .push(admin::public())
        .push(media::public())
        .push(ws::public())
        .push(web_push::public())
        .push(
            Router::new()
                .hoop(hoops::require_auth)
                .hoop(hoops::idempotency)
                .push(auth::private())
                .push(two_factor::router())
                .push(social::router())
                .push(chat::router())
                .push(activity::router())
                .push(activity::timer_router())
                .push(goals::router())
                .push(notes::router())
                .push(notifications::router())
                .push(announcements::router())
                .push(moderation::router())
                .push(ntfy::private())
                .push(web_push::private())
                .push(reports::router())
                .push(insights::router())
                .push(ws::private())
                .push(me::router())
                .push(media::private())
                .push(admin::private()),
        )
}

/// The OpenAPI document of every route.
pub fn openapi(router: &Router) -> OpenApi {
    let info = Info::new("Friend API", env!("CARGO_PKG_VERSION")).description(
        "Self-hosted server for study groups. Errors are RFC 9457 problem documents \
         (`application/problem+json`) with a stable `code`. Lists are `{ items, next_cursor }` \
         with `?limit=` (1–100, default 20) and `?cursor=`. IDs are UUIDv7 strings; timestamps RFC 3339 UTC. \
         Mutations of signed-in users accept an `Idempotency-Key` header (1–255 visible ASCII characters, \
         per user, kept 24 h): a retry with the same key gets the first successful answer again, with \
         `Idempotent-Replayed: true`; the same key for a different request (another method, path or \
         body) is refused with 422 `idempotency_key_reused`; a failed request does not keep its key. \
         The `Authorization` scheme `Bearer` is case-insensitive (RFC 7235).",
    );
    // Component names must match `^[a-zA-Z0-9._-]+$` (OpenAPI 3.1): `Page<T>` becomes `Page_T`.
    static NAMER: std::sync::Once = std::sync::Once::new();
    NAMER.call_once(|| salvo::oapi::naming::set_namer(salvo::oapi::naming::FlexNamer::new().generic_delimiter("_", "")));
    contract::constrain(
        OpenApi::with_info(info)
            .add_security_scheme("bearer", SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer).bearer_format("JWT")))
            .merge_router(router),
    )
}

fn cors(origins: &[String]) -> Option<Cors> {
    if origins.is_empty() {
        return None;
    }
    let origin = if origins.iter().any(|o| o == "*") {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(origins.iter().filter_map(|o| salvo::http::HeaderValue::from_str(o).ok()))
    };
    Some(
        Cors::new()
            .allow_origin(origin)
            .allow_methods(AllowMethods::list([
                salvo::http::Method::GET,
                salvo::http::Method::POST,
                salvo::http::Method::PUT,
                salvo::http::Method::PATCH,
                salvo::http::Method::DELETE,
            ]))
            .allow_headers(AllowHeaders::list(
                ["authorization", "content-type", "idempotency-key", "x-request-id"].map(salvo::http::HeaderName::from_static),
            ))
            .max_age(600),
    )
}

/// The whole HTTP service for `state`, with the WebSocket `hub`.
pub fn service(state: Arc<AppState>, hub: Arc<crate::realtime::Hub>) -> Service {
    let router = Router::new().push(api()).push(ops::router()).push(ntfy::public());
    let doc = openapi(&router);
    let router =
        router.push(doc.into_router("/openapi.json")).push(SwaggerUi::new("/openapi.json").title("Friend API").into_router("docs"));
    let body_limit = state.config.media.max_upload_bytes.max(state.config.http.max_json_bytes) + 128 * 1024;
    let timeout = Duration::from_secs(state.config.http.request_timeout_secs.max(1));
    let mut service = Service::new(router)
        .catcher(Catcher::default().hoop(problem::catch_errors))
        .hoop(hoops::InjectState(state.clone(), hub))
        .hoop(hoops::observe);
    if let Some(c) = cors(&state.config.http.cors_origins) {
        service = service.hoop(c.into_handler());
    }
    service.hoop(salvo::size_limiter::max_size(body_limit)).hoop(salvo::timeout::Timeout::new(timeout))
}
