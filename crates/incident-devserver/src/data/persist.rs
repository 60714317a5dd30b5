//! `--state FILE`: the store's data kept across restarts of the server process.
//!
//! At start the file is read if it exists (a corrupt one is an error, not an empty server). After
//! changes a writer task replaces it atomically (temporary file, fsync, rename), at most every
//! 50 ms, and once more when the server shuts down.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::store::{Inner, Store};
use crate::model::Incident;

/// What the state file holds.
#[derive(Debug, Serialize, Deserialize)]
struct State {
    incidents: Vec<StoredIncident>,
    /// Alert fingerprint, incident, first alert, first seen. Fingerprints are opaque here: those
    /// an older version hashed differently load like any other.
    fingerprints: Vec<(String, Uuid, Uuid, DateTime<Utc>)>,
}

/// An incident with what its wire form leaves out.
#[derive(Debug, Serialize, Deserialize)]
struct StoredIncident {
    #[serde(flatten)]
    incident: Incident,
    related: Vec<Uuid>,
}

/// Reads `path` into `store`, if it exists.
pub(crate) fn load(store: &Store, path: &Path) -> Result<(), String> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(error) => return Err(format!("cannot read {}: {error}", path.display())),
    };
    let state: State = serde_json::from_str(&text)
        .map_err(|error| format!("{} is not a state file: {error}", path.display()))?;
    tracing::info!(incidents = state.incidents.len(), file = %path.display(), "state loaded");
    store.import(state);
    Ok(())
}

/// Writes the store to `path` atomically.
pub(crate) fn save(store: &Store, path: &Path) -> std::io::Result<()> {
    use std::io::Write;
    let text = serde_json::to_vec(&store.export()).map_err(std::io::Error::other)?;
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".tmp");
    let temporary = path.with_file_name(name);
    let mut file = std::fs::File::create(&temporary)?;
    file.write_all(&text)?;
    file.sync_all()?;
    drop(file);
    std::fs::rename(&temporary, path)
}

/// Saves after every burst of changes until aborted.
pub(crate) async fn writer(store: Arc<Store>, path: PathBuf) {
    loop {
        store.changed().await;
        tokio::time::sleep(Duration::from_millis(50)).await;
        if let Err(error) = save(&store, &path) {
            tracing::warn!(%error, file = %path.display(), "could not save the state");
        }
    }
}

impl Store {
    /// Everything the store holds, as the state file keeps it.
    fn export(&self) -> State {
        let inner = self.read();
        State {
            incidents: inner
                .incidents
                .iter()
                .map(|incident| StoredIncident {
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
    fn import(&self, state: State) {
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{AckStatus, IncidentType, NewAlert, Severity};

    /// A state file as versions with `DefaultHasher` fingerprints (16 hex characters) wrote it.
    const OLD_STATE: &str = r#"{
      "incidents": [{
        "id": "5d0e0f43-8a52-4a39-9a38-7d4e2f0c1b11",
        "createdAt": "2025-01-02T03:04:05.123456+00:00",
        "updatedAt": "2025-01-02T03:04:05.123456+00:00",
        "state": "DETECTED", "severity": "P1", "incidentType": "APPLICATION",
        "source": "prometheus", "title": "High error rate on checkout-api", "description": "",
        "affectedResources": [], "labels": [], "resolution": null,
        "timeline": [{ "timestamp": "2025-01-02T03:04:05.123456+00:00", "eventType": "CREATED",
                       "actor": "alert", "description": "incident opened", "metadata": [] }],
        "assignees": [], "fingerprint": "9f2c4e1a7b3d5c60", "correlationScore": null,
        "related": []
      }],
      "fingerprints": [["9f2c4e1a7b3d5c60", "5d0e0f43-8a52-4a39-9a38-7d4e2f0c1b11",
                        "0b7c5a7e-8f55-4d0c-a4a4-0d2c7b9e6f21", "2999-01-01T00:00:00Z"]]
    }"#;

    fn alert() -> NewAlert {
        NewAlert {
            external_id: None,
            source: "prometheus".into(),
            title: "High error rate on checkout-api".into(),
            description: String::new(),
            severity: Severity::P1,
            alert_type: IncidentType::Application,
            labels: Vec::new(),
            affected_services: Vec::new(),
            runbook_url: None,
            annotations: Vec::new(),
        }
    }

    #[test]
    fn a_state_file_with_old_fingerprints_loads_and_new_alerts_dedup_among_themselves() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        std::fs::write(&path, OLD_STATE).unwrap();
        let store = Store::new(Duration::from_secs(900), 16);
        load(&store, &path).unwrap();
        assert_eq!(store.stats().0, 1);
        assert_eq!(store.submit_alert(alert()).status, AckStatus::Accepted);
        assert_eq!(store.submit_alert(alert()).status, AckStatus::Duplicate);
        assert_eq!(store.stats().0, 2);
        // The old fingerprint is kept, not rewritten: it is saved again as it was.
        save(&store, &path).unwrap();
        let saved: State = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        let mut lengths: Vec<usize> = saved.fingerprints.iter().map(|f| f.0.len()).collect();
        lengths.sort();
        assert_eq!(lengths, [16, 64]);
    }

    #[test]
    fn a_corrupt_state_file_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        std::fs::write(&path, "{ not json").unwrap();
        let store = Store::new(Duration::from_secs(900), 16);
        assert!(
            load(&store, &path)
                .unwrap_err()
                .contains("is not a state file")
        );
    }
}
