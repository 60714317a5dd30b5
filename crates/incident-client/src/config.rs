//! Settings the builder collects and the connection task reads.

use std::sync::Arc;
use std::time::Duration;

use crate::backoff::ReconnectPolicy;
use crate::proxy::Proxies;
use crate::token::TokenSource;

/// Builds the `connection_init` payload from the token (if any).
pub(crate) type InitPayloadFn = dyn Fn(Option<&str>) -> serde_json::Value + Send + Sync;

/// How the client reaches the server, the same for the WebSocket and HTTP paths.
#[derive(Debug)]
pub(crate) struct Network {
    /// The rustls configuration, when a URL is `wss://`/`https://` or TLS settings were given.
    pub(crate) tls: Option<Arc<rustls::ClientConfig>>,
    pub(crate) proxies: Proxies,
    /// Sent on the WebSocket upgrade and every HTTP request, `User-Agent` included.
    pub(crate) headers: http::HeaderMap,
}

/// The `connection_init` payload hook.
#[derive(Clone)]
pub(crate) struct InitPayload(pub(crate) Option<Arc<InitPayloadFn>>);

impl InitPayload {
    /// The payload for `token`: the hook's, else `{"Authorization": "Bearer <jwt>"}` (or `{}`).
    pub(crate) fn build(&self, token: Option<&str>) -> serde_json::Value {
        match &self.0 {
            Some(hook) => hook(token),
            None => match token {
                Some(token) => serde_json::json!({ "Authorization": format!("Bearer {token}") }),
                None => serde_json::json!({}),
            },
        }
    }
}

impl std::fmt::Debug for InitPayload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() {
            "InitPayload(custom)"
        } else {
            "InitPayload(default)"
        })
    }
}

/// Everything the client was configured with: the settings as the builder took them, and what
/// `connect()` derived from the rest (validated URLs, the token source, the network).
#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub(crate) ws_url: String,
    pub(crate) http_url: String,
    pub(crate) token: Option<TokenSource>,
    pub(crate) network: Arc<Network>,
    pub(crate) settings: Settings,
}

/// The builder's settings, kept as given (the builder wraps one, and `connect()` moves it into
/// the [`Config`]); the defaults are the builder's.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub(crate) reconnect: ReconnectPolicy,
    pub(crate) keepalive_interval: Duration,
    pub(crate) pong_timeout: Duration,
    pub(crate) ack_timeout: Duration,
    pub(crate) connect_timeout: Duration,
    pub(crate) buffer: usize,
    pub(crate) max_message_size: usize,
    pub(crate) init_payload: InitPayload,
    /// Retry the first connection under the reconnect policy instead of failing.
    pub(crate) wait_for_server: bool,
    /// How much of the listing before its watermark a catch-up reads again.
    pub(crate) catch_up_overlap: Duration,
    /// How long a token provider may take.
    pub(crate) token_timeout: Duration,
    /// Replace the connection before its token expires.
    pub(crate) rotate: bool,
    /// Lazy: the WebSocket opens with the first subscription and closes `lazy_close_timeout`
    /// after the last one ends. Otherwise eager: opened by `connect()` and kept up.
    pub(crate) lazy: bool,
    pub(crate) lazy_close_timeout: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            reconnect: ReconnectPolicy::default(),
            keepalive_interval: Duration::from_secs(15),
            pong_timeout: Duration::from_secs(10),
            ack_timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(10),
            buffer: crate::subscription::DEFAULT_BUFFER,
            max_message_size: 8 << 20,
            init_payload: InitPayload(None),
            wait_for_server: false,
            catch_up_overlap: crate::delivery::DEFAULT_OVERLAP,
            token_timeout: Duration::from_secs(10),
            rotate: true,
            lazy: false,
            lazy_close_timeout: Duration::from_secs(1),
        }
    }
}

impl Config {
    /// The grace period before a lazy client closes an unused WebSocket; `None` when eager.
    pub(crate) fn lazy(&self) -> Option<Duration> {
        self.settings
            .lazy
            .then_some(self.settings.lazy_close_timeout)
    }
}

/// `ws://host:port/graphql/ws` to `http://host:port/graphql` (and `wss` to `https`).
pub(crate) fn derive_http_url(ws_url: &str) -> Option<String> {
    let (scheme, rest) = ws_url.split_once("://")?;
    let scheme = match scheme {
        "ws" => "http",
        "wss" => "https",
        _ => return None,
    };
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    let rest = rest.strip_suffix("/ws").unwrap_or(rest);
    Some(format!("{scheme}://{rest}"))
}

/// `http://host:port/graphql` to `http://host:port`.
pub(crate) fn origin_of(http_url: &str) -> String {
    match http_url.split_once("://") {
        Some((scheme, rest)) => {
            let host = rest.split('/').next().unwrap_or(rest);
            format!("{scheme}://{host}")
        }
        None => http_url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(ws: &str, http: Option<&str>) {
        assert_eq!(derive_http_url(ws).as_deref(), http, "{ws}");
    }

    #[test]
    fn http_urls_derive_from_ws_urls() {
        check(
            "ws://localhost:8080/graphql/ws",
            Some("http://localhost:8080/graphql"),
        );
        check(
            "wss://im.example.com/graphql/ws/",
            Some("https://im.example.com/graphql"),
        );
        check("ws://127.0.0.1:9/custom", Some("http://127.0.0.1:9/custom"));
        check("http://localhost/graphql", None);
        check("localhost:8080", None);
    }

    #[test]
    fn origins() {
        assert_eq!(
            origin_of("http://127.0.0.1:8080/graphql"),
            "http://127.0.0.1:8080"
        );
        assert_eq!(origin_of("https://h/a/b"), "https://h");
    }
}
