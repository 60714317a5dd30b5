//! The server layer: the listener (TCP, TLS, pausable), the axum routes, the
//! `graphql-transport-ws` protocol, and fault injection. It serves the GraphQL and REST layers
//! below it; the handle layer above starts, stops and restarts it.

mod faults;
mod listener;
mod routes;
mod tls;
mod ws;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use async_graphql::dynamic::Schema;
use axum::extract::FromRef;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub(crate) use self::faults::Faults;
use self::listener::PausableListener;
pub(crate) use self::tls::{Pem, TlsPem};
use crate::error::{Error, Result};
use crate::shared::Shared;

/// What every route gets: the shared state, the executable schema and the faults.
#[derive(Clone)]
pub(crate) struct App {
    pub(crate) shared: Arc<Shared>,
    pub(crate) faults: Arc<Faults>,
    schema: Schema,
    /// How long a WebSocket client may take to send `connection_init`.
    init_timeout: Duration,
    /// Whether `GET /graphql/ws` is served (off: an HTTP-only server).
    pub(crate) websocket: bool,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("shared", &self.shared)
            .field("faults", &self.faults)
            .finish_non_exhaustive()
    }
}

impl FromRef<App> for Arc<Shared> {
    fn from_ref(app: &App) -> Self {
        app.shared.clone()
    }
}

impl App {
    /// An app without faults.
    pub(crate) fn new(shared: Arc<Shared>, schema: Schema, init_timeout: Duration) -> Self {
        Self {
            shared,
            faults: Arc::new(Faults::new()),
            schema,
            init_timeout,
            websocket: true,
        }
    }
}

/// One serving task on a bound address, and how to stop it.
#[derive(Debug)]
pub(crate) struct Serving {
    addr: SocketAddr,
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

impl Serving {
    /// Binds `addr` and serves `app` there, over TLS with `tls`, following the app's pause switch.
    pub(crate) async fn start(
        app: App,
        addr: SocketAddr,
        tls: Option<Arc<rustls::ServerConfig>>,
    ) -> Result<Serving> {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| Error::Bind(addr, e))?;
        let addr = listener.local_addr().map_err(|e| Error::Bind(addr, e))?;
        let listener = PausableListener::new(
            listener,
            app.faults.paused(),
            app.shared.activity.clone(),
            tls,
        );
        let router = routes::router(app);
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let serve = axum::serve(listener, router).with_graceful_shutdown(async {
                let _ = stopped.await;
            });
            if let Err(error) = serve.await {
                tracing::error!(%error, "server stopped with an error");
            }
        });
        Ok(Serving { addr, stop, task })
    }

    /// The address it listens on.
    pub(crate) fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops accepting and waits for the task: graceful shutdown closes idle HTTP connections,
    /// busy ones get 2 s, then they are cut.
    pub(crate) async fn stop(self) {
        let _ = self.stop.send(());
        let mut task = self.task;
        if tokio::time::timeout(Duration::from_secs(2), &mut task)
            .await
            .is_err()
        {
            task.abort();
        }
    }
}
