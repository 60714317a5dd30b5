//! What [`crate::IncidentClient::incident_updates`] filters on.

use incident_schema::{Severity, Uuid};

/// Filters for [`crate::IncidentClient::incident_updates`]; every part optional. Built with
/// `UpdateFilter::default()` (everything) and the methods below; the fields can be read and
/// changed, and new ones may be added.
///
/// ```
/// # use incident_client::{Severity, UpdateFilter};
/// let filter = UpdateFilter::default().severities([Severity::P0, Severity::P1]).active_only(true);
/// assert_eq!(filter.active_only, Some(true));
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct UpdateFilter {
    /// Only these incidents.
    pub incident_ids: Option<Vec<Uuid>>,
    /// Only incidents of these severities.
    pub severities: Option<Vec<Severity>>,
    /// Only active incidents.
    pub active_only: Option<bool>,
}

impl UpdateFilter {
    /// Only these incidents.
    pub fn incidents(mut self, ids: impl IntoIterator<Item = Uuid>) -> Self {
        self.incident_ids = Some(ids.into_iter().collect());
        self
    }

    /// Only incidents of these severities.
    pub fn severities(mut self, severities: impl IntoIterator<Item = Severity>) -> Self {
        self.severities = Some(severities.into_iter().collect());
        self
    }

    /// Only active incidents (`true`), or only inactive ones (`false`).
    pub fn active_only(mut self, active_only: bool) -> Self {
        self.active_only = Some(active_only);
        self
    }
}
