//! Chat load generator: talks to a running server over loopback with real WebSocket clients.
//!
//! `cargo bench --bench chat_load -- BASE idle SOCKETS HOLD_SECS [USERS]` (sockets spread over USERS, 20)
//! `cargo bench --bench chat_load -- BASE groups USERS GROUP_SIZE SECONDS`
//! `cargo bench --bench chat_load -- BASE fanout MEMBERS ROUNDS`
//! `cargo bench --bench chat_load -- BASE throughput SENDERS SECONDS`
//! `cargo bench --bench chat_load -- BASE unread CHATS MESSAGES CLIENTS SECONDS`
//! The server should run with FRIEND_CHAT__DM_POLICY=anyone, a high
//! FRIEND_CHAT__MAX_SOCKETS_PER_USER and FRIEND_CHAT__FRAMES_PER_SECOND (see benches/chat.sh).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::sync::Mutex;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

mod support;
use support::*;

async fn connect(base: &str, token: &str) -> Socket {
    let mut req = format!("{}/api/v1/ws", base.replace("http://", "ws://")).into_client_request().unwrap();
    req.headers_mut().insert("authorization", format!("Bearer {token}").parse().unwrap());
    let (mut ws, _) = tokio_tungstenite::connect_async(req).await.expect("connect");
    let _ready = ws.next().await;
    ws
}

async fn idle(base: &str, sockets: usize, hold: u64, users_n: usize) {
    let http = reqwest::Client::new();
    let us = users(&http, base, users_n).await;
    // A pause for the caller to read the server's memory with the users registered, no socket open.
    println!("idle: {users_n} users registered; opening sockets in 3 s");
    tokio::time::sleep(Duration::from_secs(3)).await;
    let started = Instant::now();
    let mut held = Vec::with_capacity(sockets);
    for i in 0..sockets {
        held.push(connect(base, &us[i % us.len()].token).await);
    }
    println!("idle: {sockets} sockets open in {:.1} s; holding {hold} s", started.elapsed().as_secs_f64());
    tokio::time::sleep(Duration::from_secs(hold)).await;
    println!("idle: done");
}

/// Each user sends one message a second to their group; latency from send to every other member.
async fn groups(base: &str, n: usize, size: usize, secs: u64) {
    let http = reqwest::Client::new();
    let t0 = Instant::now();
    let us = users(&http, base, n).await;
    println!("groups: {n} users registered in {:.1} s", t0.elapsed().as_secs_f64());
    let mut group_of = vec![String::new(); n];
    for g in 0..n / size {
        let owner = &us[g * size];
        let members: Vec<&User> = us[g * size + 1..(g + 1) * size].iter().collect();
        let id = group(&http, base, owner, &members).await;
        for slot in group_of.iter_mut().skip(g * size).take(size) {
            *slot = id.clone();
        }
    }
    // Every member is connected before anyone sends.
    let mut sockets = Vec::with_capacity(n);
    for u in &us {
        sockets.push(connect(base, &u.token).await);
    }
    let start = Instant::now();
    let lat = Arc::new(Mutex::new(Vec::<f64>::new()));
    let seen = Arc::new(Mutex::new(HashSet::<(String, usize)>::new()));
    let dup = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let sent = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for (i, (u, ws)) in us.iter().zip(sockets).enumerate() {
        let (mut tx, mut rx) = ws.split();
        let chat = group_of[i].clone();
        let (lat, seen, dup, sent) = (lat.clone(), seen.clone(), dup.clone(), sent.clone());
        let me = u.id.clone();
        let stagger = Duration::from_millis((i * 1000 / n) as u64);
        tasks.push(tokio::spawn(async move {
            let end = Instant::now() + Duration::from_secs(secs) + stagger;
            tokio::time::sleep(stagger).await;
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            let mut k = 0u64;
            loop {
                tokio::select! {
                    _ = tick.tick(), if Instant::now() < end => {
                        let at = start.elapsed().as_micros();
                        let f = json!({"type": "message.send", "chat_id": chat, "client_id": format!("{me}-{k}"), "content": format!("{at}")});
                        k += 1;
                        sent.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        if tx.send(Message::text(f.to_string())).await.is_err() { return; }
                    }
                    msg = tokio::time::timeout(Duration::from_secs(3), rx.next()) => match msg {
                        Ok(Some(Ok(Message::Text(t)))) => {
                            let v: Value = serde_json::from_str(&t).unwrap();
                            if v["type"] == "error" {
                                eprintln!("error frame: {v}");
                            }
                            if v["type"] == "message.new" && v["message"]["from_user_id"] != me.as_str() {
                                let at: u128 = v["message"]["content"].as_str().unwrap().parse().unwrap();
                                lat.lock().await.push((start.elapsed().as_micros() - at) as f64 / 1000.0);
                                if !seen.lock().await.insert((v["message"]["id"].as_str().unwrap().to_string(), i)) {
                                    dup.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                                }
                            }
                        }
                        Ok(Some(Ok(_))) => {}
                        _ => if Instant::now() >= end { return },
                    }
                }
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    let lat = lat.lock().await.clone();
    let sent = sent.load(std::sync::atomic::Ordering::Relaxed);
    let expected = sent * (size - 1);
    println!(
        "groups: {n} users in {} groups of {size}, {secs} s: {sent} messages sent, {} deliveries expected, {} received, {} lost, {} duplicated",
        n / size,
        expected,
        lat.len(),
        expected.saturating_sub(lat.len()),
        dup.load(std::sync::atomic::Ordering::Relaxed)
    );
    report("groups: send -> message.new at each other member", lat);
}

/// One group of `members`; one message at a time; latency until each member has it.
async fn fanout(base: &str, members: usize, rounds: usize) {
    let http = reqwest::Client::new();
    let us = users(&http, base, members).await;
    let rest: Vec<&User> = us[1..].iter().collect();
    let chat = group(&http, base, &us[0], &rest).await;
    let mut sockets = Vec::new();
    for u in &us {
        sockets.push(connect(base, &u.token).await);
    }
    let mut sender = sockets.remove(0);
    let mut receivers: Vec<_> = sockets.into_iter().map(|s| s.split().1).collect();
    let mut all = Vec::new();
    let mut last = Vec::new();
    for r in 0..rounds {
        let t = Instant::now();
        let f = json!({"type": "message.send", "chat_id": chat, "client_id": format!("f{r}"), "content": "fan-out"});
        sender.send(Message::text(f.to_string())).await.unwrap();
        let futs = receivers.iter_mut().map(|rx| async move {
            loop {
                match rx.next().await {
                    Some(Ok(Message::Text(txt))) if txt.contains("\"message.new\"") => return t.elapsed().as_secs_f64() * 1000.0,
                    Some(Ok(_)) => continue,
                    _ => return f64::NAN,
                }
            }
        });
        let times: Vec<f64> = futures_util::future::join_all(futs).await;
        last.push(times.iter().cloned().fold(0.0, f64::max));
        all.extend(times);
        while let Ok(Some(_)) = tokio::time::timeout(Duration::from_millis(5), sender.next()).await {}
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    report(&format!("fanout: per member ({} members)", members - 1), all);
    report("fanout: until the last member has it", last);
}

/// One group of `members` of whom only `online` have a socket; the owner sends `msgs` messages
/// (one at a time, 50 ms apart) and times send → ack. Then waits until an offline member's inbox
/// holds every message (issue 12: inbox entries and pushes are written by the notification
/// follower, off the sender's path) and reports how long after the last ack that took.
async fn offline(base: &str, members: usize, online: usize, msgs: usize) {
    let http = reqwest::Client::new();
    let us = users(&http, base, members).await;
    let rest: Vec<&User> = us[1..].iter().collect();
    let chat = group(&http, base, &us[0], &rest).await;
    let mut sockets = Vec::new();
    for u in &us[..online] {
        sockets.push(connect(base, &u.token).await);
    }
    let mut sender = sockets.remove(0);
    // Online members read their frames so their sockets never back up.
    for s in sockets {
        tokio::spawn(async move {
            let (_, mut rx) = s.split();
            while let Some(Ok(_)) = rx.next().await {}
        });
    }
    let mut acks = Vec::new();
    for i in 0..msgs {
        let t = Instant::now();
        let f = json!({"type": "message.send", "chat_id": chat, "client_id": format!("o{i}"), "content": "to the whole class"});
        sender.send(Message::text(f.to_string())).await.unwrap();
        loop {
            match sender.next().await {
                Some(Ok(Message::Text(txt))) if txt.contains("\"message.ack\"") => break,
                Some(Ok(_)) => continue,
                _ => panic!("the sender's socket closed"),
            }
        }
        acks.push(t.elapsed().as_secs_f64() * 1000.0);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let last_ack = Instant::now();
    report(&format!("offline: send -> ack ({members} members, {online} online)"), acks);
    let far = &us[members - 1];
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let r: Value =
            http.get(format!("{base}/api/v1/notifications?limit=1")).bearer_auth(&far.token).send().await.unwrap().json().await.unwrap();
        if r.get("items").is_none() {
            println!("offline: this server has no inbox");
            break;
        }
        if r["items"][0]["count"].as_u64() == Some(msgs as u64) || Instant::now() > deadline {
            println!(
                "offline: an offline member's inbox had all {msgs} messages {:.0} ms after the last ack ({})",
                last_ack.elapsed().as_secs_f64() * 1000.0,
                r["items"][0]["title"]
            );
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// `senders` users each keep one message in flight in their own private chat with a peer.
async fn throughput(base: &str, senders: usize, secs: u64) {
    let http = reqwest::Client::new();
    let us = users(&http, base, senders * 2).await;
    let acks = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let lat = Arc::new(Mutex::new(Vec::new()));
    let mut tasks = Vec::new();
    for i in 0..senders {
        let (a, b) = (&us[2 * i], &us[2 * i + 1]);
        let chat = open_chat(&http, base, a, json!({"type": "private", "user_id": b.id})).await;
        let ws = connect(base, &a.token).await;
        let (acks, lat) = (acks.clone(), lat.clone());
        tasks.push(tokio::spawn(async move {
            let (mut tx, mut rx) = ws.split();
            let end = Instant::now() + Duration::from_secs(secs);
            let mut k = 0;
            let mut mine = HashMap::new();
            while Instant::now() < end {
                let cid = format!("t{i}-{k}");
                k += 1;
                mine.insert(cid.clone(), Instant::now());
                let f = json!({"type": "message.send", "chat_id": chat, "client_id": cid, "content": "throughput"});
                if tx.send(Message::text(f.to_string())).await.is_err() {
                    return;
                }
                loop {
                    match rx.next().await {
                        Some(Ok(Message::Text(t))) if t.contains("\"message.ack\"") => {
                            let v: Value = serde_json::from_str(&t).unwrap();
                            if let Some(s) = mine.remove(v["client_id"].as_str().unwrap_or("")) {
                                lat.lock().await.push(s.elapsed().as_secs_f64() * 1000.0);
                            }
                            acks.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            break;
                        }
                        Some(Ok(_)) => continue,
                        _ => return,
                    }
                }
            }
        }));
    }
    let started = Instant::now();
    for t in tasks {
        let _ = t.await;
    }
    let n = acks.load(std::sync::atomic::Ordering::Relaxed);
    println!(
        "throughput: {senders} senders, {n} durable acks in {:.1} s = {:.0} acks/s",
        started.elapsed().as_secs_f64(),
        n as f64 / started.elapsed().as_secs_f64()
    );
    report("throughput: send -> ack", lat.lock().await.clone());
}

/// One user with a long history (`events` messages in a private chat) runs `readers` full syncs
/// in a loop (each `sync {since: 0}` paged by `sync.done.more`) while another user's `GET /me`
/// latency is measured (issue 11: a full sync must not slow everyone else).
async fn syncs(base: &str, events: usize, readers: usize, secs: u64) {
    let http = reqwest::Client::new();
    let us = users(&http, base, 3).await;
    let (a, b, other) = (&us[0], &us[1], &us[2]);
    let chat = open_chat(&http, base, a, json!({"type": "private", "user_id": b.id})).await;
    let mut ws = connect(base, &a.token).await;
    for k in 0..events {
        let f = json!({"type": "message.send", "chat_id": chat, "client_id": format!("h{k}"), "content": format!("history line {k} with some words in it")});
        ws.send(Message::text(f.to_string())).await.unwrap();
        loop {
            if let Some(Ok(Message::Text(t))) = ws.next().await
                && t.contains("\"message.ack\"")
            {
                break;
            }
        }
    }
    println!("syncs: {events} messages stored");
    let end = Instant::now() + Duration::from_secs(secs);
    let frames = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..readers {
        let (base, token, frames) = (base.to_string(), b.token.clone(), frames.clone());
        tasks.push(tokio::spawn(async move {
            let mut ws = connect(&base, &token).await;
            while Instant::now() < end {
                let mut since = 0u64;
                loop {
                    ws.send(Message::text(json!({"type": "sync", "since": since}).to_string())).await.unwrap();
                    let more = loop {
                        match ws.next().await {
                            Some(Ok(Message::Text(t))) if t.contains("\"sync.done\"") => {
                                let v: Value = serde_json::from_str(&t).unwrap();
                                since = v["seq"].as_u64().unwrap_or(0);
                                break v["more"].as_bool().unwrap_or(false);
                            }
                            Some(Ok(_)) => {
                                frames.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                            }
                            _ => return,
                        }
                    };
                    if !more {
                        break;
                    }
                }
            }
        }));
    }
    let mut lat = Vec::new();
    while Instant::now() < end {
        let t = Instant::now();
        let r = http.get(format!("{base}/api/v1/me")).bearer_auth(&other.token).send().await.unwrap();
        assert!(r.status().is_success());
        lat.push(t.elapsed().as_secs_f64() * 1000.0);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for t in tasks {
        let _ = t.await;
    }
    println!("syncs: {readers} readers replayed {} frames in {secs} s", frames.load(std::sync::atomic::Ordering::Relaxed));
    report("syncs: GET /me of another user during the syncs", lat);
}

/// A reader in CHATS groups with MESSAGES unread messages in each; CLIENTS clients then list the
/// reader's chats (`GET /chats?limit=CHATS`, with unread counts) for SECONDS.
async fn unread(base: &str, chats: usize, messages: usize, clients: usize, secs: u64) {
    let http = reqwest::Client::new();
    let us = users(&http, base, 2).await;
    let (reader, sender) = (&us[0], &us[1]);
    let t0 = Instant::now();
    let mut fill = Vec::new();
    for c in 0..chats {
        let chat = group(&http, base, sender, &[reader]).await;
        let (base, token) = (base.to_string(), sender.token.clone());
        fill.push(tokio::spawn(async move {
            let mut ws = connect(&base, &token).await;
            for k in 0..messages {
                let f = json!({"type": "message.send", "chat_id": chat, "client_id": format!("u{c}-{k}"), "content": format!("unread line {k}")});
                ws.send(Message::text(f.to_string())).await.unwrap();
                while let Some(Ok(m)) = ws.next().await {
                    if matches!(&m, Message::Text(t) if t.contains("\"message.ack\"")) {
                        break;
                    }
                }
            }
        }));
    }
    for f in fill {
        f.await.unwrap();
    }
    println!("unread: {chats} chats × {messages} messages stored in {:.1} s", t0.elapsed().as_secs_f64());
    let first = http.get(format!("{base}/api/v1/chats?limit={chats}")).bearer_auth(&reader.token).send().await.unwrap();
    let body: Value = first.json().await.unwrap();
    let counts: Vec<u64> = body["items"].as_array().unwrap().iter().map(|c| c["unread_count"].as_u64().unwrap()).collect();
    println!("unread: {} chats listed, unread counts from {:?} to {:?}", counts.len(), counts.iter().min(), counts.iter().max());
    let end = Instant::now() + Duration::from_secs(secs);
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (http, url, token) = (http.clone(), format!("{base}/api/v1/chats?limit={chats}"), reader.token.clone());
        tasks.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            while Instant::now() < end {
                let t = Instant::now();
                let r = http.get(&url).bearer_auth(&token).send().await.unwrap();
                assert!(r.status().is_success());
                let _ = r.bytes().await.unwrap();
                lat.push(t.elapsed().as_secs_f64() * 1000.0);
            }
            lat
        }));
    }
    let mut lat = Vec::new();
    for t in tasks {
        lat.extend(t.await.unwrap());
    }
    println!("unread: {:.0} lists/s", lat.len() as f64 / secs as f64);
    report(&format!("unread: GET /chats?limit={chats}, {clients} clients"), lat);
}

fn main() {
    let args: Vec<String> = std::env::args().filter(|a| a != "--bench").collect();
    let base = args.get(1).expect("usage: chat_load BASE MODE ...").clone();
    let num = |i: usize, d: usize| args.get(i).and_then(|s| s.parse().ok()).unwrap_or(d);
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    rt.block_on(async {
        match args.get(2).map(String::as_str) {
            Some("idle") => idle(&base, num(3, 10_000), num(4, 10) as u64, num(5, 20)).await,
            Some("groups") => groups(&base, num(3, 1000), num(4, 10), num(5, 20) as u64).await,
            Some("fanout") => fanout(&base, num(3, 500), num(4, 20)).await,
            Some("throughput") => throughput(&base, num(3, 200), num(4, 10) as u64).await,
            Some("syncs") => syncs(&base, num(3, 4000), num(4, 10), num(5, 20) as u64).await,
            Some("offline") => offline(&base, num(3, 500), num(4, 100), num(5, 100)).await,
            Some("unread") => unread(&base, num(3, 50), num(4, 1000), num(5, 4), num(6, 10) as u64).await,
            _ => eprintln!("modes: idle | groups | fanout | throughput | syncs | offline | unread"),
        }
    });
}
