//! Push. The notification follower queues a push (in its own transaction) for each notification
//! whose owner wants one now: the type's `push` switch on, outside their and the school's quiet
//! hours, and a way to reach them. The sender drains that persisted queue, so a restart loses no
//! push. On a LAN with no Internet the way is **ntfy**: a user's secret topic on this server that
//! the ntfy app subscribes to (`/<topic>/json`, `/sse`, `/ws`, with `since` and `poll=1`, per
//! ntfy's published subscription protocol); the messages are kept for `push.ntfy_cache_hours`
//! so the app can fetch what it missed.
//!
//! Privacy: unless the user turned `message_previews` on, a message push shows only who wrote
//! ("New message from Ana"), never the text.

use std::sync::Arc;
use std::time::Duration;

use rand::RngCore;
use serde::Serialize;
use uuid::Uuid;

use crate::access::Caller;
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::store::notifications::{self as notes_store, NotificationType};
pub use crate::store::push::NtfyMessage;
use crate::store::push::{self as store, Pending};

/// A collapsed message notification is pushed again at most this often.
const REPUSH_AFTER_SECS: i64 = 60;
/// Pushes handled per pass of the sender.
const BATCH: usize = 256;

/// `POST /push/ntfy`: the user's topic and the URL the ntfy app subscribes to.
#[derive(Debug, Serialize, salvo::oapi::ToSchema)]
pub struct NtfyTopic {
    /// The secret topic name (26 characters; treat it as a password).
    pub topic: String,
    /// `<server>/<topic>`: in the ntfy app, "Subscribe to topic", "Use another server" with the
    /// server part, and the topic; or open the QR code.
    pub url: String,
    /// The server part of `url` (what the ntfy app asks for as "server URL").
    pub server: String,
    /// A QR code of `url`, as an SVG document.
    pub qr_svg: String,
}

/// True when `user` should get a push of a `kind` notification now.
pub fn wants_push(state: &AppState, user: Uuid, kind: NotificationType) -> AppResult<bool> {
    // Cheapest first: most students have no way to be pushed to.
    Ok((store::topic_of(&state.store, user)?.is_some() || crate::store::web_push::has_any(&state.store, user)?)
        && super::notifications::channels(state, user, kind)?.push
        && !super::notifications::quiet_now(state, user)?)
}

fn new_topic() -> String {
    let mut b = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut b);
    // Lower-case base32 (ntfy topics are [-_A-Za-z0-9]{1,64}); 128 random bits.
    let alphabet = b"abcdefghijklmnopqrstuvwxyz234567";
    let mut bits = u128::from_be_bytes(b);
    (0..26)
        .map(|_| {
            let c = alphabet[(bits & 31) as usize] as char;
            bits >>= 5;
            c
        })
        .collect()
}

pub(crate) fn qr_svg(url: &str) -> AppResult<String> {
    let code = qrcode::QrCode::new(url.as_bytes()).map_err(AppError::internal)?;
    Ok(code.render::<qrcode::render::svg::Color>().min_dimensions(240, 240).build())
}

/// POST /push/ntfy: a new topic for the caller (an older one stops working at once).
pub async fn create_topic(state: &AppState, me: Caller) -> AppResult<NtfyTopic> {
    let topic = new_topic();
    let (user, t) = (me.id(), topic.clone());
    state.store.write(move |s| store::set_topic(s, user, Some(&t))).await?;
    state.ntfy.close(user);
    let server = state.base_url.trim_end_matches('/').to_string();
    let url = format!("{server}/{topic}");
    Ok(NtfyTopic { qr_svg: qr_svg(&url)?, topic, url, server })
}

/// DELETE /push/ntfy: the caller's topic stops working (404) and its open streams end.
pub async fn revoke_topic(state: &AppState, me: Caller) -> AppResult<()> {
    let user = me.id();
    state.store.write(move |s| store::set_topic(s, user, None)).await?;
    state.ntfy.close(user);
    Ok(())
}

fn tags(kind: NotificationType) -> Vec<String> {
    use NotificationType as T;
    let tag = match kind {
        T::Message => "speech_balloon",
        T::FriendRequest | T::FriendAccepted => "wave",
        T::GoalReminder | T::GoalCompleted => "dart",
        T::ReportReady => "bar_chart",
        T::Insight => "bulb",
        T::System => "school",
    };
    vec![tag.to_string()]
}

/// Title and body of a push of `n`, as it is now (no message text unless previews are on).
pub(super) fn push_texts(state: &AppState, n: &notes_store::NotificationRecord) -> AppResult<(String, String)> {
    let view = super::notifications::view(state, n);
    let previews = super::notifications::message_previews(state, n.user_id)?;
    Ok(match (n.kind, previews) {
        (NotificationType::Message, false) => ("Friend".to_string(), view.title),
        _ if view.content.is_empty() => ("Friend".to_string(), view.title),
        _ => (view.title, view.content),
    })
}

/// The ntfy message of notification `n` for `topic`.
fn ntfy_message(state: &AppState, seq: u64, topic: String, n: &notes_store::NotificationRecord, now: i64) -> AppResult<NtfyMessage> {
    let (title, message) = push_texts(state, n)?;
    Ok(NtfyMessage {
        id: format!("f{seq:011x}"),
        time: now,
        event: "message".into(),
        topic,
        title,
        message,
        priority: if n.kind == NotificationType::Message { 4 } else { 3 },
        tags: tags(n.kind),
        click: Some(state.base_url.clone()),
        notification_id: n.id,
    })
}

/// The notification of a queued push if it should go out now: not gone or read, and not a
/// collapsed chat notification pushed moments ago.
fn to_push(state: &AppState, p: &Pending, now: i64) -> AppResult<Option<notes_store::NotificationRecord>> {
    let Some(n) = notes_store::get(&state.store, p.notification_id)?.filter(|n| n.read_at.is_none()) else { return Ok(None) };
    if store::last(&state.store, p.user_id)?.is_some_and(|l| l.notification_id == n.id && now - l.at < REPUSH_AFTER_SECS) {
        return Ok(None);
    }
    Ok(Some(n))
}

/// What one pass handed on.
struct Handed {
    ntfy: Vec<(Uuid, u64, NtfyMessage)>,
    web: usize,
}

/// One pass over the queue: each push becomes an ntfy message (kept for the app and published to
/// its open streams) and a Web Push job per subscribed device. Returns how many were taken.
pub async fn send_queued(state: &Arc<AppState>) -> AppResult<usize> {
    let st = state.clone();
    let (taken, handed) = state
        .store
        .blocking(move |s| {
            let mut handed = Handed { ntfy: Vec::new(), web: 0 };
            let queued = store::queued(s, BATCH)?;
            let now = st.clock.unix();
            for (seq, p) in &queued {
                let n = to_push(&st, p, now)?;
                let ntfy = match (&n, store::topic_of(s, p.user_id)?) {
                    (Some(n), Some(topic)) => Some(ntfy_message(&st, *seq, topic, n, now)?),
                    _ => None,
                };
                let web = match &n {
                    Some(n) => super::web_push::jobs_for(&st, n, now)?,
                    None => Vec::new(),
                };
                let last = (ntfy.is_some() || !web.is_empty()).then_some(store::LastPush { notification_id: p.notification_id, at: now });
                store::sent(s, *seq, p.user_id, &store::Fanout { ntfy: ntfy.as_ref(), web: &web, last })?;
                handed.web += web.len();
                if let Some(m) = ntfy {
                    handed.ntfy.push((p.user_id, *seq, m));
                }
            }
            Ok((queued.len(), handed))
        })
        .await?;
    state.metrics.pushed("ntfy", handed.ntfy.len() as u64);
    for (user, seq, m) in handed.ntfy {
        state.ntfy.publish(user, seq, m);
    }
    if handed.web > 0 {
        state.web_push_status.queued(handed.web as i64);
        state.web_push_wake.notify_one();
    }
    Ok(taken)
}

/// Starts the sender: wakes when pushes are queued (and every few seconds), and drops cached
/// ntfy messages past `push.ntfy_cache_hours`.
pub fn spawn_sender(state: Arc<AppState>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut last_prune = 0;
        loop {
            match send_queued(&state).await {
                Ok(n) if n == BATCH => continue,
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "push sender failed; retrying"),
            }
            let now = state.clock.unix();
            if now - last_prune > 600 {
                last_prune = now;
                let before = now - i64::from(state.config.notifications.ntfy_cache_hours) * 3600;
                let st = state.clone();
                if let Err(e) = st.store.blocking(move |s| store::prune_messages(s, before)).await {
                    tracing::warn!(error = %e, "ntfy cache pruning failed");
                }
            }
            let _ = tokio::time::timeout(Duration::from_secs(5), state.push_wake.notified()).await;
        }
    })
}

/// Where an ntfy stream starts (`since=`: `all`, a unix time, a duration like `10m`, or a message
/// id; absent: only new messages, as ntfy does).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Since {
    /// Only messages that arrive from now on.
    New,
    /// After this cache position (a message id).
    After(u64),
    /// Not older than this unix time.
    Time(i64),
}

impl Since {
    /// Parses ntfy's `since` parameter (`poll=1` without `since` means `all`).
    pub fn parse(state: &AppState, since: Option<&str>, poll: bool) -> AppResult<Since> {
        let bad = || AppError::field("since", "must be all, a unix time, a duration such as 10m, or a message id");
        let Some(s) = since.filter(|s| !s.is_empty()) else { return Ok(if poll { Since::Time(0) } else { Since::New }) };
        if !s.is_ascii() {
            return Err(bad());
        }
        if s == "all" {
            return Ok(Since::Time(0));
        }
        if let Some(hex) = s.strip_prefix('f').filter(|h| h.len() == 11) {
            return u64::from_str_radix(hex, 16).map(Since::After).map_err(|_| bad());
        }
        if let Ok(t) = s.parse::<i64>() {
            return Ok(Since::Time(t));
        }
        let (num, unit) = s.split_at(s.len() - 1);
        let n: i64 = num.parse().map_err(|_| bad())?;
        let secs = match unit {
            "s" => n,
            "m" => n * 60,
            "h" => n * 3600,
            "d" => n * 86_400,
            _ => return Err(bad()),
        };
        Ok(Since::Time(state.clock.unix() - secs))
    }
}

/// The user whose topic this is; 404 (as if absent) for unknown and revoked topics, 429 for an
/// address asking too often.
pub fn topic_user(state: &AppState, topic: &str, client: &str) -> AppResult<Uuid> {
    if let Err(wait) = state.ntfy_requests.take(client, state.clock.unix()) {
        return Err(AppError::RateLimited(wait));
    }
    store::user_of(&state.store, topic)?.ok_or(AppError::NotFound("topic"))
}

/// Cached messages of `user` from `since` (with their cache positions), oldest first. Their texts
/// are rendered again from the notification as it is now, so a deleted message's text is never
/// served from the cache; messages of removed notifications are left out.
pub fn cached(state: &AppState, user: Uuid, since: Since) -> AppResult<Vec<(u64, NtfyMessage)>> {
    let stored = match since {
        Since::New => Vec::new(),
        Since::After(seq) => store::messages_after(&state.store, user, seq, 0)?,
        Since::Time(t) => store::messages_after(&state.store, user, 0, t)?,
    };
    let mut out = Vec::with_capacity(stored.len());
    for (seq, mut m) in stored {
        if let Some(n) = notes_store::get(&state.store, m.notification_id)? {
            (m.title, m.message) = push_texts(state, &n)?;
            out.push((seq, m));
        }
    }
    Ok(out)
}
