//! Fault injection: what `DevServerHandle` can do to its clients. Commands reach every open
//! WebSocket connection through one broadcast channel; switches are read by each new connection
//! or request; pausing is a watch the listener follows.

use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::{broadcast, watch};

use super::ws::Control;

/// The faults of one server, shared by its handle, its routes and its listener.
#[derive(Debug)]
pub(crate) struct Faults {
    controls: broadcast::Sender<Control>,
    paused: watch::Sender<bool>,
    withhold_ack: AtomicBool,
    graphql_unavailable: AtomicBool,
    graphql_refusing: AtomicBool,
}

impl Faults {
    /// No faults.
    pub(crate) fn new() -> Self {
        Self {
            controls: broadcast::channel(16).0,
            paused: watch::channel(false).0,
            withhold_ack: AtomicBool::new(false),
            graphql_unavailable: AtomicBool::new(false),
            graphql_refusing: AtomicBool::new(false),
        }
    }

    /// Closes every WebSocket connection with `code` and `reason`.
    pub(crate) fn close_all(&self, code: u16, reason: &str) {
        // No receivers is normal: no connection is open.
        let _ = self.controls.send(Control::Close(code, reason.to_owned()));
    }

    /// Drops every WebSocket connection without a close frame.
    pub(crate) fn drop_all(&self) {
        let _ = self.controls.send(Control::Drop);
    }

    /// Makes every open WebSocket connection go silent while staying open.
    pub(crate) fn freeze_all(&self) {
        let _ = self.controls.send(Control::Freeze);
    }

    /// Stops (or resumes) accepting connections.
    pub(crate) fn pause_accepting(&self, paused: bool) {
        self.paused.send_replace(paused);
    }

    /// While set, `connection_init` is never acknowledged.
    pub(crate) fn withhold_ack(&self, withhold: bool) {
        self.withhold_ack.store(withhold, Ordering::SeqCst);
    }

    /// While set, `POST /graphql` answers 503.
    pub(crate) fn graphql_unavailable(&self, unavailable: bool) {
        self.graphql_unavailable
            .store(unavailable, Ordering::SeqCst);
    }

    /// While set, `POST /graphql` answers every query with a GraphQL error.
    pub(crate) fn graphql_refusing(&self, refusing: bool) {
        self.graphql_refusing.store(refusing, Ordering::SeqCst);
    }

    /// The commands a new connection follows from now on.
    pub(super) fn controls(&self) -> broadcast::Receiver<Control> {
        self.controls.subscribe()
    }

    /// Whether accepting is paused, for a new listener to follow.
    pub(super) fn paused(&self) -> watch::Receiver<bool> {
        self.paused.subscribe()
    }

    pub(super) fn is_withholding_ack(&self) -> bool {
        self.withhold_ack.load(Ordering::SeqCst)
    }

    pub(super) fn is_graphql_unavailable(&self) -> bool {
        self.graphql_unavailable.load(Ordering::SeqCst)
    }

    pub(super) fn is_graphql_refusing(&self) -> bool {
        self.graphql_refusing.load(Ordering::SeqCst)
    }
}
