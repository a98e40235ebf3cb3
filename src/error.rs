//! The one error type of the server. Each variant has an HTTP status and a stable `code`;
//! `http::problem` turns it into an RFC 9457 problem document. Internal causes are logged, never sent.

/// One invalid field of a request.
#[derive(Clone, Debug, serde::Serialize, PartialEq, Eq)]
pub struct FieldError {
    /// The field name as the client sent it (`settings.theme` for nested fields).
    pub field: String,
    /// What is wrong, for a person.
    pub message: String,
}

impl FieldError {
    /// Builds a field error.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self { field: field.into(), message: message.into() }
    }
}

/// Every error the API can return.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// 422 `validation_failed`: fields are invalid; `errors` lists them.
    #[error("some fields are invalid")]
    Validation(Vec<FieldError>),
    /// 422 `idempotency_key_reused`: the `Idempotency-Key` was already used for a different
    /// request (another method, path or body); use a new key for a new request.
    #[error("this Idempotency-Key was already used for a different request; use a new key for a new request")]
    IdempotencyKeyReused,
    /// 400 `bad_request`: the request cannot be understood (malformed JSON, bad query).
    #[error("{0}")]
    BadRequest(String),
    /// 401 `invalid_credentials`: login or password is wrong (deliberately not saying which).
    #[error("the login or password is wrong")]
    InvalidCredentials,
    /// 401 `unauthorized`: the bearer token is missing, invalid or expired.
    #[error("{0}")]
    Unauthorized(String),
    /// 401 `invalid_token`: a refresh token or setup code is unknown, expired or revoked.
    #[error("{0}")]
    InvalidToken(String),
    /// 401 `two_factor_required`: the password was right and the account uses two-factor login:
    /// sign in again with `two_factor_code` (the code sent was missing, wrong or already used).
    #[error("{0}")]
    TwoFactorRequired(String),
    /// 403 `two_factor_setup_required`: the school requires two-factor login for staff; turn it on
    /// (`POST /auth/2fa/setup`, then `/auth/2fa/enable`) or sign in with it.
    #[error("{0}")]
    TwoFactorSetupRequired(String),
    /// 403 `account_disabled`: the account was disabled by staff.
    #[error("this account is disabled; ask a member of staff")]
    AccountDisabled,
    /// 403 `forbidden`: the caller may not do this.
    #[error("{0}")]
    Forbidden(String),
    /// 403 `registration_closed`: registration is closed or needs an invite.
    #[error("{0}")]
    RegistrationClosed(String),
    /// 404 `not_found`: no such thing, or the caller may not know it exists.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// 409 `conflict`: e.g. a taken username or email; `errors` names the field.
    #[error("{0}")]
    Conflict(String, Vec<FieldError>),
    /// 413 `payload_too_large`.
    #[error("{0}")]
    PayloadTooLarge(String),
    /// 415 `unsupported_media_type`: the body's type is not accepted.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// 429 `rate_limited`, with `Retry-After` in seconds.
    #[error("too many attempts; try again in {0} s")]
    RateLimited(u64),
    /// 503 `unavailable`: the server is starting, stopping or overloaded.
    #[error("{0}")]
    Unavailable(String),
    /// 503 `insights_unavailable`: the insights model is missing or corrupt (the log and `/readyz`
    /// say why); everything else works.
    #[error("{0}")]
    InsightsUnavailable(String),
    /// 500 `internal`: a bug or an I/O failure; the cause is logged.
    #[error("internal error")]
    Internal(String),
    /// The user's storage quota would be exceeded (507).
    #[error("{0}")]
    QuotaExceeded(String),
    /// The server's disk is too full to accept files (507).
    #[error("{0}")]
    StorageFull(String),
    /// 507 `insufficient_storage`: the data disk is nearly full, so no write is started (nothing
    /// is half-written; reads go on; writes work again once space is freed).
    #[error("{0}")]
    InsufficientStorage(String),
}

impl AppError {
    /// HTTP status code.
    pub fn status(&self) -> u16 {
        match self {
            Self::Validation(_) | Self::IdempotencyKeyReused => 422,
            Self::BadRequest(_) => 400,
            Self::InvalidCredentials | Self::Unauthorized(_) | Self::InvalidToken(_) | Self::TwoFactorRequired(_) => 401,
            Self::TwoFactorSetupRequired(_) | Self::AccountDisabled | Self::Forbidden(_) | Self::RegistrationClosed(_) => 403,
            Self::NotFound(_) => 404,
            Self::Conflict(..) => 409,
            Self::PayloadTooLarge(_) => 413,
            Self::UnsupportedMediaType(_) => 415,
            Self::RateLimited(_) => 429,
            Self::Unavailable(_) | Self::InsightsUnavailable(_) => 503,
            Self::Internal(_) => 500,
            Self::QuotaExceeded(_) | Self::StorageFull(_) | Self::InsufficientStorage(_) => 507,
        }
    }

    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Validation(_) => "validation_failed",
            Self::IdempotencyKeyReused => "idempotency_key_reused",
            Self::BadRequest(_) => "bad_request",
            Self::InvalidCredentials => "invalid_credentials",
            Self::Unauthorized(_) => "unauthorized",
            Self::InvalidToken(_) => "invalid_token",
            Self::TwoFactorRequired(_) => "two_factor_required",
            Self::TwoFactorSetupRequired(_) => "two_factor_setup_required",
            Self::AccountDisabled => "account_disabled",
            Self::Forbidden(_) => "forbidden",
            Self::RegistrationClosed(_) => "registration_closed",
            Self::NotFound(_) => "not_found",
            Self::Conflict(..) => "conflict",
            Self::PayloadTooLarge(_) => "payload_too_large",
            Self::UnsupportedMediaType(_) => "unsupported_media_type",
            Self::RateLimited(_) => "rate_limited",
            Self::Unavailable(_) => "unavailable",
            Self::InsightsUnavailable(_) => "insights_unavailable",
            Self::Internal(_) => "internal",
            Self::QuotaExceeded(_) => "quota_exceeded",
            Self::StorageFull(_) => "storage_full",
            Self::InsufficientStorage(_) => "insufficient_storage",
        }
    }

    /// Field errors, if any.
    pub fn field_errors(&self) -> &[FieldError] {
        match self {
            Self::Validation(e) | Self::Conflict(_, e) => e,
            _ => &[],
        }
    }

    /// A single-field validation error.
    pub fn field(field: &str, message: impl Into<String>) -> Self {
        Self::Validation(vec![FieldError::new(field, message)])
    }

    /// Wraps an internal cause (logged by the HTTP layer, never sent).
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        Self::Internal(cause.to_string())
    }

    /// The message with an internal cause spelled out: for logs and staff, never for a client.
    pub fn cause(&self) -> String {
        match self {
            Self::Internal(cause) => cause.clone(),
            other => other.to_string(),
        }
    }
}

/// Result alias used across services.
pub type AppResult<T> = Result<T, AppError>;
