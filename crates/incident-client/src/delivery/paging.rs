//! The catch-up's paging: answers to listing queries, locating the first page by binary search,
//! reading page by page, releasing the held live events the reading passed, going live, and
//! the queries, retries and waits for room in between.

use std::time::Duration;

use super::{Action, Delivery, Failure, Micros, PAGE_SIZE, Page, Phase, Query};

/// How a failed page is retried: 100 ms doubling to 5 s (the reconnect policy's ceilings,
/// without jitter: one client's queries do not herd), never giving up.
const PAGE_RETRY: crate::backoff::ReconnectPolicy = crate::backoff::ReconnectPolicy {
    base_delay: Duration::from_millis(100),
    max_delay: Duration::from_secs(5),
    max_attempts: None,
};

/// Where a catch-up is in the listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Cursor {
    /// Binary search for the first page that ends at or after `from`: it lies in
    /// `low..=high` (`high` unknown until page 0 told the total); `probe` is being read.
    Locating {
        low: i32,
        high: Option<i32>,
        probe: i32,
    },
    /// Reading page by page.
    Reading { page: i32 },
}

pub(super) const LOCATE: Cursor = Cursor::Locating {
    low: 0,
    high: None,
    probe: 0,
};

impl Delivery {
    /// A query came back.
    pub(crate) fn on_page(
        &mut self,
        request: u64,
        result: Result<Page, Failure>,
        now: u64,
        depth: usize,
    ) {
        if self.in_flight != Some(request) || self.phase == Phase::Ended {
            return;
        }
        self.in_flight = None;
        self.depth = depth;
        let page = match result {
            Ok(page) => page,
            Err(Failure::Permanent(error)) => return self.end(error),
            Err(Failure::Transient) if self.phase == Phase::Probing => {
                // The listing cannot tell the start yet: deliver live events meanwhile rather
                // than hold them (the first one delivered gives the start), and ask again at the
                // next confirmation if none came by then.
                self.phase = Phase::Waiting;
                if self.confirmed {
                    self.go_live();
                }
                return;
            }
            Err(Failure::Transient) => return self.retry_later(now),
        };
        match self.phase {
            Phase::Probing => {
                if page.incidents.is_empty() && page.listed > 0 {
                    // The newest incident could not be read: ask again later.
                    return self.retry_later(now);
                }
                self.failures = 0;
                // The newest incident now, or none yet: everything after it is new to this
                // stream. Live events held or dropped meanwhile are after the start too: a
                // consumer that saves the start as its checkpoint and restarts reads them again.
                let held = self
                    .held
                    .iter()
                    .filter_map(|(_, key)| key.map(|k| k.created));
                let at = held
                    .chain(self.reread_from)
                    .chain(page.incidents.first().map(|i| i.key.created))
                    .min()
                    .unwrap_or(0);
                self.start_at(at);
                self.phase = Phase::Waiting;
                if self.confirmed {
                    self.confirmed = false;
                    self.on_confirmed(None, now, depth);
                }
            }
            Phase::CatchingUp => {
                self.failures = 0;
                self.on_catch_up_page(page, now)
            }
            Phase::Waiting | Phase::Live | Phase::Ended => {}
        }
    }

    fn on_catch_up_page(&mut self, page: Page, now: u64) {
        let Cursor::Locating { low, high, probe } = self.cursor else {
            return self.read_page(page, now);
        };
        let high = high.unwrap_or((page.total_pages - 1).max(0));
        let ends_before = page
            .incidents
            .last()
            .is_some_and(|newest| newest.key.created < self.from);
        let (low, high) = if ends_before {
            (probe + 1, high.max(probe + 1))
        } else {
            (low, probe)
        };
        if low >= high {
            self.cursor = Cursor::Reading { page: low };
            if low == probe {
                return self.read_page(page, now);
            }
        } else {
            let probe = low + (high - low) / 2;
            self.cursor = Cursor::Locating {
                low,
                high: Some(high),
                probe,
            };
        }
        self.next_query(now);
    }

    /// Delivers what a page holds that the consumer has not had (and the held live events its
    /// reading has passed), then asks for the next one, or hands over to live delivery at the
    /// end of the listing.
    fn read_page(&mut self, page: Page, now: u64) {
        let Cursor::Reading { page: number } = self.cursor else {
            return;
        };
        let full = page.listed >= PAGE_SIZE;
        if let Some(last) = page.incidents.last() {
            self.last_read = self.last_read.max(Some(last.key));
        }
        for listed in page.incidents {
            if listed.key.created < self.from || self.seen_contains(&listed.key) {
                continue;
            }
            if let Some(severities) = &self.settings.severities
                && !listed
                    .opened
                    .is_some_and(|opened| severities.contains(&opened))
            {
                continue;
            }
            self.deliver(listed.payload, Some(listed.key), true);
        }
        self.release_passed();
        if full {
            self.cursor = Cursor::Reading { page: number + 1 };
            return self.next_query(now);
        }
        // The end of the listing: everything committed before this page was read is delivered.
        if self.reread_from.is_some() {
            // Live events were dropped meanwhile: read once more from the oldest of them.
            self.begin();
            return self.next_query(now);
        }
        if !self.confirmed {
            // Live again only once a connection is confirmed (and then, caught up once more).
            self.phase = Phase::Waiting;
            return;
        }
        self.due = false;
        self.go_live();
    }

    /// Delivers the held live events the catch-up's reading has passed that it did not deliver
    /// itself (committed behind it, out of stamp order), and forgets those it delivered.
    fn release_passed(&mut self) {
        let Some(last) = self.last_read else {
            return;
        };
        // The old floor stands while they are delivered: each delivery trims the dedup memory,
        // and the rest are checked against it.
        let held = std::mem::take(&mut self.held);
        let mut floor: Option<Micros> = None;
        for (payload, key) in held {
            match key {
                Some(key) if key <= last => {
                    if !self.seen_contains(&key) {
                        self.deliver(payload, Some(key), false);
                    }
                }
                key => {
                    if let Some(key) = key {
                        floor = Some(floor.map_or(key.created, |f| f.min(key.created)));
                    }
                    self.held.push_back((payload, key));
                }
            }
        }
        self.held_floor = floor;
    }

    /// Delivers the held live events (those not delivered by the catch-up) and goes live, once
    /// the consumer has room for them.
    pub(super) fn go_live(&mut self) {
        if !self.confirmed {
            // The connection went meanwhile: a catch-up is due once the next is confirmed.
            self.phase = Phase::Waiting;
            self.live_on_room = false;
            return;
        }
        if self.reread_from.is_some() {
            // A live event was dropped while waiting: read the listing again from it first.
            self.phase = Phase::CatchingUp;
            self.begin();
            return self.next_query(0);
        }
        if !self.held.is_empty() && self.depth * 2 > self.settings.capacity {
            self.phase = Phase::CatchingUp;
            self.live_on_room = true;
            self.wait_for_room();
            return;
        }
        self.live_on_room = false;
        self.protect_from = None;
        self.phase = Phase::Live;
        while let Some((payload, key)) = self.held.pop_front() {
            match key {
                Some(key) if self.seen_contains(&key) => {}
                key => self.deliver(payload, key, false),
            }
        }
        // Live events are not held until the next catch-up: give its memory back.
        self.held.shrink_to_fit();
        self.held_floor = None;
        if let Some(watermark) = self.watermark {
            let overlap = self.settings.overlap.as_micros() as Micros;
            self.seen_mut()
                .forget_before(watermark.saturating_sub(overlap));
        }
    }

    pub(super) fn start_catch_up(&mut self, now: u64) {
        self.due = false;
        self.phase = Phase::CatchingUp;
        self.begin();
        self.next_query(now);
    }

    /// A catch-up from the watermark less the overlap, or from the oldest dropped live event.
    pub(super) fn begin(&mut self) {
        if let Some(seen) = self.seen.as_mut() {
            seen.index_live();
        };
        let overlap = self.settings.overlap.as_micros() as Micros;
        let from = self
            .watermark
            .map_or(Micros::MIN, |w| w.saturating_sub(overlap));
        self.protect_from = self.reread_from.take();
        self.from = self.protect_from.map_or(from, |r| r.min(from));
        self.cursor = LOCATE;
        self.last_read = None;
        self.live_on_room = false;
        self.in_flight = None;
        self.retry_at = None;
    }

    /// Asks for the catch-up's next page, once the consumer has room and no retry is pending.
    pub(super) fn next_query(&mut self, now: u64) {
        let _ = now;
        if self.in_flight.is_some() || self.retry_at.is_some() || self.awaiting_room {
            return;
        }
        if self.depth * 2 > self.settings.capacity {
            // Every page may deliver: the consumer makes room first.
            return self.wait_for_room();
        }
        let page = match self.cursor {
            Cursor::Locating { probe, .. } => probe,
            Cursor::Reading { page } => page,
        };
        self.fetch(Query::Page(page));
    }

    pub(super) fn wait_for_room(&mut self) {
        if !self.awaiting_room {
            self.awaiting_room = true;
            self.actions.push_back(Action::AwaitRoom);
        }
    }

    pub(super) fn fetch(&mut self, query: Query) {
        self.requests += 1;
        self.in_flight = Some(self.requests);
        self.actions.push_back(Action::Fetch {
            request: self.requests,
            query,
        });
    }

    fn retry_later(&mut self, now: u64) {
        self.failures += 1;
        let at = now + PAGE_RETRY.ceiling(self.failures).as_millis() as u64;
        self.retry_at = Some(at);
        self.actions.push_back(Action::Wake { at });
    }

    /// The stream starts at `at` (a server stamp).
    pub(super) fn start_at(&mut self, at: Micros) {
        let at = self.held_floor.map_or(at, |floor| floor.min(at));
        self.watermark = Some(at);
        self.actions.push_back(Action::Started { at });
    }

    /// The listing must be read again from `stamp` before the stream goes live.
    pub(super) fn reread(&mut self, stamp: Micros) {
        self.reread_from = Some(self.reread_from.map_or(stamp, |r| r.min(stamp)));
    }
}
