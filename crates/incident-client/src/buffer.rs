//! The buffer between the connection task and one [`crate::Subscription`]: raw payloads not yet
//! consumed, how the stream ended, whether it is live, and the overflow policy of the streams
//! that cannot be caught up (drop the oldest and count). A caught-up stream's delivery machine
//! ([`crate::delivery`]) decides what it queues, and never overfills it.

use std::collections::VecDeque;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

use futures::task::AtomicWaker;
use tokio::sync::Notify;

use crate::delivery::Key;
use crate::error::{Error, Result};
use crate::gap::GapWindow;
use crate::protocol::RawPayload;
use crate::stats::StatsInner;
use crate::subscription::EndReason;
use crate::telemetry::StreamMetrics;

/// The state shared between a [`Subscription`] and the connection task: raw payloads not yet
/// consumed, and how the stream ended.
pub(crate) struct Buffer {
    state: Mutex<BufferState>,
    pub(crate) waker: AtomicWaker,
    /// Wakes [`Subscription::ready`] when the subscription goes live or ends.
    pub(crate) changed: Notify,
    pub(crate) capacity: usize,
    pub(crate) stats: Arc<StatsInner>,
    /// Shared by every subscription of the same kind on one client.
    pub(crate) metrics: Arc<StreamMetrics>,
    /// `items.len()`, readable without the lock (kept up to date under it).
    len: std::sync::atomic::AtomicUsize,
}

pub(crate) struct BufferState {
    pub(crate) items: VecDeque<Result<Queued>>,
    pub(crate) dropped_pending: u64,
    pub(crate) dropped_total: u64,
    pub(crate) end: Option<EndReason>,
    /// The error the stream ended with, for [`Subscription::ready`].
    pub(crate) terminal: Option<Box<Error>>,
    /// Whether the server has confirmed the subscription on the current connection.
    pub(crate) live: bool,
    /// The window of the latest gap notice.
    pub(crate) last_gap: Option<Box<GapWindow>>,
    /// A caught-up stream's start (a server stamp, Unix microseconds), once known.
    pub(crate) start: Option<i64>,
    /// The connection task waits for the consumer to make room for the next page.
    pub(crate) awaiting_room: bool,
}

impl Buffer {
    /// A buffer for `capacity` events, counted in `metrics` (its stream kind's).
    pub(crate) fn new(
        capacity: usize,
        stats: Arc<StatsInner>,
        metrics: Arc<StreamMetrics>,
    ) -> Self {
        Self {
            state: Mutex::new(BufferState {
                items: VecDeque::new(),
                dropped_pending: 0,
                dropped_total: 0,
                end: None,
                terminal: None,
                live: false,
                last_gap: None,
                start: None,
                awaiting_room: false,
            }),
            waker: AtomicWaker::new(),
            changed: Notify::new(),
            capacity: capacity.max(1),
            stats,
            metrics,
            len: Default::default(),
        }
    }

    /// True if the consumer has drained half the buffer; otherwise it will say so
    /// (`Command::Room`) once it has.
    pub(crate) fn wait_for_room(&self) -> bool {
        let mut state = self.lock();
        if state.items.len() * 2 <= self.capacity {
            state.awaiting_room = false;
            return true;
        }
        state.awaiting_room = true;
        false
    }

    pub(crate) fn lock(&self) -> std::sync::MutexGuard<'_, BufferState> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Records where a caught-up stream started.
    pub(crate) fn set_start(&self, at: i64) {
        self.lock().start = Some(at);
    }

    /// Counts a live event received (queued now or by its delivery machine).
    pub(crate) fn received(&self, now: f64) {
        self.stats.events.fetch_add(1, Ordering::Relaxed);
        self.metrics.received(now);
    }

    /// Queues a live event's payload, dropping the oldest event if the buffer is full.
    pub(crate) fn push_payload(&self, payload: RawPayload, now: f64) {
        self.received(now);
        self.push(Ok(Queued {
            payload,
            recovered: false,
            key: None,
        }));
    }

    /// Queues what a delivery machine delivers: never dropped (the machine bounds it).
    pub(crate) fn push_delivered(&self, payload: RawPayload, key: Option<Key>, recovered: bool) {
        let mut state = self.lock();
        if state.end.is_some() {
            return;
        }
        state.items.push_back(Ok(Queued {
            payload,
            recovered,
            key,
        }));
        self.counted(&state);
        drop(state);
        self.waker.wake();
    }

    /// Queues a gap notice, counted.
    pub(crate) fn push_gap(&self, window: GapWindow) {
        self.stats.gaps.fetch_add(1, Ordering::Relaxed);
        self.metrics.gap();
        {
            let mut state = self.lock();
            // A notice right after another is the same notice, covering both windows; so is
            // any queued notice once the queue is full (a stalled consumer and many reconnects
            // must not grow it past its bound: the union window is the conservative answer).
            let merge_into = if state.items.len() >= self.capacity {
                state
                    .items
                    .iter()
                    .rposition(|item| matches!(item, Err(Error::Gap(_))))
            } else {
                state
                    .items
                    .back()
                    .filter(|item| matches!(item, Err(Error::Gap(_))))
                    .map(|_| state.items.len() - 1)
            };
            if let Some(at) = merge_into
                && let Some(Err(Error::Gap(queued))) = state.items.get_mut(at)
            {
                *queued = queued.union(window);
                let merged = *queued;
                state.last_gap = Some(Box::new(merged));
                return;
            }
            state.last_gap = Some(Box::new(window));
        }
        self.push(Err(Error::Gap(window)));
    }

    /// How many items wait for the consumer.
    pub(crate) fn depth(&self) -> usize {
        self.len.load(Ordering::Relaxed)
    }

    /// Records the queue's length after a change (under the lock).
    pub(crate) fn counted(&self, state: &BufferState) {
        self.len.store(state.items.len(), Ordering::Relaxed);
    }

    /// Whether the consumer has gone (dropped or ended).
    pub(crate) fn is_closed(&self) -> bool {
        self.lock().end.is_some()
    }

    /// Whether the server has confirmed the subscription on the current connection.
    pub(crate) fn set_live(&self, live: bool) {
        let mut state = self.lock();
        if state.live != live {
            state.live = live;
            drop(state);
            self.changed.notify_waiters();
        }
    }

    /// Queues an item, dropping the oldest event if the buffer is full. Only events are dropped
    /// and counted.
    fn push(&self, item: Result<Queued>) {
        let mut state = self.lock();
        if state.end.is_some() {
            return;
        }
        if state.items.len() >= self.capacity
            && let Some(position) = state.items.iter().position(|i| i.is_ok())
        {
            // Notices are few (a gap per reconnect, coalesced) and never dropped.
            state.items.remove(position);
            state.dropped_pending += 1;
            state.dropped_total += 1;
            self.stats.dropped.fetch_add(1, Ordering::Relaxed);
            self.metrics.dropped();
        }
        state.items.push_back(item);
        self.counted(&state);
        drop(state);
        self.waker.wake();
    }

    /// Ends the stream, after a final error if there is one.
    pub(crate) fn finish(&self, reason: EndReason, error: Option<Error>) {
        let mut state = self.lock();
        if state.end.is_some() {
            return;
        }
        if let Some(error) = error {
            state.terminal = Some(Box::new(error.clone()));
            state.items.push_back(Err(error));
            self.counted(&state);
        }
        state.end = Some(reason);
        state.live = false;
        drop(state);
        self.waker.wake();
        self.changed.notify_waiters();
    }
}

/// An event waiting for its consumer.
pub(crate) struct Queued {
    pub(crate) payload: RawPayload,
    /// Found by a catch-up query rather than received live.
    pub(crate) recovered: bool,
    /// The incident it is about, on a caught-up stream.
    pub(crate) key: Option<Key>,
}

/// Turns a raw `next` payload into a subscription's item.
pub(crate) type Decoder<T> = Box<dyn Fn(&str) -> Result<T> + Send + Sync>;
