//! Small helpers handlers share: the state, the caller, JSON bodies, client info, pagination.

use std::sync::Arc;

use salvo::prelude::*;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::access::{Admin, Caller, Staff};
use crate::error::{AppError, AppResult, FieldError};
use crate::realtime::Hub;
use crate::service::auth::ClientInfo;
use crate::state::AppState;

/// A `cursor` that is an id (the last item of the previous page); 422 otherwise.
pub fn cursor_id(cursor: Option<&str>) -> AppResult<Option<uuid::Uuid>> {
    cursor.map(|c| uuid::Uuid::try_parse(c).map_err(|_| AppError::field("cursor", "invalid cursor"))).transpose()
}

/// The application state put in the depot by the root hoop.
pub fn state(depot: &Depot) -> Arc<AppState> {
    depot.get_typed::<Arc<AppState>>().expect("state hoop runs first").clone()
}

/// Runs `read` (a storage scan, a search, a chart, an export, a blob read) on the state's read
/// threads instead of the async workers, so light requests keep their latency (DESIGN rule 5).
/// A full read queue answers 503 `unavailable`.
pub async fn off_workers<T, F>(state: &Arc<AppState>, read: F) -> AppResult<T>
where
    T: Send + 'static,
    F: FnOnce(&AppState) -> AppResult<T> + Send + 'static,
{
    let st = state.clone();
    state.reads.run(move || read(&st)).await?
}

/// The WebSocket hub put in the depot by the root hoop.
pub fn hub(depot: &Depot) -> Arc<Hub> {
    depot.get_typed::<Arc<Hub>>().expect("state hoop runs first").clone()
}

/// The verified caller put in the depot by the auth hoop.
pub fn me(depot: &Depot) -> AppResult<Caller> {
    depot.get_typed::<Caller>().copied().map_err(|_| AppError::Unauthorized("sign in first".into()))
}

/// The staff handle put in the depot by the staff hoop of `/admin`.
pub fn staff(depot: &Depot) -> AppResult<Staff> {
    depot.get_typed::<Staff>().copied().map_err(|_| AppError::Forbidden("only staff may do this".into()))
}

/// Admin rights of the staff caller, or 403.
pub fn admin(depot: &Depot) -> AppResult<Admin> {
    staff(depot)?.admin()
}

/// The token of an `Authorization` header value with the `Bearer` scheme (case-insensitive, as
/// RFC 7235 says; spaces around the token ignored). `None` for any other scheme or an empty token.
pub fn bearer(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim_start().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty() && !token.contains(' ')).then_some(token)
}

/// The bearer token of a request, if it sent one.
pub fn bearer_token(req: &Request) -> Option<String> {
    req.headers().get(salvo::http::header::AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(bearer).map(str::to_string)
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

#[cfg(test)]
mod tests {
    use super::bearer;

    #[test]
    fn bearer_scheme_is_case_insensitive() {
        assert_eq!(bearer("Bearer abc"), Some("abc"));
        assert_eq!(bearer("bearer abc"), Some("abc"));
        assert_eq!(bearer("BEARER  abc "), Some("abc"));
        assert_eq!(bearer("Basic abc"), None);
        assert_eq!(bearer("Bearer"), None);
        assert_eq!(bearer("Bearer "), None);
        assert_eq!(bearer("Bearerabc"), None);
    }
}
