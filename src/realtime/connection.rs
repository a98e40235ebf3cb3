//! The WebSocket protocol of one connection, independent of the transport: parses client frames,
//! applies them through the chat service, and returns the frames to send back on this socket.
//! Frames for other sockets go through the hub.

use std::sync::Arc;
use std::time::Instant;

use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::access::Caller;
use crate::error::AppError;
use crate::service::chat::{self, NewMessage};
use crate::state::AppState;

/// Frames refused in a row (`rate_limited`) before the socket is closed (1008).
const FLOOD_STRIKES: u32 = 50;

/// Close code sent when the access token expires: reconnect with a fresh token.
pub const CLOSE_TOKEN_EXPIRED: u16 = 4001;

/// A client frame.
#[derive(Deserialize)]
#[serde(tag = "type")]
enum ClientFrame {
    #[serde(rename = "message.send")]
    Send {
        chat_id: Uuid,
        #[serde(flatten)]
        message: NewMessage,
    },
    #[serde(rename = "message.delivered")]
    Delivered { chat_id: Uuid, message_id: Uuid },
    #[serde(rename = "message.read")]
    Read { chat_id: Uuid, up_to_message_id: Uuid },
    #[serde(rename = "typing.start")]
    TypingStart { chat_id: Uuid },
    #[serde(rename = "typing.stop")]
    TypingStop { chat_id: Uuid },
    #[serde(rename = "sync")]
    Sync { since: u64 },
    #[serde(rename = "ping")]
    Ping,
}

/// Frames a socket may send: a token bucket of twice the per-second rate.
struct Bucket {
    tokens: f64,
    rate: f64,
    last: Instant,
}

impl Bucket {
    fn take(&mut self) -> bool {
        let now = Instant::now();
        self.tokens = (self.tokens + now.duration_since(self.last).as_secs_f64() * self.rate).min(self.rate * 2.0);
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// One connection's protocol state.
pub struct Session {
    state: Arc<AppState>,
    /// The signed-in user.
    pub user: Caller,
    /// When the access token that opened the socket expires (unix seconds); 0 for tickets
    /// (their session is checked instead).
    expires_at: i64,
    bucket: Bucket,
    /// Frames refused by the rate limit since the last accepted one.
    refused: u32,
}

/// An `error` frame.
pub fn error_frame(code: &str, detail: &str, reference: Option<&str>) -> String {
    let mut f = json!({ "type": "error", "code": code, "detail": detail });
    if let Some(r) = reference {
        f["ref"] = json!(r);
    }
    f.to_string()
}

fn app_error_frame(e: &AppError, reference: Option<&str>) -> String {
    let detail = match e {
        AppError::Validation(fields) if !fields.is_empty() => format!("{}: {}", fields[0].field, fields[0].message),
        other => other.to_string(),
    };
    error_frame(e.code(), &detail, reference)
}

impl Session {
    /// A session for `user` whose token expires at `expires_at`.
    pub fn new(state: Arc<AppState>, user: Caller, expires_at: i64) -> Self {
        let rate = f64::from(state.config.chat.frames_per_second.max(1));
        Self { state, user, expires_at, bucket: Bucket { tokens: rate * 2.0, rate, last: Instant::now() }, refused: 0 }
    }

    /// The first frame: who, when, and the newest event cursor.
    pub async fn ready(&self) -> String {
        let seq = self.state.events.head().await;
        json!({ "type": "ready", "user_id": self.user.id(), "server_time": crate::clock::rfc3339(self.state.clock.now()), "seq": seq })
            .to_string()
    }

    /// True when the client went on sending long after `rate_limited` (a flood): close the socket.
    pub fn flooding(&self) -> bool {
        self.refused > FLOOD_STRIKES
    }

    /// True once the access token has expired or the session was signed out.
    pub fn expired(&self) -> bool {
        (self.expires_at > 0 && self.state.clock.unix() > self.expires_at) || !crate::service::auth::session_alive(&self.state, self.user)
    }

    /// Handles one text frame; returns the frames for this socket.
    pub async fn handle(&mut self, text: &str) -> Vec<String> {
        let value = serde_json::from_str::<Value>(text).ok().filter(Value::is_object);
        let field = |name: &str| value.as_ref().and_then(|v| v.get(name)).and_then(Value::as_str).map(str::to_string);
        let reference = field("client_id");
        if !self.bucket.take() {
            self.refused += 1;
            return vec![error_frame("rate_limited", "too many frames; slow down", reference.as_deref())];
        }
        self.refused = 0;
        let parsed = value
            .clone()
            .ok_or_else(|| "not a JSON object".to_string())
            .and_then(|v| serde_json::from_value::<ClientFrame>(v).map_err(|e| e.to_string()));
        let frame: ClientFrame = match parsed {
            Ok(f) => f,
            Err(e) => {
                let (code, detail) = match field("type") {
                    None => ("bad_frame", "frames are JSON objects with a `type`".to_string()),
                    Some(t) if !KNOWN.contains(&t.as_str()) => ("unknown_type", format!("unknown frame type `{t}`")),
                    Some(t) => ("validation_failed", format!("invalid `{t}` frame: {e}")),
                };
                return vec![error_frame(code, &detail, reference.as_deref())];
            }
        };
        let st = self.state.clone();
        let me = self.user;
        let result = match frame {
            ClientFrame::Send { chat_id, message } => {
                let client_id = message.client_id.clone();
                match chat::send(&st, me, chat_id, message).await {
                    Ok((m, _)) => return vec![json!({ "type": "message.ack", "client_id": client_id, "message": m }).to_string()],
                    Err(e) => Err(e),
                }
            }
            ClientFrame::Delivered { chat_id, message_id } => chat::receipt(&st, me, chat_id, message_id, false).await,
            ClientFrame::Read { chat_id, up_to_message_id } => chat::receipt(&st, me, chat_id, up_to_message_id, true).await,
            ClientFrame::TypingStart { chat_id } => chat::typing(&st, me, chat_id, true),
            ClientFrame::TypingStop { chat_id } => chat::typing(&st, me, chat_id, false),
            ClientFrame::Sync { since } => return self.sync(since).await,
            ClientFrame::Ping => return vec![json!({ "type": "pong" }).to_string()],
        };
        match result {
            Ok(()) => Vec::new(),
            Err(e) => vec![app_error_frame(&e, reference.as_deref())],
        }
    }

    async fn sync(&self, since: u64) -> Vec<String> {
        let (state, me) = (self.state.clone(), self.user);
        let staff = me.staff().is_some();
        let cap = self.state.config.chat.sync_max_events.max(1);
        let Ok(_slot) = self.state.replays.acquire().await else { return Vec::new() };
        let replay = self.state.store.blocking(move |_| crate::service::frames::sync(&state, me.id(), staff, since, cap)).await;
        match replay {
            Ok(mut r) => {
                let seq = if r.more { r.last } else { self.state.events.head().await.max(r.last) };
                r.frames.push(json!({ "type": "sync.done", "seq": seq, "more": r.more, "gap": r.gap }).to_string());
                r.frames
            }
            Err(e) => vec![app_error_frame(&e, None)],
        }
    }
}

const KNOWN: [&str; 8] = ["message.send", "message.delivered", "message.read", "typing.start", "typing.stop", "sync", "ping", "pong"];
