//! `--checkpoint FILE`: where `incident watch new|critical` resumes from, and records its progress.
//!
//! The file holds one JSON [`Checkpoint`]. It is replaced atomically after every event printed:
//! written to `FILE.tmp`, flushed to disk (`fsync`), renamed over `FILE`, and the directory
//! flushed, so a crash leaves either the old or the new checkpoint, never a torn one. The event
//! is printed first, so a crash (even SIGKILL) between the two repeats at most that one event
//! on the next start: at-least-once delivery, at most one duplicate per crash, nothing lost.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use incident_client::Checkpoint;

use crate::exit::UsageError;

/// The checkpoint in `path`; `None` when there is no file yet. An unreadable or corrupt file is a
/// usage error (exit 2): starting from now instead would silently skip what happened meanwhile.
pub fn load(path: &Path) -> Result<Option<Checkpoint>> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(error) => {
            return Err(UsageError(format!(
                "cannot read the checkpoint {}: {error}",
                path.display()
            ))
            .into());
        }
    };
    serde_json::from_str(&text).map(Some).map_err(|error| {
        UsageError(format!(
            "the checkpoint {} is corrupt ({error}); fix or remove it (removing it starts from now and skips what was missed)",
            path.display()
        ))
        .into()
    })
}

/// Replaces the checkpoint in `path` atomically.
pub fn save(path: &Path, checkpoint: &Checkpoint) -> Result<()> {
    let temporary = temporary_path(path);
    let text = serde_json::to_string(checkpoint)?;
    let mut file = std::fs::File::create(&temporary)
        .with_context(|| format!("writing {}", temporary.display()))?;
    file.write_all(text.as_bytes())?;
    file.write_all(b"\n")?;
    file.sync_all()
        .with_context(|| format!("flushing {}", temporary.display()))?;
    drop(file);
    std::fs::rename(&temporary, path).with_context(|| format!("replacing {}", path.display()))?;
    // The rename itself is durable once the directory is flushed.
    let directory = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    if let Ok(directory) = std::fs::File::open(directory) {
        let _ = directory.sync_all();
    }
    Ok(())
}

fn temporary_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".tmp");
    path.with_file_name(name)
}
