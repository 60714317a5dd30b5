//! Catching up on incidents created while the connection was down.
//!
//! `newIncidents` and `criticalIncidents` report creations, and every incident can be listed by the
//! `incidents` query, newest first. So after a reconnect the client resubscribes at once, holds the
//! live events that arrive, pages through `incidents` (same severities, 100 a page) back to the
//! newest incident it had received, delivers what it missed oldest first, then the held live
//! events. The consumer's side skips any incident it has already delivered. If catching up fails,
//! the stream gets a [`crate::Error::Gap`] instead, so a consumer is never told a story with a
//! silent hole in it.
//!
//! The work is split so that the connection task never parses an event: it holds and queues raw
//! payloads, and reads incidents out of them only at a reconnect. The consumer's task, which
//! decodes every event anyway, deduplicates and advances the shared [`Watermark`].

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, Utc};
use incident_schema::enums::{IncidentSortField, SortOrder};
use incident_schema::inputs::{IncidentFilterInput, IncidentSortInput, PaginationInput};
use incident_schema::{Severity, Uuid};
use serde_json::Value;

use crate::error::Result;
use crate::http::HttpClient;
use crate::operations::{ListIncidents, ListIncidentsVariables};
use crate::protocol::RawPayload;

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
    /// For a user's operation: the catch-up query with the operation's own selection, so the
    /// incidents it finds decode into the operation's type. `None`: the SDK's `ListIncidents`.
    pub(crate) query: Option<Arc<str>>,
    /// Started from a checkpoint: catch up as soon as the subscription is sent, not only after a
    /// reconnect.
    pub(crate) resume: bool,
}

/// The newest `createdAt` the consumer has taken, shared by the consumer (which advances it) and
/// the connection task (which catches up from it). Microseconds, rounded down, so a catch-up may
/// fetch an incident twice but never skips one.
#[derive(Debug)]
pub(crate) struct Watermark(AtomicI64);

impl Watermark {
    /// Starts at now, less a second: incidents created just before the subscription reached the
    /// server are not "missed", and the margin covers clock differences between client and server.
    pub(crate) fn starting_now() -> Arc<Self> {
        let start = Utc::now() - chrono::Duration::seconds(1);
        Arc::new(Self(AtomicI64::new(start.timestamp_micros())))
    }

    /// Starts at `start` (a checkpoint's time): a catch-up then fetches what was created since.
    pub(crate) fn starting_at(start: DateTime<Utc>) -> Arc<Self> {
        Arc::new(Self(AtomicI64::new(start.timestamp_micros())))
    }

    pub(crate) fn advance(&self, created: DateTime<Utc>) {
        self.0
            .fetch_max(created.timestamp_micros(), Ordering::Relaxed);
    }

    pub(crate) fn get(&self) -> DateTime<Utc> {
        DateTime::from_timestamp_micros(self.0.load(Ordering::Relaxed)).unwrap_or_default()
    }
}

/// The connection task's part: what to query, and the live payloads held while a catch-up runs.
#[derive(Debug)]
pub(crate) struct CatchupState {
    pub(crate) spec: CatchupSpec,
    pub(crate) watermark: Arc<Watermark>,
    pub(crate) holding: Option<Vec<RawPayload>>,
    /// The catch-up whose result this subscription waits for; older ones are discarded.
    pub(crate) pending: Option<u64>,
    /// A catch-up is due as soon as the subscription is sent (it resumes from a checkpoint).
    pub(crate) resume_pending: bool,
    /// While refilling a consumer whose buffer overflowed: the next oldest-first page to fetch
    /// (`None` until the first is found).
    pub(crate) refill_page: Option<i32>,
}

impl CatchupState {
    pub(crate) fn new(spec: CatchupSpec, watermark: Arc<Watermark>) -> Self {
        Self {
            resume_pending: spec.resume,
            spec,
            watermark,
            holding: None,
            pending: None,
            refill_page: None,
        }
    }

    /// Where a catch-up starts: the newest incident the consumer took, or the newest one still
    /// queued for it (those are delivered before the catch-up, and deduplicated against it).
    pub(crate) fn since(&self, queued: &[RawPayload]) -> DateTime<Utc> {
        queued
            .iter()
            .filter_map(incident_in)
            .map(|(_, created)| created)
            .fold(self.watermark.get(), DateTime::max)
    }
}

/// The consumer's part: the ids it delivered lately, so a caught-up incident is delivered once.
#[derive(Debug, Default)]
pub(crate) struct Dedup {
    seen: HashSet<Uuid, foldhash::fast::RandomState>,
    order: VecDeque<Uuid>,
}

impl Dedup {
    /// Records an incident about to be delivered; false if it was delivered already.
    pub(crate) fn admit(&mut self, id: Uuid) -> bool {
        if !self.seen.insert(id) {
            return false;
        }
        if self.order.len() >= SEEN_CAPACITY
            && let Some(oldest) = self.order.pop_front()
        {
            self.seen.remove(&oldest);
        }
        self.order.push_back(id);
        true
    }
}

/// The incident a `newIncidents`/`criticalIncidents` payload names, if it names one.
pub(crate) fn incident_in(payload: &RawPayload) -> Option<(Uuid, DateTime<Utc>)> {
    let response: KeyResponse = payload.decode(|text| serde_json::from_str(text)).ok()?;
    let incident = response.data?.incident;
    Some((incident.id, incident.created_at))
}

/// Wraps an incident from the catch-up query as a raw payload of the subscription `root_field`.
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
    created_at: DateTime<Utc>,
}

/// Page `page` of the catch-up query: newest first by `createdAt`, asked for explicitly rather
/// than left to the server's default order.
fn page_variables(severities: Option<Vec<Severity>>, page: i32) -> ListIncidentsVariables {
    ordered_page(severities, page, SortOrder::Desc)
}

/// Page `page` of the stream's incidents by `createdAt` in `order`.
fn ordered_page(
    severities: Option<Vec<Severity>>,
    page: i32,
    order: SortOrder,
) -> ListIncidentsVariables {
    ListIncidentsVariables {
        filter: Some(IncidentFilterInput {
            severities,
            ..Default::default()
        }),
        pagination: Some(PaginationInput {
            page,
            page_size: PAGE_SIZE as i32,
        }),
        sort: Some(IncidentSortInput {
            field: IncidentSortField::CreatedAt,
            order,
        }),
    }
}

/// Incidents per page of a catch-up or refill query.
pub(crate) const PAGE_SIZE: usize = 100;

/// One page of the stream's incidents, oldest first: `(incidents, total pages)`. Oldest-first
/// offsets never move (incidents are only ever added, at the end), so a refill can walk them
/// while new incidents are created.
pub(crate) async fn ascending_page(
    http: &HttpClient,
    spec: &CatchupSpec,
    page: i32,
) -> Result<(Vec<Value>, i32)> {
    let variables = ordered_page(spec.severities.clone(), page, SortOrder::Asc);
    let data = fetch(http, spec, variables).await?;
    let connection = &data["incidents"];
    let incidents = connection["incidents"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let pages = connection["pageInfo"]["totalPages"].as_i64().unwrap_or(0) as i32;
    Ok((incidents, pages))
}

/// Runs the stream's listing query, the SDK's `ListIncidents` or a user operation's own
/// selection, and returns its `data`.
async fn fetch(
    http: &HttpClient,
    spec: &CatchupSpec,
    variables: ListIncidentsVariables,
) -> Result<Value> {
    use cynic::QueryBuilder;
    match &spec.query {
        Some(query) => {
            let variables = serde_json::to_value(&variables)
                .map_err(|e| crate::Error::Decode(crate::error::cause(e)))?;
            http.execute_document(query, variables).await
        }
        None => http.execute_raw(ListIncidents::build(variables)).await,
    }
}

/// The creation time of an incident from a query result.
pub(crate) fn created_at(incident: &Value) -> Option<DateTime<Utc>> {
    incident["createdAt"]
        .as_str()
        .and_then(|t| t.parse::<DateTime<Utc>>().ok())
}

/// The first oldest-first page that holds an incident created at or after `since`, by binary
/// search over pages (about log2(pages) queries).
pub(crate) async fn first_page_since(
    http: &HttpClient,
    spec: &CatchupSpec,
    since: DateTime<Utc>,
) -> Result<i32> {
    let (_, pages) = ascending_page(http, spec, 0).await?;
    let (mut low, mut high) = (0, pages.max(1) - 1);
    while low < high {
        let middle = low + (high - low) / 2;
        let (incidents, _) = ascending_page(http, spec, middle).await?;
        let newest = incidents.last().and_then(created_at);
        if newest.is_some_and(|newest| newest < since) {
            low = middle + 1;
        } else {
            high = middle;
        }
    }
    Ok(low)
}

/// Lists incidents created at or after `since` matching `severities`, oldest first. `Ok(None)`
/// when there are more than the catch-up reads.
pub(crate) async fn missed_incidents(
    http: &HttpClient,
    spec: &CatchupSpec,
    since: DateTime<Utc>,
) -> Result<Option<Vec<Value>>> {
    let mut missed = Vec::new();
    for page in 0..MAX_PAGES {
        let data = fetch(http, spec, page_variables(spec.severities.clone(), page)).await?;
        let connection = &data["incidents"];
        let incidents = connection["incidents"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let mut reached_seen = false;
        for incident in incidents {
            if created_at(&incident).is_some_and(|c| c < since) {
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

    #[test]
    fn the_catch_up_query_asks_for_newest_first_by_creation() {
        let variables = page_variables(Some(vec![Severity::P0]), 3);
        let json = serde_json::to_value(&variables).unwrap();
        assert_eq!(
            json["sort"],
            json!({ "field": "CREATED_AT", "order": "DESC" })
        );
        assert_eq!(json["pagination"], json!({ "page": 3, "pageSize": 100 }));
        assert_eq!(json["filter"]["severities"], json!(["P0"]));
    }

    #[test]
    fn repeated_ids_are_not_admitted_twice() {
        let mut dedup = Dedup::default();
        let id = Uuid::new_v4();
        assert!(dedup.admit(id));
        assert!(!dedup.admit(id));
    }

    #[test]
    fn the_memory_of_seen_ids_is_bounded() {
        let mut dedup = Dedup::default();
        let first = Uuid::new_v4();
        assert!(dedup.admit(first));
        for _ in 0..SEEN_CAPACITY {
            assert!(dedup.admit(Uuid::new_v4()));
        }
        assert_eq!(dedup.seen.len(), SEEN_CAPACITY);
        assert!(dedup.admit(first), "the oldest id was forgotten");
    }

    #[test]
    fn the_watermark_only_moves_forward_and_rounds_down() {
        let watermark = Watermark::starting_now();
        assert!(watermark.get() < Utc::now());
        let later: DateTime<Utc> = "2030-01-01T00:00:00.123456789Z".parse().unwrap();
        watermark.advance(later);
        watermark.advance("2029-01-01T00:00:00Z".parse().unwrap());
        assert_eq!(
            watermark.get(),
            "2030-01-01T00:00:00.123456Z"
                .parse::<DateTime<Utc>>()
                .unwrap()
        );
    }

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
    fn a_catch_up_starts_after_what_is_still_queued() {
        let state = CatchupState::new(
            CatchupSpec {
                root_field: "newIncidents",
                severities: None,
                query: None,
                resume: false,
            },
            Watermark::starting_now(),
        );
        let incident = json!({
            "id": Uuid::new_v4(), "createdAt": "2030-01-01T00:00:00+00:00", "title": "t",
            "labels": [{ "key": "a", "value": "b" }],
        });
        let critical: RawPayload = json!({ "data": { "criticalIncidents": incident } })
            .to_string()
            .into();
        let errors: RawPayload = String::from(r#"{"data":null,"errors":[{"message":"x"}]}"#).into();
        assert!(state.since(&[]) < Utc::now());
        assert_eq!(
            state.since(&[
                payload_for("newIncidents", json!({"id": "x"})),
                critical,
                errors
            ]),
            "2030-01-01T00:00:00Z".parse::<DateTime<Utc>>().unwrap()
        );
    }
}
