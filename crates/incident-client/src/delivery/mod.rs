//! The delivery state machine of one caught-up subscription (`new_incidents`,
//! `critical_incidents`, `subscribe_caught_up`), without I/O.
//!
//! Everything that decides what the consumer of such a stream sees lives here: when to catch
//! up, which page to read next, what a page or a live event delivers, what is held back and
//! what is set aside, deduplication, and where the stream's watermark is. The connection task
//! feeds it inputs and executes the [`Action`]s it queues; it never awaits, sleeps, spawns or
//! reads a clock (time comes in as `now`, in milliseconds of the driver's monotonic clock, and
//! every instant that decides delivery is a server stamp). So `sim` (the tests beside this
//! file) can run it through thousands of seeded fault schedules a minute.
//!
//! # States
//! - **Waiting**: not connected, or `subscribe` sent and not yet confirmed by the server. Live
//!   events (from an earlier connection) are held.
//! - **Probing**: the first confirmation came without a server clock reading; the newest listed
//!   incident's stamp becomes the start.
//! - **CatchingUp**: reading the listing oldest first from `watermark - overlap` (locating the
//!   first page by binary search, then page by page), delivering what the consumer has not had,
//!   while live events are held (at most `capacity` of them; past that they are dropped and the
//!   catch-up reads once more, since the listing has them). A failed page is retried after a
//!   backoff; the stream stays here until the server answers. A page is fetched only when the
//!   consumer has room, so a consumer however far behind costs at most `capacity` plus one page.
//! - **Live**: live events are delivered as they come, deduplicated. A full consumer buffer
//!   turns the stream back to CatchingUp (a refill): nothing is dropped for good.
//! - **Ended**: the server rejected the listing query for good; the stream ends with that error
//!   rather than a gap, so a checkpoint never moves past a hole.
//!
//! # The catch-up's start and the overlap
//! Incidents can commit out of stamp order (a server stamps, then takes its lock, then
//! publishes). The catch-up therefore re-reads an overlap (default 5 s) before the watermark,
//! and the dedup memory holds every delivered incident stamped within that overlap of the
//! watermark: sized by what it must cover, not a fixed count. The watermark is always a server
//! stamp: the newest delivered incident's, the handshake's `Date`, or a checkpoint's.
//!
//! # Layout
//! This file holds the machine ([`Delivery`]), its constructors, accessors and inputs (the
//! `on_*` methods); `types` the plain data it takes and gives (re-exported here); `paging` the
//! catch-up's reading of the listing; `output` holding live events and delivering.

pub(crate) mod listing;
mod output;
mod paging;
mod seen;
#[cfg(test)]
mod sim;
mod types;

use std::collections::VecDeque;

use crate::protocol::RawPayload;
use paging::{Cursor, LOCATE};
pub(crate) use seen::Seen;
pub(crate) use types::{
    Action, DEFAULT_OVERLAP, Failure, Key, Listed, Micros, PAGE_SIZE, Page, Phase, Query, Settings,
};

/// The delivery state machine of one subscription.
#[derive(Debug)]
pub(crate) struct Delivery {
    settings: Settings,
    phase: Phase,
    /// The newest stamp delivered, or where the stream started; `None` until the server said.
    watermark: Option<Micros>,
    /// Allocated with the first delivery (an idle subscription has none).
    seen: Option<Box<Seen>>,
    /// Live events received while not live and not yet delivered, in arrival order. A catch-up
    /// delivers (or drops, if it listed them) those its reading has passed.
    held: VecDeque<(RawPayload, Option<Key>)>,
    /// The oldest stamp in `held` (or older): the dedup memory keeps what was delivered since, so
    /// a held event is not delivered again however far a catch-up has read meanwhile.
    held_floor: Option<Micros>,
    /// A live event was dropped because `held` was full: the listing must be read again from its
    /// stamp (the oldest such) before the stream goes live.
    reread_from: Option<Micros>,
    /// Whether `subscribe` is confirmed on the current connection.
    confirmed: bool,
    /// A catch-up is due once confirmed: after a reconnect, a resume or a refill.
    due: bool,
    cursor: Cursor,
    /// Where this catch-up reads from.
    from: Micros,
    /// This catch-up reads again what was delivered since this stamp (a dropped live event's, or
    /// the watermark's when the connection went): the dedup memory keeps everything since.
    protect_from: Option<Micros>,
    /// When the subscription was first confirmed (the driver's milliseconds): a start read from
    /// the server's clock later is moved back to then.
    first_confirmed: Option<u64>,
    /// The newest listed incident this catch-up has read.
    last_read: Option<Key>,
    /// Caught up, waiting for the consumer to make room before the held events follow.
    live_on_room: bool,
    /// The request whose answer is awaited; answers to others are stale.
    in_flight: Option<u64>,
    requests: u64,
    /// Consecutive failed queries, for the backoff.
    failures: u32,
    /// A retry is scheduled for this time.
    retry_at: Option<u64>,
    /// The next step waits for the consumer to make room.
    awaiting_room: bool,
    /// Items queued for the consumer, as the driver last reported plus what was delivered since.
    depth: usize,
    actions: VecDeque<Action>,
}

impl Delivery {
    /// A stream that starts now: the first confirmation's server time is its start.
    pub(crate) fn new(settings: Settings) -> Self {
        Self {
            seen: None,
            settings,
            phase: Phase::Waiting,
            watermark: None,
            held: VecDeque::new(),
            held_floor: None,
            reread_from: None,
            confirmed: false,
            due: false,
            cursor: LOCATE,
            from: Micros::MIN,
            protect_from: None,
            first_confirmed: None,
            last_read: None,
            live_on_room: false,
            in_flight: None,
            requests: 0,
            failures: 0,
            retry_at: None,
            awaiting_room: false,
            depth: 0,
            actions: VecDeque::new(),
        }
    }

    /// A stream resumed from `checkpoint`: its consumer had the incidents it names (those
    /// stamped at its instant and within the overlap before it); it catches up from there once
    /// confirmed.
    pub(crate) fn resumed(settings: Settings, checkpoint: &crate::checkpoint::Checkpoint) -> Self {
        let at = checkpoint.created_at.timestamp_micros();
        let mut delivery = Self::new(settings);
        delivery.watermark = Some(at);
        for id in checkpoint.ids.iter().chain(&checkpoint.recent) {
            delivery.seen_mut().insert(
                Key {
                    created: at,
                    id: *id,
                },
                at.saturating_sub(1),
            );
        }
        delivery.due = true;
        delivery
    }

    fn seen_contains(&self, key: &Key) -> bool {
        self.seen.as_ref().is_some_and(|seen| seen.contains(key))
    }

    fn seen_mut(&mut self) -> &mut Seen {
        self.seen.get_or_insert_with(|| Box::new(Seen::new()))
    }

    /// Returns the memory of queues that are empty, when the consumer has nothing queued either
    /// (an idle stream keeps no buffer capacity; a busy one keeps it, to avoid reallocating).
    pub(crate) fn trim(&mut self, depth: usize) {
        if depth == 0 && self.actions.is_empty() {
            self.actions.shrink_to_fit();
        }
    }

    /// The next action to execute, oldest first.
    pub(crate) fn poll_action(&mut self) -> Option<Action> {
        self.actions.pop_front()
    }

    #[cfg(test)]
    pub(crate) fn phase(&self) -> Phase {
        self.phase
    }

    /// The newest stamp the stream has delivered (or started at).
    #[cfg(test)]
    pub(crate) fn watermark(&self) -> Option<Micros> {
        self.watermark
    }

    /// What holds the dedup memory back: a pending re-read, the oldest held event, a re-read
    /// pass's start.
    #[cfg(test)]
    pub(crate) fn floors(&self) -> (Option<Micros>, Option<Micros>, Option<Micros>) {
        (self.reread_from, self.held_floor, self.protect_from)
    }

    /// How many live events are held back and how many ids are remembered for deduplication:
    /// the memory the machine itself uses.
    #[cfg(test)]
    pub(crate) fn memory(&self) -> (usize, usize) {
        (self.held.len(), self.seen.as_ref().map_or(0, |s| s.len()))
    }

    /// `subscribe` went out on a new connection.
    pub(crate) fn on_subscribed(&mut self) {
        self.confirmed = false;
    }

    /// The server confirmed the subscription (the pong to a ping sent after `subscribe`).
    /// `server_now` is the server's clock as the connection's handshake reported it (plus the
    /// time since), if it did.
    pub(crate) fn on_confirmed(&mut self, server_now: Option<Micros>, now: u64, depth: usize) {
        if self.phase == Phase::Ended || self.confirmed {
            return;
        }
        self.confirmed = true;
        self.depth = depth;
        let first = *self.first_confirmed.get_or_insert(now);
        if self.watermark.is_none() {
            match server_now {
                Some(at) => {
                    // The server's time at the first confirmation, if this is a later one.
                    let at = at.saturating_sub(now.saturating_sub(first) as Micros * 1_000);
                    self.start_at(at);
                }
                None => {
                    if self.phase != Phase::Probing {
                        self.phase = Phase::Probing;
                        self.fetch(Query::Newest);
                    }
                    return;
                }
            }
        }
        if self.due || self.reread_from.is_some() {
            self.start_catch_up(now);
        } else if self.phase != Phase::CatchingUp {
            self.go_live();
        }
    }

    /// The connection is gone. A catch-up in flight goes on (the listing is HTTP), and a new
    /// one is due once the next connection is confirmed.
    pub(crate) fn on_disconnected(&mut self) {
        if self.phase == Phase::Ended {
            return;
        }
        self.confirmed = false;
        self.due = true;
        if let Some(seen) = self.seen.as_mut() {
            seen.index_live();
        };
        // What is committed from now until the next confirmation has no live event: the
        // catch-up after it reads from here, however far a pass still running reads meanwhile.
        if let Some(watermark) = self.watermark {
            let overlap = self.settings.overlap.as_micros() as Micros;
            self.reread(watermark.saturating_sub(overlap));
        }
        if self.phase == Phase::Live {
            self.phase = Phase::Waiting;
        }
    }

    /// A live event arrived (`key` names its incident, if it is one).
    pub(crate) fn on_live(&mut self, payload: RawPayload, key: Option<Key>, depth: usize) {
        self.depth = depth;
        match self.phase {
            Phase::Ended => {}
            Phase::Live => match key {
                // Not an incident (an error payload): nothing to catch up, delivered as it is.
                None => self.deliver(payload, None, false),
                Some(key) if self.seen_contains(&key) => {}
                Some(key) if self.depth >= self.settings.capacity => {
                    // Set aside, not lost: a refill reads it back from the listing.
                    self.reread(key.created);
                    self.phase = Phase::CatchingUp;
                    self.begin();
                    self.wait_for_room();
                }
                Some(key) => self.deliver(payload, Some(key), false),
            },
            Phase::Waiting | Phase::Probing | Phase::CatchingUp => self.hold(payload, key),
        }
    }

    /// The server ended the subscription (`complete` or `error`): the live events held back
    /// came before that, so they are delivered now, whatever a catch-up had still to read.
    pub(crate) fn on_server_end(&mut self) {
        if self.phase == Phase::Ended {
            return;
        }
        if let Some(seen) = self.seen.as_mut() {
            seen.index_live();
        };
        while let Some((payload, key)) = self.held.pop_front() {
            match key {
                Some(key) if self.seen_contains(&key) => {}
                key => self.deliver(payload, key, false),
            }
        }
        self.phase = Phase::Ended;
    }

    /// The consumer has room again.
    pub(crate) fn on_room(&mut self, now: u64, depth: usize) {
        self.depth = depth;
        if !self.awaiting_room {
            return;
        }
        self.awaiting_room = false;
        if self.phase != Phase::CatchingUp {
            return;
        }
        if self.live_on_room {
            self.go_live();
        } else {
            self.next_query(now);
        }
    }

    /// A scheduled wake-up.
    pub(crate) fn on_timer(&mut self, now: u64) {
        if self.retry_at.is_some_and(|at| at <= now) {
            self.retry_at = None;
            match self.phase {
                Phase::Probing => self.fetch(Query::Newest),
                Phase::CatchingUp => self.next_query(now),
                Phase::Waiting | Phase::Live | Phase::Ended => {}
            }
        }
    }
}
