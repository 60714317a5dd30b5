//! What every request handler of one server shares: the store, token checking, the heartbeat
//! period, the served SDL and the activity records.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use crate::activity::Activity;
use crate::auth::Auth;
use crate::data::Store;

/// Everything the handlers share.
#[derive(Debug)]
pub(crate) struct Shared {
    /// The data and event feed.
    pub(crate) store: Arc<Store>,
    /// Token checking, or none.
    pub(crate) auth: Auth,
    /// How often `incidentUpdates` subscribers get a heartbeat.
    pub(crate) heartbeat: Duration,
    /// What `_service { sdl }` answers, set once the schema is built.
    pub(crate) served_sdl: OnceLock<String>,
    /// What clients did, for waiting on.
    pub(crate) activity: Activity,
}
