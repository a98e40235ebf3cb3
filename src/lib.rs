//! Friend: a self-hosted server for study groups. [`run`] starts everything a test or the binary needs.

#![forbid(unsafe_code)]

pub mod access;
pub mod cli;
pub mod clock;
pub mod config;
pub mod control;
pub mod error;
pub mod events;
pub mod failpoint;
pub mod http;
pub mod ids;
pub mod infra;
pub mod jobs;
pub mod metrics;
pub mod ml;
pub mod model;
pub mod realtime;
pub mod search;
pub mod service;
pub mod state;
pub mod store;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

pub use clock::Clock;
pub use config::Config;

/// Runs the server on `listener` until `shutdown` completes, then stops accepting, lets in-flight
/// requests finish (up to 10 s) and flushes storage.
pub async fn run(config: Config, listener: tokio::net::TcpListener, shutdown: impl Future<Output = ()>) -> Result<(), String> {
    run_with_clock(config, listener, shutdown, Clock::system()).await
}

/// [`run`] with an injected clock (tests move it through weeks and months).
pub async fn run_with_clock(
    config: Config,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()>,
    clock: Clock,
) -> Result<(), String> {
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    // Accepted sockets inherit TCP_NODELAY on Linux: answers written in several pieces are not
    // held back waiting for the client's delayed ACK (about 40 ms).
    if let Err(e) = socket2::SockRef::from(&listener).set_tcp_nodelay(true) {
        tracing::warn!(error = %e, "could not set TCP_NODELAY");
    }
    let base_url = config.display_url(addr);
    let state = Arc::new(open_state(config, clock, base_url.clone()).map_err(|e| format!("{e}: {e:?}"))?);
    let hub = Arc::new(realtime::Hub::new(Arc::downgrade(&state)));
    state.events.subscribe(hub.clone());
    let notifier = service::notifications::spawn_follower(state.clone()).map_err(|e| format!("{e}: {e:?}"))?;
    let pusher = service::push::spawn_sender(state.clone());
    let web_pusher = service::web_push::spawn_sender(state.clone());
    if let Some(code) = service::admin::ensure_setup_code(&state).await.map_err(|e| e.to_string())? {
        let url = format!("{base_url}/admin/?setup={code}");
        tracing::warn!("no admin account yet: open {url} (one-time code {code}, valid 24 h) or run `friend admin create`");
        println!(
            "\n  No admin yet. Open this link to create one (valid 24 hours):\n    {url}\n  or run: friend admin create --email you@school.org --username admin\n"
        );
    }
    let control = control::serve(state.clone());
    let typing = jobs::spawn_typing_sweeper(state.clone());
    let reports = jobs::spawn(state.clone());
    let backups = jobs::spawn_backups(state.clone());
    let tls = infra::tls::Tls::load(&state.config, state.clock.now())?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    if let Some(ca) = tls.as_ref().and_then(|t| t.ca.as_ref()) {
        tracing::info!(fingerprint = %ca.fingerprint, "HTTPS with the local CA: phones trust it once from {base_url}/ca.crt");
        println!("\n  HTTPS certificate authority: {base_url}/ca.crt\n  SHA-256 fingerprint: {}\n", ca.fingerprint);
    }
    let service = http::service(state.clone(), hub);
    let serving = http::listen::start(listener, service, tls, state.clock.clone()).await?;
    let handle = serving.handle.clone();
    // The announcement lives until the server stops; a LAN without multicast only loses discovery.
    let _mdns = infra::mdns::announce(&state.config, addr.port(), scheme == "https").unwrap_or_else(|e| {
        tracing::warn!(error = %e, "mDNS announcement unavailable; students type the address or scan /connect");
        None
    });
    tracing::info!("listening on {scheme}://{addr}");
    shutdown.await;
    tracing::info!("shutting down: finishing in-flight requests");
    handle.stop_graceful(Some(Duration::from_secs(10)));
    let _ = serving.task.await;
    if let Some(r) = serving.renewer {
        r.abort();
    }
    // Background tasks hold the state (and so the database); wait until they are gone.
    for task in [control, typing, reports, backups, notifier, pusher, web_pusher] {
        task.abort();
        let _ = task.await;
    }
    if let Err(e) = service::dashboard::flush(&state) {
        tracing::warn!(error = %e, "dashboard counts of the last minutes not saved");
    }
    state.store.flush_now().map_err(|e| e.to_string())?;
    let (notes, users) = (state.note_index.clone(), state.user_index.clone());
    let indexed =
        tokio::task::spawn_blocking(move || notes.flush_within(Duration::from_secs(5)) & users.flush_within(Duration::from_secs(5)))
            .await
            .unwrap_or(false);
    if !indexed {
        tracing::warn!("search indexes not fully committed; the next start re-applies recent changes");
    }
    tracing::info!("stopped; storage flushed");
    Ok(())
}

/// Opens the state and brings the derived search indexes up to date with storage (rebuilt in the
/// background when missing or outdated; recent changes re-applied after a crash).
pub fn open_state(config: Config, clock: Clock, base_url: String) -> error::AppResult<state::AppState> {
    let (state, rebuild) = state::AppState::open(config, clock, base_url)?;
    if rebuild.users {
        tracing::info!("building the user directory index from storage");
        state.user_index.rebuild(service::social::all_user_docs(&state)?);
    }
    if rebuild.notes {
        tracing::info!("building the notes search index from storage");
        service::notes::rebuild_index(&state);
    } else if let Some(at) = state.note_index.last_commit() {
        service::notes::catch_up(&state, at);
    }
    Ok(state)
}

/// Completes on SIGINT or SIGTERM. The handlers are installed when this is called, so a signal
/// that arrives before the future is first polled is not lost.
pub fn shutdown_signal() -> impl Future<Output = ()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let term = signal(SignalKind::terminate());
        let int = signal(SignalKind::interrupt());
        async move {
            match (term, int) {
                (Ok(mut t), Ok(mut i)) => {
                    tokio::select! { _ = t.recv() => {}, _ = i.recv() => {} }
                }
                _ => {
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
        }
    }
    #[cfg(not(unix))]
    async {
        let _ = tokio::signal::ctrl_c().await;
    }
}
