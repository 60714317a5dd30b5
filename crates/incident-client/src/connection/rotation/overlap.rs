//! Events read on both connections while rotating are delivered once: [`Overlap`] counts what
//! each [`Side`] delivered until the other side has delivered the same.

use std::collections::HashMap;
use std::hash::BuildHasher;

/// Which connection an event came in on: the one the streams are on, or the other one (the
/// next while rotating, the old while it is read to its end).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Side {
    Current,
    Next,
}

/// The events each side delivered that the other has not (yet) delivered too, counted.
#[derive(Debug, Default)]
pub(crate) struct Overlap {
    current: HashMap<u64, u32>,
    next: HashMap<u64, u32>,
    hasher: foldhash::fast::FixedState,
}

impl Overlap {
    /// Whether the event `payload` of subscription `id` read on `side` is new (deliver it) or
    /// the other side's copy of one already delivered (drop it).
    pub(crate) fn admit(&mut self, side: Side, id: &str, payload: &str) -> bool {
        let key = self.hasher.hash_one((id, payload));
        let (mine, theirs) = match side {
            Side::Current => (&mut self.current, &mut self.next),
            Side::Next => (&mut self.next, &mut self.current),
        };
        if let Some(count) = theirs.get_mut(&key) {
            *count -= 1;
            if *count == 0 {
                theirs.remove(&key);
            }
            return false;
        }
        *mine.entry(key).or_default() += 1;
        true
    }

    /// The next connection becomes the current one.
    pub(super) fn swap(&mut self) {
        std::mem::swap(&mut self.current, &mut self.next);
    }

    pub(super) fn clear(&mut self) {
        self.current.clear();
        self.next.clear();
    }

    /// How many events wait for their copy.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.current
            .values()
            .chain(self.next.values())
            .map(|n| *n as usize)
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_read_on_both_connections_is_delivered_once() {
        let mut overlap = Overlap::default();
        assert!(overlap.admit(Side::Current, "1", r#"{"data":1}"#));
        assert!(
            overlap.admit(Side::Next, "2", r#"{"data":1}"#),
            "another subscription"
        );
        assert!(!overlap.admit(Side::Next, "1", r#"{"data":1}"#));
        assert!(overlap.admit(Side::Next, "1", r#"{"data":3}"#));
        assert!(!overlap.admit(Side::Current, "1", r#"{"data":3}"#));
        assert!(!overlap.admit(Side::Current, "2", r#"{"data":1}"#));
        assert_eq!(overlap.len(), 0);
    }

    #[test]
    fn counted_copies_are_dropped_once_each_and_sides_swap() {
        let mut overlap = Overlap::default();
        assert!(overlap.admit(Side::Current, "1", "a"));
        assert!(
            overlap.admit(Side::Current, "1", "a"),
            "the same text twice on one side"
        );
        assert!(!overlap.admit(Side::Next, "1", "a"));
        assert!(!overlap.admit(Side::Next, "1", "a"));
        assert!(overlap.admit(Side::Next, "1", "a"), "a third is new");
        overlap.swap();
        // What the next side delivered is now the current side's.
        assert!(!overlap.admit(Side::Next, "1", "a"));
        assert_eq!(overlap.len(), 0);
    }
}
