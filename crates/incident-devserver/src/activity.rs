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
    http_headers: Vec<Headers>,
    upgrade_headers: Vec<Headers>,
    init_payloads: Vec<serde_json::Value>,
    tls_failures: Vec<String>,
}

/// One request's headers, lower-case names.
type Headers = Vec<(String, String)>;

/// How many requests' headers (and `connection_init` payloads) are kept: the latest.
const KEPT: usize = 1000;

fn keep<T>(records: &mut Vec<T>, record: T) {
    if records.len() >= KEPT {
        records.remove(0);
    }
    records.push(record);
}

fn headers_of(headers: &axum::http::HeaderMap) -> Headers {
    headers
        .iter()
        .map(|(name, value)| {
            (
                name.as_str().to_owned(),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            )
        })
        .collect()
}

fn values(records: &[Headers], name: &str) -> Vec<String> {
    records
        .iter()
        .flatten()
        .filter(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.clone())
        .collect()
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

    /// An HTTP request (GraphQL or REST) arrived with these headers.
    pub(crate) fn http_request(&self, headers: &axum::http::HeaderMap) {
        self.update(|c| keep(&mut c.http_headers, headers_of(headers)));
    }

    /// A WebSocket upgrade request arrived with these headers.
    pub(crate) fn upgrade_request(&self, headers: &axum::http::HeaderMap) {
        self.update(|c| keep(&mut c.upgrade_headers, headers_of(headers)));
    }

    /// A client sent `connection_init` with this payload.
    pub(crate) fn init_payload(&self, payload: serde_json::Value) {
        self.update(|c| keep(&mut c.init_payloads, payload));
    }

    /// A TLS handshake failed.
    pub(crate) fn tls_failure(&self, error: String) {
        self.update(|c| keep(&mut c.tls_failures, error));
    }

    pub(crate) fn http_header_values(&self, name: &str) -> Vec<String> {
        values(&self.lock().http_headers, name)
    }

    pub(crate) fn upgrade_header_values(&self, name: &str) -> Vec<String> {
        values(&self.lock().upgrade_headers, name)
    }

    pub(crate) fn init_payloads(&self) -> Vec<serde_json::Value> {
        self.lock().init_payloads.clone()
    }

    pub(crate) fn tls_failures(&self) -> Vec<String> {
        self.lock().tls_failures.clone()
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
