//! `incident relay`: what it forwards, where to, and NATS credentials as the `nats` CLI takes them.

use clap::{Args, ValueEnum};
use incident_client::Severity;

/// What `incident relay` forwards.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RelayKind {
    /// Incidents as they open (optionally only `--severity`).
    New,
    /// P0 and P1 incidents as they open.
    Critical,
}

/// `incident relay`: which stream, into which NATS stream and subject, and how to keep going.
#[derive(Debug, Args)]
pub struct RelayArgs {
    /// What to forward.
    #[arg(value_enum)]
    pub kind: RelayKind,
    /// Only these severities (new), comma-separated: P0,P1.
    #[arg(long = "severity", value_delimiter = ',', value_parser = crate::global::severity)]
    pub severities: Vec<Severity>,
    /// The NATS server(s), such as nats://127.0.0.1:4222 (comma-separated for a cluster). Also
    /// read from NATS_URL.
    #[arg(
        long,
        env = "INCIDENT_NATS_URL",
        value_name = "URL",
        hide_env_values = true
    )]
    pub nats: String,
    /// The JetStream stream; created when missing, with SUBJECT and a 10-minute duplicate window.
    #[arg(long, value_name = "NAME")]
    pub stream: String,
    /// The subject each incident is published to (the stream's subjects must cover it).
    #[arg(long, value_name = "SUBJECT")]
    pub subject: String,
    /// Serve `GET /metrics` and `GET /healthz` on this address, as `watch` does.
    #[arg(long, value_name = "ADDR")]
    pub metrics_addr: Option<std::net::SocketAddr>,
    /// If the Incident Manager is not reachable yet, keep trying instead of exiting.
    #[arg(long)]
    pub wait: bool,
    /// Give up after this many failed connection attempts in a row (exit 3). Default: retry
    /// forever, 200 ms doubling to 30 s between attempts, each one logged.
    #[arg(long, value_name = "N")]
    pub max_attempts: Option<u32>,
    #[command(flatten)]
    pub nats_auth: NatsAuth,
}

/// How `incident relay` authenticates to NATS, as the `nats` CLI takes it (its `NATS_*`
/// environment names are read too).
#[derive(Debug, Args)]
pub struct NatsAuth {
    /// A NATS credentials file (user JWT and nkey seed, as `nsc` writes it).
    #[arg(long, value_name = "FILE", env = "INCIDENT_NATS_CREDS")]
    pub nats_creds: Option<std::path::PathBuf>,
    /// A file holding a user nkey seed (`SU...`).
    #[arg(long, value_name = "FILE", env = "INCIDENT_NATS_NKEY")]
    pub nats_nkey: Option<std::path::PathBuf>,
    /// A NATS user name (with --nats-password).
    #[arg(
        long,
        value_name = "USER",
        env = "INCIDENT_NATS_USER",
        requires = "nats_password"
    )]
    pub nats_user: Option<String>,
    /// The NATS user's password.
    #[arg(
        long,
        value_name = "PASSWORD",
        env = "INCIDENT_NATS_PASSWORD",
        hide_env_values = true,
        requires = "nats_user"
    )]
    pub nats_password: Option<String>,
    /// A NATS authentication token.
    #[arg(
        long,
        value_name = "TOKEN",
        env = "INCIDENT_NATS_TOKEN",
        hide_env_values = true
    )]
    pub nats_token: Option<String>,
    /// Trust this CA for the NATS server's certificate (and require TLS).
    #[arg(long, value_name = "FILE", env = "INCIDENT_NATS_CA_CERT")]
    pub nats_ca_cert: Option<std::path::PathBuf>,
    /// A client certificate for NATS mutual TLS (with --nats-client-key).
    #[arg(
        long,
        value_name = "FILE",
        env = "INCIDENT_NATS_CLIENT_CERT",
        requires = "nats_client_key"
    )]
    pub nats_client_cert: Option<std::path::PathBuf>,
    /// The client certificate's private key.
    #[arg(
        long,
        value_name = "FILE",
        env = "INCIDENT_NATS_CLIENT_KEY",
        requires = "nats_client_cert"
    )]
    pub nats_client_key: Option<std::path::PathBuf>,
}
