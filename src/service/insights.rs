//! Local AI insights: features from the student's own logs (in their time zone), the model of
//! `models/` run on the insights thread, the rules of `ml::insights`, and the latest set stored
//! per student. Visible to the student only. A weekly job (Monday from `insights.weekly_hour`
//! local time, marked per ISO week in storage) and `POST /insights/refresh` compute them; a new
//! strong insight is announced with an `insight` event (then an `insight` notification).

use std::sync::Arc;

use chrono::{DateTime, Datelike, NaiveDate, Timelike, Utc};
use serde::Serialize;
use uuid::Uuid;

use crate::access::Caller;
use crate::error::{AppError, AppResult};
use crate::ml::Model;
use crate::ml::features::{self, Day, GOAL_FEATURES, GoalState, History, USER_FEATURES};
use crate::ml::insights::{ANNOUNCE, Context, GoalInput, rules};
use crate::state::AppState;
use crate::store::activity::DayFacts;
use crate::store::goals::GoalRecord;
use crate::store::insights::{self as store, InsightRecord, InsightSet, ModelRef, Write};
use crate::store::users::{self, UserRecord};

/// One insight as the API shows it.
#[derive(Debug, Serialize, salvo::oapi::ToSchema)]
pub struct InsightView {
    /// Id.
    pub id: Uuid,
    /// `burnout_risk`, `goal_at_risk`, `forecast`, `sleep_and_study`, `best_study_time`,
    /// `neglected_subject`, `consistency`, or `not_enough_data` (then the only item).
    pub kind: String,
    /// Short title.
    pub title: String,
    /// One or two sentences.
    pub body: String,
    /// 0..1: for `burnout_risk` the probability, for `goal_at_risk` 1 − the on-time
    /// probability, otherwise how strong the finding is. Items come strongest first.
    pub score: f64,
    /// The numbers behind it ("why am I seeing this"): the inputs that drove it with their
    /// values, the student's own usual value (`usual`, the same measure four weeks earlier) and
    /// units, or the days compared.
    #[salvo(schema(value_type = Object))]
    pub evidence: serde_json::Value,
    /// When it was computed (RFC 3339).
    pub created_at: String,
}

/// The model that made the insights.
#[derive(Debug, Serialize, salvo::oapi::ToSchema)]
pub struct ModelView {
    /// Name.
    pub name: String,
    /// Version.
    pub version: String,
    /// What it was trained on (a synthetic cohort unless the school retrained it).
    pub trained_on: String,
}

/// `GET /insights`.
#[derive(Debug, Serialize, salvo::oapi::ToSchema)]
pub struct InsightsView {
    /// `ready`, `not_enough_data` (fewer logged days than needed; the one item says how many),
    /// or `off` (the student turned insights off with `settings.insights = false`).
    pub status: String,
    /// When they were computed (RFC 3339).
    pub computed_at: Option<String>,
    /// The latest insights, strongest first.
    pub items: Vec<InsightView>,
    /// The model.
    pub model: ModelView,
}

fn model(state: &AppState) -> AppResult<Arc<Model>> {
    state.insights_model.clone().map_err(|why| AppError::InsightsUnavailable(format!("insights are unavailable on this server: {why}")))
}

fn model_ref(m: &Model) -> ModelRef {
    ModelRef { name: m.meta.name.clone(), version: m.meta.version.clone(), trained_on: m.meta.trained_on.clone() }
}

/// The API's view of a set; `off` (with the running model) when there is none.
fn view(set: Option<InsightSet>, running: ModelRef) -> InsightsView {
    let model = |r: &ModelRef| ModelView { name: r.name.clone(), version: r.version.clone(), trained_on: r.trained_on.clone() };
    match set {
        Some(s) => InsightsView {
            status: s.status.clone(),
            computed_at: Some(crate::clock::rfc3339(s.computed_at)),
            model: model(&s.model),
            items: s
                .items
                .into_iter()
                .map(|i| InsightView {
                    id: i.id,
                    kind: i.kind,
                    title: i.title,
                    body: i.body,
                    score: i.score,
                    evidence: i.evidence,
                    created_at: crate::clock::rfc3339(i.created_at),
                })
                .collect(),
        },
        None => InsightsView { status: "off".into(), computed_at: None, items: Vec::new(), model: model(&running) },
    }
}

fn wants_insights(u: &UserRecord) -> bool {
    u.settings.insights && !u.disabled && u.deleted_at.is_none()
}

/// A day of the log as the features read it (start hours in the student's time zone).
pub fn day(l: &DayFacts, tz: chrono_tz::Tz) -> Day {
    let mut d = Day { date: l.date, sleep: l.sleep_hours, mood: l.mood, ..Day::default() };
    for s in l.study_sessions.iter().filter(|s| s.minutes > 0) {
        d.minutes += s.minutes;
        d.sessions += 1;
        match d.subjects.iter_mut().find(|(name, _)| *name == s.subject) {
            Some(e) => e.1 += s.minutes,
            None => d.subjects.push((s.subject.clone(), s.minutes)),
        }
        if let Some(at) = s.started_at {
            let hour = at.with_timezone(&tz).hour();
            d.timed += 1;
            d.late += u32::from(features::is_late(hour));
            d.starts.push((hour, s.minutes));
        }
    }
    d
}

fn goal_input((g, progress): &(GoalRecord, f64), today: NaiveDate, study_days_14: usize) -> Option<GoalInput> {
    // As the goals API shows it.
    let current = (progress * 100.0).round() / 100.0;
    let state = GoalState { start: g.start_date, end: g.end_date, target: g.target_value, current };
    let features = features::goal_features(&state, today, study_days_14)?;
    let metric = serde_json::to_value(g.metric).ok()?.as_str()?.to_string();
    Some(GoalInput {
        id: g.id.to_string(),
        title: g.title.clone(),
        end: g.end_date,
        target: g.target_value,
        current,
        metric,
        features,
        on_time: 0.0,
        contributions: Vec::new(),
    })
}

/// What one student's insights are computed from, as read from storage.
pub struct Inputs {
    /// When.
    pub now: DateTime<Utc>,
    /// The logged days before today in the student's time zone.
    pub history: History,
    /// Active goals of today, with their progress.
    pub goals: Vec<(GoalRecord, f64)>,
}

/// Reads what a student's insights need (blocking): [`features::HISTORY_DAYS`] days of logs
/// without their free text, and today's active goals.
pub fn load(state: &AppState, user: &UserRecord) -> AppResult<Inputs> {
    let tz: chrono_tz::Tz = user.timezone.parse().unwrap_or(chrono_tz::UTC);
    let now = state.clock.now();
    let today = now.with_timezone(&tz).date_naive();
    let from = today - chrono::Duration::days(features::HISTORY_DAYS);
    let logs = crate::store::activity::facts(&state.store, user.id, from, today - chrono::Duration::days(1))?;
    let history = History::new(today, logs.iter().map(|l| day(l, tz)).collect());
    let goals = super::goals::active_on(state, user.id, today)?;
    Ok(Inputs { now, history, goals })
}

/// The insights of these inputs: features, one run of the model, the rules (no storage).
pub fn infer(m: &Model, min_days: usize, inputs: &Inputs) -> AppResult<InsightSet> {
    let (now, history, today) = (inputs.now, &inputs.history, inputs.history.today);
    let x = features::user_features(history);
    let earlier = history.as_of(features::WINDOW);
    let usual = (earlier.logged_days() >= min_days).then(|| features::user_features(&earlier));
    let study_days_14 = history.study_days(14);
    let mut goals: Vec<GoalInput> = inputs.goals.iter().filter_map(|g| goal_input(g, today, study_days_14)).collect();
    let goal_rows: Vec<[f32; GOAL_FEATURES.len()]> =
        if goals.is_empty() { vec![[0.0; GOAL_FEATURES.len()]] } else { goals.iter().map(|g| g.features).collect() };
    let out = m.run(&[x], &goal_rows).map_err(|e| AppError::InsightsUnavailable(format!("the insights model failed: {e}")))?;
    for (i, g) in goals.iter_mut().enumerate() {
        g.on_time = out.goal_on_time[i];
        g.contributions = out.goal_contributions[i].clone();
    }
    let no_contributions = vec![0.0; USER_FEATURES.len()];
    let ctx = Context {
        history,
        x,
        usual,
        burnout: out.burnout[0],
        burnout_contributions: out.burnout_contributions.first().unwrap_or(&no_contributions),
        forecast: out.next_week_minutes[0],
        forecast_contributions: out.forecast_contributions.first().unwrap_or(&no_contributions),
        goals,
        min_days,
    };
    let drafts = rules(&ctx);
    let status = if drafts.iter().any(|d| d.kind == "not_enough_data") { "not_enough_data" } else { "ready" };
    let items = drafts
        .into_iter()
        .map(|d| InsightRecord {
            id: crate::ids::new_id(),
            kind: d.kind.to_string(),
            subject: d.subject,
            title: d.title,
            body: d.body,
            score: d.score,
            evidence: d.evidence,
            created_at: now,
        })
        .collect();
    Ok(InsightSet { computed_at: now, status: status.into(), model: model_ref(m), items })
}

/// Computes a student's insights now (blocking: [`load`], then [`infer`]).
pub fn compute(state: &AppState, m: &Model, user: &UserRecord) -> AppResult<InsightSet> {
    infer(m, state.config.insights.min_logged_days as usize, &load(state, user)?)
}

/// The strong items of `new` that were not strong already in `old` (same kind and subject).
fn to_announce(old: Option<&InsightSet>, new: &InsightSet) -> Vec<Uuid> {
    let strong_before =
        |i: &InsightRecord| old.is_some_and(|o| o.items.iter().any(|p| p.kind == i.kind && p.subject == i.subject && p.score >= ANNOUNCE));
    new.items.iter().filter(|i| i.score >= ANNOUNCE && !strong_before(i)).map(|i| i.id).collect()
}

/// Computes and prepares the write for one student (blocking).
fn prepare(state: &AppState, m: &Model, user: &UserRecord, week: Option<String>) -> AppResult<Write> {
    let set = compute(state, m, user)?;
    let old = store::get(&state.store, user.id)?;
    let announce = to_announce(old.as_ref(), &set);
    Ok(Write { user: user.id, set, week, announce })
}

/// Stores sets with their events, durably.
async fn save(state: &AppState, writes: Vec<Write>) -> AppResult<()> {
    let events: usize = writes.iter().map(|w| w.announce.len()).sum();
    let at = state.clock.now();
    if events == 0 {
        // Nothing to announce: a plain durable write, no trip through the event committer.
        state.store.write(move |s| store::put(s, &writes, at, 0).map(|_| ())).await
    } else {
        state.events.commit(events, move |s, first| store::put(s, &writes, at, first).map(|e| ((), e))).await.map(|_| ())
    }
}

/// Computes a student's insights on the insights thread and stores them.
async fn recompute(state: &Arc<AppState>, m: Arc<Model>, user: UserRecord) -> AppResult<InsightSet> {
    let st = state.clone();
    let w = state.insights_pool.run(move || prepare(&st, &m, &user, None)).await??;
    let set = w.set.clone();
    save(state, vec![w]).await?;
    Ok(set)
}

fn live_user(state: &AppState, id: Uuid) -> AppResult<UserRecord> {
    users::get(&state.store, id)?.filter(|u| u.deleted_at.is_none()).ok_or(AppError::NotFound("user"))
}

/// GET /insights: the caller's latest insights (computed now the first time).
pub async fn get(state: &Arc<AppState>, me: Caller) -> AppResult<InsightsView> {
    let m = model(state)?;
    let user = live_user(state, me.id())?;
    if !user.settings.insights {
        return Ok(view(None, model_ref(&m)));
    }
    let set = match store::get(&state.store, me.id())? {
        Some(s) => s,
        None => recompute(state, m.clone(), user).await?,
    };
    Ok(view(Some(set), model_ref(&m)))
}

/// POST /insights/refresh: recomputes now (rate-limited per student).
pub async fn refresh(state: &Arc<AppState>, me: Caller) -> AppResult<InsightsView> {
    let m = model(state)?;
    let user = live_user(state, me.id())?;
    if !user.settings.insights {
        return Err(AppError::Conflict("insights are turned off; set settings.insights to true to turn them on".into(), Vec::new()));
    }
    state.insight_refreshes.take(&me.id().to_string(), state.clock.unix()).map_err(AppError::RateLimited)?;
    let set = recompute(state, m.clone(), user).await?;
    Ok(view(Some(set), model_ref(&m)))
}

/// After `settings.insights` was turned off: forget what was computed.
pub async fn forget(state: &AppState, user: Uuid) -> AppResult<()> {
    state.store.write(move |s| store::delete_all(s, user)).await
}

/// The caller's insights for the data export (as stored; none when off or never computed).
pub fn export(state: &AppState, me: Uuid) -> AppResult<Option<InsightsView>> {
    Ok(store::get(&state.store, me)?.map(|set| {
        let made_by = set.model.clone();
        view(Some(set), made_by)
    }))
}

/// The ISO week (`2026-W49`) whose weekly insights are due at this local time: a week starts on
/// Monday at `hour`.
pub fn due_week(local: chrono::NaiveDateTime, hour: u32) -> String {
    let w = (local - chrono::Duration::hours(i64::from(hour))).date().iso_week();
    format!("{}-W{:02}", w.year(), w.week())
}

/// Users computed per page of the weekly job (one transaction each).
const PAGE: usize = 200;

/// One pass of the weekly job: every student whose week is due gets new insights. Returns how
/// many were computed.
pub async fn run_weekly(state: &Arc<AppState>) -> AppResult<usize> {
    let Ok(m) = state.insights_model.clone() else { return Ok(0) };
    let (mut done, mut after) = (0, None);
    loop {
        let (st, m2) = (state.clone(), m.clone());
        let (writes, last, full) = state
            .insights_pool
            .run(move || -> AppResult<_> {
                let page = users::list(&st.store, after, PAGE)?;
                let mut writes = Vec::new();
                for u in page.iter().filter(|u| wants_insights(u)) {
                    let tz: chrono_tz::Tz = u.timezone.parse().unwrap_or(chrono_tz::UTC);
                    let week = due_week(st.clock.now().with_timezone(&tz).naive_local(), st.config.insights.weekly_hour);
                    if store::week(&st.store, u.id)?.as_deref() == Some(week.as_str()) {
                        continue;
                    }
                    match prepare(&st, &m2, u, Some(week)) {
                        Ok(w) => writes.push(w),
                        Err(e) => tracing::warn!(user = %u.id, error = %e, "insights failed"),
                    }
                }
                Ok((writes, page.last().map(|u| u.id), page.len() == PAGE))
            })
            .await??;
        done += writes.len();
        if !writes.is_empty() {
            save(state, writes).await?;
        }
        match last {
            Some(l) if full => after = Some(l),
            _ => return Ok(done),
        }
    }
}
