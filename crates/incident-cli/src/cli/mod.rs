//! The command line's shape: the clap definition the parser, the completions and the manual
//! pages all come from.
//!
//! One file per concept: the connection settings every command shares ([`global`]), the
//! `INCIDENT_*` names' aliases ([`mod@env`]), `watch` and `demo` ([`watch`]), `relay` ([`relay`]),
//! `alert` and `incidents` ([`incidents`]), `schema` and `codegen` ([`schema`]), `serve` and
//! `token` ([`devserver`]).

use clap::{Parser, Subcommand};

#[cfg(feature = "devserver")]
mod devserver;
mod env;
mod global;
mod incidents;
#[cfg(feature = "relay")]
mod relay;
mod schema;
mod watch;

#[cfg(feature = "devserver")]
pub use devserver::{ServeArgs, TokenArgs, TokenCommand};
pub use env::command_with_env_aliases;
pub use global::{Global, LogFormat};
pub use incidents::{AlertArgs, AlertCommand, IncidentsArgs, IncidentsCommand};
#[cfg(feature = "relay")]
pub use relay::{NatsAuth, RelayArgs, RelayKind};
pub use schema::{CodegenArgs, SchemaArgs, SchemaCommand};
#[cfg(feature = "devserver")]
pub use watch::{DemoArgs, Filters};
pub use watch::{Output, StreamKind, WatchArgs};

/// Watch Incident Manager streams, submit alerts, manage incidents, run the dev server.
#[derive(Debug, Parser)]
#[command(name = "incident", version, about)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands, in the order `incident --help` lists them.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Stream events as they happen (several kinds at once share one connection).
    Watch(WatchArgs),
    /// Start an embedded dev server with demo traffic and watch it.
    #[cfg(feature = "devserver")]
    Demo(DemoArgs),
    /// Forward new or critical incidents into NATS JetStream, exactly once per incident.
    #[cfg(feature = "relay")]
    Relay(RelayArgs),
    /// Submit alerts over REST.
    Alert(AlertArgs),
    /// List, show, resolve and comment on incidents over GraphQL.
    Incidents(IncidentsArgs),
    /// Generate typed Rust for your own GraphQL documents.
    Codegen(CodegenArgs),
    /// Pull a server's schema, diff two schemas, or check which of your operations a change breaks.
    Schema(SchemaArgs),
    /// Run the dev server.
    #[cfg(feature = "devserver")]
    Serve(ServeArgs),
    /// Mint tokens for a dev server.
    #[cfg(feature = "devserver")]
    Token(TokenArgs),
    /// Print a shell completion script: `source <(incident completions bash)`.
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff), or write a page per command into a folder.
    Man {
        /// Write `incident.1` and one page per subcommand here instead of printing `incident.1`.
        #[arg(long, value_name = "DIR")]
        dir: Option<std::path::PathBuf>,
    },
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, Parser};
    use incident_client::Severity;

    use super::*;

    /// `incident watch ARGS` as clap parses it, or its error message.
    fn watch(args: &[&str]) -> Result<WatchArgs, String> {
        let line = ["incident", "watch"].iter().chain(args);
        match Cli::try_parse_from(line)
            .map_err(|e| e.to_string())?
            .command
        {
            Command::Watch(args) => Ok(args),
            other => panic!("not watch: {other:?}"),
        }
    }

    #[test]
    fn the_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn severities_are_comma_separated_or_repeated_and_checked_while_parsing() {
        let given = |args: &[&str]| watch(args).unwrap().filters.severities;
        assert_eq!(given(&["new"]), []);
        assert_eq!(
            given(&["new", "--severity", "P0,P1"]),
            [Severity::P0, Severity::P1]
        );
        assert_eq!(
            given(&["--severity", "P2", "--severity", "p3"]),
            [Severity::P2, Severity::P3]
        );
        let error = watch(&["new", "--severity", "P0,P9"]).unwrap_err();
        assert!(error.contains("\"P9\" is not a Severity"), "{error}");
    }
}
