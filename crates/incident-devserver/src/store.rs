//! The in-memory store: incidents, alert deduplication, and the event feed subscriptions read.
//!
//! Every change goes through [`Store`], which records a timeline event and publishes [`Event`]s on
//! one broadcast channel. Subscriptions are receivers of that channel with their filters applied.
//!
//! This module is the store's public face: the store itself lives in the crate's data layer and
//! the JSON an incident is served as ([`Store::incident_json`], [`incident_json_shallow`]) in its
//! views layer, one above; both are re-exported here under the paths they have always had.

pub use crate::data::{Event, IncidentChanges, IncidentFilter, SortField, Store, StoreError};
pub use crate::views::incident_json_shallow;
