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
//!
//! Layout: `faults` (what a case draws from), `world` (the [`World`], its clocks and step loop),
//! `server` (the simulated server and network), `client` (the machine's actions and the
//! consumer), `checks` (the invariants); the cases are here.

mod checks;
mod client;
mod faults;
mod server;
mod world;

use incident_schema::{Severity, Uuid};

use super::{Action, Delivery, Key, Micros, Phase, Settings};
use faults::{CALM, Faults, hostile};
use world::{World, payload};

/// Simulated milliseconds with faults; as many again follow without, for everything to settle.
const ACTIVE: u64 = 30_000;

/// Simulated milliseconds per step.
const STEP: u64 = 10;

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

/// A schedule found by a run of 1.09 million schedules (`SIM_SCHEDULES=100000`) that still loses
/// one incident, at this commit and at the commit that introduced the machine: a consumer with a
/// queue of 14 under steady traffic, commits up to 2.7 s late (inside the 5 s overlap), long
/// catch-ups, and one crash. The incident (stamped 8.82 s, visible by 11.5 s) is never delivered
/// by the first process, whose checkpoint later passes it; the restart resumes after it. Not yet
/// fixed; kept here so it replays exactly (`cargo test -p incident-client --lib -- --ignored
/// sim_known_loss`, `SIM_TRACE=1` for every action). Move the seed into
/// [`sim_schedules_that_once_failed`] with the fix.
#[test]
#[ignore = "a known loss, not yet fixed: see the doc comment"]
fn sim_known_loss_steady_flood_with_a_crash() {
    run_seeds("steady_flood", &[14216755952469898054], steady_flood);
}
