//! Catch-up orchestration: after a reconnect, every caught-up subscription gets a catch-up query
//! that runs inside the connection task's own loop (polled in its `select!`), and every other
//! subscription a gap notice. A catch-up that a newer one superseded is discarded.

use futures::StreamExt;
use futures::future::BoxFuture;
use futures::stream::FuturesUnordered;
use serde_json::Value;
use tracing::{info, warn};

use crate::catchup::{
    PAGE_SIZE, ascending_page, created_at, first_page_since, missed_incidents, payload_for,
};
use crate::error::Result;
use crate::gap::GapWindow;
use crate::http::HttpClient;
use crate::subscription::Buffer;
use crate::table::Table;

/// A finished catch-up query, or one page of a refill.
pub(crate) struct Done {
    id: String,
    run: u64,
    result: Result<Fetched>,
}

/// What a run fetched.
enum Fetched {
    /// Everything missed since the watermark, oldest first; `None` when there was too much.
    Missed(Option<Vec<Value>>),
    /// One oldest-first page of a refill, and its number.
    Page { page: i32, incidents: Vec<Value> },
}

/// The catch-up queries in flight.
pub(crate) struct Recovery {
    running: FuturesUnordered<BoxFuture<'static, Done>>,
    http: HttpClient,
    /// Numbers every catch-up, so a subscription can tell its latest from older ones.
    runs: u64,
}

impl Recovery {
    pub(crate) fn new(http: HttpClient) -> Self {
        Self {
            running: FuturesUnordered::new(),
            http,
            runs: 0,
        }
    }

    fn gap(&self, sink: &Buffer, from: chrono::DateTime<chrono::Utc>) {
        sink.push_gap(GapWindow {
            from,
            until: chrono::Utc::now(),
        });
    }

    /// The next finished catch-up; pending forever while none runs.
    pub(crate) async fn next(&mut self) -> Done {
        match self.running.next().await {
            Some(done) => done,
            None => std::future::pending().await,
        }
    }

    /// After a reconnect (or, for a stream resumed from a checkpoint, once it is first sent):
    /// starts a catch-up for subscription `id` if it has one, or gives it a
    /// gap notice. Live events that arrive meanwhile are held back until the catch-up is done.
    /// `lost_at` is when the previous connection was lost: the start of a gap.
    pub(crate) fn reconnected(
        &mut self,
        table: &mut Table,
        id: &str,
        lost_at: chrono::DateTime<chrono::Utc>,
    ) {
        let Some(entry) = table.get_mut(id) else {
            return;
        };
        let Some(state) = entry.catchup.as_mut() else {
            self.gap(&entry.sink, lost_at);
            return;
        };
        self.runs += 1;
        let run = self.runs;
        state.resume_pending = false;
        state.holding.get_or_insert_with(Vec::new);
        state.pending = Some(run);
        let since = state.since(&entry.sink.queued());
        let spec = state.spec.clone();
        let http = self.http.clone();
        let id = id.to_owned();
        self.running.push(Box::pin(async move {
            let result = missed_incidents(&http, &spec, since)
                .await
                .map(Fetched::Missed);
            Done { id, run, result }
        }));
    }

    /// The consumer of `id`, whose buffer overflowed, has room again: fetches the next page of
    /// what it missed, oldest first. Each page is fetched only when the consumer has room for
    /// it, so memory stays bounded however far behind it fell; once a page comes back short, a
    /// last ordinary catch-up (holding live events) hands over to live delivery.
    pub(crate) fn refill(&mut self, table: &mut Table, id: &str) {
        let Some(entry) = table.get_mut(id) else {
            return;
        };
        let Some(state) = entry.catchup.as_mut() else {
            return;
        };
        if state.pending.is_some() {
            // A catch-up is running; it delivers everything up to now.
            return;
        }
        self.runs += 1;
        let run = self.runs;
        state.pending = Some(run);
        let since = state.watermark.get();
        let next = state.refill_page;
        let spec = state.spec.clone();
        let http = self.http.clone();
        let id = id.to_owned();
        self.running.push(Box::pin(async move {
            let result = async {
                let page = match next {
                    Some(page) => page,
                    None => first_page_since(&http, &spec, since).await?,
                };
                let (incidents, _) = ascending_page(&http, &spec, page).await?;
                Ok(Fetched::Page { page, incidents })
            }
            .await;
            Done { id, run, result }
        }));
    }

    /// Delivers a finished catch-up, oldest first, then the live events held meanwhile. Reports
    /// a gap when it failed or would have had to read too much.
    pub(crate) fn finish(&mut self, table: &mut Table, done: Done) {
        let Done { id, run, result } = done;
        let Some(entry) = table.get_mut(&id) else {
            return;
        };
        let Some(state) = entry.catchup.as_mut() else {
            return;
        };
        if state.pending != Some(run) {
            // A newer reconnect started another catch-up; that one delivers.
            return;
        }
        state.pending = None;
        let root_field = state.spec.root_field;
        let from = state.watermark.get();
        let result = match result {
            Ok(Fetched::Page { page, incidents }) => {
                let full = incidents.len() >= PAGE_SIZE;
                for incident in incidents {
                    // Older ones were delivered before the buffer overflowed.
                    if created_at(&incident).is_none_or(|created| created >= from) {
                        entry.sink.push_recovered(payload_for(root_field, incident));
                    }
                }
                if full {
                    state.refill_page = Some(page + 1);
                    if entry.sink.wait_for_room() {
                        self.refill(table, &id);
                    }
                } else {
                    // The end: hand over to live delivery with an ordinary catch-up, which
                    // holds live events until it has fetched what was created meanwhile.
                    state.refill_page = None;
                    entry.sink.stop_refetching();
                    self.reconnected(table, &id, from);
                }
                return;
            }
            Ok(Fetched::Missed(missed)) => Ok(missed),
            Err(error) => Err(error),
        };
        // An ordinary catch-up delivers everything up to now: no refill is needed after it.
        state.refill_page = None;
        entry.sink.stop_refetching();
        let held = state.holding.take().unwrap_or_default();
        match result {
            Ok(Some(missed)) => {
                // Counted in `Stats::caught_up` as the consumer takes them: some may turn out to
                // be incidents it had already.
                if !missed.is_empty() {
                    info!(
                        subscription = %id,
                        fetched = missed.len(),
                        "caught up on incidents created while disconnected"
                    );
                }
                for incident in missed {
                    entry.sink.push_recovered(payload_for(root_field, incident));
                }
            }
            Ok(None) => {
                warn!(subscription = %id, "too many incidents were missed to catch up; reporting a gap");
                self.gap(&entry.sink, from);
            }
            Err(error) => {
                warn!(subscription = %id, %error, "catching up failed; reporting a gap");
                self.gap(&entry.sink, from);
            }
        }
        let now = crate::telemetry::unix_now();
        for payload in held {
            entry.sink.push_payload(payload, now);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catchup::{CatchupSpec, Watermark};
    use crate::payloads::Payloads;
    use crate::stats::StatsInner;
    use futures::StreamExt;
    use serde_json::json;
    use std::sync::Arc;

    fn incident(title: &str) -> Value {
        json!({ "id": uuid::Uuid::new_v4(), "createdAt": "2030-01-01T00:00:00Z", "title": title })
    }

    #[tokio::test]
    async fn a_superseded_catch_up_is_discarded() {
        let stats = Arc::new(StatsInner::default());
        let http = HttpClient::new(
            "http://127.0.0.1:9/graphql".into(),
            "http://127.0.0.1:9",
            None,
            std::time::Duration::from_secs(1),
            crate::config::Network::direct(),
        );
        let mut recovery = Recovery::new(http);
        let mut table = Table::new(Payloads::default(), stats.clone());
        let metrics = Arc::new(crate::telemetry::StreamMetrics::new("new"));
        let sink = Arc::new(Buffer::new(8, stats, metrics, false));
        let spec = CatchupSpec {
            root_field: "newIncidents",
            severities: None,
            query: None,
            resume: false,
        };
        table.insert(
            "1".into(),
            "{}".into(),
            sink.clone(),
            Some((spec, Watermark::starting_now())),
        );
        recovery.reconnected(&mut table, "1", chrono::Utc::now());
        recovery.reconnected(&mut table, "1", chrono::Utc::now());
        assert_eq!(recovery.running.len(), 2);
        let older = Done {
            id: "1".into(),
            run: 1,
            result: Ok(Fetched::Missed(Some(vec![incident("old")]))),
        };
        recovery.finish(&mut table, older);
        assert!(sink.queued().is_empty(), "the older catch-up was discarded");
        let newer = Done {
            id: "1".into(),
            run: 2,
            result: Ok(Fetched::Missed(Some(vec![incident("new")]))),
        };
        recovery.finish(&mut table, newer);
        let queued = sink.queued();
        assert_eq!(queued.len(), 1);
        assert!(queued[0].as_str().contains("\"new\""), "{queued:?}");
        // The queries themselves run in the connection task's loop: polled, they fail (nothing
        // listens on port 9) and come back as results, not as commands.
        let done =
            tokio::time::timeout(std::time::Duration::from_secs(10), recovery.running.next())
                .await
                .unwrap()
                .unwrap();
        assert!(done.result.is_err());
    }
}
