//! [`Store`] itself: the data behind one lock, the event feed, and reading one incident.

use std::collections::HashMap;
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::{Notify, broadcast};
use uuid::Uuid;

use crate::model::{Alert, Incident, IncidentStateChange, IncidentUpdate, IncidentUpdateType};

/// Something subscribers may want to hear about.
#[derive(Debug, Clone)]
pub enum Event {
    /// A new incident.
    Created(Arc<Incident>),
    /// A change to an incident (the incident as it is after the change).
    Updated(IncidentUpdate, Arc<Incident>),
    /// An incident moved between states.
    StateChanged(IncidentStateChange),
    /// An alert arrived.
    Alert(Arc<Alert>),
}

/// Why a store operation failed; the message is what GraphQL clients see.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// No incident has the id.
    #[error("Incident not found")]
    NotFound,
    /// The request is not acceptable.
    #[error("{0}")]
    Invalid(String),
}

/// The server's data and event feed. Cheap to share behind an `Arc`.
#[derive(Debug)]
pub struct Store {
    inner: RwLock<Inner>,
    events: broadcast::Sender<Event>,
    pub(super) dedup_window: Duration,
    changed: Notify,
}

/// The data behind the store's lock.
#[derive(Debug, Default)]
pub(super) struct Inner {
    pub(super) incidents: Vec<Incident>,
    pub(super) index: HashMap<Uuid, usize>,
    /// Alert fingerprint to (incident, first alert, when it was first seen).
    pub(super) fingerprints: HashMap<String, (Uuid, Uuid, DateTime<Utc>)>,
}

impl Store {
    /// An empty store whose event feed keeps `event_capacity` events for slow subscribers.
    pub fn new(dedup_window: Duration, event_capacity: usize) -> Self {
        Self {
            inner: RwLock::new(Inner::default()),
            events: broadcast::channel(event_capacity.max(1)).0,
            dedup_window,
            changed: Notify::new(),
        }
    }

    /// A receiver of every event from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.events.subscribe()
    }

    /// The incident with this id.
    pub fn get(&self, id: Uuid) -> Option<Incident> {
        let inner = self.read();
        inner.index.get(&id).map(|&i| inner.incidents[i].clone())
    }

    /// Sends `event` to every subscriber and wakes the state file's writer.
    pub(super) fn publish(&self, event: Event) {
        // No receivers is normal: nobody is subscribed.
        let _ = self.events.send(event);
        self.changed.notify_one();
    }

    /// Publishes a new incident: `Created`, then the `Updated` that `incidentUpdates` reports.
    pub(super) fn publish_created(&self, incident: Arc<Incident>) {
        let update = IncidentUpdate {
            update_type: IncidentUpdateType::Created,
            incident_id: Some(incident.id),
            timestamp: incident.created_at,
        };
        self.publish(Event::Created(incident.clone()));
        self.publish(Event::Updated(update, incident));
    }

    /// Wakes after changes (coalesced), for the state file's writer.
    pub(super) async fn changed(&self) {
        self.changed.notified().await;
    }

    pub(super) fn read(&self) -> RwLockReadGuard<'_, Inner> {
        self.inner
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(super) fn write(&self) -> RwLockWriteGuard<'_, Inner> {
        self.inner
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Inner {
    /// Adds an incident at the end (insertion order is creation order).
    pub(super) fn insert(&mut self, incident: Incident) {
        self.index.insert(incident.id, self.incidents.len());
        self.incidents.push(incident);
    }
}
