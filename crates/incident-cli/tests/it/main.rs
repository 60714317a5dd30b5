//! The `incident` binary's integration tests, as one test binary (one link instead of one per
//! file): each module is a concept, and `common` holds what they share.
//!
//! Every test runs the real binary against real servers on 127.0.0.1 (a dev server in this
//! process or as `incident serve`, a `nats-server`, a CONNECT proxy) and waits on conditions
//! (`DevServerHandle::wait_for`, lines the binary prints, [`common::until`]), never on sleeps.

mod checkpoints;
mod commands;
mod common;
mod conventions;
#[cfg(feature = "devserver")]
mod credentials;
#[cfg(feature = "devserver")]
mod networks;
mod operations;
#[cfg(all(feature = "relay", feature = "devserver"))]
mod relay;
mod schema;
mod watch;
