//! The rules of each domain. No salvo (beyond schema derives on API views) and no sled here.

pub mod activity;
pub mod admin;
pub mod auth;
pub mod charts;
pub mod chat;
pub mod frames;
pub mod goals;
pub mod idempotency;
pub mod markdown;
pub mod media;
pub mod notes;
pub mod ops;
pub mod presence;
pub mod reports;
pub mod sign_in;
pub mod social;
pub mod timer;
pub mod users;
pub mod validate;
pub mod views;
