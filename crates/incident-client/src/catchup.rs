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

/// The incident a `newIncidents`/`criticalIncidents` payload names, if it names one. Runs for
/// every live event of a caught-up stream, so it first looks for the two members where they
/// are (a scan, no parse), and parses only when that fails.
pub(crate) fn incident_in(payload: &RawPayload) -> Option<Key> {
    if let Some(key) = scanned_key(payload.as_str()) {
        return Some(key);
    }
    let response: KeyResponse = payload.decode(|text| serde_json::from_str(text)).ok()?;
    let incident = response.data?.incident;
    Some(Key {
        created: incident.created_at.timestamp_micros(),
        id: incident.id,
    })
}

/// `id` and `createdAt` of `{"data":{"<root>":{..}}}`, found as members of the incident object
/// itself (depth 3): every `"id":"` in JSON text is a member name (quotes inside strings are
/// escaped), so only its depth needs checking.
fn scanned_key(text: &str) -> Option<Key> {
    if !text.trim_start().starts_with(r#"{"data":{"#) {
        return None;
    }
    let id = member_at_depth_3(text, r#""id":""#)?;
    let created = member_at_depth_3(text, r#""createdAt":""#)?;
    Some(Key {
        id: id.parse().ok()?,
        created: chrono::DateTime::parse_from_rfc3339(created)
            .ok()?
            .timestamp_micros(),
    })
}

/// The string value of the first member `needle` (`"name":"`) at depth 3.
fn member_at_depth_3<'a>(text: &'a str, needle: &str) -> Option<&'a str> {
    let bytes = text.as_bytes();
    let at =
        memchr::memmem::find_iter(bytes, needle.as_bytes()).find(|&at| depth_at(bytes, at) == 3)?;
    let start = at + needle.len();
    let end = start + memchr::memchr2(b'"', b'\\', &bytes[start..])?;
    // An escape in the value: not a plain id or stamp; the parser decides.
    (bytes[end] == b'"').then(|| &text[start..end])
}

/// How deeply nested position `end` of JSON text is.
fn depth_at(bytes: &[u8], end: usize) -> usize {
    let (mut depth, mut in_string, mut i) = (0usize, false, 0);
    while i < end {
        match (in_string, bytes[i]) {
            (true, b'\\') => i += 1,
            (true, b'"') => in_string = false,
            (false, b'"') => in_string = true,
            (false, b'{' | b'[') => depth += 1,
            (false, b'}' | b']') => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    depth
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

    #[test]
    fn the_scan_finds_the_incidents_own_members_and_agrees_with_the_parser() {
        let id = Uuid::new_v4();
        let cases = [
            // Nested ids and stamps first, odd spacing, a string holding the needle.
            json!({ "data": { "newIncidents": {
                "relatedIncidents": [{ "id": Uuid::new_v4(), "createdAt": "2001-01-01T00:00:00Z" }],
                "title": "\"id\":\"x\" {[", "id": id, "createdAt": "2030-01-01T00:00:00.5+00:00",
            }}}),
            json!({ "data": { "criticalIncidents": { "createdAt": "2030-01-01T00:00:00.5Z", "id": id } } }),
        ];
        for case in cases {
            let text = case.to_string();
            let scanned = scanned_key(&text).expect("found by the scan");
            assert_eq!(scanned.id, id, "{text}");
            assert_eq!(scanned.created % 1_000_000, 500_000, "{text}");
            let payload: RawPayload = text.into();
            assert_eq!(incident_in(&payload), Some(scanned));
        }
        assert!(scanned_key(r#"{"data":{"newIncidents":{"title":"t"}}}"#).is_none());
    }
}
