//! The dedup memory of a caught-up stream: every incident delivered that a catch-up may read
//! again: stamped within the overlap before the watermark (or since a dropped live event that
//! the listing is read again for), and any newer.

use std::collections::{BTreeSet, HashSet};

use incident_schema::Uuid;

use super::{Key, Micros};

/// Delivered incidents within the overlap of the watermark.
#[derive(Debug)]
pub(crate) struct Seen {
    ids: HashSet<Uuid, foldhash::fast::RandomState>,
    by_stamp: BTreeSet<Key>,
}

impl Seen {
    pub(crate) fn new() -> Self {
        Self {
            ids: HashSet::default(),
            by_stamp: BTreeSet::new(),
        }
    }

    pub(crate) fn contains(&self, key: &Key) -> bool {
        self.ids.contains(&key.id)
    }

    /// Remembers `key`, and forgets what was stamped before `horizon` (no catch-up reads it
    /// again).
    pub(crate) fn insert(&mut self, key: Key, horizon: Micros) {
        if self.ids.insert(key.id) {
            self.by_stamp.insert(key);
        }
        self.forget_before(horizon);
    }

    /// Forgets what was stamped before `horizon`.
    pub(crate) fn forget_before(&mut self, horizon: Micros) {
        while let Some(oldest) = self.by_stamp.first().copied() {
            if oldest.created >= horizon {
                break;
            }
            self.by_stamp.pop_first();
            self.ids.remove(&oldest.id);
        }
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.ids.len()
    }
}
