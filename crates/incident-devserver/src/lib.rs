//! A real Incident Manager server for development and tests.
//!
//! It serves `schema/incident-manager.graphql` exactly, building its executable schema from that
//! file at start-up, over the same contract as the real server: `POST /graphql`, `GET /graphql`
//! (GraphiQL), `GET /graphql/ws` (`graphql-transport-ws`, and the legacy `graphql-ws`),
//! `GET /health` and `POST /v1/alerts`. Tokens are HS256 JWTs: in the `connection_init` payload as
//! `{"Authorization": "Bearer <jwt>"}` over WebSocket, in the `Authorization` header over HTTP.
//! Data lives in memory; every change feeds the five subscriptions.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use std::time::Duration;
//! use incident_devserver::DevServer;
//!
//! let server = DevServer::builder().heartbeat_interval(Duration::from_secs(5)).start().await?;
//! let token = server.mint_token("docs", Duration::from_secs(3600));
//! println!("connect to {} with {token}", server.ws_url());
//! server.shutdown().await;
//! # Ok(()) }
//! ```
//!
//! The handle also injects faults: [`DevServerHandle::close_all`] with any close code,
//! [`DevServerHandle::drop_all`] without a close frame, [`DevServerHandle::freeze_all`] for
//! half-open sockets, [`DevServerHandle::pause_accepting`], [`DevServerHandle::withhold_ack`], and
//! [`DevServerHandle::restart`] on the same port keeping the data. What clients did (connections,
//! subscriptions, close frames, headers, payloads) is in [`DevServerHandle::activity`].

#![cfg_attr(docsrs, feature(doc_cfg))]
#![warn(missing_docs, missing_debug_implementations)]

// The layers, lowest first; a module uses only modules of lower layers (tests/layers.rs checks):
// foundation (model, error, auth, activity, proxy, pki) -> data -> views -> shared ->
// graphql, rest, demo -> server -> handle -> args, store (the public faces).
mod activity;
pub mod args;
mod auth;
mod data;
mod demo;
mod error;
mod graphql;
mod handle;
pub mod model;
#[cfg(feature = "pki")]
#[cfg_attr(docsrs, doc(cfg(feature = "pki")))]
pub mod pki;
pub mod proxy;
mod rest;
mod server;
mod shared;
pub mod store;
mod views;

pub use crate::{
    activity::Activity,
    auth::{Claims, mint, parse_ttl},
    error::{Error, Result},
    graphql::{MAX_COMPLEXITY, MAX_DEPTH, SDL},
    handle::{DevServer, DevServerBuilder, DevServerHandle},
    store::Store,
};
