//! Which faults a simulation case draws from: [`Faults`], the fault-free [`CALM`] every case
//! starts from, and [`hostile`], everything at once.

use incident_schema::Severity;

/// Which faults a case draws from.
#[derive(Debug, Clone, Copy)]
pub(super) struct Faults {
    /// Incidents created over the schedule.
    pub(super) incidents: u32,
    /// Largest delay between an incident's stamp and its commit, in ms (within the overlap).
    pub(super) commit_delay: u64,
    /// Chance per ms of dropping the connection.
    pub(super) disconnect: f64,
    /// Connections close after this long (token expiry), in ms; 0 for never.
    pub(super) token_lifetime: u64,
    /// Chance per ms of an outage of up to 3 s (no connection, HTTP 503).
    pub(super) outage: f64,
    /// Chance that a query fails (503 or timeout).
    pub(super) http_failure: f64,
    /// Chance per ms that the server starts refusing the listing query for good, for a while.
    pub(super) refusal: f64,
    /// Chance per ms of the consumer pausing for up to 2 s.
    pub(super) pause: f64,
    /// Chance per ms of the consumer crashing.
    pub(super) crash: f64,
    /// Chance per incident of an escalation after it opened.
    pub(super) escalation: f64,
    /// The consumer's buffer.
    pub(super) capacity: usize,
    /// The stream's filter.
    pub(super) severities: Option<&'static [Severity]>,
    /// The handshake carries no `Date`: the start comes from the listing.
    pub(super) no_date: bool,
    /// A burst: this many incidents created while the consumer is away.
    pub(super) burst: u32,
}

pub(super) const CALM: Faults = Faults {
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
pub(super) fn hostile(rng: &mut fastrand::Rng) -> Faults {
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
