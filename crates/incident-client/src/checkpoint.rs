//! `Checkpoint`: how far a consumer of an incident-creation stream has got, to resume from after
//! a restart.

use incident_schema::{Timestamp, Uuid};
use serde::{Deserialize, Serialize};

/// How far a consumer of `new_incidents`, `critical_incidents` or a caught-up custom stream has
/// got: of the incidents created exactly at `created_at`, the ones in `ids` were delivered, and of
/// those created in the catch-up overlap before it (5 s by default), the ones in `recent`;
/// everything older was delivered. Small (one timestamp and the ids of a few seconds),
/// serializable, and ordered by progress.
///
/// `recent` exists because a server can commit incidents out of stamp order: a resumed stream
/// reads the overlap before `created_at` again, and skips what `recent` names.
///
/// [`crate::Subscription::checkpoint`] gives it after each delivered item; the `*_from` methods
/// of [`crate::IncidentClient`] start a stream from one: they catch up on what was created since
/// (oldest first, deduplicated) and then go on live, with no gap and no duplicate at the switch.
///
/// ```
/// use incident_client::Checkpoint;
///
/// let saved = r#"{"created_at":"2026-11-30T09:15:00.123456789Z","ids":["6f1c3a2e-1111-4e3b-9a51-3b1d4d0f8c2a"]}"#;
/// let checkpoint: Checkpoint = serde_json::from_str(saved).unwrap();
/// assert_eq!(serde_json::to_string(&checkpoint).unwrap(), saved);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Checkpoint {
    /// The creation time of the newest incident delivered.
    pub created_at: Timestamp,
    /// The incidents created at exactly `created_at` that were delivered.
    pub ids: Vec<Uuid>,
    /// The incidents created within the overlap before `created_at` that were delivered.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub recent: Vec<Uuid>,
}

impl Checkpoint {
    /// A checkpoint at `created_at` with nothing delivered at that instant: resuming from it
    /// delivers every incident created at or after it.
    pub fn at(created_at: Timestamp) -> Self {
        Self {
            created_at,
            ids: Vec::new(),
            recent: Vec::new(),
        }
    }

    /// Records a delivered incident. Older ones leave the checkpoint where it is: everything
    /// before it counts as delivered.
    #[cfg(test)]
    pub(crate) fn advance(&mut self, id: Uuid, created_at: Timestamp) {
        if created_at > self.created_at {
            self.created_at = created_at;
            self.ids.clear();
            self.ids.push(id);
        } else if created_at == self.created_at && !self.ids.contains(&id) {
            self.ids.push(id);
        }
    }
}

/// A checkpoint advanced event by event. The ids at its instant are also kept in a set, so each
/// step costs the same however many incidents share an instant (a burst stamped alike, say), and
/// the ids within the overlap before it by stamp, so they are forgotten as it moves on.
#[derive(Debug, Clone)]
pub(crate) struct Progress {
    checkpoint: Checkpoint,
    at_instant: std::collections::HashSet<Uuid, foldhash::fast::RandomState>,
    recent: std::collections::BTreeSet<(i64, Uuid)>,
    overlap: i64,
}

impl Progress {
    pub(crate) fn new(checkpoint: Checkpoint) -> Self {
        let at_instant = checkpoint.ids.iter().copied().collect();
        let at = checkpoint.created_at.timestamp_micros();
        // Their stamps are not saved: kept as if at the checkpoint, they are forgotten last.
        let recent = checkpoint.recent.iter().map(|id| (at, *id)).collect();
        Self {
            checkpoint,
            at_instant,
            recent,
            overlap: 0,
        }
    }

    /// Remembers the ids delivered within `overlap` before the checkpoint too.
    pub(crate) fn with_overlap(mut self, overlap: std::time::Duration) -> Self {
        self.overlap = overlap.as_micros() as i64;
        self
    }

    /// [`Checkpoint::advance`] without its linear search.
    pub(crate) fn advance(&mut self, id: Uuid, created_at: Timestamp) {
        let micros = created_at.timestamp_micros();
        if created_at > self.checkpoint.created_at {
            let before = self.checkpoint.created_at.timestamp_micros();
            if self.overlap > 0 {
                self.recent
                    .extend(self.checkpoint.ids.iter().map(|id| (before, *id)));
            }
            self.checkpoint.created_at = created_at;
            self.checkpoint.ids.clear();
            self.at_instant.clear();
            let horizon = micros.saturating_sub(self.overlap);
            while self.recent.first().is_some_and(|(at, _)| *at < horizon) {
                self.recent.pop_first();
            }
        }
        if created_at == self.checkpoint.created_at {
            if self.at_instant.insert(id) {
                self.checkpoint.ids.push(id);
            }
        } else if self.overlap > 0
            && micros >= self.checkpoint.created_at.timestamp_micros() - self.overlap
        {
            self.recent.insert((micros, id));
        }
    }

    pub(crate) fn checkpoint(&self) -> Checkpoint {
        let mut checkpoint = self.checkpoint.clone();
        checkpoint.recent = self.recent.iter().map(|(_, id)| *id).collect();
        checkpoint
    }
}

impl PartialOrd for Checkpoint {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

/// Further along is greater: a later `created_at`, or as late with more delivered at it.
impl Ord for Checkpoint {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.created_at
            .cmp(&other.created_at)
            .then(self.ids.len().cmp(&other.ids.len()))
            .then_with(|| self.ids.cmp(&other.ids))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    #[test]
    fn advancing_keeps_the_ids_of_the_newest_instant() {
        let mut checkpoint = Checkpoint::at(at("2030-01-01T00:00:00Z"));
        let (a, b, c) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
        checkpoint.advance(a, at("2030-01-01T00:00:01Z"));
        checkpoint.advance(b, at("2030-01-01T00:00:01Z"));
        checkpoint.advance(b, at("2030-01-01T00:00:01Z"));
        assert_eq!(checkpoint.ids, [a, b]);
        checkpoint.advance(c, at("2029-12-31T00:00:00Z"));
        assert_eq!(checkpoint.created_at, at("2030-01-01T00:00:01Z"));
        checkpoint.advance(c, at("2030-01-01T00:00:02.5Z"));
        assert_eq!(checkpoint.ids, [c]);
    }

    #[test]
    fn progress_advances_like_a_checkpoint() {
        let (a, b, c) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
        let start = Checkpoint {
            ids: vec![a],
            ..Checkpoint::at(at("2030-01-01T00:00:00Z"))
        };
        let mut progress = Progress::new(start.clone());
        let mut plain = start;
        for (id, time) in [
            (a, "2030-01-01T00:00:00Z"),
            (b, "2030-01-01T00:00:00Z"),
            (b, "2030-01-01T00:00:00Z"),
            (c, "2029-01-01T00:00:00Z"),
            (c, "2030-01-01T00:00:01Z"),
            (a, "2030-01-01T00:00:01Z"),
        ] {
            progress.advance(id, at(time));
            plain.advance(id, at(time));
            assert_eq!(progress.checkpoint(), plain);
        }
    }

    #[test]
    fn progress_remembers_the_overlap_before_the_checkpoint() {
        let (a, b, c, d) = (
            Uuid::new_v4(),
            Uuid::new_v4(),
            Uuid::new_v4(),
            Uuid::new_v4(),
        );
        let mut progress = Progress::new(Checkpoint::at(at("2030-01-01T00:00:00Z")))
            .with_overlap(std::time::Duration::from_secs(5));
        progress.advance(a, at("2030-01-01T00:00:01Z"));
        progress.advance(b, at("2030-01-01T00:00:03Z"));
        // Out of stamp order, within the overlap.
        progress.advance(c, at("2030-01-01T00:00:02Z"));
        progress.advance(d, at("2030-01-01T00:00:07Z"));
        let checkpoint = progress.checkpoint();
        assert_eq!(checkpoint.ids, [d]);
        let mut recent = checkpoint.recent.clone();
        recent.sort();
        let mut expected = vec![b, c];
        expected.sort();
        assert_eq!(recent, expected, "a is more than 5 s before d");
        let json = serde_json::to_string(&checkpoint).unwrap();
        assert_eq!(
            serde_json::from_str::<Checkpoint>(&json).unwrap(),
            checkpoint
        );
    }

    #[test]
    fn checkpoints_order_by_progress_and_round_trip_through_json() {
        let early = Checkpoint::at(at("2030-01-01T00:00:00Z"));
        let mut later = early.clone();
        later.advance(Uuid::new_v4(), at("2030-01-01T00:00:00Z"));
        assert!(later > early);
        let json = serde_json::to_string(&later).unwrap();
        assert_eq!(serde_json::from_str::<Checkpoint>(&json).unwrap(), later);
        assert!(serde_json::from_str::<Checkpoint>(r#"{"created_at":"yesterday"}"#).is_err());
    }
}
