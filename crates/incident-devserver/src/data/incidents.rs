//! Opening incidents and changing them: every mutation the schema offers, each stamped, recorded on
//! the incident's timeline and published.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::store::{Event, Store, StoreError};
use crate::model::{
    EventType, Incident, IncidentState, IncidentStateChange, IncidentType, IncidentUpdate,
    IncidentUpdateType, Label, Resolution, ResolutionMethod, Severity, TimelineEvent,
    labels_from_json,
};

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

/// What a change returns: the kind of update to report, and the state change if there was one.
type Outcome = Result<(IncidentUpdateType, Option<(IncidentState, IncidentState)>), StoreError>;

impl Store {
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
        let fields = NewIncident {
            source,
            title,
            description,
            severity,
            incident_type,
            affected_resources,
            labels,
        };
        let incident = new_incident(Utc::now(), fields, None, actor);
        self.write().insert(incident.clone());
        self.publish_created(Arc::new(incident.clone()));
        Ok(incident)
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
                let description = format!("{:?} -> {:?}", incident.state, state);
                incident
                    .timeline
                    .push(event(now, EventType::StateChanged, actor, description));
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
        apply: impl FnOnce(&mut Incident, DateTime<Utc>, &str) -> Outcome,
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
}

/// What a new incident is opened with, from an alert or from `createIncident`.
pub(super) struct NewIncident<'a> {
    pub(super) source: &'a str,
    pub(super) title: &'a str,
    pub(super) description: &'a str,
    pub(super) severity: Severity,
    pub(super) incident_type: IncidentType,
    pub(super) affected_resources: Vec<String>,
    pub(super) labels: Vec<Label>,
}

/// A `DETECTED` incident whose timeline starts with `actor` opening it.
pub(super) fn new_incident(
    now: DateTime<Utc>,
    fields: NewIncident<'_>,
    fingerprint: Option<String>,
    actor: &str,
) -> Incident {
    Incident {
        id: Uuid::new_v4(),
        created_at: now,
        updated_at: now,
        state: IncidentState::Detected,
        severity: fields.severity,
        incident_type: fields.incident_type,
        source: fields.source.to_owned(),
        title: fields.title.to_owned(),
        description: fields.description.to_owned(),
        affected_resources: fields.affected_resources,
        labels: fields.labels,
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
