//! `incident codegen`: typed Rust for a folder of GraphQL documents, by the same library call
//! `cargo xtask codegen` makes for the SDK's own operations.

use anyhow::{Context, Result, bail};
use incident_codegen::Documents;

use crate::cli::CodegenArgs;
use crate::exit::UsageError;

/// Writes (or with `--check` compares) the module for `--documents` at `--out`.
pub fn run(args: &CodegenArgs) -> Result<()> {
    let sdl = match &args.schema {
        Some(path) => std::fs::read_to_string(path)
            .with_context(|| format!("reading the schema {}", path.display()))?,
        None => incident_client::SDL.to_owned(),
    };
    let documents = Documents::read(&args.documents).map_err(|e| UsageError(e.to_string()))?;
    let module = incident_codegen::module(&sdl, &documents)?;
    if args.check {
        if incident_codegen::is_fresh(&args.out, &module) {
            crate::logging::status(&format!("{} is up to date", args.out.display()));
            return Ok(());
        }
        bail!(Stale(format!(
            "{} is stale: run `incident codegen --documents {} --out {}`",
            args.out.display(),
            args.documents.display(),
            args.out.display()
        )));
    }
    if let Some(parent) = args.out.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }
    std::fs::write(&args.out, &module)
        .with_context(|| format!("writing {}", args.out.display()))?;
    crate::logging::status(&format!(
        "wrote {} ({} document(s))",
        args.out.display(),
        documents.names().count()
    ));
    Ok(())
}

/// `--check` found the output out of date (exit 1).
#[derive(Debug)]
pub struct Stale(pub String);

impl std::fmt::Display for Stale {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Stale {}
