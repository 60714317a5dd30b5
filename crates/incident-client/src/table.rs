//! The connection task's table of subscriptions: what to resubscribe, where each event goes, and
//! which subscriptions the server has confirmed.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use tracing::{debug, warn};

use crate::catchup::{CatchupSpec, CatchupState, Watermark};
use crate::error::Error;
use crate::payloads::Payloads;
use crate::protocol::ServerMessage;
use crate::stats::StatsInner;
use crate::subscription::{Buffer, EndReason};

/// One subscription as the connection task sees it.
pub(crate) struct Entry {
    /// The operation serialized as JSON; identical ones share one allocation.
    pub(crate) payload: Arc<str>,
    pub(crate) sink: Arc<Buffer>,
    pub(crate) catchup: Option<CatchupState>,
    /// The ping whose pong confirms that the server has read this subscription's `subscribe`.
    confirm_at: Option<u64>,
}

/// Every live subscription of one client, by protocol id.
pub(crate) struct Table {
    entries: BTreeMap<String, Entry>,
    /// Distinct subscription payloads, shared with the client that interns them.
    payloads: Payloads,
    stats: Arc<StatsInner>,
}

impl Table {
    pub(crate) fn new(payloads: Payloads, stats: Arc<StatsInner>) -> Self {
        Self {
            entries: BTreeMap::new(),
            payloads,
            stats,
        }
    }

    fn count(&self) {
        self.stats
            .live_subscriptions
            .store(self.entries.len() as u64, Ordering::Relaxed);
    }

    pub(crate) fn insert(
        &mut self,
        id: String,
        payload: Arc<str>,
        sink: Arc<Buffer>,
        catchup: Option<(CatchupSpec, Arc<Watermark>)>,
    ) {
        let catchup = catchup.map(|(spec, watermark)| CatchupState::new(spec, watermark));
        self.entries.insert(
            id,
            Entry {
                payload,
                sink,
                catchup,
                confirm_at: None,
            },
        );
        self.count();
    }

    pub(crate) fn remove(&mut self, id: &str) -> Option<Entry> {
        let entry = self.entries.remove(id);
        if let Some(entry) = &entry {
            self.payloads.release(&entry.payload);
        }
        self.count();
        entry
    }

    pub(crate) fn get_mut(&mut self, id: &str) -> Option<&mut Entry> {
        self.entries.get_mut(id)
    }

    /// Forgets subscriptions whose consumers have gone, then lists the rest as `(id, payload)`.
    pub(crate) fn live(&mut self) -> Vec<(String, Arc<str>)> {
        self.entries.retain(|_, entry| !entry.sink.is_closed());
        self.payloads.release_unused();
        self.count();
        self.entries
            .iter()
            .map(|(id, entry)| (id.clone(), entry.payload.clone()))
            .collect()
    }

    /// The ids of every subscription.
    pub(crate) fn ids(&self) -> Vec<String> {
        self.entries.keys().cloned().collect()
    }

    /// Whether `id` resumes from a checkpoint and has not caught up since it was sent.
    pub(crate) fn resume_pending(&self, id: &str) -> bool {
        self.entries
            .get(id)
            .and_then(|e| e.catchup.as_ref())
            .is_some_and(|c| c.resume_pending)
    }

    /// `subscribe` for `id` went out before ping number `ping`.
    pub(crate) fn sent(&mut self, id: &str, ping: u64) {
        if let Some(entry) = self.entries.get_mut(id) {
            entry.confirm_at = Some(ping);
        }
    }

    /// The first `answered` pings have their pongs: the subscriptions sent before them are live.
    pub(crate) fn confirmed(&mut self, answered: u64) {
        for entry in self.entries.values_mut() {
            if entry.confirm_at.is_some_and(|ping| ping <= answered) {
                entry.confirm_at = None;
                entry.sink.set_live(true);
            }
        }
    }

    /// The connection is gone: nothing is live until it is resubscribed.
    pub(crate) fn disconnected(&mut self) {
        for entry in self.entries.values_mut() {
            entry.confirm_at = None;
            entry.sink.set_live(false);
        }
    }

    /// Routes `next`, `error` and `complete` to their subscriptions. True for an event.
    /// `now` is when the batch the message came in was read, in Unix seconds.
    pub(crate) fn route(&mut self, message: ServerMessage, now: f64) -> bool {
        match message {
            ServerMessage::Next { id, payload } => {
                let Some(entry) = self.entries.get_mut(&id) else {
                    debug!(id, "event for an unknown subscription");
                    return false;
                };
                match entry.catchup.as_mut().and_then(|s| s.holding.as_mut()) {
                    Some(held) => held.push(payload),
                    None => entry.sink.push_payload(payload, now),
                }
                return true;
            }
            ServerMessage::Error { id, payload } => {
                if let Some(entry) = self.remove(&id) {
                    entry
                        .sink
                        .finish(EndReason::GraphQlErrors, Some(Error::GraphQl(payload)));
                }
            }
            ServerMessage::Complete { id } => {
                if let Some(entry) = self.remove(&id) {
                    entry.sink.finish(EndReason::Completed, None);
                }
            }
            ServerMessage::Ping | ServerMessage::Pong | ServerMessage::ConnectionAck => {}
        }
        false
    }

    /// 4400, 4409 and 4500 end the operation that caused them, named in the reason or else the
    /// one subscribed last; the others are resubscribed after the reconnect.
    pub(crate) fn fail_offender(
        &mut self,
        code: Option<u16>,
        reason: &str,
        last_subscribed: Option<&str>,
    ) {
        let Some(code @ (4400 | 4409 | 4500)) = code else {
            return;
        };
        let named = self
            .entries
            .keys()
            .find(|id| reason.contains(&format!(" {id} ")))
            .cloned();
        let Some(id) = named.or_else(|| last_subscribed.map(str::to_owned)) else {
            return;
        };
        if let Some(entry) = self.remove(&id) {
            warn!(subscription = %id, code, reason, "the server closed the connection because of this operation; ending it");
            entry.sink.finish(
                EndReason::Closed,
                Some(Error::Closed {
                    code,
                    reason: reason.to_owned(),
                }),
            );
        }
    }

    /// Ends every subscription with `reason`, after `error` if there is one.
    pub(crate) fn finish_all(&mut self, reason: EndReason, error: Option<&Error>) {
        for (_, entry) in std::mem::take(&mut self.entries) {
            entry.sink.finish(reason, error.cloned());
        }
        self.payloads.release_unused();
        self.count();
    }
}
