//! Replacing a connection before its token expires, with no gap on any stream.
//!
//! Shortly before the current connection's token expires (10% of its lifetime before, at least
//! [`MIN_MARGIN`] or half its lifetime), the connection task opens the next connection with a
//! fresh token and subscribes everything there, then sends a ping: its pong confirms that the
//! server has every subscription on the next connection, so every event published from then on
//! reaches both. It then pings the current connection; once that pong is back the next one
//! becomes the current one, and the old one is still read until it has been quiet for a moment
//! (a server may answer a ping before the events it had already queued), then closed with 1000.
//! Events read from both are delivered once: an event is the same on both connections (same
//! subscription, same payload text), so [`Overlap`] counts what each side delivered until the
//! other side has delivered the same, or until a few seconds after the old connection closed.
//!
//! If the current connection is lost after the next one was confirmed (the rotation came too
//! late), the next one takes over at once; since the lost one may not have delivered all it had,
//! caught-up streams catch up and the others report a gap.
//!
//! Layout: this file holds the [`Rotation`] of one served connection and when it starts;
//! `overlap` the deduplication of events read on both connections; `switch` what the
//! connection task does with the next connection (subscribing there, reading it, switching).

mod overlap;
mod switch;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use futures::future::BoxFuture;
use tokio::time::Instant;
use tracing::warn;

use crate::config::Config;
use crate::error::Result;
use crate::link::{Link, Read};

/// The least margin before expiry, unless the token lives less than twice as long.
pub(crate) const MIN_MARGIN: Duration = Duration::from_secs(3);

/// How long after the old connection closed copies of its events are still expected on the new
/// one, and the longest it is read after a switch.
const SETTLE: Duration = Duration::from_secs(5);

/// The old connection is closed once it has been quiet this long after a switch.
const QUIET: Duration = Duration::from_millis(500);

/// The first wait before trying again when opening the next connection failed or gave no
/// fresher token, doubling up to [`MAX_RETRY`].
const RETRY: Duration = Duration::from_millis(500);
const MAX_RETRY: Duration = Duration::from_secs(30);

/// How long closing a connection may take.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);

/// How long before expiry a token that lives `lifetime` is replaced.
pub(crate) fn margin(lifetime: Duration) -> Duration {
    (lifetime / 10).max(MIN_MARGIN.min(lifetime / 2))
}

/// When to open the next connection for `link`, or `None` for a token with no known expiry.
/// The time left is the least of what the client's clock and the server's (its handshake
/// `Date`) say, so a client clock behind the server's does not rotate too late; and a rotation
/// never comes sooner than half the token's lifetime after the connection, so a client clock
/// ahead of the server's does not rotate in a loop.
pub(super) fn rotate_at(link: &Link) -> Option<Instant> {
    let expires_at = link.token_expires_at?;
    let local = expires_at
        .duration_since(SystemTime::now())
        .unwrap_or_default();
    let by_server = link.server_now().map(|now| {
        let expires = expires_at
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default()
            .as_micros() as i64;
        Duration::from_micros(expires.saturating_sub(now).max(0) as u64)
    });
    let left = by_server.map_or(local, |server| server.min(local));
    let lifetime = link
        .token_issued_at
        .and_then(|issued| expires_at.duration_since(issued).ok())
        .unwrap_or(left);
    let wait = left.saturating_sub(margin(lifetime)).max(lifetime / 2);
    Some(link.since + wait.min(left))
}

pub(crate) use overlap::{Overlap, Side};

/// The rotation of one served connection.
pub(super) struct Rotation {
    enabled: bool,
    /// When to open the next connection.
    at: Option<Instant>,
    /// When the current connection's token expires (a server stamp): later tries stop there.
    expires_at: Option<SystemTime>,
    /// The next connection is being opened (the future is the connection task's).
    opening: bool,
    next: Option<Next>,
    /// The old connection after a switch, read until it is quiet.
    draining: Option<Draining>,
    overlap: Overlap,
    /// When to forget the overlap, once nothing else is open.
    overlap_until: Option<Instant>,
    /// The drain pong came: switch now.
    switch_due: bool,
    /// The wait before the next try.
    retry: Duration,
}

/// The next connection while it is subscribed, confirmed and drained into.
struct Next {
    link: Box<Link>,
    /// The ping on it whose pong confirms every subscription there.
    confirm: u64,
    confirmed: bool,
    /// The ping on the current connection whose pong means it delivered what it had.
    drain: Option<u64>,
}

/// The old connection after a switch.
struct Draining {
    link: Box<Link>,
    heard: Instant,
    until: Instant,
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

/// Closes `link` with 1000 in the background, giving up after [`CLOSE_TIMEOUT`].
fn close_later(mut link: Box<Link>, reason: &'static str) {
    if let Ok(runtime) = tokio::runtime::Handle::try_current() {
        runtime.spawn(async move {
            let _ = tokio::time::timeout(CLOSE_TIMEOUT, link.close(1000, reason)).await;
        });
    }
}

impl Rotation {
    /// Rotation for the `current` connection; never when `enabled` is false.
    pub(super) fn new(current: &Link, enabled: bool) -> Self {
        Self {
            enabled,
            at: rotate_at(current).filter(|_| enabled),
            expires_at: current.token_expires_at,
            opening: false,
            next: None,
            draining: None,
            overlap: Overlap::default(),
            overlap_until: None,
            switch_due: false,
            retry: RETRY,
        }
    }

    /// When to start opening the next connection, if it is time to wait for that.
    pub(super) fn start_at(&self) -> Option<Instant> {
        self.at.filter(|_| !self.busy())
    }

    /// Whether a next connection is being opened or served, or an old one read to its end.
    pub(super) fn busy(&self) -> bool {
        self.opening || self.next.is_some() || self.draining.is_some()
    }

    /// Whether a next connection is being opened or served (the state shows `Rotating`).
    pub(super) fn rotating(&self) -> bool {
        self.opening || self.next.is_some()
    }

    pub(super) fn switch_due(&self) -> bool {
        self.switch_due
    }

    /// Whether there is another connection to read.
    pub(super) fn has_other(&self) -> bool {
        self.next.is_some() || self.draining.is_some()
    }

    /// Whether the next connection's subscriptions are confirmed: from then on, every event
    /// reaches it too.
    pub(super) fn next_confirmed(&self) -> bool {
        self.next.as_ref().is_some_and(|next| next.confirmed)
    }

    /// When something needs doing without a message: the next connection's unanswered ping
    /// times out, or the old one has been quiet long enough.
    pub(super) fn deadline(&self, pong_timeout: Duration) -> Option<Instant> {
        let next = self
            .next
            .as_ref()
            .and_then(|next| next.link.pong_deadline(pong_timeout));
        let draining = self
            .draining
            .as_ref()
            .map(|old| (old.heard + QUIET).min(old.until));
        next.into_iter().chain(draining).min()
    }

    /// Acts on [`Rotation::deadline`].
    pub(super) fn on_deadline(&mut self, pong_timeout: Duration) {
        let now = Instant::now();
        if self
            .next
            .as_ref()
            .and_then(|next| next.link.pong_deadline(pong_timeout))
            .is_some_and(|deadline| deadline <= now)
        {
            self.abandon(&"no pong on the next connection");
        }
        if self
            .draining
            .as_ref()
            .is_some_and(|old| (old.heard + QUIET).min(old.until) <= now)
        {
            self.finish_draining();
        }
    }

    fn finish_draining(&mut self) {
        if let Some(old) = self.draining.take() {
            close_later(old.link, "rotated to a fresh token");
            self.overlap_until = Some(Instant::now() + SETTLE);
        }
    }

    /// Starts opening the next connection: the future to poll.
    pub(super) fn open(&mut self, config: Arc<Config>) -> Opening {
        self.opening = true;
        Box::pin(crate::handshake::establish(config))
    }

    /// The next message on the other connection.
    pub(super) async fn read_other(&mut self) -> Result<Read> {
        if let Some(next) = self.next.as_mut() {
            return next.link.read().await;
        }
        match self.draining.as_mut() {
            Some(old) => old.link.read().await,
            None => std::future::pending().await,
        }
    }

    /// Tries again later: doubling waits, and never past the current token's expiry.
    fn retry_later(&mut self) {
        let at = Instant::now() + self.retry;
        self.retry = (self.retry * 2).min(MAX_RETRY);
        let left = self
            .expires_at
            .and_then(|t| t.duration_since(SystemTime::now()).ok());
        self.at = left
            .filter(|left| Instant::now() + *left > at)
            .map(|_| at)
            .filter(|_| self.enabled);
    }

    /// Gives up on the next connection (it failed or proved useless); tries again later. What
    /// it delivered stays in the overlap for a while, so the current one's copies are dropped.
    pub(super) fn abandon(&mut self, why: &dyn std::fmt::Display) {
        warn!(%why, "could not rotate to a fresh connection; keeping the current one");
        if let Some(next) = self.next.take() {
            close_later(next.link, "rotation abandoned");
        }
        self.opening = false;
        self.overlap_until = Some(Instant::now() + SETTLE);
        self.retry_later();
    }

    /// Whether `payload` of subscription `id`, read on `side`, is new rather than the other
    /// connection's copy of one delivered.
    pub(super) fn admit(&mut self, side: Side, id: &str, payload: &str) -> bool {
        // Only while two connections deliver, or copies may still come: nothing to compare
        // (and nothing to remember) otherwise.
        if !self.busy() && self.overlap_until.is_none() {
            return true;
        }
        self.overlap.admit(side, id, payload)
    }

    /// A pong on the current connection answered ping `answered`.
    pub(super) fn current_answered(&mut self, answered: u64) {
        if let Some(next) = &self.next
            && next.drain.is_some_and(|drain| answered >= drain)
        {
            self.switch_due = true;
        }
    }

    /// Forgets the overlap once its time is up and nothing else is open.
    pub(super) fn settle(&mut self) {
        if !self.busy()
            && self
                .overlap_until
                .is_some_and(|until| Instant::now() >= until)
        {
            self.overlap_until = None;
            self.overlap.clear();
        }
    }
}

impl Drop for Rotation {
    fn drop(&mut self) {
        if let Some(next) = self.next.take() {
            close_later(next.link, "client closing");
        }
        if let Some(old) = self.draining.take() {
            close_later(old.link, "client closing");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_margin_is_a_tenth_of_the_lifetime_but_at_least_three_seconds_or_half() {
        let check = |lifetime: u64, expected: u64| {
            assert_eq!(
                margin(Duration::from_secs(lifetime)),
                Duration::from_millis(expected)
            );
        };
        check(3600, 360_000);
        check(20, 3_000);
        check(4, 2_000);
        check(3, 1_500);
    }
}
