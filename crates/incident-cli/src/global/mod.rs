//! From the global settings to a working client, and what every long-running command shares.
//!
//! The command line's connection settings ([`crate::cli::Global`]) become an [`IncidentClient`]
//! here and nowhere else: the WebSocket and HTTP endpoints, the token source, the CA and client
//! certificate files, and how a daemon reconnects. Next to that, the value parser for
//! `--severity` (so every command takes `P0,P1` the same way and rejects `P9` the same way) and
//! the signals that stop `watch` and `relay` cleanly.
//!
//! [`IncidentClient`]: incident_client::IncidentClient

mod client;
mod pem;
mod severity;
mod signal;
mod token;

// Only `watch` without an embedded server to fall back on uses it directly.
#[cfg(not(feature = "devserver"))]
pub use client::missing_ws_url;
pub use client::{builder, connect, daemon_policy, require_ws_url};
pub use pem::read_pem;
pub use severity::{severities, severity};
pub use signal::shutdown_signal;
pub use token::token_provider;
