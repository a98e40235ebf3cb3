//! ntfy, for push on a LAN with no Internet: `POST/DELETE /api/v1/push/ntfy` make and revoke a
//! user's secret topic; `/<topic>/json`, `/<topic>/sse` and `/<topic>/ws` are the subscriber side
//! of ntfy's published protocol (what the ntfy app uses with a self-hosted server), with `since`
//! (`all`, unix time, duration, message id) and `poll=1`; `/<topic>/auth` answers the app's access
//! check. Unknown or revoked topics answer 404; each address may make 120 requests a minute.

use std::sync::Arc;
use std::time::Duration;

use futures_util::SinkExt;
use salvo::http::{HeaderValue, header};
use salvo::prelude::*;
use salvo::websocket::{Message, WebSocketUpgrade};
use serde_json::json;
use tokio::sync::{broadcast, mpsc};
use uuid::Uuid;

use super::extract::{client, me, state};
use super::reply::NoContent;
use crate::error::AppError;
use crate::service::push::{self as svc, NtfyMessage, NtfyTopic, Since};
use crate::state::AppState;

/// Keepalive events on an idle stream (ntfy's default is 45 s).
const KEEPALIVE: Duration = Duration::from_secs(45);
/// Topic names this server makes (26 characters of lower-case base32).
const TOPIC: &str = "{topic|[a-z2-7]{26}}";

/// A new ntfy topic for the caller's push notifications, replacing (and revoking) an older one.
/// Subscribe to `url` in the ntfy app (or scan `qr_svg`); the same preferences, quiet hours and
/// privacy rules apply as to every push.
#[endpoint(tags("notifications"), security(("bearer" = [])), responses((status_code = 201, description = "The topic")))]
async fn create(depot: &mut Depot, res: &mut Response) -> Result<Json<NtfyTopic>, AppError> {
    let t = svc::create_topic(&state(depot), me(depot)?).await?;
    res.status_code(StatusCode::CREATED);
    Ok(Json(t))
}

/// Revokes the caller's ntfy topic: its URL answers 404 and open subscriptions end.
#[endpoint(tags("notifications"), security(("bearer" = [])), responses((status_code = 204, description = "Revoked")))]
async fn revoke(depot: &mut Depot) -> Result<NoContent, AppError> {
    svc::revoke_topic(&state(depot), me(depot)?).await?;
    Ok(NoContent)
}

/// What one stream writes: JSON lines, server-sent events, or WebSocket text frames.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Format {
    Json,
    Sse,
    Ws,
}

fn random_id() -> String {
    Uuid::new_v4().simple().to_string()[..12].to_string()
}

fn control(event: &str, topic: &str, now: i64) -> String {
    json!({ "id": random_id(), "time": now, "event": event, "topic": topic }).to_string()
}

fn framed(format: Format, event: &str, body: String) -> String {
    match format {
        Format::Json => body + "\n",
        Format::Sse if event == "message" => format!("data: {body}\n\n"),
        Format::Sse => format!("event: {event}\ndata: {body}\n\n"),
        Format::Ws => body,
    }
}

fn message_text(m: &NtfyMessage) -> String {
    serde_json::to_string(m).unwrap_or_default()
}

/// Writes a subscription to `out` until the client goes away, the topic is revoked, or (`poll`)
/// the cached messages were sent.
async fn pump(state: Arc<AppState>, user: Uuid, topic: String, since: Since, poll: bool, format: Format, out: mpsc::Sender<String>) {
    let mut live = state.ntfy.subscribe(user);
    let send = |text: String| {
        let out = out.clone();
        async move { out.send(text).await.is_ok() }
    };
    if !poll && !send(framed(format, "open", control("open", &topic, state.clock.unix()))).await {
        return;
    }
    let mut last = 0;
    let st = state.clone();
    let cached = state.store.blocking(move |_| svc::cached(&st, user, since)).await.unwrap_or_default();
    for (seq, m) in cached {
        last = seq;
        if !send(framed(format, "message", message_text(&m))).await {
            return;
        }
    }
    if poll {
        return;
    }
    loop {
        let text = tokio::select! {
            got = live.recv() => match got {
                Ok((seq, m)) if seq > last => {
                    last = seq;
                    framed(format, "message", message_text(&m))
                }
                Ok(_) => continue,
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    // Fell behind: read what was missed from the cache.
                    let st = state.clone();
                    let missed = state.store.blocking(move |_| svc::cached(&st, user, Since::After(last))).await.unwrap_or_default();
                    for (seq, m) in missed {
                        last = seq;
                        if !send(framed(format, "message", message_text(&m))).await {
                            return;
                        }
                    }
                    continue;
                }
                Err(broadcast::error::RecvError::Closed) => return,
            },
            _ = tokio::time::sleep(KEEPALIVE) => framed(format, "keepalive", control("keepalive", &topic, state.clock.unix())),
            // The client went away (or the server is stopping): let go of the state at once.
            _ = out.closed() => return,
        };
        if !send(text).await {
            return;
        }
    }
}

/// The topic's user and where the stream starts, from the path and query.
fn subscription(req: &Request, st: &AppState) -> Result<(Uuid, String, Since, bool), AppError> {
    let topic = req.param::<String>("topic").unwrap_or_default();
    let user = svc::topic_user(st, &topic, &client(req, st).ip)?;
    let poll = req.query::<String>("poll").is_some_and(|p| p == "1" || p == "true");
    let since = Since::parse(st, req.query::<String>("since").as_deref(), poll)?;
    Ok((user, topic, since, poll))
}

async fn stream(req: &mut Request, depot: &mut Depot, res: &mut Response, format: Format) -> Result<(), AppError> {
    let st = state(depot);
    let (user, topic, since, poll) = subscription(req, &st)?;
    let (tx, mut rx) = mpsc::channel::<String>(16);
    tokio::spawn(pump(st, user, topic, since, poll, format, tx));
    let mime = if format == Format::Sse { "text/event-stream; charset=utf-8" } else { "application/x-ndjson; charset=utf-8" };
    res.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(mime));
    res.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    res.stream(futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx).map(|t| t.map(Ok::<_, std::io::Error>))));
    Ok(())
}

/// ntfy JSON stream: one message object per line (`open` first, `keepalive` when idle).
#[endpoint(tags("ntfy"), parameters(
    ("topic" = String, Path, description = "The user's secret topic"),
    ("since" = Option<String>, Query, description = "all, a unix time, a duration (10m, 2h) or a message id"),
    ("poll" = Option<String>, Query, description = "1: send the cached messages and close")))]
async fn json_stream(req: &mut Request, depot: &mut Depot, res: &mut Response) -> Result<(), AppError> {
    stream(req, depot, res, Format::Json).await
}

/// ntfy server-sent events (`open` and `keepalive` with their `event:` line, messages as `data:`).
#[endpoint(tags("ntfy"), parameters(
    ("topic" = String, Path, description = "The user's secret topic"),
    ("since" = Option<String>, Query, description = "all, a unix time, a duration (10m, 2h) or a message id"),
    ("poll" = Option<String>, Query, description = "1: send the cached messages and close")))]
async fn sse_stream(req: &mut Request, depot: &mut Depot, res: &mut Response) -> Result<(), AppError> {
    stream(req, depot, res, Format::Sse).await
}

/// ntfy WebSocket: the same JSON objects, one per text frame.
#[endpoint(tags("ntfy"), parameters(
    ("topic" = String, Path, description = "The user's secret topic"),
    ("since" = Option<String>, Query, description = "all, a unix time, a duration (10m, 2h) or a message id")))]
async fn ws_stream(req: &mut Request, depot: &mut Depot, res: &mut Response) -> Result<(), AppError> {
    let st = state(depot);
    let (user, topic, since, _) = subscription(req, &st)?;
    WebSocketUpgrade::new()
        .upgrade(req, res, move |ws| async move {
            let (mut sink, _incoming) = futures_util::StreamExt::split(ws);
            let (tx, mut rx) = mpsc::channel::<String>(16);
            tokio::spawn(pump(st, user, topic, since, false, Format::Ws, tx));
            while let Some(text) = rx.recv().await {
                if sink.send(Message::text(text)).await.is_err() {
                    return;
                }
            }
            let _ = sink.close().await;
        })
        .await
        .map_err(|e| AppError::BadRequest(format!("not a WebSocket request: {}", e.brief)))
}

/// The ntfy app's access check for a topic: `{ "success": true }` (404 when unknown).
#[endpoint(tags("ntfy"), parameters(("topic" = String, Path, description = "The user's secret topic")))]
async fn auth(req: &mut Request, depot: &mut Depot) -> Result<Json<serde_json::Value>, AppError> {
    let st = state(depot);
    subscription(req, &st)?;
    Ok(Json(json!({ "success": true })))
}

/// `POST/DELETE /push/ntfy` (signed in).
pub fn private() -> Router {
    Router::with_path("push/ntfy").post(create).delete(revoke)
}

/// The subscriber endpoints at the server root, as ntfy has them.
pub fn public() -> Router {
    Router::with_path(TOPIC)
        .push(Router::with_path("json").get(json_stream))
        .push(Router::with_path("sse").get(sse_stream))
        .push(Router::with_path("ws").get(ws_stream))
        .push(Router::with_path("auth").get(auth))
}
