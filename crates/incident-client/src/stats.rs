//! A cheap snapshot of what the client is doing.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::state::ConnectionState;

/// Counters shared by the client and its connection task.
#[derive(Debug, Default)]
pub(crate) struct StatsInner {
    pub(crate) connected: AtomicBool,
    pub(crate) connects: AtomicU64,
    pub(crate) live_subscriptions: AtomicU64,
    pub(crate) events: AtomicU64,
    pub(crate) dropped: AtomicU64,
    pub(crate) gaps: AtomicU64,
    pub(crate) caught_up: AtomicU64,
    pub(crate) rotations: AtomicU64,
    /// When the current connection was acknowledged, in microseconds since the epoch (0: not
    /// connected).
    pub(crate) connected_since: AtomicU64,
    /// Failed connection attempts since the last healthy connection.
    pub(crate) failed_attempts: AtomicU32,
    /// Why the connection task ended, once it has: what a late `subscribe` reports.
    pub(crate) ended: std::sync::OnceLock<crate::Error>,
}

/// A snapshot of the connection and what the client has done so far: the one place to read the
/// client's health from ([`crate::IncidentClient::stats`]). Transitions are pushed by
/// [`crate::IncidentClient::connection_state`], for code that waits on them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Stats {
    /// Whether a connection is established and acknowledged now.
    pub connected: bool,
    /// When the current connection was acknowledged (`None` while not connected).
    pub connected_since: Option<SystemTime>,
    /// Failed connection attempts in a row since the last healthy connection (0 while all is
    /// well).
    pub failed_attempts: u32,
    /// Successful connections after the first (reconnects).
    pub reconnects: u64,
    /// Subscriptions currently live.
    pub live_subscriptions: u64,
    /// Events received from the server, across subscriptions.
    pub events_received: u64,
    /// Events dropped because consumers fell behind.
    pub dropped: u64,
    /// Gap notices delivered after reconnects.
    pub gaps: u64,
    /// Incidents recovered by catch-up queries after reconnects, counted as the consumer takes
    /// them (an incident it had already is not counted).
    pub caught_up: u64,
    /// Connections replaced before their token expired, with no gap on any stream.
    pub rotations: u64,
}

impl StatsInner {
    /// Follows the connection's state into the snapshot's `connected_since` and
    /// `failed_attempts`.
    pub(crate) fn track(&self, state: &ConnectionState) {
        let micros = |at: &SystemTime| {
            at.duration_since(UNIX_EPOCH)
                .map_or(1, |d| (d.as_micros() as u64).max(1))
        };
        match state {
            // Both count the attempts that failed so far.
            ConnectionState::Connecting { attempt } => {
                self.failed_attempts.store(*attempt, Ordering::Relaxed);
                self.connected_since.store(0, Ordering::Relaxed);
            }
            ConnectionState::Reconnecting { attempt, .. } => {
                self.failed_attempts.store(*attempt, Ordering::Relaxed);
                self.connected_since.store(0, Ordering::Relaxed);
            }
            ConnectionState::Connected { since } | ConnectionState::Rotating { since } => {
                self.failed_attempts.store(0, Ordering::Relaxed);
                self.connected_since.store(micros(since), Ordering::Relaxed);
            }
            _ => self.connected_since.store(0, Ordering::Relaxed),
        }
    }

    pub(crate) fn snapshot(&self) -> Stats {
        let since = self.connected_since.load(Ordering::Relaxed);
        Stats {
            connected: self.connected.load(Ordering::Relaxed),
            connected_since: (since > 0).then(|| UNIX_EPOCH + Duration::from_micros(since)),
            failed_attempts: self.failed_attempts.load(Ordering::Relaxed),
            reconnects: self.connects.load(Ordering::Relaxed).saturating_sub(1),
            live_subscriptions: self.live_subscriptions.load(Ordering::Relaxed),
            events_received: self.events.load(Ordering::Relaxed),
            dropped: self.dropped.load(Ordering::Relaxed),
            gaps: self.gaps.load(Ordering::Relaxed),
            caught_up: self.caught_up.load(Ordering::Relaxed),
            rotations: self.rotations.load(Ordering::Relaxed),
        }
    }
}
