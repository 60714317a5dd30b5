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
//! [`DevServerHandle::restart`] on the same port keeping the data.

#![cfg_attr(docsrs, feature(doc_cfg))]
#![warn(missing_docs, missing_debug_implementations)]

mod activity;
pub mod args;
mod auth;
mod demo;
mod error;
mod error_paths;
mod listener;
pub mod model;
mod persist;
#[cfg(feature = "pki")]
#[cfg_attr(docsrs, doc(cfg(feature = "pki")))]
pub mod pki;
pub mod proxy;
mod resolvers;
mod rest;
mod schema;
mod server;
mod state;
pub mod store;
mod subscriptions;
mod tls;
mod ws;

pub use crate::{
    auth::{Claims, mint, parse_ttl},
    error::{Error, Result},
    schema::{MAX_COMPLEXITY, MAX_DEPTH, SDL},
    server::{DevServer, DevServerBuilder, DevServerHandle},
    store::Store,
};
