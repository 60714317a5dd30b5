//! Where stderr's messages go: `tracing` for everything (connection events, the relay's progress,
//! the final error and its hint), as lines for people or JSON objects for log shippers.

use std::io::IsTerminal;
use std::sync::OnceLock;

use crate::cli::LogFormat;

static FORMAT: OnceLock<LogFormat> = OnceLock::new();

/// Logs go to stderr, filtered by `--log-level` (default `info`); events go to stdout.
pub fn init(level: &str, format: LogFormat) {
    let _ = FORMAT.set(format);
    let filter = tracing_subscriber::EnvFilter::try_new(level)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder
            .with_ansi(std::io::stderr().is_terminal())
            .with_target(false)
            .init(),
        LogFormat::Json => builder
            .json()
            .with_current_span(false)
            .with_span_list(false)
            .init(),
    }
}

/// Whether logs are JSON: the final error and hints are then logged, not printed.
pub fn is_json() -> bool {
    FORMAT.get() == Some(&LogFormat::Json)
}

/// A line a command prints for its user whatever the log level (the address it serves on, a
/// listing's count, a file written): plain on stderr, or an `info` event in JSON.
pub fn status(line: &str) {
    if is_json() {
        tracing::info!("{line}");
    } else {
        eprintln!("{line}");
    }
}
