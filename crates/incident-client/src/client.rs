//! `IncidentClient`: typed subscriptions, queries, mutations and REST alerts.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use cynic::SubscriptionBuilder;
use graphql_ws_client::graphql::GraphqlOperation;
use incident_schema::{Severity, Uuid};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::builder::IncidentClientBuilder;
use crate::catchup::CatchupSpec;
use crate::checkpoint::Checkpoint;
use crate::config::Config;
use crate::connection::Command;
use crate::error::{Error, GraphQlError, Result, cause, message};
use crate::filter::UpdateFilter;
use crate::http::HttpClient;
use crate::operations::*;
use crate::payloads::Payloads;
use crate::rest::{AlertReceipt, AlertSubmission};
use crate::state::ConnectionState;
use crate::stats::{Stats, StatsInner};
use crate::subscription::{Buffer, Decoder, Delivered, Subscription};
use crate::telemetry::StreamMetricsSet;

/// A client of the Incident Manager API. Cheap to clone: clones share one connection.
#[derive(Debug, Clone)]
pub struct IncidentClient {
    inner: Arc<ClientInner>,
}

#[derive(Debug)]
pub(crate) struct ClientInner {
    config: Arc<Config>,
    http: HttpClient,
    stats: Arc<StatsInner>,
    commands: mpsc::UnboundedSender<Command>,
    payloads: Payloads,
    state: tokio::sync::watch::Receiver<ConnectionState>,
    stream_metrics: StreamMetricsSet,
    next_id: AtomicU64,
    task: std::sync::Mutex<Option<JoinHandle<()>>>,
    /// The catch-up of each distinct caught-up operation, shared by its subscriptions.
    specs: std::sync::Mutex<std::collections::HashMap<Arc<str>, Arc<CatchupSpec>>>,
}

impl ClientInner {
    pub(crate) fn new(
        config: Arc<Config>,
        http: HttpClient,
        stats: Arc<StatsInner>,
        commands: mpsc::UnboundedSender<Command>,
        payloads: Payloads,
        state: tokio::sync::watch::Receiver<ConnectionState>,
        task: JoinHandle<()>,
    ) -> Self {
        Self {
            config,
            http,
            stats,
            commands,
            payloads,
            state,
            stream_metrics: StreamMetricsSet::new(),
            next_id: AtomicU64::new(1),
            task: std::sync::Mutex::new(Some(task)),
            specs: Default::default(),
        }
    }
}

impl IncidentClient {
    /// Starts configuring a client for the WebSocket endpoint, such as
    /// `ws://localhost:8080/graphql/ws`.
    pub fn builder(ws_url: impl Into<String>) -> IncidentClientBuilder {
        IncidentClientBuilder::new(ws_url)
    }

    pub(crate) fn from_inner(inner: ClientInner) -> Self {
        Self {
            inner: Arc::new(inner),
        }
    }

    /// The WebSocket URL.
    pub fn ws_url(&self) -> &str {
        &self.inner.config.ws_url
    }

    /// The HTTP GraphQL URL.
    pub fn http_url(&self) -> &str {
        &self.inner.config.http_url
    }

    /// The connection's state, pushed as it changes: connecting, connected (since when),
    /// reconnecting (attempt, delay, why), closed (and why). `borrow()` reads it now;
    /// `changed().await` or `wait_for(..)` waits for a transition. A health check answers from
    /// `borrow().is_connected()`.
    pub fn connection_state(&self) -> tokio::sync::watch::Receiver<ConnectionState> {
        self.inner.state.clone()
    }

    /// A snapshot of the connection's counters.
    pub fn stats(&self) -> Stats {
        self.inner.stats.snapshot()
    }

    /// Subscribes with any operation built from cynic fragments written against
    /// [`incident_schema::schema`], such as `MySubscription::build(vars)`. Items are the
    /// operation's response data; GraphQL errors end the stream with [`Error::GraphQl`].
    pub fn subscribe<Op, T>(&self, operation: Op) -> Result<Subscription<T>>
    where
        Op: GraphqlOperation<Response = cynic::GraphQlResponse<T>> + Send + Sync + 'static,
        T: serde::de::DeserializeOwned + Send + 'static,
    {
        self.subscribe_mapped(operation, "custom", None, |data| data)
    }

    /// Like [`IncidentClient::subscribe`], for your own operation on `newIncidents` or
    /// `criticalIncidents`, caught up after reconnects like the SDK's own streams: incidents
    /// created while the connection was down are fetched (with your operation's selection, so
    /// they decode into your type), delivered oldest first, and deduplicated. The operation must
    /// select the incident's `id` and `createdAt`, unaliased, on its one root field; otherwise
    /// this returns [`Error::UnsupportedOperation`] saying what is missing.
    pub fn subscribe_caught_up<Op, T>(&self, operation: Op) -> Result<Subscription<T>>
    where
        Op: GraphqlOperation<Response = cynic::GraphQlResponse<T>> + Send + Sync + 'static,
        T: serde::de::DeserializeOwned + Send + 'static,
    {
        self.custom_caught_up(operation, None)
    }

    /// [`IncidentClient::subscribe_caught_up`], starting from `checkpoint`: first every
    /// incident the operation selects created since (oldest first, none twice), then live ones.
    pub fn subscribe_caught_up_from<Op, T>(
        &self,
        operation: Op,
        checkpoint: Checkpoint,
    ) -> Result<Subscription<T>>
    where
        Op: GraphqlOperation<Response = cynic::GraphQlResponse<T>> + Send + Sync + 'static,
        T: serde::de::DeserializeOwned + Send + 'static,
    {
        self.custom_caught_up(operation, Some(checkpoint))
    }

    fn custom_caught_up<Op, T>(
        &self,
        operation: Op,
        start: Option<Checkpoint>,
    ) -> Result<Subscription<T>>
    where
        Op: GraphqlOperation<Response = cynic::GraphQlResponse<T>> + Send + Sync + 'static,
        T: serde::de::DeserializeOwned + Send + 'static,
    {
        self.subscribe_mapped(operation, "custom", Some(start), |data| data)
    }

    /// Registers a subscription. Payloads are decoded straight from the raw text into the
    /// operation's response type (what `GraphqlOperation::decode` does, minus a pass through
    /// `serde_json::Value`), then `map` picks the item. `caught_up` is `Some` for a stream of
    /// incident creations caught up after reconnects (its listing query is built from the
    /// operation itself), with the checkpoint it resumes from, if any.
    fn subscribe_mapped<Op, T, U>(
        &self,
        operation: Op,
        stream: &'static str,
        caught_up: Option<Option<Checkpoint>>,
        map: fn(T) -> U,
    ) -> Result<Subscription<U>>
    where
        Op: GraphqlOperation<Response = cynic::GraphQlResponse<T>> + Send + Sync + 'static,
        T: serde::de::DeserializeOwned + Send + 'static,
        U: Send + 'static,
    {
        let text = serde_json::to_string(&operation).map_err(|e| Error::Decode(cause(e)))?;
        let spec = match caught_up {
            Some(_) => Some(self.catch_up_spec(&text)?),
            None => None,
        };
        let payload = self.inner.payloads.intern(text);
        drop(operation);
        let id = self
            .inner
            .next_id
            .fetch_add(1, Ordering::Relaxed)
            .to_string();
        let buffer = Arc::new(Buffer::new(
            self.inner.config.settings.buffer,
            self.inner.stats.clone(),
            self.inner.stream_metrics.get(stream),
        ));
        let decode: Decoder<U> = Box::new(move |payload: &str| -> Result<U> {
            let response: cynic::GraphQlResponse<T> =
                serde_json::from_str(payload).map_err(|e| Error::Decode(cause(e)))?;
            if let Some(errors) = response.errors.filter(|e| !e.is_empty()) {
                return Err(Error::GraphQl(
                    errors.into_iter().map(GraphQlError::from_cynic).collect(),
                ));
            }
            response
                .data
                .map(map)
                .ok_or_else(|| Error::Decode(message("an event had neither data nor errors")))
        });
        let (catchup, delivered) = match (spec, caught_up.flatten()) {
            (Some(spec), start) => {
                let mut settings = crate::delivery::Settings::new(
                    self.inner.config.settings.buffer,
                    spec.severities.clone(),
                );
                settings.overlap = self.inner.config.settings.catch_up_overlap;
                let (delivery, checkpoint) = match start {
                    Some(checkpoint) => (
                        crate::delivery::Delivery::resumed(settings, &checkpoint),
                        checkpoint,
                    ),
                    // Until the consumer takes an incident, the checkpoint is where the stream
                    // started; it moves to the server's stamps with the first one.
                    None => (
                        crate::delivery::Delivery::new(settings),
                        Checkpoint::at(chrono::DateTime::UNIX_EPOCH),
                    ),
                };
                let progress = crate::checkpoint::Progress::new(checkpoint)
                    .with_overlap(self.inner.config.settings.catch_up_overlap);
                let delivered = Delivered {
                    checkpoint: progress,
                    item: std::marker::PhantomData,
                };
                (Some(Box::new((spec, delivery))), Some(delivered))
            }
            (None, _) => (None, None),
        };
        self.inner
            .commands
            .send(Command::Subscribe {
                id: id.clone(),
                payload,
                sink: buffer.clone(),
                catchup,
            })
            .map_err(|_| self.ended())?;
        Ok(Subscription::new(
            id,
            buffer,
            decode,
            delivered,
            self.inner.commands.clone(),
        ))
    }

    /// The catch-up of the operation `text`: built once per distinct operation, then shared.
    fn catch_up_spec(&self, text: &str) -> Result<Arc<CatchupSpec>> {
        let mut specs = self
            .inner
            .specs
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(spec) = specs.get(text) {
            return Ok(spec.clone());
        }
        let spec = Arc::new(crate::custom_catchup::spec_for(text)?);
        specs.insert(Arc::from(text), spec.clone());
        Ok(spec)
    }

    /// Why the connection task ended: its fatal error, or [`Error::Shutdown`].
    fn ended(&self) -> Error {
        self.inner
            .stats
            .ended
            .get()
            .cloned()
            .unwrap_or(Error::Shutdown)
    }

    /// P0 and P1 incidents as they are opened. Caught up after a reconnect: no incident is missed.
    pub fn critical_incidents(&self) -> Result<Subscription<IncidentFields>> {
        self.critical(None)
    }

    /// [`IncidentClient::critical_incidents`] starting from `checkpoint` (saved from
    /// [`Subscription::checkpoint`], by this process or an earlier one): first every P0 and P1
    /// incident created since, oldest first and none twice, then live ones.
    pub fn critical_incidents_from(
        &self,
        checkpoint: Checkpoint,
    ) -> Result<Subscription<IncidentFields>> {
        self.critical(Some(checkpoint))
    }

    fn critical(&self, start: Option<Checkpoint>) -> Result<Subscription<IncidentFields>> {
        self.subscribe_mapped(
            CriticalIncidents::build(()),
            "critical",
            Some(start),
            |d: CriticalIncidents| d.critical_incidents,
        )
    }

    /// Incidents as they are opened, optionally only some severities. Caught up after a reconnect.
    pub fn new_incidents(
        &self,
        severities: Option<Vec<Severity>>,
    ) -> Result<Subscription<IncidentFields>> {
        self.created(severities, None)
    }

    /// [`IncidentClient::new_incidents`] starting from `checkpoint` (saved from
    /// [`Subscription::checkpoint`], by this process or an earlier one): first every matching
    /// incident created since, oldest first and none twice, then live ones.
    pub fn new_incidents_from(
        &self,
        severities: Option<Vec<Severity>>,
        checkpoint: Checkpoint,
    ) -> Result<Subscription<IncidentFields>> {
        self.created(severities, Some(checkpoint))
    }

    fn created(
        &self,
        severities: Option<Vec<Severity>>,
        start: Option<Checkpoint>,
    ) -> Result<Subscription<IncidentFields>> {
        let operation = NewIncidents::build(NewIncidentsVariables { severities });
        self.subscribe_mapped(operation, "new", Some(start), |d: NewIncidents| {
            d.new_incidents
        })
    }

    /// Every change to matching incidents, and heartbeats. After a reconnect the stream yields
    /// [`Error::Gap`], since updates cannot be replayed.
    pub fn incident_updates(&self, filter: UpdateFilter) -> Result<Subscription<IncidentUpdate>> {
        let operation = IncidentUpdates::build(IncidentUpdatesVariables {
            incident_ids: filter.incident_ids,
            severities: filter.severities,
            active_only: filter.active_only,
        });
        self.subscribe_mapped(operation, "updates", None, |d: IncidentUpdates| {
            d.incident_updates
        })
    }

    /// State changes, of one incident or all. Yields [`Error::Gap`] after a reconnect.
    pub fn incident_state_changes(
        &self,
        incident_id: Option<Uuid>,
    ) -> Result<Subscription<IncidentStateChange>> {
        let operation = IncidentStateChanges::build(IncidentStateChangesVariables { incident_id });
        self.subscribe_mapped(
            operation,
            "state_changes",
            None,
            |d: IncidentStateChanges| d.incident_state_changes,
        )
    }

    /// Alerts as they arrive, optionally only from some sources. Yields [`Error::Gap`] after a
    /// reconnect.
    pub fn alerts(&self, sources: Option<Vec<String>>) -> Result<Subscription<AlertFields>> {
        self.subscribe_mapped(
            Alerts::build(AlertsVariables { sources }),
            "alerts",
            None,
            |d: Alerts| d.alerts,
        )
    }

    /// Runs any query or mutation over HTTP, with the client's token.
    pub async fn execute<Q, V>(&self, operation: cynic::Operation<Q, V>) -> Result<Q>
    where
        Q: serde::de::DeserializeOwned,
        V: serde::Serialize,
    {
        self.inner.http.execute(operation).await
    }

    /// Submits an alert to `POST /v1/alerts` (REST).
    pub async fn submit_alert(&self, alert: &AlertSubmission) -> Result<AlertReceipt> {
        self.inner.http.submit_alert(alert).await
    }

    /// Completes every subscription, closes the socket with 1000 and stops the connection task.
    /// Streams end with [`Error::Shutdown`].
    pub async fn shutdown(&self) {
        let (done, finished) = oneshot::channel();
        if self.inner.commands.send(Command::Shutdown { done }).is_ok() {
            let _ = finished.await;
        }
        let task = self
            .inner
            .task
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        if let Some(task) = task {
            let _ = task.await;
        }
    }
}
