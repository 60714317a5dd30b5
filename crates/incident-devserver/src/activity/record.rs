//! Recording: what the server's handlers call as things happen, and the guards that count open
//! connections and live subscriptions for as long as they exist.

use super::{Activity, Headers};

/// How many requests' headers (and `connection_init` payloads, and TLS failures) are kept: the
/// latest.
const KEPT: usize = 1000;

impl Activity {
    /// A WebSocket connection was upgraded; it counts as open until the guard drops.
    pub(crate) fn connection(&self) -> ConnectionGuard {
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
    pub(crate) fn subscriber(&self, root_field: &str) -> SubscriberGuard {
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

    /// A `POST /graphql` was answered 503 or refused.
    pub(crate) fn refused_graphql(&self) {
        self.update(|c| c.graphql_refused += 1);
    }

    /// An HTTP request (GraphQL or REST) arrived with these headers; its W3C `traceparent`, if
    /// any, is kept on its own as well.
    pub(crate) fn http_request(&self, headers: &axum::http::HeaderMap) {
        let traceparent = headers
            .get("traceparent")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        self.update(|c| {
            keep(&mut c.http_headers, headers_of(headers));
            if let Some(traceparent) = traceparent {
                c.traceparents.push(traceparent);
            }
        });
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
}

/// Counts one open connection.
#[derive(Debug)]
pub(crate) struct ConnectionGuard(Activity);

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        self.0.update(|c| c.connections -= 1);
    }
}

/// Counts one live subscription.
#[derive(Debug)]
pub(crate) struct SubscriberGuard {
    activity: Activity,
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
