//! The shapes of root fields' arguments, as async-graphql hands them over in JSON.

use serde::Deserialize;
use serde_json::Value;

use crate::data::{SortField, validate_alert};
use crate::model::{IncidentType, NewAlert, ResolutionMethod, Severity, labels_from_json};

/// `IncidentSortInput`: the field, and `ASC` or `DESC` (the default).
#[derive(Deserialize)]
pub(super) struct SortInput {
    pub(super) field: SortField,
    pub(super) order: Option<String>,
}

/// `PaginationInput`. async-graphql's dynamic schema passes input objects as written, so the
/// schema's field defaults are applied here.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub(super) struct Pagination {
    pub(super) page: i64,
    pub(super) page_size: i64,
}

impl Default for Pagination {
    fn default() -> Self {
        Self {
            page: 0,
            page_size: 20,
        }
    }
}

/// `CreateIncidentInput`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct CreateIncidentInput {
    pub(super) source: String,
    pub(super) title: String,
    pub(super) description: String,
    pub(super) severity: Severity,
    pub(super) incident_type: IncidentType,
    #[serde(default)]
    pub(super) affected_resources: Vec<String>,
    #[serde(default)]
    pub(super) labels: serde_json::Map<String, Value>,
}

/// `ResolveIncidentInput`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ResolveInput {
    pub(super) method: ResolutionMethod,
    pub(super) notes: String,
    pub(super) root_cause: Option<String>,
}

/// `SubmitAlertInput`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct SubmitAlertInput {
    pub(super) external_id: Option<String>,
    pub(super) source: String,
    pub(super) title: String,
    pub(super) description: String,
    pub(super) severity: Severity,
    pub(super) alert_type: IncidentType,
    #[serde(default)]
    pub(super) labels: serde_json::Map<String, Value>,
    #[serde(default)]
    pub(super) affected_services: Vec<String>,
    pub(super) runbook_url: Option<String>,
    #[serde(default)]
    pub(super) annotations: serde_json::Map<String, Value>,
}

impl SubmitAlertInput {
    /// The alert, if it passes the real server's rules.
    pub(super) fn into_alert(self) -> async_graphql::Result<NewAlert> {
        validate_alert(&self.source, &self.title)?;
        Ok(NewAlert {
            external_id: self.external_id,
            source: self.source,
            title: self.title,
            description: self.description,
            severity: self.severity,
            alert_type: self.alert_type,
            labels: labels_from_json(Some(&self.labels)),
            affected_services: self.affected_services,
            runbook_url: self.runbook_url,
            annotations: labels_from_json(Some(&self.annotations)),
        })
    }
}
