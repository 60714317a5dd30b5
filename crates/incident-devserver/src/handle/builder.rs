//! [`DevServer::builder`] and [`DevServerBuilder`]: the settings, and `start`, which puts the
//! layers together (store, schema, state file, listener, demo traffic).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use super::{DevServerHandle, HandleInner};
use crate::activity::Activity;
use crate::auth::{Auth, random_secret};
use crate::data::{self, Store};
use crate::error::{Error, Result};
use crate::server::{App, Pem, Serving, TlsPem};
use crate::shared::Shared;
use crate::{demo, graphql};

/// Namespace for [`DevServer::builder`].
#[derive(Debug)]
pub struct DevServer;

impl DevServer {
    /// A builder with the defaults: `127.0.0.1:0`, a random JWT secret (32 bytes from the
    /// operating system's CSPRNG), 30 s heartbeats, a 900 s deduplication window, room for 1,024
    /// events per slow subscriber, no demo traffic.
    pub fn builder() -> DevServerBuilder {
        DevServerBuilder {
            addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            auth: Auth::Hs256 {
                secret: random_secret(),
            },
            heartbeat: Duration::from_secs(30),
            dedup_window: Duration::from_secs(900),
            event_capacity: 1024,
            init_timeout: Duration::from_secs(10),
            demo_traffic: None,
            state_file: None,
            tls: None,
            client_ca: None,
            websocket: true,
        }
    }
}

/// Configures and starts a [`DevServerHandle`]. Setters never fail; `start` reports problems.
#[derive(Debug)]
pub struct DevServerBuilder {
    addr: SocketAddr,
    auth: Auth,
    heartbeat: Duration,
    dedup_window: Duration,
    event_capacity: usize,
    init_timeout: Duration,
    demo_traffic: Option<f64>,
    state_file: Option<PathBuf>,
    tls: Option<(Pem, Pem)>,
    client_ca: Option<Pem>,
    websocket: bool,
}

impl DevServerBuilder {
    /// Where to listen (default `127.0.0.1:0`, an ephemeral port).
    pub fn addr(mut self, addr: SocketAddr) -> Self {
        self.addr = addr;
        self
    }

    /// Sign and check tokens with this HS256 secret (default: a random one).
    pub fn jwt_secret(mut self, secret: impl Into<Vec<u8>>) -> Self {
        self.auth = Auth::Hs256 {
            secret: secret.into(),
        };
        self
    }

    /// Accept every request without a token.
    pub fn no_auth(mut self) -> Self {
        self.auth = Auth::Disabled;
        self
    }

    /// How often `incidentUpdates` subscribers get a HEARTBEAT (default 30 s).
    pub fn heartbeat_interval(mut self, interval: Duration) -> Self {
        self.heartbeat = interval;
        self
    }

    /// How long a repeated alert counts as a duplicate (default 900 s).
    pub fn dedup_window(mut self, window: Duration) -> Self {
        self.dedup_window = window;
        self
    }

    /// How many events a subscriber may fall behind before its subscription is ended with an
    /// error (default 1,024).
    pub fn event_capacity(mut self, capacity: usize) -> Self {
        self.event_capacity = capacity;
        self
    }

    /// How long a WebSocket client may take to send `connection_init` (default 10 s; then 4408).
    pub fn init_timeout(mut self, timeout: Duration) -> Self {
        self.init_timeout = timeout;
        self
    }

    /// Submit about `per_second` realistic alerts a second (default: none).
    pub fn demo_traffic(mut self, per_second: f64) -> Self {
        self.demo_traffic = Some(per_second).filter(|r| *r > 0.0);
        self
    }

    /// Keep the data in `path` across restarts of the process: read at start if it exists,
    /// replaced atomically after changes (at most every 50 ms) and at shutdown. Default: in
    /// memory only.
    pub fn state_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.state_file = Some(path.into());
        self
    }

    /// Serve `https://` and `wss://` with this certificate chain and private key (PEM). Default:
    /// plain `http://` and `ws://`.
    pub fn tls(mut self, cert_chain_pem: impl Into<Vec<u8>>, key_pem: impl Into<Vec<u8>>) -> Self {
        self.tls = Some((
            Pem::Bytes(cert_chain_pem.into()),
            Pem::Bytes(key_pem.into()),
        ));
        self
    }

    /// [`DevServerBuilder::tls`] with PEM files, read at start.
    pub fn tls_files(mut self, cert_chain: impl Into<PathBuf>, key: impl Into<PathBuf>) -> Self {
        self.tls = Some((Pem::File(cert_chain.into()), Pem::File(key.into())));
        self
    }

    /// With [`DevServerBuilder::tls`], require client certificates signed by this CA (PEM):
    /// mutual TLS. A client without one fails its handshake.
    pub fn client_ca(mut self, ca_pem: impl Into<Vec<u8>>) -> Self {
        self.client_ca = Some(Pem::Bytes(ca_pem.into()));
        self
    }

    /// [`DevServerBuilder::client_ca`] with a PEM file, read at start.
    pub fn client_ca_file(mut self, ca: impl Into<PathBuf>) -> Self {
        self.client_ca = Some(Pem::File(ca.into()));
        self
    }

    /// Serve no WebSocket route (`GET /graphql/ws` answers 404): an HTTP-only server, like
    /// a deployment that serves queries, mutations and REST alerts but no subscriptions.
    pub fn without_websocket(mut self) -> Self {
        self.websocket = false;
        self
    }

    /// Binds and starts serving. Errors: [`Error::Bind`], [`Error::Schema`], [`Error::State`],
    /// [`Error::Tls`] (also for a client CA without a certificate to serve).
    pub async fn start(self) -> Result<DevServerHandle> {
        let tls = match (self.tls, self.client_ca) {
            (Some((cert_chain, key)), client_ca) => Some(
                TlsPem {
                    cert_chain,
                    key,
                    client_ca,
                }
                .server_config()?,
            ),
            (None, Some(_)) => {
                return Err(Error::Tls(
                    "a client CA needs a server certificate and key as well".into(),
                ));
            }
            (None, None) => None,
        };
        let shared = Arc::new(Shared {
            store: Arc::new(Store::new(self.dedup_window, self.event_capacity)),
            auth: self.auth,
            heartbeat: self.heartbeat,
            served_sdl: OnceLock::new(),
            activity: Activity::default(),
        });
        let schema = graphql::build(shared.clone()).map_err(Error::Schema)?;
        if let Some(path) = &self.state_file {
            data::load(&shared.store, path).map_err(Error::State)?;
        }
        let mut app = App::new(shared.clone(), schema, self.init_timeout);
        app.websocket = self.websocket;
        let serving = Serving::start(app.clone(), self.addr, tls.clone()).await?;
        let addr = serving.addr();
        // Tasks start only once nothing can fail any more, so an error leaves none behind.
        let saver = self.state_file.map(|path| {
            let task = tokio::spawn(data::writer(shared.store.clone(), path.clone()));
            (task, path)
        });
        let demo = self
            .demo_traffic
            .map(|rate| tokio::spawn(demo::run(shared.store.clone(), rate)));
        tracing::info!(%addr, "dev server listening");
        Ok(DevServerHandle {
            inner: Arc::new(HandleInner {
                addr,
                tls,
                app,
                serving: tokio::sync::Mutex::new(Some(serving)),
                demo: Mutex::new(demo),
                saver: Mutex::new(saver),
            }),
        })
    }
}
