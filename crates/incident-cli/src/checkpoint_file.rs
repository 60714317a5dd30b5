//! `--checkpoint FILE`: where `incident watch new|critical` resumes from, and records its progress.
//!
//! The file holds one JSON [`Checkpoint`]. It is replaced atomically after every event printed:
//! written to a temporary file next to it, flushed to disk (`fsync`), renamed over `FILE`, and
//! the directory flushed, so a crash leaves either the old or the new checkpoint, never a torn
//! one. The event is printed first, so a crash (even SIGKILL) between the two repeats at most
//! that one event on the next start: at-least-once delivery, at most one duplicate per crash,
//! nothing lost.
//!
//! One watcher per file. Two watchers on one checkpoint would each record their own progress
//! over the other's, so a restart would resume from whichever wrote last. So the watcher locks
//! `FILE.lock` (next to `FILE`, with [`File::try_lock`]: `flock` on Unix, `LockFileEx` on
//! Windows) before reading `FILE`, and holds the lock until it exits; a second watcher fails at
//! once, naming the file. The lock file itself stays behind: deleting it on exit would let a
//! third watcher lock a new `FILE.lock` while a second still holds the deleted one. The
//! operating system releases the lock when the process ends, however it ends (SIGKILL
//! included), so a crashed watcher never blocks its restart.
//!
//! Temporary files are named `FILE.<pid>.<n>.tmp`, unique to the process and the write, so no
//! two writers ever share one even without the lock (a watcher of an older version, say). The
//! ones a crash left behind are removed when the next watcher takes the lock: no one else can be
//! writing them then.

use std::fs::{File, TryLockError};
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow};
use incident_client::Checkpoint;

use crate::exit::UsageError;

/// A checkpoint file this process holds the lock of, for as long as the value lives.
#[derive(Debug)]
pub struct CheckpointFile {
    path: PathBuf,
    /// Held open for the lock: closing it (dropping the value, or the process ending) releases it.
    _lock: File,
    /// Saves so far, which makes each temporary file's name unique within the process.
    saves: u64,
}

impl CheckpointFile {
    /// Locks the checkpoint `path` for this process. Another process holding it is an error
    /// (exit 1) naming the file; a lock file that cannot be created is a usage error (exit 2),
    /// as an unreadable checkpoint is.
    pub fn lock(path: &Path) -> Result<CheckpointFile> {
        // Through a symlink or another spelling of the same folder, two watchers must still
        // meet at one lock file: the lock is taken next to the file the path resolves to.
        let resolved = resolve(path);
        let path = resolved.as_path();
        let lock_path = sibling(path, ".lock");
        let lock = File::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&lock_path)
            .map_err(|error| {
                UsageError(format!(
                    "cannot create the checkpoint's lock file {}: {error}",
                    lock_path.display()
                ))
            })?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                return Err(anyhow!(
                    "another watcher holds the checkpoint {} (it has locked {}); stop that watcher, or give this one a --checkpoint of its own",
                    path.display(),
                    lock_path.display()
                ));
            }
            Err(TryLockError::Error(error)) => {
                return Err(anyhow::Error::new(error)
                    .context(format!("cannot lock {}", lock_path.display())));
            }
        }
        remove_stale_temporaries(path);
        Ok(CheckpointFile {
            path: path.to_owned(),
            _lock: lock,
            saves: 0,
        })
    }

    /// The checkpoint in the file; `None` when there is no file yet. An unreadable or corrupt
    /// file is a usage error (exit 2): starting from now instead would silently skip what
    /// happened meanwhile.
    pub fn load(&self) -> Result<Option<Checkpoint>> {
        let path = &self.path;
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

    /// Replaces the checkpoint in the file atomically.
    pub fn save(&mut self, checkpoint: &Checkpoint) -> Result<()> {
        self.saves += 1;
        let temporary = sibling(
            &self.path,
            &format!(".{}.{}.tmp", std::process::id(), self.saves),
        );
        let written = write_synced(&temporary, checkpoint)
            .and_then(|()| {
                std::fs::rename(&temporary, &self.path)
                    .with_context(|| format!("replacing {}", self.path.display()))
            })
            .inspect_err(|_| {
                let _ = std::fs::remove_file(&temporary);
            });
        written?;
        // The rename itself is durable once the directory is flushed.
        if let Ok(directory) = File::open(directory_of(&self.path)) {
            let _ = directory.sync_all();
        }
        Ok(())
    }
}

/// Writes `checkpoint` as one JSON line to `path` and flushes it to disk.
fn write_synced(path: &Path, checkpoint: &Checkpoint) -> Result<()> {
    let text = serde_json::to_string(checkpoint)?;
    let mut file = File::create(path).with_context(|| format!("writing {}", path.display()))?;
    file.write_all(text.as_bytes())
        .and_then(|()| file.write_all(b"\n"))
        .with_context(|| format!("writing {}", path.display()))?;
    file.sync_all()
        .with_context(|| format!("flushing {}", path.display()))
}

/// `path` with its symlinks and relative parts resolved: the file itself when it exists (a
/// symlink to a checkpoint resolves to the checkpoint), else its folder joined with its name.
/// Unresolvable paths are kept as given (opening them reports the problem).
fn resolve(path: &Path) -> PathBuf {
    if let Ok(resolved) = std::fs::canonicalize(path) {
        return resolved;
    }
    let folder = match path.parent() {
        Some(folder) if !folder.as_os_str().is_empty() => folder,
        _ => Path::new("."),
    };
    match (std::fs::canonicalize(folder), path.file_name()) {
        (Ok(folder), Some(name)) => folder.join(name),
        _ => path.to_owned(),
    }
}

/// `path` with `suffix` added to its file name: `FILE.lock`, `FILE.<pid>.<n>.tmp`.
fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(suffix);
    path.with_file_name(name)
}

/// The folder `path` is in (`.` for a bare file name).
fn directory_of(path: &Path) -> &Path {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    }
}

/// Removes the temporary files (`FILE.<pid>.<n>.tmp`) that watchers of `path` left when they
/// crashed mid-write. Only called with the lock held. Failures are ignored: a leftover file
/// costs a few bytes, never correctness.
fn remove_stale_temporaries(path: &Path) {
    let Some(name) = path.file_name().and_then(|name| name.to_str()) else {
        return;
    };
    let Ok(entries) = std::fs::read_dir(directory_of(path)) else {
        return;
    };
    for entry in entries.flatten() {
        if entry
            .file_name()
            .to_str()
            .is_some_and(|candidate| is_temporary_of(name, candidate))
        {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// Whether `candidate` is a temporary file of the checkpoint `name`: `name.<pid>.<n>.tmp`.
fn is_temporary_of(name: &str, candidate: &str) -> bool {
    let Some(middle) = candidate
        .strip_prefix(name)
        .and_then(|rest| rest.strip_prefix('.'))
        .and_then(|rest| rest.strip_suffix(".tmp"))
    else {
        return false;
    };
    let mut numbers = middle.split('.');
    let number = |part: Option<&str>| {
        part.is_some_and(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()))
    };
    number(numbers.next()) && number(numbers.next()) && numbers.next().is_none()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_on_the_same_checkpoint_fails_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bot.checkpoint");
        let first = CheckpointFile::lock(&path).unwrap();
        let error = CheckpointFile::lock(&path).unwrap_err().to_string();
        assert!(
            error.contains("another watcher holds the checkpoint"),
            "{error}"
        );
        assert!(error.contains(&path.display().to_string()), "{error}");
        drop(first);
        CheckpointFile::lock(&path).expect("free again once the first is gone");
    }

    #[test]
    fn saves_replace_the_file_and_leave_no_temporary_behind() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bot.checkpoint");
        let mut file = CheckpointFile::lock(&path).unwrap();
        assert!(file.load().unwrap().is_none());
        let first = Checkpoint::at("2030-01-01T00:00:00Z".parse().unwrap());
        let second = Checkpoint::at("2030-01-01T00:00:01Z".parse().unwrap());
        file.save(&first).unwrap();
        file.save(&second).unwrap();
        assert_eq!(file.load().unwrap(), Some(second));
        let mut names: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, ["bot.checkpoint", "bot.checkpoint.lock"]);
    }

    #[test]
    fn temporaries_a_crash_left_are_removed_by_the_next_lock() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bot.checkpoint");
        let stale = dir.path().join("bot.checkpoint.4242.7.tmp");
        let unrelated = dir.path().join("other.checkpoint.4242.7.tmp");
        std::fs::write(&stale, "{").unwrap();
        std::fs::write(&unrelated, "{").unwrap();
        let _file = CheckpointFile::lock(&path).unwrap();
        assert!(!stale.exists());
        assert!(unrelated.exists());
    }

    #[test]
    fn only_numbered_temporaries_count_as_the_checkpoints() {
        for (candidate, expected) in [
            ("bot.checkpoint.12.3.tmp", true),
            ("bot.checkpoint.tmp", false),
            ("bot.checkpoint.12.tmp", false),
            ("bot.checkpoint.12.3.4.tmp", false),
            ("bot.checkpoint.x.3.tmp", false),
            ("bot.checkpoint.lock", false),
            ("bot.checkpoint", false),
            ("bot.checkpoints.12.3.tmp", false),
        ] {
            assert_eq!(
                is_temporary_of("bot.checkpoint", candidate),
                expected,
                "{candidate}"
            );
        }
    }
}
