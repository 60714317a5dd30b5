//! Reads, normalizes and compares GraphQL SDL.
//!
//! The SDK's schema file (`schema/incident-manager.graphql`) is the single source of truth for the
//! Incident Manager API. This crate gives the tools around it one shared understanding of that file:
//!
//! - [`Schema::parse`] reads SDL into an owned model of the type system;
//! - [`Schema::to_sdl`] prints it in a normalized form (schema block first, then types sorted by
//!   name, two-space indentation), so that a pulled schema diffs cleanly against the committed one;
//! - [`diff`] compares two schemas and classifies every change as breaking, dangerous or safe,
//!   for a client that selects from the schema.
//!
//! ```
//! use incident_sdl::{Schema, Severity, diff};
//!
//! let old = Schema::parse("type Query { a: Int, b: String }").unwrap();
//! let new = Schema::parse("type Query { a: Int }").unwrap();
//! let changes = diff(&old, &new);
//! assert_eq!(changes.len(), 1);
//! assert_eq!(changes[0].severity, Severity::Breaking);
//! assert_eq!(changes[0].to_string(), "field Query.b was removed");
//! ```

#![warn(missing_docs, missing_debug_implementations)]

mod diff;
mod error;
pub mod federation;
mod model;
mod print;

pub use crate::{
    diff::{Change, Severity, diff},
    error::{Error, Result},
    model::{Directive, EnumValue, Field, InputValue, Roots, Schema, TypeDef, TypeKind, TypeRef},
};
