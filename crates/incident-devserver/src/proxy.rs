//! A small HTTP proxy for tests and local setups: `CONNECT host:port` tunnels (what clients use
//! for `https://`, `wss://` and `ws://`) and absolute-form requests (`GET http://host/path`, what
//! HTTP clients send for plain `http://`), optionally requiring basic auth. It records what it
//! was asked, so a test can check that traffic really went through it.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> std::io::Result<()> {
//! let proxy = incident_devserver::proxy::HttpProxy::start(None).await?;
//! println!("HTTPS_PROXY={}", proxy.url());
//! assert!(proxy.connects().is_empty());
//! # Ok(()) }
//! ```

use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use base64::Engine;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// The largest request head the proxy reads.
const MAX_HEAD: usize = 16 * 1024;

/// A running proxy on `127.0.0.1`; it stops when dropped.
#[derive(Debug)]
pub struct HttpProxy {
    addr: SocketAddr,
    seen: Arc<Mutex<Seen>>,
    task: JoinHandle<()>,
}

#[derive(Debug, Default)]
struct Seen {
    connects: Vec<String>,
    forwarded: Vec<String>,
    refused: usize,
}

impl HttpProxy {
    /// Starts a proxy on an ephemeral port of 127.0.0.1. With `credentials` (user, password),
    /// requests without the matching `Proxy-Authorization: Basic` are answered 407.
    pub async fn start(credentials: Option<(&str, &str)>) -> io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let expected = credentials.map(|(user, password)| {
            let encoded =
                base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
            format!("Basic {encoded}")
        });
        let seen = Arc::new(Mutex::new(Seen::default()));
        let shared = seen.clone();
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let seen = shared.clone();
                let expected = expected.clone();
                tokio::spawn(async move {
                    if let Err(error) = serve(client, expected.as_deref(), &seen).await {
                        tracing::debug!(%error, "proxy connection ended");
                    }
                });
            }
        });
        Ok(Self { addr, seen, task })
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`, for `HTTPS_PROXY` and friends.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The `host:port` of every `CONNECT` it tunnelled, oldest first.
    pub fn connects(&self) -> Vec<String> {
        self.lock().connects.clone()
    }

    /// The URI of every absolute-form request it forwarded, oldest first.
    pub fn forwarded(&self) -> Vec<String> {
        self.lock().forwarded.clone()
    }

    /// How many requests it answered 407 (missing or wrong credentials).
    pub fn refused(&self) -> usize {
        self.lock().refused
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Seen> {
        self.seen.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Drop for HttpProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Reads one request head, checks credentials, opens the upstream connection and relays bytes
/// both ways until either side closes.
async fn serve(
    mut client: TcpStream,
    expected: Option<&str>,
    seen: &Mutex<Seen>,
) -> io::Result<()> {
    let mut buffer = Vec::with_capacity(1024);
    let head_end = loop {
        if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break end + 4;
        }
        if buffer.len() > MAX_HEAD {
            return client
                .write_all(b"HTTP/1.1 431 Request Header Fields Too Large\r\n\r\n")
                .await;
        }
        let mut chunk = [0u8; 4096];
        let read = client.read(&mut chunk).await?;
        if read == 0 {
            return Ok(());
        }
        buffer.extend_from_slice(&chunk[..read]);
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next().unwrap_or_default().split(' ');
    let (method, target) = (
        request_line.next().unwrap_or_default(),
        request_line.next().unwrap_or_default().to_owned(),
    );
    let authorization = lines.find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.eq_ignore_ascii_case("proxy-authorization")
            .then(|| value.trim().to_owned())
    });
    if let Some(expected) = expected
        && authorization.as_deref() != Some(expected)
    {
        seen.lock().unwrap_or_else(|p| p.into_inner()).refused += 1;
        return client
            .write_all(
                b"HTTP/1.1 407 Proxy Authentication Required\r\nProxy-Authenticate: Basic realm=\"test\"\r\ncontent-length: 0\r\n\r\n",
            )
            .await;
    }
    let upstream_addr = if method.eq_ignore_ascii_case("CONNECT") {
        target.clone()
    } else {
        let Some(rest) = target.strip_prefix("http://") else {
            return client
                .write_all(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n")
                .await;
        };
        let authority = rest.split('/').next().unwrap_or(rest);
        if authority.contains(':') {
            authority.to_owned()
        } else {
            format!("{authority}:80")
        }
    };
    let mut upstream = match TcpStream::connect(&upstream_addr).await {
        Ok(upstream) => upstream,
        Err(_) => {
            return client
                .write_all(b"HTTP/1.1 502 Bad Gateway\r\ncontent-length: 0\r\n\r\n")
                .await;
        }
    };
    {
        let mut seen = seen.lock().unwrap_or_else(|p| p.into_inner());
        if method.eq_ignore_ascii_case("CONNECT") {
            seen.connects.push(target);
        } else {
            seen.forwarded.push(target);
        }
    }
    if method.eq_ignore_ascii_case("CONNECT") {
        client
            .write_all(b"HTTP/1.1 200 Connection Established\r\n\r\n")
            .await?;
        upstream.write_all(&buffer[head_end..]).await?;
    } else {
        upstream.write_all(&buffer).await?;
    }
    tokio::io::copy_bidirectional(&mut client, &mut upstream).await?;
    Ok(())
}
