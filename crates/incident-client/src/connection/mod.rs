//! The connection task: one socket, supervised.
//!
//! graphql-ws-client 0.13 runs the protocol in an actor that has no reconnect, waits forever for
//! `connection_ack`, ends streams without a reason when the socket closes, leaves a stream pending
//! after a server `error` message, and blocks the whole socket (keepalive included) when one
//! subscription's buffer is full. Those are exactly the guarantees this SDK makes, so this task
//! replaces that actor. graphql-ws-client still supplies the operation abstraction
//! (`GraphqlOperation`, implemented for cynic's `StreamingOperation`) that [`crate::IncidentClient::subscribe`] takes.
//!
//! The task owns the socket ([`Link`]), the subscription table ([`Table`]) and the catch-ups in
//! flight ([`Recovery`]), and takes commands in one place ([`Supervisor::on_wake`]) whether it is
//! connecting, connected or waiting to reconnect. It ends when the client is shut down, when
//! every [`crate::IncidentClient`] and [`crate::Subscription`] is dropped (closing the socket with
//! 1000), or when an error cannot be fixed by reconnecting.
//!
//! Backoff: a connection counts as healthy only once it has delivered an event or stayed up for
//! the policy's `max_delay`. Until then, losing it is one more failed attempt, so a server that
//! acknowledges and closes at once sees the delays grow and, with a bounded policy, the client
//! give up with [`Error::RetriesExhausted`]. A token rejection (4401/4403, at the handshake or
//! after the ack) asks the token provider once more; a second one before a healthy connection
//! ends every stream with [`Error::AuthRejected`].
//!
//! Layout: this file holds the commands, the [`Supervisor`] and its run loop (reconnects and
//! backoff); `wake` the commands and finished catch-ups taken in every state, and the waits
//! between connections; `serve` one acknowledged connection; `rotation` token rotation.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use tokio::sync::{mpsc, oneshot, watch};
use tracing::{info, warn};

use crate::catchup::CatchupSpec;
use crate::config::Config;
use crate::delivery::Delivery;
use crate::error::{Error, Result};
use crate::http::HttpClient;
use crate::link::Link;
use crate::payloads::Payloads;
use crate::recovery::{Done, Recovery};
use crate::state::ConnectionState;
use crate::stats::StatsInner;
use crate::subscription::{Buffer, EndReason};
use crate::table::Table;
use crate::telemetry::ConnectionMetrics;

pub(crate) mod rotation;
mod serve;
mod wake;

/// The most messages handled in one go before the connection task yields.
const BATCH: usize = 64;

/// What the client and subscriptions ask of the connection task.
pub(crate) enum Command {
    Subscribe {
        id: String,
        payload: Arc<str>,
        sink: Arc<Buffer>,
        /// Boxed: most subscriptions are not caught up, and commands stay small.
        catchup: Option<Box<(Arc<CatchupSpec>, Delivery)>>,
    },
    Unsubscribe {
        id: String,
    },
    /// The consumer of a stream whose buffer overflowed has room for the next refill page.
    Room {
        id: String,
    },
    Shutdown {
        done: oneshot::Sender<()>,
    },
}

/// Something for the task to act on besides the socket.
enum Wake {
    /// A command, or `None` when every handle and subscription is gone.
    Command(Option<Command>),
    CaughtUp(Done),
}

/// What the task does after a wake.
enum Flow {
    Continue,
    Stop,
    Lost(Error),
}

/// How a connection attempt went.
enum Attempt {
    /// Boxed: the socket is large, and lives on the heap while it is served anyway.
    Connected(Box<Link>),
    Failed(Error),
    Stopped,
}

/// How a served connection ended.
enum Outcome {
    Stopped,
    /// A lazy client's last subscription ended and the grace period passed: closed with 1000.
    Idle,
    Lost {
        error: Error,
        healthy: bool,
    },
}

pub(crate) struct Supervisor {
    config: Arc<Config>,
    stats: Arc<StatsInner>,
    commands: mpsc::UnboundedReceiver<Command>,
    table: Table,
    recovery: Recovery,
    /// The subscription sent last on this connection, blamed for a 4400/4409/4500 close.
    last_subscribed: Option<String>,
    state: watch::Sender<ConnectionState>,
    metrics: ConnectionMetrics,
    /// When the last connection last heard from the server: where a gap starts.
    lost_at: chrono::DateTime<chrono::Utc>,
    /// While a next connection is open (rotating): frames for it too (subscribes, completes).
    next_outbox: Option<Vec<String>>,
}

impl Supervisor {
    pub(crate) fn new(
        config: Arc<Config>,
        http: HttpClient,
        stats: Arc<StatsInner>,
        commands: mpsc::UnboundedReceiver<Command>,
        payloads: Payloads,
        state: watch::Sender<ConnectionState>,
    ) -> Self {
        Self {
            table: Table::new(payloads, stats.clone()),
            recovery: Recovery::new(http),
            config,
            stats,
            commands,
            last_subscribed: None,
            state,
            metrics: ConnectionMetrics::new(),
            lost_at: chrono::Utc::now(),
            next_outbox: None,
        }
    }

    /// Publishes the connection's state (watchers see only changes).
    fn set_state(&self, state: ConnectionState) {
        self.stats.track(&state);
        self.state.send_replace(state);
    }

    /// The task ends: every watcher learns why.
    fn closed(&self, error: Option<Error>) {
        self.metrics.disconnected();
        self.set_state(ConnectionState::Closed { error });
    }

    /// Runs until shutdown, until every handle is dropped, or until a fatal error. `ready` learns
    /// how the first connection went.
    pub(crate) async fn run(mut self, ready: oneshot::Sender<Result<()>>) {
        let mut ready = Some(ready);
        let lazy = self.config.lazy().is_some();
        if lazy && let Some(ready) = ready.take() {
            // Nothing to connect for yet: the first subscription opens the WebSocket.
            self.set_state(ConnectionState::Idle);
            let _ = ready.send(Ok(()));
        }
        // Failed attempts since the last healthy connection.
        let mut failures: u32 = 0;
        let mut auth_rejections: u32 = 0;
        let mut connected_before = false;
        loop {
            if lazy && self.table.is_empty() {
                self.set_state(ConnectionState::Idle);
                if self.idle().await.is_break() {
                    return;
                }
                // A fresh start: nothing was open, so nothing was missed. The failure counts
                // stay until a healthy connection: after rejected credentials or an exhausted
                // policy, the next subscription waits out a backoff and gets no second refresh,
                // so resubscribing in a loop cannot hammer the server.
                connected_before = false;
                if failures > 0 {
                    let delay = self.config.settings.reconnect.delay(failures);
                    if self.wait(delay).await.is_break() {
                        return;
                    }
                }
            }
            self.set_state(ConnectionState::Connecting { attempt: failures });
            let error = match self.attempt(failures).await {
                Attempt::Stopped => return,
                Attempt::Failed(error) => error,
                Attempt::Connected(link) => {
                    if let Some(ready) = ready.take() {
                        let _ = ready.send(Ok(()));
                    }
                    let outcome = self.serve(link, connected_before).await;
                    self.table.disconnected();
                    self.stats.connected.store(false, Ordering::Relaxed);
                    self.metrics.disconnected();
                    connected_before = true;
                    match outcome {
                        Outcome::Stopped => return,
                        Outcome::Idle => continue,
                        Outcome::Lost { error, healthy } => {
                            if healthy {
                                failures = 0;
                                auth_rejections = 0;
                            }
                            error
                        }
                    }
                }
            };
            if let Error::AuthRejected { .. } = error {
                auth_rejections += 1;
                if auth_rejections < 2 {
                    info!(%error, "the server rejected the token; reconnecting with a fresh one");
                    self.metrics.auth_refresh();
                    continue;
                }
            }
            // Rejected credentials and certificates are not a server that is down: retrying
            // cannot help, also when waiting for the server.
            let hopeless =
                matches!(error, Error::AuthRejected { .. }) || error.is_certificate_problem();
            if let Some(pending) = ready.take() {
                if hopeless || !self.config.settings.wait_for_server {
                    // The first connection failed: `connect()` reports it and nothing retries.
                    self.closed(Some(error.clone()));
                    let _ = pending.send(Err(error));
                    return;
                }
                ready = Some(pending);
            }
            if hopeless {
                let reason = if error.is_certificate_problem() {
                    warn!(%error, "giving up: a TLS certificate was rejected");
                    EndReason::CertificateRejected
                } else {
                    warn!(%error, "giving up: the server rejected a fresh token too");
                    EndReason::AuthRejected
                };
                self.table.finish_all(reason, Some(&error));
                if lazy {
                    // Those subscriptions end; the next one tries again, after a backoff.
                    failures += 1;
                    continue;
                }
                self.closed(Some(error.clone()));
                let _ = self.stats.ended.set(error);
                return;
            }
            failures += 1;
            if !self.config.settings.reconnect.allows(failures) {
                warn!(attempts = failures - 1, %error, "giving up reconnecting");
                let exhausted = Error::RetriesExhausted {
                    attempts: failures - 1,
                    last: Box::new(error),
                };
                if let Some(pending) = ready.take() {
                    self.closed(Some(exhausted.clone()));
                    let _ = pending.send(Err(exhausted));
                    return;
                }
                self.table
                    .finish_all(EndReason::RetriesExhausted, Some(&exhausted));
                if lazy {
                    continue;
                }
                self.closed(Some(exhausted.clone()));
                let _ = self.stats.ended.set(exhausted);
                return;
            }
            if ready.is_some() {
                warn!(attempt = failures, %error, "the server is not reachable yet; waiting for it");
            }
            let delay = self.config.settings.reconnect.delay(failures);
            info!(attempt = failures, ?delay, %error, "connection lost; reconnecting after backoff");
            self.set_state(ConnectionState::Reconnecting {
                attempt: failures,
                delay,
                error: error.to_string(),
            });
            if self.wait(delay).await.is_break() {
                return;
            }
        }
    }
}
