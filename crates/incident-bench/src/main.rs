//! `incident-bench`: throughput, latency, memory, reconnect and fan-out measurements.
//!
//! Run it through `cargo xtask bench` (release build, full sizes) or `cargo xtask bench --quick`
//! (debug build, small sizes, for CI: it checks the harness runs, not the numbers). It prints a
//! Markdown table; `docs/benchmarks.md` records one run with the machine described.

mod measure;
mod sender;

use std::time::Duration;

use anyhow::Result;

/// Sizes for one run.
#[derive(Debug, Clone, Copy)]
pub struct Sizes {
    pub flood_events: usize,
    pub latency_events: usize,
    pub latency_rate: f64,
    pub subscription_counts: &'static [usize],
    pub connection_counts: &'static [usize],
    pub restarts: usize,
    pub fanout_subscribers: usize,
    pub fanout_events: usize,
}

const FULL: Sizes = Sizes {
    flood_events: 200_000,
    latency_events: 10_000,
    latency_rate: 1000.0,
    subscription_counts: &[1, 100, 1000, 10_000],
    connection_counts: &[1, 10, 100],
    restarts: 5,
    fanout_subscribers: 1000,
    fanout_events: 200,
};

const QUICK: Sizes = Sizes {
    flood_events: 2_000,
    latency_events: 200,
    latency_rate: 1000.0,
    subscription_counts: &[1, 100],
    connection_counts: &[1, 5],
    restarts: 1,
    fanout_subscribers: 50,
    fanout_events: 10,
};

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
    if let [mode, addr, count, ..] = args.as_slice()
        && (mode == "--memory-subscriptions" || mode == "--memory-connections")
    {
        // A fresh process, so memory freed by earlier measurements cannot hide new allocations.
        let count: usize = count.parse()?;
        let bytes = if mode == "--memory-subscriptions" {
            measure::memory_per_subscription(addr, count).await?
        } else {
            measure::memory_per_connection(addr, count).await?
        };
        println!("{bytes}");
        return Ok(());
    }
    let quick = args.iter().any(|a| a == "--quick");
    let sizes = if quick { QUICK } else { FULL };
    let sender = measure::Sender::spawn().await?;
    let mut report = measure::Report::default();

    eprintln!("throughput...");
    let baseline = measure::flood_untyped(&sender, sizes.flood_events).await?;
    let typed = measure::flood_typed(&sender, sizes.flood_events).await?;
    report.throughput(typed, baseline);

    eprintln!("latency...");
    let latency = measure::latency(&sender, sizes.latency_events, sizes.latency_rate).await?;
    report.latency(sizes.latency_rate, &latency);

    // Memory first would be cleaner still, but each count runs in its own process anyway.
    eprintln!("memory...");
    for &count in sizes.subscription_counts {
        let bytes = sender
            .in_fresh_process("--memory-subscriptions", count)
            .await?;
        report.memory_subscriptions(count, bytes);
    }
    for &count in sizes.connection_counts {
        let bytes = sender
            .in_fresh_process("--memory-connections", count)
            .await?;
        report.memory_connections(count, bytes);
    }

    eprintln!("reconnect...");
    let mut reconnects = Vec::new();
    for _ in 0..sizes.restarts {
        reconnects.push(measure::reconnect().await?);
    }
    report.reconnect(&reconnects);

    eprintln!("fan-out...");
    let fanout = measure::fanout(sizes.fanout_subscribers, sizes.fanout_events).await?;
    report.fanout(sizes.fanout_subscribers, fanout);

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
