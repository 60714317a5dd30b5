//! The REST alert endpoint's request and answer.

use std::collections::BTreeMap;

use incident_schema::{IncidentType, Severity};
use serde::{Deserialize, Serialize, Serializer};

/// An alert for `POST /v1/alerts`. REST writes enums in PascalCase (`"Infrastructure"`), unlike
/// GraphQL; this type takes the schema's enums and writes them the REST way.
///
/// Built with [`AlertSubmission::new`]; the optional fields are then set directly
/// (`alert.description = ...`). New fields may be added.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[non_exhaustive]
pub struct AlertSubmission {
    /// The sending system's own id for the alert.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub external_id: Option<String>,
    /// The monitoring source (non-empty).
    pub source: String,
    /// 1 to 500 characters.
    pub title: String,
    /// Free text.
    pub description: String,
    /// P0 to P4.
    #[serde(serialize_with = "severity")]
    pub severity: Severity,
    /// The area the alert belongs to.
    #[serde(serialize_with = "alert_type")]
    pub alert_type: IncidentType,
    /// Free-form labels.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Services the alert concerns.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub affected_services: Vec<String>,
    /// A runbook link.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub runbook_url: Option<String>,
}

impl AlertSubmission {
    /// An alert with the required fields and nothing else.
    pub fn new(
        source: impl Into<String>,
        title: impl Into<String>,
        severity: Severity,
        alert_type: IncidentType,
    ) -> Self {
        Self {
            external_id: None,
            source: source.into(),
            title: title.into(),
            description: String::new(),
            severity,
            alert_type,
            labels: BTreeMap::new(),
            affected_services: Vec::new(),
            runbook_url: None,
        }
    }
}

/// How the server took an alert.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub enum AlertStatus {
    /// It opened an incident.
    Accepted,
    /// It repeated an alert inside the deduplication window; `incident_id` is the existing incident.
    Duplicate,
    /// The server is shedding load.
    RateLimited,
    /// The server refused it.
    Rejected,
    /// A status this version does not know.
    #[serde(untagged)]
    Other(String),
}

/// The server's answer to an alert.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct AlertReceipt {
    /// The alert's id.
    pub alert_id: uuid::Uuid,
    /// The incident it opened or joined.
    pub incident_id: Option<uuid::Uuid>,
    /// What happened.
    pub status: AlertStatus,
    /// The server's words.
    pub message: String,
    /// Execution metadata, as the server sent it.
    #[serde(default)]
    pub execution: serde_json::Value,
}

fn severity<S: Serializer>(value: &Severity, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(value.as_str())
}

fn alert_type<S: Serializer>(value: &IncidentType, serializer: S) -> Result<S::Ok, S::Error> {
    let upper = value.as_str();
    let mut pascal = String::with_capacity(upper.len());
    for (i, c) in upper.chars().enumerate() {
        pascal.push(if i == 0 { c } else { c.to_ascii_lowercase() });
    }
    serializer.serialize_str(&pascal)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn submissions_use_rest_spelling() {
        let alert = AlertSubmission::new(
            "prom",
            "Disk full",
            Severity::P1,
            IncidentType::Infrastructure,
        );
        assert_eq!(
            serde_json::to_value(&alert).unwrap(),
            serde_json::json!({ "source": "prom", "title": "Disk full", "description": "", "severity": "P1", "alert_type": "Infrastructure" })
        );
    }

    #[test]
    fn unknown_statuses_are_kept() {
        let receipt: AlertReceipt = serde_json::from_value(serde_json::json!({
            "alert_id": "7f1d3f0e-8a3c-4c4e-9d59-8a3c4c4e9d59", "incident_id": null, "status": "Queued", "message": "later"
        }))
        .unwrap();
        assert_eq!(receipt.status, AlertStatus::Other("Queued".into()));
    }
}
