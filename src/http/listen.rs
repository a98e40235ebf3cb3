//! Serving the router on an already bound socket (tests bind port 0 first), in plain HTTP or in
//! HTTPS with rustls, where a task swaps in a renewed or changed certificate without a restart.

use std::time::Duration;

use salvo::conn::rustls::{Keycert, RustlsConfig};
use salvo::conn::tcp::TcpAcceptor;
use salvo::conn::{Acceptor, Listener, RustlsListener};
use salvo::prelude::*;
use salvo::server::ServerHandle;
use tokio::task::JoinHandle;

use crate::Clock;
use crate::infra::tls::{self, Tls};

/// A listener that is already bound.
struct Bound(tokio::net::TcpListener);

impl Listener for Bound {
    type Acceptor = TcpAcceptor;

    async fn try_bind(self) -> salvo::Result<TcpAcceptor> {
        Ok(TcpAcceptor::try_from(self.0)?)
    }
}

/// The running server.
pub struct Serving {
    /// Serves until the handle stops it.
    pub task: JoinHandle<()>,
    /// Stops it gracefully.
    pub handle: ServerHandle,
    /// Looks for a new certificate (HTTPS only).
    pub renewer: Option<JoinHandle<()>>,
}

fn rustls_config(k: &tls::Keycert) -> RustlsConfig {
    RustlsConfig::new(Keycert::new().cert(k.cert_pem.as_bytes().to_vec()).key(k.key_pem.as_bytes().to_vec()))
}

fn spawn<A: Acceptor + Send + 'static>(acceptor: A, service: Service) -> (JoinHandle<()>, ServerHandle) {
    let server =
        Server::new(acceptor).fuse_config(salvo::fuse::FuseConfig::strict().with_connection_idle_timeout(Duration::from_secs(120)));
    let handle = server.handle();
    (tokio::spawn(async move { server.serve(service).await }), handle)
}

/// Starts serving `service` on `listener`, over HTTPS when `tls` is given.
pub async fn start(listener: tokio::net::TcpListener, service: Service, tls: Option<Tls>, clock: Clock) -> Result<Serving, String> {
    let Some(mut tls) = tls else {
        let acceptor = TcpAcceptor::try_from(listener).map_err(|e| e.to_string())?;
        let (task, handle) = spawn(acceptor, service);
        return Ok(Serving { task, handle, renewer: None });
    };
    let (tx, rx) = tokio::sync::mpsc::channel::<RustlsConfig>(1);
    let first = rustls_config(&tls.current);
    // The first configuration, then each one the renewer sends.
    let configs = futures_util::stream::unfold((Some(first), rx), |(first, mut rx)| async move {
        match first {
            Some(c) => Some((c, (None, rx))),
            None => rx.recv().await.map(|c| (c, (None, rx))),
        }
    });
    let acceptor = RustlsListener::new(configs, Bound(listener)).try_bind().await.map_err(|e| format!("cannot start HTTPS: {e}"))?;
    let (task, handle) = spawn(acceptor, service);
    let every = tls.refresh_every();
    let renewer = tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.tick().await;
        loop {
            tick.tick().await;
            let now = clock.now();
            let (back, next) = match tokio::task::spawn_blocking(move || {
                let next = tls.refresh(now);
                (tls, next)
            })
            .await
            {
                Ok(r) => r,
                Err(_) => return,
            };
            tls = back;
            if let Some(k) = next {
                tracing::info!("serving a new HTTPS certificate");
                if tx.send(rustls_config(&k)).await.is_err() {
                    return;
                }
            }
        }
    });
    Ok(Serving { task, handle, renewer: Some(renewer) })
}
