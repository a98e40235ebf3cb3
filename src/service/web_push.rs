//! Web Push (when the Internet is there): devices subscribe with the browser's
//! `PushSubscription` (tied to the session that made it: signing out removes it), the push
//! fan-out queues one job per device, and the sender drains that persisted queue with a bounded
//! number of requests in flight, retrying 429, 5xx, timeouts and lost connections with backoff
//! (at least the push service's `Retry-After`) until the push's TTL runs out. 404 and 410 remove
//! the subscription; other refusals drop the push with a log line. Sending never blocks the API:
//! encryption runs off the async workers, and a push service that does not answer only delays
//! pushes.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use uuid::Uuid;
use web_push::Urgency;

use crate::access::Caller;
use crate::error::{AppError, AppResult};
use crate::infra::web_push::{Outcome, Push, Request, Tally};
use crate::state::AppState;
use crate::store::notifications::{self as notes_store, NotificationRecord, NotificationType};
use crate::store::web_push::{self as store, WebJob, WebSubscription};

/// The largest plaintext payload (bytes); the body is shortened to fit.
const MAX_PAYLOAD: usize = 3000;
/// First retry after this; each further one waits twice as long, up to [`MAX_BACKOFF_SECS`].
const FIRST_BACKOFF_SECS: u64 = 2;
/// The longest wait between two tries.
const MAX_BACKOFF_SECS: u64 = 1800;
/// The queue is counted again this often (seconds): depth and oldest job for the metrics.
const CENSUS_SECS: i64 = 30;

/// `GET /push/vapid-public-key`.
#[derive(Debug, Serialize, salvo::oapi::ToSchema)]
pub struct VapidKey {
    /// The VAPID public key (uncompressed P-256 point, base64url): pass it as
    /// `applicationServerKey` to `pushManager.subscribe`.
    pub key: String,
}

/// The browser's keys of a subscription.
#[derive(Debug, Deserialize, salvo::oapi::ToSchema)]
pub struct SubscriptionKeys {
    /// The P-256 public key (base64url, 65 bytes uncompressed).
    pub p256dh: String,
    /// The authentication secret (base64url, 16 bytes).
    pub auth: String,
}

/// `POST /push/subscriptions`: `PushSubscription.toJSON()` as the browser gives it.
#[derive(Debug, Deserialize, salvo::oapi::ToSchema)]
pub struct SubscriptionInput {
    /// The push service URL: `https` on a known push service (`push.known_hosts`), or on a host
    /// the school lists in `push.allow_hosts`; anything else is refused with 422.
    pub endpoint: String,
    /// The keys.
    pub keys: SubscriptionKeys,
    /// Ignored (the browser's hint; an expired subscription answers 404/410 and is removed).
    #[serde(default, rename = "expirationTime")]
    pub expiration_time: Option<serde_json::Value>,
}

/// `DELETE /push/subscriptions`: which device (the keys may be sent too; they are ignored).
#[derive(Debug, Deserialize, salvo::oapi::ToSchema)]
pub struct SubscriptionRef {
    /// The endpoint given when subscribing.
    pub endpoint: String,
    /// Ignored.
    #[serde(default)]
    pub keys: Option<serde_json::Value>,
}

/// A device's subscription.
#[derive(Debug, Serialize, salvo::oapi::ToSchema)]
pub struct SubscriptionView {
    /// Id.
    pub id: Uuid,
    /// The push service URL.
    pub endpoint: String,
    /// Subscribed (RFC 3339).
    pub created_at: String,
}

fn view(s: &WebSubscription) -> SubscriptionView {
    SubscriptionView {
        id: s.id,
        endpoint: s.endpoint.clone(),
        created_at: crate::clock::rfc3339(chrono::DateTime::from_timestamp(s.created_at, 0).unwrap_or_default()),
    }
}

/// The VAPID public key.
pub fn vapid_key(state: &AppState) -> VapidKey {
    VapidKey { key: state.web_push.public_key().to_string() }
}

fn key_bytes(field: &str, value: &str, len: usize) -> AppResult<Vec<u8>> {
    let bad = || AppError::field(field, format!("must be {len} bytes in base64url"));
    let b = URL_SAFE_NO_PAD.decode(value.trim_end_matches('=')).map_err(|_| bad())?;
    if b.len() != len {
        return Err(bad());
    }
    Ok(b)
}

/// POST /push/subscriptions: stores this device's subscription (the same endpoint again
/// replaces it, also from another account: a shared device pushes to who signed in last).
pub async fn subscribe(state: &AppState, me: Caller, input: SubscriptionInput) -> AppResult<SubscriptionView> {
    let endpoint = input.endpoint.trim().to_string();
    if endpoint.len() > 2048 {
        return Err(AppError::field("endpoint", "must be at most 2048 characters"));
    }
    state.web_push.rules().check(&endpoint).map_err(|why| AppError::field("endpoint", why))?;
    let point = key_bytes("keys.p256dh", &input.keys.p256dh, 65)?;
    if p256::PublicKey::from_sec1_bytes(&point).is_err() {
        return Err(AppError::field("keys.p256dh", "is not a P-256 public key"));
    }
    key_bytes("keys.auth", &input.keys.auth, 16)?;
    let s = WebSubscription {
        id: Uuid::now_v7(),
        user_id: me.id(),
        session_id: me.session_id(),
        endpoint,
        p256dh: URL_SAFE_NO_PAD.encode(point),
        auth: input.keys.auth.trim_end_matches('=').to_string(),
        created_at: state.clock.unix(),
    };
    let max = state.config.push.max_subscriptions_per_user;
    let v = view(&s);
    state.store.write(move |st| store::subscribe(st, &s, max)).await?;
    Ok(v)
}

/// DELETE /push/subscriptions: removes the caller's subscription of this endpoint (404 when the
/// caller has none).
pub async fn unsubscribe(state: &AppState, me: Caller, endpoint: String) -> AppResult<()> {
    let user = me.id();
    state
        .store
        .write(move |s| match store::by_endpoint(s, user, endpoint.trim())? {
            Some(sub) => store::remove(s, user, sub.id).map(|_| ()),
            None => Err(AppError::NotFound("subscription")),
        })
        .await
}

/// GET /push/subscriptions: the caller's devices.
pub fn list(state: &AppState, me: Caller) -> AppResult<Vec<SubscriptionView>> {
    Ok(store::list(&state.store, me.id())?.iter().map(view).collect())
}

/// Removes the subscriptions of sessions of `user` that ended (sign-out, revoked, expired).
pub fn sessions_ended(state: &AppState, user: Uuid) -> AppResult<usize> {
    store::end_sessions(&state.store, user, |sid| !crate::store::sessions::exists(&state.store, sid).unwrap_or(true))
}

/// One job per live subscription of the notification's owner (the push fan-out's).
pub(super) fn jobs_for(state: &AppState, n: &NotificationRecord, now: i64) -> AppResult<Vec<(Vec<u8>, WebJob)>> {
    let mut out = Vec::new();
    for s in store::list(&state.store, n.user_id)? {
        if !crate::store::sessions::exists(&state.store, s.session_id)? {
            store::remove(&state.store, s.user_id, s.id)?;
            continue;
        }
        let job = WebJob {
            user_id: n.user_id,
            subscription_id: s.id,
            notification_id: n.id,
            attempts: 0,
            queued_at: now,
            expires_at: now + i64::from(state.config.push.ttl_secs),
        };
        out.push((store::job_key(now_ms(state), Uuid::now_v7()), job));
    }
    Ok(out)
}

/// The payload a device receives (JSON, at most 3,000 bytes before encryption).
#[derive(Debug, Serialize)]
struct Payload<'a> {
    /// The notification id.
    id: Uuid,
    #[serde(rename = "type")]
    kind: NotificationType,
    title: &'a str,
    body: &'a str,
    /// The API path of what it is about (as `link` in the inbox).
    link: Option<&'a str>,
    /// Where the app opens.
    url: &'a str,
    /// Messages in a collapsed `message` notification.
    count: u32,
    created_at: &'a str,
}

fn topic(n: &NotificationRecord) -> String {
    match (n.kind, n.related_entity_id) {
        (NotificationType::Message, Some(chat)) => format!("c{}", URL_SAFE_NO_PAD.encode(chat.as_bytes())),
        _ => format!("n{}", URL_SAFE_NO_PAD.encode(n.id.as_bytes())),
    }
}

fn urgency(kind: NotificationType) -> Urgency {
    use NotificationType as T;
    match kind {
        T::Message => Urgency::High,
        T::FriendRequest | T::FriendAccepted | T::System | T::GoalCompleted => Urgency::Normal,
        T::GoalReminder | T::ReportReady | T::Insight => Urgency::Low,
    }
}

fn payload(state: &AppState, n: &NotificationRecord) -> AppResult<Vec<u8>> {
    let view = super::notifications::view(state, n);
    let (title, mut body) = super::push::push_texts(state, n)?;
    loop {
        let p = Payload {
            id: n.id,
            kind: n.kind,
            title: &title,
            body: &body,
            link: view.link.as_deref(),
            url: &state.base_url,
            count: view.count,
            created_at: &view.created_at,
        };
        let bytes = serde_json::to_vec(&p).map_err(AppError::internal)?;
        if bytes.len() <= MAX_PAYLOAD || body.is_empty() {
            return Ok(bytes);
        }
        let keep = body.len().saturating_sub(bytes.len() - MAX_PAYLOAD + 3);
        let cut = (0..=keep).rev().find(|i| body.is_char_boundary(*i)).unwrap_or(0);
        body.truncate(cut);
        body.push('…');
    }
}

/// A job made ready to send, or why it is not sent.
enum Prepared {
    Send(Request),
    Stale,
    Refused(String),
}

fn prepare(state: &AppState, job: &WebJob, now: i64) -> AppResult<Prepared> {
    let Some(sub) = store::get(&state.store, job.user_id, job.subscription_id)? else { return Ok(Prepared::Stale) };
    let Some(n) = notes_store::get(&state.store, job.notification_id)?.filter(|n| n.read_at.is_none()) else { return Ok(Prepared::Stale) };
    let body = payload(state, &n)?;
    let ttl = u32::try_from((job.expires_at - now).max(0)).unwrap_or(0);
    let push = Push {
        endpoint: &sub.endpoint,
        p256dh: &sub.p256dh,
        auth: &sub.auth,
        payload: &body,
        ttl,
        urgency: urgency(n.kind),
        topic: Some(topic(&n)),
    };
    Ok(match state.web_push.encrypt(&push, now) {
        Ok(r) => Prepared::Send(r),
        Err(why) => Prepared::Refused(why),
    })
}

/// The end of one job.
enum Done {
    Sent(Outcome),
    Stale,
    Refused(String),
}

fn now_ms(state: &AppState) -> u64 {
    state.clock.now().timestamp_millis().max(0) as u64
}

fn backoff(attempts: u32, after: Option<Duration>) -> u64 {
    let exp = FIRST_BACKOFF_SECS.saturating_mul(1 << attempts.min(20)).min(MAX_BACKOFF_SECS);
    let jitter = rand::random::<u64>() % (exp / 4 + 1);
    let ms = (exp + jitter) * 1000;
    after.map_or(ms, |a| (a.as_millis() as u64).clamp(1000, MAX_BACKOFF_SECS * 2000))
}

fn apply(state: &AppState, finished: Vec<(Vec<u8>, WebJob, Done)>) -> AppResult<()> {
    let (mut sent, mut gone, mut retried, mut expired, mut rejected, mut stale) = (0, 0, 0, 0, 0, 0);
    for (key, job, done) in finished {
        let mut again = None;
        match done {
            Done::Sent(Outcome::Sent) => sent += 1,
            Done::Sent(Outcome::Gone) => {
                gone += 1;
                store::remove(&state.store, job.user_id, job.subscription_id)?;
                tracing::info!(user = %job.user_id, "push subscription gone (404/410): removed");
            }
            Done::Sent(Outcome::Rejected(why)) | Done::Refused(why) => {
                rejected += 1;
                tracing::warn!(user = %job.user_id, subscription = %job.subscription_id, reason = %why, "push dropped");
            }
            Done::Sent(Outcome::Retry { after, reason, .. }) => {
                let wait = backoff(job.attempts, after);
                let due_ms = now_ms(state) + wait;
                if (due_ms / 1000) as i64 >= job.expires_at {
                    expired += 1;
                    tracing::debug!(user = %job.user_id, reason = %reason, "push given up: its TTL ran out");
                } else {
                    retried += 1;
                    tracing::debug!(user = %job.user_id, reason = %reason, wait_ms = wait, "push retried later");
                    again = Some((store::job_key(due_ms, Uuid::now_v7()), WebJob { attempts: job.attempts + 1, ..job }));
                }
            }
            Done::Stale => stale += 1,
        }
        store::finish(&state.store, &key, again.as_ref().map(|(k, j)| (k.as_slice(), j)))?;
        if again.is_none() {
            state.web_push_status.queued(-1);
        }
    }
    let st = &state.web_push_status;
    for (t, n) in [
        (Tally::Sent, sent),
        (Tally::Gone, gone),
        (Tally::Retried, retried),
        (Tally::Expired, expired),
        (Tally::Rejected, rejected),
        (Tally::Stale, stale),
    ] {
        if n > 0 {
            st.count(t, n);
        }
    }
    Ok(())
}

fn note_reachability(state: &AppState, outcome: &Outcome) {
    let st = &state.web_push_status;
    match outcome {
        Outcome::Retry { unreachable: true, reason, .. } => {
            if st.unreachable(state.clock.unix()) {
                tracing::warn!(reason = %reason, "push: no push service answers; pushes wait and are retried with backoff");
            }
        }
        _ => {
            if st.reached() {
                tracing::info!("push: push services answer again");
            }
        }
    }
}

/// Starts the sender: keeps up to `push.senders` requests in flight, wakes when jobs are queued
/// or due.
pub fn spawn_sender(state: Arc<AppState>) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let limit = state.config.push.senders;
        let (done_tx, mut done_rx) = tokio::sync::mpsc::unbounded_channel::<(Vec<u8>, WebJob, Done)>();
        let mut inflight: HashSet<Vec<u8>> = HashSet::new();
        let mut finished = Vec::new();
        let mut last_census = i64::MIN;
        loop {
            while let Ok(f) = done_rx.try_recv() {
                finished.push(f);
            }
            if !finished.is_empty() {
                for f in &finished {
                    inflight.remove(&f.0);
                }
                let st = state.clone();
                let batch = std::mem::take(&mut finished);
                if let Err(e) = state.store.blocking(move |_| apply(&st, batch)).await {
                    tracing::warn!(error = %e, "push results not stored; they are sent again");
                }
            }
            let now = state.clock.unix();
            if now.saturating_sub(last_census) >= CENSUS_SECS {
                last_census = now;
                if let Ok((n, oldest)) = state.store.blocking(store::census).await {
                    state.web_push_status.census(n, oldest);
                }
            }
            let free = limit.saturating_sub(inflight.len());
            let mut picked = 0;
            if free > 0 {
                let (st, skip) = (state.clone(), inflight.clone());
                let ready = state
                    .store
                    .blocking(move |s| {
                        let now = st.clock.unix();
                        let mut out = Vec::new();
                        for (key, job) in store::due(s, now_ms(&st), free + skip.len())? {
                            if skip.contains(&key) || out.len() == free {
                                continue;
                            }
                            let p = prepare(&st, &job, now)?;
                            out.push((key, job, p));
                        }
                        Ok(out)
                    })
                    .await;
                match ready {
                    Ok(ready) => {
                        picked = ready.len();
                        for (key, job, p) in ready {
                            match p {
                                Prepared::Stale => finished.push((key, job, Done::Stale)),
                                Prepared::Refused(why) => finished.push((key, job, Done::Refused(why))),
                                Prepared::Send(req) => {
                                    inflight.insert(key.clone());
                                    let (st, tx) = (state.clone(), done_tx.clone());
                                    tokio::spawn(async move {
                                        let outcome = st.web_push.send(req).await;
                                        note_reachability(&st, &outcome);
                                        let _ = tx.send((key, job, Done::Sent(outcome)));
                                    });
                                }
                            }
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "push queue unreadable; retrying"),
                }
            }
            if !finished.is_empty() || (picked == free && free > 0) {
                continue;
            }
            // Every sender busy: only a finished request (or new jobs) can change anything.
            let wait = if free == 0 {
                Duration::from_secs(5)
            } else {
                match state.store.blocking(store::next_due).await {
                    Ok(Some(due_ms)) => Duration::from_millis(due_ms.saturating_sub(now_ms(&state)).clamp(20, 5000)),
                    _ => Duration::from_secs(5),
                }
            };
            tokio::select! {
                Some(f) = done_rx.recv() => finished.push(f),
                _ = state.web_push_wake.notified() => {}
                _ = tokio::time::sleep(wait) => {}
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_and_honours_retry_after() {
        assert!((2000..=2500).contains(&backoff(0, None)));
        assert!((4000..=5000).contains(&backoff(1, None)));
        assert!(backoff(30, None) <= MAX_BACKOFF_SECS * 1250);
        assert_eq!(backoff(0, Some(Duration::from_secs(7))), 7000);
        assert_eq!(backoff(5, Some(Duration::from_millis(10))), 1000);
    }
}
