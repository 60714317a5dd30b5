//! The command line's shape.

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Watch Incident Manager streams, submit alerts, manage incidents, run the dev server.
#[derive(Debug, Parser)]
#[command(name = "incident", version, about)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

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

/// The environment names the seed clients and the `nats` CLI use, still honoured: each is read
/// when its `INCIDENT_*` name is not set. (Subcommand path, argument id, name, alias.)
pub const ENV_ALIASES: &[(&[&str], &str, &str, &str)] = &[
    (&[], "ws_url", "INCIDENT_WS_URL", "WS_URL"),
    (&[], "http_url", "INCIDENT_HTTP_URL", "HTTP_URL"),
    (&[], "token", "INCIDENT_TOKEN", "AUTH_TOKEN"),
    (&[], "log_level", "INCIDENT_LOG_LEVEL", "LOG_LEVEL"),
    (
        &["serve"],
        "jwt_secret",
        "INCIDENT_JWT_SECRET",
        "JWT_SECRET",
    ),
    (
        &["token", "mint"],
        "jwt_secret",
        "INCIDENT_JWT_SECRET",
        "JWT_SECRET",
    ),
    (&["relay"], "nats", "INCIDENT_NATS_URL", "NATS_URL"),
    (
        &["relay"],
        "nats_creds",
        "INCIDENT_NATS_CREDS",
        "NATS_CREDS",
    ),
    (&["relay"], "nats_nkey", "INCIDENT_NATS_NKEY", "NATS_NKEY"),
    (&["relay"], "nats_user", "INCIDENT_NATS_USER", "NATS_USER"),
    (
        &["relay"],
        "nats_password",
        "INCIDENT_NATS_PASSWORD",
        "NATS_PASSWORD",
    ),
    (
        &["relay"],
        "nats_token",
        "INCIDENT_NATS_TOKEN",
        "NATS_TOKEN",
    ),
    (
        &["relay"],
        "nats_ca_cert",
        "INCIDENT_NATS_CA_CERT",
        "NATS_CA_CERT",
    ),
    (
        &["relay"],
        "nats_client_cert",
        "INCIDENT_NATS_CLIENT_CERT",
        "NATS_CLIENT_CERT",
    ),
    (
        &["relay"],
        "nats_client_key",
        "INCIDENT_NATS_CLIENT_KEY",
        "NATS_CLIENT_KEY",
    ),
];

/// The command line, with each argument reading its alias instead of its `INCIDENT_*` name
/// when only the alias is set in `env` (so clap parses, requires and hides it as usual).
pub fn command_with_env_aliases(env: impl Fn(&str) -> Option<std::ffi::OsString>) -> clap::Command {
    let mut command = <Cli as clap::CommandFactory>::command();
    for (path, id, name, alias) in ENV_ALIASES {
        if env(name).is_some() || env(alias).is_none() {
            continue;
        }
        command = with_arg_env(command, path, id, alias);
    }
    command
}

fn with_arg_env(
    command: clap::Command,
    path: &[&str],
    id: &str,
    name: &'static str,
) -> clap::Command {
    match path.split_first() {
        None => command.mut_arg(id, |arg| arg.env(name)),
        Some((first, rest)) => {
            if command.find_subcommand(first).is_none() {
                // A subcommand left out of this build (a feature is off).
                return command;
            }
            command.mut_subcommand(*first, |sub| with_arg_env(sub, rest, id, name))
        }
    }
}

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

#[derive(Debug, Args)]
pub struct SchemaArgs {
    #[command(subcommand)]
    pub command: SchemaCommand,
}

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

/// A subscription to watch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StreamKind {
    /// P0 and P1 incidents as they open.
    Critical,
    /// Incidents as they open.
    New,
    /// Every change to incidents, and heartbeats.
    Updates,
    /// Incident state changes.
    StateChanges,
    /// Alerts as they arrive.
    Alerts,
}

#[derive(Debug, Args)]
pub struct WatchArgs {
    /// What to watch (default: new).
    #[arg(value_enum)]
    pub kinds: Vec<StreamKind>,
    /// Serve `GET /metrics` (Prometheus) and `GET /healthz` (200 while connected, else 503) on
    /// this address, such as 127.0.0.1:9464 (port 0 picks one; the address is logged on stderr).
    #[arg(long, value_name = "ADDR")]
    pub metrics_addr: Option<std::net::SocketAddr>,
    /// If the server is not reachable yet, keep trying (with backoff, logging each attempt)
    /// instead of exiting: for a watcher started before its server.
    #[arg(long)]
    pub wait: bool,
    /// Give up after this many failed connection attempts in a row (exit 3). Default: retry
    /// forever, 200 ms doubling to 30 s between attempts, each one logged.
    #[arg(long, value_name = "N")]
    pub max_attempts: Option<u32>,
    /// Resume `new` or `critical` from this file and record progress in it after every event
    /// printed (written atomically): at-least-once across crashes, at most one duplicate each.
    #[arg(long, value_name = "FILE")]
    pub checkpoint: Option<std::path::PathBuf>,
    #[command(flatten)]
    pub filters: Filters,
    #[command(flatten)]
    pub output: Output,
}

/// What `incident relay` forwards.
#[cfg(feature = "relay")]
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RelayKind {
    /// Incidents as they open (optionally only `--severity`).
    New,
    /// P0 and P1 incidents as they open.
    Critical,
}

#[cfg(feature = "relay")]
#[derive(Debug, Args)]
pub struct RelayArgs {
    /// What to forward.
    #[arg(value_enum)]
    pub kind: RelayKind,
    /// Only these severities (new), comma-separated: P0,P1.
    #[arg(long = "severity", value_delimiter = ',')]
    pub severities: Vec<String>,
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
#[cfg(feature = "relay")]
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

#[derive(Debug, Args)]
pub struct Filters {
    /// Only these severities (new, updates), comma-separated: P0,P1.
    #[arg(long = "severity", value_delimiter = ',')]
    pub severities: Vec<String>,
    /// Only this incident (updates, state-changes); repeatable.
    #[arg(long = "incident")]
    pub incidents: Vec<String>,
    /// Only active incidents (updates).
    #[arg(long)]
    pub active_only: bool,
    /// Only alerts from these sources (alerts), comma-separated or repeated.
    #[arg(long = "source", value_delimiter = ',')]
    pub sources: Vec<String>,
}

#[derive(Debug, Args)]
pub struct Output {
    /// One JSON object per line instead of human-readable lines.
    #[arg(long)]
    pub json: bool,
    /// Stop after this many events (default: run until interrupted).
    #[arg(long)]
    pub limit: Option<usize>,
}

#[cfg(feature = "devserver")]
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Demo alerts per second.
    #[arg(long, default_value_t = 2.0)]
    pub rate: f64,
    #[command(flatten)]
    pub output: Output,
}

#[derive(Debug, Args)]
pub struct AlertArgs {
    #[command(subcommand)]
    pub command: AlertCommand,
}

#[derive(Debug, Subcommand)]
pub enum AlertCommand {
    /// Submit one alert to POST /v1/alerts.
    Submit(SubmitArgs),
}

#[derive(Debug, Args)]
pub struct SubmitArgs {
    /// 1 to 500 characters.
    #[arg(long)]
    pub title: String,
    /// P0 to P4.
    #[arg(long)]
    pub severity: String,
    /// infrastructure, application, security, data, performance, availability, compliance, unknown.
    #[arg(long = "type")]
    pub alert_type: String,
    /// The monitoring source.
    #[arg(long)]
    pub source: String,
    /// Free text.
    #[arg(long, default_value = "")]
    pub description: String,
    /// A label, key=value; repeatable.
    #[arg(long = "label")]
    pub labels: Vec<String>,
    /// An affected service; repeatable.
    #[arg(long = "service")]
    pub services: Vec<String>,
    /// A runbook link.
    #[arg(long)]
    pub runbook: Option<String>,
    /// The sender's own id for the alert.
    #[arg(long)]
    pub external_id: Option<String>,
    /// Print the receipt as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct IncidentsArgs {
    #[command(subcommand)]
    pub command: IncidentsCommand,
}

#[derive(Debug, Subcommand)]
pub enum IncidentsCommand {
    /// List incidents, newest first.
    List {
        /// Only these severities, comma-separated.
        #[arg(long = "severity", value_delimiter = ',')]
        severities: Vec<String>,
        /// Only these states, comma-separated.
        #[arg(long = "state", value_delimiter = ',')]
        states: Vec<String>,
        /// Only active incidents.
        #[arg(long)]
        active_only: bool,
        /// Page number, from 0.
        #[arg(long, default_value_t = 0)]
        page: i32,
        /// Incidents per page, 1 to 100.
        #[arg(long, default_value_t = 20)]
        page_size: i32,
        /// Every incident, oldest first, paging through them all (with --json, one object per
        /// line): for reconciling with a copy such as a relay's stream.
        #[arg(long, conflicts_with = "page")]
        all: bool,
        /// JSON instead of lines.
        #[arg(long)]
        json: bool,
    },
    /// Show one incident.
    Get {
        /// The incident's id.
        id: String,
        /// JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Resolve an incident.
    Resolve {
        /// The incident's id.
        id: String,
        /// What was done.
        #[arg(long)]
        notes: String,
        /// automated, manual or auto-assisted-manual.
        #[arg(long, default_value = "manual")]
        method: String,
        /// Why it happened.
        #[arg(long)]
        root_cause: Option<String>,
    },
    /// Add a comment to an incident.
    Comment {
        /// The incident's id.
        id: String,
        /// The comment.
        text: String,
    },
}

/// `incident serve`'s arguments, defined once with the dev server (`incident-devserver serve`
/// takes the same).
#[cfg(feature = "devserver")]
pub use incident_devserver::args::ServeArgs;

#[cfg(feature = "devserver")]
#[derive(Debug, Args)]
pub struct TokenArgs {
    #[command(subcommand)]
    pub command: TokenCommand,
}

#[cfg(feature = "devserver")]
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Print a token signed with the secret.
    Mint(incident_devserver::args::MintArgs),
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
