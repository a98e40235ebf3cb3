//! A fake Web Push service on 127.0.0.1 for the push tests: a plain HTTP/1.1 server that records
//! each request and answers what its path asks for, and a browser side that holds a
//! subscription's private key and **decrypts** a push with RustCrypto primitives (RFC 8291
//! aes128gcm, by hand: not the `ece`/OpenSSL code the server encrypts with) and checks the VAPID
//! token (RFC 8292: ES256 signature by the `k` key, `aud`, `exp`, `sub`).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aes_gcm::aead::{Aead, KeyInit};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use hkdf::Hkdf;
use p256::ecdsa::signature::Verifier;
use p256::elliptic_curve::sec1::ToEncodedPoint;
use serde_json::{Value, json};
use sha2::Sha256;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// One request the fake received.
#[derive(Clone, Debug)]
pub struct Received {
    pub path: String,
    pub headers: HashMap<String, String>,
    pub body: Vec<u8>,
    pub at: Instant,
}

/// The fake push service. Paths choose the answer: `/ok/*` 201; `/gone/*` 410; `/missing/*` 404;
/// `/busy/*` 429 with `Retry-After: 1` the first time, then 201; `/broken/*` 500 once, then 201;
/// `/hang/*` never answers the first time, then 201; `/redirect/*` 307 to `redirect_to`;
/// `/bad/*` 400.
pub struct PushService {
    pub port: u16,
    pub received: Arc<Mutex<Vec<Received>>>,
    pub connections: Arc<Mutex<usize>>,
}

impl PushService {
    pub async fn start(redirect_to: Option<String>) -> PushService {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let received: Arc<Mutex<Vec<Received>>> = Arc::default();
        let connections: Arc<Mutex<usize>> = Arc::default();
        let (rec, conns) = (received.clone(), connections.clone());
        tokio::spawn(async move {
            loop {
                let Ok((mut sock, _)) = listener.accept().await else { return };
                *conns.lock().unwrap() += 1;
                let (rec, redirect_to) = (rec.clone(), redirect_to.clone());
                tokio::spawn(async move {
                    while let Some(r) = read_request(&mut sock).await {
                        let seen = {
                            let mut all = rec.lock().unwrap();
                            all.push(r.clone());
                            all.iter().filter(|x| x.path == r.path).count()
                        };
                        let kind = r.path.split('/').nth(1).unwrap_or("").to_string();
                        let answer = match (kind.as_str(), seen) {
                            ("gone", _) => "410 Gone\r\n".to_string(),
                            ("missing", _) => "404 Not Found\r\n".to_string(),
                            ("bad", _) => "400 Bad Request\r\n".to_string(),
                            ("busy", 1) => "429 Too Many Requests\r\nRetry-After: 1\r\n".to_string(),
                            ("broken", 1) => "500 Internal Server Error\r\n".to_string(),
                            ("hang", 1) => {
                                tokio::time::sleep(Duration::from_secs(3600)).await;
                                return;
                            }
                            ("redirect", _) => {
                                format!("307 Temporary Redirect\r\nLocation: {}\r\n", redirect_to.clone().unwrap_or_default())
                            }
                            _ => "201 Created\r\nLocation: /msg/1\r\n".to_string(),
                        };
                        let out = format!("HTTP/1.1 {answer}Content-Length: 0\r\n\r\n");
                        if sock.write_all(out.as_bytes()).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });
        PushService { port, received, connections }
    }

    pub fn endpoint(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub fn to(&self, path: &str) -> Vec<Received> {
        self.received.lock().unwrap().iter().filter(|r| r.path == path).cloned().collect()
    }

    /// Waits until `path` received `n` requests (pushes are sent asynchronously).
    pub async fn wait_for(&self, path: &str, n: usize, within: Duration) -> Vec<Received> {
        let end = Instant::now() + within;
        loop {
            let got = self.to(path);
            if got.len() >= n {
                return got;
            }
            assert!(Instant::now() < end, "{path} received {} of {n} pushes", got.len());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

async fn read_request(sock: &mut tokio::net::TcpStream) -> Option<Received> {
    let mut buf = Vec::new();
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
        let mut chunk = [0u8; 4096];
        let n = sock.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let mut lines = head.split("\r\n");
    let path = lines.next()?.split(' ').nth(1)?.to_string();
    let headers: HashMap<String, String> =
        lines.filter_map(|l| l.split_once(':')).map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string())).collect();
    let len: usize = headers.get("content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
    let mut body = buf[head_end + 4..].to_vec();
    while body.len() < len {
        let mut chunk = vec![0u8; len - body.len()];
        let n = sock.read(&mut chunk).await.ok()?;
        if n == 0 {
            return None;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    Some(Received { path, headers, body, at: Instant::now() })
}

/// The browser side of a subscription: its key pair and auth secret.
pub struct Browser {
    secret: p256::SecretKey,
    auth: [u8; 16],
}

impl Browser {
    pub fn new() -> Browser {
        let mut auth = [0u8; 16];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut auth);
        Browser { secret: p256::SecretKey::random(&mut rand::rngs::OsRng), auth }
    }

    fn public(&self) -> Vec<u8> {
        self.secret.public_key().to_encoded_point(false).as_bytes().to_vec()
    }

    /// `PushSubscription.toJSON()` for `endpoint`.
    pub fn subscription(&self, endpoint: &str) -> Value {
        json!({ "endpoint": endpoint, "expirationTime": null, "keys": { "p256dh": B64.encode(self.public()), "auth": B64.encode(self.auth) } })
    }

    /// Decrypts an aes128gcm push body (RFC 8291, RFC 8188), one record.
    pub fn decrypt(&self, body: &[u8]) -> Value {
        let salt = &body[..16];
        let rs = u32::from_be_bytes(body[16..20].try_into().unwrap()) as usize;
        let idlen = body[20] as usize;
        assert_eq!(idlen, 65, "keyid is the sender's public key");
        let as_public = &body[21..21 + idlen];
        let ciphertext = &body[21 + idlen..];
        assert!(ciphertext.len() <= rs, "one record");
        let sender = p256::PublicKey::from_sec1_bytes(as_public).unwrap();
        let shared = p256::ecdh::diffie_hellman(self.secret.to_nonzero_scalar(), sender.as_affine());
        let mut key_info = b"WebPush: info\0".to_vec();
        key_info.extend_from_slice(&self.public());
        key_info.extend_from_slice(as_public);
        let mut ikm = [0u8; 32];
        Hkdf::<Sha256>::new(Some(&self.auth), shared.raw_secret_bytes()).expand(&key_info, &mut ikm).unwrap();
        let prk = Hkdf::<Sha256>::new(Some(salt), &ikm);
        let (mut cek, mut nonce) = ([0u8; 16], [0u8; 12]);
        prk.expand(b"Content-Encoding: aes128gcm\0", &mut cek).unwrap();
        prk.expand(b"Content-Encoding: nonce\0", &mut nonce).unwrap();
        let cipher = aes_gcm::Aes128Gcm::new_from_slice(&cek).unwrap();
        let mut plain = cipher.decrypt(&nonce.into(), ciphertext).expect("the push decrypts");
        while plain.last() == Some(&0) {
            plain.pop();
        }
        assert_eq!(plain.pop(), Some(2), "last-record padding delimiter");
        serde_json::from_slice(&plain).unwrap()
    }
}

/// Checks the VAPID `Authorization` header of `r`: signed by `public_key`, for `aud`; returns the claims.
pub fn check_vapid(r: &Received, public_key: &str, aud: &str) -> Value {
    let auth = r.headers.get("authorization").expect("Authorization: vapid");
    let rest = auth.strip_prefix("vapid ").expect("vapid scheme");
    let mut t = None;
    let mut k = None;
    for part in rest.split(',') {
        let (name, value) = part.trim().split_once('=').unwrap();
        match name {
            "t" => t = Some(value.to_string()),
            "k" => k = Some(value.to_string()),
            _ => {}
        }
    }
    let (t, k) = (t.expect("t="), k.expect("k="));
    assert_eq!(k, public_key, "k is the server's VAPID public key");
    let parts: Vec<&str> = t.split('.').collect();
    assert_eq!(parts.len(), 3);
    let header: Value = serde_json::from_slice(&B64.decode(parts[0]).unwrap()).unwrap();
    assert_eq!(header["alg"], "ES256");
    let key = p256::ecdsa::VerifyingKey::from_sec1_bytes(&B64.decode(&k).unwrap()).unwrap();
    let sig = p256::ecdsa::Signature::from_slice(&B64.decode(parts[2]).unwrap()).unwrap();
    key.verify(format!("{}.{}", parts[0], parts[1]).as_bytes(), &sig).expect("the VAPID token is signed by k");
    let claims: Value = serde_json::from_slice(&B64.decode(parts[1]).unwrap()).unwrap();
    assert_eq!(claims["aud"], aud);
    let now = chrono::Utc::now().timestamp();
    let exp = claims["exp"].as_i64().unwrap();
    assert!(exp > now && exp <= now + 24 * 3600, "exp within 24 h: {claims}");
    let sub = claims["sub"].as_str().unwrap();
    assert!(sub.starts_with("mailto:") || sub.starts_with("https://"), "{claims}");
    claims
}
