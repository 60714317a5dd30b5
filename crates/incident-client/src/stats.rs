//! A cheap snapshot of what the client is doing.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

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
    /// Why the connection task ended, once it has: what a late `subscribe` reports.
    pub(crate) ended: std::sync::OnceLock<crate::Error>,
}

/// What the client has done so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct Stats {
    /// Whether a connection is established and acknowledged now.
    pub connected: bool,
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
    pub(crate) fn snapshot(&self) -> Stats {
        Stats {
            connected: self.connected.load(Ordering::Relaxed),
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
