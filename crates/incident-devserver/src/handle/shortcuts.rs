//! Shortcuts for reading [`DevServerHandle::activity`]: each is the [`Activity`] method of the
//! same name, kept on the handle because most tests read one value at a time.

use std::time::Duration;

use super::DevServerHandle;
use crate::activity::Activity;

impl DevServerHandle {
    /// How many WebSocket connections are open. Shortcut for [`Activity::connections`].
    pub fn connections(&self) -> usize {
        self.activity().connections()
    }

    /// How many WebSocket connections were accepted since the server started. Shortcut for
    /// [`Activity::connections_accepted`].
    pub fn connections_accepted(&self) -> usize {
        self.activity().connections_accepted()
    }

    /// How many `subscribe` messages arrived since the server started, on every connection.
    /// Shortcut for [`Activity::subscribes_received`].
    pub fn subscribes_received(&self) -> usize {
        self.activity().subscribes_received()
    }

    /// How many subscriptions to the root field `root_field` (`newIncidents`, ...) receive
    /// events now, on every connection. A subscription counts from the moment an event published
    /// would reach it. Shortcut for [`Activity::subscribers`].
    pub fn subscribers(&self, root_field: &str) -> usize {
        self.activity().subscribers(root_field)
    }

    /// The W3C `traceparent` headers HTTP requests (GraphQL and REST) carried, oldest first.
    /// Shortcut for [`Activity::traceparents`].
    pub fn traceparents(&self) -> Vec<String> {
        self.activity().traceparents()
    }

    /// The values of header `name` on HTTP requests (GraphQL and REST), oldest first (the latest
    /// 1,000 requests are kept). Shortcut for [`Activity::request_headers`].
    pub fn request_headers(&self, name: &str) -> Vec<String> {
        self.activity().request_headers(name)
    }

    /// The values of header `name` on WebSocket upgrade requests, oldest first. Shortcut for
    /// [`Activity::upgrade_headers`].
    pub fn upgrade_headers(&self, name: &str) -> Vec<String> {
        self.activity().upgrade_headers(name)
    }

    /// The `connection_init` payloads clients sent, oldest first. Shortcut for
    /// [`Activity::init_payloads`].
    pub fn init_payloads(&self) -> Vec<serde_json::Value> {
        self.activity().init_payloads()
    }

    /// Why TLS handshakes failed (an untrusted or missing client certificate, say), oldest first.
    /// Shortcut for [`Activity::tls_failures`].
    pub fn tls_failures(&self) -> Vec<String> {
        self.activity().tls_failures()
    }

    /// How many connections went silent on [`DevServerHandle::freeze_all`]. Shortcut for
    /// [`Activity::frozen_connections`].
    pub fn frozen_connections(&self) -> usize {
        self.activity().frozen_connections()
    }

    /// Whether the listener has taken [`DevServerHandle::pause_accepting`] into account and
    /// leaves new connections in the backlog. Shortcut for [`Activity::is_paused`].
    pub fn is_paused(&self) -> bool {
        self.activity().is_paused()
    }

    /// The close frames clients sent, code and reason, oldest first. Shortcut for
    /// [`Activity::client_closes`].
    pub fn client_closes(&self) -> Vec<(u16, String)> {
        self.activity().client_closes()
    }

    /// How many `POST /graphql` requests were answered 503 or refused. Shortcut for
    /// [`Activity::graphql_refused`].
    pub fn graphql_refused(&self) -> usize {
        self.activity().graphql_refused()
    }

    /// Waits until `condition` holds, looking again whenever a connection or subscription comes
    /// or goes (and at least every 25 ms). Returns false if it still does not hold after
    /// `timeout`; for tests that would otherwise sleep and hope. [`Activity::wait_for`] is the
    /// same with the activity as the condition's argument.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// # let server = incident_devserver::DevServer::builder().start().await.unwrap();
    /// use std::time::Duration;
    /// let idle = server.wait_for(Duration::from_secs(1), |s| s.connections() == 0).await;
    /// assert!(idle);
    /// # }
    /// ```
    pub async fn wait_for(
        &self,
        timeout: Duration,
        mut condition: impl FnMut(&DevServerHandle) -> bool,
    ) -> bool {
        Activity::wait_until(self.activity(), timeout, || condition(self)).await
    }
}
