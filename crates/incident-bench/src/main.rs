//! `incident-bench`: throughput, latency, memory, reconnect and fan-out measurements.
//!
//! Run it through `cargo xtask bench` (release build, full sizes) or `cargo xtask bench --quick`
//! (debug build, small sizes, for CI: it checks the harness runs, not the numbers). It prints a
//! Markdown table; `docs/benchmarks.md` records one run with the machine described.

mod decoders;
mod gws;
mod measure;
mod paced;
mod readers;
mod report;
mod sender;

use std::time::Duration;

use anyhow::Result;
use stats_alloc::{INSTRUMENTED_SYSTEM, StatsAlloc};

/// The system allocator, counting, so memory measurements can read live heap bytes.
#[global_allocator]
static GLOBAL: &StatsAlloc<std::alloc::System> = &INSTRUMENTED_SYSTEM;

/// Sizes for one run.
#[derive(Debug, Clone, Copy)]
pub struct Sizes {
    pub flood_events: usize,
    pub flood_rounds: usize,
    pub latency_events: usize,
    pub latency_rounds: usize,
    pub latency_rate: f64,
    pub subscription_counts: &'static [usize],
    pub connection_counts: &'static [usize],
    pub restarts: usize,
    pub fanout_subscribers: usize,
    pub fanout_events: usize,
    /// Events per server-paced run at `latency_rate`, and per one-frame-per-write run.
    pub paced_events: usize,
    pub paced_write_events: usize,
    pub paced_rounds: usize,
}

const FULL: Sizes = Sizes {
    flood_events: 200_000,
    flood_rounds: 5,
    latency_events: 10_000,
    latency_rounds: 3,
    latency_rate: 1000.0,
    subscription_counts: &[1, 100, 1000, 10_000],
    connection_counts: &[1, 10, 100],
    restarts: 5,
    fanout_subscribers: 1000,
    fanout_events: 200,
    paced_events: 3_000,
    paced_write_events: 8_000,
    paced_rounds: 5,
};

const QUICK: Sizes = Sizes {
    flood_events: 2_000,
    flood_rounds: 1,
    latency_events: 200,
    latency_rounds: 1,
    latency_rate: 1000.0,
    subscription_counts: &[1, 100],
    connection_counts: &[1, 5],
    restarts: 1,
    fanout_subscribers: 50,
    fanout_events: 10,
    paced_events: 100,
    paced_write_events: 200,
    paced_rounds: 1,
};

/// The measurements a run makes: all of them, or those named by `--only a,b`.
struct Only(Option<Vec<String>>);

impl Only {
    const NAMES: [&'static str; 7] = [
        "decode",
        "throughput",
        "paced",
        "latency",
        "memory",
        "reconnect",
        "fanout",
    ];

    fn from_args(args: &[String]) -> Result<Only> {
        let Some(position) = args.iter().position(|a| a == "--only") else {
            return Ok(Only(None));
        };
        let list = args.get(position + 1).ok_or_else(|| {
            anyhow::anyhow!("--only needs a list, e.g. --only throughput,latency")
        })?;
        let names: Vec<String> = list.split(',').map(str::to_owned).collect();
        if let Some(unknown) = names.iter().find(|n| !Self::NAMES.contains(&n.as_str())) {
            anyhow::bail!(
                "unknown measurement {unknown:?}; known: {}",
                Self::NAMES.join(", ")
            );
        }
        Ok(Only(Some(names)))
    }

    fn runs(&self, name: &str) -> bool {
        self.0
            .as_ref()
            .is_none_or(|names| names.iter().any(|n| n == name))
    }
}

/// Runs a measurement in its own tokio task, where applications usually consume streams.
async fn spawned<T: Send + 'static>(
    measurement: impl Future<Output = Result<T>> + Send + 'static,
) -> Result<T> {
    tokio::spawn(measurement).await?
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // The client side runs on tokio's multi-threaded runtime (what `#[tokio::main]` gives users)
    // unless `--current-thread` asks for the single-threaded one.
    let runtime = if args.iter().any(|a| a == "--current-thread") {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?
    };
    runtime.block_on(run(args))
}

async fn run(args: Vec<String>) -> Result<()> {
    if args.iter().any(|a| a == "--sender") {
        return sender::run().await;
    }
    if let [mode, reader, addr, count, ..] = args.as_slice()
        && mode == "--reader"
    {
        // One throughput reader in a process of its own.
        let (reader, sender) = (readers::Reader::parse(reader)?, measure::Sender::at(addr));
        let count: usize = count.parse()?;
        let run = spawned(async move { readers::flood(reader, &sender, count).await }).await?;
        println!("{} {} {}", run.events, run.wall_s, run.cpu_s);
        return Ok(());
    }
    if let [mode, reader, addr, rate, count, ..] = args.as_slice()
        && mode == "--paced"
    {
        // One server-paced reader in a process of its own.
        let (reader, sender) = (readers::Reader::parse(reader)?, measure::Sender::at(addr));
        let (rate, count): (f64, usize) = (rate.parse()?, count.parse()?);
        let (run, samples) =
            spawned(async move { paced::paced(reader, &sender, rate, count).await }).await?;
        let (p50, p99) = (
            paced::quantile(&samples, 0.5),
            paced::quantile(&samples, 0.99),
        );
        println!("{} {} {} {p50} {p99}", run.events, run.wall_s, run.cpu_s);
        return Ok(());
    }
    if let [mode, reader, addr, ..] = args.as_slice()
        && mode == "--idle-rss"
    {
        let (reader, sender) = (readers::Reader::parse(reader)?, measure::Sender::at(addr));
        let (start, after, heap) = readers::idle_rss(reader, &sender).await?;
        println!("{start} {after} {heap}");
        return Ok(());
    }
    if let [mode, addr, count, ..] = args.as_slice()
        && mode.starts_with("--memory-")
    {
        // A fresh process, so memory freed by earlier measurements cannot hide new allocations.
        let count: usize = count.parse()?;
        let memory = match mode.as_str() {
            "--memory-subscriptions" => measure::memory_per_subscription(addr, count).await?,
            "--memory-connections" => measure::memory_per_connection(addr, count).await?,
            "--memory-bare-connections" => measure::memory_per_bare_connection(addr, count).await?,
            other => anyhow::bail!("unknown memory measurement {other}"),
        };
        println!("{} {}", memory.rss, memory.heap);
        return Ok(());
    }
    let quick = args.iter().any(|a| a == "--quick");
    let sizes = if quick { QUICK } else { FULL };
    let only = Only::from_args(&args)?;
    let sender = measure::Sender::spawn().await?;
    let mut report = report::Report::default();

    if only.runs("decode") {
        eprintln!("decode...");
        report.decoders(&decoders::compare(if quick { 500 } else { 50_000 })?);
    }

    if only.runs("throughput") {
        eprintln!("throughput...");
        let n = sizes.flood_events;
        // Both runtimes, whatever `--current-thread` says for the other measurements; every
        // reader in a fresh process, the readers alternating round by round so a disturbance
        // on the machine hits them alike.
        for (runtime, current_thread) in [("current-thread", true), ("multi-thread", false)] {
            let mut runs: Vec<(readers::Reader, Vec<readers::Run>)> = readers::Reader::ALL
                .into_iter()
                .map(|reader| (reader, Vec::new()))
                .collect();
            for _ in 0..sizes.flood_rounds {
                for (reader, rounds) in &mut runs {
                    rounds.push(sender.reader_process(*reader, current_thread, n).await?);
                }
            }
            report.throughput(runtime, &runs);
        }
    }

    if only.runs("paced") {
        eprintln!("paced...");
        // Each wake carries one event: at the latency rate, and one frame per write as fast as
        // the sender writes. Fresh processes, both runtimes, readers alternating round by round.
        for (regime, rate, events) in [
            (
                format!("{:.0} events/s", sizes.latency_rate),
                sizes.latency_rate,
                sizes.paced_events,
            ),
            (
                "one frame per write".to_owned(),
                0.0,
                sizes.paced_write_events,
            ),
        ] {
            for (runtime, current_thread) in [("current-thread", true), ("multi-thread", false)] {
                let mut runs: Vec<(readers::Reader, Vec<paced::PacedRun>)> = readers::Reader::ALL
                    .into_iter()
                    .map(|reader| (reader, Vec::new()))
                    .collect();
                for _ in 0..sizes.paced_rounds {
                    for (reader, rounds) in &mut runs {
                        rounds.push(
                            sender
                                .paced_process(*reader, current_thread, rate, events)
                                .await?,
                        );
                    }
                }
                report.paced(&regime, runtime, &runs);
            }
        }
    }

    if only.runs("latency") {
        eprintln!("latency...");
        let (events, rate) = (sizes.latency_events, sizes.latency_rate);
        // Alternating rounds again: this machine's wake-up latency drifts from minute to minute.
        let (mut floor, mut typed) = (Vec::new(), Vec::new());
        for _ in 0..sizes.latency_rounds {
            let s = sender.clone();
            floor.push(
                spawned(async move { measure::latency_typed_reader(&s, events, rate).await })
                    .await?,
            );
            let s = sender.clone();
            typed.push(spawned(async move { measure::latency(&s, events, rate).await }).await?);
        }
        report.latency(rate, "in a spawned task", &typed, &floor);
        // The same on the thread that runs `block_on` (a `#[tokio::main]` body): on the
        // multi-thread runtime every event then crosses from a worker thread to that thread.
        let (mut floor, mut typed) = (Vec::new(), Vec::new());
        for _ in 0..sizes.latency_rounds {
            floor.push(measure::latency_typed_reader(&sender, events, rate).await?);
            typed.push(measure::latency(&sender, events, rate).await?);
        }
        report.latency(rate, "in `block_on`", &typed, &floor);
    }

    if only.runs("memory") {
        eprintln!("memory...");
        let mut idle = Vec::new();
        for reader in [readers::Reader::Typed, readers::Reader::Sdk] {
            idle.push((reader, sender.idle_rss_process(reader).await?));
        }
        report.idle_rss(&idle);
        for &count in sizes.subscription_counts {
            let bytes = sender
                .in_fresh_process("--memory-subscriptions", count)
                .await?;
            report.memory_subscriptions(count, bytes);
        }
        for &count in sizes.connection_counts {
            let bare = sender
                .in_fresh_process("--memory-bare-connections", count)
                .await?;
            let sdk = sender
                .in_fresh_process("--memory-connections", count)
                .await?;
            report.memory_connections(count, sdk, bare);
        }
    }

    if only.runs("reconnect") {
        eprintln!("reconnect...");
        let mut reconnects = Vec::new();
        for _ in 0..sizes.restarts {
            reconnects.push(measure::reconnect().await?);
        }
        report.reconnect(&reconnects);
    }

    if only.runs("fanout") {
        eprintln!("fan-out...");
        let fanout = measure::fanout(sizes.fanout_subscribers, sizes.fanout_events).await?;
        report.fanout(sizes.fanout_subscribers, fanout);
    }

    let flavor = if args.iter().any(|a| a == "--current-thread") {
        "current-thread"
    } else {
        "multi-thread"
    };
    println!("client runtime: tokio {flavor}\n");
    println!("{}", report.markdown(quick));
    drop(sender);
    tokio::time::sleep(Duration::from_millis(10)).await;
    Ok(())
}
