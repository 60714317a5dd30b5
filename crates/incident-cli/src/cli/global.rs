//! The settings every command shares: where the server is, how to authenticate and trust it,
//! and how to log. `crate::global` turns them into a client.

use clap::{Args, ValueEnum};

/// Connection settings, shared by every command that talks to a server.
#[derive(Debug, Args)]
pub struct Global {
    /// WebSocket endpoint. Without it, `watch` starts an embedded dev server (when built with
    /// the `devserver` feature, the default). Also read from WS_URL.
    #[arg(long, global = true, env = "INCIDENT_WS_URL")]
    pub ws_url: Option<String>,
    /// HTTP GraphQL endpoint (default: derived from the WebSocket URL). Also read from HTTP_URL.
    #[arg(long, global = true, env = "INCIDENT_HTTP_URL")]
    pub http_url: Option<String>,
    /// JWT to present. Also read from AUTH_TOKEN.
    #[arg(long, global = true, env = "INCIDENT_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Read the JWT from this file on every connect and after a rejection (a Kubernetes
    /// projected token, a file a sidecar rewrites): connections are rotated before each token
    /// expires. Takes precedence over INCIDENT_TOKEN; not with --token or --token-command.
    #[arg(long, global = true, value_name = "FILE", env = "INCIDENT_TOKEN_FILE")]
    pub token_file: Option<std::path::PathBuf>,
    /// Run this shell command for a token: it prints the JWT, or JSON `{"token": "...",
    /// "expiresAt": "<RFC 3339>"}`; cached until shortly before it expires. Takes precedence
    /// over INCIDENT_TOKEN; not with --token or --token-file.
    #[arg(
        long,
        global = true,
        value_name = "CMD",
        env = "INCIDENT_TOKEN_COMMAND",
        hide_env_values = true
    )]
    pub token_command: Option<String>,
    /// How long a --token-command may run before it counts as failed.
    #[arg(
        long,
        global = true,
        value_name = "DURATION",
        default_value = "10s",
        env = "INCIDENT_TOKEN_TIMEOUT",
        value_parser = parse_duration
    )]
    pub token_timeout: std::time::Duration,
    /// Whether --token came on the command line (not from the environment): filled in after
    /// parsing.
    #[arg(skip)]
    pub token_from_flag: bool,
    /// Also trust this CA certificate (PEM) for wss:// and https://, such as a private CA.
    #[arg(long, global = true, value_name = "FILE", env = "INCIDENT_CA_CERT")]
    pub ca_cert: Option<std::path::PathBuf>,
    /// Trust the system's root certificates (SSL_CERT_FILE, SSL_CERT_DIR) instead of the
    /// built-in web roots.
    #[arg(long, global = true)]
    pub system_roots: bool,
    /// Present this client certificate (PEM) for mutual TLS; needs --client-key.
    #[arg(
        long,
        global = true,
        value_name = "FILE",
        env = "INCIDENT_CLIENT_CERT",
        requires = "client_key"
    )]
    pub client_cert: Option<std::path::PathBuf>,
    /// The client certificate's private key (PEM).
    #[arg(
        long,
        global = true,
        value_name = "FILE",
        env = "INCIDENT_CLIENT_KEY",
        requires = "client_cert"
    )]
    pub client_key: Option<std::path::PathBuf>,
    /// Log filter for stderr: error, warn, info, debug, trace (or a tracing filter such as
    /// `info,incident_client=debug`). Also read from LOG_LEVEL.
    #[arg(
        long,
        global = true,
        env = "INCIDENT_LOG_LEVEL",
        default_value = "info"
    )]
    pub log_level: String,
    /// How stderr logs are written: lines for people, or one JSON object per line for log
    /// shippers (messages, errors and hints alike).
    #[arg(
        long,
        global = true,
        value_enum,
        env = "INCIDENT_LOG_FORMAT",
        default_value = "text"
    )]
    pub log_format: LogFormat,
}

/// The format of stderr logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines (colored on a terminal).
    Text,
    /// One JSON object per line (tracing-subscriber's JSON format).
    Json,
}

/// A duration such as `500ms`, `10s`, `3m`, `1h`.
pub fn parse_duration(text: &str) -> Result<std::time::Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration such as 500ms, 10s or 1h"))?;
    let millis = match unit {
        "ms" => number,
        "s" | "" => number * 1_000,
        "m" => number * 60_000,
        "h" => number * 3_600_000,
        _ => {
            return Err(format!(
                "{text:?} is not a duration such as 500ms, 10s or 1h"
            ));
        }
    };
    Ok(std::time::Duration::from_millis(millis))
}
