//! The dedup memory of a caught-up stream: every incident delivered that a catch-up may read
//! again, that is, stamped within the overlap before the watermark (and any newer).

use std::collections::{BTreeSet, HashSet};
use std::time::Duration;

use incident_schema::Uuid;

use super::{Key, Micros};

/// Delivered incidents within the overlap of the watermark.
#[derive(Debug)]
pub(crate) struct Seen {
    ids: HashSet<Uuid, foldhash::fast::RandomState>,
    by_stamp: BTreeSet<Key>,
    overlap: Micros,
}

impl Seen {
    pub(crate) fn new(overlap: Duration) -> Self {
        Self {
            ids: HashSet::default(),
            by_stamp: BTreeSet::new(),
            overlap: overlap.as_micros() as Micros,
        }
    }

    pub(crate) fn contains(&self, key: &Key) -> bool {
        self.ids.contains(&key.id)
    }

    /// Remembers `key`, and forgets what no catch-up from `watermark` reads again.
    pub(crate) fn insert(&mut self, key: Key, watermark: Micros) {
        if self.ids.insert(key.id) {
            self.by_stamp.insert(key);
        }
        let horizon = watermark.saturating_sub(self.overlap);
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
