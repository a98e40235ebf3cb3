//! `GET /api/v1/ws` (the WebSocket) and `POST /api/v1/ws/ticket` (one-time browser tickets).

use std::sync::Arc;
use std::time::Duration;

use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use salvo::prelude::*;
use salvo::websocket::{Message, WebSocket, WebSocketUpgrade};
use serde::Serialize;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use super::extract::{bearer_token, hub, me, state};
use crate::error::AppError;
use crate::realtime::connection::{CLOSE_TOKEN_EXPIRED, Session};
use crate::realtime::{Hub, Outgoing, TICKET_TTL_SECS, presence};
use crate::service::auth::authenticate_until;
use crate::state::AppState;

/// Largest frame a client may send.
const MAX_FRAME: usize = 64 * 1024;
/// Server ping interval (also when token expiry is checked).
const PING_EVERY: Duration = Duration::from_secs(25);
/// A frame the client does not take within this long closes its socket.
const SEND_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a closing connection waits for the client's close frame.
const CLOSE_WAIT: Duration = Duration::from_secs(2);

/// A one-time WebSocket ticket.
#[derive(Serialize, ToSchema)]
pub struct Ticket {
    /// Pass as `/api/v1/ws?ticket=...` within `expires_in` seconds; works once.
    pub ticket: String,
    /// Seconds.
    pub expires_in: i64,
}

/// Get a one-time ticket for a browser WebSocket (browsers cannot set the Authorization header).
#[endpoint(tags("chat"), security(("bearer" = [])))]
async fn ticket(depot: &mut Depot) -> Result<Json<Ticket>, AppError> {
    let st = state(depot);
    let t = hub(depot).ticket(me(depot)?, st.clock.unix());
    Ok(Json(Ticket { ticket: t, expires_in: TICKET_TTL_SECS }))
}

fn socket_config() -> WebSocketConfig {
    // tungstenite's defaults reserve a 128 KiB read buffer per connection and accept 64 MiB
    // messages. 512 bytes holds a typical frame (a chat message is 200–400 bytes of JSON); a
    // longer one is read in more steps.
    WebSocketConfig::default()
        .read_buffer_size(512)
        .write_buffer_size(0)
        .max_write_buffer_size(1024 * 1024)
        .max_message_size(Some(MAX_FRAME))
        .max_frame_size(Some(MAX_FRAME))
}

/// The WebSocket. Authenticate with `Authorization: Bearer` (native apps) or `?ticket=` (browsers).
/// Frames are JSON text `{"type": ...}`. First `ready {user_id, server_time, seq}`. Client:
/// `message.send`, `message.delivered`, `message.read`, `typing.start`, `typing.stop`, `sync {since}`,
/// `ping`. Server: `message.ack {client_id, message}` (sent after the message is on disk),
/// `message.new`, `message.updated`, `message.deleted`, `receipt`, `typing` (ends by itself after
/// 5 s), `presence` (friends only), `chat.updated {chat_id, ...}` (refetch the chat), `sync.done {seq}`,
/// `pong`, `error {code, detail, ref?}`. Stored-state frames carry a global `seq`; `sync` replays
/// every one after `since` in order, at most `chat.sync_max_events` (2,000) events at a time: `sync.done {seq, more}` with
/// `more: true` means "send `sync {since: seq}` again"; `gap: true` means events after `since`
/// were older than `chat.event_retention_days` (90) and are gone: reload the chats over REST (older history is also on
/// `GET /chats/{id}/messages`). `message.new`/`message.updated` replay the message as it is now (a
/// deleted one as its tombstone). After a block, the two still see their old private chat's
/// history, but no new messages, typing, receipts or presence pass between them. Error codes: `bad_frame`, `unknown_type`, `validation_failed`,
/// `not_found`, `forbidden`, `payload_too_large`, `rate_limited` (`chat.frames_per_second`);
/// `ref` is the frame's `client_id`. Limits: 64 KiB frames, `chat.max_sockets_per_user` sockets
/// (429 before the upgrade). Close codes: 4001 the access token expired or the session ended
/// (reconnect with a fresh token), sent at once when the session is signed out (logout-all, password
/// change, session revoked, account disabled); 1013 the client read too slowly (reconnect and `sync`);
/// 1008 more than `chat.frames_per_second` frames a second for too long (flooding); 1009 a frame
/// over 64 KiB; 1000/1001 a normal close or the server shutting down (reconnect and `sync`).
#[endpoint(tags("chat"),
    parameters(("ticket" = Option<String>, Query, description = "One-time ticket from POST /api/v1/ws/ticket (browsers); native apps send `Authorization: Bearer <access_token>` instead"),
        ("Authorization" = Option<String>, Header, description = "`Bearer <access_token>` (native apps)"),
        ("Upgrade" = String, Header, description = "`websocket`"),
        ("Sec-WebSocket-Version" = String, Header, description = "`13`"),
        ("Sec-WebSocket-Key" = String, Header, description = "The client's handshake key (RFC 6455)")),
    responses((status_code = 101, description = "Switching Protocols: the WebSocket is open; the first frame is `ready {user_id, server_time, seq}`"),
        (status_code = 400, description = "Not a WebSocket upgrade request"),
        (status_code = 401, description = "No bearer token or ticket, or an expired, revoked or already used one (`unauthorized`)"),
        (status_code = 429, description = "The user already has `chat.max_sockets_per_user` sockets open (`rate_limited`)")))]
async fn connect(req: &mut Request, depot: &mut Depot, res: &mut Response) -> Result<(), AppError> {
    let st = state(depot);
    let hub = hub(depot);
    let (user, expires_at) = if let Some(t) = req.query::<String>("ticket") {
        (hub.redeem(&t, st.clock.unix()).ok_or_else(|| AppError::Unauthorized("the ticket is unknown, used or expired".into()))?, 0)
    } else {
        let token = bearer_token(req).ok_or_else(|| AppError::Unauthorized("send a bearer token or a ticket".into()))?;
        authenticate_until(&st, &token)?
    };
    if hub.count(user.id()) >= st.config.chat.max_sockets_per_user {
        return Err(AppError::RateLimited(5));
    }
    let state = st.clone();
    WebSocketUpgrade::with_config(socket_config())
        .upgrade(req, res, move |ws| async move {
            // The connection runs in a task of its own, and salvo's upgrade task ends here: that
            // task keeps its arguments (the socket among them, ~500 bytes) for its whole life.
            // The socket is split first for the same reason: `serve` holds only the halves.
            let (tx, rx) = ws.split();
            tokio::spawn(serve(state, hub, Session::new(st, user, expires_at), tx, rx));
        })
        .await
        .map_err(|e| AppError::BadRequest(format!("not a WebSocket request: {}", e.brief)))
}

/// Runs one connection until either side closes.
async fn serve(
    state: Arc<AppState>,
    hub: Arc<Hub>,
    mut session: Session,
    mut tx: SplitSink<WebSocket, Message>,
    mut rx: SplitStream<WebSocket>,
) {
    let user = session.user.id();
    let (conn_id, mut outbox) = hub.register(session.user);
    let _guard = Guard { state: state.clone(), hub, user, conn_id };
    state.metrics.websockets.inc();
    presence::connected(&state, user);
    if tx.send(Message::text(Box::pin(session.ready()).await)).await.is_err() {
        return;
    }
    let mut ping = tokio::time::interval(PING_EVERY);
    ping.tick().await;
    loop {
        let step = tokio::select! {
            out = outbox.recv() => match out {
                Some(Outgoing::Frame(text)) => send(&mut tx, Message::text(text.to_string())).await,
                Some(Outgoing::Close(code, reason)) => close(&mut tx, code, reason).await,
                // Dropped from the hub (too slow): close so the client reconnects and syncs.
                None => close(&mut tx, 1013, "too slow; reconnect and sync").await,
            },
            incoming = rx.next() => match incoming {
                Some(Ok(msg)) if msg.is_text() => {
                    if session.expired() {
                        close(&mut tx, CLOSE_TOKEN_EXPIRED, "access token expired").await
                    } else {
                        // Boxed: the handler's future is large and only lives while a frame is
                        // handled, not in every idle connection's task.
                        let replies = match msg.as_str() { Ok(text) => Box::pin(session.handle(text)).await, Err(_) => Vec::new() };
                        let mut step = Step::Go;
                        for r in replies {
                            step = send(&mut tx, Message::text(r)).await;
                            if step == Step::Stop { break }
                        }
                        if step == Step::Go && session.flooding() {
                            close(&mut tx, 1008, "too many frames").await
                        } else {
                            step
                        }
                    }
                }
                Some(Ok(msg)) if msg.is_close() => Step::Stop,
                Some(Ok(msg)) if msg.is_binary() => {
                    send(&mut tx, Message::text(crate::realtime::connection::error_frame("bad_frame", "frames are JSON text", None))).await
                }
                Some(Ok(_)) => Step::Go,
                Some(Err(e)) if too_big(&e) => close(&mut tx, 1009, "frames may be at most 64 KiB").await,
                Some(Err(_)) | None => Step::Stop,
            },
            _ = ping.tick() => {
                if session.expired() {
                    close(&mut tx, CLOSE_TOKEN_EXPIRED, "access token expired").await
                } else {
                    send(&mut tx, Message::ping(Vec::new())).await
                }
            }
        };
        if step == Step::Stop {
            break;
        }
    }
    // The closing handshake (RFC 6455 §7.1.1): read what the client still sends until its close
    // frame, for a moment. Dropping the socket with its frames unread would make the kernel reset
    // the connection, and the client could lose our close frame (and its code) with it.
    let _ = tokio::time::timeout(CLOSE_WAIT, async {
        while let Some(Ok(m)) = rx.next().await {
            if m.is_close() {
                break;
            }
        }
    })
    .await;
}

/// Whether the connection goes on.
#[derive(PartialEq, Eq)]
enum Step {
    Go,
    Stop,
}

/// Sends one frame; a client that does not take it within [`SEND_TIMEOUT`] is disconnected
/// (a socket that never reads must not hold memory and a socket slot for ever).
async fn send(tx: &mut SplitSink<WebSocket, Message>, m: Message) -> Step {
    match tokio::time::timeout(SEND_TIMEOUT, tx.send(m)).await {
        Ok(Ok(())) => Step::Go,
        _ => Step::Stop,
    }
}

/// Sends a close frame (bounded like any send) and stops.
async fn close(tx: &mut SplitSink<WebSocket, Message>, code: u16, reason: &str) -> Step {
    let _ = send(tx, Message::close_with(code, reason)).await;
    Step::Stop
}

/// True when the client's frame was over the size limit.
fn too_big(e: &salvo::Error) -> bool {
    use tokio_tungstenite::tungstenite::Error as WsError;
    match e {
        salvo::Error::Other(inner) => matches!(inner.downcast_ref::<WsError>(), Some(WsError::Capacity(_))),
        _ => false,
    }
}

/// Unregisters a connection however its task ends.
struct Guard {
    state: Arc<AppState>,
    hub: Arc<Hub>,
    user: uuid::Uuid,
    conn_id: u64,
}

impl Drop for Guard {
    fn drop(&mut self) {
        self.hub.unregister(self.user, self.conn_id);
        self.state.metrics.websockets.dec();
        presence::disconnected(self.state.clone(), self.hub.clone(), self.user);
    }
}

/// `/ws/ticket` (signed in).
pub fn private() -> Router {
    Router::with_path("ws/ticket").post(ticket)
}

/// `/ws` (authenticates itself).
pub fn public() -> Router {
    Router::with_path("ws").get(connect)
}
