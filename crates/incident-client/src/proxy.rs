//! Proxies, the same for the WebSocket and the HTTP paths: the environment read as curl and
//! reqwest read it (`HTTPS_PROXY` for `wss://`/`https://`, `HTTP_PROXY` for `ws://`/`http://`,
//! `ALL_PROXY`, `NO_PROXY`; hyper-util's `Matcher`, which reqwest itself uses), a proxy set on the
//! builder, or none. The WebSocket goes through with HTTP `CONNECT` (hyper-util's `Tunnel`, with
//! basic auth from the proxy URL).

use http::Uri;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::connect::proxy::Tunnel;
use hyper_util::client::proxy::matcher::{Intercept, Matcher};
use tokio::net::TcpStream;

use crate::error::{Error, Result};

/// Where the builder was told to find a proxy.
#[derive(Debug, Clone, Default)]
pub(crate) enum ProxySetting {
    /// `HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY`, `NO_PROXY` (default).
    #[default]
    Environment,
    /// This proxy for every request.
    Url(String),
    /// No proxy, whatever the environment says.
    Disabled,
}

/// The proxy decision for the client's URLs.
pub(crate) struct Proxies(Option<Matcher>);

impl std::fmt::Debug for Proxies {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Proxies").field(&self.0).finish()
    }
}

impl Proxies {
    pub(crate) fn new(setting: &ProxySetting) -> Result<Self> {
        Ok(Self(match setting {
            ProxySetting::Environment => Some(Matcher::from_env()),
            ProxySetting::Disabled => None,
            ProxySetting::Url(url) => {
                let uri: Uri =
                    url.parse()
                        .map_err(|e: http::uri::InvalidUri| Error::InvalidSetting {
                            setting: "the proxy URL".into(),
                            reason: e.to_string(),
                        })?;
                if uri.scheme_str() != Some("http") || uri.host().is_none() {
                    return Err(Error::InvalidSetting {
                        setting: "the proxy URL".into(),
                        reason: "an http:// URL with a host is needed (http://user:pass@host:port)"
                            .into(),
                    });
                }
                Some(Matcher::builder().all(url.clone()).build())
            }
        }))
    }

    /// The proxy for `url` (`ws`, `wss`, `http` or `https`), if one applies.
    pub(crate) fn for_url(&self, url: &str) -> Option<Intercept> {
        let matcher = self.0.as_ref()?;
        matcher.intercept(&as_http(url)?)
    }
}

/// `ws://` as `http://`, `wss://` as `https://`: proxies are chosen by the HTTP scheme.
fn as_http(url: &str) -> Option<Uri> {
    let (scheme, rest) = url.split_once("://")?;
    let scheme = match scheme {
        "ws" | "http" => "http",
        "wss" | "https" => "https",
        _ => return None,
    };
    format!("{scheme}://{rest}").parse().ok()
}

/// A TCP stream to `url`'s host through `proxy`, after a successful `CONNECT`.
pub(crate) async fn tunnel(
    proxy: &Intercept,
    url: &str,
) -> std::result::Result<TcpStream, Box<dyn std::error::Error + Send + Sync>> {
    if proxy.uri().scheme_str() != Some("http") {
        return Err(format!("only http:// proxies are supported, not {}", proxy.uri()).into());
    }
    let target = as_http(url).ok_or("not a ws:// or wss:// URL")?;
    let port = target
        .port_u16()
        .unwrap_or(if target.scheme_str() == Some("https") {
            443
        } else {
            80
        });
    let host = target.host().ok_or("the URL has no host")?;
    let destination: Uri = format!("http://{host}:{port}").parse()?;
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    let mut tunnel = Tunnel::new(proxy.uri().clone(), connector);
    if let Some(auth) = proxy.basic_auth() {
        tunnel = tunnel.with_auth(auth.clone());
    }
    futures::future::poll_fn(|cx| tower_service::Service::poll_ready(&mut tunnel, cx)).await?;
    let io = tower_service::Service::call(&mut tunnel, destination).await?;
    Ok(io.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn websocket_urls_use_the_http_schemes_proxies() {
        let proxies = Proxies(Some(
            Matcher::builder()
                .http("http://plain:3128")
                .https("http://secure:3128")
                .no("internal.example")
                .build(),
        ));
        let proxy = |url| proxies.for_url(url).map(|p| p.uri().to_string());
        assert_eq!(
            proxy("ws://a.example/graphql/ws").as_deref(),
            Some("http://plain:3128/")
        );
        assert_eq!(
            proxy("wss://a.example/graphql/ws").as_deref(),
            Some("http://secure:3128/")
        );
        assert_eq!(
            proxy("https://a.example/graphql").as_deref(),
            Some("http://secure:3128/")
        );
        assert_eq!(proxy("wss://internal.example/graphql/ws"), None);
        assert!(
            Proxies::new(&ProxySetting::Disabled)
                .unwrap()
                .for_url("wss://a.example")
                .is_none()
        );
    }

    #[test]
    fn a_bad_proxy_url_is_a_typed_error() {
        for bad in ["socks5://h:1080", "not a url", "http://"] {
            let error = Proxies::new(&ProxySetting::Url(bad.into())).unwrap_err();
            assert!(
                matches!(error, Error::InvalidSetting { .. }),
                "{bad}: {error}"
            );
        }
    }
}
