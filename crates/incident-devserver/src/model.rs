//! The server's data, shaped like the schema's output types so it serializes straight to GraphQL.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Urgency, P0 first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Severity {
    /// Most urgent.
    P0,
    /// High.
    P1,
    /// Medium.
    P2,
    /// Low.
    P3,
    /// Informational.
    P4,
}

impl Severity {
    /// P0 and P1.
    pub fn is_critical(self) -> bool {
        matches!(self, Severity::P0 | Severity::P1)
    }
}

/// Where an incident is in its life; the first four are active.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[allow(missing_docs)]
pub enum IncidentState {
    Detected,
    Triaged,
    Investigating,
    Remediating,
    Resolved,
    Closed,
}

impl IncidentState {
    /// DETECTED, TRIAGED, INVESTIGATING and REMEDIATING.
    pub fn is_active(self) -> bool {
        !matches!(self, IncidentState::Resolved | IncidentState::Closed)
    }
}

/// The area an incident belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[allow(missing_docs)]
pub enum IncidentType {
    Infrastructure,
    Application,
    Security,
    Data,
    Performance,
    Availability,
    Compliance,
    Unknown,
}

/// What an incident update reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[allow(missing_docs)]
pub enum IncidentUpdateType {
    Created,
    Updated,
    StateChanged,
    Resolved,
    Assigned,
    CommentAdded,
    Heartbeat,
}

/// What a timeline entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[allow(missing_docs)]
pub enum EventType {
    Created,
    StateChanged,
    ActionExecuted,
    NotificationSent,
    AssignmentChanged,
    CommentAdded,
    PlaybookStarted,
    PlaybookCompleted,
    Escalated,
    Resolved,
}

/// How an incident was resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[allow(missing_docs)]
pub enum ResolutionMethod {
    Automated,
    Manual,
    AutoAssistedManual,
}

/// How the server answered an alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[allow(missing_docs)]
pub enum AckStatus {
    Accepted,
    Duplicate,
    RateLimited,
    Rejected,
}

/// A key and its value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Label {
    /// The key.
    pub key: String,
    /// The value.
    pub value: String,
}

/// One entry in an incident's history.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct TimelineEvent {
    #[serde(serialize_with = "wire_time")]
    pub timestamp: DateTime<Utc>,
    pub event_type: EventType,
    pub actor: String,
    pub description: String,
    pub metadata: Vec<Label>,
}

/// How an incident was closed out.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct Resolution {
    #[serde(serialize_with = "wire_time")]
    pub resolved_at: DateTime<Utc>,
    pub resolved_by: String,
    pub resolution_method: ResolutionMethod,
    pub root_cause: Option<String>,
    pub notes: String,
}

/// An incident as stored. `relatedIncidents`, `isActive` and `isCritical` are computed on output.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct Incident {
    pub id: Uuid,
    #[serde(serialize_with = "wire_time")]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "wire_time")]
    pub updated_at: DateTime<Utc>,
    pub state: IncidentState,
    pub severity: Severity,
    pub incident_type: IncidentType,
    pub source: String,
    pub title: String,
    pub description: String,
    pub affected_resources: Vec<String>,
    pub labels: Vec<Label>,
    #[serde(skip)]
    pub related: Vec<Uuid>,
    pub resolution: Option<Resolution>,
    pub timeline: Vec<TimelineEvent>,
    pub assignees: Vec<String>,
    pub fingerprint: Option<String>,
    pub correlation_score: Option<f64>,
}

/// An alert as received.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct Alert {
    pub id: Uuid,
    pub external_id: String,
    pub source: String,
    #[serde(serialize_with = "wire_time")]
    pub timestamp: DateTime<Utc>,
    #[serde(serialize_with = "wire_time")]
    pub received_at: DateTime<Utc>,
    pub severity: Severity,
    pub alert_type: IncidentType,
    pub title: String,
    pub description: String,
    pub labels: Vec<Label>,
    pub affected_services: Vec<String>,
    pub runbook_url: Option<String>,
    pub annotations: Vec<Label>,
    pub incident_id: Option<Uuid>,
    pub deduplicated: bool,
    pub parent_alert_id: Option<Uuid>,
    pub is_urgent: bool,
}

/// The receipt for an alert.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct AlertAck {
    pub alert_id: Uuid,
    pub incident_id: Option<Uuid>,
    pub status: AckStatus,
    pub message: String,
    #[serde(serialize_with = "wire_time")]
    pub received_at: DateTime<Utc>,
}

/// A change to some incident, or a heartbeat.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct IncidentUpdate {
    pub update_type: IncidentUpdateType,
    pub incident_id: Option<Uuid>,
    #[serde(serialize_with = "wire_time")]
    pub timestamp: DateTime<Utc>,
}

/// An incident moved between states.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct IncidentStateChange {
    pub incident_id: Uuid,
    pub old_state: IncidentState,
    pub new_state: IncidentState,
    pub changed_by: String,
    #[serde(serialize_with = "wire_time")]
    pub timestamp: DateTime<Utc>,
}

/// An alert as submitted, over GraphQL or REST, before the server has seen it.
#[derive(Debug, Clone)]
#[allow(missing_docs)]
pub struct NewAlert {
    pub external_id: Option<String>,
    pub source: String,
    pub title: String,
    pub description: String,
    pub severity: Severity,
    pub alert_type: IncidentType,
    pub labels: Vec<Label>,
    pub affected_services: Vec<String>,
    pub runbook_url: Option<String>,
    pub annotations: Vec<Label>,
}

/// Turns a JSON object of strings into labels, in key order.
pub fn labels_from_json(object: Option<&serde_json::Map<String, serde_json::Value>>) -> Vec<Label> {
    let mut labels: Vec<Label> = object
        .into_iter()
        .flatten()
        .map(|(key, value)| Label {
            key: key.clone(),
            value: value
                .as_str()
                .map(str::to_owned)
                .unwrap_or_else(|| value.to_string()),
        })
        .collect();
    labels.sort_by(|a, b| a.key.cmp(&b.key));
    labels
}

/// Writes a timestamp the way the real server does: RFC 3339 with a `+00:00` offset (never `Z`)
/// and up to nanoseconds.
pub fn wire_time<S: serde::Serializer>(
    time: &DateTime<Utc>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&time.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, false))
}
