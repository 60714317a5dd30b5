//! State shared by every request handler of one server.

use std::sync::Arc;
use std::time::Duration;

use crate::activity::Activity;
use crate::auth::Auth;
use crate::schema::ServedSdl;
use crate::store::Store;

/// Everything the handlers share.
#[derive(Debug)]
pub struct Shared {
    /// The data and event feed.
    pub store: Store,
    /// Token checking, or none.
    pub auth: Auth,
    /// How often `incidentUpdates` subscribers get a heartbeat.
    pub heartbeat: Duration,
    /// What `_service { sdl }` answers.
    pub served_sdl: ServedSdl,
    /// What clients did, for waiting on.
    pub activity: Arc<Activity>,
}
