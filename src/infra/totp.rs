//! Time-based one-time passwords (RFC 6238 over RFC 4226's HOTP): HMAC-SHA1, 30-second steps,
//! 6 digits — what every authenticator app (Google Authenticator, Aegis, FreeOTP, 1Password)
//! expects from an `otpauth://totp/` URI.

use hmac::{Hmac, Mac};
use rand::RngCore;
use sha1::Sha1;

/// Seconds a code lives.
pub const STEP_SECS: i64 = 30;
/// Digits of a code.
pub const DIGITS: u32 = 6;
/// Steps before and after now that are still accepted (a phone clock a little off).
const SKEW: i64 = 1;

/// A new random shared secret (160 bits, RFC 4226's recommended length), base32 without padding.
pub fn new_secret() -> String {
    let mut b = [0u8; 20];
    rand::rngs::OsRng.fill_bytes(&mut b);
    data_encoding::BASE32_NOPAD.encode(&b)
}

/// The HOTP value of `secret` (raw bytes) at `counter` (RFC 4226 section 5.3).
pub fn hotp(secret: &[u8], counter: u64, digits: u32) -> u32 {
    let mut mac = Hmac::<Sha1>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(&counter.to_be_bytes());
    let h = mac.finalize().into_bytes();
    let offset = (h[19] & 0x0f) as usize;
    let bin = u32::from_be_bytes([h[offset] & 0x7f, h[offset + 1], h[offset + 2], h[offset + 3]]);
    bin % 10u32.pow(digits)
}

/// The step (counter) that `unix` seconds fall in.
pub fn step_at(unix: i64) -> u64 {
    (unix.max(0) / STEP_SECS) as u64
}

/// The code of base32 `secret` at `step`, as the app shows it (`012345`).
pub fn code_at(secret: &str, step: u64) -> Option<String> {
    let key = data_encoding::BASE32_NOPAD.decode(secret.as_bytes()).ok()?;
    Some(format!("{:0width$}", hotp(&key, step, DIGITS), width = DIGITS as usize))
}

/// Checks a typed `code` (spaces ignored) against base32 `secret` at `unix` seconds, allowing one
/// step of clock skew either way. Only steps after `last_used` count, so a code works once. Returns
/// the step it matched.
pub fn verify(secret: &str, code: &str, unix: i64, last_used: u64) -> Option<u64> {
    let typed: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if typed.len() != DIGITS as usize || !typed.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let now = step_at(unix) as i64;
    (now - SKEW..=now + SKEW)
        .filter(|s| *s >= 0 && *s as u64 > last_used)
        .map(|s| s as u64)
        .find(|s| code_at(secret, *s).is_some_and(|c| constant_time_eq(c.as_bytes(), typed.as_bytes())))
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The `otpauth://` URI an authenticator app reads from a QR code (Key Uri Format: issuer and
/// account percent-encoded, spaces as `%20`, a literal colon between them).
pub fn otpauth_uri(issuer: &str, account: &str, secret: &str) -> String {
    let (i, a) = (percent(issuer), percent(account));
    format!("otpauth://totp/{i}:{a}?secret={secret}&issuer={i}&algorithm=SHA1&digits={DIGITS}&period={STEP_SECS}")
}

/// Percent-encodes all but RFC 3986's unreserved characters.
fn percent(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 appendix B, SHA-1 rows (8 digits), and RFC 4226 appendix D (6 digits).
    #[test]
    fn rfc_vectors() {
        let key = b"12345678901234567890";
        for (t, want) in [(59, 94287082), (1111111109, 7081804), (1111111111, 14050471), (1234567890, 89005924), (2000000000, 69279037)] {
            assert_eq!(hotp(key, step_at(t), 8), want, "T = {t}");
        }
        let hotp6 = [755224, 287082, 359152, 969429, 338314, 254676, 287922, 162583, 399871, 520489];
        for (counter, want) in hotp6.iter().enumerate() {
            assert_eq!(hotp(key, counter as u64, 6), *want);
        }
    }

    #[test]
    fn verify_skew_and_replay() {
        let secret = new_secret();
        assert_eq!(secret.len(), 32);
        let now = 1_800_000_000;
        let step = step_at(now);
        let code = code_at(&secret, step).unwrap();
        assert_eq!(verify(&secret, &code, now, 0), Some(step));
        assert_eq!(verify(&secret, &format!("{} {}", &code[..3], &code[3..]), now, 0), Some(step));
        assert_eq!(verify(&secret, &code, now, step), None, "a used step does not work twice");
        assert_eq!(verify(&secret, &code, now + 30, 0), Some(step), "one step late still works");
        assert_eq!(verify(&secret, &code, now + 90, 0), None);
        assert_eq!(verify(&secret, "12345", now, 0), None);
        assert_eq!(verify(&secret, "abcdef", now, 0), None);
    }

    #[test]
    fn uri() {
        let u = otpauth_uri("Hill School", "ms.lee", "JBSWY3DPEHPK3PXP");
        assert_eq!(u, "otpauth://totp/Hill%20School:ms.lee?secret=JBSWY3DPEHPK3PXP&issuer=Hill%20School&algorithm=SHA1&digits=6&period=30");
    }
}
