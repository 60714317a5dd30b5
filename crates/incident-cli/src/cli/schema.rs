//! `incident schema` and `incident codegen`: the schema workflow, as `cargo xtask` runs it.

use clap::{Args, Subcommand};

/// `incident schema`'s subcommand.
#[derive(Debug, Args)]
pub struct SchemaArgs {
    #[command(subcommand)]
    pub command: SchemaCommand,
}

/// What `incident schema` does.
#[derive(Debug, Subcommand)]
pub enum SchemaCommand {
    /// Fetch the SDL a server serves (introspection, else `_service`, rebuilding a federation
    /// export) and write it normalized.
    Pull {
        /// The server's HTTP GraphQL endpoint, such as http://127.0.0.1:8080/graphql.
        #[arg(long)]
        url: String,
        /// An extra request header, `Name: value`; repeatable.
        #[arg(long = "header", value_name = "NAME: VALUE")]
        headers: Vec<String>,
        /// Where to write it (default: stdout).
        #[arg(long, value_name = "FILE")]
        out: Option<std::path::PathBuf>,
    },
    /// Classify every change from OLD to NEW; exit 1 if any is breaking.
    Diff {
        /// The SDL file before the change.
        old: std::path::PathBuf,
        /// The SDL file after the change.
        new: std::path::PathBuf,
        /// Compare type systems only, ignoring descriptions.
        #[arg(long)]
        ignore_descriptions: bool,
        /// One JSON object, for CI tools.
        #[arg(long)]
        json: bool,
    },
    /// The diff, plus which operations in DIR each breaking or dangerous change affects; exit 1
    /// only when a breaking change affects one.
    Check {
        /// The folder of `.graphql` documents.
        #[arg(long, value_name = "DIR")]
        documents: std::path::PathBuf,
        /// The SDL file before the change.
        old: std::path::PathBuf,
        /// The SDL file after the change.
        new: std::path::PathBuf,
        /// One JSON object, for CI tools.
        #[arg(long)]
        json: bool,
    },
}

/// `incident codegen`: where the documents are and where the module goes.
#[derive(Debug, Args)]
pub struct CodegenArgs {
    /// The folder of `.graphql` documents (named operations and fragments).
    #[arg(long, value_name = "DIR")]
    pub documents: std::path::PathBuf,
    /// The Rust module to write.
    #[arg(long, value_name = "FILE")]
    pub out: std::path::PathBuf,
    /// Write nothing; exit 1 if FILE is not what generation would write.
    #[arg(long)]
    pub check: bool,
    /// The schema's SDL (default: the schema this binary was built with).
    #[arg(long, value_name = "FILE")]
    pub schema: Option<std::path::PathBuf>,
}
