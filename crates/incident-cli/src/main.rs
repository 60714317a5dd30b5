//! `incident`: the command line for the Incident Manager.
//!
//! Exit codes: 0 success (including a clean Ctrl-C), 1 other failure (such as a `--checkpoint`
//! another watcher holds), 2 bad usage, 3 connection failure, 4 authentication failure, 5 a
//! caught-up stream could not catch up.

mod checkpoint_file;
mod cli;
mod codegen;
mod commands;
#[cfg(feature = "devserver")]
mod embedded;
mod exit;
mod global;
mod logging;
mod manual;
mod ops_http;
#[cfg(feature = "relay")]
mod relay;
mod render;
mod resumable;
mod schema_cmd;
mod watch;

use std::process::ExitCode;

use crate::cli::{Cli, Command};

#[tokio::main]
async fn main() -> ExitCode {
    let matches = cli::command_with_env_aliases(|name| std::env::var_os(name)).get_matches();
    let mut cli = match <Cli as clap::FromArgMatches>::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(error) => error.exit(),
    };
    cli.global.token_from_flag =
        matches.value_source("token") == Some(clap::parser::ValueSource::CommandLine);
    logging::init(&cli.global.log_level, cli.global.log_format);
    let result = match cli.command {
        Command::Watch(args) => watch::run(&cli.global, args).await,
        #[cfg(feature = "devserver")]
        Command::Demo(args) => embedded::demo(&cli.global, args).await,
        #[cfg(feature = "relay")]
        Command::Relay(args) => relay::run(&cli.global, args).await,
        Command::Alert(args) => commands::alert(&cli.global, args).await,
        Command::Incidents(args) => commands::incidents(&cli.global, args).await,
        Command::Codegen(args) => codegen::run(&args),
        Command::Schema(args) => match schema_cmd::run(&cli.global, args.command).await {
            Ok(true) => Ok(()),
            Ok(false) => return ExitCode::FAILURE,
            Err(error) => Err(error),
        },
        #[cfg(feature = "devserver")]
        Command::Serve(args) => commands::serve(args).await,
        #[cfg(feature = "devserver")]
        Command::Token(args) => commands::token(args),
        Command::Completions { shell } => manual::completions(shell),
        Command::Man { dir } => manual::man(dir.as_deref()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => exit::report(&error),
    }
}
