//! argon2id hashing on a bounded blocking pool, so a login storm never stalls other requests.

use std::sync::Arc;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString, rand_core::OsRng};
use argon2::{Argon2, Params};
use tokio::sync::Semaphore;

use crate::error::{AppError, AppResult};

/// Longest password accepted, in bytes (argon2 would hash any length).
pub const MAX_PASSWORD_BYTES: usize = 1024;
/// Shortest password accepted, in characters.
pub const MIN_PASSWORD_CHARS: usize = 8;

/// Hashes and verifies passwords with at most N at once.
#[derive(Clone)]
pub struct Hasher {
    permits: Arc<Semaphore>,
    /// A real hash of a random password, verified against when the account does not exist
    /// so that "no such user" costs the same time as "wrong password".
    dummy: Arc<String>,
}

fn argon() -> Argon2<'static> {
    // OWASP: m = 19 MiB, t = 2, p = 1 (the crate's defaults, pinned here).
    let params = Params::new(19 * 1024, 2, 1, None).expect("valid argon2 params");
    Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params)
}

fn hash_sync(password: &str) -> AppResult<String> {
    let salt = SaltString::generate(&mut OsRng);
    argon().hash_password(password.as_bytes(), &salt).map(|h| h.to_string()).map_err(AppError::internal)
}

/// Checks length rules; returns the field error message if the password is not acceptable.
pub fn check_policy(password: &str) -> Result<(), String> {
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(format!("must be at most {MAX_PASSWORD_BYTES} bytes"));
    }
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(format!("must be at least {MIN_PASSWORD_CHARS} characters"));
    }
    Ok(())
}

impl Hasher {
    /// A pool of `concurrency` hashes at once (0 = CPU cores).
    pub fn new(concurrency: usize) -> Self {
        let n = if concurrency == 0 { std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2) } else { concurrency };
        let dummy = hash_sync("not a real password, only for timing").expect("hash works");
        Self { permits: Arc::new(Semaphore::new(n)), dummy: Arc::new(dummy) }
    }

    /// A slot of the bounded CPU pool, for other heavy work (image decoding).
    pub async fn permit(&self) -> AppResult<tokio::sync::OwnedSemaphorePermit> {
        self.permits.clone().acquire_owned().await.map_err(|_| AppError::Unavailable("shutting down".into()))
    }

    async fn run<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> AppResult<T> {
        let _permit = self.permits.acquire().await.map_err(|_| AppError::Unavailable("shutting down".into()))?;
        tokio::task::spawn_blocking(f).await.map_err(AppError::internal)
    }

    /// Hashes a password (policy already checked).
    pub async fn hash(&self, password: String) -> AppResult<String> {
        self.run(move || hash_sync(&password)).await?
    }

    /// True if `password` matches `hash`. With `hash = None` it verifies against a dummy (always false).
    pub async fn verify(&self, password: String, hash: Option<String>) -> AppResult<bool> {
        if password.len() > MAX_PASSWORD_BYTES {
            return Ok(false);
        }
        let real = hash.is_some();
        let hash = hash.unwrap_or_else(|| self.dummy.as_ref().clone());
        let ok = self
            .run(move || PasswordHash::new(&hash).map(|h| argon().verify_password(password.as_bytes(), &h).is_ok()).unwrap_or(false))
            .await?;
        Ok(ok && real)
    }
}
