//! Code generation for the Incident Manager SDK and for crates that use it.
//!
//! Give it a folder of GraphQL documents (`.graphql` files with named operations and fragments)
//! and it writes one Rust module of cynic structs for them:
//!
//! 1. every document is checked against the schema, naming the document, the operation or
//!    fragment, and the field, argument or fragment that does not exist;
//! 2. every operation is measured as the server measures it (depth 10, complexity 100 at most);
//! 3. cynic-querygen turns the documents into `QueryFragment`/`QueryVariables` structs;
//! 4. the output is reshaped to use the SDK's own types: enums with an `Other` fallback, the
//!    input objects, `Uuid`, `Timestamp` and `JsonObject` from `incident_client`, owned variables,
//!    `Clone`/`PartialEq`/`serde::Serialize`, and docs from the schema;
//! 5. it is formatted (rustfmt when it is installed) under a fixed header.
//!
//! The module is self-contained: it imports `incident_client::schema` and the SDK's types
//! itself. A crate needs `incident-client`, `cynic` and `serde` (with `derive`) as dependencies
//! and the schema registered in its build script.
//!
//! ```no_run
//! // build.rs: generate into OUT_DIR, then `mod ops { include!(concat!(env!("OUT_DIR"), "/ops.rs")); }`
//! fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     cynic_codegen::register_schema("incident_manager")
//!         .from_sdl(incident_schema::SDL)?
//!         .as_default()?;
//!     incident_codegen::build_script("graphql", "ops.rs")?;
//!     Ok(())
//! }
//! ```
//!
//! The same code path runs as `incident codegen --documents DIR --out FILE [--check]` and as
//! `cargo xtask codegen` for the SDK's own operations, so all three produce the same bytes.
//!
//! # Features
//!
//! - `schema-tools` (off by default): `pull` (a server's schema by introspection, through the
//!   caller's transport), `diff` (classified schema changes) and `check` (which operations a
//!   change affects), behind `incident schema` and `cargo xtask schema`. A build script needs
//!   none of it, so its dependencies stay out of users' builds.

#![warn(missing_docs, missing_debug_implementations)]
#![cfg_attr(docsrs, feature(doc_cfg))]

#[cfg(feature = "schema-tools")]
mod check;
mod documents;
mod error;
mod format;
mod operations;
#[cfg(feature = "schema-tools")]
#[cfg_attr(docsrs, doc(cfg(feature = "schema-tools")))]
pub mod pull;
mod schema_types;
#[cfg(feature = "schema-tools")]
mod usage;
mod validate;

use std::path::{Path, PathBuf};

use incident_sdl::Schema;

#[cfg(feature = "schema-tools")]
#[cfg_attr(docsrs, doc(cfg(feature = "schema-tools")))]
pub use crate::check::{Check, CheckedChange, check};
pub use crate::documents::Documents;
pub use crate::error::{Error, Result};
#[cfg(feature = "schema-tools")]
#[cfg_attr(docsrs, doc(cfg(feature = "schema-tools")))]
pub use crate::usage::Usage;
pub use crate::validate::{MAX_COMPLEXITY, MAX_DEPTH, OperationCost};

/// A file that generation produces, by name relative to where the caller puts it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeneratedFile {
    /// The file's path, relative.
    pub path: PathBuf,
    /// Its full contents.
    pub contents: String,
}

/// One Rust module for every operation in `documents`, checked against `sdl` (usually
/// [`incident_schema::SDL`]).
pub fn module(sdl: &str, documents: &Documents) -> Result<String> {
    let schema =
        Schema::parse(sdl).map_err(|e| Error(format!("the schema does not parse: {e}")))?;
    operations::module(sdl, &schema, documents)
}

/// What every operation in `documents` costs the server, after checking them against `sdl`.
pub fn costs(sdl: &str, documents: &Documents) -> Result<Vec<OperationCost>> {
    let schema =
        Schema::parse(sdl).map_err(|e| Error(format!("the schema does not parse: {e}")))?;
    validate::check(documents, &schema)
}

/// `enums.rs` and `inputs.rs` of `incident-schema`: every enum (with its `Other` fallback) and
/// every input object. `schema_label` names the schema in the header.
pub fn schema_types(sdl: &str, schema_label: &str) -> Result<Vec<GeneratedFile>> {
    let schema =
        Schema::parse(sdl).map_err(|e| Error(format!("the schema does not parse: {e}")))?;
    schema_types::generate(&schema, schema_label)
}

/// The changes from `old_sdl` to `new_sdl` as a [`Check`] with no documents (`schema diff`);
/// `ignore_descriptions` compares type systems only.
#[cfg(feature = "schema-tools")]
#[cfg_attr(docsrs, doc(cfg(feature = "schema-tools")))]
pub fn diff(old_sdl: &str, new_sdl: &str, ignore_descriptions: bool) -> Result<Check> {
    let parse = |sdl: &str, which: &str| {
        Schema::parse(sdl).map_err(|e| Error(format!("the {which} schema does not parse: {e}")))
    };
    let (mut old, mut new) = (parse(old_sdl, "old")?, parse(new_sdl, "new")?);
    if ignore_descriptions {
        old.strip_descriptions();
        new.strip_descriptions();
    }
    Ok(Check::from_changes(incident_sdl::diff(&old, &new)))
}

/// Whether `path` holds exactly `contents` (a missing file is stale).
pub fn is_fresh(path: &Path, contents: &str) -> bool {
    std::fs::read_to_string(path).ok().as_deref() == Some(contents)
}

/// For a build script: generates the module for the documents in `documents_dir` (relative to
/// the crate) against [`incident_schema::SDL`] into `$OUT_DIR/file_name`, and tells cargo to
/// run again when a document changes. Returns the path written.
pub fn build_script(documents_dir: impl AsRef<Path>, file_name: &str) -> Result<PathBuf> {
    let dir = documents_dir.as_ref();
    println!("cargo::rerun-if-changed={}", dir.display());
    let documents = Documents::read(dir)?;
    for name in documents.names() {
        println!("cargo::rerun-if-changed={}", dir.join(name).display());
    }
    let contents = module(incident_schema::SDL, &documents)?;
    let out_dir = std::env::var_os("OUT_DIR")
        .ok_or_else(|| Error("OUT_DIR is not set: call build_script from a build script".into()))?;
    let path = PathBuf::from(out_dir).join(file_name);
    std::fs::write(&path, contents)
        .map_err(|e| Error(format!("writing {}: {e}", path.display())))?;
    Ok(path)
}
