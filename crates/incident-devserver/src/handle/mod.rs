//! The handle layer: [`DevServer::builder`], and [`DevServerHandle`], what a test or the binary
//! holds to reach a running server: its addresses and tokens, its data and activity, its faults,
//! restart and shutdown.

mod builder;
mod faults;
mod shortcuts;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::task::JoinHandle;

pub use self::builder::{DevServer, DevServerBuilder};
use crate::activity::Activity;
use crate::auth::Auth;
use crate::data::{self, Store};
use crate::error::Result;
use crate::server::{App, Serving};

/// A running dev server. Cheap to clone; the server stops on [`DevServerHandle::shutdown`].
#[derive(Debug, Clone)]
pub struct DevServerHandle {
    inner: Arc<HandleInner>,
}

#[derive(Debug)]
struct HandleInner {
    addr: SocketAddr,
    /// The TLS configuration when serving `https://` and `wss://`.
    tls: Option<Arc<rustls::ServerConfig>>,
    app: App,
    /// The serving task, none while stopped (during a restart's downtime, after shutdown).
    serving: tokio::sync::Mutex<Option<Serving>>,
    demo: Mutex<Option<JoinHandle<()>>>,
    /// The state file's writer and the file.
    saver: Mutex<Option<(JoinHandle<()>, PathBuf)>>,
}

impl DevServerHandle {
    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.inner.addr
    }

    /// Whether the server speaks TLS (`https://`, `wss://`).
    pub fn is_tls(&self) -> bool {
        self.inner.tls.is_some()
    }

    /// `ws://ADDR/graphql/ws` (`wss://` with TLS).
    pub fn ws_url(&self) -> String {
        let scheme = if self.is_tls() { "wss" } else { "ws" };
        format!("{scheme}://{}/graphql/ws", self.inner.addr)
    }

    /// `http://ADDR/graphql` (`https://` with TLS).
    pub fn http_url(&self) -> String {
        format!("{}/graphql", self.base_url())
    }

    /// `http://ADDR` (`https://` with TLS), for `/health` and `/v1/alerts`.
    pub fn base_url(&self) -> String {
        let scheme = if self.is_tls() { "https" } else { "http" };
        format!("{scheme}://{}", self.inner.addr)
    }

    /// A token this server accepts, for `subject`, valid for `ttl`.
    pub fn mint_token(&self, subject: &str, ttl: Duration) -> String {
        self.inner.app.shared.auth.mint(subject, ttl)
    }

    /// The JWT secret, or `None` when auth is disabled.
    pub fn secret(&self) -> Option<&[u8]> {
        match &self.inner.app.shared.auth {
            Auth::Hs256 { secret } => Some(secret),
            Auth::Disabled => None,
        }
    }

    /// The in-memory data and event feed.
    pub fn store(&self) -> &Store {
        &self.inner.app.shared.store
    }

    /// What clients did: connections, subscriptions, close frames, headers, `connection_init`
    /// payloads, failed TLS handshakes, refused requests. Clone it to keep it past the handle;
    /// it always reads the current values.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let server = incident_devserver::DevServer::builder().start().await.unwrap();
    /// let activity = server.activity();
    /// assert_eq!(activity.connections_accepted(), 0);
    /// assert!(activity.request_headers("user-agent").is_empty());
    /// # }
    /// ```
    pub fn activity(&self) -> &Activity {
        &self.inner.app.shared.activity
    }

    /// Stops serving, drops every connection, waits `downtime`, and serves again on the same
    /// port with the same data.
    pub async fn restart(&self, downtime: Duration) -> Result<()> {
        self.stop_serving().await;
        tokio::time::sleep(downtime).await;
        let serving = Serving::start(
            self.inner.app.clone(),
            self.inner.addr,
            self.inner.tls.clone(),
        )
        .await?;
        *self.inner.serving.lock().await = Some(serving);
        tracing::info!(addr = %self.inner.addr, "dev server restarted");
        Ok(())
    }

    /// Closes WebSocket connections with 1001 and stops serving.
    pub async fn shutdown(&self) {
        if let Some(demo) = self
            .inner
            .demo
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
        {
            demo.abort();
        }
        self.close_all(1001, "server shutting down");
        self.stop_serving().await;
        let saver = self
            .inner
            .saver
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some((task, path)) = saver {
            task.abort();
            if let Err(error) = data::save(self.store(), &path) {
                tracing::warn!(%error, file = %path.display(), "could not save the state");
            }
        }
    }

    async fn stop_serving(&self) {
        let Some(serving) = self.inner.serving.lock().await.take() else {
            return;
        };
        self.drop_all();
        serving.stop().await;
    }
}
