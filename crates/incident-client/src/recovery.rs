//! The driver of the caught-up streams' delivery machines ([`crate::delivery`]): it feeds each
//! machine what happened and executes what it asks for. The listing queries run inside the
//! connection task's own loop (polled in its `select!`), and so do the machines' timers. Nothing
//! here decides what a consumer sees.

use std::collections::BTreeSet;

use futures::StreamExt;
use futures::future::BoxFuture;
use futures::stream::FuturesUnordered;
use serde_json::json;
use tokio::time::Instant;
use tracing::{debug, warn};

use crate::catchup::CatchupSpec;
use crate::delivery::{Action, Failure, PAGE_SIZE, Page, Query, listing};
use crate::error::Error;
use crate::http::HttpClient;
use crate::subscription::EndReason;
use crate::table::{Entry, Table};

/// Something the machines wait for: an answered query or a timer.
pub(crate) enum Done {
    Page {
        id: String,
        request: u64,
        result: Result<Page, Failure>,
    },
    Timer,
}

/// The queries in flight and the timers set.
pub(crate) struct Recovery {
    running: FuturesUnordered<BoxFuture<'static, Done>>,
    http: HttpClient,
    /// The machines' clock: milliseconds since this instant.
    epoch: Instant,
    /// `(when, subscription)` in the machines' milliseconds.
    timers: BTreeSet<(u64, String)>,
    /// Subscriptions ended since the connection task last asked (it sends their `complete`).
    ended: Vec<String>,
}

impl Recovery {
    pub(crate) fn new(http: HttpClient) -> Self {
        Self {
            running: FuturesUnordered::new(),
            http,
            epoch: Instant::now(),
            timers: BTreeSet::new(),
            ended: Vec::new(),
        }
    }

    /// The subscriptions ended since the last call.
    pub(crate) fn take_ended(&mut self) -> Vec<String> {
        std::mem::take(&mut self.ended)
    }

    /// The machines' time now.
    pub(crate) fn now(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    /// The next answered query or due timer; pending forever while there is none.
    pub(crate) async fn next(&mut self) -> Done {
        let timer = self.timers.first().map(|(at, _)| *at);
        let sleep = async {
            match timer {
                Some(at) => {
                    tokio::time::sleep_until(self.epoch + std::time::Duration::from_millis(at))
                        .await
                }
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            Some(done) = self.running.next() => done,
            () = sleep => Done::Timer,
        }
    }

    /// Hands a finished wake to the machines it concerns.
    pub(crate) fn finish(&mut self, table: &mut Table, done: Done) {
        let now = self.now();
        match done {
            Done::Page {
                id,
                request,
                result,
            } => {
                if let Some(entry) = table.get_mut(&id)
                    && let Some(delivery) = entry.delivery.as_mut()
                {
                    let depth = entry.sink.depth();
                    delivery.on_page(request, result, now, depth);
                    self.drive(table, &id);
                }
            }
            Done::Timer => {
                while let Some((at, id)) = self.timers.first().cloned() {
                    if at > now {
                        break;
                    }
                    self.timers.pop_first();
                    if let Some(delivery) = table.get_mut(&id).and_then(|e| e.delivery.as_mut()) {
                        delivery.on_timer(now);
                        self.drive(table, &id);
                    }
                }
            }
        }
    }

    /// Executes what subscription `id`'s machine asks for, until it asks nothing more.
    pub(crate) fn drive(&mut self, table: &mut Table, id: &str) {
        let Some(entry) = table.get_mut(id) else {
            return;
        };
        let mut ended = None;
        while let Some(action) = entry.delivery.as_mut().and_then(|d| d.poll_action()) {
            match action {
                Action::Deliver {
                    payload,
                    key,
                    recovered,
                } => entry.sink.push_delivered(payload, key, recovered),
                Action::Fetch { request, query } => self.fetch(entry, id, request, query),
                Action::AwaitRoom => {
                    if entry.sink.wait_for_room() {
                        let (now, depth) = (self.now(), entry.sink.depth());
                        if let Some(delivery) = entry.delivery.as_mut() {
                            delivery.on_room(now, depth);
                        }
                    }
                }
                Action::Started { at } => entry.sink.set_start(at),
                Action::Wake { at } => {
                    self.timers.insert((at, id.to_owned()));
                }
                Action::End(error) => ended = Some(error),
            }
        }
        if let Some(delivery) = entry.delivery.as_mut() {
            delivery.trim(entry.sink.depth());
        }
        if let Some(error) = ended {
            warn!(subscription = %id, %error, "the server refuses the catch-up query; ending the stream");
            self.ended.push(id.to_owned());
            if let Some(entry) = table.remove(id) {
                entry.sink.finish(
                    EndReason::CatchUpFailed,
                    Some(Error::CatchUpRefused(Box::new(error))),
                );
            }
        }
    }

    /// Runs one listing query for subscription `id`.
    fn fetch(&mut self, entry: &Entry, id: &str, request: u64, query: Query) {
        let Some(spec) = entry.spec.clone() else {
            return;
        };
        let http = self.http.clone();
        let id = id.to_owned();
        debug!(subscription = %id, ?query, "catch-up query");
        self.running.push(Box::pin(async move {
            let result = list(&http, &spec, query).await;
            Done::Page {
                id,
                request,
                result,
            }
        }));
    }
}

/// One page of the listing for `spec`'s stream, every severity (the machine filters by the
/// severity each incident opened with).
async fn list(http: &HttpClient, spec: &CatchupSpec, query: Query) -> Result<Page, Failure> {
    let (page, size, order) = match query {
        Query::Page(page) => (page, PAGE_SIZE, "ASC"),
        Query::Newest => (0, 1, "DESC"),
    };
    let mut variables = spec.variables.clone();
    variables.insert(
        "pagination".into(),
        json!({ "page": page, "pageSize": size }),
    );
    variables.insert(
        "sort".into(),
        json!({ "field": "CREATED_AT", "order": order }),
    );
    let variables = serde_json::Value::Object(variables);
    match http.execute_document(&spec.query, variables).await {
        Ok(data) => Ok(listing::page_of(&data, spec.root_field)),
        Err(error) if is_permanent(&error) => Err(Failure::Permanent(error)),
        Err(error) => {
            warn!(%error, "a catch-up query failed; retrying after a backoff");
            Err(Failure::Transient)
        }
    }
}

/// Whether the server refuses the query itself (retrying the same query cannot help), rather
/// than being unreachable, slow or overloaded.
fn is_permanent(error: &Error) -> bool {
    match error {
        Error::GraphQl(_) | Error::Decode(_) | Error::AuthRejected { .. } => true,
        Error::HttpStatus { status, .. } => {
            (400..500).contains(status) && !matches!(status, 408 | 425 | 429)
        }
        _ => false,
    }
}
