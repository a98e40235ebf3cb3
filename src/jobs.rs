//! Scheduled work. The report job: for every user, each finished ISO week and calendar month (in
//! the user's time zone) since the account exists, up to 4 weeks and 2 months back, gets its report
//! made once (`report_runs` in sled), with a `report_ready` outbox event. Because the state is in
//! sled, a restart loses nothing and periods missed during downtime are made on the next pass.
//! Each page of users' markers is stored in one transaction with their `report_ready` events.
//! The weekly insights (`service::insights::run_weekly`) run in the same loop, marked per ISO week.
//! Also the typing sweeper, which ends indicators nobody refreshed.

use std::sync::Arc;
use std::time::Duration;

use chrono::{Datelike, NaiveDate};

use crate::error::AppResult;
use crate::state::AppState;
use crate::store::report_runs::{self, Made};
use crate::store::users;

/// Weeks looked back for missed reports.
const WEEKS_BACK: i64 = 4;
/// Months looked back for missed reports.
const MONTHS_BACK: u32 = 2;

/// Finished periods to consider for someone whose today is `today` and who joined on `joined`:
/// (label, kind, first day, last day).
pub fn due_periods(today: NaiveDate, joined: NaiveDate) -> Vec<(String, &'static str, NaiveDate)> {
    let mut out = Vec::new();
    let this_monday = today - chrono::Duration::days(i64::from(today.weekday().num_days_from_monday()));
    for k in 1..=WEEKS_BACK {
        let monday = this_monday - chrono::Duration::weeks(k);
        if monday + chrono::Duration::days(6) < joined {
            break;
        }
        let w = monday.iso_week();
        out.push((format!("{}-W{:02}", w.year(), w.week()), "weekly", monday));
    }
    let mut first = NaiveDate::from_ymd_opt(today.year(), today.month(), 1).unwrap_or(today);
    for _ in 0..MONTHS_BACK {
        let last = first - chrono::Duration::days(1);
        first = NaiveDate::from_ymd_opt(last.year(), last.month(), 1).unwrap_or(last);
        if last < joined {
            break;
        }
        out.push((first.format("%Y-%m").to_string(), "monthly", first));
    }
    out
}

/// The reports due for one page of users (after `after`): what to mark, and the last user id.
fn due_page(state: &AppState, after: Option<uuid::Uuid>) -> AppResult<(Vec<Made>, Option<uuid::Uuid>)> {
    let page = users::list(&state.store, after, 200)?;
    let mut due = Vec::new();
    for u in page.iter().filter(|u| !u.disabled && u.deleted_at.is_none()) {
        let tz: chrono_tz::Tz = u.timezone.parse().unwrap_or(chrono_tz::UTC);
        let today = state.clock.now().with_timezone(&tz).date_naive();
        let joined = u.created_at.with_timezone(&tz).date_naive();
        for (label, kind, _) in due_periods(today, joined) {
            if report_runs::done(&state.store, u.id, &label)? {
                continue;
            }
            // Computing the report checks that it can be made; clients fetch it on demand.
            let report = if kind == "weekly" {
                crate::service::reports::weekly(state, u.id, Some(&label))
            } else {
                crate::service::reports::monthly(state, u.id, Some(&label))
            };
            match report {
                Ok(_) => due.push((u.id, label, kind)),
                Err(e) => tracing::warn!(user = %u.id, period = %label, error = %e, "report failed"),
            }
        }
    }
    Ok((due, page.last().map(|u| u.id)))
}

/// One pass over every user; returns how many reports were made.
pub async fn run_reports(state: &Arc<AppState>) -> AppResult<usize> {
    let mut made = 0;
    let mut after = None;
    loop {
        let st = state.clone();
        let (due, last) = state.store.blocking(move |_| due_page(&st, after)).await?;
        let Some(last) = last else { return Ok(made) };
        after = Some(last);
        if due.is_empty() {
            continue;
        }
        made += due.len();
        let now = state.clock.now();
        state.events.commit(due.len(), move |s, first| report_runs::mark(s, &due, now, first).map(|e| ((), e))).await?;
    }
}

/// Events removed per transaction by [`age_events`].
const AGEING_BATCH: usize = 1000;

/// Removes the events older than `chat.event_retention_days` (0 keeps them), in batches. The
/// messages, requests and reports they were about stay; only the log of what happened ages.
pub async fn age_events(state: &Arc<AppState>) -> AppResult<usize> {
    let days = state.config.chat.event_retention_days;
    if days == 0 {
        return Ok(0);
    }
    let cutoff = state.clock.now() - chrono::Duration::days(i64::from(days));
    let last = state.store.blocking(move |s| crate::store::event_log::ageing_boundary(s, cutoff)).await?;
    let mut total = 0;
    loop {
        let n = state.store.write(move |s| crate::store::event_log::prune_through(s, last, AGEING_BATCH)).await?;
        total += n;
        if n < AGEING_BATCH {
            return Ok(total);
        }
    }
}

/// How often goals are checked for reminders (by the server's clock).
const REMIND_EVERY: chrono::Duration = chrono::Duration::minutes(10);

/// One pass of goal reminders over every active account; returns how many were sent.
pub async fn run_reminders(state: &Arc<AppState>) -> AppResult<usize> {
    let (mut sent, mut after) = (0, None);
    loop {
        let page = users::list(&state.store, after, 200)?;
        for u in page.iter().filter(|u| !u.disabled && u.deleted_at.is_none()) {
            sent += crate::service::goals::remind(state, u.id).await?;
        }
        match page.last() {
            Some(u) if page.len() == 200 => after = Some(u.id),
            _ => return Ok(sent),
        }
    }
}

/// How often old notifications are removed (by the server's clock).
const PRUNE_EVERY: chrono::Duration = chrono::Duration::hours(1);

/// Runs the report job (and event ageing) every `activity.report_job_secs`, and the notification
/// retention hourly.
pub fn spawn(state: Arc<AppState>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(state.config.activity.report_job_secs.max(1)));
        let mut pruned_at: Option<chrono::DateTime<chrono::Utc>> = None;
        let mut reminded_at: Option<chrono::DateTime<chrono::Utc>> = None;
        loop {
            tick.tick().await;
            if reminded_at.is_none_or(|t| state.clock.now() - t >= REMIND_EVERY) {
                reminded_at = Some(state.clock.now());
                if let Some(n) = tally(&state, "goal_reminders", run_reminders(&state).await) {
                    tracing::info!(reminders = n, "goal reminders sent");
                }
            }
            if pruned_at.is_none_or(|t| state.clock.now() - t >= PRUNE_EVERY) {
                pruned_at = Some(state.clock.now());
                if let Some(n) = tally(&state, "notification_retention", crate::service::notifications::prune(&state).await) {
                    tracing::info!(notifications = n, "old notifications removed");
                }
            }
            let started = std::time::Instant::now();
            if let Some(n) = tally(&state, "reports", run_reports(&state).await) {
                tracing::info!(reports = n, elapsed_ms = started.elapsed().as_millis() as u64, "weekly/monthly reports ready");
            }
            let started = std::time::Instant::now();
            if let Some(n) = tally(&state, "weekly_insights", crate::service::insights::run_weekly(&state).await) {
                tracing::info!(students = n, elapsed_ms = started.elapsed().as_millis() as u64, "weekly insights computed");
            }
            if let Err(e) = crate::service::dashboard::flush(&state) {
                tracing::warn!(error = %e, "dashboard counts not saved; kept for the next try");
            }
            if let Some(n) = tally(&state, "event_ageing", age_events(&state).await) {
                tracing::info!(events = n, "old events removed");
            }
        }
    })
}

/// Counts a run of `job` in the metrics and logs its failure. Returns how much it did when that
/// was something (a run that did nothing needs no log line).
fn tally(state: &AppState, job: &'static str, result: AppResult<usize>) -> Option<usize> {
    state.metrics.job_ran(job, result.is_ok());
    match result {
        Ok(0) => None,
        Ok(n) => Some(n),
        Err(e) => {
            tracing::error!(job, error = %e.cause(), "scheduled job failed");
            None
        }
    }
}

/// Every `backup.check_secs`: warns once when the data disk gets low on space (and says when it
/// has room again), and writes the daily backup when it is due (see [`crate::service::backups`]).
/// Only backup attempts count as runs in the metrics.
pub fn spawn_backups(state: Arc<AppState>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(state.config.backup.check_secs.max(1)));
        let mut was_low = false;
        loop {
            tick.tick().await;
            if let Some((free, low)) = crate::service::ops::disk_free(&state) {
                let mib = free / (1024 * 1024);
                match (low, was_low) {
                    (true, false) => tracing::warn!(
                        free_mib = mib,
                        "the data disk is filling up (storage.warn_free_mb): free space or move backups elsewhere"
                    ),
                    (false, true) => tracing::info!(free_mib = mib, "the data disk has room again"),
                    _ => {}
                }
                was_low = low;
            }
            match crate::service::backups::run_scheduled(&state).await {
                Ok(0) => {}
                result => {
                    tally(&state, "backup", result);
                }
            }
        }
    })
}

/// Ends typing indicators nobody refreshed (every second).
pub fn spawn_typing_sweeper(state: Arc<AppState>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tick.tick().await;
            crate::service::chat::expire_typing(&state);
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn due_periods_stop_at_the_account_creation() {
        // Friday 27 November 2026; joined long ago.
        let all = due_periods(d("2026-11-27"), d("2020-01-01"));
        let labels: Vec<&str> = all.iter().map(|p| p.0.as_str()).collect();
        assert_eq!(labels, ["2026-W47", "2026-W46", "2026-W45", "2026-W44", "2026-10", "2026-09"]);
        // Joined on Wednesday of week 47: that week counts, earlier ones do not; no full month yet.
        let new = due_periods(d("2026-11-27"), d("2026-11-18"));
        let labels: Vec<&str> = new.iter().map(|p| p.0.as_str()).collect();
        assert_eq!(labels, ["2026-W47"]);
    }
}
