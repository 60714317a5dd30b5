//! The in-memory store: incidents, alert deduplication, and the event feed subscriptions read.
//!
//! Every change goes through [`Store`], which records a timeline event and publishes [`Event`]s on
//! one broadcast channel. Subscriptions are receivers of that channel with their filters applied
//! (see `subscriptions.rs`).

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::broadcast;
use uuid::Uuid;

use crate::model::*;

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

/// Filters for listing incidents (all optional, combined with AND).
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct IncidentFilter {
    pub states: Option<Vec<IncidentState>>,
    pub severities: Option<Vec<Severity>>,
    pub sources: Option<Vec<String>>,
    pub active_only: Option<bool>,
}

/// Sort keys for listing incidents.
#[derive(Debug, Clone, Copy, serde::Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[allow(missing_docs)]
pub enum SortField {
    CreatedAt,
    UpdatedAt,
    Severity,
    State,
}

/// Changes to apply with `updateIncident`.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(missing_docs)]
pub struct IncidentChanges {
    pub state: Option<IncidentState>,
    pub assignees: Option<Vec<String>>,
    pub add_labels: Option<serde_json::Map<String, serde_json::Value>>,
    pub remove_labels: Option<Vec<String>>,
}

/// The server's data and event feed. Cheap to share behind an `Arc`.
#[derive(Debug)]
pub struct Store {
    inner: RwLock<Inner>,
    events: broadcast::Sender<Event>,
    dedup_window: Duration,
    changed: tokio::sync::Notify,
}

#[derive(Debug, Default)]
struct Inner {
    incidents: Vec<Incident>,
    index: HashMap<Uuid, usize>,
    /// Alert fingerprint to (incident, first alert, when it was first seen).
    fingerprints: HashMap<String, (Uuid, Uuid, DateTime<Utc>)>,
}

impl Store {
    /// An empty store whose event feed keeps `event_capacity` events for slow subscribers.
    pub fn new(dedup_window: Duration, event_capacity: usize) -> Self {
        Self {
            inner: RwLock::new(Inner::default()),
            events: broadcast::channel(event_capacity.max(1)).0,
            dedup_window,
            changed: tokio::sync::Notify::new(),
        }
    }

    /// A receiver of every event from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.events.subscribe()
    }

    fn publish(&self, event: Event) {
        // No receivers is normal: nobody is subscribed.
        let _ = self.events.send(event);
        self.changed.notify_one();
    }

    /// Wakes after changes (coalesced), for the state file's writer.
    pub(crate) async fn changed(&self) {
        self.changed.notified().await;
    }

    /// Everything the store holds, as the state file keeps it.
    pub(crate) fn export(&self) -> crate::persist::State {
        let inner = self.read();
        crate::persist::State {
            incidents: inner
                .incidents
                .iter()
                .map(|incident| crate::persist::StoredIncident {
                    related: incident.related.clone(),
                    incident: incident.clone(),
                })
                .collect(),
            fingerprints: inner
                .fingerprints
                .iter()
                .map(|(fingerprint, (incident, alert, seen))| {
                    (fingerprint.clone(), *incident, *alert, *seen)
                })
                .collect(),
        }
    }

    /// Replaces the store's data with `state` (at start-up, before anyone subscribes).
    pub(crate) fn import(&self, state: crate::persist::State) {
        let mut inner = self.write();
        *inner = Inner::default();
        for stored in state.incidents {
            let mut incident = stored.incident;
            incident.related = stored.related;
            inner.insert(incident);
        }
        for (fingerprint, incident, alert, seen) in state.fingerprints {
            inner
                .fingerprints
                .insert(fingerprint, (incident, alert, seen));
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Inner> {
        self.inner
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Inner> {
        self.inner
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Takes in an alert: a new fingerprint opens an incident; a repeat inside the deduplication
    /// window joins the existing one and answers `DUPLICATE`.
    pub fn submit_alert(&self, alert: NewAlert) -> AlertAck {
        let now = Utc::now();
        let fingerprint = fingerprint(&alert);
        let alert_id = Uuid::new_v4();
        let mut inner = self.write();
        let window = chrono::Duration::from_std(self.dedup_window).unwrap_or(chrono::Duration::MAX);
        let duplicate_of = inner
            .fingerprints
            .get(&fingerprint)
            .filter(|(_, _, seen)| now - *seen < window)
            .copied();
        let (incident_id, status, parent, message, created) = match duplicate_of {
            Some((incident_id, parent, _)) => (
                incident_id,
                AckStatus::Duplicate,
                Some(parent),
                format!("Duplicate of alert {parent}; incident {incident_id} already covers it"),
                None,
            ),
            None => {
                let incident = new_incident(
                    now,
                    &alert.source,
                    &alert.title,
                    &alert.description,
                    alert.severity,
                    alert.alert_type,
                    alert.affected_services.clone(),
                    alert.labels.clone(),
                    Some(fingerprint.clone()),
                    &format!("alert {alert_id} from {}", alert.source),
                );
                let id = incident.id;
                inner.fingerprints.insert(fingerprint, (id, alert_id, now));
                let created = Arc::new(incident.clone());
                inner.insert(incident);
                (
                    id,
                    AckStatus::Accepted,
                    None,
                    "Alert accepted; incident created".to_owned(),
                    Some(created),
                )
            }
        };
        drop(inner);
        let stored = Arc::new(Alert {
            id: alert_id,
            external_id: alert.external_id.unwrap_or_else(|| alert_id.to_string()),
            source: alert.source,
            timestamp: now,
            received_at: now,
            severity: alert.severity,
            alert_type: alert.alert_type,
            title: alert.title,
            description: alert.description,
            labels: alert.labels,
            affected_services: alert.affected_services,
            runbook_url: alert.runbook_url,
            annotations: alert.annotations,
            incident_id: Some(incident_id),
            deduplicated: parent.is_some(),
            parent_alert_id: parent,
            is_urgent: alert.severity.is_critical(),
        });
        self.publish(Event::Alert(stored));
        if let Some(incident) = created {
            self.publish_created(incident);
        }
        AlertAck {
            alert_id,
            incident_id: Some(incident_id),
            status,
            message,
            received_at: now,
        }
    }

    /// Opens an incident directly.
    #[allow(clippy::too_many_arguments)]
    pub fn create_incident(
        &self,
        source: &str,
        title: &str,
        description: &str,
        severity: Severity,
        incident_type: IncidentType,
        affected_resources: Vec<String>,
        labels: Vec<Label>,
        actor: &str,
    ) -> Result<Incident, StoreError> {
        if title.trim().is_empty() || source.trim().is_empty() {
            return Err(StoreError::Invalid(
                "title and source must not be empty".into(),
            ));
        }
        let incident = new_incident(
            Utc::now(),
            source,
            title,
            description,
            severity,
            incident_type,
            affected_resources,
            labels,
            None,
            actor,
        );
        self.write().insert(incident.clone());
        self.publish_created(Arc::new(incident.clone()));
        Ok(incident)
    }

    fn publish_created(&self, incident: Arc<Incident>) {
        let update = IncidentUpdate {
            update_type: IncidentUpdateType::Created,
            incident_id: Some(incident.id),
            timestamp: incident.created_at,
        };
        self.publish(Event::Created(incident.clone()));
        self.publish(Event::Updated(update, incident));
    }

    /// Applies `updateIncident`.
    pub fn update_incident(
        &self,
        id: Uuid,
        changes: IncidentChanges,
        actor: &str,
    ) -> Result<Incident, StoreError> {
        self.change(id, actor, |incident, now, actor| {
            let mut kind = IncidentUpdateType::Updated;
            let mut state_change = None;
            if let Some(state) = changes.state.filter(|s| *s != incident.state) {
                state_change = Some((incident.state, state));
                incident.timeline.push(event(
                    now,
                    EventType::StateChanged,
                    actor,
                    format!("{:?} -> {:?}", incident.state, state),
                ));
                incident.state = state;
                kind = IncidentUpdateType::StateChanged;
            }
            if let Some(assignees) = changes.assignees {
                incident.assignees = assignees;
                incident.timeline.push(event(
                    now,
                    EventType::AssignmentChanged,
                    actor,
                    "assignees changed".into(),
                ));
            }
            if let Some(add) = changes.add_labels.as_ref() {
                for label in labels_from_json(Some(add)) {
                    incident.labels.retain(|l| l.key != label.key);
                    incident.labels.push(label);
                }
                incident.labels.sort_by(|a, b| a.key.cmp(&b.key));
            }
            if let Some(remove) = &changes.remove_labels {
                incident.labels.retain(|l| !remove.contains(&l.key));
            }
            Ok((kind, state_change))
        })
    }

    /// Applies `resolveIncident`.
    pub fn resolve_incident(
        &self,
        id: Uuid,
        method: ResolutionMethod,
        notes: String,
        root_cause: Option<String>,
        actor: &str,
    ) -> Result<Incident, StoreError> {
        self.change(id, actor, |incident, now, actor| {
            if !incident.state.is_active() {
                return Err(StoreError::Invalid("Incident is already resolved".into()));
            }
            let old = incident.state;
            incident.state = IncidentState::Resolved;
            incident.resolution = Some(Resolution {
                resolved_at: now,
                resolved_by: actor.to_owned(),
                resolution_method: method,
                root_cause,
                notes,
            });
            incident
                .timeline
                .push(event(now, EventType::Resolved, actor, "resolved".into()));
            Ok((
                IncidentUpdateType::Resolved,
                Some((old, IncidentState::Resolved)),
            ))
        })
    }

    /// Applies `addComment`.
    pub fn add_comment(
        &self,
        id: Uuid,
        comment: String,
        actor: &str,
    ) -> Result<Incident, StoreError> {
        if comment.trim().is_empty() {
            return Err(StoreError::Invalid("comment must not be empty".into()));
        }
        self.change(id, actor, |incident, now, actor| {
            incident
                .timeline
                .push(event(now, EventType::CommentAdded, actor, comment));
            Ok((IncidentUpdateType::CommentAdded, None))
        })
    }

    /// Applies `assignIncident`.
    pub fn assign(
        &self,
        id: Uuid,
        assignees: Vec<String>,
        actor: &str,
    ) -> Result<Incident, StoreError> {
        self.change(id, actor, |incident, now, actor| {
            incident.timeline.push(event(
                now,
                EventType::AssignmentChanged,
                actor,
                format!("assigned to {}", assignees.join(", ")),
            ));
            incident.assignees = assignees;
            Ok((IncidentUpdateType::Assigned, None))
        })
    }

    /// Applies `linkIncidents`, in both directions.
    pub fn link(&self, id: Uuid, related: Uuid, actor: &str) -> Result<Incident, StoreError> {
        if id == related {
            return Err(StoreError::Invalid(
                "an incident cannot be linked to itself".into(),
            ));
        }
        if self.get(related).is_none() {
            return Err(StoreError::NotFound);
        }
        let incident = self.change(id, actor, |incident, _, _| {
            if !incident.related.contains(&related) {
                incident.related.push(related);
            }
            Ok((IncidentUpdateType::Updated, None))
        })?;
        let _ = self.change(related, actor, |other, _, _| {
            if !other.related.contains(&id) {
                other.related.push(id);
            }
            Ok((IncidentUpdateType::Updated, None))
        });
        Ok(incident)
    }

    /// Applies `escalateIncident`; the new severity must be more urgent.
    pub fn escalate(
        &self,
        id: Uuid,
        severity: Severity,
        reason: String,
        actor: &str,
    ) -> Result<Incident, StoreError> {
        self.change(id, actor, |incident, now, actor| {
            if severity >= incident.severity {
                return Err(StoreError::Invalid(format!(
                    "escalation must raise the severity: {:?} is not more urgent than {:?}",
                    severity, incident.severity
                )));
            }
            let mut escalated = event(
                now,
                EventType::Escalated,
                actor,
                format!("{:?} -> {severity:?}: {reason}", incident.severity),
            );
            // What it was and became, for readers that filter by the severity it opened with.
            escalated.metadata = vec![
                Label {
                    key: "from".into(),
                    value: format!("{:?}", incident.severity),
                },
                Label {
                    key: "to".into(),
                    value: format!("{severity:?}"),
                },
            ];
            incident.timeline.push(escalated);
            incident.severity = severity;
            Ok((IncidentUpdateType::Updated, None))
        })
    }

    /// Runs `apply` on the incident, stamps it and publishes what changed.
    fn change(
        &self,
        id: Uuid,
        actor: &str,
        apply: impl FnOnce(
            &mut Incident,
            DateTime<Utc>,
            &str,
        ) -> Result<
            (IncidentUpdateType, Option<(IncidentState, IncidentState)>),
            StoreError,
        >,
    ) -> Result<Incident, StoreError> {
        let now = Utc::now();
        let mut inner = self.write();
        let index = *inner.index.get(&id).ok_or(StoreError::NotFound)?;
        let incident = &mut inner.incidents[index];
        let mut draft = incident.clone();
        let (kind, state_change) = apply(&mut draft, now, actor)?;
        draft.updated_at = now;
        *incident = draft.clone();
        drop(inner);
        let shared = Arc::new(draft.clone());
        if let Some((old_state, new_state)) = state_change {
            self.publish(Event::StateChanged(IncidentStateChange {
                incident_id: id,
                old_state,
                new_state,
                changed_by: actor.to_owned(),
                timestamp: now,
            }));
        }
        let update = IncidentUpdate {
            update_type: kind,
            incident_id: Some(id),
            timestamp: now,
        };
        self.publish(Event::Updated(update, shared));
        Ok(draft)
    }

    /// The incident with this id.
    pub fn get(&self, id: Uuid) -> Option<Incident> {
        let inner = self.read();
        inner.index.get(&id).map(|&i| inner.incidents[i].clone())
    }

    /// Incidents passing `filter` and `matches`, sorted (newest first by default), and the total
    /// before paging.
    pub fn list(
        &self,
        filter: &IncidentFilter,
        search: Option<&str>,
        sort: Option<(SortField, bool)>,
        page: usize,
        page_size: usize,
    ) -> (Vec<Incident>, usize) {
        let inner = self.read();
        let needle = search.map(str::to_lowercase);
        let mut matching: Vec<&Incident> = inner
            .incidents
            .iter()
            .filter(|i| filter.states.as_ref().is_none_or(|s| s.contains(&i.state)))
            .filter(|i| {
                filter
                    .severities
                    .as_ref()
                    .is_none_or(|s| s.contains(&i.severity))
            })
            .filter(|i| {
                filter
                    .sources
                    .as_ref()
                    .is_none_or(|s| s.contains(&i.source))
            })
            .filter(|i| !filter.active_only.unwrap_or(false) || i.state.is_active())
            .filter(|i| {
                needle.as_ref().is_none_or(|n| {
                    i.title.to_lowercase().contains(n) || i.description.to_lowercase().contains(n)
                })
            })
            .collect();
        // Insertion order is creation order; newest first is the reverse.
        matching.reverse();
        if let Some((field, ascending)) = sort {
            matching.sort_by(|a, b| {
                let order = match field {
                    // Ties by id, so offset pages stay stable between reads.
                    SortField::CreatedAt => a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)),
                    SortField::UpdatedAt => a.updated_at.cmp(&b.updated_at),
                    SortField::Severity => a.severity.cmp(&b.severity),
                    SortField::State => a.state.cmp(&b.state),
                };
                if ascending { order } else { order.reverse() }
            });
        }
        let total = matching.len();
        let page_items = matching
            .into_iter()
            .skip(page * page_size)
            .take(page_size)
            .cloned()
            .collect();
        (page_items, total)
    }

    /// `(total, active, resolved, per-severity counts P0..P4)`.
    pub fn stats(&self) -> (usize, usize, usize, [usize; 5]) {
        let inner = self.read();
        let mut by_severity = [0; 5];
        let mut active = 0;
        let mut resolved = 0;
        for incident in &inner.incidents {
            by_severity[incident.severity as usize] += 1;
            if incident.state.is_active() {
                active += 1;
            } else {
                resolved += 1;
            }
        }
        (inner.incidents.len(), active, resolved, by_severity)
    }

    /// The incident as GraphQL output JSON: related incidents embedded one level deep, computed
    /// fields filled in.
    pub fn incident_json(&self, incident: &Incident) -> serde_json::Value {
        let related: Vec<serde_json::Value> = incident
            .related
            .iter()
            .filter_map(|id| self.get(*id))
            .map(|r| incident_json_shallow(&r))
            .collect();
        let mut json = incident_json_shallow(incident);
        json["relatedIncidents"] = serde_json::Value::Array(related);
        json
    }
}

impl Inner {
    fn insert(&mut self, incident: Incident) {
        self.index.insert(incident.id, self.incidents.len());
        self.incidents.push(incident);
    }
}

/// The incident as output JSON without its related incidents.
pub fn incident_json_shallow(incident: &Incident) -> serde_json::Value {
    let mut json = serde_json::to_value(incident).expect("incidents serialize");
    json["relatedIncidents"] = serde_json::Value::Array(Vec::new());
    json["activePlaybook"] = serde_json::Value::Null;
    json["isActive"] = incident.state.is_active().into();
    json["isCritical"] = incident.severity.is_critical().into();
    json
}

#[allow(clippy::too_many_arguments)]
fn new_incident(
    now: DateTime<Utc>,
    source: &str,
    title: &str,
    description: &str,
    severity: Severity,
    incident_type: IncidentType,
    affected_resources: Vec<String>,
    labels: Vec<Label>,
    fingerprint: Option<String>,
    actor: &str,
) -> Incident {
    Incident {
        id: Uuid::new_v4(),
        created_at: now,
        updated_at: now,
        state: IncidentState::Detected,
        severity,
        incident_type,
        source: source.to_owned(),
        title: title.to_owned(),
        description: description.to_owned(),
        affected_resources,
        labels,
        related: Vec::new(),
        resolution: None,
        timeline: vec![event(
            now,
            EventType::Created,
            actor,
            "incident opened".into(),
        )],
        assignees: Vec::new(),
        fingerprint,
        correlation_score: None,
    }
}

fn event(
    now: DateTime<Utc>,
    event_type: EventType,
    actor: &str,
    description: String,
) -> TimelineEvent {
    TimelineEvent {
        timestamp: now,
        event_type,
        actor: actor.to_owned(),
        description,
        metadata: Vec::new(),
    }
}

/// What makes two alerts the same: source, type and title.
fn fingerprint(alert: &NewAlert) -> String {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    (&alert.source, alert.alert_type as u8, &alert.title).hash(&mut hasher);
    format!("{:016x}", hasher.finish())
}
