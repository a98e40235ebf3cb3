//! From features, model outputs and the student's own statistics to insights a student reads.
//! Tone for minors: kind, concrete, never judgmental, no medical claims. Every insight carries
//! the numbers behind it (`evidence`), and nothing is said from too little data.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde_json::{Value, json};

use super::features::{self, GOAL_FEATURES, History, USER_FEATURES, idx};

/// Burnout probability from which the burnout insight is shown.
pub const BURNOUT_SHOWN: f32 = 0.5;
/// On-time probability below which a goal is at risk.
pub const GOAL_AT_RISK: f32 = 0.5;
/// Score from which a new insight is announced (an `insight` event, then a notification).
pub const ANNOUNCE: f64 = 0.7;

/// An insight before it is stored.
#[derive(Clone, Debug, PartialEq)]
pub struct Draft {
    /// `burnout_risk`, `goal_at_risk`, `forecast`, `sleep_and_study`, `best_study_time`,
    /// `neglected_subject`, `consistency` or `not_enough_data`.
    pub kind: &'static str,
    /// What it is about (a goal id for `goal_at_risk`), so repeats are recognised.
    pub subject: Option<String>,
    /// Short title.
    pub title: String,
    /// One or two kind sentences.
    pub body: String,
    /// 0..1: how strong or how important.
    pub score: f64,
    /// The numbers behind it.
    pub evidence: Value,
}

/// An active goal with the model's view of it.
#[derive(Clone, Debug)]
pub struct GoalInput {
    /// Goal id.
    pub id: String,
    /// Its title.
    pub title: String,
    /// Last day.
    pub end: NaiveDate,
    /// Target and progress in the goal's unit.
    pub target: f64,
    /// Progress so far.
    pub current: f64,
    /// `study_minutes`, `sleep_hours`, `study_days` or `custom`.
    pub metric: String,
    /// Its features.
    pub features: [f32; 6],
    /// Probability of finishing on time.
    pub on_time: f32,
    /// Each feature's share of the log-odds.
    pub contributions: Vec<f32>,
}

/// What the rules read.
#[derive(Clone, Debug)]
pub struct Context<'a> {
    /// The logs.
    pub history: &'a History,
    /// Features now.
    pub x: [f32; 15],
    /// The same features four weeks earlier (when enough was logged then).
    pub usual: Option<[f32; 15]>,
    /// Burnout probability.
    pub burnout: f32,
    /// Its contributions.
    pub burnout_contributions: &'a [f32],
    /// Next week's minutes.
    pub forecast: f32,
    /// Its contributions in minutes.
    pub forecast_contributions: &'a [f32],
    /// Active goals.
    pub goals: Vec<GoalInput>,
    /// Logged days in the window needed for any insight.
    pub min_days: usize,
}

/// "2 h 05 min", "45 min".
pub fn duration(minutes: f64) -> String {
    let m = minutes.round().max(0.0) as i64;
    if m >= 60 { format!("{} h {:02} min", m / 60, m % 60) } else { format!("{m} min") }
}

fn r(v: f64, places: i32) -> f64 {
    let k = 10f64.powi(places);
    (v * k).round() / k
}

/// Evidence rows for the features that pushed a score up most: name, value, the student's own
/// value four weeks earlier, unit and contribution.
fn drivers(ctx: &Context, contributions: &[f32], min: f32, n: usize) -> Vec<Value> {
    let mut order: Vec<usize> = (0..contributions.len()).filter(|i| contributions[*i] > min).collect();
    order.sort_by(|a, b| contributions[*b].total_cmp(&contributions[*a]));
    order
        .into_iter()
        .take(n)
        .map(|i| {
            json!({
                "feature": USER_FEATURES[i].name,
                "value": r(f64::from(ctx.x[i]), 2),
                "usual": ctx.usual.map(|u| r(f64::from(u[i]), 2)),
                "unit": USER_FEATURES[i].unit,
                "contribution": r(f64::from(contributions[i]), 3),
            })
        })
        .collect()
}

/// Words for what drove the burnout score.
fn driver_words(ctx: &Context, names: &[&str]) -> Vec<String> {
    let x = |n: &str| f64::from(ctx.x[idx(n)]);
    let mut words = Vec::new();
    for n in names {
        let w = match *n {
            "study_mean" | "last7_minutes" => format!("about {} of study a day", duration(x("study_mean"))),
            "long_days" => format!("{} days of 6+ hours of study", x("long_days")),
            "study_trend" | "study_vs_baseline" => "more study than usual".to_string(),
            "sleep_debt" => format!("{:.1} hours less sleep than you need this week", x("sleep_debt")),
            "sleep_sd" => "irregular sleep".to_string(),
            "late_share" => "late-night study sessions".to_string(),
            "mood_mean" => format!("a mood of {:.1} out of 5 on average", x("mood_mean")),
            "mood_slope" => "a mood that has been going down".to_string(),
            "days_unlogged" => "fewer logged days".to_string(),
            _ => continue,
        };
        if !words.contains(&w) {
            words.push(w);
        }
    }
    words
}

fn join(words: &[String]) -> String {
    match words {
        [] => String::new(),
        [a] => a.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

fn burnout(ctx: &Context, out: &mut Vec<Draft>) {
    if ctx.burnout < BURNOUT_SHOWN {
        return;
    }
    let ev = drivers(ctx, ctx.burnout_contributions, 0.05, 5);
    let names: Vec<&str> = ev.iter().filter_map(|e| e["feature"].as_str()).collect();
    let words = driver_words(ctx, &names);
    let seen =
        if words.is_empty() { "Your last weeks look intense.".to_string() } else { format!("Your last four weeks show {}.", join(&words)) };
    out.push(Draft {
        kind: "burnout_risk",
        subject: None,
        title: "Time to recharge".into(),
        body: format!(
            "{seen} Rest is part of learning: plan a lighter day, get to bed a little earlier, and if things feel heavy, talk to someone you trust — a friend, your family or a teacher."
        ),
        score: r(f64::from(ctx.burnout), 3),
        evidence: json!({ "probability": r(f64::from(ctx.burnout), 3), "horizon_days": 14, "drivers": ev }),
    });
}

fn goals(ctx: &Context, out: &mut Vec<Draft>) {
    for g in ctx.goals.iter().filter(|g| g.on_time < GOAL_AT_RISK) {
        let [elapsed, progress, _, _, days_left, _] = g.features.map(f64::from);
        let remaining = (g.target - g.current).max(0.0);
        let per_day = remaining / days_left.max(1.0);
        let need = match g.metric.as_str() {
            "study_minutes" => format!("About {} of study a day would get you there", duration(per_day)),
            "study_days" => format!("Studying on {} of the {} days left would get you there", remaining.ceil(), days_left),
            "sleep_hours" => format!("About {:.1} hours of sleep a night would get you there", per_day),
            _ => format!("About {:.1} a day would get you there", per_day),
        };
        let mut ev_drivers: Vec<Value> = Vec::new();
        let mut order: Vec<usize> = (0..g.contributions.len()).collect();
        order.sort_by(|a, b| g.contributions[*a].total_cmp(&g.contributions[*b]));
        for i in order.into_iter().take(3) {
            ev_drivers.push(json!({ "feature": GOAL_FEATURES[i].name, "value": r(f64::from(g.features[i]), 3), "unit": GOAL_FEATURES[i].unit, "contribution": r(f64::from(g.contributions[i]), 3) }));
        }
        out.push(Draft {
            kind: "goal_at_risk",
            subject: Some(g.id.clone()),
            title: format!("“{}” needs a push", g.title),
            body: format!(
                "You are at {:.0}% with {:.0}% of the time gone. {need} — or change the target: goals are there to help you, not to stress you.",
                progress * 100.0,
                elapsed * 100.0
            ),
            score: r(1.0 - f64::from(g.on_time), 3),
            evidence: json!({
                "goal_id": g.id, "probability_on_time": r(f64::from(g.on_time), 3), "progress_ratio": r(progress, 3),
                "time_elapsed": r(elapsed, 3), "days_left": days_left, "current": r(g.current, 2), "target": g.target,
                "needed_per_day": r(per_day, 2), "end_date": g.end.to_string(), "drivers": ev_drivers,
            }),
        });
    }
}

fn forecast(ctx: &Context, out: &mut Vec<Draft>) {
    let usual_week = f64::from(ctx.x[idx("study_mean")]) * 7.0;
    let f = f64::from(ctx.forecast);
    let ev = drivers(ctx, ctx.forecast_contributions, f32::MIN, 3);
    out.push(Draft {
        kind: "forecast",
        subject: None,
        title: format!("Next week: about {}", duration((f / 10.0).round() * 10.0)),
        body: format!(
            "That is what your last four weeks point to (on average {} a week, {} in the last 7 days). It is a forecast, not a target.",
            duration(usual_week),
            duration(f64::from(ctx.x[idx("last7_minutes")]))
        ),
        score: 0.3,
        evidence: json!({ "predicted_minutes": r(f, 0), "last_7_days_minutes": ctx.x[idx("last7_minutes")], "average_week_minutes": r(usual_week, 0), "drivers": ev }),
    });
}

/// Welch's t statistic of two samples.
fn welch(a: &[f64], b: &[f64]) -> f64 {
    let (ma, mb) = (features::mean(a), features::mean(b));
    let var = |v: &[f64], m: f64| v.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (v.len() as f64 - 1.0).max(1.0);
    let se = (var(a, ma) / a.len() as f64 + var(b, mb) / b.len() as f64).sqrt();
    if se > 0.0 { (ma - mb) / se } else { 0.0 }
}

/// Days compared in each group of a statistic, at least.
const MIN_GROUP: usize = 5;

fn sleep_and_study(ctx: &Context, out: &mut Vec<Draft>) {
    let (mut rested, mut short) = (Vec::new(), Vec::new());
    for d in ctx.history.days() {
        match d.sleep {
            Some(s) if s >= 7.0 => rested.push(f64::from(d.minutes)),
            Some(_) => short.push(f64::from(d.minutes)),
            None => {}
        }
    }
    if rested.len() < MIN_GROUP || short.len() < MIN_GROUP {
        return;
    }
    let diff = features::mean(&rested) - features::mean(&short);
    let t = welch(&rested, &short);
    if diff < 15.0 || t < 2.0 {
        return;
    }
    out.push(Draft {
        kind: "sleep_and_study",
        subject: None,
        title: format!("After 7+ hours of sleep you study {} longer", duration(diff)),
        body: format!(
            "On days after 7 or more hours of sleep you studied {} on average, after shorter nights {} ({} days compared). Sleep seems to help you focus.",
            duration(features::mean(&rested)),
            duration(features::mean(&short)),
            rested.len() + short.len()
        ),
        score: r((0.4 + t / 10.0).min(0.65), 3),
        evidence: json!({
            "rested_days": rested.len(), "short_sleep_days": short.len(), "rested_mean_minutes": r(features::mean(&rested), 1),
            "short_sleep_mean_minutes": r(features::mean(&short), 1), "difference_minutes": r(diff, 1), "welch_t": r(t, 2), "sleep_threshold_hours": 7,
        }),
    });
}

const PARTS: [(&str, u32, u32); 3] = [("morning", 5, 12), ("afternoon", 12, 17), ("evening", 17, 22)];

fn best_time(ctx: &Context, out: &mut Vec<Draft>) {
    let starts: Vec<(u32, u32)> = ctx.history.days().iter().flat_map(|d| d.starts.iter().copied()).collect();
    if starts.len() < 10 {
        return;
    }
    let mut best: Option<(&str, f64, f64, usize, usize)> = None;
    for (name, from, to) in PARTS {
        let (inside, other): (Vec<_>, Vec<_>) = starts.iter().partition(|(h, _)| (from..to).contains(h));
        if inside.len() < 4 || other.len() < 4 {
            continue;
        }
        let m = |v: &[&(u32, u32)]| v.iter().map(|s| f64::from(s.1)).sum::<f64>() / v.len() as f64;
        let (mi, mo) = (m(&inside), m(&other));
        if mi >= mo * 1.2 && mi - mo >= 5.0 && best.is_none_or(|b| mi - mo > b.1 - b.2) {
            best = Some((name, mi, mo, inside.len(), other.len()));
        }
    }
    let Some((part, mi, mo, n_in, n_out)) = best else { return };
    out.push(Draft {
        kind: "best_study_time",
        subject: Some(part.to_string()),
        title: format!("Your longest focus is in the {part}"),
        body: format!(
            "Your {part} sessions last {} on average, {} at other times ({} sessions compared). Try putting harder topics there.",
            duration(mi),
            duration(mo),
            n_in + n_out
        ),
        score: 0.45,
        evidence: json!({ "part_of_day": part, "sessions": n_in, "other_sessions": n_out, "mean_minutes": r(mi, 1), "other_mean_minutes": r(mo, 1) }),
    });
}

fn neglected(ctx: &Context, out: &mut Vec<Draft>) {
    let today = ctx.history.today;
    let base_from = today - chrono::Duration::days(features::WINDOW + features::BASELINE);
    let base_to = today - chrono::Duration::days(features::WINDOW);
    let recent = today - chrono::Duration::days(14);
    let mut base: BTreeMap<&str, (u32, usize)> = BTreeMap::new();
    let mut last: BTreeMap<&str, NaiveDate> = BTreeMap::new();
    for d in ctx.history.days() {
        for (s, m) in d.subjects.iter().filter(|(s, m)| !s.is_empty() && *m > 0) {
            if d.date >= base_from && d.date < base_to {
                let e = base.entry(s.as_str()).or_default();
                e.0 += m;
                e.1 += 1;
            }
            last.insert(s.as_str(), d.date);
        }
    }
    let pick = base
        .iter()
        .filter(|(s, (m, days))| *m >= 120 && *days >= 3 && last.get(*s).is_some_and(|l| *l < recent))
        .max_by_key(|(_, (m, _))| *m);
    let Some((subject, (minutes, days))) = pick else { return };
    let last = last[subject];
    let weekly = f64::from(*minutes) / (features::BASELINE as f64 / 7.0);
    out.push(Draft {
        kind: "neglected_subject",
        subject: Some(subject.to_string()),
        title: format!("{} has been quiet for a while", capitalise(subject)),
        body: format!(
            "You last studied {subject} on {}; before that it was about {} a week. A short session can keep it fresh.",
            last.format("%-d %B"),
            duration(weekly)
        ),
        score: 0.5,
        evidence: json!({ "subject": subject, "last_studied": last.to_string(), "days_since": (today - last).num_days(), "baseline_minutes_per_week": r(weekly, 0), "baseline_days": days }),
    });
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    c.next().map(|f| f.to_uppercase().collect::<String>() + c.as_str()).unwrap_or_default()
}

fn consistency(ctx: &Context, out: &mut Vec<Draft>) {
    if ctx.burnout >= BURNOUT_SHOWN {
        return;
    }
    let days = ctx.history.study_days(features::WINDOW);
    let streak = ctx.x[idx("streak")];
    if days < 20 && streak < 10.0 {
        return;
    }
    out.push(Draft {
        kind: "consistency",
        subject: None,
        title: "Great consistency".into(),
        body: format!("You studied on {days} of the last 28 days (current streak: {streak} days). Steady work like this adds up."),
        score: 0.55,
        evidence: json!({ "study_days": days, "window_days": features::WINDOW, "streak_days": streak }),
    });
}

/// The insights for one student, strongest first; with too little data, only `not_enough_data`.
pub fn rules(ctx: &Context) -> Vec<Draft> {
    let logged = ctx.history.logged_days();
    if logged < ctx.min_days {
        return vec![Draft {
            kind: "not_enough_data",
            subject: None,
            title: "Not enough data yet".into(),
            body: format!(
                "Log your study, sleep and mood on at least {} of 28 days and your insights appear here. You have {logged} so far.",
                ctx.min_days
            ),
            score: 0.0,
            evidence: json!({ "logged_days": logged, "needed_days": ctx.min_days, "window_days": features::WINDOW }),
        }];
    }
    let mut out = Vec::new();
    burnout(ctx, &mut out);
    goals(ctx, &mut out);
    sleep_and_study(ctx, &mut out);
    neglected(ctx, &mut out);
    consistency(ctx, &mut out);
    best_time(ctx, &mut out);
    forecast(ctx, &mut out);
    out.sort_by(|a, b| b.score.total_cmp(&a.score));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_naturally() {
        assert_eq!(duration(45.0), "45 min");
        assert_eq!(duration(125.4), "2 h 05 min");
        assert_eq!(join(&["a".into(), "b".into(), "c".into()]), "a, b and c");
    }
}
