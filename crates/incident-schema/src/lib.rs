//! The Incident Manager GraphQL schema, registered with [cynic].
//!
//! This crate is the compile-time view of `schema/incident-manager.graphql`, which it ships as [`SDL`]:
//!
//! - [`schema`]: cynic's schema module. Fragments derived against it are checked against the SDL
//!   when they compile, so a field the server does not have, or a variable of the wrong type, is a
//!   build error rather than a runtime surprise.
//! - Scalars: `UUID` is [`Uuid`], `DateTimeScalar` is [`Timestamp`] (reads the server's `+00:00`
//!   nanosecond form and `Z`; writes RFC 3339), `JSONObject` is [`JsonObject`].
//! - [`enums`]: every schema enum. Each has an `Other(String)` variant that keeps values this
//!   version does not know, so a newer server never breaks decoding.
//! - [`inputs`]: every input object, with `Default` where the schema gives every field a default.
//!
//! ```
//! use incident_schema::{Severity, enums::IncidentState};
//!
//! let severity: Severity = "p1".parse().unwrap();
//! assert_eq!(severity, Severity::P1);
//! let state: IncidentState = serde_json::from_str("\"ON_HOLD\"").unwrap();
//! assert_eq!(state, IncidentState::Other("ON_HOLD".into()));
//! ```

#![warn(missing_docs, missing_debug_implementations)]

mod error;
mod generated;
mod scalars;

/// cynic's view of the schema. Derive fragments with `#[cynic(schema = "incident_manager")]`
/// (or `schema_module = "incident_schema::schema"`) and a `schema` module in scope.
#[cynic::schema("incident_manager")]
#[allow(missing_docs, missing_debug_implementations)]
pub mod schema {}

/// The schema's SDL, exactly `schema/incident-manager.graphql` of the SDK's repository. A crate
/// with its own operations registers it for cynic's derives in its `build.rs`:
///
/// ```no_run
/// // build.rs
/// fn main() -> Result<(), Box<dyn std::error::Error>> {
///     cynic_codegen::register_schema("incident_manager")
///         .from_sdl(incident_schema::SDL)?
///         .as_default()?;
///     Ok(())
/// }
/// ```
pub const SDL: &str = include_str!("../incident-manager.graphql");

pub use crate::{
    error::UnknownEnumValue,
    generated::{enums, inputs},
    scalars::{JsonObject, Timestamp},
};
pub use enums::{IncidentState, IncidentType, IncidentUpdateType, Severity};
pub use uuid::Uuid;
