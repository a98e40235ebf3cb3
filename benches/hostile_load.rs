//! Load generator for the safety benchmarks (issue 11): sign-ins while hostile uploads run.
//! `cargo bench --bench hostile_load -- BASE uploads ATTACKERS SECONDS [KINDS]` (KINDS: which
//! files, e.g. `0` for the PNG alone; default `012`)
//! Each attacker uploads, in a loop, a PNG that announces 8192×8192 16-bit pixels, a GIF with a
//! 4096×4096 canvas and 300 frames, and the largest animated GIF that is still accepted
//! (1,600×1,600, 12 frames); meanwhile one client signs in again and again and reports latency.
//! The server should run with a high FRIEND_MEDIA__UPLOADS_PER_HOUR (see benches/hostile.sh).

#[path = "../tests/api/hostile_images.rs"]
mod hostile_images;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

async fn register(http: &reqwest::Client, base: &str, name: &str) -> String {
    let body = json!({"email": format!("{name}@bench.test"), "username": name, "password": "bench-password", "name": name});
    let r: Value = http.post(format!("{base}/api/v1/auth/register")).json(&body).send().await.unwrap().json().await.unwrap();
    r["access_token"].as_str().expect("registered").to_string()
}

/// The largest animated GIF the default budget accepts: 1,600×1,600, 12 frames of gradients.
fn big_gif() -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut enc = image::codecs::gif::GifEncoder::new_with_speed(&mut out, 30);
        enc.set_repeat(image::codecs::gif::Repeat::Infinite).unwrap();
        for i in 0..12u32 {
            let img = image::RgbaImage::from_fn(1600, 1600, |x, y| image::Rgba([(x / 7) as u8, (y / 7) as u8, (i * 20) as u8, 255]));
            enc.encode_frame(image::Frame::new(img)).unwrap();
        }
    }
    out
}

fn pct(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

async fn uploads(base: &str, attackers: usize, secs: u64, kinds: &str) {
    let http = reqwest::Client::new();
    let tag = std::process::id();
    let all = [hostile_images::png_bomb, hostile_images::gif_bomb, big_gif];
    let picked: Vec<usize> =
        kinds.bytes().filter_map(|b| (b as char).to_digit(10)).map(|d| d as usize).filter(|d| *d < all.len()).collect();
    let files = Arc::new(picked.iter().map(|&i| (i, all[i]())).collect::<Vec<_>>());
    println!("files: {:?} bytes", files.iter().map(|(_, f)| f.len()).collect::<Vec<_>>());
    let mut tokens = Vec::new();
    for i in 0..attackers {
        tokens.push(register(&http, base, &format!("h{tag}x{i}")).await);
    }
    let victim = format!("h{tag}victim");
    register(&http, base, &victim).await;
    let end = Instant::now() + Duration::from_secs(secs);
    let outcomes = Arc::new(Mutex::new(BTreeMap::<(usize, u16), usize>::new()));
    let mut tasks = Vec::new();
    for (i, token) in tokens.into_iter().enumerate() {
        let (http, base, files, outcomes) = (http.clone(), base.to_string(), files.clone(), outcomes.clone());
        tasks.push(tokio::spawn(async move {
            let mut k = i;
            while Instant::now() < end {
                let (which, file) = &files[k % files.len()];
                k += 1;
                let r = http
                    .post(format!("{base}/api/v1/media"))
                    .bearer_auth(&token)
                    .header("content-type", "application/octet-stream")
                    .body(file.clone())
                    .send()
                    .await;
                let status = r.map(|r| r.status().as_u16()).unwrap_or(0);
                *outcomes.lock().unwrap().entry((*which, status)).or_default() += 1;
            }
        }));
    }
    let mut lat = Vec::new();
    while Instant::now() < end {
        let t = Instant::now();
        let r = http
            .post(format!("{base}/api/v1/auth/login"))
            .json(&json!({"login": victim, "password": "bench-password"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "login failed");
        lat.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    for t in tasks {
        let _ = t.await;
    }
    let names = ["png bomb", "gif bomb", "largest accepted gif"];
    for ((which, status), n) in outcomes.lock().unwrap().iter() {
        println!("uploads: {} -> {status}: {n}", names[*which]);
    }
    let n = lat.len();
    println!(
        "logins while {attackers} attackers upload for {secs} s: n={n} p50={:.0} ms p95={:.0} ms max={:.0} ms",
        pct(&mut lat, 0.5),
        pct(&mut lat, 0.95),
        pct(&mut lat, 1.0)
    );
}

fn main() {
    let args: Vec<String> = std::env::args().filter(|a| a != "--bench").collect();
    let base = args.get(1).expect("usage: hostile_load BASE MODE ...").clone();
    let num = |i: usize, d: usize| args.get(i).and_then(|s| s.parse().ok()).unwrap_or(d);
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    rt.block_on(async {
        match args.get(2).map(String::as_str) {
            Some("uploads") => uploads(&base, num(3, 20), num(4, 30) as u64, args.get(5).map_or("012", String::as_str)).await,
            _ => eprintln!("modes: uploads"),
        }
    });
}
