//! The server's listener: TCP, optionally TLS, and able to stop accepting for a while (for tests
//! that need a server which is up but does not answer).

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;

use crate::activity::Activity;

/// How long a client may take over its TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// An accepted connection: a TCP stream, or a TLS stream over one.
pub(crate) trait Conn: AsyncRead + AsyncWrite + Unpin + Send + 'static {}

impl<T: AsyncRead + AsyncWrite + Unpin + Send + 'static> Conn for T {}

/// Accepts like a `TcpListener` except while `paused` is true, when connections wait in the
/// kernel's backlog. With TLS, handshakes run concurrently, so a slow or failing client holds up
/// nobody; a failed handshake (an untrusted or missing client certificate) is logged and counted.
pub(crate) struct PausableListener {
    inner: TcpListener,
    paused: watch::Receiver<bool>,
    activity: Activity,
    tls: Option<TlsAcceptor>,
    handshakes: JoinSet<Option<(Box<dyn Conn>, SocketAddr)>>,
}

impl PausableListener {
    pub(crate) fn new(
        inner: TcpListener,
        paused: watch::Receiver<bool>,
        activity: Activity,
        tls: Option<Arc<rustls::ServerConfig>>,
    ) -> Self {
        Self {
            inner,
            paused,
            activity,
            tls: tls.map(TlsAcceptor::from),
            handshakes: JoinSet::new(),
        }
    }

    /// Starts the TLS handshake of an accepted socket.
    fn handshake(
        &mut self,
        acceptor: TlsAcceptor,
        socket: tokio::net::TcpStream,
        peer: SocketAddr,
    ) {
        let activity = self.activity.clone();
        self.handshakes.spawn(async move {
            match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(socket)).await {
                Ok(Ok(stream)) => Some((Box::new(stream) as Box<dyn Conn>, peer)),
                Ok(Err(error)) => {
                    tracing::info!(%peer, %error, "TLS handshake failed");
                    activity.tls_failure(error.to_string());
                    None
                }
                Err(_) => {
                    tracing::info!(%peer, "TLS handshake timed out");
                    activity.tls_failure("handshake timed out".into());
                    None
                }
            }
        });
    }
}

impl axum::serve::Listener for PausableListener {
    type Io = Box<dyn Conn>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, SocketAddr) {
        loop {
            let paused = *self.paused.borrow_and_update();
            self.activity.set_paused(paused);
            if paused {
                if self.paused.changed().await.is_err() {
                    // The server handle is gone; keep the backlog waiting until this task is aborted.
                    std::future::pending::<()>().await;
                }
                continue;
            }
            tokio::select! {
                biased;
                _ = self.paused.changed() => {}
                // Matched in the body, not the pattern: a pattern that fails (a failed handshake)
                // disables the branch for the rest of this `select!`, and a handshake finishing
                // after it would then wait for the next connection to be seen.
                joined = self.handshakes.join_next(), if !self.handshakes.is_empty() => {
                    if let Some(Ok(Some(done))) = joined {
                        return done;
                    }
                }
                accepted = self.inner.accept() => match accepted {
                    Ok((socket, peer)) => match self.tls.clone() {
                        Some(acceptor) => self.handshake(acceptor, socket, peer),
                        None => return (Box::new(socket), peer),
                    },
                    Err(error) => {
                        tracing::warn!(%error, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                },
            }
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }
}
