//! Catching up on incidents created while the connection was down.
//!
//! `newIncidents` and `criticalIncidents` report creations, and every incident can be listed by the
//! `incidents` query, newest first. So after a reconnect the client resubscribes at once, holds the
//! live events that arrive, pages through `incidents` (same severities, 100 a page) back to the
//! newest incident it had seen, delivers what it missed oldest first, then the held live events,
//! skipping any id it has already delivered. If catching up fails, the stream gets a
//! [`crate::Error::Gap`] instead, so a consumer is never told a story with a silent hole in it.

use std::collections::{HashSet, VecDeque};

use chrono::{DateTime, Utc};
use incident_schema::inputs::{IncidentFilterInput, PaginationInput};
use incident_schema::{Severity, Uuid};
use serde_json::Value;

use crate::error::Result;
use crate::http::HttpClient;
use crate::operations::{ListIncidents, ListIncidentsVariables};

/// The most pages a catch-up reads (10,000 incidents) before it reports a gap instead.
const MAX_PAGES: i32 = 100;
/// How many delivered ids a subscription remembers for deduplication.
const SEEN_CAPACITY: usize = 4096;

/// Which subscription is caught up, and how.
#[derive(Debug, Clone)]
pub(crate) struct CatchupSpec {
    /// The subscription's root field (`newIncidents`, `criticalIncidents`).
    pub(crate) root_field: &'static str,
    /// The severities the subscription selects; `None` for all.
    pub(crate) severities: Option<Vec<Severity>>,
}

/// Per-subscription catch-up bookkeeping.
#[derive(Debug)]
pub(crate) struct CatchupState {
    pub(crate) spec: CatchupSpec,
    seen: HashSet<Uuid>,
    order: VecDeque<Uuid>,
    /// The newest `createdAt` delivered, or when the subscription started.
    pub(crate) watermark: DateTime<Utc>,
    /// Live payloads (raw JSON) held while a catch-up runs.
    pub(crate) holding: Option<Vec<String>>,
}

impl CatchupState {
    pub(crate) fn new(spec: CatchupSpec) -> Self {
        Self {
            spec,
            seen: HashSet::new(),
            order: VecDeque::new(),
            // Incidents created just before the subscription reached the server are not "missed";
            // a small margin covers clock differences between client and server.
            watermark: Utc::now() - chrono::Duration::seconds(1),
            holding: None,
        }
    }

    /// Records an incident about to be delivered; false if it was delivered already.
    pub(crate) fn admit(&mut self, id: Uuid, created: DateTime<Utc>) -> bool {
        if !self.seen.insert(id) {
            return false;
        }
        if self.order.len() >= SEEN_CAPACITY
            && let Some(oldest) = self.order.pop_front()
        {
            self.seen.remove(&oldest);
        }
        self.order.push_back(id);
        self.watermark = self.watermark.max(created);
        true
    }

    /// Wraps an incident from the catch-up query as a raw subscription payload.
    pub(crate) fn payload_for(&self, incident: Value) -> String {
        serde_json::json!({ "data": { self.spec.root_field: incident } }).to_string()
    }
}

/// Lists incidents created at or after `since` matching `severities`, oldest first. `Ok(None)`
/// when there are more than the catch-up reads.
pub(crate) async fn missed_incidents(
    http: &HttpClient,
    severities: Option<Vec<Severity>>,
    since: DateTime<Utc>,
) -> Result<Option<Vec<Value>>> {
    let mut missed = Vec::new();
    for page in 0..MAX_PAGES {
        let variables = ListIncidentsVariables {
            filter: Some(IncidentFilterInput {
                severities: severities.clone(),
                ..Default::default()
            }),
            pagination: Some(PaginationInput {
                page,
                page_size: 100,
            }),
            sort: None,
        };
        use cynic::QueryBuilder;
        let data = http.execute_raw(ListIncidents::build(variables)).await?;
        let connection = &data["incidents"];
        let incidents = connection["incidents"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let mut reached_seen = false;
        for incident in incidents {
            let created = incident["createdAt"]
                .as_str()
                .and_then(|t| t.parse::<DateTime<Utc>>().ok());
            if created.is_some_and(|c| c < since) {
                reached_seen = true;
                break;
            }
            missed.push(incident);
        }
        if reached_seen || connection["pageInfo"]["hasNextPage"] != Value::Bool(true) {
            missed.reverse();
            return Ok(Some(missed));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn state() -> CatchupState {
        CatchupState::new(CatchupSpec {
            root_field: "newIncidents",
            severities: None,
        })
    }

    #[test]
    fn repeated_ids_are_not_admitted_twice() {
        let mut state = state();
        let id = Uuid::new_v4();
        let created: DateTime<Utc> = "2030-01-01T00:00:00Z".parse().unwrap();
        assert!(state.admit(id, created));
        assert!(!state.admit(id, created));
        assert_eq!(state.watermark, created);
    }

    #[test]
    fn the_memory_of_seen_ids_is_bounded() {
        let mut state = state();
        let first = Uuid::new_v4();
        assert!(state.admit(first, Utc::now()));
        for _ in 0..SEEN_CAPACITY {
            assert!(state.admit(Uuid::new_v4(), Utc::now()));
        }
        assert_eq!(state.seen.len(), SEEN_CAPACITY);
        assert!(
            state.admit(first, Utc::now()),
            "the oldest id was forgotten"
        );
    }

    #[test]
    fn incidents_are_wrapped_like_subscription_payloads() {
        let payload: Value =
            serde_json::from_str(&state().payload_for(json!({ "id": "a" }))).unwrap();
        assert_eq!(
            payload,
            json!({ "data": { "newIncidents": { "id": "a" } } })
        );
    }
}
