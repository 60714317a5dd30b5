//! The data layer: incidents, alerts and their fingerprints, the event feed, and the state file.
//!
//! Every change goes through [`Store`], which records a timeline entry and publishes [`Event`]s on
//! one broadcast channel; subscriptions (in `graphql`) are receivers of that channel. Nothing here
//! knows how an incident is served: the JSON shapes are in `views`, one layer up.

mod alerts;
mod fingerprint;
mod incidents;
mod listing;
mod persist;
mod store;

pub(crate) use self::alerts::validate_alert;
pub use self::incidents::IncidentChanges;
pub use self::listing::{IncidentFilter, SortField};
pub(crate) use self::persist::{load, save, writer};
pub use self::store::{Event, Store, StoreError};
