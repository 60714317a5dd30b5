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

pub(crate) mod listing;
mod seen;
#[cfg(test)]
mod sim;

use std::collections::VecDeque;
use std::time::Duration;

use incident_schema::{Severity, Uuid};

use crate::error::Error;
use crate::protocol::RawPayload;
pub(crate) use seen::Seen;

/// Microseconds since the Unix epoch, as the server stamped them.
pub(crate) type Micros = i64;

/// Incidents per page of a catch-up.
pub(crate) const PAGE_SIZE: usize = 100;

/// How much of the listing before the watermark a catch-up reads again by default.
pub(crate) const DEFAULT_OVERLAP: Duration = Duration::from_secs(5);

/// What names an incident and orders the listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct Key {
    pub(crate) created: Micros,
    pub(crate) id: Uuid,
}

/// An incident read from the listing.
#[derive(Debug, Clone)]
pub(crate) struct Listed {
    pub(crate) key: Key,
    /// The severity it was opened with (before any escalation); `None` for one this SDK does
    /// not know, which only a stream without a severity filter delivers.
    pub(crate) opened: Option<Severity>,
    pub(crate) payload: RawPayload,
}

/// One page of the listing, oldest first (by `createdAt`, then id).
#[derive(Debug, Clone, Default)]
pub(crate) struct Page {
    /// The incidents that could be read (an id and a stamp).
    pub(crate) incidents: Vec<Listed>,
    /// How many the page held, read or not: a full page means there may be more.
    pub(crate) listed: usize,
    pub(crate) total_pages: i32,
}

/// What the driver asks the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Query {
    /// Page `n` of the whole listing, oldest first.
    Page(i32),
    /// The newest incident (the first page newest first, one incident).
    Newest,
}

/// Why a query got no page.
#[derive(Debug, Clone)]
pub(crate) enum Failure {
    /// The server may answer later (unreachable, timed out, 5xx): retried.
    Transient,
    /// The server refuses the query itself: retrying cannot help.
    Permanent(Error),
}

/// What the machine asks of its driver.
#[derive(Debug, Clone)]
pub(crate) enum Action {
    /// Run `query` and answer with [`Delivery::on_page`] and the same `request`.
    Fetch { request: u64, query: Query },
    /// Queue this for the consumer.
    Deliver {
        payload: RawPayload,
        key: Option<Key>,
        recovered: bool,
    },
    /// Call [`Delivery::on_room`] once the consumer has drained half its buffer.
    AwaitRoom,
    /// Call [`Delivery::on_timer`] at `at` (the driver's milliseconds).
    Wake { at: u64 },
    /// A new stream's start is known (a server stamp): its checkpoint until the consumer takes
    /// an incident.
    Started { at: Micros },
    /// End the stream with this error.
    End(Error),
}

/// Which state the machine is in; see the module docs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    Waiting,
    Probing,
    CatchingUp,
    Live,
    Ended,
}

/// How the machine is set up.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    /// The consumer's buffer.
    pub(crate) capacity: usize,
    /// The severities the stream's incidents were opened with; `None` for all.
    pub(crate) severities: Option<Box<[Severity]>>,
    pub(crate) overlap: Duration,
}

/// How a failed page is retried: 100 ms doubling to 5 s (the reconnect policy's ceilings,
/// without jitter: one client's queries do not herd), never giving up.
const PAGE_RETRY: crate::backoff::ReconnectPolicy = crate::backoff::ReconnectPolicy {
    base_delay: Duration::from_millis(100),
    max_delay: Duration::from_secs(5),
    max_attempts: None,
};

impl Settings {
    pub(crate) fn new(capacity: usize, severities: Option<Vec<Severity>>) -> Self {
        Self {
            capacity: capacity.max(1),
            severities: severities.map(Vec::into_boxed_slice),
            overlap: DEFAULT_OVERLAP,
        }
    }
}

/// Where a catch-up is in the listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cursor {
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

const LOCATE: Cursor = Cursor::Locating {
    low: 0,
    high: None,
    probe: 0,
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
    fn go_live(&mut self) {
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

    fn start_catch_up(&mut self, now: u64) {
        self.due = false;
        self.phase = Phase::CatchingUp;
        self.begin();
        self.next_query(now);
    }

    /// A catch-up from the watermark less the overlap, or from the oldest dropped live event.
    fn begin(&mut self) {
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
    fn next_query(&mut self, now: u64) {
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

    fn wait_for_room(&mut self) {
        if !self.awaiting_room {
            self.awaiting_room = true;
            self.actions.push_back(Action::AwaitRoom);
        }
    }

    fn fetch(&mut self, query: Query) {
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
    fn start_at(&mut self, at: Micros) {
        let at = self.held_floor.map_or(at, |floor| floor.min(at));
        self.watermark = Some(at);
        self.actions.push_back(Action::Started { at });
    }

    /// The listing must be read again from `stamp` before the stream goes live.
    fn reread(&mut self, stamp: Micros) {
        self.reread_from = Some(self.reread_from.map_or(stamp, |r| r.min(stamp)));
    }

    fn hold(&mut self, payload: RawPayload, key: Option<Key>) {
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

    fn deliver(&mut self, payload: RawPayload, key: Option<Key>, recovered: bool) {
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

    fn end(&mut self, error: Error) {
        self.phase = Phase::Ended;
        self.held.clear();
        self.held_floor = None;
        self.actions.push_back(Action::End(error));
    }
}
