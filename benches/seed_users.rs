//! Seeds a data directory with N users straight through the store (no HTTP, one shared password
//! hash), to measure start-up time and lookups at scale.
//! `cargo bench --bench seed_users -- DATA_DIR N [FRIENDSHIPS HUB_FRIENDS [DAYS]]` (every user's
//! password is `bench-password`). With FRIENDSHIPS, random pairs become friends, and `seed0` gets
//! HUB_FRIENDS. With DAYS, every user joined DAYS days ago, logged about six days in seven since
//! (0–4 study sessions, sleep, mood), has three goals (one spanning the whole time), opted in to the
//! weekly ranking, and has every report made except last week's: the next report-job pass is
//! exactly the start-of-week run. With NOTES, that many generated notes (see `seed/notes.rs`) by
//! random authors: `cargo bench --bench seed_users -- DATA_DIR N FRIENDSHIPS HUB DAYS NOTES`.

#[path = "seed/notes.rs"]
mod notes;

use friend::model::{ProfileVisibility, Role};
use friend::store::Store;
use friend::store::social;
use friend::store::users::{self, Settings, UserRecord};

fn main() {
    let args: Vec<String> = std::env::args().filter(|a| a != "--bench").collect();
    let dir = std::path::PathBuf::from(args.get(1).expect("usage: seed_users DATA_DIR N"));
    let n: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(100_000);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async move {
        let store = Store::open(&dir, 64).unwrap();
        let hasher = friend::infra::passwords::Hasher::new(friend::infra::cpu_pool::CpuPool::new(1, 4));
        let hash = hasher.hash("bench-password".into()).await.unwrap();
        let started = std::time::Instant::now();
        let now = chrono::Utc::now();
        let days: i64 = args.get(5).and_then(|s| s.parse().ok()).unwrap_or(0);
        let joined = now - chrono::Duration::days(days);
        let mut ids = Vec::with_capacity(n);
        for i in 0..n {
            let u = UserRecord {
                id: friend::ids::new_id(),
                email: format!("seed{i}@bench.test"),
                username: format!("seed{i}"),
                name: format!("Seed User {i}"),
                bio: String::new(),
                study_focus: ["Maths", "Physics", "History", "Biology"][i % 4].into(),
                timezone: "Europe/Paris".into(),
                settings: Settings { weekly_ranking: days > 0, ..Settings::default() },
                profile_visibility: ProfileVisibility::Everyone,
                role: Role::Student,
                disabled: false,
                password_hash: hash.clone(),
                avatar_id: None,
                created_at: joined,
                updated_at: joined,
                last_seen_at: None,
                deleted_at: None,
                two_factor: None,
                class_name: String::new(),
            };
            users::insert(&store, &u, None).unwrap();
            ids.push(u.id);
        }
        store.flush_now().unwrap();
        println!("seeded {n} users in {:.1} s", started.elapsed().as_secs_f64());
        let pairs: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(0);
        let hub: usize = args.get(4).and_then(|s| s.parse().ok()).unwrap_or(0);
        if pairs > 0 {
            let started = std::time::Instant::now();
            // A small deterministic generator (xorshift) so runs are comparable.
            let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
            let mut next = || {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x
            };
            for i in 1..=hub.min(n - 1) {
                social::restore_friendship(&store, ids[0], ids[i], now).unwrap();
            }
            let mut made = hub.min(n - 1);
            while made < pairs {
                let (a, b) = ((next() % n as u64) as usize, (next() % n as u64) as usize);
                if a != b && a != 0 && b != 0 && !social::are_friends(&store, ids[a], ids[b]).unwrap() {
                    social::restore_friendship(&store, ids[a], ids[b], now).unwrap();
                    made += 1;
                }
            }
            store.flush_now().unwrap();
            println!("seeded {made} friendships in {:.1} s", started.elapsed().as_secs_f64());
        }
        let note_count: usize = args.get(6).and_then(|s| s.parse().ok()).unwrap_or(0);
        if note_count > 0 {
            let started = std::time::Instant::now();
            let public = notes::seed(&store, &ids, note_count);
            store.flush_now().unwrap();
            println!("seeded {note_count} notes ({public} public) in {:.1} s", started.elapsed().as_secs_f64());
        }
        if days > 0 {
            let started = std::time::Instant::now();
            for (i, id) in ids.iter().enumerate() {
                activity::seed(&store, *id, i as u64, joined, days);
            }
            store.flush_now().unwrap();
            println!("seeded {days} days of logs, goals and past reports for {n} users in {:.1} s", started.elapsed().as_secs_f64());
        }
    });
}

/// Study-life data for one user.
mod activity {
    use chrono::{DateTime, Duration, Utc};
    use friend::store::Store;
    use friend::store::activity::{self as logs, DailyLog, Mood, StudySession};
    use friend::store::goals::{self, GoalRecord, GoalStatus, Metric, Period};
    use uuid::Uuid;

    const SUBJECTS: [&str; 8] = ["Maths", "Physics", "History", "Biology", "English", "Chemistry", "Art", "Music"];

    pub fn seed(store: &Store, user: Uuid, salt: u64, joined: DateTime<Utc>, days: i64) {
        let mut x = 0x2545_F491_4F6C_DD1D ^ (salt + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let mut next = move |m: u64| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % m
        };
        let tz: chrono_tz::Tz = "Europe/Paris".parse().unwrap();
        let today = Utc::now().with_timezone(&tz).date_naive();
        let mut batch = Vec::new();
        for k in (1..=days).rev() {
            if next(7) == 0 {
                continue;
            }
            let date = today - Duration::days(k);
            let study_sessions = (0..next(5))
                .map(|_| StudySession {
                    id: friend::ids::new_id(),
                    subject: SUBJECTS[next(8) as usize].into(),
                    minutes: 15 + next(106) as u32,
                    started_at: None,
                    note: None,
                })
                .collect();
            let score = 1 + next(5) as u8;
            batch.push(DailyLog {
                date,
                study_sessions,
                sleep_hours: Some(5.0 + next(10) as f64 / 2.0),
                mood: Some(Mood { score, emoji: String::new(), label: String::new() }),
                tags: vec![],
                description: String::new(),
                notes: String::new(),
                updated_at: joined,
            });
        }
        logs::put_all(store, user, &batch).unwrap();
        let start = joined.date_naive();
        let goal = |title: &str, period, metric, target_value, start_date, end_date| GoalRecord {
            id: friend::ids::new_id(),
            title: title.into(),
            description: String::new(),
            period,
            metric,
            subject: None,
            target_value,
            start_date,
            end_date,
            manual_progress: 0.0,
            status: GoalStatus::Active,
            completed_at: None,
            created_at: joined,
            updated_at: joined,
        };
        let monday = today - Duration::days(i64::from(chrono::Datelike::weekday(&today).num_days_from_monday()));
        for g in [
            goal("A year of study", Period::Custom, Metric::StudyMinutes, 30_000.0, start, today + Duration::days(30)),
            goal("Study five days", Period::Weekly, Metric::StudyDays, 5.0, monday - Duration::days(7), monday - Duration::days(1)),
            goal("Sleep eight hours", Period::Custom, Metric::SleepHours, 8.0, monday - Duration::days(28), today),
        ] {
            goals::put(store, user, &g).unwrap();
        }
        let now = Utc::now();
        let made: Vec<friend::store::report_runs::Made> =
            friend::jobs::due_periods(today, start).into_iter().skip(1).map(|(label, kind, _)| (user, label, kind)).collect();
        let first = friend::store::event_log::high_water(store).unwrap() + 1;
        friend::store::report_runs::mark(store, &made, now, first).unwrap();
    }
}
