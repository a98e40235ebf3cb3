//! Access tokens (HS256 JWT with a pinned algorithm, a token type, small leeway) and opaque
//! refresh tokens (`<session id>.<random>`, stored as sha256).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::error::{AppError, AppResult};
use crate::model::Role;
use crate::store::blobs::sha256_hex;

/// Claims of an access token.
#[derive(Debug, Serialize, Deserialize)]
pub struct AccessClaims {
    /// User id.
    pub sub: Uuid,
    /// Session id.
    pub sid: Uuid,
    /// Role when issued (authorization re-reads the user).
    pub role: Role,
    /// Always `access`.
    pub typ: String,
    /// Issued at.
    pub iat: i64,
    /// Not before.
    pub nbf: i64,
    /// Expires.
    pub exp: i64,
}

/// Keys and validation rules for access tokens.
#[derive(Clone)]
pub struct TokenKeys {
    enc: EncodingKey,
    dec: DecodingKey,
    validation: Validation,
    /// Access token lifetime in seconds.
    pub ttl: i64,
}

impl TokenKeys {
    /// Keys from a secret.
    pub fn new(secret: &[u8], ttl: i64) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 5;
        validation.validate_nbf = true;
        validation.validate_exp = true;
        validation.set_required_spec_claims(&["exp", "nbf", "sub"]);
        Self { enc: EncodingKey::from_secret(secret), dec: DecodingKey::from_secret(secret), validation, ttl }
    }

    /// Issues an access token at `now` (unix seconds).
    pub fn issue(&self, user: Uuid, session: Uuid, role: Role, now: i64) -> AppResult<String> {
        let claims = AccessClaims { sub: user, sid: session, role, typ: "access".into(), iat: now, nbf: now, exp: now + self.ttl };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.enc).map_err(AppError::internal)
    }

    /// Verifies an access token against `now` (unix seconds, from the injectable clock).
    pub fn verify(&self, token: &str, now: i64) -> AppResult<AccessClaims> {
        let mut v = self.validation.clone();
        // jsonwebtoken reads the system clock; check times ourselves against the server clock.
        v.validate_exp = false;
        v.validate_nbf = false;
        let data = jsonwebtoken::decode::<AccessClaims>(token, &self.dec, &v)
            .map_err(|_| AppError::Unauthorized("the access token is invalid".into()))?;
        let c = data.claims;
        if c.typ != "access" {
            return Err(AppError::Unauthorized("this is not an access token".into()));
        }
        let leeway = self.validation.leeway as i64;
        if c.exp + leeway < now {
            return Err(AppError::Unauthorized("the access token has expired; refresh it".into()));
        }
        if c.nbf - leeway > now {
            return Err(AppError::Unauthorized("the access token is not valid yet".into()));
        }
        Ok(c)
    }
}

/// A new random secret of `n` bytes, base64url.
pub fn random_secret(n: usize) -> String {
    let mut b = vec![0u8; n];
    rand::rngs::OsRng.fill_bytes(&mut b);
    B64.encode(b)
}

/// A new refresh token for a session and the hash to store.
pub fn new_refresh(session: Uuid) -> (String, String) {
    let token = format!("{}.{}", session.simple(), random_secret(32));
    let hash = sha256_hex(token.as_bytes());
    (token, hash)
}

/// Splits a refresh token into its session id and hash.
pub fn parse_refresh(token: &str) -> Option<(Uuid, String)> {
    let (sid, rest) = token.split_once('.')?;
    if rest.len() < 20 || rest.len() > 100 {
        return None;
    }
    Some((Uuid::try_parse(sid).ok()?, sha256_hex(token.as_bytes())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn access_token_round_trip_and_expiry() {
        let k = TokenKeys::new(b"0123456789abcdef0123456789abcdef", 60);
        let (u, s) = (Uuid::now_v7(), Uuid::now_v7());
        let t = k.issue(u, s, Role::Student, 1_000_000).unwrap();
        let c = k.verify(&t, 1_000_030).unwrap();
        assert_eq!((c.sub, c.sid), (u, s));
        assert!(k.verify(&t, 1_000_070).is_err(), "expired past leeway");
        assert!(k.verify(&t, 999_000).is_err(), "not valid yet");
        let other = TokenKeys::new(b"another-secret-another-secret-xx", 60);
        assert!(other.verify(&t, 1_000_030).is_err(), "wrong key");
    }

    #[test]
    fn refresh_tokens_parse_to_their_session() {
        let s = Uuid::now_v7();
        let (t, h) = new_refresh(s);
        assert_eq!(parse_refresh(&t), Some((s, h)));
        assert_eq!(parse_refresh("nonsense"), None);
    }
}
