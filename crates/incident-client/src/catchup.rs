//! What a caught-up stream (`newIncidents`, `criticalIncidents`, a user's operation on either)
//! needs besides its delivery machine ([`crate::delivery`]): the listing query it catches up
//! with, and reading the incident a live event names.
//!
//! The connection task reads only the incident's `id` and `createdAt` from a live event (serde
//! skips the rest without building it); the consumer's task decodes the whole event.

use std::sync::Arc;

use incident_schema::{Severity, Uuid};
use serde_json::Value;

use crate::delivery::Key;
use crate::protocol::RawPayload;

/// Which subscription is caught up, and how.
#[derive(Debug, Clone)]
pub(crate) struct CatchupSpec {
    /// The subscription's root field (`newIncidents`, `criticalIncidents`).
    pub(crate) root_field: &'static str,
    /// The severities the subscription selects; `None` for all.
    pub(crate) severities: Option<Vec<Severity>>,
    /// The listing query: the operation's own selection, so the incidents it finds decode into
    /// the operation's type (see [`crate::custom_catchup`]).
    pub(crate) query: Arc<str>,
    /// The operation's own variables that its selection uses, passed with every listing query.
    pub(crate) variables: serde_json::Map<String, Value>,
}

/// The incident a `newIncidents`/`criticalIncidents` payload names, if it names one.
pub(crate) fn incident_in(payload: &RawPayload) -> Option<Key> {
    let response: KeyResponse = payload.decode(|text| serde_json::from_str(text)).ok()?;
    let incident = response.data?.incident;
    Some(Key {
        created: incident.created_at.timestamp_micros(),
        id: incident.id,
    })
}

/// Wraps an incident from the listing as a raw payload of the subscription `root_field`.
pub(crate) fn payload_for(root_field: &str, incident: Value) -> RawPayload {
    serde_json::json!({ "data": { root_field: incident } })
        .to_string()
        .into()
}

/// Just enough of a `newIncidents`/`criticalIncidents` payload to name its incident; serde skips
/// the rest without building it.
#[derive(serde::Deserialize)]
struct KeyResponse {
    data: Option<KeyData>,
}

#[derive(serde::Deserialize)]
struct KeyData {
    #[serde(rename = "newIncidents", alias = "criticalIncidents")]
    incident: IncidentKey,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct IncidentKey {
    id: Uuid,
    created_at: chrono::DateTime<chrono::Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn incidents_are_wrapped_like_subscription_payloads() {
        let payload: Value =
            serde_json::from_str(payload_for("newIncidents", json!({ "id": "a" })).as_str())
                .unwrap();
        assert_eq!(
            payload,
            json!({ "data": { "newIncidents": { "id": "a" } } })
        );
    }

    #[test]
    fn live_events_name_their_incident_to_the_microsecond() {
        let id = Uuid::new_v4();
        let incident = json!({
            "id": id, "createdAt": "2030-01-01T00:00:00.123456789+00:00", "title": "t",
            "labels": [{ "key": "a", "value": "b" }],
        });
        let critical: RawPayload = json!({ "data": { "criticalIncidents": incident } })
            .to_string()
            .into();
        let key = incident_in(&critical).unwrap();
        assert_eq!(key.id, id);
        assert_eq!(key.created % 1_000_000, 123_456);
        let errors: RawPayload = String::from(r#"{"data":null,"errors":[{"message":"x"}]}"#).into();
        assert!(incident_in(&errors).is_none());
    }
}
