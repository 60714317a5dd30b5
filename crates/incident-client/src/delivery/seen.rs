//! The dedup memory of a caught-up stream: every incident delivered that a catch-up may read
//! again: stamped within the overlap before the watermark (or since a dropped live event that
//! the listing is read again for), and any newer.
//!
//! Live deliveries are only appended to a list (a live event never repeats one on the same
//! subscription, so nothing checks them one by one); the list is indexed when a catch-up or a
//! hold needs it. So a stream that stays live pays a push per event, not a hash insert.

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
    /// Live deliveries not indexed yet, in delivery order.
    live: VecDeque<Key>,
}

impl Seen {
    pub(crate) fn new() -> Self {
        Self {
            ids: HashSet::default(),
            by_stamp: VecDeque::new(),
            live: VecDeque::new(),
        }
    }

    /// Remembers a live delivery (see the module docs), and forgets what was stamped before
    /// `horizon`.
    pub(crate) fn insert_live(&mut self, key: Key, horizon: Micros) {
        self.live.push_back(key);
        self.forget_before(horizon);
    }

    /// Indexes the live deliveries, before anything is checked against them.
    pub(crate) fn index_live(&mut self) {
        for key in std::mem::take(&mut self.live) {
            if self.ids.insert(key.id) {
                self.by_stamp.push_back(key);
            }
        }
    }

    /// Whether `key` was delivered (live deliveries count once indexed).
    pub(crate) fn contains(&self, key: &Key) -> bool {
        !self.ids.is_empty() && self.ids.contains(&key.id)
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
        while self
            .live
            .front()
            .is_some_and(|oldest| oldest.created < horizon)
        {
            self.live.pop_front();
        }
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.ids.len() + self.live.len()
    }
}
