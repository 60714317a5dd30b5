//! What the server has seen, so tests (and people watching a demo) can wait for a condition
//! instead of sleeping: open connections, live subscriptions per root field, close frames sent by
//! clients. Every change wakes [`crate::DevServerHandle::wait_for`].

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::Notify;

/// The longest a waiter goes without re-checking its condition.
const RECHECK: std::time::Duration = std::time::Duration::from_millis(25);

/// Counters and records of what clients did, shared by every connection of one server.
#[derive(Debug, Default)]
pub struct Activity {
    counts: Mutex<Counts>,
    changed: Notify,
}

#[derive(Debug, Default)]
struct Counts {
    connections: usize,
    accepted: usize,
    subscribes: usize,
    subscribers: BTreeMap<String, usize>,
    client_closes: Vec<(u16, String)>,
    frozen: usize,
    paused: bool,
    traceparents: Vec<String>,
}

impl Activity {
    fn update(&self, change: impl FnOnce(&mut Counts)) {
        change(&mut self.lock());
        self.changed.notify_waiters();
    }

    fn lock(&self) -> MutexGuard<'_, Counts> {
        self.counts.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A WebSocket connection was upgraded; it counts as open until the guard drops.
    pub(crate) fn connection(self: &Arc<Self>) -> ConnectionGuard {
        self.update(|c| {
            c.connections += 1;
            c.accepted += 1;
        });
        ConnectionGuard(self.clone())
    }

    /// A `subscribe` message arrived.
    pub(crate) fn subscribe_received(&self) {
        self.update(|c| c.subscribes += 1);
    }

    /// A subscription to `root_field` receives events from now until the guard drops.
    pub(crate) fn subscriber(self: &Arc<Self>, root_field: &str) -> SubscriberGuard {
        self.update(|c| *c.subscribers.entry(root_field.to_owned()).or_default() += 1);
        SubscriberGuard {
            activity: self.clone(),
            root_field: root_field.to_owned(),
        }
    }

    /// A client sent a close frame.
    pub(crate) fn client_closed(&self, code: u16, reason: &str) {
        self.update(|c| c.client_closes.push((code, reason.to_owned())));
    }

    /// A connection went silent on `freeze_all`.
    pub(crate) fn froze(&self) {
        self.update(|c| c.frozen += 1);
    }

    /// The listener stopped (or resumed) accepting.
    pub(crate) fn set_paused(&self, paused: bool) {
        self.update(|c| c.paused = paused);
    }

    /// An HTTP request carried a W3C `traceparent`.
    pub(crate) fn traced(&self, traceparent: &str) {
        self.update(|c| c.traceparents.push(traceparent.to_owned()));
    }

    pub(crate) fn traceparents(&self) -> Vec<String> {
        self.lock().traceparents.clone()
    }

    pub(crate) fn frozen(&self) -> usize {
        self.lock().frozen
    }

    pub(crate) fn paused(&self) -> bool {
        self.lock().paused
    }

    pub(crate) fn connections(&self) -> usize {
        self.lock().connections
    }

    pub(crate) fn accepted(&self) -> usize {
        self.lock().accepted
    }

    pub(crate) fn subscribes(&self) -> usize {
        self.lock().subscribes
    }

    pub(crate) fn subscribers(&self, root_field: &str) -> usize {
        self.lock()
            .subscribers
            .get(root_field)
            .copied()
            .unwrap_or(0)
    }

    pub(crate) fn client_closes(&self) -> Vec<(u16, String)> {
        self.lock().client_closes.clone()
    }

    /// Waits until `condition` holds, checking it after every change; false on timeout.
    pub(crate) async fn wait_until(
        &self,
        timeout: std::time::Duration,
        mut condition: impl FnMut() -> bool,
    ) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.changed.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if condition() {
                return true;
            }
            let now = tokio::time::Instant::now();
            if now >= deadline {
                return false;
            }
            // Conditions may also read the store, which does not notify: look again at least
            // every 25 ms.
            let _ = tokio::time::timeout((deadline - now).min(RECHECK), notified).await;
        }
    }
}

/// Counts one open connection.
#[derive(Debug)]
pub(crate) struct ConnectionGuard(Arc<Activity>);

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        self.0.update(|c| c.connections -= 1);
    }
}

/// Counts one live subscription.
#[derive(Debug)]
pub(crate) struct SubscriberGuard {
    activity: Arc<Activity>,
    root_field: String,
}

impl Drop for SubscriberGuard {
    fn drop(&mut self) {
        self.activity.update(|c| {
            if let Some(n) = c.subscribers.get_mut(&self.root_field) {
                *n = n.saturating_sub(1);
            }
        });
    }
}
