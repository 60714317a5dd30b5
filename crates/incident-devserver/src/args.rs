//! The command-line arguments of `serve` and `token mint`, defined once for both binaries that
//! run the dev server: `incident serve` / `incident token mint` and `incident-devserver serve` /
//! `incident-devserver token`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use crate::auth::{mint, parse_ttl};
use crate::handle::{DevServer, DevServerBuilder};

/// `serve`: the dev server in the foreground.
#[derive(Debug, Clone, Args)]
#[non_exhaustive]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub addr: SocketAddr,
    /// Submit about RATE demo alerts a second.
    #[arg(long, value_name = "RATE")]
    pub demo_traffic: Option<f64>,
    /// HS256 secret for tokens. Also read from JWT_SECRET.
    #[arg(
        long,
        env = "INCIDENT_JWT_SECRET",
        hide_env_values = true,
        conflicts_with = "no_auth"
    )]
    pub jwt_secret: Option<String>,
    /// Accept requests without tokens.
    #[arg(long)]
    pub no_auth: bool,
    /// Seconds between HEARTBEAT updates on incidentUpdates.
    #[arg(long, default_value_t = 30, value_name = "SECONDS")]
    pub heartbeat_secs: u64,
    /// Keep the data in this file across restarts (read at start, written after changes).
    #[arg(long, value_name = "FILE")]
    pub state: Option<PathBuf>,
    /// Serve https:// and wss:// with this certificate chain (PEM); needs --tls-key.
    #[arg(long, value_name = "PEM", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The certificate's private key (PEM).
    #[arg(long, value_name = "PEM", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Require client certificates signed by this CA (PEM): mutual TLS.
    #[arg(long, value_name = "PEM", requires = "tls_cert")]
    pub client_ca: Option<PathBuf>,
}

impl ServeArgs {
    /// The builder these arguments describe; an error (for the usage message) when neither a
    /// secret nor `--no-auth` was given.
    pub fn builder(&self) -> Result<DevServerBuilder, String> {
        let mut builder = DevServer::builder()
            .addr(self.addr)
            .heartbeat_interval(Duration::from_secs(self.heartbeat_secs.max(1)));
        builder = match (&self.jwt_secret, self.no_auth) {
            (_, true) => builder.no_auth(),
            (Some(secret), false) => builder.jwt_secret(secret.clone()),
            (None, false) => {
                return Err(
                    "give --jwt-secret (or INCIDENT_JWT_SECRET, JWT_SECRET), or --no-auth for local play"
                        .into(),
                );
            }
        };
        if let Some(rate) = self.demo_traffic {
            builder = builder.demo_traffic(rate);
        }
        if let Some(state) = &self.state {
            builder = builder.state_file(state.clone());
        }
        if let (Some(cert), Some(key)) = (&self.tls_cert, &self.tls_key) {
            builder = builder.tls_files(cert.clone(), key.clone());
        }
        if let Some(ca) = &self.client_ca {
            builder = builder.client_ca_file(ca.clone());
        }
        Ok(builder)
    }
}

/// `token mint`: a token signed with the secret.
#[derive(Debug, Clone, Args)]
#[non_exhaustive]
pub struct MintArgs {
    /// The token's subject.
    #[arg(long, default_value = "developer")]
    pub sub: String,
    /// How long it is valid: 30s, 15m, 1h, 2d.
    #[arg(long, default_value = "1h", value_parser = parse_ttl)]
    pub ttl: Duration,
    /// HS256 secret. Also read from JWT_SECRET.
    #[arg(long, env = "INCIDENT_JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: String,
}

impl MintArgs {
    /// The signed token.
    pub fn mint(&self) -> String {
        mint(self.jwt_secret.as_bytes(), &self.sub, self.ttl)
    }
}
