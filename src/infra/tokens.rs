//! Access tokens (HS256 JWT with a pinned algorithm, a token type, small leeway) and opaque
//! refresh tokens (`<session id>.<generation>.<mac>`: every one a session ever had is recognised,
//! so presenting any rotated one is detected as reuse, however many rotations ago).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use hmac::{Hmac, Mac};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
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
    /// Key of the refresh tokens' MACs (derived from the same secret).
    refresh_key: Vec<u8>,
}

impl TokenKeys {
    /// Keys from a secret.
    pub fn new(secret: &[u8], ttl: i64) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 5;
        validation.validate_nbf = true;
        validation.validate_exp = true;
        validation.set_required_spec_claims(&["exp", "nbf", "sub"]);
        let refresh_key = Sha256::new_with_prefix(b"friend refresh tokens v1\0").chain_update(secret).finalize().to_vec();
        Self { enc: EncodingKey::from_secret(secret), dec: DecodingKey::from_secret(secret), validation, ttl, refresh_key }
    }

    /// The refresh token of `session` at `generation`: `<session>.<generation>.<mac>`, where the
    /// MAC covers the session's random seed (stored) under this server's key (not stored with
    /// the data), so neither a copy of the database nor the key alone can make one.
    pub fn refresh_token(&self, session: Uuid, generation: u64, seed: &str) -> String {
        format!("{}.{generation}.{}", session.simple(), self.refresh_mac(session, generation, seed))
    }

    fn refresh_mac(&self, session: Uuid, generation: u64, seed: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.refresh_key).expect("hmac takes any key");
        mac.update(format!("{}|{generation}|{seed}", session.simple()).as_bytes());
        B64.encode(&mac.finalize().into_bytes()[..24])
    }

    /// Whether `token` was issued for `session` with `seed`, and at which generation.
    pub fn refresh_generation(&self, token: &RefreshToken, seed: &str) -> Option<u64> {
        match token {
            RefreshToken::Generation { session, generation, mac } if !seed.is_empty() => {
                let expected = self.refresh_mac(*session, *generation, seed);
                let same = expected.len() == mac.len() && expected.bytes().zip(mac.bytes()).fold(0u8, |a, (x, y)| a | (x ^ y)) == 0;
                same.then_some(*generation)
            }
            _ => None,
        }
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

/// Letters and digits that cannot be mistaken for one another when read aloud or copied by hand
/// (no 0/O, 1/I/L).
const CODE_ALPHABET: &[u8] = b"ABCDEFGHJKMNPQRSTUVWXYZ23456789";

/// A code a person types: 8 characters of [`CODE_ALPHABET`] in two groups of four, e.g.
/// `K7QM-4XPR` (about 40 bits).
pub fn typeable_code() -> String {
    let mut out = String::with_capacity(9);
    for i in 0..8 {
        if i == 4 {
            out.push('-');
        }
        out.push(CODE_ALPHABET[rand::Rng::gen_range(&mut rand::rngs::OsRng, 0..CODE_ALPHABET.len())] as char);
    }
    out
}

/// A typed code as it was issued: upper case, spaces and dashes dropped.
pub fn normalize_code(typed: &str) -> String {
    typed.chars().filter(|c| !c.is_whitespace() && *c != '-').flat_map(char::to_uppercase).collect()
}

/// A presented refresh token.
#[derive(Debug, PartialEq, Eq)]
pub enum RefreshToken {
    /// `<session>.<random>`, issued before generations (its sha256 is stored).
    Legacy {
        /// Session id.
        session: Uuid,
        /// sha256 (hex) of the whole token.
        hash: String,
    },
    /// `<session>.<generation>.<mac>`.
    Generation {
        /// Session id.
        session: Uuid,
        /// How many times the session had been refreshed when it was issued (from 1).
        generation: u64,
        /// Its MAC.
        mac: String,
    },
}

impl RefreshToken {
    /// Its session.
    pub fn session(&self) -> Uuid {
        match self {
            RefreshToken::Legacy { session, .. } | RefreshToken::Generation { session, .. } => *session,
        }
    }
}

/// Reads a refresh token of either form.
pub fn parse_refresh(token: &str) -> Option<RefreshToken> {
    let mut parts = token.split('.');
    let session = Uuid::try_parse(parts.next()?).ok()?;
    match (parts.next(), parts.next(), parts.next()) {
        (Some(rest), None, None) if (20..=100).contains(&rest.len()) => {
            Some(RefreshToken::Legacy { session, hash: sha256_hex(token.as_bytes()) })
        }
        (Some(g), Some(mac), None) if (1..=100).contains(&mac.len()) => {
            Some(RefreshToken::Generation { session, generation: g.parse().ok()?, mac: mac.to_string() })
        }
        _ => None,
    }
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
    fn refresh_tokens_parse_to_their_session_and_generation() {
        let keys = TokenKeys::new(b"secret", 900);
        let s = Uuid::now_v7();
        let t = keys.refresh_token(s, 7, "seed");
        let parsed = parse_refresh(&t).unwrap();
        assert_eq!(parsed.session(), s);
        assert_eq!(keys.refresh_generation(&parsed, "seed"), Some(7));
        assert_eq!(keys.refresh_generation(&parsed, "another seed"), None);
        assert_eq!(TokenKeys::new(b"other", 900).refresh_generation(&parsed, "seed"), None);
        let legacy = format!("{}.{}", s.simple(), random_secret(32));
        assert!(matches!(parse_refresh(&legacy), Some(RefreshToken::Legacy { session, .. }) if session == s));
        assert_eq!(parse_refresh("nonsense"), None);
        assert_eq!(parse_refresh(&format!("{}.x.abc", s.simple())), None);
    }
}
