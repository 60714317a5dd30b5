//! Taking in alerts: validation, deduplication by fingerprint inside a window, and the incident a
//! new fingerprint opens.

use std::sync::Arc;

use chrono::Utc;
use uuid::Uuid;

use super::fingerprint::fingerprint;
use super::incidents::{NewIncident, new_incident};
use super::store::{Event, Store};
use crate::model::{AckStatus, Alert, AlertAck, NewAlert};

impl Store {
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
                    NewIncident {
                        source: &alert.source,
                        title: &alert.title,
                        description: &alert.description,
                        severity: alert.severity,
                        incident_type: alert.alert_type,
                        affected_resources: alert.affected_services.clone(),
                        labels: alert.labels.clone(),
                    },
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
}

/// The real server's alert rules, for GraphQL and REST alike: a source, and a title of 1 to 500
/// characters.
pub(crate) fn validate_alert(source: &str, title: &str) -> Result<(), String> {
    if source.is_empty() {
        return Err("source must not be empty".into());
    }
    if title.is_empty() || title.chars().count() > 500 {
        return Err("title must be 1 to 500 characters".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::model::{IncidentType, Severity};

    fn alert(title: &str) -> NewAlert {
        NewAlert {
            external_id: None,
            source: "prometheus".into(),
            title: title.into(),
            description: String::new(),
            severity: Severity::P2,
            alert_type: IncidentType::Application,
            labels: Vec::new(),
            affected_services: Vec::new(),
            runbook_url: None,
            annotations: Vec::new(),
        }
    }

    #[test]
    fn a_repeat_inside_the_window_joins_the_first_incident() {
        let store = Store::new(Duration::from_secs(60), 16);
        let first = store.submit_alert(alert("disk full"));
        let again = store.submit_alert(alert("disk full"));
        let other = store.submit_alert(alert("cpu hot"));
        assert_eq!(first.status, AckStatus::Accepted);
        assert_eq!(again.status, AckStatus::Duplicate);
        assert_eq!(again.incident_id, first.incident_id);
        assert_eq!(other.status, AckStatus::Accepted);
        assert_ne!(other.incident_id, first.incident_id);
    }

    #[test]
    fn alert_rules() {
        assert!(validate_alert("prometheus", "disk full").is_ok());
        assert!(validate_alert("", "disk full").is_err());
        assert!(validate_alert("prometheus", "").is_err());
        assert!(validate_alert("prometheus", &"x".repeat(501)).is_err());
    }
}
