//! Reading the catch-up listing: one page of `incidents` as [`Listed`] incidents.
//!
//! Every caught-up stream, the SDK's and a user's, reads the listing with one query shape (see
//! [`crate::custom_catchup`]): the stream's own selection plus two aliased fields the SDK reads
//! and removes, `sdkSeverity: severity` and `sdkTimeline: timeline { eventType description
//! metadata { key value } }`. They tell the severity an incident was opened with, which is what
//! live delivery filtered on: an incident opened as P3 and escalated to P1 belongs to a P3
//! stream, not to `critical_incidents`.

use incident_schema::{Severity, Uuid};
use serde_json::Value;

use super::{Key, Listed, Page};
use crate::catchup::payload_for;

/// The alias of the severity the catch-up query adds.
pub(crate) const SEVERITY_ALIAS: &str = "sdkSeverity";
/// The alias of the timeline the catch-up query adds.
pub(crate) const TIMELINE_ALIAS: &str = "sdkTimeline";

/// What the catch-up query adds to the stream's selection.
pub(crate) const ADDED_SELECTION: &str =
    "sdkSeverity: severity sdkTimeline: timeline { eventType description metadata { key value } }";

/// Reads a listing answer's `data`, wrapping each incident as a `root_field` event payload.
/// Incidents without an id or a stamp are skipped (the query selects them), though counted:
/// a page is full by what the server listed.
pub(crate) fn page_of(data: &Value, root_field: &str) -> Page {
    let connection = &data["incidents"];
    let total_pages = connection["pageInfo"]["totalPages"].as_i64().unwrap_or(0) as i32;
    let all = connection["incidents"]
        .as_array()
        .map_or(&[][..], Vec::as_slice);
    let incidents = all
        .iter()
        .filter_map(|incident| listed(incident.clone(), root_field))
        .collect();
    Page {
        incidents,
        listed: all.len(),
        total_pages,
    }
}

fn listed(mut incident: Value, root_field: &str) -> Option<Listed> {
    let id: Uuid = incident["id"].as_str()?.parse().ok()?;
    let created = incident["createdAt"]
        .as_str()?
        .parse::<chrono::DateTime<chrono::Utc>>()
        .ok()?
        .timestamp_micros();
    let object = incident.as_object_mut()?;
    // A severity this SDK does not know: only a stream without a severity filter takes it.
    let current: Option<Severity> = object
        .remove(SEVERITY_ALIAS)
        .and_then(|s| s.as_str().and_then(|s| s.parse().ok()));
    let timeline = object.remove(TIMELINE_ALIAS).unwrap_or_default();
    let escalations: Vec<String> = timeline
        .as_array()
        .into_iter()
        .flatten()
        .filter(|event| event["eventType"] == "ESCALATED")
        .map(escalated_from)
        .collect();
    Some(Listed {
        key: Key { created, id },
        opened: match current {
            Some(current) => Some(opened_with(current, &escalations)),
            None => escalations.first().and_then(|text| opened_from(text)),
        },
        payload: payload_for(root_field, incident),
    })
}

/// An escalation event as `"FROM -> TO"`: from its `from` metadata when it has one, else its
/// description (the dev server writes `"P3 -> P1: reason"`).
fn escalated_from(event: &Value) -> String {
    let from = event["metadata"].as_array().and_then(|labels| {
        labels
            .iter()
            .find(|label| label["key"] == "from")
            .and_then(|label| label["value"].as_str())
    });
    match from {
        Some(from) => format!("{from} ->"),
        None => event["description"].as_str().unwrap_or_default().to_owned(),
    }
}

/// The severity an incident was opened with: the `from` of its first escalation, or its
/// severity now if it was never escalated (or the escalation cannot be read).
pub(crate) fn opened_with(current: Severity, escalations: &[String]) -> Severity {
    escalations
        .first()
        .and_then(|text| opened_from(text))
        .unwrap_or(current)
}

/// The `FROM` of an escalation's `"FROM -> TO"`.
fn opened_from(text: &str) -> Option<Severity> {
    text.split("->").next()?.trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_first_escalation_tells_the_opening_severity() {
        let check = |current, texts: &[&str], expected| {
            let texts: Vec<String> = texts.iter().map(|t| t.to_string()).collect();
            assert_eq!(opened_with(current, &texts), expected, "{texts:?}");
        };
        check(Severity::P2, &[], Severity::P2);
        check(
            Severity::P0,
            &["P3 -> P1: paged", "P1 -> P0: worse"],
            Severity::P3,
        );
        check(Severity::P1, &["P2 ->"], Severity::P2);
        check(Severity::P1, &["unreadable"], Severity::P1);
    }

    #[test]
    fn pages_drop_the_added_fields_and_wrap_incidents_as_events() {
        let data = json!({ "incidents": {
            "incidents": [{
                "id": "6f1c3a2e-1111-4e3b-9a51-3b1d4d0f8c2a",
                "createdAt": "2026-11-26T19:22:14.791139941+00:00",
                "title": "disk",
                "sdkSeverity": "P1",
                "sdkTimeline": [
                    { "eventType": "CREATED", "description": "opened", "metadata": [] },
                    { "eventType": "ESCALATED", "description": "x", "metadata": [{ "key": "from", "value": "P3" }] },
                ],
            }, { "id": "not an id" }],
            "pageInfo": { "totalPages": 7 },
        }});
        let page = page_of(&data, "newIncidents");
        assert_eq!(page.total_pages, 7);
        assert_eq!((page.incidents.len(), page.listed), (1, 2));
        let listed = &page.incidents[0];
        assert_eq!(listed.opened, Some(Severity::P3));
        assert_eq!(listed.key.created % 1_000_000, 791_139);
        let payload: Value = serde_json::from_str(listed.payload.as_str()).unwrap();
        assert_eq!(
            payload,
            json!({ "data": { "newIncidents": {
                "id": "6f1c3a2e-1111-4e3b-9a51-3b1d4d0f8c2a",
                "createdAt": "2026-11-26T19:22:14.791139941+00:00",
                "title": "disk",
            }}})
        );
    }
}
