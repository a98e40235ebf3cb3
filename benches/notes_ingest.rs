//! Notes written one by one through the API (issue 16), as students write them, against a running
//! server with open registration: CONNECTIONS writers post TOTAL generated notes (`seed/notes.rs`:
//! the corpus of `benches/notes.sh`) as 16 accounts; meanwhile, every 2 s, a marked note is posted
//! and searched for every 20 ms until it is found (the "searchable within 1 s" promise). Prints
//! notes/s, the POST latency, the delays until searchable, and `TOKENS=…` (8 of the writers) for the
//! search runs that follow (see `benches/notes.sh ingest`).
//! `cargo bench --bench notes_ingest -- BASE TOTAL CONNECTIONS`

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

#[allow(dead_code)]
#[path = "seed/notes.rs"]
mod notes;
mod support;

fn visibility(v: &friend::store::notes::Visibility) -> &'static str {
    match v {
        friend::store::notes::Visibility::Private => "private",
        friend::store::notes::Visibility::Friends => "friends",
        friend::store::notes::Visibility::Public => "public",
    }
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().filter(|a| a != "--bench").collect();
    let base = args.get(1).expect("usage: notes_ingest BASE TOTAL CONNECTIONS").clone();
    let total: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(100_000);
    let connections: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(8);
    let http = reqwest::Client::new();
    let users = Arc::new(support::users(&http, &base, 16).await);

    let next = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let writers: Vec<_> = (0..connections)
        .map(|w| {
            let (http, base, users, next) = (http.clone(), base.clone(), users.clone(), next.clone());
            tokio::spawn(async move {
                let mut generator = notes::Generator::new(w as u64 + 1);
                let mut lat = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= total {
                        return lat;
                    }
                    let n = generator.next();
                    let body = json!({"title": n.title, "content": n.content, "tags": n.tags, "visibility": visibility(&n.visibility)});
                    let t = Instant::now();
                    let r = http.post(format!("{base}/api/v1/notes")).bearer_auth(&users[i % users.len()].token).json(&body).send().await;
                    assert_eq!(r.map(|r| r.status().as_u16()).unwrap_or(0), 201, "POST /notes failed");
                    lat.push(t.elapsed().as_secs_f64() * 1000.0);
                }
            })
        })
        .collect();

    // The promise: a note acknowledged now is found by search within 1 s.
    let probe = {
        let (http, base, users, done) = (http.clone(), base.clone(), users.clone(), done.clone());
        tokio::spawn(async move {
            let mut delays = Vec::new();
            let mut k = 0;
            while !done.load(Ordering::Relaxed) {
                tokio::time::sleep(Duration::from_secs(2)).await;
                k += 1;
                let word = format!("zqprobe{k}x{}", std::process::id());
                let body = json!({"title": format!("probe {word}"), "content": "checking search", "visibility": "private"});
                let r = http.post(format!("{base}/api/v1/notes")).bearer_auth(&users[0].token).json(&body).send().await.unwrap();
                assert_eq!(r.status().as_u16(), 201);
                let acked = Instant::now();
                loop {
                    let hits: Value = http
                        .get(format!("{base}/api/v1/notes/search?q={word}"))
                        .bearer_auth(&users[0].token)
                        .send()
                        .await
                        .unwrap()
                        .json()
                        .await
                        .unwrap();
                    if hits["items"].as_array().is_some_and(|a| !a.is_empty()) {
                        delays.push(acked.elapsed().as_secs_f64() * 1000.0);
                        break;
                    }
                    if acked.elapsed() > Duration::from_secs(30) {
                        delays.push(f64::INFINITY);
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
            delays
        })
    };

    let mut lat = Vec::new();
    for w in writers {
        lat.extend(w.await.unwrap());
    }
    let secs = started.elapsed().as_secs_f64();
    done.store(true, Ordering::Relaxed);
    let delays = probe.await.unwrap();
    println!("{total} notes through POST /api/v1/notes at {connections} connections in {secs:.1} s: {:.0} notes/s", total as f64 / secs);
    support::report("POST /notes (durable, then indexed)", lat);
    support::report("acknowledged → found by search", delays);
    let tokens: Vec<&str> = users.iter().take(8).map(|u| u.token.as_str()).collect();
    println!("TOKENS={}", tokens.join(" "));
}
