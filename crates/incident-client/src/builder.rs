//! `IncidentClientBuilder`: settings, then `connect()`.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use crate::backoff::ReconnectPolicy;
use crate::client::{ClientInner, IncidentClient};
use crate::config::{Config, derive_http_url, origin_of};
use crate::connection::Supervisor;
use crate::error::{Error, Result};
use crate::http::HttpClient;
use crate::payloads::Payloads;
use crate::state::ConnectionState;
use crate::stats::StatsInner;
use crate::subscription::DEFAULT_BUFFER;
use crate::token::{Token, TokenProvider, TokenSource};

/// Configures an [`IncidentClient`]. Setters never fail; [`IncidentClientBuilder::connect`]
/// validates and reports problems.
#[derive(Debug)]
#[must_use = "a builder does nothing until `connect()` is awaited"]
pub struct IncidentClientBuilder {
    ws_url: String,
    http_url: Option<String>,
    token: Option<TokenProvider>,
    reconnect: ReconnectPolicy,
    keepalive_interval: Duration,
    pong_timeout: Duration,
    ack_timeout: Duration,
    connect_timeout: Duration,
    buffer: usize,
    max_message_size: usize,
}

impl IncidentClientBuilder {
    pub(crate) fn new(ws_url: impl Into<String>) -> Self {
        Self {
            ws_url: ws_url.into(),
            http_url: None,
            token: None,
            reconnect: ReconnectPolicy::default(),
            keepalive_interval: Duration::from_secs(15),
            pong_timeout: Duration::from_secs(10),
            ack_timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(10),
            buffer: DEFAULT_BUFFER,
            max_message_size: 8 << 20,
        }
    }

    /// The HTTP GraphQL endpoint. Default: the WebSocket URL with `ws` made `http` (`wss` made
    /// `https`) and a trailing `/ws` removed, so `ws://h:8080/graphql/ws` gives
    /// `http://h:8080/graphql`. REST alerts go to `/v1/alerts` on the same origin.
    pub fn http_url(mut self, url: impl Into<String>) -> Self {
        self.http_url = Some(url.into());
        self
    }

    /// A fixed token, sent in `connection_init` and as the HTTP bearer token. Default: none.
    pub fn token(mut self, token: impl Into<Token>) -> Self {
        self.token = Some(TokenProvider::fixed(token));
        self
    }

    /// A source of tokens, asked on every connect and HTTP request, so long-lived clients present
    /// fresh ones. When the server rejects a token (close 4401 or 4403) the client asks once more;
    /// a second rejection ends the streams with [`Error::AuthRejected`].
    pub fn token_provider(mut self, provider: TokenProvider) -> Self {
        self.token = Some(provider);
        self
    }

    /// How lost connections are retried. Default: [`ReconnectPolicy::default`] (200 ms doubling to
    /// 10 s, with jitter, 10 attempts).
    pub fn reconnect(mut self, policy: ReconnectPolicy) -> Self {
        self.reconnect = policy;
        self
    }

    /// How often to ping the server, and how long to wait for its pong before treating the
    /// connection as dead and reconnecting. Default: every 15 s, 10 s timeout.
    pub fn keepalive(mut self, interval: Duration, pong_timeout: Duration) -> Self {
        self.keepalive_interval = interval.max(Duration::from_millis(1));
        self.pong_timeout = pong_timeout;
        self
    }

    /// How long to wait for `connection_ack`. Default 10 s.
    pub fn ack_timeout(mut self, timeout: Duration) -> Self {
        self.ack_timeout = timeout;
        self
    }

    /// How long to wait for TCP, TLS and the WebSocket handshake. Default 10 s.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// How many events each subscription buffers for a slow consumer before dropping the oldest.
    /// Default 1,024.
    pub fn subscription_buffer(mut self, events: usize) -> Self {
        self.buffer = events.max(1);
        self
    }

    /// The largest message accepted from the server. Default 8 MiB.
    pub fn max_message_size(mut self, bytes: usize) -> Self {
        self.max_message_size = bytes;
        self
    }

    /// Validates the settings, opens the connection and waits for the server's ack. Errors:
    /// [`Error::InvalidUrl`], [`Error::Connect`], [`Error::AckTimeout`], [`Error::AuthRejected`].
    /// After this, the client keeps the connection up by itself.
    pub async fn connect(self) -> Result<IncidentClient> {
        let ws_url = self.ws_url.trim().to_owned();
        if !(ws_url.starts_with("ws://") || ws_url.starts_with("wss://")) {
            return Err(Error::InvalidUrl {
                url: ws_url,
                reason: "the WebSocket URL must start with ws:// or wss://",
            });
        }
        if ws_url
            .split_once("://")
            .is_some_and(|(_, rest)| rest.is_empty() || rest.starts_with('/'))
        {
            return Err(Error::InvalidUrl {
                url: ws_url,
                reason: "the URL has no host",
            });
        }
        let http_url = match self.http_url {
            Some(url) if url.starts_with("http://") || url.starts_with("https://") => url,
            Some(url) => {
                return Err(Error::InvalidUrl {
                    url,
                    reason: "the HTTP URL must start with http:// or https://",
                });
            }
            None => derive_http_url(&ws_url).expect("ws:// and wss:// URLs always derive"),
        };
        let token = self.token.map(TokenSource::new);
        let http = HttpClient::new(
            http_url.clone(),
            &origin_of(&http_url),
            token.clone(),
            self.connect_timeout,
        );
        let config = Arc::new(Config {
            ws_url,
            http_url,
            token,
            reconnect: self.reconnect,
            keepalive_interval: self.keepalive_interval,
            pong_timeout: self.pong_timeout,
            ack_timeout: self.ack_timeout,
            connect_timeout: self.connect_timeout,
            buffer: self.buffer,
            max_message_size: self.max_message_size,
        });
        let stats = Arc::new(StatsInner::default());
        let (commands, receiver) = mpsc::unbounded_channel();
        let (ready_tx, ready) = oneshot::channel();
        let payloads = Payloads::default();
        let (state_tx, state) =
            tokio::sync::watch::channel(ConnectionState::Connecting { attempt: 0 });
        let supervisor = Supervisor::new(
            config.clone(),
            http.clone(),
            stats.clone(),
            receiver,
            payloads.clone(),
            state_tx,
        );
        let task = tokio::spawn(supervisor.run(ready_tx));
        match ready.await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => return Err(error),
            Err(_) => return Err(Error::Shutdown),
        }
        Ok(IncidentClient::from_inner(ClientInner::new(
            config, http, stats, commands, payloads, state, task,
        )))
    }
}
