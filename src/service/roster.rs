//! Roster import (`POST /admin/users/import`): a class list as CSV (name, username, optional
//! e-mail, optional class) becomes student accounts, each with a one-time setup code that the
//! student uses once (`POST /auth/reset`) to choose a password. Every row is checked first; one
//! bad row creates nothing, and the answer names each bad row by line. Staff never know a
//! student's password, and the printable sheet is built from the answer.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use super::audit::{self, Action, Actor, Target};
use super::auth::ClientInfo;
use super::validate;
use crate::access::Staff;
use crate::clock::rfc3339;
use crate::error::{AppError, AppResult, FieldError};
use crate::infra::tokens;
use crate::model::Role;
use crate::state::AppState;
use crate::store::blobs::sha256_hex;
use crate::store::reset_codes::ResetCode;
use crate::store::users::{self, UserRecord};

/// Most rows in one import.
pub const MAX_ROWS: usize = 2_000;
/// Days a setup code works.
pub const SETUP_CODE_DAYS: i64 = 14;
/// A password hash that matches no password: the account signs in only after its setup code.
const NO_PASSWORD: &str = "!roster-setup-code";

/// `POST /admin/users/import` body.
#[derive(Debug, Deserialize, salvo::oapi::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RosterInput {
    /// The roster as CSV (RFC 4180, UTF-8, comma or semicolon separated). Columns `name`,
    /// `username`, and optionally `email` and `class`, named in a header row in any order; without
    /// a header row they are taken in that order.
    #[salvo(schema(min_length = 1))]
    pub csv: String,
    /// Check every row and answer what would be created, without creating anything.
    #[serde(default)]
    pub dry_run: bool,
}

/// One account of the roster.
#[derive(Debug, Serialize, salvo::oapi::ToSchema)]
pub struct RosterAccount {
    /// Its line in the CSV (1 is the first line).
    pub line: usize,
    /// The new account's id (null in a dry run).
    pub id: Option<uuid::Uuid>,
    /// Display name.
    pub name: String,
    /// Username (what the student types to sign in).
    pub username: String,
    /// E-mail, if the roster had one.
    pub email: Option<String>,
    /// Class, if the roster had one.
    pub class: Option<String>,
    /// One-time code: with it and the username, the student chooses a password at
    /// `POST /auth/reset` (null in a dry run).
    pub setup_code: Option<String>,
}

/// The created accounts: everything the printable sheet shows.
#[derive(Debug, Serialize, salvo::oapi::ToSchema)]
pub struct RosterResult {
    /// One per row, in file order.
    pub accounts: Vec<RosterAccount>,
    /// When the setup codes stop working (RFC 3339; null in a dry run).
    pub expires_at: Option<String>,
    /// The address students open to set their password.
    pub server_url: String,
    /// True if nothing was created (`dry_run`).
    pub dry_run: bool,
}

#[derive(Debug)]
struct Row {
    line: usize,
    name: String,
    username: String,
    email: String,
    class: String,
}

/// Column positions: name, username, email, class.
type Columns = [Option<usize>; 4];

fn header(record: &csv::StringRecord) -> Option<Columns> {
    let find = |names: &[&str]| record.iter().position(|h| names.contains(&h.trim().to_lowercase().as_str()));
    let cols = [
        find(&["name", "full name", "display name"]),
        find(&["username", "user name", "login"]),
        find(&["email", "e-mail", "mail"]),
        find(&["class", "group", "form"]),
    ];
    cols[1].is_some().then_some(cols)
}

/// Parses and checks every row; all the problems, by line, or the rows.
fn parse(csv_text: &str) -> AppResult<Vec<Row>> {
    let delimiter = if csv_text.lines().next().is_some_and(|l| l.matches(';').count() > l.matches(',').count()) { b';' } else { b',' };
    let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).delimiter(delimiter).from_reader(csv_text.as_bytes());
    let mut errors = Vec::new();
    let mut rows = Vec::new();
    let mut columns: Columns = [Some(0), Some(1), Some(2), Some(3)];
    let mut seen_names = HashSet::new();
    let mut seen_emails = HashSet::new();
    for (i, record) in reader.records().enumerate() {
        // The line where the record starts, counted from its byte offset (blank lines included).
        let line = record.as_ref().ok().and_then(|r| r.position()).map_or(i + 1, |p| line_at(csv_text, p.byte() as usize));
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                errors.push(FieldError::new(format!("line {line}"), format!("cannot be read as CSV: {e}")));
                continue;
            }
        };
        if record.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        if i == 0
            && let Some(h) = header(&record)
        {
            columns = h;
            continue;
        }
        let get = |c: Option<usize>| c.and_then(|c| record.get(c)).unwrap_or("").trim().to_string();
        let row = Row { line, name: get(columns[0]), username: get(columns[1]), email: get(columns[2]), class: get(columns[3]) };
        let mut bad = |field: &str, r: Result<(), String>| {
            if let Err(m) = r {
                errors.push(FieldError::new(format!("line {line}: {field}"), m));
            }
        };
        bad("name", validate::text(&row.name, 100, true));
        bad("username", validate::username(&row.username));
        if !row.email.is_empty() {
            bad("email", validate::email(&row.email));
        }
        bad("class", validate::text(&row.class, 50, false));
        if !seen_names.insert(row.username.to_lowercase()) {
            bad("username", Err("appears twice in the file".into()));
        }
        if !row.email.is_empty() && !seen_emails.insert(row.email.to_lowercase()) {
            bad("email", Err("appears twice in the file".into()));
        }
        rows.push(row);
    }
    if rows.len() > MAX_ROWS {
        errors.push(FieldError::new("csv", format!("has {} rows; import at most {MAX_ROWS} at a time", rows.len())));
    }
    if rows.is_empty() && errors.is_empty() {
        errors.push(FieldError::new("csv", "has no rows: one line per student, with a name and a username"));
    }
    if errors.is_empty() { Ok(rows) } else { Err(AppError::Validation(errors)) }
}

/// The line of the first character at or after byte `at` that is not a line break (the reader
/// counts the blank lines before a record as part of it).
fn line_at(text: &str, at: usize) -> usize {
    let bytes = text.as_bytes();
    let mut start = at.min(bytes.len());
    while start < bytes.len() && matches!(bytes[start], b'\r' | b'\n') {
        start += 1;
    }
    bytes[..start].iter().filter(|b| **b == b'\n').count() + 1
}

/// Usernames and e-mails of `rows` that accounts already have, by line.
fn taken(state: &AppState, rows: &[Row]) -> AppResult<()> {
    let mut errors = Vec::new();
    for r in rows {
        if !users::username_free(&state.store, &r.username)? {
            errors.push(FieldError::new(format!("line {}: username", r.line), "is taken by an existing account"));
        }
        if !r.email.is_empty() && users::find_by_login(&state.store, &r.email)?.is_some() {
            errors.push(FieldError::new(format!("line {}: email", r.line), "belongs to an existing account"));
        }
    }
    if errors.is_empty() { Ok(()) } else { Err(AppError::Validation(errors)) }
}

/// POST /admin/users/import (staff): student accounts with setup codes, all or none.
pub async fn import(state: &AppState, staff: Staff, input: RosterInput, client: ClientInfo) -> AppResult<RosterResult> {
    let rows = parse(&input.csv)?;
    taken(state, &rows)?;
    let server_url = state.base_url.trim_end_matches('/').to_string();
    if input.dry_run {
        let accounts = rows.into_iter().map(|r| account_view(r, None, None)).collect();
        return Ok(RosterResult { accounts, expires_at: None, server_url, dry_run: true });
    }
    let now = state.clock.now();
    let expires_at = now + chrono::Duration::days(SETUP_CODE_DAYS);
    let timezone = state.settings().default_timezone.clone();
    let mut made = Vec::with_capacity(rows.len());
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let code = tokens::typeable_code();
        let user = UserRecord {
            class_name: r.class.clone(),
            ..UserRecord::new(r.email.clone(), r.username.clone(), r.name.clone(), Role::Student, NO_PASSWORD.into(), timezone.clone(), now)
        };
        let setup = ResetCode { hash: sha256_hex(tokens::normalize_code(&code).as_bytes()), expires_at, issued_by: staff.caller().id() };
        out.push(account_view(r, Some(user.id), Some(code)));
        made.push((user, setup));
    }
    let actor = Actor::user(state, staff.caller(), &client)?;
    let count = made.len();
    let stored: Vec<(UserRecord, ResetCode)> = made.clone();
    state
        .store
        .write(move |s| {
            users::insert_roster(s, &stored)?;
            let values = serde_json::json!({ "accounts": count });
            audit::record(s, now, &actor, Action::on("user.import", Target::new("roster", count)).new_values(values))
        })
        .await?;
    for (u, _) in &made {
        super::social::index_user(state, u);
    }
    Ok(RosterResult { accounts: out, expires_at: Some(rfc3339(expires_at)), server_url, dry_run: false })
}

fn account_view(r: Row, id: Option<uuid::Uuid>, setup_code: Option<String>) -> RosterAccount {
    RosterAccount {
        line: r.line,
        id,
        name: r.name,
        username: r.username,
        email: (!r.email.is_empty()).then_some(r.email),
        class: (!r.class.is_empty()).then_some(r.class),
        setup_code,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(e: AppError) -> Vec<String> {
        e.field_errors().iter().map(|f| f.field.clone()).collect()
    }

    #[test]
    fn headers_in_any_order_quotes_and_semicolons() {
        let rows = parse("Class;Username;Name\n7B;ana;\"Ana; the first\"\n\n7C;ben;Ben\n").unwrap();
        assert_eq!(rows.len(), 2);
        assert_eq!((rows[0].line, rows[0].name.as_str(), rows[0].class.as_str()), (2, "Ana; the first", "7B"));
        assert_eq!((rows[1].line, rows[1].username.as_str(), rows[1].email.as_str()), (4, "ben", ""));
        let rows = parse("Ana Lee,ana.lee,ana@school.test,7B").unwrap();
        assert_eq!((rows[0].username.as_str(), rows[0].email.as_str()), ("ana.lee", "ana@school.test"));
    }

    #[test]
    fn every_bad_row_is_named_by_line() {
        let e = parse("name,username,email\nAna,ana,not-an-email\n,ben\nCara,ana\nDan,d\n").unwrap_err();
        assert_eq!(fields(e), vec!["line 2: email", "line 3: name", "line 4: username", "line 5: username"]);
        assert_eq!(fields(parse("name,username\n").unwrap_err()), vec!["csv"]);
    }
}
