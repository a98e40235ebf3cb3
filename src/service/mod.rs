//! The rules of each domain. No salvo (beyond schema derives on API views) and no sled here.

pub mod activity;
pub mod admin;
pub mod announcements;
pub mod audit;
pub mod auth;
pub mod backups;
pub mod charts;
pub mod chat;
pub mod connect;
pub mod dashboard;
pub mod frames;
pub mod goals;
pub mod idempotency;
pub mod insights;
pub mod markdown;
pub mod media;
pub mod moderation;
pub mod notes;
pub mod notifications;
pub mod ops;
pub mod pages;
pub mod presence;
pub mod push;
pub mod reports;
pub mod roster;
pub mod settings;
pub mod sign_in;
pub mod social;
pub mod timer;
pub mod training_data;
pub mod two_factor;
pub mod users;
pub mod validate;
pub mod views;
pub mod web_push;

/// For `PATCH` fields that may be absent (keep), `null` (clear) or a value: use with
/// `#[serde(default, deserialize_with = "double_option")]` on an `Option<Option<T>>`.
pub fn double_option<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: serde::Deserialize<'de>,
{
    serde::Deserialize::deserialize(d).map(Some)
}
