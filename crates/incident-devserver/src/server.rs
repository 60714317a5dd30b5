//! The server: builder, HTTP routes, and the handle tests use to control it.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_graphql::dynamic::Schema;
use async_graphql_axum::{GraphQLProtocol, GraphQLRequest, GraphQLResponse, GraphQLWebSocket};
use axum::Router;
use axum::extract::{FromRef, State, WebSocketUpgrade};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use tokio::sync::{Mutex, broadcast, oneshot, watch};
use tokio::task::JoinHandle;

use crate::auth::{Auth, Caller};
use crate::listener::PausableListener;
use crate::state::Shared;
use crate::store::Store;
use crate::tls::Pem;
use crate::ws::{self, Control};
use crate::{Error, Result};

/// Namespace for [`DevServer::builder`].
#[derive(Debug)]
pub struct DevServer;

impl DevServer {
    /// A builder with the defaults: `127.0.0.1:0`, a random JWT secret, 30 s heartbeats,
    /// a 900 s deduplication window, room for 1,024 events per slow subscriber, no demo traffic.
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

    /// Binds and starts serving. Errors: [`Error::Bind`], [`Error::Schema`], [`Error::State`],
    /// [`Error::Tls`] (also for a client CA without a certificate to serve).
    pub async fn start(self) -> Result<DevServerHandle> {
        let tls = match (self.tls, self.client_ca) {
            (Some((cert_chain, key)), client_ca) => Some(
                crate::tls::TlsPem {
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
            store: Store::new(self.dedup_window, self.event_capacity),
            auth: self.auth,
            heartbeat: self.heartbeat,
            served_sdl: Default::default(),
            activity: Default::default(),
        });
        let schema = crate::schema::build(shared.clone()).map_err(Error::Schema)?;
        let saver = match &self.state_file {
            Some(path) => {
                crate::persist::load(&shared.store, path).map_err(Error::State)?;
                let task = tokio::spawn(crate::persist::writer(shared.clone(), path.clone()));
                Some((task, path.clone()))
            }
            None => None,
        };
        let listener = tokio::net::TcpListener::bind(self.addr)
            .await
            .map_err(|e| Error::Bind(self.addr, e))?;
        let addr = listener
            .local_addr()
            .map_err(|e| Error::Bind(self.addr, e))?;
        let (paused_tx, paused_rx) = watch::channel(false);
        let app = App {
            shared: shared.clone(),
            schema,
            controls: broadcast::channel(16).0,
            runtime: Arc::new(Runtime {
                withhold_ack: AtomicBool::new(false),
                graphql_unavailable: AtomicBool::new(false),
                graphql_refusing: AtomicBool::new(false),
                graphql_refused: Default::default(),
                init_timeout: self.init_timeout,
            }),
        };
        let serving = spawn_serving(
            app.clone(),
            PausableListener::new(listener, paused_rx, shared.activity.clone(), tls.clone()),
        );
        let demo = self
            .demo_traffic
            .map(|rate| tokio::spawn(crate::demo::run(shared.clone(), rate)));
        tracing::info!(%addr, "dev server listening");
        Ok(DevServerHandle {
            inner: Arc::new(HandleInner {
                addr,
                tls,
                app,
                paused: paused_tx,
                serving: Mutex::new(Some(serving)),
                demo: std::sync::Mutex::new(demo),
                saver: std::sync::Mutex::new(saver),
            }),
        })
    }
}

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
    paused: watch::Sender<bool>,
    serving: Mutex<Option<Serving>>,
    demo: std::sync::Mutex<Option<JoinHandle<()>>>,
    /// The state file's writer and the file.
    saver: std::sync::Mutex<Option<(JoinHandle<()>, PathBuf)>>,
}

#[derive(Debug)]
struct Serving {
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
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

    /// How many WebSocket connections are open.
    pub fn connections(&self) -> usize {
        self.inner.app.shared.activity.connections()
    }

    /// How many WebSocket connections were accepted since the server started.
    pub fn connections_accepted(&self) -> usize {
        self.inner.app.shared.activity.accepted()
    }

    /// How many `subscribe` messages arrived since the server started, on every connection.
    pub fn subscribes_received(&self) -> usize {
        self.inner.app.shared.activity.subscribes()
    }

    /// How many subscriptions to the root field `root_field` (`newIncidents`, ...) receive
    /// events now, on every connection. A subscription counts from the moment an event published
    /// would reach it.
    pub fn subscribers(&self, root_field: &str) -> usize {
        self.inner.app.shared.activity.subscribers(root_field)
    }

    /// The W3C `traceparent` headers HTTP requests (GraphQL and REST) carried, oldest first.
    pub fn traceparents(&self) -> Vec<String> {
        self.inner.app.shared.activity.traceparents()
    }

    /// The values of header `name` on HTTP requests (GraphQL and REST), oldest first (the latest
    /// 1,000 requests are kept).
    pub fn request_headers(&self, name: &str) -> Vec<String> {
        self.inner.app.shared.activity.http_header_values(name)
    }

    /// The values of header `name` on WebSocket upgrade requests, oldest first.
    pub fn upgrade_headers(&self, name: &str) -> Vec<String> {
        self.inner.app.shared.activity.upgrade_header_values(name)
    }

    /// The `connection_init` payloads clients sent, oldest first.
    pub fn init_payloads(&self) -> Vec<serde_json::Value> {
        self.inner.app.shared.activity.init_payloads()
    }

    /// Why TLS handshakes failed (an untrusted or missing client certificate, say), oldest first.
    pub fn tls_failures(&self) -> Vec<String> {
        self.inner.app.shared.activity.tls_failures()
    }

    /// How many connections went silent on [`DevServerHandle::freeze_all`].
    pub fn frozen_connections(&self) -> usize {
        self.inner.app.shared.activity.frozen()
    }

    /// Whether the listener has taken [`DevServerHandle::pause_accepting`] into account and
    /// leaves new connections in the backlog.
    pub fn is_paused(&self) -> bool {
        self.inner.app.shared.activity.paused()
    }

    /// The close frames clients sent, code and reason, oldest first.
    pub fn client_closes(&self) -> Vec<(u16, String)> {
        self.inner.app.shared.activity.client_closes()
    }

    /// Waits until `condition` holds, looking again whenever a connection or subscription comes
    /// or goes (and at least every 25 ms). Returns false if it still does not hold after
    /// `timeout`; for tests that would otherwise sleep and hope.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let server = incident_devserver::DevServer::builder().start().await.unwrap();
    /// use std::time::Duration;
    /// let idle = server.wait_for(Duration::from_secs(1), |s| s.connections() == 0).await;
    /// assert!(idle);
    /// # }
    /// ```
    pub async fn wait_for(
        &self,
        timeout: Duration,
        mut condition: impl FnMut(&DevServerHandle) -> bool,
    ) -> bool {
        self.inner
            .app
            .shared
            .activity
            .wait_until(timeout, || condition(self))
            .await
    }

    /// Closes every WebSocket connection with `code` and `reason`.
    pub fn close_all(&self, code: u16, reason: &str) {
        let _ = self
            .inner
            .app
            .controls
            .send(Control::Close(code, reason.to_owned()));
    }

    /// Drops every WebSocket connection without a close frame.
    pub fn drop_all(&self) {
        let _ = self.inner.app.controls.send(Control::Drop);
    }

    /// Makes every open WebSocket connection go silent while staying open (half-open), until it
    /// is dropped or the server shuts down.
    pub fn freeze_all(&self) {
        let _ = self.inner.app.controls.send(Control::Freeze);
    }

    /// Stops (or resumes) accepting connections; waiting clients sit in the backlog.
    pub fn pause_accepting(&self, paused: bool) {
        let _ = self.inner.paused.send(paused);
    }

    /// While set, `connection_init` is never acknowledged.
    pub fn withhold_ack(&self, withhold: bool) {
        self.inner
            .app
            .runtime
            .withhold_ack
            .store(withhold, Ordering::SeqCst);
    }

    /// While set, `POST /graphql` answers 503 Service Unavailable (queries, mutations and the
    /// SDK's catch-up listings alike), as an overloaded server or a failing proxy would.
    pub fn graphql_unavailable(&self, unavailable: bool) {
        self.inner
            .app
            .runtime
            .graphql_unavailable
            .store(unavailable, Ordering::SeqCst);
    }

    /// While set, `POST /graphql` answers every query with a GraphQL error (HTTP 200, `data:
    /// null`), as a server that no longer accepts a query would: retrying cannot help.
    pub fn graphql_refusing(&self, refusing: bool) {
        self.inner
            .app
            .runtime
            .graphql_refusing
            .store(refusing, Ordering::SeqCst);
    }

    /// How many `POST /graphql` requests were answered 503 or refused.
    pub fn graphql_refused(&self) -> usize {
        self.inner
            .app
            .runtime
            .graphql_refused
            .load(Ordering::SeqCst)
    }

    /// The in-memory data and event feed.
    pub fn store(&self) -> &Store {
        &self.inner.app.shared.store
    }

    /// Stops serving, drops every connection, waits `downtime`, and serves again on the same
    /// port with the same data.
    pub async fn restart(&self, downtime: Duration) -> Result<()> {
        self.stop_serving().await;
        tokio::time::sleep(downtime).await;
        let listener = tokio::net::TcpListener::bind(self.inner.addr)
            .await
            .map_err(|e| Error::Bind(self.inner.addr, e))?;
        let listener = PausableListener::new(
            listener,
            self.inner.paused.subscribe(),
            self.inner.app.shared.activity.clone(),
            self.inner.tls.clone(),
        );
        *self.inner.serving.lock().await = Some(spawn_serving(self.inner.app.clone(), listener));
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
            if let Err(error) = crate::persist::save(&self.inner.app.shared.store, &path) {
                tracing::warn!(%error, file = %path.display(), "could not save the state");
            }
        }
    }

    async fn stop_serving(&self) {
        let Some(serving) = self.inner.serving.lock().await.take() else {
            return;
        };
        self.drop_all();
        let _ = serving.stop.send(());
        let mut task = serving.task;
        // Graceful shutdown closes idle HTTP connections; give busy ones a moment, then cut them.
        if tokio::time::timeout(Duration::from_secs(2), &mut task)
            .await
            .is_err()
        {
            task.abort();
        }
    }
}

#[derive(Debug)]
struct Runtime {
    withhold_ack: AtomicBool,
    init_timeout: Duration,
    /// While set, `POST /graphql` answers 503; how many it refused.
    graphql_unavailable: AtomicBool,
    /// While set, `POST /graphql` answers every query with a GraphQL error.
    graphql_refusing: AtomicBool,
    graphql_refused: std::sync::atomic::AtomicUsize,
}

#[derive(Clone)]
struct App {
    shared: Arc<Shared>,
    schema: Schema,
    controls: broadcast::Sender<Control>,
    runtime: Arc<Runtime>,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("shared", &self.shared)
            .finish_non_exhaustive()
    }
}

impl FromRef<App> for Arc<Shared> {
    fn from_ref(app: &App) -> Self {
        app.shared.clone()
    }
}

fn spawn_serving(app: App, listener: PausableListener) -> Serving {
    let router = Router::new()
        .route("/graphql", get(graphiql).post(graphql_http))
        .route("/graphql/ws", get(graphql_ws))
        .route("/health", get(health))
        .route("/v1/alerts", post(crate::rest::submit_alert))
        .with_state(app);
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let serve = axum::serve(listener, router).with_graceful_shutdown(async {
            let _ = stopped.await;
        });
        if let Err(error) = serve.await {
            tracing::error!(%error, "server stopped with an error");
        }
    });
    Serving { stop, task }
}

async fn graphiql() -> Html<String> {
    Html(
        async_graphql::http::GraphiQLSource::build()
            .endpoint("/graphql")
            .subscription_endpoint("/graphql/ws")
            .finish(),
    )
}

async fn health() -> Response {
    axum::Json(serde_json::json!({ "status": "healthy", "version": env!("CARGO_PKG_VERSION") }))
        .into_response()
}

async fn graphql_http(
    State(app): State<App>,
    headers: HeaderMap,
    request: GraphQLRequest,
) -> Response {
    crate::rest::record_request(&app.shared, &headers);
    if app.runtime.graphql_unavailable.load(Ordering::SeqCst) {
        app.runtime.graphql_refused.fetch_add(1, Ordering::SeqCst);
        return crate::rest::error(
            StatusCode::SERVICE_UNAVAILABLE,
            "UNAVAILABLE",
            "the server is overloaded",
        );
    }
    if app.runtime.graphql_refusing.load(Ordering::SeqCst) {
        app.runtime.graphql_refused.fetch_add(1, Ordering::SeqCst);
        let refused = serde_json::json!({
            "data": null,
            "errors": [{ "message": "this query is not accepted" }],
        });
        return axum::Json(refused).into_response();
    }
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    match app.shared.auth.check(authorization) {
        Ok(claims) => {
            let request = request.into_inner().data(Caller(claims.sub));
            GraphQLResponse::from(app.schema.execute(request).await).into_response()
        }
        Err(error) => {
            crate::rest::error(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", error.to_string())
        }
    }
}

async fn graphql_ws(
    State(app): State<App>,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
    protocol: Result<
        GraphQLProtocol,
        <GraphQLProtocol as axum::extract::FromRequestParts<App>>::Rejection,
    >,
) -> Response {
    app.shared.activity.upgrade_request(&headers);
    let upgrade = upgrade.protocols(["graphql-transport-ws", "graphql-ws"]);
    let legacy = upgrade
        .selected_protocol()
        .is_some_and(|p| p.as_bytes() == b"graphql-ws");
    let legacy_protocol = protocol.ok().filter(|_| legacy);
    upgrade.on_upgrade(move |socket| async move {
        let runtime = app.runtime.clone();
        let _guard = app.shared.activity.connection();
        if let Some(protocol) = legacy_protocol {
            let shared = app.shared.clone();
            GraphQLWebSocket::new(socket, app.schema.clone(), protocol)
                .on_connection_init(move |payload| async move {
                    let authorization = payload
                        .get("Authorization")
                        .or_else(|| payload.get("authorization"))
                        .and_then(|v| v.as_str());
                    let claims = shared
                        .auth
                        .check(authorization)
                        .map_err(|e| async_graphql::Error::new(e.to_string()))?;
                    let mut data = async_graphql::Data::default();
                    data.insert(Caller(claims.sub));
                    Ok(data)
                })
                .serve()
                .await;
            return;
        }
        let settings = ws::Settings {
            init_timeout: runtime.init_timeout,
            withhold_ack: runtime.withhold_ack.load(Ordering::SeqCst),
        };
        ws::serve(
            socket,
            app.shared.clone(),
            app.schema.clone(),
            app.controls.subscribe(),
            settings,
        )
        .await;
    })
}

fn random_secret() -> Vec<u8> {
    (0..32).map(|_| fastrand::u8(..)).collect()
}
