//! Integration tests: each test starts the real server on 127.0.0.1:0 with its own data directory
//! and talks to it over HTTP as the mobile app would.

mod activity;
mod admin;
mod admin_ui;
mod announcements;
mod audit;
mod auth;
mod backups;
mod chat;
mod conformance;
mod events;
mod hostile_images;
mod insights;
mod install;
mod mdns;
mod media;
mod moderation;
mod notes;
mod notifications;
mod ops;
mod power_cut;
mod profile;
mod push;
mod push_service;
mod safety;
mod settings;
mod sign_in;
mod social;
mod storage;
mod support;
mod tls;
mod two_factor;
mod upload_limits;
mod web_push;
mod ws_support;
