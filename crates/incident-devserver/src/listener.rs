//! A TCP listener that can stop accepting for a while, for tests that need a server which is up
//! but does not answer.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use crate::activity::Activity;

/// Accepts like a `TcpListener` except while `paused` is true, when connections wait in the
/// kernel's backlog.
pub struct PausableListener {
    pub(crate) inner: TcpListener,
    pub(crate) paused: watch::Receiver<bool>,
    pub(crate) activity: Arc<Activity>,
}

impl axum::serve::Listener for PausableListener {
    type Io = TcpStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (TcpStream, SocketAddr) {
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
                accepted = self.inner.accept() => match accepted {
                    Ok(pair) => return pair,
                    Err(error) => {
                        tracing::warn!(%error, "accept failed");
                        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    }
                },
            }
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }
}
