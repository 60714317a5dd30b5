//! Replacing a connection before its token expires, with no gap on any stream.
//!
//! Shortly before the current connection's token expires (10% of its lifetime before, at least
//! [`MIN_MARGIN`] or half its lifetime), the connection task opens the next connection with a
//! fresh token and subscribes everything there, then sends a ping: its pong confirms that the
//! server has every subscription on the next connection, so every event published from then on
//! reaches both. It then pings the current connection: once that pong is back, everything the
//! current one will ever deliver has been read, so it is closed with 1000 and the next one takes
//! over. Events read from both in the overlap are delivered once: an event is the same on both
//! connections (same subscription, same payload text), so [`Overlap`] keeps the keys each side
//! delivered until the other side has delivered the same, or for a few seconds after the switch
//! (a server need not order a pong after the events it had already published).

use std::collections::HashSet;
use std::hash::BuildHasher;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime};

use futures::future::BoxFuture;
use tokio::time::Instant;
use tracing::{info, warn};

use super::Supervisor;
use crate::config::Config;
use crate::error::{Error, Result};
use crate::link::{Link, Read};
use crate::protocol::{self, ServerMessage};
use crate::state::ConnectionState;

/// The least margin before expiry, unless the token lives less than twice as long.
pub(crate) const MIN_MARGIN: Duration = Duration::from_secs(3);

/// When to open the next connection for a token that expires at `expires_at`, obtained (or the
/// connection acknowledged) at `since`. `None` for a token with no known expiry.
pub(super) fn rotate_at(expires_at: Option<SystemTime>, since: SystemTime) -> Option<Instant> {
    let expires_at = expires_at?;
    let margin = margin(expires_at.duration_since(since).unwrap_or_default());
    let left = expires_at
        .duration_since(SystemTime::now())
        .unwrap_or_default();
    Some(Instant::now() + left.saturating_sub(margin))
}

/// How long before expiry a token that lives `lifetime` is replaced.
pub(crate) fn margin(lifetime: Duration) -> Duration {
    (lifetime / 10).max(MIN_MARGIN.min(lifetime / 2))
}

/// Which connection an event came in on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Side {
    Current,
    Next,
}

/// The events each side delivered that the other has not (yet) delivered too.
#[derive(Debug, Default)]
pub(crate) struct Overlap {
    current: HashSet<u64>,
    next: HashSet<u64>,
    hasher: foldhash::fast::FixedState,
}

impl Overlap {
    /// Whether the event `payload` of subscription `id` read on `side` is new (deliver it) or
    /// the other side's copy of one already delivered (drop it).
    pub(crate) fn admit(&mut self, side: Side, id: &str, payload: &str) -> bool {
        let key = self.hasher.hash_one((id, payload));
        let (mine, theirs) = match side {
            Side::Current => (&mut self.current, &mut self.next),
            Side::Next => (&mut self.next, &mut self.current),
        };
        if theirs.remove(&key) {
            return false;
        }
        mine.insert(key);
        true
    }

    /// How many events wait for their copy.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.current.len() + self.next.len()
    }
}

/// How long after a switch copies of events the old connection delivered are still expected on
/// the new one.
const SETTLE: Duration = Duration::from_secs(5);

/// How long to wait before trying again when opening the next connection failed (doubling up
/// to [`MAX_RETRY`] while the token source gives no fresher token).
const RETRY: Duration = Duration::from_millis(500);
const MAX_RETRY: Duration = Duration::from_secs(30);

/// The rotation of one served connection.
pub(super) struct Rotation {
    /// When to open the next connection (`None`: its token has no known expiry).
    at: Option<Instant>,
    /// The next connection is being opened (the future is the connection task's).
    opening: bool,
    next: Option<Next>,
    /// Deduplication while both connections deliver, and until `settle_until`.
    overlap: Option<Overlap>,
    /// After a switch: until when copies of events the old connection delivered may still come
    /// on the new one (a server need not order its pongs after events it already published).
    settle_until: Option<Instant>,
    /// The drain pong came: switch now.
    switch_due: bool,
    /// The wait before the next try when the token source gave no fresher token.
    retry: Duration,
}

/// The next connection being opened.
pub(super) type Opening = BoxFuture<'static, Result<Link>>;

/// Polls the next connection being opened, if one is.
pub(super) async fn opened(opening: &mut Option<Opening>) -> Result<Link> {
    match opening.as_mut() {
        Some(future) => {
            let result = future.await;
            *opening = None;
            result
        }
        None => std::future::pending().await,
    }
}

/// The next connection while it is subscribed, confirmed and drained into.
struct Next {
    link: Box<Link>,
    /// The ping on it whose pong confirms every subscription there.
    confirm: u64,
    confirmed: bool,
    /// The ping on the current connection whose pong means it delivered everything.
    drain: Option<u64>,
}

impl Rotation {
    /// Rotation for the `current` connection; never when `enabled` is false.
    pub(super) fn new(current: &Link, enabled: bool) -> Self {
        Self {
            at: rotate_at(current.token_expires_at, current.since_wall).filter(|_| enabled),
            opening: false,
            next: None,
            overlap: None,
            settle_until: None,
            switch_due: false,
            retry: RETRY,
        }
    }

    /// When to start opening the next connection, if it is time to wait for that.
    pub(super) fn start_at(&self) -> Option<Instant> {
        self.at.filter(|_| !self.opening && self.next.is_none())
    }

    /// Whether a next connection is being opened or served.
    pub(super) fn busy(&self) -> bool {
        self.opening || self.next.is_some()
    }

    pub(super) fn switch_due(&self) -> bool {
        self.switch_due
    }

    pub(super) fn has_next(&self) -> bool {
        self.next.is_some()
    }

    /// Whether the next connection's subscriptions are confirmed: from then on, every event
    /// reaches it too.
    fn next_confirmed(&self) -> bool {
        self.next.as_ref().is_some_and(|next| next.confirmed)
    }

    /// When the next connection's unanswered ping times out.
    pub(super) fn next_pong_deadline(&self, timeout: Duration) -> Option<Instant> {
        self.next.as_ref()?.link.pong_deadline(timeout)
    }

    /// Starts opening the next connection: the future to poll.
    pub(super) fn open(&mut self, config: Arc<Config>) -> Opening {
        self.opening = true;
        Box::pin(crate::handshake::establish(config))
    }

    /// The next message on the next connection.
    pub(super) async fn read_next(&mut self) -> Result<Read> {
        match self.next.as_mut() {
            Some(next) => next.link.read().await,
            None => std::future::pending().await,
        }
    }

    /// Gives up on the next connection (it failed or proved useless); tries again later.
    pub(super) fn abandon(&mut self, why: &dyn std::fmt::Display) {
        warn!(%why, "could not rotate to a fresh connection; keeping the current one");
        self.next = None;
        self.opening = false;
        self.overlap = None;
        self.at = Some(Instant::now() + RETRY);
    }

    /// Whether `payload` of subscription `id`, read on `side`, is new rather than the other
    /// connection's copy of one delivered.
    pub(super) fn admit(&mut self, side: Side, id: &str, payload: &str) -> bool {
        match self.overlap.as_mut() {
            Some(overlap) => overlap.admit(side, id, payload),
            None => true,
        }
    }

    /// A pong on the current connection answered ping `answered`.
    pub(super) fn current_answered(&mut self, answered: u64) {
        if let Some(next) = &self.next
            && next.drain.is_some_and(|drain| answered >= drain)
        {
            self.switch_due = true;
        }
    }

    /// Ends the overlap once its time is up.
    pub(super) fn settle(&mut self) {
        if self
            .settle_until
            .is_some_and(|until| Instant::now() >= until)
        {
            self.settle_until = None;
            self.overlap = None;
        }
    }
}

impl Supervisor {
    /// The next connection is open: subscribes everything there and pings to confirm it. One
    /// whose token expires no later than the current one's is useless, and closed.
    pub(super) async fn on_next_connected(
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
            link.close(1000, "no fresher token").await;
            rotation.retry = (rotation.retry * 2).min(MAX_RETRY);
            let at = Instant::now() + rotation.retry;
            let expires = current
                .token_expires_at
                .and_then(|t| t.duration_since(SystemTime::now()).ok());
            rotation.at = expires
                .map(|left| Instant::now() + left)
                .filter(|expiry| at < *expiry)
                .map(|_| at);
            info!(retry_in = ?rotation.retry, "the token source gave no fresher token yet");
            return;
        }
        rotation.retry = RETRY;
        let subscribed = async {
            for (id, payload) in self.table.live() {
                link.send(protocol::subscribe(&id, &payload)).await?;
            }
            link.ping().await
        };
        match subscribed.await {
            Ok(confirm) => {
                self.next_outbox = Some(Vec::new());
                rotation.overlap = Some(Overlap::default());
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

    /// Sends what commands queued for the next connection, and confirms it again.
    pub(super) async fn flush_next(&mut self, rotation: &mut Rotation) {
        let Some(next) = rotation.next.as_mut() else {
            return;
        };
        let frames = match self.next_outbox.as_mut() {
            Some(frames) if !frames.is_empty() => std::mem::take(frames),
            _ => return,
        };
        let sent = async {
            for frame in frames {
                next.link.send(frame).await?;
            }
            next.link.ping().await
        };
        match sent.await {
            Ok(confirm) => {
                next.confirm = confirm;
                next.confirmed = false;
                next.drain = None;
            }
            Err(error) => {
                self.next_outbox = None;
                rotation.abandon(&error);
            }
        }
    }

    /// A message (or the end) on the next connection. Returns the error that ends the
    /// *current* connection, if sending the drain ping on it failed.
    pub(super) async fn on_next_read(
        &mut self,
        current: &mut Link,
        rotation: &mut Rotation,
        read: Result<Read>,
    ) -> Option<Error> {
        let message = match read {
            Ok(Read::Message(message)) => message,
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
        let next = rotation.next.as_mut()?;
        next.link.heard();
        match message {
            ServerMessage::Ping => {
                if let Err(error) = next.link.send(protocol::pong()).await {
                    self.next_outbox = None;
                    rotation.abandon(&error);
                }
            }
            ServerMessage::Pong(pong) => {
                let answered = next.link.pong(pong).map(|(answered, _)| answered);
                if !next.confirmed && answered.is_some_and(|n| n >= next.confirm) {
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

    /// Whether the current connection's end can be taken over by the next one: it ended with a
    /// close frame (so everything it sent before was read) after the next one was confirmed.
    pub(super) fn can_take_over(rotation: &Rotation, error: &Error) -> bool {
        rotation.next_confirmed()
            && matches!(error, Error::Closed { .. } | Error::AuthRejected { .. })
    }

    /// Switches to the next connection and closes the current one with 1000.
    pub(super) async fn switch(
        &mut self,
        current: &mut Box<Link>,
        rotation: &mut Rotation,
    ) -> Result<()> {
        rotation.switch_due = false;
        let Some(next) = rotation.next.take() else {
            return Ok(());
        };
        let mut old = std::mem::replace(current, next.link);
        self.next_outbox = None;
        tokio::spawn(async move { old.close(1000, "rotated to a fresh token").await });
        // Subscriptions sent before the last confirmation are live on the new connection.
        self.table
            .confirmed(u64::MAX, current.server_now(), &mut self.recovery);
        self.stats.rotations.fetch_add(1, Ordering::Relaxed);
        self.metrics.rotated();
        info!("rotated to a connection with a fresh token");
        self.set_state(ConnectionState::Connected {
            since: current.since_wall,
        });
        rotation.at = rotate_at(current.token_expires_at, current.since_wall);
        rotation.settle_until = Some(Instant::now() + SETTLE);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_read_on_both_connections_is_delivered_once() {
        let mut overlap = Overlap::default();
        assert!(overlap.admit(Side::Current, "1", r#"{"data":1}"#));
        assert!(
            overlap.admit(Side::Next, "2", r#"{"data":1}"#),
            "another subscription"
        );
        assert!(!overlap.admit(Side::Next, "1", r#"{"data":1}"#));
        assert!(overlap.admit(Side::Next, "1", r#"{"data":3}"#));
        assert!(!overlap.admit(Side::Current, "1", r#"{"data":3}"#));
        assert!(!overlap.admit(Side::Current, "2", r#"{"data":1}"#));
        assert_eq!(overlap.len(), 0);
    }

    #[test]
    fn the_margin_is_a_tenth_of_the_lifetime_but_at_least_three_seconds_or_half() {
        let now = SystemTime::now();
        let check = |lifetime: u64, expected_margin_ms: u64| {
            let at = rotate_at(Some(now + Duration::from_secs(lifetime)), now).unwrap();
            let margin = Duration::from_secs(lifetime)
                .saturating_sub(at.saturating_duration_since(Instant::now()));
            let expected = Duration::from_millis(expected_margin_ms);
            assert!(
                margin.abs_diff(expected) < Duration::from_millis(200),
                "{lifetime} s: {margin:?}"
            );
        };
        check(3600, 360_000);
        check(20, 3_000);
        check(4, 2_000);
        assert!(rotate_at(None, now).is_none());
    }
}
