//! Logical backup: a versioned, checksummed JSON Lines file independent of sled.
//!
//! Line 1 is a header, then one line per record (`{"kind": "user", "data": {...}}`, media bytes
//! as `{"kind": "blob", "sha256", "data": base64}`), then a trailer with the record count and the
//! sha256 of every byte before it. Writes are paused while records are read, so the file is one
//! consistent point in time. Restore rebuilds indexes and counters by inserting the records.

use std::io::{BufRead, BufWriter, Write};
use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::blobs::Blobs;
use super::{
    Store, activity, announcements, audit, chat, codec, event_log, goals, insights, invites, io, media, moderation, notes, notifications,
    report_runs, sessions, social, users,
};
use crate::error::{AppError, AppResult};

const FORMAT: &str = "friend-backup";
/// 2 adds `audit`, `settings`, `announcement`, `announcement_ack` and `abuse_report` lines; a binary that reads version 1 only refuses a version 2 file by name.
const VERSION: u32 = 2;

#[derive(Serialize, Deserialize)]
struct Header {
    format: String,
    version: u32,
    schema_version: u64,
    created_at: chrono::DateTime<chrono::Utc>,
}

#[derive(Serialize, Deserialize)]
#[serde(tag = "kind", content = "data", rename_all = "snake_case")]
enum Line {
    User(users::UserRecord),
    Session(sessions::SessionRecord),
    Media(media::MediaRecord),
    Invite(invites::InviteRecord),
    Friendship {
        a: uuid::Uuid,
        b: uuid::Uuid,
        since: chrono::DateTime<chrono::Utc>,
    },
    FriendRequest(social::RequestRecord),
    Block {
        blocker: uuid::Uuid,
        blocked: uuid::Uuid,
        since: chrono::DateTime<chrono::Utc>,
    },
    /// The domain outbox before schema 3.
    Event(event_log::LegacyOutbox),
    Chat(chat::ChatRecord),
    Member {
        chat: uuid::Uuid,
        user: uuid::Uuid,
        member: chat::MemberRecord,
    },
    PrivatePair {
        a: uuid::Uuid,
        b: uuid::Uuid,
        chat: uuid::Uuid,
    },
    Message(chat::MessageRecord),
    /// The chat event log before schema 3.
    LogEvent(event_log::LegacyFrame),
    /// An event of the one log (schema 3 on).
    Logged(event_log::LogRecord),
    SeqReserved(u64),
    Activity {
        user: uuid::Uuid,
        log: activity::DailyLog,
    },
    Timer {
        user: uuid::Uuid,
        timer: activity::Timer,
    },
    Goal {
        user: uuid::Uuid,
        goal: goals::GoalRecord,
    },
    ReportRun {
        user: uuid::Uuid,
        period: String,
        at: chrono::DateTime<chrono::Utc>,
    },
    Insights {
        user: uuid::Uuid,
        set: insights::InsightSet,
        week: Option<String>,
    },
    Note(notes::NoteRecord),
    NoteShares {
        note: uuid::Uuid,
        shares: u64,
    },
    NoteLike {
        note: uuid::Uuid,
        user: uuid::Uuid,
        at: chrono::DateTime<chrono::Utc>,
    },
    Notification(notifications::NotificationRecord),
    NotificationSettings {
        user: uuid::Uuid,
        settings: serde_json::Value,
    },
    /// A staff action (append-only, so restored as it was).
    Audit(audit::AuditRecord),
    /// The school settings staff changed.
    Settings(serde_json::Value),
    /// An announcement with its recipients.
    Announcement(announcements::AnnouncementRecord),
    /// A report of a message, note or user (open or resolved).
    AbuseReport(moderation::ReportRecord),
    AnnouncementAck {
        announcement: uuid::Uuid,
        user: uuid::Uuid,
        at: chrono::DateTime<chrono::Utc>,
    },
    Blob {
        sha256: String,
        data: String,
    },
    End {
        records: u64,
        sha256: String,
    },
}

/// What a backup contained.
#[derive(Debug, Default, Serialize, PartialEq, Eq)]
pub struct Summary {
    /// Records (blobs included).
    pub records: u64,
    /// Bytes written or read.
    pub bytes: u64,
}

struct HashingWriter<W: Write> {
    inner: W,
    hash: Sha256,
    bytes: u64,
    records: u64,
}

impl<W: Write> HashingWriter<W> {
    fn line<T: Serialize>(&mut self, v: &T) -> AppResult<()> {
        let mut buf = serde_json::to_vec(v).map_err(AppError::internal)?;
        buf.push(b'\n');
        self.hash.update(&buf);
        self.bytes += buf.len() as u64;
        self.records += 1;
        self.inner.write_all(&buf).map_err(AppError::internal)
    }
}

fn each<T: serde::de::DeserializeOwned>(tree: &sled::Tree, mut f: impl FnMut(T) -> AppResult<()>) -> AppResult<()> {
    for item in tree.iter() {
        f(codec::dec(&item.map_err(io)?.1)?)?;
    }
    Ok(())
}

/// Writes a consistent backup of `store` (and its blobs) to `dest`, then verifies the file.
pub fn export(store: &Store, blobs: &Blobs, dest: &Path, now: chrono::DateTime<chrono::Utc>) -> AppResult<Summary> {
    let tmp = dest.with_extension("partial");
    let file = std::fs::File::create(&tmp).map_err(|e| AppError::BadRequest(format!("cannot write {}: {e}", tmp.display())))?;
    // A backup holds every student's data: owner-only, like the data directory.
    if let Err(e) = super::private_file(&tmp) {
        tracing::warn!(error = %e, "the backup file could not be made owner-only (a file system without permissions?)");
    }
    let mut w = HashingWriter { inner: BufWriter::new(file), hash: Sha256::new(), bytes: 0, records: 0 };
    // Blobs are immutable (named by their hash): they are copied after the pause, pinned so that
    // none the snapshot names is deleted meanwhile.
    let _pin = blobs.pin();
    let mut hashes = std::collections::BTreeSet::new();
    {
        let _pause = store.gate.write().unwrap_or_else(|p| p.into_inner());
        store.flush_now()?;
        w.line(&Header {
            format: FORMAT.into(),
            version: VERSION,
            schema_version: super::meta::schema_version(store)?.unwrap_or(super::SCHEMA_VERSION),
            created_at: now,
        })?;
        w.records = 0;
        let t = &store.t;
        each(&t.users, |u| w.line(&Line::User(u)))?;
        each(&t.sessions, |s| w.line(&Line::Session(s)))?;
        each(&t.invites, |i| w.line(&Line::Invite(i)))?;
        for (a, b, since) in social::all_friendships(store)? {
            w.line(&Line::Friendship { a, b, since })?;
        }
        for r in social::all_requests(store)? {
            w.line(&Line::FriendRequest(r))?;
        }
        for (blocker, blocked, since) in social::all_blocks(store)? {
            w.line(&Line::Block { blocker, blocked, since })?;
        }
        each(&t.chats, |c| w.line(&Line::Chat(c)))?;
        for item in t.chat_members.iter() {
            let (k, v) = item.map_err(io)?;
            let (chat, user) = (codec::id_at(&k, 0)?, codec::id_at(&k, 16)?);
            w.line(&Line::Member { chat, user, member: codec::dec(&v)? })?;
        }
        for item in t.private_pairs.iter() {
            let (k, v) = item.map_err(io)?;
            let (a, b) = (codec::id_at(&k, 0)?, codec::id_at(&k, 16)?);
            w.line(&Line::PrivatePair { a, b, chat: codec::id_at(&v, 0)? })?;
        }
        each(&t.messages, |m| w.line(&Line::Message(m)))?;
        each(&t.event_log, |e| w.line(&Line::Logged(e)))?;
        w.line(&Line::SeqReserved(event_log::high_water(store)?))?;
        for item in t.activity_logs.iter() {
            let (k, v) = item.map_err(io)?;
            w.line(&Line::Activity { user: codec::id_at(&k, 0)?, log: codec::dec(&v)? })?;
        }
        for (user, timer) in activity::all_timers(store)? {
            w.line(&Line::Timer { user, timer })?;
        }
        for (user, goal) in goals::all(store)? {
            w.line(&Line::Goal { user, goal })?;
        }
        for item in t.report_runs.iter() {
            let (k, v) = item.map_err(io)?;
            let user = codec::id_at(&k, 0)?;
            let period = String::from_utf8_lossy(&k[16..k.len() - 1]).to_string();
            w.line(&Line::ReportRun { user, period, at: codec::dec(&v)? })?;
        }
        for (user, set, week) in insights::all(store)? {
            w.line(&Line::Insights { user, set, week })?;
        }
        for n in notes::all(store) {
            let n = n?;
            let shares = notes::counts(store, n.id)?.shares;
            let id = n.id;
            w.line(&Line::Note(n))?;
            if shares > 0 {
                w.line(&Line::NoteShares { note: id, shares })?;
            }
        }
        for like in notes::all_likes(store) {
            let (note, user, at) = like?;
            w.line(&Line::NoteLike { note, user, at })?;
        }
        each(&t.notifications, |n| w.line(&Line::Notification(n)))?;
        for item in t.notification_settings.iter() {
            let (k, v) = item.map_err(io)?;
            w.line(&Line::NotificationSettings { user: codec::id_at(&k, 0)?, settings: codec::dec(&v)? })?;
        }
        for r in audit::all(store) {
            w.line(&Line::Audit(r?))?;
        }
        if let Some(v) = super::meta::settings_overrides(store)? {
            w.line(&Line::Settings(v))?;
        }
        each(&t.announcements, |a| w.line(&Line::Announcement(a)))?;
        each(&t.abuse_reports, |r| w.line(&Line::AbuseReport(r)))?;
        for ack in announcements::all_acks(store) {
            let (announcement, user, at) = ack?;
            w.line(&Line::AnnouncementAck { announcement, user, at })?;
        }
        each(&t.media, |m: media::MediaRecord| {
            hashes.insert(m.sha256.clone());
            hashes.extend(m.thumb_sha256.clone());
            w.line(&Line::Media(m))
        })?;
    }
    for h in hashes {
        let data = B64.encode(blobs.get(&h)?);
        w.line(&Line::Blob { sha256: h, data })?;
    }
    let records = w.records;
    let digest = hex::encode(w.hash.clone().finalize());
    let end = serde_json::to_vec(&Line::End { records, sha256: digest }).map_err(AppError::internal)?;
    w.inner.write_all(&end).and_then(|_| w.inner.write_all(b"\n")).map_err(AppError::internal)?;
    let file = w.inner.into_inner().map_err(|e| AppError::internal(e.to_string()))?;
    file.sync_all().map_err(AppError::internal)?;
    let summary = verify(&tmp)?;
    std::fs::rename(&tmp, dest).map_err(AppError::internal)?;
    if let Some(dir) = dest.parent().filter(|d| !d.as_os_str().is_empty()) {
        super::power_safe::sync_dir(dir).map_err(AppError::internal)?;
    }
    Ok(summary)
}

/// Reads a backup file and checks its header, every line and the trailer checksum.
pub fn verify(path: &Path) -> AppResult<Summary> {
    read(path, |_| Ok(()))
}

/// The record count and checksum a backup file's trailer states (its last line), without reading
/// the rest; None if the file has no trailer (truncated, or not a backup). [`verify`] checks them.
pub fn trailer(path: &Path) -> AppResult<Option<(u64, String)>> {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = std::fs::File::open(path).map_err(AppError::internal)?;
    let len = f.metadata().map_err(AppError::internal)?.len();
    let tail = len.min(512);
    f.seek(SeekFrom::Start(len - tail)).map_err(AppError::internal)?;
    let mut buf = Vec::with_capacity(tail as usize);
    f.read_to_end(&mut buf).map_err(AppError::internal)?;
    let text = String::from_utf8_lossy(&buf);
    let last = text.trim_end_matches('\n').rsplit('\n').next().unwrap_or("");
    Ok(match serde_json::from_str::<Line>(last) {
        Ok(Line::End { records, sha256 }) => Some((records, sha256)),
        _ => None,
    })
}

/// Verifies a backup file and counts its records by kind (`user`, `message`, `blob`, ...): what
/// a restore would bring back.
pub fn inventory(path: &Path) -> AppResult<(Summary, std::collections::BTreeMap<String, u64>)> {
    let mut kinds = std::collections::BTreeMap::<String, u64>::new();
    let summary = read(path, |line| {
        let v = serde_json::to_value(&line).map_err(AppError::internal)?;
        let kind = v.get("kind").and_then(|k| k.as_str()).unwrap_or("unknown").to_string();
        *kinds.entry(kind).or_default() += 1;
        Ok(())
    })?;
    Ok((summary, kinds))
}

fn read(path: &Path, mut apply: impl FnMut(Line) -> AppResult<()>) -> AppResult<Summary> {
    let bad = |m: String| AppError::BadRequest(format!("{} is not a valid friend backup: {m}", path.display()));
    let file = std::fs::File::open(path).map_err(|e| bad(e.to_string()))?;
    let mut lines = std::io::BufReader::new(file).lines();
    let mut hash = Sha256::new();
    let mut bytes = 0u64;
    let head = lines.next().ok_or_else(|| bad("empty file".into()))?.map_err(|e| bad(e.to_string()))?;
    let header: Header = serde_json::from_str(&head).map_err(|e| bad(format!("header: {e}")))?;
    if header.format != FORMAT || header.version > VERSION {
        return Err(bad(format!("unknown format {} v{}", header.format, header.version)));
    }
    if header.schema_version > super::SCHEMA_VERSION {
        return Err(bad(format!("made by a newer friend (schema {})", header.schema_version)));
    }
    hash.update(head.as_bytes());
    hash.update(b"\n");
    bytes += head.len() as u64 + 1;
    for (n, line) in lines.enumerate() {
        let records = n as u64;
        let line = line.map_err(|e| bad(e.to_string()))?;
        let parsed: Line = serde_json::from_str(&line).map_err(|e| bad(format!("line {}: {e}", n + 2)))?;
        if let Line::End { records: want, sha256 } = &parsed {
            let got = hex::encode(hash.clone().finalize());
            if *want != records || *sha256 != got {
                return Err(bad("checksum or record count does not match (truncated or altered)".into()));
            }
            return Ok(Summary { records, bytes });
        }
        hash.update(line.as_bytes());
        hash.update(b"\n");
        bytes += line.len() as u64 + 1;
        apply(parsed)?;
    }
    Err(bad("no trailer (the file is truncated)".into()))
}

/// Restores a verified backup into an empty store.
pub fn import(store: &Store, blobs: &Blobs, src: &Path) -> AppResult<Summary> {
    verify(src)?;
    if !store.t.users.is_empty() || !store.t.media.is_empty() {
        return Err(AppError::Conflict("restore needs an empty data directory".into(), vec![]));
    }
    let summary = read(src, |line| match line {
        Line::User(u) => users::restore(store, &u),
        Line::Session(s) => sessions::insert(store, &s),
        Line::Invite(i) => invites::insert(store, &i),
        Line::Media(m) => media::insert(store, &m),
        Line::Friendship { a, b, since } => social::restore_friendship(store, a, b, since),
        Line::FriendRequest(r) => social::restore_request(store, &r),
        Line::Block { blocker, blocked, since } => social::restore_block(store, blocker, blocked, since),
        Line::Event(e) => event_log::restore_legacy_outbox(store, &e),
        Line::Chat(c) => restore_chat(store, chat::Change { chats: vec![c], ..Default::default() }),
        Line::Member { chat: c, user, member } => {
            restore_chat(store, chat::Change { members: vec![(c, user, member)], ..Default::default() })
        }
        Line::PrivatePair { a, b, chat: c } => restore_chat(store, chat::Change { pair: Some((a, b, c)), ..Default::default() }),
        Line::Message(m) => restore_chat(store, chat::Change { messages: vec![m], ..Default::default() }),
        Line::LogEvent(e) => event_log::restore_legacy_frame(store, &e),
        Line::Logged(e) => event_log::restore(store, &e),
        Line::SeqReserved(n) => event_log::reserve(store, n.max(event_log::high_water(store)?)),
        Line::Activity { user, log } => activity::put_all(store, user, &[log]),
        Line::Timer { user, timer } => activity::start_timer(store, user, &timer).map(|_| ()),
        Line::Goal { user, goal } => goals::put(store, user, &goal),
        Line::ReportRun { user, period, at } => report_runs::restore(store, user, &period, at),
        Line::Insights { user, set, week } => insights::restore(store, user, &set, week.as_deref()),
        Line::Note(n) => notes::put(store, &n, None),
        Line::NoteShares { note, shares } => notes::restore_shares(store, note, shares),
        Line::NoteLike { note, user, at } => notes::set_like(store, note, user, true, at).map(|_| ()),
        Line::Notification(n) => notifications::restore(store, &n),
        Line::NotificationSettings { user, settings } => notifications::put_settings(store, user, &settings),
        Line::Audit(r) => audit::append(store, &r),
        Line::Settings(v) => super::meta::put_settings_overrides(store, &v),
        Line::Announcement(a) => announcements::restore(store, &a),
        Line::AbuseReport(r) => moderation::restore(store, &r),
        Line::AnnouncementAck { announcement, user, at } => announcements::ack(store, announcement, user, at).map(|_| ()),
        Line::Blob { sha256, data } => {
            let bytes = B64.decode(data).map_err(AppError::internal)?;
            let got = blobs.put(&bytes)?;
            if got != sha256 {
                return Err(AppError::BadRequest(format!("blob {sha256} is corrupt")));
            }
            Ok(())
        }
        Line::End { .. } => Ok(()),
    })?;
    // A backup from before the one event log: merge its two logs as migrations 3 and 4 do.
    event_log::merge_legacy(store)?;
    event_log::messages_by_reference(store)?;
    // Counted as the restored read positions stand (messages were restored after members).
    chat::rebuild_unread(store)?;
    store.flush_now()?;
    Ok(summary)
}

fn restore_chat(store: &Store, change: chat::Change) -> AppResult<()> {
    chat::apply(store, &change, 0).map(|_| ())
}
