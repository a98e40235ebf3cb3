//! `friend insights export-training-data`: pseudonymised feature rows from this school's own logs,
//! in the JSON Lines that `models/train.py --data` reads, so a school can retrain the insights
//! model on its own machine. No names, no ids, no text: a per-export random pseudonym per
//! student, dates, the model's features and the outcomes that followed. Students who turned
//! insights off are left out.
//!
//! Rows: for every student and every Monday with 28 days of history before it and 14 after (and
//! enough logged days), a `user` row with the features as of that Monday, the minutes logged in the
//! 7 days from it, and `burnout_episode`: in the 14 days from it, at least 4 logged days with mood
//! ≤ 2 while study averaged under half of the 28 days before (an observable stand-in for the
//! synthetic cohort's latent episodes; see MODEL.md). For every finished `study_minutes` or
//! `study_days` goal, a `goal` row with its features at the middle of its period and whether the
//! logs reached the target by its last day.

use std::io::Write as _;
use std::path::Path;

use chrono::{Datelike, NaiveDate};
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::error::{AppError, AppResult};
use crate::ml::features::{self, Day, GOAL_FEATURES, GoalState, History, USER_FEATURES};
use crate::state::AppState;
use crate::store::goals::{self as goal_store, GoalRecord, Metric};
use crate::store::users;

/// Rows written.
#[derive(Debug, Default)]
pub struct Written {
    /// Student-week rows.
    pub user_rows: usize,
    /// Goal rows.
    pub goal_rows: usize,
}

fn named(names: &[features::Feature], values: &[f32]) -> serde_json::Map<String, serde_json::Value> {
    names.iter().zip(values).map(|(f, v)| (f.name.to_string(), serde_json::json!(v))).collect()
}

fn minutes_between(h: &History, from: NaiveDate, to: NaiveDate) -> f64 {
    h.between(from, to).map(|d| f64::from(d.minutes)).sum()
}

/// The observable burnout stand-in from `from` for 14 days (see the module text).
fn burnout_episode(h: &History, from: NaiveDate, window_mean: f64) -> bool {
    let to = from + chrono::Duration::days(14);
    let low_mood = h.between(from, to).filter(|d| d.mood.is_some_and(|m| m <= 2)).count();
    low_mood >= 4 && minutes_between(h, from, to) / 14.0 < window_mean * 0.5
}

fn goal_progress(g: &GoalRecord, days: &mut dyn Iterator<Item = &Day>) -> f64 {
    match g.metric {
        Metric::StudyDays => days.filter(|d| d.minutes > 0).count() as f64,
        _ => days
            .map(|d| match &g.subject {
                Some(s) => d.subjects.iter().filter(|(name, _)| name.eq_ignore_ascii_case(s)).map(|(_, m)| f64::from(*m)).sum(),
                None => f64::from(d.minutes),
            })
            .sum(),
    }
}

fn goal_row(g: &GoalRecord, h: &History, today: NaiveDate) -> Option<serde_json::Value> {
    if !matches!(g.metric, Metric::StudyMinutes | Metric::StudyDays) || g.end_date >= today {
        return None;
    }
    let length = (g.end_date - g.start_date).num_days() + 1;
    if length < 2 {
        return None;
    }
    let mid = g.start_date + chrono::Duration::days(length / 2);
    let at_mid = h.as_of((h.today - mid).num_days());
    let current = goal_progress(g, &mut at_mid.between(g.start_date, mid));
    let state = GoalState { start: g.start_date, end: g.end_date, target: g.target_value, current };
    let x = features::goal_features(&state, mid, at_mid.study_days(14))?;
    let last = g.end_date + chrono::Duration::days(1);
    let on_time = goal_progress(g, &mut h.between(g.start_date, last)) >= g.target_value;
    Some(serde_json::json!({ "kind": "goal", "as_of": mid, "features": named(&GOAL_FEATURES, &x), "on_time": u8::from(on_time) }))
}

/// Writes the rows to `path` (owner-only); blocking.
pub fn export(state: &AppState, path: &Path) -> AppResult<Written> {
    let salt = crate::infra::tokens::random_secret(32);
    let pseudonym = |id: uuid::Uuid| {
        let mut mac = Hmac::<Sha256>::new_from_slice(salt.as_bytes()).expect("any key length");
        mac.update(id.as_bytes());
        hex::encode(&mac.finalize().into_bytes()[..8])
    };
    let tmp = path.with_extension("part");
    let file = std::fs::File::create(&tmp).map_err(|e| AppError::internal(format!("create {}: {e}", tmp.display())))?;
    crate::store::private_file(&tmp)?;
    let mut out = std::io::BufWriter::new(file);
    let mut written = Written::default();
    let min_days = state.config.insights.min_logged_days as usize;
    let mut after = None;
    loop {
        let page = users::list(&state.store, after, 200)?;
        for u in page.iter().filter(|u| u.settings.insights && u.deleted_at.is_none()) {
            let tz: chrono_tz::Tz = u.timezone.parse().unwrap_or(chrono_tz::UTC);
            let today = state.clock.now().with_timezone(&tz).date_naive();
            let logs = crate::store::activity::facts(
                &state.store,
                u.id,
                NaiveDate::from_ymd_opt(1, 1, 1).unwrap_or_default(),
                today - chrono::Duration::days(1),
            )?;
            let Some(first) = logs.first().map(|l| l.date) else { continue };
            let h = History::new(today, logs.iter().map(|l| super::insights::day(l, tz)).collect());
            let student = pseudonym(u.id);
            let mut monday = first + chrono::Duration::days(features::WINDOW);
            monday += chrono::Duration::days((7 - i64::from(monday.weekday().num_days_from_monday())) % 7);
            while monday + chrono::Duration::days(14) <= today {
                let at = h.as_of((today - monday).num_days());
                if at.logged_days() >= min_days {
                    let x = features::user_features(&at);
                    let next_week = minutes_between(&h, monday, monday + chrono::Duration::days(7));
                    let episode = burnout_episode(&h, monday, f64::from(x[features::idx("study_mean")]));
                    let row = serde_json::json!({
                        "kind": "user", "student": student, "as_of": monday, "features": named(&USER_FEATURES, &x),
                        "next_week_minutes": next_week, "burnout_episode": u8::from(episode),
                    });
                    writeln!(out, "{row}").map_err(AppError::internal)?;
                    written.user_rows += 1;
                }
                monday += chrono::Duration::days(7);
            }
            for g in goal_store::list(&state.store, u.id)? {
                if let Some(mut row) = goal_row(&g, &h, today) {
                    row["student"] = serde_json::json!(student);
                    writeln!(out, "{row}").map_err(AppError::internal)?;
                    written.goal_rows += 1;
                }
            }
        }
        match page.last() {
            Some(l) if page.len() == 200 => after = Some(l.id),
            _ => break,
        }
    }
    out.flush().map_err(AppError::internal)?;
    out.into_inner().map_err(|e| AppError::internal(e.to_string()))?.sync_all().map_err(AppError::internal)?;
    std::fs::rename(&tmp, path).map_err(AppError::internal)?;
    Ok(written)
}
