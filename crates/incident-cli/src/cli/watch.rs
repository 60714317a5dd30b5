//! `incident watch` and `incident demo`: which streams, their filters, and how events are printed.

use clap::{Args, ValueEnum};
use incident_client::Severity;

/// A subscription to watch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StreamKind {
    /// P0 and P1 incidents as they open.
    Critical,
    /// Incidents as they open.
    New,
    /// Every change to incidents, and heartbeats.
    Updates,
    /// Incident state changes.
    StateChanges,
    /// Alerts as they arrive.
    Alerts,
}

/// `incident watch`: which streams, how to connect and reconnect, and where to resume.
#[derive(Debug, Args)]
pub struct WatchArgs {
    /// What to watch (default: new).
    #[arg(value_enum)]
    pub kinds: Vec<StreamKind>,
    /// Serve `GET /metrics` (Prometheus) and `GET /healthz` (200 while connected, else 503) on
    /// this address, such as 127.0.0.1:9464 (port 0 picks one; the address is logged on stderr).
    #[arg(long, value_name = "ADDR")]
    pub metrics_addr: Option<std::net::SocketAddr>,
    /// If the server is not reachable yet, keep trying (with backoff, logging each attempt)
    /// instead of exiting: for a watcher started before its server.
    #[arg(long)]
    pub wait: bool,
    /// Give up after this many failed connection attempts in a row (exit 3). Default: retry
    /// forever, 200 ms doubling to 30 s between attempts, each one logged.
    #[arg(long, value_name = "N")]
    pub max_attempts: Option<u32>,
    /// Resume `new` or `critical` from this file and record progress in it after every event
    /// printed (written atomically): at-least-once across crashes, at most one duplicate each.
    /// One watcher per file: FILE.lock, next to it, is locked while this one runs.
    #[arg(long, value_name = "FILE")]
    pub checkpoint: Option<std::path::PathBuf>,
    #[command(flatten)]
    pub filters: Filters,
    #[command(flatten)]
    pub output: Output,
}

/// Which events of each kind `watch` prints.
#[derive(Debug, Args)]
pub struct Filters {
    /// Only these severities (new, updates), comma-separated: P0,P1.
    #[arg(long = "severity", value_delimiter = ',', value_parser = crate::global::severity)]
    pub severities: Vec<Severity>,
    /// Only this incident (updates, state-changes); repeatable.
    #[arg(long = "incident")]
    pub incidents: Vec<String>,
    /// Only active incidents (updates).
    #[arg(long)]
    pub active_only: bool,
    /// Only alerts from these sources (alerts), comma-separated or repeated.
    #[arg(long = "source", value_delimiter = ',')]
    pub sources: Vec<String>,
}

/// How `watch` and `demo` print, and how many events.
#[derive(Debug, Args)]
pub struct Output {
    /// One JSON object per line instead of human-readable lines.
    #[arg(long)]
    pub json: bool,
    /// Stop after this many events (default: run until interrupted).
    #[arg(long)]
    pub limit: Option<usize>,
}

/// `incident demo`: how busy the embedded server is, and how events are printed.
#[cfg(feature = "devserver")]
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Demo alerts per second.
    #[arg(long, default_value_t = 2.0)]
    pub rate: f64,
    #[command(flatten)]
    pub output: Output,
}
