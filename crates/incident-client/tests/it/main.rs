//! The client's integration tests, one binary (each test binary links the whole dependency
//! tree): every module runs against dev servers on 127.0.0.1 over real sockets.

mod checkpoints;
mod common;
mod custom_operations;
mod http;
mod lazy;
mod lifecycle;
mod long_runs;
mod metrics;
mod network;
mod operations;
mod resilience;
mod streams;
