//! `incident serve` and `incident token`: the dev server's commands (feature `devserver`).

use clap::{Args, Subcommand};

/// `incident serve`'s arguments, defined once with the dev server (`incident-devserver serve`
/// takes the same).
pub use incident_devserver::args::ServeArgs;

/// `incident token`'s subcommand.
#[derive(Debug, Args)]
pub struct TokenArgs {
    #[command(subcommand)]
    pub command: TokenCommand,
}

/// What `incident token` does.
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Print a token signed with the secret.
    Mint(incident_devserver::args::MintArgs),
}
