//! Test harness: a real server per test, a small JSON client, and helpers to make users.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use friend::{Clock, Config};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

/// A running server.
pub struct Server {
    pub base: String,
    pub http: reqwest::Client,
    pub clock: Clock,
    pub dir: tempfile::TempDir,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<Result<(), String>>>,
}

/// A signed-in user.
#[derive(Clone, Debug)]
pub struct User {
    pub id: String,
    pub username: String,
    pub email: String,
    pub password: String,
    pub access: String,
    pub refresh: String,
}

/// A response: status, headers and JSON body (Null when empty or not JSON).
pub struct Resp {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
    pub bytes: Vec<u8>,
}

impl Resp {
    /// The problem `code`.
    pub fn code(&self) -> &str {
        self.body["code"].as_str().unwrap_or("")
    }
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A unique name for this process.
pub fn unique(prefix: &str) -> String {
    format!("{prefix}{}", COUNTER.fetch_add(1, Ordering::Relaxed))
}

impl Server {
    /// Starts a server with the default configuration.
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    /// Starts a server after `tweak` adjusts its configuration.
    pub async fn start_with(tweak: impl FnOnce(&mut Config)) -> Self {
        let dir = tempfile::tempdir().unwrap();
        Self::start_in(dir, tweak).await
    }

    /// Starts a server on an existing data directory.
    pub async fn start_in(dir: tempfile::TempDir, tweak: impl FnOnce(&mut Config)) -> Self {
        Self::start_in_with_clock(dir, Clock::system(), tweak).await
    }

    /// Starts a server on an existing data directory with a given clock.
    pub async fn start_in_with_clock(dir: tempfile::TempDir, clock: Clock, tweak: impl FnOnce(&mut Config)) -> Self {
        // Tests register freely (a new install defaults to invite-only registration).
        let mut config = Config {
            data_dir: dir.path().to_path_buf(),
            bind: "127.0.0.1:0".parse().unwrap(),
            registration: friend::config::Registration::Open,
            ..Config::default()
        };
        // Tests make many accounts, requests and chats from one address; the limits' own tests lower these.
        config.auth.max_registrations_per_ip = 1_000_000;
        config.chat.friend_requests_per_hour = 1_000_000;
        config.chat.new_chats_per_hour = 1_000_000;
        // The daily backup would run at every start; its own tests turn it on.
        config.backup.enabled = false;
        config.mdns.enabled = false;
        tweak(&mut config);
        let listener = tokio::net::TcpListener::bind(config.bind).await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let c2 = clock.clone();
        let task = tokio::spawn(async move {
            friend::run_with_clock(
                config,
                listener,
                async move {
                    let _ = rx.await;
                },
                c2,
            )
            .await
        });
        let http = reqwest::Client::builder().pool_max_idle_per_host(4).build().unwrap();
        let mut s = Server { base, http, clock, dir, stop: Some(tx), task: Some(task) };
        for _ in 0..200 {
            if let Ok(r) = s.http.get(format!("{}/readyz", s.base)).send().await
                && r.status() == StatusCode::OK
            {
                return s;
            }
            if s.task.as_ref().is_some_and(|t| t.is_finished()) {
                panic!("the server stopped: {:?}", s.task.take().unwrap().await);
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        panic!("server did not become ready");
    }

    /// Stops the server gracefully and returns its data directory.
    pub async fn stop(mut self) -> tempfile::TempDir {
        let _ = self.stop.take().unwrap().send(());
        self.task.take().unwrap().await.unwrap().unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::mem::replace(&mut self.dir, dir)
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }

    pub fn url(&self, path: &str) -> String {
        if path.starts_with("http") { path.to_string() } else { format!("{}{}", self.base, path) }
    }

    /// Any request with an optional JSON body and bearer token.
    pub async fn call(&self, method: Method, path: &str, token: Option<&str>, body: Option<Value>) -> Resp {
        let mut rb = self.http.request(method, self.url(path));
        if let Some(t) = token {
            rb = rb.bearer_auth(t);
        }
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        Self::finish(rb).await
    }

    /// Sends a prepared request and reads the answer.
    pub async fn finish(rb: reqwest::RequestBuilder) -> Resp {
        let r = rb.send().await.unwrap();
        let status = r.status();
        let headers = r.headers().clone();
        let bytes = r.bytes().await.unwrap().to_vec();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Resp { status, headers, body, bytes }
    }

    pub async fn get(&self, path: &str, token: &str) -> Resp {
        self.call(Method::GET, path, Some(token), None).await
    }
    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Resp {
        self.call(Method::POST, path, token, Some(body)).await
    }
    pub async fn put(&self, path: &str, token: &str, body: Value) -> Resp {
        self.call(Method::PUT, path, Some(token), Some(body)).await
    }
    pub async fn patch(&self, path: &str, token: &str, body: Value) -> Resp {
        self.call(Method::PATCH, path, Some(token), Some(body)).await
    }
    pub async fn delete(&self, path: &str, token: &str, body: Option<Value>) -> Resp {
        self.call(Method::DELETE, path, Some(token), body).await
    }

    /// Registers a new user with a unique name.
    pub async fn register(&self) -> User {
        let username = unique("user");
        self.register_as(&username).await
    }

    /// Registers `username` (email `username@school.test`, password `password-<username>`).
    pub async fn register_as(&self, username: &str) -> User {
        let email = format!("{username}@school.test");
        let password = format!("password-{username}");
        let r = self
            .post("/api/v1/auth/register", None, json!({ "email": email, "username": username, "password": password, "name": username }))
            .await;
        assert_eq!(r.status, 201, "register {username}: {}", r.body);
        user_from(&r.body, &password)
    }

    /// Creates an account with a role through the control socket, then signs it in.
    pub async fn staff(&self, role: friend::model::Role) -> User {
        let username = unique("staff");
        let password = format!("password-{username}");
        let req = friend::control::Request::CreateUser {
            email: format!("{username}@school.test"),
            username: username.clone(),
            name: username.clone(),
            password: password.clone(),
            role,
        };
        let resp = friend::control::send(self.dir.path(), &req).await.expect("control socket answers");
        assert!(resp.ok, "{}", resp.message);
        self.login(&username, &password).await
    }

    /// Makes `a` and `b` friends (a request from `a`, accepted by `b`).
    pub async fn befriend(&self, a: &User, b: &User) {
        let r = self.post("/api/v1/friend-requests", Some(&a.access), json!({"to_user_id": b.id})).await;
        assert_eq!(r.status, 201, "{}", r.body);
        let id = r.body["id"].as_str().unwrap().to_string();
        let acc = self.post(&format!("/api/v1/friend-requests/{id}/accept"), Some(&b.access), json!({})).await;
        assert_eq!(acc.status, 200, "{}", acc.body);
    }

    /// Signs in.
    pub async fn login(&self, login: &str, password: &str) -> User {
        let r = self.post("/api/v1/auth/login", None, json!({ "login": login, "password": password })).await;
        assert_eq!(r.status, 200, "login {login}: {}", r.body);
        user_from(&r.body, password)
    }
}

/// Builds a [`User`] from an auth response.
pub fn user_from(body: &Value, password: &str) -> User {
    User {
        id: body["user"]["id"].as_str().unwrap().to_string(),
        username: body["user"]["username"].as_str().unwrap().to_string(),
        email: body["user"]["email"].as_str().unwrap_or_default().to_string(),
        password: password.to_string(),
        access: body["access_token"].as_str().unwrap().to_string(),
        refresh: body["refresh_token"].as_str().unwrap().to_string(),
    }
}

/// Asserts a problem document with `status` and `code`.
#[track_caller]
pub fn assert_problem(r: &Resp, status: u16, code: &str) {
    assert_eq!(r.status.as_u16(), status, "body: {}", r.body);
    assert_eq!(r.code(), code, "body: {}", r.body);
    let ct = r.headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("");
    assert_eq!(ct, "application/problem+json");
    assert_eq!(r.body["status"].as_u64(), Some(status as u64));
    assert!(r.body["detail"].as_str().is_some_and(|d| !d.is_empty()));
}

/// A PNG image of `w`×`h` pixels.
pub fn png(w: u32, h: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |x, y| image::Rgb([(x * 7) as u8, (y * 5) as u8, 128]));
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

/// A JPEG with an EXIF segment that carries a GPS marker and a text we can look for.
pub fn jpeg_with_exif(w: u32, h: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |x, y| image::Rgb([(x * 3) as u8, (y * 3) as u8, 60]));
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Jpeg).unwrap();
    let jpeg = out.into_inner();
    // APP1 "Exif\0\0" + a little-endian TIFF header with no IFD entries, then a GPS text marker.
    let mut payload = b"Exif\0\0II*\0\x08\0\0\0\0\0".to_vec();
    payload.extend_from_slice(b"GPSLatitude=48.8566;SECRET-LOCATION");
    let len = (payload.len() + 2) as u16;
    let mut with = vec![0xFF, 0xD8, 0xFF, 0xE1];
    with.extend_from_slice(&len.to_be_bytes());
    with.extend_from_slice(&payload);
    with.extend_from_slice(&jpeg[2..]);
    with
}

/// True if `hay` contains `needle`.
pub fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// The `friend` binary built for these tests.
pub fn binary() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_friend"))
}

/// A `friend serve` child process.
pub struct Process {
    child: Child,
    pub base: String,
    pub setup_url: Option<String>,
    pub http: reqwest::Client,
    /// What the server printed up to its `listening on` line.
    pub startup: Vec<String>,
}

pub fn spawn(dir: &Path) -> Process {
    spawn_with(dir, &[])
}

/// `friend serve` on `dir` with extra environment variables.
pub fn spawn_with(dir: &Path, env: &[(&str, &str)]) -> Process {
    let mut child = Command::new(binary())
        .args(["--bind", "127.0.0.1:0", "--data-dir"])
        .arg(dir)
        .env("FRIEND_LOG__LEVEL", "info")
        .env("FRIEND_REGISTRATION", "open")
        .env("FRIEND_AUTH__MAX_REGISTRATIONS_PER_IP", "1000000")
        .env("FRIEND_BACKUP__ENABLED", "false")
        .env("FRIEND_MDNS__ENABLED", "false")
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = mpsc::channel::<String>();
    let tx2 = tx.clone();
    let out = child.stdout.take().unwrap();
    let err = child.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            let _ = tx2.send(line);
        }
    });
    std::thread::spawn(move || {
        for line in BufReader::new(err).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut setup_url = None;
    let mut startup = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let Ok(line) = rx.recv_timeout(deadline.saturating_duration_since(std::time::Instant::now())) else {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the server did not print its address");
        };
        startup.push(line.clone());
        if let Some(i) = line.find("/admin/?setup=") {
            let start = line[..i].rfind("http").unwrap();
            setup_url = Some(line[start..].split_whitespace().next().unwrap().to_string());
        }
        if let Some(i) = line.find("listening on http") {
            let base = line[i + "listening on ".len()..].split_whitespace().next().unwrap().to_string();
            // Keep draining output so the child never blocks on a full pipe.
            std::thread::spawn(move || while rx.recv().is_ok() {});
            return Process { child, base, setup_url, http: reqwest::Client::new(), startup };
        }
    }
}

impl Process {
    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> (u16, Value) {
        let mut rb = self.http.post(format!("{}{path}", self.base)).json(&body);
        if let Some(t) = token {
            rb = rb.bearer_auth(t);
        }
        let r = rb.send().await.unwrap();
        (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
    }

    pub async fn get(&self, path: &str, token: &str) -> (u16, Value) {
        let r = self.http.get(format!("{}{path}", self.base)).bearer_auth(token).send().await.unwrap();
        (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
    }

    /// Waits until the process exits by itself (e.g. at an armed failpoint); panics after `within`.
    pub fn wait_exit(mut self, within: Duration) -> std::process::ExitStatus {
        let deadline = std::time::Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            if std::time::Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("the server did not exit");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn kill9(mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
    }

    pub fn terminate(mut self) {
        let pid = self.child.id().to_string();
        assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
        let status = self.child.wait().unwrap();
        assert!(status.success(), "graceful shutdown exits 0, got {status}");
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        // A failed test must not leave a server running.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The TOTP code (RFC 6238: HMAC-SHA1, 30 s, 6 digits) of base32 `secret` at `unix` seconds,
/// written here apart from the server's, as an authenticator app computes it.
pub fn totp(secret: &str, unix: i64) -> String {
    use hmac::Mac;
    let key = data_encoding::BASE32_NOPAD.decode(secret.trim_end_matches('=').as_bytes()).expect("base32 secret");
    let mut mac = hmac::Hmac::<sha1::Sha1>::new_from_slice(&key).unwrap();
    mac.update(&((unix / 30) as u64).to_be_bytes());
    let h = mac.finalize().into_bytes();
    let o = (h[19] & 15) as usize;
    let n = u32::from_be_bytes([h[o] & 0x7f, h[o + 1], h[o + 2], h[o + 3]]) % 1_000_000;
    format!("{n:06}")
}
