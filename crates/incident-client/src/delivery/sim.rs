//! A deterministic fault simulator for [`Delivery`].
//!
//! One seed drives everything: a simulated server (an in-memory store whose commits land out of
//! stamp order, a paged oldest-first listing, HTTP failures, timeouts and permanent refusals,
//! disconnects, token expiry closing connections, outages, escalations), the network between
//! them (latency, messages in flight lost with their connection) and a simulated consumer
//! (pauses, crashes that restart from its last saved checkpoint). After each schedule an
//! invariant checker asserts that every incident the stream must deliver was delivered, none
//! twice within a process (and at most one more per crash), and the memory bounds held.
//!
//! `cargo test -p incident-client sim` runs 10,900 schedules; a failure prints its seed, and
//! `SIM_SEED=<seed> cargo test -p incident-client sim` replays exactly that one (every case
//! runs it with its own faults). `SIM_SCHEDULES=<n>` changes how many each case runs.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

use incident_schema::{Severity, Uuid};

use super::{
    Action, Delivery, Failure, Key, Listed, Micros, PAGE_SIZE, Page, Phase, Query, Settings,
};
use crate::checkpoint::{Checkpoint, Progress};
use crate::error::Error;

/// Simulated milliseconds with faults; as many again follow without, for everything to settle.
const ACTIVE: u64 = 30_000;

/// Simulated milliseconds per step.
const STEP: u64 = 10;

/// Which faults a case draws from.
#[derive(Debug, Clone, Copy)]
struct Faults {
    /// Incidents created over the schedule.
    incidents: u32,
    /// Largest delay between an incident's stamp and its commit, in ms (within the overlap).
    commit_delay: u64,
    /// Chance per ms of dropping the connection.
    disconnect: f64,
    /// Connections close after this long (token expiry), in ms; 0 for never.
    token_lifetime: u64,
    /// Chance per ms of an outage of up to 3 s (no connection, HTTP 503).
    outage: f64,
    /// Chance that a query fails (503 or timeout).
    http_failure: f64,
    /// Chance per ms that the server starts refusing the listing query for good, for a while.
    refusal: f64,
    /// Chance per ms of the consumer pausing for up to 2 s.
    pause: f64,
    /// Chance per ms of the consumer crashing.
    crash: f64,
    /// Chance per incident of an escalation after it opened.
    escalation: f64,
    /// The consumer's buffer.
    capacity: usize,
    /// The stream's filter.
    severities: Option<&'static [Severity]>,
    /// The handshake carries no `Date`: the start comes from the listing.
    no_date: bool,
    /// A burst: this many incidents created while the consumer is away.
    burst: u32,
}

const CALM: Faults = Faults {
    incidents: 60,
    commit_delay: 0,
    disconnect: 0.0,
    token_lifetime: 0,
    outage: 0.0,
    http_failure: 0.0,
    refusal: 0.0,
    pause: 0.0,
    crash: 0.0,
    escalation: 0.0,
    capacity: 16,
    severities: None,
    no_date: false,
    burst: 0,
};

/// Everything at once, drawn per seed.
fn hostile(rng: &mut fastrand::Rng) -> Faults {
    Faults {
        incidents: rng.u32(20..120),
        commit_delay: rng.u64(0..2_000),
        disconnect: rng.f64() * 0.002,
        token_lifetime: if rng.bool() { rng.u64(1_500..5_000) } else { 0 },
        outage: rng.f64() * 0.0005,
        http_failure: rng.f64() * 0.4,
        refusal: if rng.u8(0..10) == 0 { 0.0002 } else { 0.0 },
        pause: rng.f64() * 0.002,
        crash: rng.f64() * 0.0005,
        escalation: rng.f64() * 0.5,
        capacity: rng.usize(2..40),
        severities: match rng.u8(0..3) {
            0 => None,
            1 => Some(&[Severity::P0, Severity::P1]),
            _ => Some(&[Severity::P3]),
        },
        no_date: rng.u8(0..4) == 0,
        burst: if rng.u8(0..5) == 0 {
            rng.u32(0..400)
        } else {
            0
        },
    }
}

fn schedules() -> u64 {
    std::env::var("SIM_SCHEDULES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(1_000)
}

/// Runs `count` seeds of a case (or only `SIM_SEED`), reporting the failing seed.
fn run_case(
    case: &str,
    count: u64,
    faults: impl Fn(&mut fastrand::Rng) -> Faults + std::panic::RefUnwindSafe,
) {
    let seeds: Vec<u64> = match std::env::var("SIM_SEED") {
        Ok(seed) => vec![seed.parse().expect("SIM_SEED is a number")],
        Err(_) => {
            let base = fxhash(case);
            (0..count).map(|n| base.wrapping_add(n)).collect()
        }
    };
    run_seeds(case, &seeds, faults);
}

/// Runs `seeds` of a case, reporting the failing seed.
fn run_seeds(
    case: &str,
    seeds: &[u64],
    faults: impl Fn(&mut fastrand::Rng) -> Faults + std::panic::RefUnwindSafe,
) {
    for &seed in seeds {
        let result = std::panic::catch_unwind(|| {
            let mut rng = fastrand::Rng::with_seed(seed);
            let faults = faults(&mut rng);
            World::new(seed, faults).run()
        });
        if let Err(panic) = result {
            let thread = std::thread::current();
            let test = thread
                .name()
                .and_then(|n| n.rsplit("::").next())
                .unwrap_or("sim");
            eprintln!(
                "simulation case `{case}` failed with seed {seed}; replay it with \
                 SIM_SEED={seed} cargo test -p incident-client --lib {test}"
            );
            std::panic::resume_unwind(panic);
        }
    }
}

fn fxhash(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

#[derive(Debug, Clone)]
struct Incident {
    key: Key,
    opened: Severity,
    /// Escalations after it opened, oldest first: `(from, to)`.
    escalations: Vec<(Severity, Severity)>,
    /// When it becomes visible (listing and live).
    commit_at: u64,
}

/// A message on its way to the client, on one connection.
#[derive(Debug)]
enum ToClient {
    Live(Key),
    Confirm,
}

#[derive(Debug)]
struct Connection {
    number: u64,
    /// When the server registers the subscription.
    registered_at: u64,
    closes_at: Option<u64>,
    inbox: VecDeque<(u64, ToClient)>,
    date: Micros,
}

#[derive(Debug)]
struct Response {
    at: u64,
    request: u64,
    process: u64,
    /// When the server reads its listing for it.
    served_at: u64,
    query: Query,
    fails: Option<bool>,
}

/// The consumer's side: what one process took, and the checkpoint it saved.
#[derive(Debug)]
struct Consumer {
    queue: VecDeque<(Option<Key>, bool)>,
    awaiting_room: bool,
    progress: Progress,
    saved: Option<Checkpoint>,
    taken_this_process: HashSet<Uuid>,
    paused_until: u64,
}

struct World {
    seed: u64,
    faults: Faults,
    rng: fastrand::Rng,
    now: u64,
    /// The client's clock runs this far from the server's: only the driver's timers see it.
    skew: u64,
    store: Vec<Incident>,
    /// Commits not yet published, by time: indexes into `store`.
    commits: BTreeMap<u64, Vec<usize>>,
    /// How many incidents commit at each time.
    commits_at: BTreeMap<u64, usize>,
    /// Late commits allowed past the queue bound since the queue last was within it.
    late_allowance: usize,
    delivery: Delivery,
    settings: Settings,
    process: u64,
    connection: Option<Connection>,
    connections: u64,
    reconnect_at: u64,
    outage_until: u64,
    refusing_until: u64,
    responses: Vec<Response>,
    wakes: Vec<u64>,
    consumer: Consumer,
    /// Every incident any process took, with how often.
    taken: HashMap<Uuid, u32>,
    crashes: u32,
    ended: u32,
    /// Server time when the first subscription was registered: what must arrive is stamped after.
    required_from: Option<Micros>,
    /// When the server registered the latest subscription, as a server stamp.
    last_registered: Micros,
    max_queue: usize,
    max_held: usize,
    /// Recovered incidents handed over in one catch-up pass come oldest first.
    last_recovered: Option<Key>,
}

impl World {
    fn new(seed: u64, faults: Faults) -> Self {
        let mut rng = fastrand::Rng::with_seed(seed ^ 0x5eed);
        let settings = settings(&faults);
        Self {
            seed,
            skew: rng.u64(0..10_000_000),
            faults,
            store: Vec::new(),
            commits: BTreeMap::new(),
            commits_at: BTreeMap::new(),
            late_allowance: 0,
            delivery: Delivery::new(settings.clone()),
            settings,
            process: 1,
            connection: None,
            connections: 0,
            reconnect_at: 0,
            outage_until: 0,
            refusing_until: 0,
            responses: Vec::new(),
            wakes: Vec::new(),
            consumer: Consumer::fresh(None),
            taken: HashMap::new(),
            crashes: 0,
            ended: 0,
            required_from: None,
            last_registered: 0,
            max_queue: 0,
            max_held: 0,
            last_recovered: None,
            now: 0,
            rng,
        }
    }

    /// Server time in microseconds: a fixed epoch plus the simulation's milliseconds, with
    /// sub-millisecond stamps so ties and near-ties happen.
    fn server_micros(&self) -> Micros {
        1_900_000_000_000_000 + (self.now as Micros) * 1_000
    }

    /// Whether something that happens `per_ms` times a millisecond happens in this step.
    fn chance(&mut self, per_ms: f64) -> bool {
        self.rng.f64() < per_ms * STEP as f64
    }

    fn client_now(&self) -> u64 {
        self.now + self.skew
    }

    fn run(mut self) {
        let faults = self.faults;
        let active = ACTIVE;
        let mut created = 0;
        // Incidents spread over the active part; the rest of the run lets everything settle.
        let per_ms = f64::from(faults.incidents) / active as f64;
        let burst_at = self.rng.u64(2_000..active - 5_000);
        while self.now < active + 30_000 {
            let faulty = self.now < active;
            if faulty && created < faults.incidents && self.chance(per_ms) {
                self.create_incident();
                created += 1;
            }
            if faulty && self.now / STEP == burst_at / STEP && faults.burst > 0 {
                self.consumer.paused_until = self.now + 5_000;
                for _ in 0..faults.burst {
                    self.create_incident();
                }
            }
            if faulty {
                self.faults_step();
            }
            self.network_step();
            self.consumer_step(faulty);
            self.check_bounds();
            self.now += STEP;
        }
        self.check_outcome();
    }

    fn create_incident(&mut self) {
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

    fn faults_step(&mut self) {
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

    /// The consumer process dies: its queue, machine and connection go; it restarts from the
    /// checkpoint it saved last.
    fn crash(&mut self) {
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

    fn network_step(&mut self) {
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
            opened: Some(super::listing::opened_with(
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

    /// Runs the machine's actions.
    fn execute(&mut self) {
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
                            Progress::new(start.clone()).with_overlap(super::DEFAULT_OVERLAP);
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

    fn consumer_step(&mut self, faulty: bool) {
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

    fn check_bounds(&mut self) {
        let queue = self.consumer.queue.len();
        let (held, _) = self.delivery.memory();
        self.max_queue = self.max_queue.max(queue);
        self.max_held = self.max_held.max(held);
        let capacity = self.settings.capacity;
        assert!(
            held <= capacity,
            "seed {}: {held} live events held with a buffer of {capacity}",
            self.seed
        );
        // Events committed behind a catch-up's reading are delivered at once, past the bound if
        // they must: at most those committed within the overlap when they were delivered (they
        // stay queued while the consumer pauses, so the allowance lasts until it drains).
        if queue <= 2 * capacity + PAGE_SIZE {
            self.late_allowance = 0;
            return;
        }
        let overlap = self.settings.overlap.as_millis() as u64;
        let late: usize = self
            .commits_at
            .range(self.now.saturating_sub(overlap)..=self.now)
            .map(|(_, n)| *n)
            .sum();
        self.late_allowance = self.late_allowance.max(late);
        assert!(
            queue <= 2 * capacity + PAGE_SIZE + self.late_allowance,
            "seed {}: {queue} items queued with a buffer of {capacity} ({} late commits)",
            self.seed,
            self.late_allowance
        );
    }

    fn check_outcome(&self) {
        let seed = self.seed;
        let required_from = self.required_from.expect("the client connected");
        assert_ne!(
            self.delivery.phase(),
            Phase::Ended,
            "seed {seed}: ended after the faults stopped"
        );
        assert!(
            self.consumer.queue.is_empty(),
            "seed {seed}: the consumer did not drain"
        );
        let mut missing = Vec::new();
        for incident in &self.store {
            let required = incident.key.created >= required_from
                && self
                    .faults
                    .severities
                    .is_none_or(|s| s.contains(&incident.opened));
            if required && !self.taken.contains_key(&incident.key.id) {
                missing.push(incident.key);
            }
            if !self
                .faults
                .severities
                .is_none_or(|s| s.contains(&incident.opened))
            {
                assert!(
                    !self.taken.contains_key(&incident.key.id),
                    "seed {seed}: an incident opened as {:?} was delivered to {:?}",
                    incident.opened,
                    self.faults.severities
                );
            }
        }
        assert!(
            missing.is_empty(),
            "seed {seed}: {} of {} incidents lost (first {:?}); faults {:?}",
            missing.len(),
            self.store.len(),
            missing.first(),
            self.faults
        );
        let duplicates: u32 = self.taken.values().map(|n| n - 1).sum();
        assert!(
            duplicates <= self.crashes,
            "seed {seed}: {duplicates} duplicates after {} crashes",
            self.crashes
        );
        let seen_bound = self.delivery.memory().1;
        let watermark = self.delivery.watermark().unwrap_or(Micros::MIN);
        // Forgetting follows delivery order, which is stamp order up to commits out of order
        // (within the overlap): so at most what is stamped within twice the overlap.
        let overlap = self.settings.overlap.as_micros() as Micros;
        let in_window = self
            .store
            .iter()
            .filter(|i| i.key.created >= watermark.saturating_sub(2 * overlap))
            .count()
            + self.consumer.progress.checkpoint().ids.len()
            + self.consumer.progress.checkpoint().recent.len();
        assert!(
            seen_bound <= in_window,
            "seed {seed}: the dedup memory holds {seen_bound} ids, more than the {in_window} it must cover (phase {:?}, watermark {watermark}, floors {:?})",
            self.delivery.phase(),
            self.delivery.floors()
        );
    }
}

impl Consumer {
    fn fresh(saved: Option<Checkpoint>) -> Self {
        let progress = match &saved {
            Some(checkpoint) => Progress::new(checkpoint.clone()),
            None => Progress::new(Checkpoint::at(chrono::DateTime::UNIX_EPOCH)),
        };
        Self {
            queue: VecDeque::new(),
            awaiting_room: false,
            progress: progress.with_overlap(super::DEFAULT_OVERLAP),
            saved,
            taken_this_process: HashSet::new(),
            paused_until: 0,
        }
    }
}

impl Response {
    fn placeholder() -> Self {
        Self {
            at: 0,
            request: 0,
            process: 0,
            served_at: 0,
            query: Query::Newest,
            fails: None,
        }
    }
}

fn settings(faults: &Faults) -> Settings {
    let mut settings = Settings::new(faults.capacity, faults.severities.map(<[_]>::to_vec));
    settings.overlap = super::DEFAULT_OVERLAP;
    settings
}

fn key_time(key: Key) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp_micros(key.created).expect("in range")
}

fn payload(key: Key) -> crate::protocol::RawPayload {
    key.id.to_string().into()
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

fn calm(_: &mut fastrand::Rng) -> Faults {
    CALM
}

#[test]
fn sim_calm_schedules_deliver_everything_once() {
    run_case("calm", schedules() / 10, calm);
}

fn failing_http(rng: &mut fastrand::Rng) -> Faults {
    Faults {
        disconnect: 0.001,
        http_failure: 0.6,
        outage: 0.0003,
        capacity: rng.usize(4..32),
        ..CALM
    }
}

#[test]
fn sim_failing_http_during_a_catch_up_is_retried_never_a_gap() {
    run_case("failing_http", schedules(), failing_http);
}

fn confirmation(rng: &mut fastrand::Rng) -> Faults {
    Faults {
        incidents: 200,
        disconnect: 0.003,
        capacity: rng.usize(8..64),
        ..CALM
    }
}

#[test]
fn sim_the_catch_up_waits_for_the_servers_confirmation() {
    run_case("confirmation", schedules() / 2, confirmation);
}

fn escalations(rng: &mut fastrand::Rng) -> Faults {
    Faults {
        escalation: 0.7,
        disconnect: 0.001,
        outage: 0.0003,
        severities: [
            Some(&[Severity::P3][..]),
            Some(&[Severity::P0, Severity::P1][..]),
        ][rng.usize(0..2)],
        ..CALM
    }
}

#[test]
fn sim_escalated_while_away_is_delivered_to_the_severity_it_opened_with() {
    run_case("escalations", schedules() / 2, escalations);
}

fn out_of_order(rng: &mut fastrand::Rng) -> Faults {
    Faults {
        incidents: 150,
        commit_delay: rng.u64(1..4_000),
        disconnect: 0.002,
        crash: 0.0002,
        ..CALM
    }
}

#[test]
fn sim_out_of_order_commits_are_read_again_within_the_overlap() {
    run_case("out_of_order", schedules(), out_of_order);
}

fn server_clock(rng: &mut fastrand::Rng) -> Faults {
    Faults {
        no_date: rng.bool(),
        disconnect: 0.001,
        token_lifetime: 3_000,
        ..CALM
    }
}

#[test]
fn sim_only_the_servers_clock_decides() {
    run_case("server_clock", schedules() / 2, server_clock);
}

fn far_behind(rng: &mut fastrand::Rng) -> Faults {
    Faults {
        burst: rng.u32(300..1_500),
        capacity: rng.usize(2..64),
        pause: 0.001,
        disconnect: 0.0005,
        ..CALM
    }
}

#[test]
fn sim_far_behind_consumers_get_everything_in_bounded_memory() {
    run_case("far_behind", schedules() / 5, far_behind);
}

fn refusal(rng: &mut fastrand::Rng) -> Faults {
    Faults {
        refusal: 0.0005,
        disconnect: 0.001,
        capacity: rng.usize(4..32),
        ..CALM
    }
}

#[test]
fn sim_a_refused_catch_up_ends_the_stream_and_the_restart_loses_nothing() {
    run_case("refusal", schedules() / 5, refusal);
}

fn crashes(rng: &mut fastrand::Rng) -> Faults {
    Faults {
        crash: 0.0005,
        commit_delay: rng.u64(0..1_000),
        disconnect: 0.001,
        ..CALM
    }
}

#[test]
fn sim_crashes_resume_from_the_saved_checkpoint() {
    run_case("crashes", schedules(), crashes);
}

fn token_expiry(rng: &mut fastrand::Rng) -> Faults {
    Faults {
        token_lifetime: rng.u64(1_000..4_000),
        ..CALM
    }
}

#[test]
fn sim_token_expiry_reconnects_lose_nothing() {
    run_case("token_expiry", schedules() / 2, token_expiry);
}

fn steady_flood(rng: &mut fastrand::Rng) -> Faults {
    Faults {
        incidents: rng.u32(600..1_500),
        commit_delay: rng.u64(0..3_000),
        capacity: rng.usize(2..24),
        pause: 0.0015,
        disconnect: 0.0003,
        crash: 0.0001,
        ..CALM
    }
}

#[test]
fn sim_steady_traffic_during_long_catch_ups_into_small_buffers() {
    run_case("steady_flood", schedules() / 5, steady_flood);
}

fn slow_start(rng: &mut fastrand::Rng) -> Faults {
    Faults {
        incidents: rng.u32(100..600),
        no_date: true,
        http_failure: 0.8,
        capacity: rng.usize(2..16),
        ..CALM
    }
}

#[test]
fn sim_a_slow_start_without_a_date_on_a_stable_connection() {
    run_case("slow_start", schedules() / 5, slow_start);
}

#[test]
fn sim_hostile_schedules() {
    run_case("hostile", schedules() * 5, hostile);
    // With the other cases: 10,900 schedules at the default 1,000.
}

#[test]
fn a_server_complete_delivers_what_was_held_first() {
    let mut delivery = Delivery::new(Settings::new(8, None));
    delivery.on_subscribed();
    let key = |n: u128| Key {
        created: 1_900_000_000_000_000 + n as Micros,
        id: Uuid::from_u128(n),
    };
    // Before the server confirmed the subscription, events are held.
    delivery.on_live(payload(key(1)), Some(key(1)), 0);
    delivery.on_live(payload(key(2)), Some(key(2)), 0);
    assert!(delivery.poll_action().is_none());
    delivery.on_server_end();
    let delivered: Vec<Key> = std::iter::from_fn(|| delivery.poll_action())
        .filter_map(|action| match action {
            Action::Deliver { key, .. } => key,
            _ => None,
        })
        .collect();
    assert_eq!(delivered, [key(1), key(2)]);
    assert_eq!(delivery.phase(), Phase::Ended);
}

/// How a case draws its faults.
type CaseFaults = fn(&mut fastrand::Rng) -> Faults;

/// Schedules that once failed while the machine was built, each replayed as its case draws it.
#[test]
fn sim_schedules_that_once_failed() {
    let cases: [(&str, CaseFaults, &[u64]); 8] = [
        ("far_behind", far_behind, &[17417335123701424703]),
        (
            "failing_http",
            failing_http,
            &[
                17678488935144665012,
                17678488935144665014,
                17678488935144665042,
            ],
        ),
        (
            "hostile",
            hostile,
            &[
                1084438067033256180,
                1084438067033256196,
                1084438067033256206,
                1084438067033256227,
                1084438067033256303,
                1084438067033257439,
                1084438067033257921,
                1084438067033272033,
                1084438067033299453,
            ],
        ),
        (
            "refusal",
            refusal,
            &[15936004297917850871, 15936004297917850898],
        ),
        ("out_of_order", out_of_order, &[3351711749944641347]),
        (
            "slow_start",
            slow_start,
            &[
                11400855971057881343,
                11400855971057881346,
                11400855971057881379,
            ],
        ),
        (
            "steady_flood",
            steady_flood,
            &[14216755952469889755, 14216755952469889793],
        ),
        ("crashes", crashes, &[11717478554847517130]),
    ];
    for (case, faults, seeds) in cases {
        run_seeds(case, seeds, faults);
    }
}
