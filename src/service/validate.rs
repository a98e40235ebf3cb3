//! Field validation shared by the services. Each check returns a human message or nothing.

use crate::error::{AppError, FieldError};

/// Collects field errors and turns them into one 422.
#[derive(Default)]
pub struct Errors(Vec<FieldError>);

impl Errors {
    /// No errors yet.
    pub fn new() -> Self {
        Self::default()
    }
    /// Adds an error if `check` failed.
    pub fn check(&mut self, field: &str, check: Result<(), String>) {
        if let Err(m) = check {
            self.0.push(FieldError::new(field, m));
        }
    }
    /// `Err(422)` if any check failed.
    pub fn finish(self) -> Result<(), AppError> {
        if self.0.is_empty() { Ok(()) } else { Err(AppError::Validation(self.0)) }
    }
}

/// A plausible email address (the server sends no mail, so it is an identifier).
pub fn email(s: &str) -> Result<(), String> {
    let s = s.trim();
    let ok = s.len() <= 254
        && s.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty() && domain.contains('.') && !domain.starts_with('.') && !domain.ends_with('.') && !domain.contains('@')
        })
        && !s.chars().any(|c| c.is_whitespace() || c.is_control());
    if ok { Ok(()) } else { Err("must be an email address like name@school.org".into()) }
}

/// 3–32 characters: letters, digits, `_` and `.`, starting with a letter or digit; no `@`.
pub fn username(s: &str) -> Result<(), String> {
    let n = s.chars().count();
    if !(3..=32).contains(&n) {
        return Err("must be 3 to 32 characters".into());
    }
    if !s.chars().next().is_some_and(|c| c.is_ascii_alphanumeric()) {
        return Err("must start with a letter or a digit".into());
    }
    if !s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.') {
        return Err("may contain only letters, digits, `_` and `.`".into());
    }
    if s.starts_with("deleted-") {
        return Err("this username is reserved".into());
    }
    Ok(())
}

/// Free text with a length limit in characters; `required` forbids blank.
pub fn text(s: &str, max: usize, required: bool) -> Result<(), String> {
    if required && s.trim().is_empty() {
        return Err("must not be empty".into());
    }
    if s.chars().count() > max {
        return Err(format!("must be at most {max} characters"));
    }
    if s.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return Err("must not contain control characters".into());
    }
    Ok(())
}

/// An IANA time zone name.
pub fn timezone(s: &str) -> Result<(), String> {
    s.parse::<chrono_tz::Tz>().map(|_| ()).map_err(|_| "must be an IANA time zone such as Europe/Paris".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules() {
        assert!(email("a@b.co").is_ok());
        for bad in ["", "a", "a@b", "@b.co", "a b@c.de", "a@.b", "a@b.c@d.e"] {
            assert!(email(bad).is_err(), "{bad}");
        }
        assert!(username("ana_92").is_ok());
        for bad in ["ab", "_ana", "ana!", "ana@x", "deleted-1234"] {
            assert!(username(bad).is_err(), "{bad}");
        }
        assert!(timezone("Pacific/Kiritimati").is_ok());
        assert!(timezone("Mars/Base").is_err());
        assert!(text(" ", 5, true).is_err());
        assert!(text("abcdef", 5, false).is_err());
    }
}
