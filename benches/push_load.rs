//! Web Push load (issue 12): a fake push service in this process, a running server pushing to it.
//!
//! `cargo bench --bench push_load -- BASE FAKE_PORT throughput USERS DEVICES GROUPS`
//!   USERS members of GROUPS groups, each with DEVICES subscriptions; one message per group:
//!   USERS × DEVICES × GROUPS encrypted pushes. Reports pushes/s received by the fake (which
//!   answers 201 at once) and `GET /me` latency sampled while they flow.
//! `cargo bench --bench push_load -- BASE FAKE_PORT unreachable USERS DEVICES GROUPS`
//!   the same pushes to a push service that accepts connections and never answers (a
//!   firewalled route): reports the queue depth and `GET /me` latency while they wait.
//! The server must list `127.0.0.1:FAKE_PORT` in `push.allow_hosts` (see benches/push.sh).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use p256::elliptic_curve::sec1::ToEncodedPoint;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

mod support;
use support::*;

/// Pushes received, and when the first and the latest came (ms since `start`).
struct Counter {
    n: AtomicU64,
    first_ms: AtomicU64,
    last_ms: AtomicU64,
    start: Instant,
}

/// Answers every request with 201 (or never, with `hang`), counting them.
async fn fake_push_service(port: u16, hang: bool, c: Arc<Counter>) {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await.expect("fake push service port");
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else { return };
            let c = c.clone();
            tokio::spawn(async move {
                let mut buf = Vec::with_capacity(8192);
                let mut chunk = [0u8; 8192];
                loop {
                    let Some(head) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
                        match sock.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                        continue;
                    };
                    let text = String::from_utf8_lossy(&buf[..head]).to_ascii_lowercase();
                    let len: usize =
                        text.lines().find_map(|l| l.strip_prefix("content-length:")).and_then(|v| v.trim().parse().ok()).unwrap_or(0);
                    if buf.len() < head + 4 + len {
                        match sock.read(&mut chunk).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => buf.extend_from_slice(&chunk[..n]),
                        }
                        continue;
                    }
                    buf.drain(..head + 4 + len);
                    if hang {
                        tokio::time::sleep(Duration::from_secs(3600)).await;
                        return;
                    }
                    let ms = c.start.elapsed().as_millis() as u64;
                    if c.n.fetch_add(1, Ordering::Relaxed) == 0 {
                        c.first_ms.store(ms, Ordering::Relaxed);
                    }
                    c.last_ms.store(ms, Ordering::Relaxed);
                    if sock.write_all(b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n").await.is_err() {
                        return;
                    }
                }
            });
        }
    });
}

fn subscription(endpoint: &str) -> Value {
    let key = p256::SecretKey::random(&mut rand::rngs::OsRng);
    let mut auth = [0u8; 16];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut auth);
    json!({"endpoint": endpoint, "keys": {"p256dh": B64.encode(key.public_key().to_encoded_point(false).as_bytes()), "auth": B64.encode(auth)}})
}

/// Samples `GET /me` every 10 ms until `stop`; returns the latencies (ms).
async fn probe(http: reqwest::Client, base: String, token: String, stop: Arc<AtomicBool>) -> Vec<f64> {
    let mut lat = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        let t = Instant::now();
        let r = http.get(format!("{base}/api/v1/me")).bearer_auth(&token).send().await.unwrap();
        assert!(r.status().is_success());
        let _ = r.bytes().await;
        lat.push(t.elapsed().as_secs_f64() * 1000.0);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    lat
}

async fn metric(http: &reqwest::Client, base: &str, name: &str) -> f64 {
    let text = http.get(format!("{base}/metrics")).send().await.unwrap().text().await.unwrap();
    text.lines().find_map(|l| l.strip_prefix(name).and_then(|v| v.trim().parse().ok())).unwrap_or(0.0)
}

async fn run(base: &str, port: u16, hang: bool, n_users: usize, devices: usize, groups: usize) {
    let c = Arc::new(Counter { n: AtomicU64::new(0), first_ms: AtomicU64::new(0), last_ms: AtomicU64::new(0), start: Instant::now() });
    fake_push_service(port, hang, c.clone()).await;
    let http = reqwest::Client::new();
    let us = users(&http, base, n_users + 1).await;
    let (sender, members) = us.split_first().unwrap();
    let mut subs = Vec::new();
    for (i, u) in members.iter().enumerate() {
        for d in 0..devices {
            subs.push((u.token.clone(), subscription(&format!("http://127.0.0.1:{port}/push/{i}/{d}"))));
        }
    }
    for chunk in subs.chunks(16) {
        let futs = chunk.iter().map(|(token, body)| {
            let http = http.clone();
            async move {
                let r = http.post(format!("{base}/api/v1/push/subscriptions")).bearer_auth(token).json(body).send().await.unwrap();
                assert_eq!(r.status(), 201, "{}", r.text().await.unwrap_or_default());
            }
        });
        futures_util::future::join_all(futs).await;
    }
    let refs: Vec<&User> = members.iter().collect();
    let mut chats = Vec::new();
    for _ in 0..groups {
        chats.push(group(&http, base, sender, &refs).await);
    }
    let expected = (n_users * devices * groups) as u64;
    println!(
        "push {}: {n_users} users × {devices} devices × {groups} groups = {expected} pushes",
        if hang { "unreachable" } else { "throughput" }
    );

    // GET /me alone first, then while the pushes flow.
    let stop = Arc::new(AtomicBool::new(false));
    let idle = tokio::spawn(probe(http.clone(), base.to_string(), sender.token.clone(), stop.clone()));
    tokio::time::sleep(Duration::from_secs(5)).await;
    stop.store(true, Ordering::Relaxed);
    report("GET /me before the pushes", idle.await.unwrap());

    let stop = Arc::new(AtomicBool::new(false));
    let busy = tokio::spawn(probe(http.clone(), base.to_string(), sender.token.clone(), stop.clone()));
    let sent_at = c.start.elapsed().as_millis() as u64;
    for (i, chat) in chats.iter().enumerate() {
        let r = http
            .post(format!("{base}/api/v1/chats/{chat}/messages"))
            .bearer_auth(&sender.token)
            .json(&json!({"content": "exam moved to Friday", "client_id": format!("p{i}")}))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{}", r.status());
    }
    let deadline = Instant::now() + Duration::from_secs(if hang { 60 } else { 300 });
    let mut peak_queue = 0.0f64;
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let q = metric(&http, base, "friend_webpush_queue").await;
        peak_queue = peak_queue.max(q);
        let done = if hang { Instant::now() > deadline } else { c.n.load(Ordering::Relaxed) >= expected };
        if done || Instant::now() > deadline {
            break;
        }
    }
    stop.store(true, Ordering::Relaxed);
    report("GET /me while pushing", busy.await.unwrap());
    let n = c.n.load(Ordering::Relaxed);
    if hang {
        println!(
            "unreachable: {} jobs queued at the end (peak {peak_queue}), {} retried, oldest waiting {} s",
            metric(&http, base, "friend_webpush_queue").await,
            metric(&http, base, "friend_webpush_total{result=\"retried\"}").await,
            metric(&http, base, "friend_webpush_oldest_pending_seconds").await
        );
    } else {
        let (first, last) = (c.first_ms.load(Ordering::Relaxed), c.last_ms.load(Ordering::Relaxed));
        let span = (last - first).max(1) as f64 / 1000.0;
        println!(
            "throughput: {n} of {expected} pushes received; first {} ms after the sends began, last after {} ms; {:.0} pushes/s (first to last)",
            first.saturating_sub(sent_at),
            last.saturating_sub(sent_at),
            n as f64 / span
        );
    }
}

fn main() {
    let args: Vec<String> = std::env::args().filter(|a| a != "--bench").collect();
    let base = args.get(1).expect("usage: push_load BASE FAKE_PORT MODE USERS DEVICES GROUPS").clone();
    let num = |i: usize, d: usize| args.get(i).and_then(|s| s.parse().ok()).unwrap_or(d);
    let port = num(2, 18790) as u16;
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    rt.block_on(async {
        match args.get(3).map(String::as_str) {
            Some("throughput") => run(&base, port, false, num(4, 500), num(5, 4), num(6, 10)).await,
            Some("unreachable") => run(&base, port, true, num(4, 500), num(5, 2), num(6, 10)).await,
            _ => eprintln!("modes: throughput | unreachable"),
        }
    });
}
