//! The plain data the delivery machine takes and gives: keys, listing pages, queries, actions,
//! phases, settings, and the constants that size a catch-up.

use std::time::Duration;

use incident_schema::{Severity, Uuid};

use crate::error::Error;
use crate::protocol::RawPayload;

/// Microseconds since the Unix epoch, as the server stamped them.
pub(crate) type Micros = i64;

/// Incidents per page of a catch-up.
pub(crate) const PAGE_SIZE: usize = 100;

/// How much of the listing before the watermark a catch-up reads again by default.
pub(crate) const DEFAULT_OVERLAP: Duration = Duration::from_secs(5);

/// What names an incident and orders the listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct Key {
    pub(crate) created: Micros,
    pub(crate) id: Uuid,
}

/// An incident read from the listing.
#[derive(Debug, Clone)]
pub(crate) struct Listed {
    pub(crate) key: Key,
    /// The severity it was opened with (before any escalation); `None` for one this SDK does
    /// not know, which only a stream without a severity filter delivers.
    pub(crate) opened: Option<Severity>,
    pub(crate) payload: RawPayload,
}

/// One page of the listing, oldest first (by `createdAt`, then id).
#[derive(Debug, Clone, Default)]
pub(crate) struct Page {
    /// The incidents that could be read (an id and a stamp).
    pub(crate) incidents: Vec<Listed>,
    /// How many the page held, read or not: a full page means there may be more.
    pub(crate) listed: usize,
    pub(crate) total_pages: i32,
}

/// What the driver asks the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Query {
    /// Page `n` of the whole listing, oldest first.
    Page(i32),
    /// The newest incident (the first page newest first, one incident).
    Newest,
}

/// Why a query got no page.
#[derive(Debug, Clone)]
pub(crate) enum Failure {
    /// The server may answer later (unreachable, timed out, 5xx): retried.
    Transient,
    /// The server refuses the query itself: retrying cannot help.
    Permanent(Error),
}

/// What the machine asks of its driver.
#[derive(Debug, Clone)]
pub(crate) enum Action {
    /// Run `query` and answer with [`Delivery::on_page`](super::Delivery::on_page) and the same
    /// `request`.
    Fetch { request: u64, query: Query },
    /// Queue this for the consumer.
    Deliver {
        payload: RawPayload,
        key: Option<Key>,
        recovered: bool,
    },
    /// Call [`Delivery::on_room`](super::Delivery::on_room) once the consumer has drained half
    /// its buffer.
    AwaitRoom,
    /// Call [`Delivery::on_timer`](super::Delivery::on_timer) at `at` (the driver's milliseconds).
    Wake { at: u64 },
    /// A new stream's start is known (a server stamp): its checkpoint until the consumer takes
    /// an incident.
    Started { at: Micros },
    /// End the stream with this error.
    End(Error),
}

/// Which state the machine is in; see the module docs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    Waiting,
    Probing,
    CatchingUp,
    Live,
    Ended,
}

/// How the machine is set up.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    /// The consumer's buffer.
    pub(crate) capacity: usize,
    /// The severities the stream's incidents were opened with; `None` for all.
    pub(crate) severities: Option<Box<[Severity]>>,
    pub(crate) overlap: Duration,
}

impl Settings {
    pub(crate) fn new(capacity: usize, severities: Option<Vec<Severity>>) -> Self {
        Self {
            capacity: capacity.max(1),
            severities: severities.map(Vec::into_boxed_slice),
            overlap: DEFAULT_OVERLAP,
        }
    }
}
