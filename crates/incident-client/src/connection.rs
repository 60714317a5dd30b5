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

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, watch};
use tracing::{Instrument, debug, info, info_span, warn};

use crate::catchup::CatchupSpec;
use crate::config::Config;
use crate::delivery::Delivery;
use crate::error::{Error, Result, message};
use crate::gap::GapWindow;
use crate::handshake::{self, closed_error};
use crate::http::HttpClient;
use crate::link::{Link, Read};
use crate::payloads::Payloads;
use crate::protocol::{self, ServerMessage};
use crate::recovery::{Done, Recovery};
use crate::state::ConnectionState;
use crate::stats::StatsInner;
use crate::subscription::{Buffer, EndReason};
use crate::table::Table;
use crate::telemetry::ConnectionMetrics;

#[path = "rotation.rs"]
pub(crate) mod rotation;

use rotation::{Rotation, Side};

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
        let lazy = self.config.lazy.is_some();
        if lazy && let Some(ready) = ready.take() {
            // Nothing to connect for yet: the first subscription opens the WebSocket.
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
                // A fresh start: nothing was open, so nothing was missed.
                (failures, auth_rejections, connected_before) = (0, 0, false);
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
                if hopeless || !self.config.wait_for_server {
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
                    // Those subscriptions end; the next one tries again.
                    continue;
                }
                self.closed(Some(error.clone()));
                let _ = self.stats.ended.set(error);
                return;
            }
            failures += 1;
            if !self.config.reconnect.allows(failures) {
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
            let delay = self.config.reconnect.delay(failures);
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

    /// One connection attempt, taking commands while it runs.
    async fn attempt(&mut self, attempt: u32) -> Attempt {
        let span = info_span!("connect", url = %self.config.ws_url, attempt);
        // Boxed: connecting (TCP, WebSocket handshake, ack) needs a large future only while it
        // runs, and unboxed it would size every idle connection's task.
        let mut connecting = Box::pin(handshake::establish(self.config.clone()).instrument(span));
        loop {
            tokio::select! {
                result = &mut connecting => return match result {
                    Ok(link) => Attempt::Connected(Box::new(link)),
                    Err(error) => Attempt::Failed(error),
                },
                wake = self.next_wake() => match self.on_wake(wake, None).await {
                    Flow::Stop => return Attempt::Stopped,
                    Flow::Continue | Flow::Lost(_) => {}
                },
            }
        }
    }

    /// A lazy client without subscriptions: takes commands until one subscribes. `Break` means
    /// the task should end.
    async fn idle(&mut self) -> std::ops::ControlFlow<()> {
        loop {
            let wake = self.next_wake().await;
            if let Flow::Stop = self.on_wake(wake, None).await {
                return std::ops::ControlFlow::Break(());
            }
            if !self.table.is_empty() {
                return std::ops::ControlFlow::Continue(());
            }
        }
    }

    /// Sleeps for the backoff while taking commands. `Break` means the task should end.
    async fn wait(&mut self, delay: Duration) -> std::ops::ControlFlow<()> {
        let sleep = tokio::time::sleep(delay);
        tokio::pin!(sleep);
        loop {
            tokio::select! {
                () = &mut sleep => return std::ops::ControlFlow::Continue(()),
                wake = self.next_wake() => if let Flow::Stop = self.on_wake(wake, None).await {
                    return std::ops::ControlFlow::Break(());
                },
            }
        }
    }

    async fn next_wake(&mut self) -> Wake {
        tokio::select! {
            command = self.commands.recv() => Wake::Command(command),
            done = self.recovery.next() => Wake::CaughtUp(done),
        }
    }

    /// Acts on a command or a finished catch-up; `link` is the socket when connected.
    async fn on_wake(&mut self, wake: Wake, link: Option<&mut Link>) -> Flow {
        let command = match wake {
            Wake::CaughtUp(done) => {
                self.recovery.finish(&mut self.table, done);
                return Flow::Continue;
            }
            Wake::Command(command) => command,
        };
        match command {
            None => {
                // Every client handle and subscription is gone; nobody reads the streams.
                if let Some(link) = link {
                    self.close(link, "client dropped").await;
                }
                self.table.finish_all(EndReason::Dropped, None);
                self.closed(None);
                Flow::Stop
            }
            Some(Command::Shutdown { done }) => {
                if let Some(link) = link {
                    self.close(link, "client shut down").await;
                }
                self.table
                    .finish_all(EndReason::Shutdown, Some(&Error::Shutdown));
                let _ = self.stats.ended.set(Error::Shutdown);
                self.closed(None);
                let _ = done.send(());
                Flow::Stop
            }
            Some(Command::Subscribe {
                id,
                payload,
                sink,
                catchup,
            }) => {
                self.table
                    .insert(id.clone(), payload.clone(), sink, catchup.map(|c| *c));
                if let Some(outbox) = self.next_outbox.as_mut() {
                    outbox.push(protocol::subscribe(&id, &payload));
                }
                let Some(link) = link else {
                    // Sent with the others once connected.
                    return Flow::Continue;
                };
                self.last_subscribed = Some(id.clone());
                let sent = async {
                    link.send(protocol::subscribe(&id, &payload)).await?;
                    link.ping().await
                };
                match sent.await {
                    Ok(ping) => {
                        self.table.sent(&id, ping);
                        Flow::Continue
                    }
                    Err(error) => Flow::Lost(error),
                }
            }
            Some(Command::Room { id }) => {
                let now = self.recovery.now();
                if let Some(entry) = self.table.get_mut(&id)
                    && let Some(delivery) = entry.delivery.as_mut()
                {
                    delivery.on_room(now, entry.sink.depth());
                    self.recovery.drive(&mut self.table, &id);
                }
                Flow::Continue
            }
            Some(Command::Unsubscribe { id }) => {
                let removed = self.table.remove(&id).is_some();
                if let Some(outbox) = self.next_outbox.as_mut().filter(|_| removed) {
                    outbox.push(protocol::complete(&id));
                }
                match link {
                    Some(link) if removed => match link.send(protocol::complete(&id)).await {
                        Ok(()) => Flow::Continue,
                        Err(error) => Flow::Lost(error),
                    },
                    _ => Flow::Continue,
                }
            }
        }
    }

    /// Completes what is open and closes the socket with 1000.
    async fn close(&mut self, link: &mut Link, reason: &str) {
        for id in self.table.ids() {
            let _ = link.send(protocol::complete(&id)).await;
        }
        link.close(1000, reason).await;
    }

    /// Serves an acknowledged connection until it is lost or the task should end.
    async fn serve(&mut self, mut link: Box<Link>, reconnected: bool) -> Outcome {
        self.stats.connected.store(true, Ordering::Relaxed);
        self.stats.connects.fetch_add(1, Ordering::Relaxed);
        self.metrics.connected(reconnected);
        self.set_state(ConnectionState::Connected {
            since: std::time::SystemTime::now(),
        });
        self.last_subscribed = None;
        let link = &mut link;
        let healthy = |link: &Link, config: &Config| {
            link.delivered || link.since.elapsed() >= config.reconnect.max_delay
        };
        if let Err(error) = self.resubscribe(link, reconnected).await {
            self.lost_at = link.last_heard_at();
            return Outcome::Lost {
                healthy: healthy(link, &self.config),
                error,
            };
        }
        let interval = self.config.keepalive_interval;
        let mut keepalive =
            tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
        keepalive.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let pong_timeout = self.config.pong_timeout;
        let fixed = self.config.token.as_ref().is_some_and(|t| t.is_fixed());
        let mut rotation = Rotation::new(link, self.config.rotate && !fixed);
        let mut opening: Option<rotation::Opening> = None;
        self.next_outbox = None;
        // A lazy client closes this long after its last subscription ended.
        let mut idle_at: Option<tokio::time::Instant> = None;
        loop {
            // Streams that ended (a refused catch-up, the server's `complete` or `error` on
            // either connection while rotating): stop their subscriptions everywhere.
            let ended: Vec<String> = self
                .recovery
                .take_ended()
                .into_iter()
                .chain(self.table.take_finished())
                .collect();
            for id in ended {
                if let Some(outbox) = self.next_outbox.as_mut() {
                    outbox.push(protocol::complete(&id));
                }
                if let Err(error) = link.send(protocol::complete(&id)).await {
                    self.lost_at = link.last_heard_at();
                    return Outcome::Lost {
                        healthy: healthy(link, &self.config),
                        error,
                    };
                }
            }
            self.flush_next(&mut rotation).await;
            rotation.settle();
            idle_at = match self.config.lazy {
                Some(grace) if self.table.is_empty() && !rotation.rotating() => {
                    Some(idle_at.unwrap_or_else(|| tokio::time::Instant::now() + grace))
                }
                _ => None,
            };
            let pong_deadline = link.pong_deadline(pong_timeout);
            let rotate_at = rotation.start_at();
            let rotation_deadline = rotation.deadline(pong_timeout);
            let lost = tokio::select! {
                read = link.read() => self.on_read(link, read, &mut rotation).await,
                wake = self.next_wake() => match self.on_wake(wake, Some(link)).await {
                    Flow::Continue => None,
                    Flow::Stop => return Outcome::Stopped,
                    Flow::Lost(error) => Some(error),
                },
                _ = keepalive.tick() => {
                    if link.awaiting_pong() { None } else { link.ping().await.err() }
                },
                () = sleep_until(pong_deadline), if pong_deadline.is_some() => {
                    warn!(timeout = ?pong_timeout, "no pong from the server; the connection is half-open");
                    Some(link.lost(message(format!("no pong within {pong_timeout:?}"))))
                },
                // Rotation: open the next connection before the token expires, read it, switch.
                () = sleep_until(rotate_at), if rotate_at.is_some() => {
                    info!("the token expires soon: opening the next connection with a fresh one");
                    opening = Some(rotation.open(self.config.clone()));
                    None
                },
                opened = rotation::opened(&mut opening), if opening.is_some() => {
                    self.on_next_connected(link, &mut rotation, opened).await;
                    None
                },
                read = rotation.read_other(), if rotation.has_other() => {
                    self.on_other_read(link, &mut rotation, read).await
                },
                () = sleep_until(rotation_deadline), if rotation_deadline.is_some() => {
                    rotation.on_deadline(pong_timeout);
                    None
                },
                () = sleep_until(idle_at), if idle_at.is_some() => {
                    debug!("no subscription left: closing the lazy connection");
                    link.close(1000, "no subscriptions").await;
                    return Outcome::Idle;
                },
            };
            if !rotation.rotating() {
                self.next_outbox = None;
            }
            let rotating = matches!(*self.state.borrow(), ConnectionState::Rotating { .. });
            if rotation.rotating() != rotating {
                self.set_state(if rotating {
                    ConnectionState::Connected {
                        since: link.since_wall,
                    }
                } else {
                    ConnectionState::Rotating {
                        since: link.since_wall,
                    }
                });
            }
            // Lost after the next connection was confirmed: it takes over at once.
            let take_over = lost.is_some() && rotation.next_confirmed();
            if take_over {
                info!("the connection was lost while rotating; the next one takes over");
            }
            let lost = if rotation.switch_due() || take_over {
                self.switch(link, &mut rotation, take_over).await.err()
            } else {
                lost
            };
            if let Some(error) = lost {
                self.lost_at = link.last_heard_at();
                return Outcome::Lost {
                    healthy: healthy(link, &self.config),
                    error,
                };
            }
        }
    }

    /// Handles what was read, then the messages already buffered behind it (up to [`BATCH`])
    /// without going back through the `select!`; after a full batch it yields, so a consumer on
    /// the same thread decodes what was queued before more is read, and the queue (and the
    /// memory it churns) stays small. Returns the error that ends the connection, if any.
    async fn on_read(
        &mut self,
        link: &mut Link,
        mut read: Result<Read>,
        rotation: &mut Rotation,
    ) -> Option<Error> {
        use futures::FutureExt;
        if let Ok(Read::Message(_)) = read {
            link.heard();
        }
        // One clock reading for the batch.
        let now = crate::telemetry::unix_now();
        let mut handled = 0;
        loop {
            match read {
                Ok(Read::Message(message)) => {
                    if let Err(error) = self.on_message(link, message, now, rotation).await {
                        return Some(error);
                    }
                    handled += 1;
                    if handled == BATCH {
                        tokio::task::yield_now().await;
                        return None;
                    }
                    // Cancel-safe: an unfinished frame stays in tungstenite's buffer.
                    read = link.read().now_or_never()?;
                }
                Ok(Read::Closed(code, reason)) => {
                    self.table
                        .fail_offender(code, &reason, self.last_subscribed.as_deref());
                    return Some(closed_error(code, reason).unwrap_or_else(|| {
                        link.lost(message(
                            "the server closed the connection without a close frame",
                        ))
                    }));
                }
                Err(error @ Error::Decode(_)) => {
                    warn!(%error, "the server sent a malformed message; reconnecting");
                    link.close(4400, "malformed message").await;
                    return Some(error);
                }
                Err(error) => return Some(error),
            }
        }
    }

    async fn on_message(
        &mut self,
        link: &mut Link,
        message: ServerMessage,
        now: f64,
        rotation: &mut Rotation,
    ) -> Result<()> {
        match message {
            ServerMessage::Ping => link.send(protocol::pong()).await?,
            ServerMessage::Pong(number) => match link.pong(number) {
                Some((answered, rtt)) => {
                    self.metrics.ping_rtt(rtt);
                    self.table
                        .confirmed(answered, link.server_now(), &mut self.recovery);
                    rotation.current_answered(answered);
                }
                None => debug!("ignoring a pong the client did not ask for"),
            },
            ServerMessage::Next { id, payload }
                if !rotation.admit(Side::Current, &id, payload.as_str()) =>
            {
                // The next connection delivered it already.
                let _ = (id, payload);
            }
            message => {
                if self.table.route(message, now, &mut self.recovery) {
                    link.delivered = true;
                }
            }
        }
        Ok(())
    }

    /// Sends `subscribe` for every live subscription and a ping to confirm them; after a
    /// reconnect, gives the streams that cannot be caught up a gap notice (the others' machines
    /// catch up once the server confirms them).
    async fn resubscribe(&mut self, link: &mut Link, reconnected: bool) -> Result<()> {
        let live = self.table.live();
        if live.is_empty() {
            return Ok(());
        }
        if reconnected {
            info!(count = live.len(), "resubscribing");
        }
        for (id, payload) in &live {
            link.send(protocol::subscribe(id, payload)).await?;
            if reconnected
                && let Some(entry) = self.table.get_mut(id)
                && entry.delivery.is_none()
            {
                entry.sink.push_gap(GapWindow {
                    from: self.lost_at,
                    until: chrono::Utc::now(),
                });
            }
        }
        let ping = link.ping().await?;
        for (id, _) in &live {
            self.table.sent(id, ping);
        }
        Ok(())
    }
}

/// Sleeps until `deadline`; never wakes without one.
async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}
