//! The simulated server and network: incidents created and committed (out of stamp order), the
//! faults of a step (outages, refusals, disconnects, pauses, crashes), connections and their
//! messages, and the listing's answers to queries.

use std::collections::VecDeque;

use incident_schema::{Severity, Uuid};

use super::world::{Connection, Incident, Response, ToClient, World, payload};
use crate::delivery::{Failure, Key, Listed, Micros, PAGE_SIZE, Page, Phase, Query};
use crate::error::Error;

impl World {
    pub(super) fn create_incident(&mut self) {
        let stamp = self.server_micros() + self.rng.i64(0..1_000);
        const LEVELS: [Severity; 5] = [
            Severity::P0,
            Severity::P1,
            Severity::P2,
            Severity::P3,
            Severity::P4,
        ];
        let level = self.rng.usize(0..5);
        let opened = LEVELS[level].clone();
        let mut escalations = Vec::new();
        if level > 0 && self.rng.f64() < self.faults.escalation {
            // One or two escalations, each to a more urgent severity.
            let first = self.rng.usize(0..level);
            escalations.push((opened.clone(), LEVELS[first].clone()));
            if first > 0 && self.rng.bool() {
                escalations.push((
                    LEVELS[first].clone(),
                    LEVELS[self.rng.usize(0..first)].clone(),
                ));
            }
        }
        let delay = if self.faults.commit_delay == 0 {
            0
        } else {
            self.rng.u64(0..=self.faults.commit_delay)
        };
        let commit_at = self.now + delay;
        self.commits
            .entry(commit_at)
            .or_default()
            .push(self.store.len());
        *self.commits_at.entry(commit_at).or_default() += 1;
        self.store.push(Incident {
            key: Key {
                created: stamp,
                id: Uuid::from_u128(self.rng.u128(..)),
            },
            opened,
            escalations,
            commit_at,
        });
    }

    pub(super) fn faults_step(&mut self) {
        let f = self.faults;
        if self.chance(f.outage) {
            self.outage_until = self.now + self.rng.u64(100..3_000);
            self.disconnect();
        }
        if self.chance(f.refusal) {
            self.refusing_until = self.now + self.rng.u64(100..5_000);
        }
        if self.connection.is_some() && self.chance(f.disconnect) {
            self.disconnect();
        }
        if self.chance(f.pause) {
            self.consumer.paused_until = self.now + self.rng.u64(10..2_000);
        }
        if self.chance(f.crash) {
            self.crash();
        }
    }

    fn disconnect(&mut self) {
        if self.connection.take().is_some() {
            self.delivery.on_disconnected();
            self.reconnect_at = self.now + self.rng.u64(1..1_000);
        }
    }

    pub(super) fn network_step(&mut self) {
        // Connections: token expiry, reconnects.
        if let Some(connection) = &self.connection
            && connection.closes_at.is_some_and(|at| at <= self.now)
        {
            self.disconnect();
        }
        if self.connection.is_none()
            && self.now >= self.reconnect_at
            && self.now >= self.outage_until
            && self.delivery.phase() != Phase::Ended
        {
            self.connect();
        }
        // Commits publish to a registered subscription.
        let now = self.now;
        let latency = self.rng.u64(1..30);
        if self.connection.is_none() {
            self.commits = self.commits.split_off(&(now + 1));
        }
        if let Some(connection) = &mut self.connection {
            let later = self.commits.split_off(&(now + 1));
            let committed = std::mem::replace(&mut self.commits, later);
            for incident in committed.values().flatten().map(|&i| &self.store[i]) {
                let matches = self
                    .faults
                    .severities
                    .is_none_or(|s| s.contains(&incident.opened));
                if matches && connection.registered_at <= now {
                    connection
                        .inbox
                        .push_back((now + latency, ToClient::Live(incident.key)));
                }
            }
        }
        // Messages arrive in order.
        while let Some(connection) = &mut self.connection {
            let Some((at, _)) = connection.inbox.front() else {
                break;
            };
            if *at > now {
                break;
            }
            let (_, message) = connection.inbox.pop_front().unwrap();
            let date = connection.date;
            let depth = self.consumer.queue.len();
            match message {
                ToClient::Confirm => {
                    let date = (!self.faults.no_date).then_some(date);
                    self.delivery.on_confirmed(date, self.client_now(), depth);
                }
                ToClient::Live(key) => {
                    self.delivery.on_live(payload(key), Some(key), depth);
                }
            }
            self.execute();
        }
        // Query answers.
        let mut due: Vec<Response> = Vec::new();
        self.responses.retain_mut(|r| {
            if r.at <= now {
                due.push(std::mem::replace(r, Response::placeholder()));
                false
            } else {
                true
            }
        });
        for response in due {
            if response.process != self.process {
                continue;
            }
            let result = self.answer(&response);
            let depth = self.consumer.queue.len();
            self.delivery
                .on_page(response.request, result, self.client_now(), depth);
            self.execute();
        }
        // Timers.
        let client_now = self.client_now();
        if self.wakes.iter().any(|&at| at <= client_now) {
            self.wakes.retain(|&at| at > client_now);
            self.delivery.on_timer(client_now);
            self.execute();
        }
    }

    fn connect(&mut self) {
        self.connections += 1;
        let registered_at = self.now + self.rng.u64(1..40);
        let confirm_at = registered_at + self.rng.u64(1..40);
        let closes_at =
            (self.faults.token_lifetime > 0).then(|| self.now + self.faults.token_lifetime);
        let mut inbox = VecDeque::new();
        inbox.push_back((confirm_at, ToClient::Confirm));
        // The handshake's `Date`: whole seconds, rounded down, of the server's clock.
        let date = self.server_micros() / 1_000_000 * 1_000_000;
        self.connection = Some(Connection {
            number: self.connections,
            registered_at,
            closes_at,
            inbox,
            date,
        });
        self.last_registered = 1_900_000_000_000_000 + registered_at as Micros * 1_000 + 1_000;
        self.delivery.on_subscribed();
        let _ = self.connection.as_ref().map(|c| c.number);
    }

    /// What the server answers to a query, read at the time it serves it.
    fn answer(&mut self, response: &Response) -> Result<Page, Failure> {
        match response.fails {
            Some(true) => {
                return Err(Failure::Permanent(Error::GraphQl(Vec::new())));
            }
            Some(false) => return Err(Failure::Transient),
            None => {}
        }
        let mut visible: Vec<&Incident> = self
            .store
            .iter()
            .filter(|i| i.commit_at <= response.served_at)
            .collect();
        visible.sort_by_key(|i| i.key);
        let total = visible.len();
        let listed = |i: &Incident| Listed {
            key: i.key,
            opened: Some(crate::delivery::listing::opened_with(
                current_severity(i),
                &escalation_texts(i),
            )),
            payload: payload(i.key),
        };
        match response.query {
            Query::Newest => Ok(Page {
                incidents: visible.last().map(|i| listed(i)).into_iter().collect(),
                listed: total.min(1),
                total_pages: total as i32,
            }),
            Query::Page(page) => {
                let start = (page as usize).saturating_mul(PAGE_SIZE).min(total);
                let end = (start + PAGE_SIZE).min(total);
                Ok(Page {
                    incidents: visible[start..end].iter().map(|i| listed(i)).collect(),
                    listed: end - start,
                    total_pages: total.div_ceil(PAGE_SIZE) as i32,
                })
            }
        }
    }
}

/// The severity the incident has now.
fn current_severity(incident: &Incident) -> Severity {
    incident
        .escalations
        .last()
        .map_or(incident.opened.clone(), |(_, to)| to.clone())
}

/// Its timeline's escalation descriptions, as the dev server writes them.
fn escalation_texts(incident: &Incident) -> Vec<String> {
    incident
        .escalations
        .iter()
        .map(|(from, to)| format!("{from:?} -> {to:?}: paged"))
        .collect()
}
