//! Opening a connection: TCP (directly or through a proxy's `CONNECT`), TLS, the WebSocket upgrade
//! with the configured headers and the subprotocol, `connection_init` with a
//! fresh token, and the wait for `connection_ack`. Every failure here is [`Error::Connect`] naming
//! the URL, [`Error::AckTimeout`], [`Error::AuthRejected`] or [`Error::TokenProvider`].

use std::sync::Arc;
use std::time::Instant;

use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{self, http::HeaderValue};
use tracing::{debug, info};

use crate::config::Config;
use crate::error::{Cause, Error, Result, cause, message};
use crate::link::{self, Link, Read};
use crate::protocol::{self, ServerMessage};
use crate::tls;
use crate::transport;

/// Connects and waits for the ack. Owns what it needs, so the connection task can go on taking
/// commands while this runs.
pub(crate) async fn establish(config: Arc<Config>) -> Result<Link> {
    let token = match &config.token {
        Some(source) => Some(
            source
                .fresh()
                .await
                .map_err(|e| Error::TokenProvider(e.into()))?,
        ),
        None => None,
    };
    let url = config.ws_url.as_str();
    let failed = |source: Cause| Error::Connect {
        url: url.to_owned(),
        source,
    };
    let mut request = url
        .into_client_request()
        .map_err(|e: tungstenite::Error| failed(cause(e)))?;
    let headers = request.headers_mut();
    for (name, value) in &config.network.headers {
        headers.append(name, value.clone());
    }
    headers.insert(
        "Sec-WebSocket-Protocol",
        HeaderValue::from_static(protocol::SUBPROTOCOL),
    );
    let mut ws_config = WebSocketConfig::default();
    ws_config.max_message_size = Some(config.settings.max_message_size);
    ws_config.max_frame_size = Some(config.settings.max_message_size);
    // tungstenite's 128 KiB read and write buffers per connection are sized for bulk transfer;
    // incident events are a few KB, and every frame is flushed as it is sent.
    ws_config.read_buffer_size = 16 * 1024;
    ws_config.write_buffer_size = 0;
    let started = Instant::now();
    let connecting = async {
        let (host, port, secure) = transport::host_and_port(url)
            .ok_or_else(|| failed(message("not a ws:// or wss:// URL with a host")))?;
        let stream = match config.network.proxies.for_url(url) {
            Some(proxy) => crate::proxy::tunnel(&proxy, url).await.map_err(|e| {
                let at = proxy.uri().authority().map(|a| a.as_str()).unwrap_or("?");
                // The authority may carry credentials: name only host and port.
                let at = at.rsplit('@').next().unwrap_or(at);
                failed(message(format!("through the proxy {at}: {e}")))
            })?,
            None => transport::connect_tcp(&host, port)
                .await
                .map_err(|e| failed(cause(e)))?,
        };
        let tls = if secure {
            config.network.tls.as_ref()
        } else {
            None
        };
        let stream = transport::secure(stream, &host, tls)
            .await
            .map_err(|e| failed(tls::classify(e)))?;
        tokio_tungstenite::client_async_with_config(request, stream, Some(ws_config))
            .await
            .map_err(|e| failed(tls::classify(e)))
    };
    let (mut socket, response) = tokio::time::timeout(config.settings.connect_timeout, connecting)
        .await
        .map_err(|_| {
            failed(message(format!(
                "no WebSocket handshake within {:?}",
                config.settings.connect_timeout
            )))
        })??;
    // The server's clock, to the second (rounded down): where a new stream starts.
    let server_date = response
        .headers()
        .get(http::header::DATE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| chrono::DateTime::parse_from_rfc2822(v).ok())
        .map(|date| date.timestamp_micros());
    let accepted = response
        .headers()
        .get("sec-websocket-protocol")
        .and_then(|v| v.to_str().ok());
    if accepted != Some(protocol::SUBPROTOCOL) {
        return Err(failed(message(format!(
            "the server did not accept the {} subprotocol",
            protocol::SUBPROTOCOL
        ))));
    }
    let init = protocol::connection_init(
        config
            .settings
            .init_payload
            .build(token.as_ref().map(|t| t.expose())),
    );
    link::send(&mut socket, init, failed).await?;
    let waiting = async {
        loop {
            match link::read(&mut socket, failed).await? {
                Read::Message(ServerMessage::ConnectionAck) => return Ok(()),
                Read::Message(ServerMessage::Ping) => {
                    link::send(&mut socket, protocol::pong(), failed).await?
                }
                Read::Message(other) => debug!(?other, "ignoring a message before the ack"),
                Read::Closed(code, reason) => {
                    return Err(closed_error(code, reason).unwrap_or_else(|| {
                        failed(message("the server closed the connection before the ack"))
                    }));
                }
            }
        }
    };
    tokio::time::timeout(config.settings.ack_timeout, waiting)
        .await
        .map_err(|_| Error::AckTimeout(config.settings.ack_timeout))??;
    info!(ack_latency = ?started.elapsed(), "connected");
    Ok(Link::new(socket, url, server_date, token.as_ref()))
}

/// The error for a close frame: 4401 and 4403 are auth rejections, other codes are
/// [`Error::Closed`]; `None` when the socket closed without a code.
pub(crate) fn closed_error(code: Option<u16>, reason: String) -> Option<Error> {
    match code? {
        code @ (4401 | 4403) => Some(Error::AuthRejected {
            signal: crate::error::AuthSignal::CloseCode(code),
            reason,
        }),
        code => Some(Error::Closed { code, reason }),
    }
}
