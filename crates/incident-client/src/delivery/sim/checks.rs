//! The invariants: the memory bounds after each step, and after each schedule that every
//! incident the stream must deliver was taken, none twice within a process, none outside the
//! filter, and the dedup memory within its window.

use super::world::World;
use crate::delivery::{Micros, PAGE_SIZE, Phase};

impl World {
    pub(super) fn check_bounds(&mut self) {
        let queue = self.consumer.queue.len();
        let (held, _) = self.delivery.memory();
        self.max_queue = self.max_queue.max(queue);
        self.max_held = self.max_held.max(held);
        let capacity = self.settings.capacity;
        assert!(
            held <= capacity,
            "seed {}: {held} live events held with a buffer of {capacity}",
            self.seed
        );
        // Events committed behind a catch-up's reading are delivered at once, past the bound if
        // they must: at most those committed within the overlap when they were delivered (they
        // stay queued while the consumer pauses, so the allowance lasts until it drains).
        if queue <= 2 * capacity + PAGE_SIZE {
            self.late_allowance = 0;
            return;
        }
        let overlap = self.settings.overlap.as_millis() as u64;
        let late: usize = self
            .commits_at
            .range(self.now.saturating_sub(overlap)..=self.now)
            .map(|(_, n)| *n)
            .sum();
        self.late_allowance = self.late_allowance.max(late);
        assert!(
            queue <= 2 * capacity + PAGE_SIZE + self.late_allowance,
            "seed {}: {queue} items queued with a buffer of {capacity} ({} late commits)",
            self.seed,
            self.late_allowance
        );
    }

    pub(super) fn check_outcome(&self) {
        let seed = self.seed;
        let required_from = self.required_from.expect("the client connected");
        assert_ne!(
            self.delivery.phase(),
            Phase::Ended,
            "seed {seed}: ended after the faults stopped"
        );
        assert!(
            self.consumer.queue.is_empty(),
            "seed {seed}: the consumer did not drain"
        );
        let mut missing = Vec::new();
        for incident in &self.store {
            let required = incident.key.created >= required_from
                && self
                    .faults
                    .severities
                    .is_none_or(|s| s.contains(&incident.opened));
            if required && !self.taken.contains_key(&incident.key.id) {
                missing.push(incident.key);
            }
            if !self
                .faults
                .severities
                .is_none_or(|s| s.contains(&incident.opened))
            {
                assert!(
                    !self.taken.contains_key(&incident.key.id),
                    "seed {seed}: an incident opened as {:?} was delivered to {:?}",
                    incident.opened,
                    self.faults.severities
                );
            }
        }
        assert!(
            missing.is_empty(),
            "seed {seed}: {} of {} incidents lost (first {:?}); faults {:?}",
            missing.len(),
            self.store.len(),
            missing.first(),
            self.faults
        );
        let duplicates: u32 = self.taken.values().map(|n| n - 1).sum();
        assert!(
            duplicates <= self.crashes,
            "seed {seed}: {duplicates} duplicates after {} crashes",
            self.crashes
        );
        let seen_bound = self.delivery.memory().1;
        let watermark = self.delivery.watermark().unwrap_or(Micros::MIN);
        // Forgetting follows delivery order, which is stamp order up to commits out of order
        // (within the overlap): so at most what is stamped within twice the overlap.
        let overlap = self.settings.overlap.as_micros() as Micros;
        let in_window = self
            .store
            .iter()
            .filter(|i| i.key.created >= watermark.saturating_sub(2 * overlap))
            .count()
            + self.consumer.progress.checkpoint().ids.len()
            + self.consumer.progress.checkpoint().recent.len();
        assert!(
            seen_bound <= in_window,
            "seed {seed}: the dedup memory holds {seen_bound} ids, more than the {in_window} it must cover (phase {:?}, watermark {watermark}, floors {:?})",
            self.delivery.phase(),
            self.delivery.floors()
        );
    }
}
