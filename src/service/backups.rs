//! Scheduled backups: one a day from `backup.hour` local time into `backup.dir`, verified before it
//! gets its name, then rotated (the newest of each of the last `keep_daily` days and `keep_weekly`
//! ISO weeks stay; older files go only after a new one verified). A failure is logged, counted in
//! the metrics, shown on `/readyz` and retried after `retry_minutes`. The status lives in storage,
//! so a day the server was off is caught up at the next start.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;

use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::store::backup;
use crate::store::meta::{self, BackupStatus};

/// Scheduled backup files are named `friend-YYYYMMDDTHHMMSSZ.jsonl` (UTC); other files in the
/// directory are never touched.
const PREFIX: &str = "friend-";
const SUFFIX: &str = ".jsonl";
const STAMP: &str = "%Y%m%dT%H%M%SZ";

/// The file name of a scheduled backup written at `at`.
pub fn file_name(at: DateTime<Utc>) -> String {
    format!("{PREFIX}{}{SUFFIX}", at.format(STAMP))
}

/// When a file of ours was written (`None` for any other file).
pub fn written_at(name: &str) -> Option<DateTime<Utc>> {
    let stamp = name.strip_prefix(PREFIX)?.strip_suffix(SUFFIX)?;
    NaiveDateTime::parse_from_str(stamp, STAMP).ok().map(|t| t.and_utc())
}

/// The latest scheduled moment at or before `now`: today at `hour` local time, or yesterday's.
fn latest_slot(now: DateTime<Utc>, tz: Tz, hour: u32) -> DateTime<Utc> {
    let local = now.with_timezone(&tz);
    let at = |day: NaiveDate| {
        // A local hour skipped by a daylight-saving change runs an hour later.
        (0..3)
            .find_map(|extra| tz.from_local_datetime(&day.and_hms_opt((hour + extra).min(23), 0, 0)?).earliest())
            .map_or(now, |t| t.with_timezone(&Utc))
    };
    let today = at(local.date_naive());
    if today <= now { today } else { at(local.date_naive() - Duration::days(1)) }
}

/// Whether a scheduled backup is due at `now`: none verified since the latest slot, and no
/// failure within `retry` of now.
pub fn due(now: DateTime<Utc>, tz: Tz, hour: u32, retry: Duration, status: &BackupStatus) -> bool {
    let slot = latest_slot(now, tz, hour);
    let done = status.last_ok_at.is_some_and(|t| t >= slot);
    let waiting = status.last_failed_at.is_some_and(|t| t >= slot && now - t < retry);
    !done && !waiting
}

/// Which of `files` (names and times) rotation removes: everything but the newest of each of the
/// last `daily` local days and of each of the last `weekly` ISO weeks (as restic's
/// `--keep-daily/--keep-weekly`: a file may count for both).
pub fn to_remove(files: &[(String, DateTime<Utc>)], tz: Tz, daily: u32, weekly: u32) -> Vec<String> {
    let mut newest_first: Vec<&(String, DateTime<Utc>)> = files.iter().collect();
    newest_first.sort_by_key(|f| std::cmp::Reverse(f.1));
    let mut keep = BTreeSet::new();
    let mut keep_newest_per = |bucket: &dyn Fn(DateTime<Tz>) -> (i32, u32), n: u32| {
        let mut seen = BTreeSet::new();
        for (name, at) in &newest_first {
            if seen.len() as u32 >= n {
                break;
            }
            if seen.insert(bucket(at.with_timezone(&tz))) {
                keep.insert(name.clone());
            }
        }
    };
    keep_newest_per(&|t| (t.year(), t.ordinal()), daily);
    keep_newest_per(&|t| (t.iso_week().year(), t.iso_week().week()), weekly);
    newest_first.into_iter().filter(|(name, _)| !keep.contains(name)).map(|(name, _)| name.clone()).collect()
}

/// Our backup files in `dir`, with their times.
fn list(dir: &Path) -> std::io::Result<Vec<(String, DateTime<Utc>)>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let name = entry?.file_name().to_string_lossy().into_owned();
        if let Some(at) = written_at(&name) {
            out.push((name, at));
        }
    }
    Ok(out)
}

/// Writes, verifies and rotates one scheduled backup into `dir`. Returns the file written.
fn write_and_rotate(state: &AppState, dir: &Path, now: DateTime<Utc>, tz: Tz) -> AppResult<(PathBuf, u64)> {
    let cannot = |what: &str, e: std::io::Error| AppError::internal(format!("{what} {}: {e}", dir.display()));
    // Backups hold every student's data: a directory made here is owner-only (as each file is).
    crate::store::power_safe::create_private_dir(dir).map_err(|e| cannot("cannot create the backup directory", e))?;
    let path = dir.join(file_name(now));
    let summary = backup::export(&state.store, &state.blobs, &path, now)?;
    let c = &state.config.backup;
    let files = list(dir).map_err(|e| cannot("cannot list", e))?;
    for name in to_remove(&files, tz, c.keep_daily, c.keep_weekly) {
        if let Err(e) = std::fs::remove_file(dir.join(&name)) {
            tracing::warn!(file = %name, error = %e, "could not remove an old backup");
        }
    }
    Ok((path, summary.bytes))
}

/// Runs the scheduled backup when it is due. Returns 1 when one was written, 0 when none was
/// due; a failure is recorded (and retried later) and returned.
pub async fn run_scheduled(state: &std::sync::Arc<AppState>) -> AppResult<usize> {
    let c = &state.config.backup;
    if !c.enabled {
        return Ok(0);
    }
    let now = state.clock.now();
    let tz: Tz = state.settings().default_timezone.parse().unwrap_or(chrono_tz::UTC);
    let st = state.clone();
    let status = state.store.blocking(meta::backup_status).await?;
    if !due(now, tz, c.hour, Duration::minutes(c.retry_minutes as i64), &status) {
        return Ok(0);
    }
    let dir = c.dir_in(&state.config.data_dir);
    let result = state.store.blocking(move |_| write_and_rotate(&st, &dir, now, tz)).await;
    let next = match &result {
        Ok((path, bytes)) => BackupStatus {
            last_ok_at: Some(now),
            last_ok_file: Some(path.display().to_string()),
            last_ok_bytes: *bytes,
            ..BackupStatus::default()
        },
        Err(e) => BackupStatus { last_failed_at: Some(now), last_error: Some(e.cause()), failures: status.failures + 1, ..status.clone() },
    };
    state.store.write(move |s| meta::put_backup_status(s, &next)).await?;
    match result {
        Ok((path, bytes)) => {
            tracing::info!(file = %path.display(), bytes, "scheduled backup written and verified");
            Ok(1)
        }
        Err(e) => Err(AppError::internal(format!(
            "scheduled backup failed (attempt {}; retried in {} min): {e}",
            status.failures + 1,
            c.retry_minutes,
            e = e.cause()
        ))),
    }
}

/// A backup file as staff see it.
#[derive(Debug, serde::Serialize, salvo::oapi::ToSchema)]
pub struct BackupView {
    /// The file name (the id in the other `/admin/backups` paths).
    pub id: String,
    /// When it was written (RFC 3339).
    pub created_at: String,
    /// Size in bytes.
    pub size_bytes: u64,
    /// Records it holds, as its trailer states (null: no trailer, the file is damaged).
    pub records: Option<u64>,
    /// SHA-256 of its content, as its trailer states (null: no trailer).
    pub sha256: Option<String>,
    /// True when its trailer was found; `POST /admin/backups/{id}/verify` reads it whole.
    pub complete: bool,
}

/// The backup directory.
fn backup_dir(state: &AppState) -> PathBuf {
    state.config.backup.dir_in(&state.config.data_dir)
}

/// The path of backup `id` (a file name of ours, nothing else): 404 otherwise.
pub fn path_of(state: &AppState, id: &str) -> AppResult<PathBuf> {
    let ours = written_at(id).is_some() && !id.contains(['/', '\\']);
    let path = backup_dir(state).join(id);
    if !ours || !path.is_file() {
        return Err(AppError::NotFound("backup"));
    }
    Ok(path)
}

fn view(path: &Path, name: &str, at: DateTime<Utc>) -> AppResult<BackupView> {
    let size_bytes = std::fs::metadata(path).map_err(AppError::internal)?.len();
    let trailer = backup::trailer(path)?;
    Ok(BackupView {
        id: name.to_string(),
        created_at: crate::clock::rfc3339(at),
        size_bytes,
        complete: trailer.is_some(),
        records: trailer.as_ref().map(|t| t.0),
        sha256: trailer.map(|t| t.1),
    })
}

/// GET /admin/backups: the backup files of the backup directory, newest first.
pub fn list_files(state: &AppState) -> AppResult<Vec<BackupView>> {
    let dir = backup_dir(state);
    let mut files = match list(&dir) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(AppError::internal(format!("cannot list {}: {e}", dir.display()))),
    };
    files.sort_by_key(|f| std::cmp::Reverse(f.1));
    files.iter().map(|(name, at)| view(&dir.join(name), name, *at)).collect()
}

/// POST /admin/backups: writes a verified backup now (writes pause for the snapshot, reads go
/// on), rotated with the scheduled ones.
pub async fn create_now(state: &std::sync::Arc<AppState>) -> AppResult<BackupView> {
    let now = state.clock.now();
    let tz: Tz = state.settings().default_timezone.parse().unwrap_or(chrono_tz::UTC);
    let st = state.clone();
    state
        .store
        .blocking(move |_| {
            let (path, _) = write_and_rotate(&st, &backup_dir(&st), now, tz)?;
            view(&path, &file_name(now), now)
        })
        .await
}

/// What reading a backup whole found.
#[derive(Debug, serde::Serialize, salvo::oapi::ToSchema)]
pub struct Verified {
    /// The backup.
    pub id: String,
    /// Always true (a damaged file answers 422 with what is wrong).
    pub verified: bool,
    /// Records checked.
    pub records: u64,
    /// Bytes read.
    pub bytes: u64,
}

/// POST /admin/backups/{id}/verify: reads the whole file, checks every line and the checksum.
pub fn verify(state: &AppState, id: &str) -> AppResult<Verified> {
    let path = path_of(state, id)?;
    let summary = backup::verify(&path).map_err(|e| AppError::field("backup", e.cause()))?;
    Ok(Verified { id: id.to_string(), verified: true, records: summary.records, bytes: summary.bytes })
}

/// The status for `/readyz` and the admin.
pub fn status(state: &AppState) -> AppResult<BackupStatus> {
    meta::backup_status(&state.store)
}

/// The scheduled backups in a word: `ok`, `failing` (the last attempt failed; it is retried),
/// `none` (none written yet) or `off`.
pub fn state_word(state: &AppState, status: &BackupStatus) -> &'static str {
    match (&status.last_error, status.last_ok_at) {
        _ if !state.config.backup.enabled => "off",
        (Some(_), _) => "failing",
        (None, Some(_)) => "ok",
        (None, None) => "none",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn names_carry_the_time_and_other_files_are_not_ours() {
        let at = utc("2026-12-05T02:00:07Z");
        assert_eq!(file_name(at), "friend-20261205T020007Z.jsonl");
        assert_eq!(written_at(&file_name(at)), Some(at));
        assert_eq!(written_at("friend-20261205T020007Z.partial"), None);
        assert_eq!(written_at("school.jsonl"), None);
    }

    #[test]
    fn due_once_a_day_from_the_local_hour_and_retried_after_a_failure() {
        let paris: Tz = "Europe/Paris".parse().unwrap();
        let none = BackupStatus::default();
        // 00:30 UTC is 01:30 in Paris: yesterday's 02:00 slot, never done: due (caught up).
        assert!(due(utc("2026-12-05T00:30:00Z"), paris, 2, Duration::minutes(30), &none));
        let done = BackupStatus { last_ok_at: Some(utc("2026-12-04T01:00:00Z")), ..none.clone() };
        assert!(!due(utc("2026-12-05T00:30:00Z"), paris, 2, Duration::minutes(30), &done));
        // 01:00 UTC = 02:00 Paris: today's slot has come.
        assert!(due(utc("2026-12-05T01:00:00Z"), paris, 2, Duration::minutes(30), &done));
        let failed = BackupStatus { last_failed_at: Some(utc("2026-12-05T01:00:00Z")), failures: 1, ..done.clone() };
        assert!(!due(utc("2026-12-05T01:29:00Z"), paris, 2, Duration::minutes(30), &failed));
        assert!(due(utc("2026-12-05T01:30:00Z"), paris, 2, Duration::minutes(30), &failed));
        // 02:00 does not exist in Paris on 2026-03-29: it runs at 03:00 local (01:00 UTC).
        assert!(!due(
            utc("2026-03-29T00:59:00Z"),
            paris,
            2,
            Duration::minutes(30),
            &BackupStatus { last_ok_at: Some(utc("2026-03-28T01:00:00Z")), ..none }
        ));
    }

    #[test]
    fn rotation_keeps_the_newest_of_each_recent_day_and_week() {
        // One backup a day for 30 days (Mondays: 2026-11-02, 09, 16, 23, 30), plus a second on the last day.
        let mut files: Vec<(String, DateTime<Utc>)> =
            (1..=30).map(|d| utc(&format!("2026-11-{d:02}T02:00:00Z"))).map(|t| (file_name(t), t)).collect();
        let extra = utc("2026-11-30T14:00:00Z");
        files.push((file_name(extra), extra));
        let removed = to_remove(&files, chrono_tz::UTC, 7, 4);
        let kept: BTreeSet<String> =
            files.iter().map(|f| f.0.clone()).filter(|n| !removed.contains(n)).map(|n| n[13..15].to_string() + &n[16..18]).collect();
        // Daily: 30 (the 14:00 one), 29..24. Weekly (ISO weeks end on Sunday): 30 (week 49),
        // 29 (week 48), 22 (week 47), 15 (week 46).
        let want: BTreeSet<String> = ["3014", "2902", "2802", "2702", "2602", "2502", "2402", "2202", "1502"].map(String::from).into();
        assert_eq!(kept, want);
        assert_eq!(removed.len(), files.len() - 9);
    }
}
