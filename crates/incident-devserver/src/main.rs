//! `incident-devserver`: run the dev server, or mint a token for it.

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use incident_devserver::args::{MintArgs, ServeArgs};

#[derive(Parser)]
#[command(
    name = "incident-devserver",
    version,
    about = "A real Incident Manager server for development and tests"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve GraphQL (HTTP and WebSocket), /health and /v1/alerts.
    Serve(ServeArgs),
    /// Print a token signed with the secret.
    Token(MintArgs),
}

#[tokio::main]
async fn main() -> Result<()> {
    let mut command = <Cli as clap::CommandFactory>::command();
    // The secret's older name still works when INCIDENT_JWT_SECRET is not set.
    if std::env::var_os("INCIDENT_JWT_SECRET").is_none() && std::env::var_os("JWT_SECRET").is_some()
    {
        for sub in ["serve", "token"] {
            command =
                command.mut_subcommand(sub, |c| c.mut_arg("jwt_secret", |a| a.env("JWT_SECRET")));
        }
    }
    let cli = <Cli as clap::FromArgMatches>::from_arg_matches(&command.get_matches())
        .unwrap_or_else(|error| error.exit());
    match cli.command {
        Command::Token(args) => {
            println!("{}", args.mint());
            Ok(())
        }
        Command::Serve(args) => {
            let level = std::env::var("INCIDENT_LOG_LEVEL")
                .or_else(|_| std::env::var("LOG_LEVEL"))
                .unwrap_or_else(|_| "info".into());
            tracing_subscriber::fmt()
                .with_env_filter(
                    tracing_subscriber::EnvFilter::try_new(level).unwrap_or_else(|_| "info".into()),
                )
                .with_writer(std::io::stderr)
                .init();
            let builder = args.builder().map_err(anyhow::Error::msg)?;
            let server = builder.start().await.context("starting the dev server")?;
            eprintln!(
                "serving GraphQL on {} and {}",
                server.http_url(),
                server.ws_url()
            );
            shutdown_signal().await;
            eprintln!("shutting down");
            server.shutdown().await;
            Ok(())
        }
    }
}

async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
                .expect("a SIGTERM handler");
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = interrupt.await;
}
