//! `cargo xtask codegen`: the committed, generated Rust, by a thin call into `incident-codegen`
//! (the library `incident codegen` and users' build scripts run too).
//!
//! Inputs: `schema/incident-manager.graphql` and `crates/incident-client/graphql/*.graphql`.
//! Outputs, each starting with a header naming its inputs:
//! - `crates/incident-schema/src/generated/enums.rs`: every schema enum, with a fallback variant;
//! - `crates/incident-schema/src/generated/inputs.rs`: every input object;
//! - `crates/incident-schema/incident-manager.graphql`: a byte-identical copy of the schema, which
//!   the crate ships as `incident_schema::SDL`;
//! - `crates/incident-client/src/generated/operations.rs`: the SDK's operations as cynic
//!   `QueryFragment`/`QueryVariables` structs, byte for byte what
//!   `incident codegen --documents crates/incident-client/graphql` writes.
//!
//! Output is deterministic: it depends only on the inputs, is sorted where order is free, and is
//! formatted by rustfmt.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result};
use incident_codegen::Documents;
pub use incident_codegen::GeneratedFile;

/// The project schema, relative to the workspace root.
pub const SCHEMA_PATH: &str = "schema/incident-manager.graphql";
/// incident-schema's copy of the schema, relative to the workspace root.
pub const SCHEMA_COPY_PATH: &str = "crates/incident-schema/incident-manager.graphql";
/// The operation documents' folder, relative to the workspace root.
pub const OPERATIONS_DIR: &str = "crates/incident-client/graphql";
/// The SDK's generated operations, relative to the workspace root.
pub const OPERATIONS_PATH: &str = "crates/incident-client/src/generated/operations.rs";
/// Where incident-schema's enums and inputs go, relative to the workspace root.
const SCHEMA_TYPES_DIR: &str = "crates/incident-schema/src/generated";

/// Generates every file from the schema and documents under `root`.
pub fn generate(root: &Path) -> Result<Vec<GeneratedFile>> {
    generate_from(root, &root.join(SCHEMA_PATH))
}

/// Generates every file, reading the schema from `schema_path` instead of the project schema.
pub fn generate_from(root: &Path, schema_path: &Path) -> Result<Vec<GeneratedFile>> {
    let sdl = std::fs::read_to_string(schema_path)
        .with_context(|| format!("reading {}", schema_path.display()))?;
    let mut files: Vec<GeneratedFile> = incident_codegen::schema_types(&sdl, SCHEMA_PATH)?
        .into_iter()
        .map(|file| GeneratedFile {
            path: Path::new(SCHEMA_TYPES_DIR).join(file.path),
            contents: file.contents,
        })
        .collect();
    let documents = Documents::read(root.join(OPERATIONS_DIR))?.with_label(OPERATIONS_DIR);
    files.push(GeneratedFile {
        path: PathBuf::from(OPERATIONS_PATH),
        contents: incident_codegen::module(&sdl, &documents)?,
    });
    // The copy must be byte-identical, and lives in the crate so it still builds once packaged.
    files.push(GeneratedFile {
        path: PathBuf::from(SCHEMA_COPY_PATH),
        contents: sdl,
    });
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
        .filter(|file| !incident_codegen::is_fresh(&root.join(&file.path), &file.contents))
        .map(|file| file.path.clone())
        .collect()
}

#[cfg(test)]
mod tests;
