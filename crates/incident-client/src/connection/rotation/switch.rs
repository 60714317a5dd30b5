//! The connection task's side of a rotation: subscribing on the next connection, sending it
//! what commands queued, reading the other connection, and switching over.

use std::sync::atomic::Ordering;

use tokio::time::Instant;
use tracing::info;

use crate::connection::Supervisor;
use crate::error::{Error, Result};
use crate::link::{Link, Read};
use crate::protocol::{self, ServerMessage};
use crate::state::ConnectionState;

use super::{Draining, Next, RETRY, Rotation, SETTLE, Side, close_later, rotate_at};

impl Supervisor {
    /// The next connection is open: subscribes everything there and pings to confirm it. One
    /// whose token expires no later than the current one's is useless, and closed.
    pub(in crate::connection) async fn on_next_connected(
        &mut self,
        current: &Link,
        rotation: &mut Rotation,
        opened: Result<Link>,
    ) {
        rotation.opening = false;
        let mut link = match opened {
            Ok(link) => Box::new(link),
            Err(error) => return rotation.abandon(&error),
        };
        let fresher = match (link.token_expires_at, current.token_expires_at) {
            (Some(next), Some(now)) => next > now,
            _ => false,
        };
        if !fresher {
            // Maybe later (a token file not rewritten yet), while the current one lasts.
            close_later(link, "no fresher token");
            rotation.retry_later();
            info!("the token source gave no fresher token yet");
            return;
        }
        let subscribed = async {
            for (id, payload) in self.table.live() {
                link.send(protocol::subscribe(&id, &payload)).await?;
            }
            link.ping().await
        };
        match subscribed.await {
            Ok(confirm) => {
                rotation.retry = RETRY;
                rotation.overlap_until = None;
                self.next_outbox = Some(Vec::new());
                rotation.next = Some(Next {
                    link,
                    confirm,
                    confirmed: false,
                    drain: None,
                });
            }
            Err(error) => rotation.abandon(&error),
        }
    }

    /// Sends what commands queued for the next connection; a new subscription there is
    /// confirmed before the switch.
    pub(in crate::connection) async fn flush_next(&mut self, rotation: &mut Rotation) {
        let Some(next) = rotation.next.as_mut() else {
            return;
        };
        let frames = match self.next_outbox.as_mut() {
            Some(frames) if !frames.is_empty() => std::mem::take(frames),
            _ => return,
        };
        let subscribes = frames.iter().any(|f| f.contains(r#""type":"subscribe""#));
        let sent = async {
            for frame in frames {
                next.link.send(frame).await?;
            }
            if subscribes {
                return next.link.ping().await.map(Some);
            }
            Ok(None)
        };
        match sent.await {
            Ok(Some(confirm)) => {
                next.confirm = confirm;
                next.confirmed = false;
                next.drain = None;
            }
            Ok(None) => {}
            Err(error) => {
                self.next_outbox = None;
                rotation.abandon(&error);
            }
        }
    }

    /// A message (or the end) on the other connection. Returns the error that ends the
    /// *current* connection, if sending the drain ping on it failed.
    pub(in crate::connection) async fn on_other_read(
        &mut self,
        current: &mut Link,
        rotation: &mut Rotation,
        read: Result<Read>,
    ) -> Option<Error> {
        let next = rotation.next.is_some();
        let message = match read {
            Ok(Read::Message(message)) => message,
            Ok(Read::Closed(..)) | Err(_) if !next => {
                // The old connection ended: it delivered all it had.
                rotation.finish_draining();
                return None;
            }
            Ok(Read::Closed(code, reason)) => {
                self.next_outbox = None;
                rotation.abandon(&format!("the next connection closed ({code:?} {reason})"));
                return None;
            }
            Err(error) => {
                self.next_outbox = None;
                rotation.abandon(&error);
                return None;
            }
        };
        let link = match (rotation.next.as_mut(), rotation.draining.as_mut()) {
            (Some(next), _) => &mut next.link,
            (None, Some(old)) => {
                old.heard = Instant::now();
                &mut old.link
            }
            (None, None) => return None,
        };
        link.heard();
        match message {
            ServerMessage::Ping => {
                if let Err(error) = link.send(protocol::pong()).await
                    && next
                {
                    self.next_outbox = None;
                    rotation.abandon(&error);
                }
            }
            ServerMessage::Pong(pong) => {
                let answered = link.pong(pong).map(|(answered, _)| answered);
                if let Some(next) = rotation.next.as_mut()
                    && !next.confirmed
                    && answered.is_some_and(|n| n >= next.confirm)
                {
                    // Every subscription is on both: drain the current connection.
                    next.confirmed = true;
                    match current.ping().await {
                        Ok(drain) => next.drain = Some(drain),
                        Err(error) => return Some(error),
                    }
                }
            }
            ServerMessage::Next { id, payload } => {
                if rotation.admit(Side::Next, &id, payload.as_str()) {
                    let now = crate::telemetry::unix_now();
                    let message = ServerMessage::Next { id, payload };
                    self.table.route(message, now, &mut self.recovery);
                }
            }
            message => {
                let now = crate::telemetry::unix_now();
                self.table.route(message, now, &mut self.recovery);
            }
        }
        None
    }

    /// Switches to the next connection; the old one is read until it is quiet, then closed
    /// with 1000. With `lost`, the current connection is gone: the streams it may not have
    /// delivered everything on catch up (or report a gap).
    pub(in crate::connection) async fn switch(
        &mut self,
        current: &mut Box<Link>,
        rotation: &mut Rotation,
        lost: bool,
    ) -> Result<()> {
        rotation.switch_due = false;
        let Some(next) = rotation.next.take() else {
            return Ok(());
        };
        let old = std::mem::replace(current, next.link);
        self.next_outbox = None;
        rotation.overlap.swap();
        if lost {
            let from = old.last_heard_at();
            drop(old);
            self.table
                .taken_over(from, current.server_now(), &mut self.recovery);
        } else {
            rotation.draining = Some(Draining {
                link: old,
                heard: Instant::now(),
                until: Instant::now() + SETTLE,
            });
        }
        // Subscriptions sent before the last confirmation are live on the new connection.
        self.table
            .confirmed(u64::MAX, current.server_now(), &mut self.recovery);
        self.stats.rotations.fetch_add(1, Ordering::Relaxed);
        self.metrics.rotated();
        info!("rotated to a connection with a fresh token");
        self.set_state(ConnectionState::Connected {
            since: current.since_wall,
        });
        rotation.expires_at = current.token_expires_at;
        rotation.at = rotate_at(current).filter(|_| rotation.enabled);
        Ok(())
    }
}
