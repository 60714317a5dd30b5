//! The dedup memory of a caught-up stream: every incident delivered that a catch-up may read
//! again: stamped within the overlap before the watermark (or since a dropped live event that
//! the listing is read again for), and any newer.

use std::collections::{HashSet, VecDeque};

use incident_schema::Uuid;

use super::{Key, Micros};

/// Delivered incidents within the overlap of the watermark.
#[derive(Debug)]
pub(crate) struct Seen {
    ids: HashSet<Uuid, foldhash::fast::RandomState>,
    /// In the order they were delivered, which is about stamp order; forgetting stops at the
    /// first one still needed, so one delivered out of order is kept a little longer, never
    /// forgotten early.
    by_stamp: VecDeque<Key>,
}

impl Seen {
    pub(crate) fn new() -> Self {
        Self {
            ids: HashSet::default(),
            by_stamp: VecDeque::new(),
        }
    }

    pub(crate) fn contains(&self, key: &Key) -> bool {
        self.ids.contains(&key.id)
    }

    /// Remembers `key`, and forgets what was stamped before `horizon` (no catch-up reads it
    /// again).
    pub(crate) fn insert(&mut self, key: Key, horizon: Micros) {
        if self.ids.insert(key.id) {
            self.by_stamp.push_back(key);
        }
        self.forget_before(horizon);
    }

    /// Forgets what was stamped before `horizon`.
    pub(crate) fn forget_before(&mut self, horizon: Micros) {
        while let Some(oldest) = self.by_stamp.front().copied() {
            if oldest.created >= horizon {
                break;
            }
            self.by_stamp.pop_front();
            self.ids.remove(&oldest.id);
        }
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.ids.len()
    }
}
