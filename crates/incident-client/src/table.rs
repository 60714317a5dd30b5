//! The connection task's table of subscriptions: what to resubscribe, where each event goes, and
//! which subscriptions the server has confirmed.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use tracing::{debug, warn};

use crate::catchup::{CatchupSpec, incident_in};
use crate::delivery::Delivery;
use crate::error::Error;
use crate::payloads::Payloads;
use crate::protocol::ServerMessage;
use crate::recovery::Recovery;
use crate::stats::StatsInner;
use crate::subscription::{Buffer, EndReason};

/// One subscription as the connection task sees it.
pub(crate) struct Entry {
    /// The operation serialized as JSON; identical ones share one allocation.
    pub(crate) payload: Arc<str>,
    pub(crate) sink: Arc<Buffer>,
    /// For a caught-up stream: the listing it catches up with, and its delivery machine.
    pub(crate) spec: Option<Arc<CatchupSpec>>,
    pub(crate) delivery: Option<Box<Delivery>>,
    /// The ping whose pong confirms that the server has read this subscription's `subscribe`.
    confirm_at: Option<u64>,
}

/// Every live subscription of one client, by protocol id.
pub(crate) struct Table {
    entries: BTreeMap<String, Entry>,
    /// Distinct subscription payloads, shared with the client that interns them.
    payloads: Payloads,
    stats: Arc<StatsInner>,
    /// Subscriptions the server ended (`complete`, `error`) since the connection task asked.
    finished: Vec<String>,
}

impl Table {
    pub(crate) fn new(payloads: Payloads, stats: Arc<StatsInner>) -> Self {
        Self {
            entries: BTreeMap::new(),
            payloads,
            stats,
            finished: Vec::new(),
        }
    }

    /// The server ended subscription `id`: what its delivery machine held is delivered first.
    fn server_ended(&mut self, id: &str, recovery: &mut Recovery) {
        if let Some(delivery) = self.entries.get_mut(id).and_then(|e| e.delivery.as_mut()) {
            delivery.on_server_end();
            recovery.drive(self, id);
        }
    }

    /// The subscriptions the server ended since the last call: while rotating, the other
    /// connection still has them.
    pub(crate) fn take_finished(&mut self) -> Vec<String> {
        std::mem::take(&mut self.finished)
    }

    /// The connection was lost while rotating and the next one took over: it may not have
    /// delivered everything it had, so caught-up streams catch up (the next connection already
    /// has their subscriptions) and the others report a gap from `from`.
    pub(crate) fn taken_over(
        &mut self,
        from: chrono::DateTime<chrono::Utc>,
        server_now: Option<i64>,
        recovery: &mut Recovery,
    ) {
        let now = recovery.now();
        let mut caught_up = Vec::new();
        for (id, entry) in &mut self.entries {
            match entry.delivery.as_mut() {
                Some(delivery) => {
                    delivery.on_disconnected();
                    delivery.on_subscribed();
                    delivery.on_confirmed(server_now, now, entry.sink.depth());
                    caught_up.push(id.clone());
                }
                None => entry.sink.push_gap(crate::gap::GapWindow {
                    from,
                    until: chrono::Utc::now(),
                }),
            }
        }
        for id in caught_up {
            recovery.drive(self, &id);
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
        catchup: Option<(Arc<CatchupSpec>, Delivery)>,
    ) {
        let (spec, delivery) = catchup
            .map(|(spec, delivery)| (spec, Box::new(delivery)))
            .unzip();
        self.entries.insert(
            id,
            Entry {
                payload,
                sink,
                spec,
                delivery,
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

    /// Whether no subscription is open (a lazy client then closes its WebSocket).
    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The ids of every subscription.
    pub(crate) fn ids(&self) -> Vec<String> {
        self.entries.keys().cloned().collect()
    }

    /// `subscribe` for `id` went out before ping number `ping`.
    pub(crate) fn sent(&mut self, id: &str, ping: u64) {
        if let Some(entry) = self.entries.get_mut(id) {
            entry.confirm_at = Some(ping);
            if let Some(delivery) = entry.delivery.as_mut() {
                delivery.on_subscribed();
            }
        }
    }

    /// The pong to ping number `answered` is back: the subscriptions sent before it are live.
    /// `server_now` is the server's clock at the handshake, if it said.
    pub(crate) fn confirmed(
        &mut self,
        answered: u64,
        server_now: Option<i64>,
        recovery: &mut Recovery,
    ) {
        let now = recovery.now();
        let mut confirmed = Vec::new();
        for (id, entry) in &mut self.entries {
            if entry.confirm_at.is_some_and(|ping| ping <= answered) {
                entry.confirm_at = None;
                match entry.delivery.as_mut() {
                    Some(delivery) => {
                        delivery.on_confirmed(server_now, now, entry.sink.depth());
                        confirmed.push(id.clone());
                    }
                    None => entry.sink.set_live(true),
                }
            }
        }
        // A caught-up stream is live once its machine has taken the confirmation, so its start
        // (and checkpoint) is known when `ready()` returns, if the server's clock gave one.
        for id in confirmed {
            recovery.drive(self, &id);
            if let Some(entry) = self.entries.get(&id) {
                entry.sink.set_live(true);
            }
        }
    }

    /// The connection is gone: nothing is live until it is resubscribed.
    pub(crate) fn disconnected(&mut self) {
        for entry in self.entries.values_mut() {
            entry.confirm_at = None;
            entry.sink.set_live(false);
            if let Some(delivery) = entry.delivery.as_mut() {
                delivery.on_disconnected();
            }
        }
    }

    /// Routes `next`, `error` and `complete` to their subscriptions. True for an event.
    /// `now` is when the batch the message came in was read, in Unix seconds.
    pub(crate) fn route(
        &mut self,
        message: ServerMessage,
        now: f64,
        recovery: &mut Recovery,
    ) -> bool {
        match message {
            ServerMessage::Next { id, payload } => {
                let Some(entry) = self.entries.get_mut(&id) else {
                    debug!(id, "event for an unknown subscription");
                    return false;
                };
                match entry.delivery.as_mut() {
                    Some(delivery) => {
                        entry.sink.received(now);
                        let key = incident_in(&payload);
                        delivery.on_live(payload, key, entry.sink.depth());
                        recovery.drive(self, &id);
                    }
                    None => entry.sink.push_payload(payload, now),
                }
                return true;
            }
            ServerMessage::Error { id, payload } => {
                self.finished.push(id.clone());
                self.server_ended(&id, recovery);
                if let Some(entry) = self.remove(&id) {
                    entry
                        .sink
                        .finish(EndReason::GraphQlErrors, Some(Error::GraphQl(payload)));
                }
            }
            ServerMessage::Complete { id } => {
                self.finished.push(id.clone());
                self.server_ended(&id, recovery);
                if let Some(entry) = self.remove(&id) {
                    entry.sink.finish(EndReason::Completed, None);
                }
            }
            ServerMessage::Ping | ServerMessage::Pong(_) | ServerMessage::ConnectionAck => {}
        }
        false
    }

    /// 4400, 4409 and 4500 end the operation that caused them, named in the reason (see
    /// [`named_in`]) or else the one subscribed last; the others are resubscribed after the reconnect.
    pub(crate) fn fail_offender(
        &mut self,
        code: Option<u16>,
        reason: &str,
        last_subscribed: Option<&str>,
    ) {
        let Some(code @ (4400 | 4409 | 4500)) = code else {
            return;
        };
        let named = named_in(reason, self.entries.keys()).cloned();
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

/// The subscription a close reason names: graphql-ws (and the dev server) write
/// `Subscriber for <id> already exists` for 4409. Any other reason names none: an id that only
/// occurs in its text (`line 1 column 2`) is no evidence.
fn named_in<'a>(reason: &str, mut ids: impl Iterator<Item = &'a String>) -> Option<&'a String> {
    let named = reason
        .strip_prefix("Subscriber for ")?
        .strip_suffix(" already exists")?;
    ids.find(|id| id.as_str() == named)
}

#[cfg(test)]
mod tests {
    use super::named_in;

    #[test]
    fn a_close_reason_names_an_id_only_as_a_whole_word() {
        let ids: Vec<String> = ["1", "2", "12"].iter().map(|s| s.to_string()).collect();
        let check = |reason: &str| named_in(reason, ids.iter()).map(String::as_str);
        assert_eq!(check("Subscriber for 12 already exists"), Some("12"));
        assert_eq!(check("Subscriber for 2 already exists"), Some("2"));
        assert_eq!(
            check("Invalid message: expected value at line 1 column 2"),
            None
        );
        assert_eq!(check("Subscriber for 123 already exists"), None);
        assert_eq!(check("internal error in subscription 21"), None);
    }
}
