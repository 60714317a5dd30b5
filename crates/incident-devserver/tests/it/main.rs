//! The dev server's integration tests, one binary: HTTP and REST, the WebSocket protocol,
//! subscriptions, the `incident-devserver` binary over TLS, and the crate's layering.

mod common;
mod http;
mod layers;
mod protocol;
mod subscriptions;
#[cfg(feature = "pki")]
mod tls_binary;
