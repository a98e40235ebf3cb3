//! Small helpers handlers share: the state, the caller, JSON bodies, client info, pagination.

use std::sync::Arc;

use salvo::prelude::*;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::{AppError, AppResult, FieldError};
use crate::service::auth::{AuthUser, ClientInfo};
use crate::state::AppState;

/// The application state put in the depot by the root hoop.
pub fn state(depot: &Depot) -> Arc<AppState> {
    depot.get_typed::<Arc<AppState>>().expect("state hoop runs first").clone()
}

/// The verified caller put in the depot by the auth hoop.
pub fn me(depot: &Depot) -> AppResult<AuthUser> {
    depot.get_typed::<AuthUser>().copied().map_err(|_| AppError::Unauthorized("sign in first".into()))
}

/// Reads a JSON body with the configured size limit; clear 400/413/415/422 errors.
pub async fn json<T: DeserializeOwned>(req: &mut Request, state: &AppState) -> AppResult<T> {
    if let Some(ct) = req.header::<String>("content-type")
        && !ct.to_ascii_lowercase().starts_with("application/json")
    {
        return Err(AppError::UnsupportedMediaType("send the body as application/json".into()));
    }
    let max = state.config.http.max_json_bytes as usize;
    let bytes = req.payload_with_max_size(max).await.map_err(|e| match e {
        salvo::http::ParseError::PayloadTooLarge => AppError::PayloadTooLarge(format!("JSON bodies may be at most {max} bytes")),
        other => AppError::BadRequest(format!("could not read the body: {other}")),
    })?;
    if bytes.len() > max {
        return Err(AppError::PayloadTooLarge(format!("JSON bodies may be at most {max} bytes")));
    }
    parse_json(bytes)
}

/// Parses JSON, telling syntax errors (400) from wrong fields (422).
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> AppResult<T> {
    if bytes.is_empty() {
        return Err(AppError::BadRequest("the request needs a JSON body".into()));
    }
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    match serde_path_to_error::deserialize(de) {
        Ok(v) => Ok(v),
        Err(e) => {
            let path = e.path().to_string();
            let inner = e.into_inner();
            if inner.is_syntax() || inner.is_eof() {
                Err(AppError::BadRequest(format!("the body is not valid JSON: {inner}")))
            } else {
                let field = if path == "." { missing_field(&inner.to_string()).unwrap_or_default() } else { path };
                Err(AppError::Validation(vec![FieldError::new(field, clean_serde_message(&inner.to_string()))]))
            }
        }
    }
}

fn missing_field(msg: &str) -> Option<String> {
    let start = msg.find('`')? + 1;
    let end = start + msg[start..].find('`')?;
    Some(msg[start..end].to_string())
}

fn clean_serde_message(msg: &str) -> String {
    msg.split(" at line ").next().unwrap_or(msg).to_string()
}

/// Who is calling, for sessions and throttling.
pub fn client(req: &Request, state: &AppState) -> ClientInfo {
    let forwarded = state
        .config
        .http
        .trust_forwarded_for
        .then(|| req.header::<String>("x-forwarded-for"))
        .flatten()
        .and_then(|v| v.split(',').next().map(|s| s.trim().to_string()));
    let ip = forwarded.unwrap_or_else(|| req.remote_addr().ip().map(|i| i.to_string()).unwrap_or_default());
    ClientInfo { ip, device: req.header::<String>("user-agent").unwrap_or_default() }
}

/// A path parameter that must be an id (404 when it is not one, as for an unknown id).
pub fn path_id(req: &Request, name: &str, what: &'static str) -> AppResult<uuid::Uuid> {
    req.param::<String>(name).as_deref().and_then(crate::ids::parse).ok_or(AppError::NotFound(what))
}

/// A page of results: `{ items, next_cursor }`.
#[derive(Serialize, ToSchema)]
pub struct Page<T: ToSchema + 'static> {
    /// This page.
    pub items: Vec<T>,
    /// Pass as `cursor` for the next page; null at the end.
    pub next_cursor: Option<String>,
}

/// `?limit=&cursor=` with the API's default (20) and maximum (100).
#[derive(Debug, Deserialize)]
pub struct Paging {
    /// Page size.
    pub limit: usize,
    /// Opaque cursor from the previous page.
    pub cursor: Option<String>,
}

/// Reads `limit` and `cursor` from the query.
pub fn paging(req: &Request) -> AppResult<Paging> {
    let limit = match req.query::<String>("limit") {
        None => 20,
        Some(s) => match s.parse::<usize>() {
            Ok(n) if (1..=100).contains(&n) => n,
            _ => return Err(AppError::field("limit", "must be a whole number from 1 to 100")),
        },
    };
    Ok(Paging { limit, cursor: req.query::<String>("cursor").filter(|c| !c.is_empty()) })
}
