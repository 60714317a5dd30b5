//! The measurements: one module for each regime (latency, memory, reconnect, fan-out), and the
//! processes they run in. Throughput is measured by the readers themselves (`crate::readers`),
//! each in a fresh process started through [`Sender::reader_process`].

mod fanout;
mod latency;
mod memory;
mod process;
mod reconnect;

pub use self::fanout::{Rate, fanout};
pub(crate) use self::latency::since_sent;
pub use self::latency::{latency, latency_typed_reader};
pub use self::memory::{
    Memory, memory_per_bare_connection, memory_per_connection, memory_per_subscription,
};
pub(crate) use self::memory::{heap, rss, settle};
pub use self::process::Sender;
pub(crate) use self::process::{RawSocket, raw_socket, raw_subscription};
pub use self::reconnect::reconnect;
