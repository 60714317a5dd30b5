//! The client's side of the simulation: executing the machine's actions, the consumer taking
//! what was queued and saving its checkpoint, and crashes that restart from it.

use incident_schema::Uuid;

use super::world::{Consumer, Response, World, key_time};
use super::{ACTIVE, STEP};
use crate::checkpoint::{Checkpoint, Progress};
use crate::delivery::{Action, DEFAULT_OVERLAP, Delivery, Key, Query};

impl World {
    /// The consumer process dies: its queue, machine and connection go; it restarts from the
    /// checkpoint it saved last.
    pub(super) fn crash(&mut self) {
        self.crashes += 1;
        self.process += 1;
        self.connection = None;
        self.reconnect_at = self.now + self.rng.u64(1..500);
        self.responses.clear();
        self.wakes.clear();
        let saved = self.consumer.saved.clone();
        self.delivery = match &saved {
            Some(checkpoint) => Delivery::resumed(self.settings.clone(), checkpoint),
            None => Delivery::new(self.settings.clone()),
        };
        self.consumer = Consumer::fresh(saved);
        self.last_recovered = None;
    }

    /// Runs the machine's actions.
    pub(super) fn execute(&mut self) {
        while let Some(action) = self.delivery.poll_action() {
            if std::env::var_os("SIM_TRACE").is_some() {
                let shown = match &action {
                    Action::Deliver { key, recovered, .. } => {
                        format!("deliver {key:?} recovered={recovered}")
                    }
                    other => format!("{other:?}"),
                };
                eprintln!(
                    "{:>6} ms p{} {:?}: {shown}",
                    self.now,
                    self.process,
                    self.delivery.phase()
                );
            }
            match action {
                Action::Fetch { request, query } => {
                    if query == Query::Page(0) {
                        // A new pass over the listing.
                        self.last_recovered = None;
                    }
                    let served_at = self.now + self.rng.u64(1..50);
                    let refused = self.refusing_until > served_at;
                    let down = self.outage_until > served_at
                        || (self.now < ACTIVE && self.rng.f64() < self.faults.http_failure);
                    let fails = if refused {
                        Some(true)
                    } else if down {
                        Some(false)
                    } else {
                        None
                    };
                    // A timeout answers late.
                    let at = if down && self.rng.bool() {
                        served_at + 2_000
                    } else {
                        served_at + self.rng.u64(1..50)
                    };
                    self.responses.push(Response {
                        at,
                        request,
                        process: self.process,
                        served_at,
                        query,
                        fails,
                    });
                }
                Action::Deliver { key, recovered, .. } => {
                    if recovered {
                        let key = key.expect("recovered incidents are keyed");
                        // Commits out of stamp order can land behind a pass's cursor.
                        if let Some(last) = self
                            .last_recovered
                            .filter(|_| self.faults.commit_delay == 0)
                        {
                            assert!(
                                key > last,
                                "seed {}: recovered incidents out of order",
                                self.seed
                            );
                        }
                        self.last_recovered = Some(key);
                    } else {
                        self.last_recovered = None;
                    }
                    self.consumer.queue.push_back((key, recovered));
                }
                Action::AwaitRoom => {
                    if self.consumer.queue.len() * 2 <= self.settings.capacity {
                        let depth = self.consumer.queue.len();
                        self.delivery.on_room(self.client_now(), depth);
                    } else {
                        self.consumer.awaiting_room = true;
                    }
                }
                Action::Wake { at } => self.wakes.push(at),
                Action::Started { at } => {
                    // What `Subscription::checkpoint` gives before the first incident.
                    if self.consumer.saved.is_none() {
                        if self.required_from.is_none() {
                            self.required_from = Some(at.max(self.last_registered));
                        }
                        let start = Checkpoint::at(key_time(Key {
                            created: at,
                            id: Uuid::nil(),
                        }));
                        self.consumer.progress =
                            Progress::new(start.clone()).with_overlap(DEFAULT_OVERLAP);
                        self.consumer.saved = Some(start);
                    }
                }
                Action::End(_) => {
                    // The stream ended with a typed error: the consumer's supervisor restarts it
                    // from the checkpoint it saved, once the server answers again.
                    self.ended += 1;
                    self.crash_after_end();
                }
            }
        }
    }

    fn crash_after_end(&mut self) {
        // What was queued before the end is still taken first.
        while let Some(item) = self.consumer.queue.pop_front() {
            self.take(item);
        }
        self.crash();
        self.crashes -= 1;
        self.reconnect_at = self.reconnect_at.max(self.refusing_until);
    }

    pub(super) fn consumer_step(&mut self, faulty: bool) {
        if faulty && self.now < self.consumer.paused_until {
            return;
        }
        let n = self.rng.usize(0..4 * STEP as usize);
        for _ in 0..n {
            let Some(item) = self.consumer.queue.pop_front() else {
                break;
            };
            self.take(item);
            if self.consumer.awaiting_room
                && self.consumer.queue.len() * 2 <= self.settings.capacity
            {
                self.consumer.awaiting_room = false;
                let depth = self.consumer.queue.len();
                self.delivery.on_room(self.client_now(), depth);
                self.execute();
            }
        }
    }

    /// The consumer takes an item, processes it, then saves its checkpoint; a crash between the
    /// two repeats it after the restart.
    fn take(&mut self, (key, _recovered): (Option<Key>, bool)) {
        let key = key.expect("the simulated stream has only incidents");
        assert!(
            self.consumer.taken_this_process.insert(key.id),
            "seed {}: incident {} delivered twice in one process",
            self.seed,
            key.id
        );
        *self.taken.entry(key.id).or_default() += 1;
        self.consumer.progress.advance(key.id, key_time(key));
        if self.rng.f64() < self.faults.crash * 20.0 {
            // Crash before the checkpoint is saved.
            self.crash();
            return;
        }
        self.consumer.saved = Some(self.consumer.progress.checkpoint().clone());
    }
}
