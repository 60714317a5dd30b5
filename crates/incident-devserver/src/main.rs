//! `incident-devserver`: run the dev server, or mint a token for it.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use incident_devserver::DevServer;

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
    Serve {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8080")]
        addr: SocketAddr,
        /// Submit about RATE demo alerts a second.
        #[arg(long, value_name = "RATE")]
        demo_traffic: Option<f64>,
        /// HS256 secret for tokens.
        #[arg(
            long,
            env = "JWT_SECRET",
            hide_env_values = true,
            conflicts_with = "no_auth"
        )]
        jwt_secret: Option<String>,
        /// Accept requests without tokens.
        #[arg(long)]
        no_auth: bool,
        /// Seconds between HEARTBEAT updates on incidentUpdates.
        #[arg(long, default_value_t = 30)]
        heartbeat_secs: u64,
        /// Keep the data in this file across restarts (read at start, written after changes).
        #[arg(long, value_name = "FILE")]
        state: Option<std::path::PathBuf>,
        /// Serve https:// and wss:// with this certificate chain (PEM); needs --tls-key.
        #[arg(long, value_name = "PEM", requires = "tls_key")]
        tls_cert: Option<std::path::PathBuf>,
        /// The certificate's private key (PEM).
        #[arg(long, value_name = "PEM", requires = "tls_cert")]
        tls_key: Option<std::path::PathBuf>,
        /// Require client certificates signed by this CA (PEM): mutual TLS.
        #[arg(long, value_name = "PEM", requires = "tls_cert")]
        client_ca: Option<std::path::PathBuf>,
    },
    /// Print a token signed with the secret.
    Token {
        /// The token's subject.
        #[arg(long, default_value = "developer")]
        sub: String,
        /// How long it is valid: 30s, 15m, 1h, 2d.
        #[arg(long, default_value = "1h", value_parser = incident_devserver::parse_ttl)]
        ttl: Duration,
        /// HS256 secret for tokens.
        #[arg(long, env = "JWT_SECRET", hide_env_values = true)]
        jwt_secret: String,
    },
}

#[tokio::main]
async fn main() -> Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Token {
            sub,
            ttl,
            jwt_secret,
        } => {
            println!(
                "{}",
                incident_devserver::mint(jwt_secret.as_bytes(), &sub, ttl)
            );
            Ok(())
        }
        Command::Serve {
            addr,
            demo_traffic,
            jwt_secret,
            no_auth,
            heartbeat_secs,
            state,
            tls_cert,
            tls_key,
            client_ca,
        } => {
            tracing_subscriber::fmt()
                .with_env_filter(
                    tracing_subscriber::EnvFilter::try_from_env("LOG_LEVEL")
                        .unwrap_or_else(|_| "info".into()),
                )
                .with_writer(std::io::stderr)
                .init();
            let mut builder = DevServer::builder()
                .addr(addr)
                .heartbeat_interval(Duration::from_secs(heartbeat_secs.max(1)));
            match (jwt_secret, no_auth) {
                (_, true) => builder = builder.no_auth(),
                (Some(secret), false) => builder = builder.jwt_secret(secret),
                (None, false) => {
                    bail!("give --jwt-secret (or JWT_SECRET), or --no-auth for local play")
                }
            }
            if let Some(rate) = demo_traffic {
                builder = builder.demo_traffic(rate);
            }
            if let Some(state) = state {
                builder = builder.state_file(state);
            }
            if let (Some(cert), Some(key)) = (tls_cert, tls_key) {
                builder = builder.tls_files(cert, key);
            }
            if let Some(ca) = client_ca {
                builder = builder.client_ca_file(ca);
            }
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
