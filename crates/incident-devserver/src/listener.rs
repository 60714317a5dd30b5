//! A TCP listener that can stop accepting for a while, for tests that need a server which is up
//! but does not answer.

use std::io;
use std::net::SocketAddr;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// Accepts like a `TcpListener` except while `paused` is true, when connections wait in the
/// kernel's backlog.
pub struct PausableListener {
    pub(crate) inner: TcpListener,
    pub(crate) paused: watch::Receiver<bool>,
}

impl axum::serve::Listener for PausableListener {
    type Io = TcpStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (TcpStream, SocketAddr) {
        loop {
            while *self.paused.borrow_and_update() {
                if self.paused.changed().await.is_err() {
                    // The server handle is gone; keep the backlog waiting until this task is aborted.
                    std::future::pending::<()>().await;
                }
            }
            tokio::select! {
                accepted = self.inner.accept() => match accepted {
                    Ok(pair) => return pair,
                    Err(error) => {
                        tracing::warn!(%error, "accept failed");
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    }
                },
                _ = self.paused.changed() => {}
            }
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }
}
