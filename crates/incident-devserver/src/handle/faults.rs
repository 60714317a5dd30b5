//! The handle's fault injection, for tests of how clients cope: each method flips a switch or
//! sends a command in the server layer's `Faults`.

use super::DevServerHandle;

impl DevServerHandle {
    /// Closes every WebSocket connection with `code` and `reason`.
    pub fn close_all(&self, code: u16, reason: &str) {
        self.inner.app.faults.close_all(code, reason);
    }

    /// Drops every WebSocket connection without a close frame.
    pub fn drop_all(&self) {
        self.inner.app.faults.drop_all();
    }

    /// Makes every open WebSocket connection go silent while staying open (half-open), until it
    /// is dropped or the server shuts down.
    pub fn freeze_all(&self) {
        self.inner.app.faults.freeze_all();
    }

    /// Stops (or resumes) accepting connections; waiting clients sit in the backlog. Set while
    /// stopped (during [`DevServerHandle::restart`]'s downtime), it holds once serving resumes.
    pub fn pause_accepting(&self, paused: bool) {
        self.inner.app.faults.pause_accepting(paused);
    }

    /// While set, `connection_init` is never acknowledged.
    pub fn withhold_ack(&self, withhold: bool) {
        self.inner.app.faults.withhold_ack(withhold);
    }

    /// While set, `POST /graphql` answers 503 Service Unavailable (queries, mutations and the
    /// SDK's catch-up listings alike), as an overloaded server or a failing proxy would.
    pub fn graphql_unavailable(&self, unavailable: bool) {
        self.inner.app.faults.graphql_unavailable(unavailable);
    }

    /// While set, `POST /graphql` answers every query with a GraphQL error (HTTP 200, `data:
    /// null`), as a server that no longer accepts a query would: retrying cannot help.
    pub fn graphql_refusing(&self, refusing: bool) {
        self.inner.app.faults.graphql_refusing(refusing);
    }
}
