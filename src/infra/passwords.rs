//! argon2id hashing on a bounded blocking pool, so a login storm never stalls other requests.

use super::cpu_pool::CpuPool;
use std::cell::RefCell;

use argon2::password_hash::PasswordHash;
use argon2::{Algorithm, Argon2, Block, Params, Version};
use base64::Engine;
use base64::engine::general_purpose::STANDARD_NO_PAD as B64;

use crate::error::{AppError, AppResult};

/// Longest password accepted, in bytes (argon2 would hash any length).
pub const MAX_PASSWORD_BYTES: usize = 1024;
/// Shortest password accepted, in characters.
pub const MIN_PASSWORD_CHARS: usize = 8;

/// Hashes and verifies passwords on the CPU pool (at most one per worker at once).
#[derive(Clone)]
pub struct Hasher {
    pool: CpuPool,
}

/// A real hash (same parameters) of a password nobody knows, verified against when the account does
/// not exist so that "no such user" costs the same time as "wrong password".
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$WPpsZdQusp/LMCyIZx2V2g$iAf3M/yrJU7cYBlDYij+5GAKd0QlapLoH8tAKF/GqQg";

thread_local! {
    /// Each worker keeps its 19 MiB of argon2 memory and reuses it for every hash.
    static BLOCKS: RefCell<Vec<Block>> = const { RefCell::new(Vec::new()) };
}

fn owasp() -> Params {
    // OWASP: m = 19 MiB, t = 2, p = 1, 32-byte output.
    Params::new(19 * 1024, 2, 1, Some(32)).expect("valid argon2 params")
}

/// argon2 with this thread's reusable memory.
fn compute(algorithm: Algorithm, params: Params, password: &[u8], salt: &[u8], out_len: usize) -> AppResult<Vec<u8>> {
    let need = params.block_count();
    let argon = Argon2::new(algorithm, Version::V0x13, params);
    BLOCKS.with(|blocks| {
        let mut blocks = blocks.borrow_mut();
        if blocks.len() < need {
            blocks.resize(need, Block::default());
        }
        let mut out = vec![0u8; out_len];
        argon.hash_password_into_with_memory(password, salt, &mut out, &mut blocks[..need]).map_err(AppError::internal)?;
        Ok(out)
    })
}

fn hash_sync(password: &str) -> AppResult<String> {
    let mut salt = [0u8; 16];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut salt);
    let p = owasp();
    let out = compute(Algorithm::Argon2id, p.clone(), password.as_bytes(), &salt, 32)?;
    Ok(format!("$argon2id$v=19$m={},t={},p={}${}${}", p.m_cost(), p.t_cost(), p.p_cost(), B64.encode(salt), B64.encode(out)))
}

fn verify_sync(password: &str, phc: &str) -> bool {
    let check = || -> Option<bool> {
        let parsed = PasswordHash::new(phc).ok()?;
        let algorithm = Algorithm::try_from(parsed.algorithm).ok()?;
        let params = Params::try_from(&parsed).ok()?;
        let expected = parsed.hash?;
        let mut salt = [0u8; 64];
        let salt = parsed.salt?.decode_b64(&mut salt).ok()?;
        let got = compute(algorithm, params, password.as_bytes(), salt, expected.len()).ok()?;
        Some(got.len() == expected.as_bytes().len() && got.iter().zip(expected.as_bytes()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0)
    };
    check().unwrap_or(false)
}

/// The most used passwords (shipped in the binary), refused whatever their length.
const COMMON: &str = include_str!("common_passwords.txt");

/// Checks the rules for `username`'s new password: length, not one of the most common ones, not
/// the username itself. Returns the field error message if it is not acceptable.
pub fn check_policy(password: &str, username: &str) -> Result<(), String> {
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(format!("must be at most {MAX_PASSWORD_BYTES} bytes"));
    }
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(format!("must be at least {MIN_PASSWORD_CHARS} characters"));
    }
    let folded = password.trim().to_lowercase();
    if !username.is_empty() && folded == username.trim().to_lowercase() {
        return Err("must not be your username".into());
    }
    if COMMON.lines().any(|l| !l.starts_with('#') && l == folded) {
        return Err("is one of the most common passwords; choose a longer, less usual one".into());
    }
    Ok(())
}

impl Hasher {
    /// Hashing on `pool`.
    pub fn new(pool: CpuPool) -> Self {
        Self { pool }
    }

    async fn run<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> AppResult<T> {
        self.pool.run(f).await
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
        let hash = hash.unwrap_or_else(|| DUMMY_HASH.to_string());
        let ok = self.run(move || verify_sync(&password, &hash)).await?;
        Ok(ok && real)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::PasswordVerifier;

    #[test]
    fn hashes_are_standard_phc_strings_that_verify() {
        let h = hash_sync("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert!(verify_sync("correct horse", &h));
        assert!(!verify_sync("wrong horse", &h));
        assert!(!verify_sync("correct horse", "not a hash"));
        // The reference implementation agrees.
        let parsed = PasswordHash::new(&h).unwrap();
        assert!(Argon2::default().verify_password(b"correct horse", &parsed).is_ok());
    }
}
