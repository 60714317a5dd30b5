//! What a gap notice covers, and the query that reconciles it.

use incident_schema::Timestamp;

/// The time window in which a stream may have missed events: from when the connection was lost
/// (or the catch-up began) until the stream was live again. [`crate::Subscription::last_gap`]
/// gives it after an [`crate::Error::Gap`]; reconcile with
/// [`crate::IncidentClient::incidents_changed_since`]`(window.from)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct GapWindow {
    /// The start of the window: nothing before it is missing.
    pub from: Timestamp,
    /// The end of the window: the stream was live again.
    pub until: Timestamp,
}

impl GapWindow {
    /// The window covering both.
    pub(crate) fn union(self, other: GapWindow) -> GapWindow {
        GapWindow {
            from: self.from.min(other.from),
            until: self.until.max(other.until),
        }
    }
}
