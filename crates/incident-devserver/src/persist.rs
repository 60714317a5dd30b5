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

use crate::model::Incident;
use crate::store::Store;

/// What the state file holds.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct State {
    pub(crate) incidents: Vec<StoredIncident>,
    /// Alert fingerprint, incident, first alert, first seen.
    pub(crate) fingerprints: Vec<(String, Uuid, Uuid, DateTime<Utc>)>,
}

/// An incident with what its wire form leaves out.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct StoredIncident {
    #[serde(flatten)]
    pub(crate) incident: Incident,
    pub(crate) related: Vec<Uuid>,
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
pub(crate) async fn writer(shared: Arc<crate::state::Shared>, path: PathBuf) {
    loop {
        shared.store.changed().await;
        tokio::time::sleep(Duration::from_millis(50)).await;
        if let Err(error) = save(&shared.store, &path) {
            tracing::warn!(%error, file = %path.display(), "could not save the state");
        }
    }
}
