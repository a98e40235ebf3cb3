//! RFC 9457 problem documents: the one mapping from [`AppError`] to an HTTP response, and a
//! catcher that gives router-level errors (unknown route, wrong method, body too large) the same shape.

use salvo::http::{HeaderValue, StatusCode, header};
use salvo::oapi::{self, Components, EndpointOutRegister, Operation, ToSchema};
use salvo::prelude::*;
use serde::Serialize;

use crate::error::{AppError, FieldError};

/// An RFC 9457 problem document.
#[derive(Serialize, ToSchema)]
pub struct Problem {
    /// A URI naming the problem type (`about:blank` or `urn:friend:problem:<code>`).
    #[serde(rename = "type")]
    pub kind: String,
    /// Short summary of the status.
    pub title: String,
    /// HTTP status.
    pub status: u16,
    /// What went wrong, for a person.
    pub detail: String,
    /// Stable machine-readable code (`validation_failed`, `not_found`, ...). Any write may answer
    /// 507 `insufficient_storage` while the server's disk is nearly full: nothing was saved, and
    /// the same request succeeds once space is freed.
    pub code: String,
    /// Per-field errors for 409/422.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[salvo(schema(value_type = Vec<FieldErrorDoc>))]
    pub errors: Vec<FieldError>,
    /// The request id (also in `X-Request-Id`), for support.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

/// One invalid field.
#[derive(Serialize, ToSchema)]
pub struct FieldErrorDoc {
    /// Field name.
    pub field: String,
    /// What is wrong.
    pub message: String,
}

/// Writes a problem document to `res`.
pub fn write_problem(res: &mut Response, status: u16, code: &str, detail: String, errors: Vec<FieldError>, request_id: Option<String>) {
    let s = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let p = Problem {
        kind: format!("urn:friend:problem:{code}"),
        title: s.canonical_reason().unwrap_or("Error").to_string(),
        status,
        detail,
        code: code.to_string(),
        errors,
        request_id,
    };
    res.status_code(s);
    let body = serde_json::to_vec(&p).unwrap_or_default();
    res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
    let _ = res.write_body(body);
}

fn request_id(depot: &Depot) -> Option<String> {
    depot.get::<String>(super::hoops::REQUEST_ID).ok().cloned()
}

/// Writes an application error (logging internal causes).
pub fn write_error(e: AppError, depot: &Depot, res: &mut Response) {
    let rid = request_id(depot);
    match &e {
        AppError::Internal(cause) => tracing::error!(request_id = ?rid, cause = %cause, "internal error"),
        AppError::Unavailable(cause) => tracing::warn!(request_id = ?rid, cause = %cause, "unavailable"),
        _ => {}
    }
    if let AppError::RateLimited(secs) = e
        && let Ok(v) = HeaderValue::from_str(&secs.to_string())
    {
        res.headers_mut().insert(header::RETRY_AFTER, v);
    }
    let errors = e.field_errors().to_vec();
    write_problem(res, e.status(), e.code(), e.to_string(), errors, rid);
}

#[async_trait]
impl Writer for AppError {
    async fn write(self, _req: &mut Request, depot: &mut Depot, res: &mut Response) {
        write_error(self, depot, res);
    }
}

impl EndpointOutRegister for AppError {
    fn register(components: &mut Components, operation: &mut Operation) {
        let schema = Problem::to_schema(components);
        operation.responses.insert(
            "default",
            oapi::Response::new("An RFC 9457 problem document; see `code`.")
                .add_content("application/problem+json", oapi::Content::new(schema)),
        );
    }
}

/// Catcher hoop: any error response without a body becomes a problem document.
#[handler]
pub async fn catch_errors(depot: &mut Depot, res: &mut Response, ctrl: &mut FlowCtrl) {
    let status = res.status_code.unwrap_or(StatusCode::NOT_FOUND);
    if !(status.is_client_error() || status.is_server_error()) {
        return;
    }
    let (code, detail) = match status {
        StatusCode::NOT_FOUND => ("not_found", "there is nothing at this address".to_string()),
        StatusCode::METHOD_NOT_ALLOWED => ("method_not_allowed", "this method is not allowed here".to_string()),
        StatusCode::PAYLOAD_TOO_LARGE => ("payload_too_large", "the request body is too large".to_string()),
        StatusCode::REQUEST_TIMEOUT | StatusCode::SERVICE_UNAVAILABLE => ("unavailable", "the request took too long".to_string()),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ("unsupported_media_type", "this content type is not accepted".to_string()),
        StatusCode::BAD_REQUEST => ("bad_request", "the request could not be understood".to_string()),
        s if s.is_server_error() => ("internal", "internal error".to_string()),
        s => ("error", s.canonical_reason().unwrap_or("error").to_lowercase()),
    };
    write_problem(res, status.as_u16(), code, detail, vec![], request_id(depot));
    ctrl.skip_rest();
}
