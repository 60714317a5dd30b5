//! What the server has seen, so tests (and people watching a demo) can wait for a condition
//! instead of sleeping: open connections, live subscriptions per root field, close frames sent by
//! clients, the headers and payloads clients sent, failed TLS handshakes, refused requests.
//!
//! [`Activity`] is both the record (the server's handlers write to it) and the public view of it
//! (`DevServerHandle::activity`). Every change wakes [`Activity::wait_for`].

mod record;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::Notify;

/// The longest a waiter goes without re-checking its condition.
const RECHECK: Duration = Duration::from_millis(25);

/// Counters and records of what clients did on one server, from its start (a
/// `DevServerHandle::restart` keeps them).
///
/// Cheap to clone: every clone reads the same live records, so a value taken once keeps showing
/// what happens afterwards; each method returns the current value. The per-request records
/// (headers, `connection_init` payloads, TLS failures) keep the latest 1,000 entries.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// # let server = incident_devserver::DevServer::builder().start().await.unwrap();
/// let activity = server.activity().clone();
/// assert_eq!(activity.connections(), 0);
/// assert_eq!(activity.subscribers("newIncidents"), 0);
/// assert!(activity.client_closes().is_empty());
/// # }
/// ```
#[derive(Debug, Clone, Default)]
pub struct Activity {
    log: Arc<Log>,
}

#[derive(Debug, Default)]
struct Log {
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
    graphql_refused: usize,
    traceparents: Vec<String>,
    http_headers: Vec<Headers>,
    upgrade_headers: Vec<Headers>,
    init_payloads: Vec<serde_json::Value>,
    tls_failures: Vec<String>,
}

/// One request's headers, lower-case names.
type Headers = Vec<(String, String)>;

impl Activity {
    /// How many WebSocket connections are open.
    pub fn connections(&self) -> usize {
        self.lock().connections
    }

    /// How many WebSocket connections were accepted since the server started.
    pub fn connections_accepted(&self) -> usize {
        self.lock().accepted
    }

    /// How many `subscribe` messages arrived since the server started, on every connection.
    pub fn subscribes_received(&self) -> usize {
        self.lock().subscribes
    }

    /// How many subscriptions to the root field `root_field` (`newIncidents`, ...) receive
    /// events now, on every connection. A subscription counts from the moment an event published
    /// would reach it.
    pub fn subscribers(&self, root_field: &str) -> usize {
        self.lock()
            .subscribers
            .get(root_field)
            .copied()
            .unwrap_or(0)
    }

    /// The close frames clients sent, code and reason, oldest first.
    pub fn client_closes(&self) -> Vec<(u16, String)> {
        self.lock().client_closes.clone()
    }

    /// How many connections went silent on `DevServerHandle::freeze_all`.
    pub fn frozen_connections(&self) -> usize {
        self.lock().frozen
    }

    /// Whether the listener has taken `DevServerHandle::pause_accepting` into account and leaves
    /// new connections in the backlog.
    pub fn is_paused(&self) -> bool {
        self.lock().paused
    }

    /// How many `POST /graphql` requests were answered 503 or refused (see
    /// `DevServerHandle::graphql_unavailable` and `DevServerHandle::graphql_refusing`).
    pub fn graphql_refused(&self) -> usize {
        self.lock().graphql_refused
    }

    /// The W3C `traceparent` headers HTTP requests (GraphQL and REST) carried, oldest first.
    pub fn traceparents(&self) -> Vec<String> {
        self.lock().traceparents.clone()
    }

    /// The values of header `name` (any case) on HTTP requests (GraphQL and REST), oldest first.
    pub fn request_headers(&self, name: &str) -> Vec<String> {
        values(&self.lock().http_headers, name)
    }

    /// The values of header `name` (any case) on WebSocket upgrade requests, oldest first.
    pub fn upgrade_headers(&self, name: &str) -> Vec<String> {
        values(&self.lock().upgrade_headers, name)
    }

    /// The `connection_init` payloads clients sent, oldest first (`null` for none).
    pub fn init_payloads(&self) -> Vec<serde_json::Value> {
        self.lock().init_payloads.clone()
    }

    /// Why TLS handshakes failed (an untrusted or missing client certificate, say), oldest first.
    pub fn tls_failures(&self) -> Vec<String> {
        self.lock().tls_failures.clone()
    }

    /// Waits until `condition` holds, looking again after every change recorded here (and at
    /// least every 25 ms, for conditions that also read other things). Returns false if it still
    /// does not hold after `timeout`.
    pub async fn wait_for(
        &self,
        timeout: Duration,
        mut condition: impl FnMut(&Activity) -> bool,
    ) -> bool {
        self.wait_until(timeout, || condition(self)).await
    }

    /// [`Activity::wait_for`] with a condition that reads anything it likes.
    pub(crate) async fn wait_until(
        &self,
        timeout: Duration,
        mut condition: impl FnMut() -> bool,
    ) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.log.changed.notified();
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

    /// Applies a change and wakes every waiter.
    fn update(&self, change: impl FnOnce(&mut Counts)) {
        change(&mut self.lock());
        self.log.changed.notify_waiters();
    }

    fn lock(&self) -> MutexGuard<'_, Counts> {
        self.log
            .counts
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Every value of header `name` in `records`, oldest first.
fn values(records: &[Headers], name: &str) -> Vec<String> {
    records
        .iter()
        .flatten()
        .filter(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.clone())
        .collect()
}
