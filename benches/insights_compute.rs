//! Insights compute cost (issue 13), in process on a seeded data directory (server stopped):
//! model load time and the RSS it adds, then features + inference + rules for each user
//! (`service::insights::compute`: reading up to 112 days of logs and the active goals from sled,
//! the features, one ONNX run, the rules), ROUNDS times over every user.
//! `cargo bench --bench insights_compute -- DATA_DIR [ROUNDS] [CACHE_MB]` (see benches/insights.sh);
//! CACHE_MB is sled's page cache (the server's default unless given).

use std::time::Instant;

mod support;

fn rss_mb() -> f64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines().find_map(|l| l.strip_prefix("VmRSS:")).and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok()).unwrap_or(0.0)
        / 1024.0
}

fn main() {
    let args: Vec<String> = std::env::args().filter(|a| a != "--bench").collect();
    let dir = std::path::PathBuf::from(args.get(1).expect("usage: insights_compute DATA_DIR [ROUNDS]"));
    let rounds: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(3);
    let mut config = friend::Config { data_dir: dir, ..friend::Config::default() };
    if let Some(mb) = args.get(3).and_then(|s| s.parse().ok()) {
        config.storage.cache_mb = mb;
    }

    let before = rss_mb();
    let started = Instant::now();
    let model = friend::ml::Model::load("").expect("the built-in model");
    let first_ms = started.elapsed().as_secs_f64() * 1000.0;
    println!("model load (first, with the runtime's set-up): {first_ms:.2} ms; RSS {before:.1} -> {:.1} MB", rss_mb());
    let loads: Vec<f64> = (0..20)
        .map(|_| {
            let t = Instant::now();
            drop(friend::ml::Model::load("").unwrap());
            t.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    support::report("model load (again)", loads);
    drop(model);

    // Storage starts its group-commit task on the runtime.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let _runtime = rt.enter();
    println!("sled page cache: {} MB", config.storage.cache_mb);
    let state = friend::open_state(config, friend::Clock::system(), String::new()).expect("open the data directory");
    let model = state.insights_model.clone().expect("model");
    let users = friend::store::users::list(&state.store, None, 1_000_000).unwrap();
    let mut lat = Vec::with_capacity(users.len() * rounds);
    let mut kinds = std::collections::BTreeMap::<String, usize>::new();
    let all = Instant::now();
    for round in 0..rounds {
        for u in &users {
            let t = Instant::now();
            let set = friend::service::insights::compute(&state, &model, u).unwrap();
            lat.push(t.elapsed().as_secs_f64() * 1000.0);
            if round == 0 {
                for i in set.items {
                    *kinds.entry(i.kind).or_default() += 1;
                }
            }
        }
    }
    println!("{} users × {rounds} rounds in {:.2} s; insights of round 1 by kind: {kinds:?}", users.len(), all.elapsed().as_secs_f64());
    support::report("features + inference + rules, one user", lat);

    // Where the time goes: each stage alone, once per user.
    let stage = |name: &str, f: &dyn Fn(&friend::store::users::UserRecord)| {
        let lat: Vec<f64> = users
            .iter()
            .map(|u| {
                let t = Instant::now();
                f(u);
                t.elapsed().as_secs_f64() * 1000.0
            })
            .collect();
        support::report(name, lat);
    };
    let today = chrono::Utc::now().date_naive();
    stage("  stage: load (logs and goals)", &|u| {
        friend::service::insights::load(&state, u).unwrap();
    });
    stage("  stage: the logs of 112 days from sled", &|u| {
        friend::store::activity::facts(&state.store, u.id, today - chrono::Duration::days(112), today).unwrap();
    });
    stage("  stage: the active goals with their progress", &|u| {
        friend::service::goals::active_on(&state, u.id, today).unwrap();
    });
    let min_days = state.config.insights.min_logged_days as usize;
    let inputs: Vec<_> = users.iter().map(|u| friend::service::insights::load(&state, u).unwrap()).collect();
    let lat: Vec<f64> = inputs
        .iter()
        .map(|i| {
            let t = Instant::now();
            friend::service::insights::infer(&model, min_days, i).unwrap();
            t.elapsed().as_secs_f64() * 1000.0
        })
        .collect();
    support::report("  stage: infer (features, ONNX run, rules)", lat);
    let x = [[0.5f32; 15]];
    let goals = [[0.5f32; 6]; 3];
    stage("  stage: one ONNX run (1 student, 3 goals)", &|_| {
        model.run(&x, &goals).unwrap();
    });
}
