//! Project automation, reached as `cargo xtask ...` (see `.cargo/config.toml`).
//!
//! - `cargo xtask codegen [--check]`: regenerate the committed Rust in `src/generated/` folders from
//!   `schema/incident-manager.graphql` and `crates/incident-client/graphql/*.graphql`.
//! - `cargo xtask schema pull --url URL [--header 'Name: value']...`: refresh the schema from a server.
//! - `cargo xtask schema diff OLD NEW`: classify the changes between two SDL files.
//! - `cargo xtask schema check [--documents DIR] OLD NEW`: which operations those changes affect.
//! - `cargo xtask bench [--quick] [--current-thread] [--only LIST]`: run the benchmarks.

mod codegen;
mod schema;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "cargo xtask",
    about = "Automation for the Incident Manager SDK"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Regenerate committed code from the schema and the operation documents.
    Codegen {
        /// Change nothing; exit 1 and name every file that is out of date.
        #[arg(long)]
        check: bool,
    },
    /// Run the benchmarks (release build) and print a Markdown table of results.
    Bench {
        /// Small sizes on a debug build: checks the harness runs (CI uses this), judges nothing.
        #[arg(long)]
        quick: bool,
        /// Run the client side on tokio's current-thread runtime instead of the multi-thread one.
        #[arg(long)]
        current_thread: bool,
        /// Run only these measurements: throughput, latency, memory, reconnect, fanout.
        #[arg(long, value_delimiter = ',')]
        only: Vec<String>,
    },
    /// Work with the schema file.
    Schema {
        #[command(subcommand)]
        command: SchemaCommand,
    },
}

#[derive(Subcommand)]
enum SchemaCommand {
    /// Fetch the SDL from a running server, write it normalized, show what changed, regenerate code.
    Pull {
        /// The server's HTTP GraphQL endpoint, e.g. http://127.0.0.1:8080/graphql.
        #[arg(long)]
        url: String,
        /// An extra request header, `Name: value`; repeatable.
        #[arg(long = "header", value_name = "NAME: VALUE")]
        headers: Vec<String>,
        /// Where to write the SDL (default: the project schema).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Write the schema but do not regenerate code.
        #[arg(long)]
        no_codegen: bool,
    },
    /// Classify every change from OLD to NEW; exit 1 if any is breaking.
    Diff {
        /// The SDL file before the change.
        old: PathBuf,
        /// The SDL file after the change.
        new: PathBuf,
        /// Compare type systems only, ignoring descriptions.
        #[arg(long)]
        ignore_descriptions: bool,
        /// Exit 1 on any change, not only breaking ones.
        #[arg(long)]
        strict: bool,
    },
    /// The diff, plus which operations each breaking or dangerous change affects; exit 1 only
    /// when a breaking change affects one.
    Check {
        /// The documents to check (default: the SDK's own operations).
        #[arg(long, value_name = "DIR")]
        documents: Option<PathBuf>,
        /// The SDL file before the change.
        old: PathBuf,
        /// The SDL file after the change.
        new: PathBuf,
        /// One JSON object, for CI tools.
        #[arg(long)]
        json: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Codegen { check } => codegen::run(&project_root(), check),
        Command::Bench {
            quick,
            current_thread,
            only,
        } => bench(quick, current_thread, &only),
        Command::Schema { command } => match command {
            SchemaCommand::Pull {
                url,
                headers,
                out,
                no_codegen,
            } => schema::pull(&project_root(), &url, &headers, out.as_deref(), !no_codegen),
            SchemaCommand::Diff {
                old,
                new,
                ignore_descriptions,
                strict,
            } => schema::diff_files(&old, &new, ignore_descriptions, strict),
            SchemaCommand::Check {
                documents,
                old,
                new,
                json,
            } => schema::check_files(&project_root(), documents.as_deref(), &old, &new, json),
        },
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// Runs `incident-bench`, a release build unless `quick`.
fn bench(quick: bool, current_thread: bool, only: &[String]) -> anyhow::Result<ExitCode> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
    let mut command = std::process::Command::new(cargo);
    command
        .current_dir(project_root())
        .args(["run", "--package", "incident-bench"]);
    if !quick {
        command.arg("--release");
    }
    command.arg("--");
    if quick {
        command.arg("--quick");
    }
    if current_thread {
        command.arg("--current-thread");
    }
    if !only.is_empty() {
        command.args(["--only", &only.join(",")]);
    }
    let status = command.status()?;
    Ok(if status.success() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// The workspace root: the folder above this crate's manifest.
fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives one level below the workspace root")
        .to_path_buf()
}
