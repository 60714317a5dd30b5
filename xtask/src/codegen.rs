//! `cargo xtask codegen`: the committed, generated Rust.
//!
//! Inputs: `schema/incident-manager.graphql` and `crates/incident-client/graphql/*.graphql`.
//! Outputs (all under a `src/generated/` folder, each starting with a header naming this command):
//! - `crates/incident-schema/src/generated/enums.rs`: every schema enum, with a fallback variant;
//! - `crates/incident-schema/src/generated/inputs.rs`: every input object;
//! - `crates/incident-client/src/generated/{fragments,queries,mutations,subscriptions}.rs`: the
//!   operations, turned into cynic `QueryFragment`/`QueryVariables` structs by cynic-querygen.
//!
//! Output is deterministic: it depends only on the inputs, is sorted where order is free, and is
//! formatted by rustfmt.

mod format;
mod operations;
mod schema_types;
mod validate;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use incident_sdl::Schema;

/// The project schema, relative to the workspace root.
pub const SCHEMA_PATH: &str = "schema/incident-manager.graphql";
/// The operation documents' folder, relative to the workspace root.
pub const OPERATIONS_DIR: &str = "crates/incident-client/graphql";

/// One file that codegen writes.
#[derive(Debug)]
pub struct GeneratedFile {
    /// Path relative to the workspace root.
    pub path: PathBuf,
    /// Full contents.
    pub contents: String,
}

/// Generates every file from the schema and documents under `root`.
pub fn generate(root: &Path) -> Result<Vec<GeneratedFile>> {
    generate_from(root, &root.join(SCHEMA_PATH))
}

/// Generates every file, reading the schema from `schema_path` instead of the project schema.
pub fn generate_from(root: &Path, schema_path: &Path) -> Result<Vec<GeneratedFile>> {
    let sdl = std::fs::read_to_string(schema_path)
        .with_context(|| format!("reading {}", schema_path.display()))?;
    let schema =
        Schema::parse(&sdl).with_context(|| format!("parsing {}", schema_path.display()))?;
    let mut files = schema_types::generate(&schema)?;
    files.extend(operations::generate(root, &sdl, &schema)?);
    Ok(files)
}

/// Writes the generated files, or with `check` compares them and names each stale one.
pub fn run(root: &Path, check: bool) -> Result<ExitCode> {
    let files = generate(root)?;
    let stale = stale_files(root, &files);
    if check {
        if stale.is_empty() {
            println!("generated code is up to date ({} files)", files.len());
            return Ok(ExitCode::SUCCESS);
        }
        for path in &stale {
            eprintln!("stale: {} (run `cargo xtask codegen`)", path.display());
        }
        return Ok(ExitCode::FAILURE);
    }
    write_files(root, &files)?;
    if stale.is_empty() {
        println!("generated code was already up to date");
    }
    for path in &stale {
        println!("wrote {}", path.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// Writes the files under `root`, creating folders as needed.
pub fn write_files(root: &Path, files: &[GeneratedFile]) -> Result<()> {
    for file in files {
        let path = root.join(&file.path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&path, &file.contents)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

/// The paths whose committed contents differ from what codegen produces.
pub fn stale_files(root: &Path, files: &[GeneratedFile]) -> Vec<PathBuf> {
    files
        .iter()
        .filter(|file| {
            std::fs::read_to_string(root.join(&file.path))
                .ok()
                .as_deref()
                != Some(&file.contents)
        })
        .map(|file| file.path.clone())
        .collect()
}

#[cfg(test)]
mod tests;
