//! The connection's state, pushed to whoever watches it.

use std::time::{Duration, SystemTime};

use crate::error::Error;

/// What the connection is doing, as [`crate::IncidentClient::connection_state`] reports it.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum ConnectionState {
    /// Opening a connection: TCP, the WebSocket upgrade, `connection_init`, waiting for the ack.
    /// `attempt` counts failed attempts since the last healthy connection (0 at first).
    Connecting {
        /// Failed attempts before this one.
        attempt: u32,
    },
    /// Connected and acknowledged.
    Connected {
        /// When the server acknowledged the connection.
        since: SystemTime,
    },
    /// Connected, and opening the next connection with a fresh token before this one's expires;
    /// every stream switches to it once the server has confirmed its subscriptions there.
    Rotating {
        /// When the server acknowledged the current connection.
        since: SystemTime,
    },
    /// The connection was lost or could not be opened; the next attempt comes after `delay`.
    Reconnecting {
        /// The attempt that comes next (from 1).
        attempt: u32,
        /// How long until it starts.
        delay: Duration,
        /// What went wrong, as text.
        error: String,
    },
    /// A [lazy](crate::IncidentClientBuilder::lazy) client with no subscription: no WebSocket is
    /// open, and the next subscription opens one.
    Idle,
    /// The connection task ended: shut down, every handle dropped (`error` is `None`), or an
    /// error reconnecting cannot fix.
    Closed {
        /// The error that ended it, if one did.
        error: Option<Error>,
    },
}

impl ConnectionState {
    /// Whether a connection is established and acknowledged.
    pub fn is_connected(&self) -> bool {
        matches!(
            self,
            ConnectionState::Connected { .. } | ConnectionState::Rotating { .. }
        )
    }

    /// A short name: `connecting`, `connected`, `rotating`, `reconnecting`, `idle`, `closed`.
    pub fn name(&self) -> &'static str {
        match self {
            ConnectionState::Connecting { .. } => "connecting",
            ConnectionState::Connected { .. } => "connected",
            ConnectionState::Rotating { .. } => "rotating",
            ConnectionState::Reconnecting { .. } => "reconnecting",
            ConnectionState::Idle => "idle",
            ConnectionState::Closed { .. } => "closed",
        }
    }
}
