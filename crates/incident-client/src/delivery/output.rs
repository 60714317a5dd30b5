//! Holding live events back while the stream is not live, and delivering to the consumer.

use super::{Action, Delivery, Key, Micros, Phase};
use crate::error::Error;
use crate::protocol::RawPayload;

impl Delivery {
    pub(super) fn hold(&mut self, payload: RawPayload, key: Option<Key>) {
        if key.is_some_and(|key| self.seen_contains(&key)) {
            // Delivered already (a page read it before its live event came).
            return;
        }
        let behind = matches!((key, self.last_read), (Some(key), Some(last)) if key <= last);
        if behind && self.depth < self.settings.capacity {
            // Committed behind a catch-up's reading (out of stamp order): no page will list it.
            // Delivered now, so the consumer's checkpoint cannot pass it first.
            return self.deliver(payload, key, false);
        }
        if self.held.len() >= self.settings.capacity {
            // Full: one event ahead of the reading makes room (the listing is read again from its
            // stamp, which no checkpoint has passed), or, with none, this one is dropped.
            let ahead = self
                .held
                .iter()
                .enumerate()
                .filter_map(|(at, (_, k))| k.filter(|k| Some(*k) > self.last_read).map(|k| (k, at)))
                .max();
            match ahead {
                Some((evicted, _)) if !behind && key.is_some_and(|k| k > evicted) => {
                    // The newest is the one to drop.
                    if let Some(key) = key {
                        self.reread(key.created);
                    }
                    return self.make_due();
                }
                Some((evicted, at)) => {
                    self.held.remove(at);
                    self.reread(evicted.created);
                    self.make_due();
                }
                // Behind the reading, with a deep queue and every held event behind it too: a
                // burst of commits out of order. Delivered beyond the bound rather than risked.
                None if behind => return self.deliver(payload, key, false),
                None => {
                    if let Some(key) = key {
                        self.reread(key.created);
                    }
                    return self.make_due();
                }
            }
        }
        if let Some(key) = key {
            self.held_floor = Some(self.held_floor.map_or(key.created, |f| f.min(key.created)));
        }
        self.held.push_back((payload, key));
    }

    /// Outside a catch-up, a dropped live event makes one due.
    fn make_due(&mut self) {
        if self.phase != Phase::CatchingUp {
            self.due = true;
        }
    }

    pub(super) fn deliver(&mut self, payload: RawPayload, key: Option<Key>, recovered: bool) {
        if let Some(key) = key {
            if self.watermark.is_none() {
                // No start was known: this is it.
                self.actions.push_back(Action::Started { at: key.created });
            }
            let watermark = self.watermark.map_or(key.created, |w| w.max(key.created));
            self.watermark = Some(watermark);
            // Remember back to where the listing may be read again.
            let overlap = self.settings.overlap.as_micros() as Micros;
            let horizon = watermark.saturating_sub(overlap);
            let horizon = self
                .reread_from
                .into_iter()
                .chain(self.held_floor)
                .chain(self.protect_from)
                .fold(horizon, Micros::min);
            if !recovered && self.phase == Phase::Live {
                self.seen_mut().insert_live(key, horizon);
            } else {
                self.seen_mut().insert(key, horizon);
            }
        }
        self.depth += 1;
        self.actions.push_back(Action::Deliver {
            payload,
            key,
            recovered,
        });
    }

    pub(super) fn end(&mut self, error: Error) {
        self.phase = Phase::Ended;
        self.held.clear();
        self.held_floor = None;
        self.actions.push_back(Action::End(error));
    }
}
