//! What the load generators share: accounts, chats and latency percentiles.
#![allow(dead_code)]

use serde_json::{Value, json};

/// A registered account.
pub struct User {
    pub id: String,
    pub token: String,
}

pub async fn register(http: &reqwest::Client, base: &str, name: &str) -> User {
    let body = json!({"email": format!("{name}@bench.test"), "username": name, "password": "bench-password", "name": name});
    let r: Value = http.post(format!("{base}/api/v1/auth/register")).json(&body).send().await.unwrap().json().await.unwrap();
    User { id: r["user"]["id"].as_str().expect("registered").to_string(), token: r["access_token"].as_str().unwrap().to_string() }
}

pub async fn users(http: &reqwest::Client, base: &str, n: usize) -> Vec<User> {
    let tag = std::process::id();
    let mut out = Vec::with_capacity(n);
    for chunk in (0..n).collect::<Vec<_>>().chunks(8) {
        let names: Vec<String> = chunk.iter().map(|i| format!("b{tag}x{i}")).collect();
        let futs = names.iter().map(|name| register(http, base, name));
        out.extend(futures_util::future::join_all(futs).await);
    }
    out
}

/// `POST /chats` as `user`; returns the chat id.
pub async fn open_chat(http: &reqwest::Client, base: &str, user: &User, body: Value) -> String {
    let r: Value =
        http.post(format!("{base}/api/v1/chats")).bearer_auth(&user.token).json(&body).send().await.unwrap().json().await.unwrap();
    r["id"].as_str().expect("chat created").to_string()
}

pub async fn group(http: &reqwest::Client, base: &str, owner: &User, members: &[&User]) -> String {
    let ids: Vec<&str> = members.iter().map(|m| m.id.as_str()).collect();
    open_chat(http, base, owner, json!({"type": "group", "name": "bench", "member_ids": ids})).await
}

pub fn pct(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

pub fn report(name: &str, mut lat_ms: Vec<f64>) {
    lat_ms.sort_by(|a, b| a.partial_cmp(b).unwrap());
    println!(
        "{name}: n={} p50={:.2} ms p90={:.2} ms p99={:.2} ms max={:.2} ms",
        lat_ms.len(),
        pct(&lat_ms, 0.5),
        pct(&lat_ms, 0.9),
        pct(&lat_ms, 0.99),
        lat_ms.last().copied().unwrap_or(f64::NAN)
    );
}
