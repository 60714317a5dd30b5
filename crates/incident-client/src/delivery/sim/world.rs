//! The simulated world: the server's store, the connection, the queries in flight and the
//! consumer, as one [`World`]; its construction, clocks and the step loop of a schedule.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};

use incident_schema::{Severity, Uuid};

use super::faults::Faults;
use super::{ACTIVE, STEP};
use crate::checkpoint::{Checkpoint, Progress};
use crate::delivery::{DEFAULT_OVERLAP, Delivery, Key, Micros, Query, Settings};

#[derive(Debug, Clone)]
pub(super) struct Incident {
    pub(super) key: Key,
    pub(super) opened: Severity,
    /// Escalations after it opened, oldest first: `(from, to)`.
    pub(super) escalations: Vec<(Severity, Severity)>,
    /// When it becomes visible (listing and live).
    pub(super) commit_at: u64,
}

/// A message on its way to the client, on one connection.
#[derive(Debug)]
pub(super) enum ToClient {
    Live(Key),
    Confirm,
}

#[derive(Debug)]
pub(super) struct Connection {
    pub(super) number: u64,
    /// When the server registers the subscription.
    pub(super) registered_at: u64,
    pub(super) closes_at: Option<u64>,
    pub(super) inbox: VecDeque<(u64, ToClient)>,
    pub(super) date: Micros,
}

#[derive(Debug)]
pub(super) struct Response {
    pub(super) at: u64,
    pub(super) request: u64,
    pub(super) process: u64,
    /// When the server reads its listing for it.
    pub(super) served_at: u64,
    pub(super) query: Query,
    pub(super) fails: Option<bool>,
}

/// The consumer's side: what one process took, and the checkpoint it saved.
#[derive(Debug)]
pub(super) struct Consumer {
    pub(super) queue: VecDeque<(Option<Key>, bool)>,
    pub(super) awaiting_room: bool,
    pub(super) progress: Progress,
    pub(super) saved: Option<Checkpoint>,
    pub(super) taken_this_process: HashSet<Uuid>,
    pub(super) paused_until: u64,
}

pub(super) struct World {
    pub(super) seed: u64,
    pub(super) faults: Faults,
    pub(super) rng: fastrand::Rng,
    pub(super) now: u64,
    /// The client's clock runs this far from the server's: only the driver's timers see it.
    pub(super) skew: u64,
    pub(super) store: Vec<Incident>,
    /// Commits not yet published, by time: indexes into `store`.
    pub(super) commits: BTreeMap<u64, Vec<usize>>,
    /// How many incidents commit at each time.
    pub(super) commits_at: BTreeMap<u64, usize>,
    /// Late commits allowed past the queue bound since the queue last was within it.
    pub(super) late_allowance: usize,
    pub(super) delivery: Delivery,
    pub(super) settings: Settings,
    pub(super) process: u64,
    pub(super) connection: Option<Connection>,
    pub(super) connections: u64,
    pub(super) reconnect_at: u64,
    pub(super) outage_until: u64,
    pub(super) refusing_until: u64,
    pub(super) responses: Vec<Response>,
    pub(super) wakes: Vec<u64>,
    pub(super) consumer: Consumer,
    /// Every incident any process took, with how often.
    pub(super) taken: HashMap<Uuid, u32>,
    pub(super) crashes: u32,
    pub(super) ended: u32,
    /// Server time when the first subscription was registered: what must arrive is stamped after.
    pub(super) required_from: Option<Micros>,
    /// When the server registered the latest subscription, as a server stamp.
    pub(super) last_registered: Micros,
    pub(super) max_queue: usize,
    pub(super) max_held: usize,
    /// Recovered incidents handed over in one catch-up pass come oldest first.
    pub(super) last_recovered: Option<Key>,
}

impl World {
    pub(super) fn new(seed: u64, faults: Faults) -> Self {
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
    pub(super) fn server_micros(&self) -> Micros {
        1_900_000_000_000_000 + (self.now as Micros) * 1_000
    }

    /// Whether something that happens `per_ms` times a millisecond happens in this step.
    pub(super) fn chance(&mut self, per_ms: f64) -> bool {
        self.rng.f64() < per_ms * STEP as f64
    }

    pub(super) fn client_now(&self) -> u64 {
        self.now + self.skew
    }

    pub(super) fn run(mut self) {
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
}

impl Consumer {
    pub(super) fn fresh(saved: Option<Checkpoint>) -> Self {
        let progress = match &saved {
            Some(checkpoint) => Progress::new(checkpoint.clone()),
            None => Progress::new(Checkpoint::at(chrono::DateTime::UNIX_EPOCH)),
        };
        Self {
            queue: VecDeque::new(),
            awaiting_room: false,
            progress: progress.with_overlap(DEFAULT_OVERLAP),
            saved,
            taken_this_process: HashSet::new(),
            paused_until: 0,
        }
    }
}

impl Response {
    pub(super) fn placeholder() -> Self {
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
    settings.overlap = DEFAULT_OVERLAP;
    settings
}

pub(super) fn key_time(key: Key) -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp_micros(key.created).expect("in range")
}

pub(super) fn payload(key: Key) -> crate::protocol::RawPayload {
    key.id.to_string().into()
}
