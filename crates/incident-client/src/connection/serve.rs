//! Serving one acknowledged connection: the `select!` loop, reading messages in batches,
//! routing them, and resubscribing after a reconnect.

use std::sync::atomic::Ordering;

use tracing::{debug, info, warn};

use crate::config::Config;
use crate::error::{Error, Result, message};
use crate::gap::GapWindow;
use crate::handshake::closed_error;
use crate::link::{Link, Read};
use crate::protocol::{self, ServerMessage};
use crate::state::ConnectionState;

use super::rotation::{self, Rotation, Side};
use super::{BATCH, Flow, Outcome, Supervisor};

impl Supervisor {
    /// Serves an acknowledged connection until it is lost or the task should end.
    pub(super) async fn serve(&mut self, mut link: Box<Link>, reconnected: bool) -> Outcome {
        self.stats.connected.store(true, Ordering::Relaxed);
        self.stats.connects.fetch_add(1, Ordering::Relaxed);
        self.metrics.connected(reconnected);
        self.set_state(ConnectionState::Connected {
            since: std::time::SystemTime::now(),
        });
        self.last_subscribed = None;
        let link = &mut link;
        let healthy = |link: &Link, config: &Config| {
            link.delivered || link.since.elapsed() >= config.settings.reconnect.max_delay
        };
        if let Err(error) = self.resubscribe(link, reconnected).await {
            self.lost_at = link.last_heard_at();
            return Outcome::Lost {
                healthy: healthy(link, &self.config),
                error,
            };
        }
        let interval = self.config.settings.keepalive_interval;
        let mut keepalive =
            tokio::time::interval_at(tokio::time::Instant::now() + interval, interval);
        keepalive.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let pong_timeout = self.config.settings.pong_timeout;
        let fixed = self.config.token.as_ref().is_some_and(|t| t.is_fixed());
        let mut rotation = Rotation::new(link, self.config.settings.rotate && !fixed);
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
            idle_at = match self.config.lazy() {
                // A grace too long to add (`Duration::MAX`) never closes.
                Some(grace) if self.table.is_empty() && !rotation.rotating() => {
                    idle_at.or_else(|| tokio::time::Instant::now().checked_add(grace))
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
                    let closing = link.close(1000, "no subscriptions");
                    let _ = tokio::time::timeout(std::time::Duration::from_secs(2), closing).await;
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
