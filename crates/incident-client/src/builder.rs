//! `IncidentClientBuilder`: settings, then `connect()`.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use crate::backoff::ReconnectPolicy;
use crate::client::{ClientInner, IncidentClient};
use crate::config::{Config, InitPayload, Network, Settings, derive_http_url, origin_of};
use crate::connection::Supervisor;
use crate::error::{Error, Result};
use crate::http::HttpClient;
use crate::payloads::Payloads;
use crate::proxy::{Proxies, ProxySetting};
use crate::state::ConnectionState;
use crate::stats::StatsInner;
use crate::tls::TlsSettings;
use crate::token::{Token, TokenProvider, TokenSource};

/// Configures an [`IncidentClient`]. Setters never fail; [`IncidentClientBuilder::connect`]
/// validates and reports problems.
#[derive(Debug)]
#[must_use = "a builder does nothing until `connect()` is awaited"]
pub struct IncidentClientBuilder {
    ws_url: String,
    http_url: Option<String>,
    token: Option<TokenProvider>,
    tls: TlsSettings,
    proxy: ProxySetting,
    headers: Vec<(String, String)>,
    /// What the client keeps as given: the connection task reads it from its [`Config`].
    settings: Settings,
}

/// The default `User-Agent` of the upgrade request and HTTP requests.
pub const USER_AGENT: &str = concat!("incident-client/", env!("CARGO_PKG_VERSION"));

impl IncidentClientBuilder {
    pub(crate) fn new(ws_url: impl Into<String>) -> Self {
        Self {
            ws_url: ws_url.into(),
            http_url: None,
            token: None,
            tls: TlsSettings::default(),
            proxy: ProxySetting::default(),
            headers: Vec::new(),
            settings: Settings::default(),
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

    /// Whether to replace the connection before its token expires (default: yes). With a
    /// token whose expiry is known (a JWT's `exp`, or [`Token::with_expiry`]), the client opens
    /// the next connection with a fresh token shortly before (10% of the token's lifetime, at
    /// least 3 s or half of it), subscribes everything there, switches once the server has
    /// confirmed every subscription, and closes the old one with 1000: no stream sees a gap and
    /// none sees an event twice. Off, an expired token closes the connection and the client
    /// reconnects with a fresh one (streams that cannot be caught up report [`Error::Gap`]).
    pub fn token_rotation(mut self, rotate: bool) -> Self {
        self.settings.rotate = rotate;
        self
    }

    /// How long a token provider may take to produce a token before the connect attempt (or
    /// HTTP request) fails with [`Error::TokenProvider`] and is retried like any failed attempt,
    /// so a hung secret store cannot stall reconnects. Default 10 s.
    pub fn token_timeout(mut self, timeout: Duration) -> Self {
        self.settings.token_timeout = timeout;
        self
    }

    /// How far before the newest incident it delivered a catch-up reads the listing again, and
    /// how long the stream remembers what it delivered: a server may commit incidents out of
    /// `createdAt` order by up to this much and nothing is lost. Default 5 s.
    pub fn catch_up_overlap(mut self, overlap: Duration) -> Self {
        self.settings.catch_up_overlap = overlap;
        self
    }

    /// How lost connections are retried. Default: [`ReconnectPolicy::default`] (200 ms doubling to
    /// 10 s, with jitter, 10 attempts).
    pub fn reconnect(mut self, policy: ReconnectPolicy) -> Self {
        self.settings.reconnect = policy;
        self
    }

    /// How often to ping the server, and how long to wait for its pong before treating the
    /// connection as dead and reconnecting. Default: every 15 s, 10 s timeout.
    pub fn keepalive(mut self, interval: Duration, pong_timeout: Duration) -> Self {
        self.settings.keepalive_interval = interval.max(Duration::from_millis(1));
        self.settings.pong_timeout = pong_timeout;
        self
    }

    /// How long to wait for `connection_ack`. Default 10 s.
    pub fn ack_timeout(mut self, timeout: Duration) -> Self {
        self.settings.ack_timeout = timeout;
        self
    }

    /// How long to wait for TCP, TLS and the WebSocket handshake. Default 10 s.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.settings.connect_timeout = timeout;
        self
    }

    /// How many events each subscription buffers for a slow consumer before dropping the oldest.
    /// Default 1,024.
    pub fn subscription_buffer(mut self, events: usize) -> Self {
        self.settings.buffer = events.max(1);
        self
    }

    /// The largest message accepted from the server. Default 8 MiB.
    pub fn max_message_size(mut self, bytes: usize) -> Self {
        self.settings.max_message_size = bytes;
        self
    }

    /// Trust the operating system's root certificates (reading `SSL_CERT_FILE` and `SSL_CERT_DIR`
    /// when set) instead of the built-in web roots. For `wss://` and `https://` alike.
    ///
    /// Needs the `native-roots` feature: without it, [`connect`](Self::connect) fails with
    /// [`Error::InvalidSetting`] naming `tls_system_roots`.
    pub fn tls_system_roots(mut self) -> Self {
        self.tls.system_roots = true;
        self
    }

    /// Also trust these CA certificates (PEM, one or more), such as a company's private CA. For
    /// `wss://` and `https://` alike.
    pub fn add_root_certificate_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.tls.extra_roots.push(pem.into());
        self
    }

    /// Present this client certificate chain and private key (PEM) when the server asks for one:
    /// mutual TLS.
    pub fn client_identity_pem(
        mut self,
        cert_chain_pem: impl Into<Vec<u8>>,
        key_pem: impl Into<Vec<u8>>,
    ) -> Self {
        self.tls.identity = Some((cert_chain_pem.into(), key_pem.into()));
        self
    }

    /// Send the WebSocket and HTTP traffic through this HTTP proxy
    /// (`http://[user:password@]host:port`; the WebSocket uses `CONNECT`). Default: the proxy
    /// the environment names for each URL (`HTTPS_PROXY` for `wss://`/`https://`, `HTTP_PROXY`
    /// for `ws://`/`http://`, else `ALL_PROXY`; none for hosts in `NO_PROXY`), as curl does.
    pub fn proxy(mut self, url: impl Into<String>) -> Self {
        self.proxy = ProxySetting::Url(url.into());
        self
    }

    /// Connect directly, whatever the environment's proxy variables say.
    pub fn no_proxy(mut self) -> Self {
        self.proxy = ProxySetting::Disabled;
        self
    }

    /// Send this header on the WebSocket upgrade and on every HTTP request (for a gateway or
    /// WAF); repeatable. A `User-Agent` given here replaces the default `incident-client/VERSION`.
    pub fn header(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Build the `connection_init` payload from the token (`None` without one). Default:
    /// `{"Authorization": "Bearer <jwt>"}`, or `{}` without a token. Called on every connect.
    ///
    /// ```
    /// # fn f(builder: incident_client::IncidentClientBuilder) -> incident_client::IncidentClientBuilder {
    /// builder.connection_init_payload(|token| serde_json::json!({
    ///     "Authorization": token.map(|t| format!("Bearer {t}")),
    ///     "tenant": "payments",
    /// }))
    /// # }
    /// ```
    pub fn connection_init_payload(
        mut self,
        payload: impl Fn(Option<&str>) -> serde_json::Value + Send + Sync + 'static,
    ) -> Self {
        self.settings.init_payload = InitPayload(Some(Arc::new(payload)));
        self
    }

    /// When the server is not reachable yet, keep trying to connect under the reconnect policy
    /// (logging each attempt) instead of failing; for consumers started before their server.
    /// Rejected credentials and certificate problems still fail at once. Default: false, the
    /// first connection fails fast with a clear error.
    pub fn wait_for_server(mut self, wait: bool) -> Self {
        self.settings.wait_for_server = wait;
        self
    }

    /// Open the WebSocket only when a subscription needs it, as graphql-ws's lazy mode does:
    /// [`connect`](Self::connect) then validates the settings and returns without connecting;
    /// queries, mutations and REST alerts (HTTP) never open the WebSocket; the first
    /// subscription opens it, and it closes (with 1000) [`lazy_close_timeout`](Self::lazy_close_timeout)
    /// after the last subscription ends. A connection that cannot be opened is retried under the
    /// reconnect policy; rejected credentials, a certificate problem or an exhausted policy end
    /// the subscriptions waiting for it with that error (their
    /// [`Subscription::ready`](crate::Subscription::ready) returns it), and the next subscription
    /// tries again after a backoff (the failures count until a healthy connection). Default: false, `connect()` opens the connection and fails fast,
    /// as `incident watch` relies on.
    pub fn lazy(mut self, lazy: bool) -> Self {
        self.settings.lazy = lazy;
        self
    }

    /// How long a lazy client keeps its WebSocket open after the last subscription ended, so a
    /// quick resubscribe reuses it. Default 1 s; `Duration::MAX` never closes it.
    pub fn lazy_close_timeout(mut self, grace: Duration) -> Self {
        self.settings.lazy_close_timeout = grace;
        self
    }

    /// Validates the settings, opens the connection and waits for the server's ack (a
    /// [`lazy`](Self::lazy) client does not connect here). Errors:
    /// [`Error::InvalidUrl`], [`Error::InvalidSetting`], [`Error::Connect`],
    /// [`Error::AckTimeout`], [`Error::AuthRejected`], and with
    /// [`IncidentClientBuilder::wait_for_server`], [`Error::RetriesExhausted`].
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
        match crate::transport::host_and_port(&ws_url) {
            None => {
                return Err(Error::InvalidUrl {
                    url: ws_url,
                    reason: "the URL has no usable host and port",
                });
            }
            // A name TLS cannot check a certificate against fails here, not on every attempt.
            Some((host, _, true))
                if rustls::pki_types::ServerName::try_from(host.as_str()).is_err() =>
            {
                return Err(Error::InvalidUrl {
                    url: ws_url,
                    reason: "the host is not a name or address TLS can check a certificate for",
                });
            }
            Some(_) => {}
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
        let tls = if ws_url.starts_with("wss://")
            || http_url.starts_with("https://")
            || self.tls.is_customized()
        {
            Some(self.tls.client_config()?)
        } else {
            None
        };
        let network = Arc::new(Network {
            tls,
            proxies: Proxies::new(&self.proxy)?,
            headers: headers(self.headers)?,
        });
        let token = self
            .token
            .map(|provider| TokenSource::new(provider, self.settings.token_timeout));
        let http = HttpClient::new(
            http_url.clone(),
            &origin_of(&http_url),
            token.clone(),
            self.settings.connect_timeout,
            network.clone(),
        );
        let config = Arc::new(Config {
            ws_url,
            http_url,
            token,
            network,
            settings: self.settings,
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

/// The headers for every request: the default `User-Agent`, then the builder's (a name given
/// there replaces the default rather than adding to it).
fn headers(given: Vec<(String, String)>) -> Result<http::HeaderMap> {
    use http::header::{HeaderName, HeaderValue};
    let invalid = |reason: String| Error::InvalidSetting {
        setting: "header".into(),
        reason,
    };
    let mut map = http::HeaderMap::new();
    map.insert(
        http::header::USER_AGENT,
        HeaderValue::from_static(USER_AGENT),
    );
    let mut replaced = std::collections::HashSet::new();
    for (name, value) in given {
        let name = HeaderName::from_bytes(name.trim().as_bytes())
            .map_err(|e| invalid(format!("{name:?}: {e}")))?;
        let value =
            HeaderValue::from_str(value.trim()).map_err(|e| invalid(format!("{name}: {e}")))?;
        if replaced.insert(name.clone()) {
            map.remove(&name);
        }
        map.append(name, value);
    }
    Ok(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_keep_the_default_user_agent_unless_replaced() {
        let map = headers(vec![("X-Team".into(), "sre".into())]).unwrap();
        assert_eq!(map["user-agent"], USER_AGENT);
        assert_eq!(map["x-team"], "sre");
        let map = headers(vec![("User-Agent".into(), "pager/2".into())]).unwrap();
        assert_eq!(map.get_all("user-agent").iter().count(), 1);
        assert_eq!(map["user-agent"], "pager/2");
        let error = headers(vec![("bad name".into(), "x".into())]).unwrap_err();
        assert!(matches!(error, Error::InvalidSetting { .. }), "{error}");
    }

    /// A host TLS cannot check a certificate for fails at `connect()`, not on every attempt.
    #[tokio::test]
    async fn a_host_tls_cannot_name_is_an_invalid_url() {
        for url in ["wss://a..b/graphql/ws", "wss://exa mple.com/graphql/ws"] {
            let error = IncidentClientBuilder::new(url).connect().await.unwrap_err();
            assert!(matches!(error, Error::InvalidUrl { .. }), "{url}: {error}");
        }
    }
}
