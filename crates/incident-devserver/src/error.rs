//! The error type of this crate.

use std::net::SocketAddr;

/// Why the server could not start or restart.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The address could not be bound.
    #[error("cannot listen on {0}")]
    Bind(SocketAddr, #[source] std::io::Error),
    /// The SDL could not be turned into an executable schema.
    #[error("the schema cannot be served: {0}")]
    Schema(String),
    /// The state file could not be read.
    #[error("the state file cannot be used: {0}")]
    State(String),
    /// The TLS certificate, key or client CA cannot be used.
    #[error("TLS cannot be set up: {0}")]
    Tls(String),
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
