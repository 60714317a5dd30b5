//! The byte stream under the WebSocket: TCP (direct or through a proxy's `CONNECT`), then TLS
//! for `wss://` with the client's own rustls configuration.
//!
//! The TLS handshake is done here rather than by tokio-tungstenite's TLS features: those bundle
//! their own root store (a second `webpki-roots`) and pin a crypto provider, while the client's
//! root store and provider are chosen by its Cargo features and builder settings, shared with
//! the HTTP path.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

/// A connection's bytes, in the clear or over TLS.
#[derive(Debug)]
pub(crate) enum Transport {
    /// `ws://`.
    Plain(TcpStream),
    /// `wss://`. Boxed: a TLS session is about 1 KB, carried only by TLS connections.
    Tls(Box<TlsStream<TcpStream>>),
}

/// Connects to the host and port of a `ws://` or `wss://` URL, Nagle off.
pub(crate) async fn connect_tcp(host: &str, port: u16) -> io::Result<TcpStream> {
    let stream = TcpStream::connect((host, port)).await?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// The host (brackets of an IPv6 literal removed) and port (default 80/443) of `url`.
pub(crate) fn host_and_port(url: &str) -> Option<(String, u16, bool)> {
    let uri: http::Uri = url.parse().ok()?;
    let secure = match uri.scheme_str()? {
        "ws" => false,
        "wss" => true,
        _ => return None,
    };
    let host = uri.host()?.trim_start_matches('[').trim_end_matches(']');
    let port = uri.port_u16().unwrap_or(if secure { 443 } else { 80 });
    Some((host.to_owned(), port, secure))
}

/// Wraps `stream` in TLS to `host` when `config` is given (`wss://`), else passes it through.
pub(crate) async fn secure(
    stream: TcpStream,
    host: &str,
    config: Option<&Arc<rustls::ClientConfig>>,
) -> io::Result<Transport> {
    let Some(config) = config else {
        return Ok(Transport::Plain(stream));
    };
    let name = ServerName::try_from(host.to_owned())
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    let connector = tokio_rustls::TlsConnector::from(config.clone());
    let tls = connector.connect(name, stream).await?;
    Ok(Transport::Tls(Box::new(tls)))
}

impl AsyncRead for Transport {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Transport::Plain(stream) => Pin::new(stream).poll_read(cx, buf),
            Transport::Tls(stream) => Pin::new(stream.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Transport {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Transport::Plain(stream) => Pin::new(stream).poll_write(cx, buf),
            Transport::Tls(stream) => Pin::new(stream.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Transport::Plain(stream) => Pin::new(stream).poll_flush(cx),
            Transport::Tls(stream) => Pin::new(stream.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Transport::Plain(stream) => Pin::new(stream).poll_shutdown(cx),
            Transport::Tls(stream) => Pin::new(stream.as_mut()).poll_shutdown(cx),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Transport::Plain(stream) => Pin::new(stream).poll_write_vectored(cx, bufs),
            Transport::Tls(stream) => Pin::new(stream.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Transport::Plain(stream) => stream.is_write_vectored(),
            Transport::Tls(stream) => stream.is_write_vectored(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_and_ports_come_from_the_url() {
        assert_eq!(
            host_and_port("ws://127.0.0.1:8080/graphql/ws"),
            Some(("127.0.0.1".into(), 8080, false))
        );
        assert_eq!(
            host_and_port("wss://example.com/graphql/ws"),
            Some(("example.com".into(), 443, true))
        );
        assert_eq!(
            host_and_port("ws://[::1]/x"),
            Some(("::1".into(), 80, false))
        );
        assert_eq!(host_and_port("http://example.com/"), None);
    }
}
