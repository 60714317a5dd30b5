//! `incident alert` and `incident incidents`: the one-shot commands against a server.

use clap::{Args, Subcommand};
use incident_client::Severity;

/// `incident alert`'s subcommand.
#[derive(Debug, Args)]
pub struct AlertArgs {
    #[command(subcommand)]
    pub command: AlertCommand,
}

/// What `incident alert` does.
#[derive(Debug, Subcommand)]
pub enum AlertCommand {
    /// Submit one alert to POST /v1/alerts.
    Submit(SubmitArgs),
}

/// The alert `incident alert submit` sends.
#[derive(Debug, Args)]
pub struct SubmitArgs {
    /// 1 to 500 characters.
    #[arg(long)]
    pub title: String,
    /// P0 to P4.
    #[arg(long, value_parser = crate::global::severity)]
    pub severity: Severity,
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

/// `incident incidents`' subcommand.
#[derive(Debug, Args)]
pub struct IncidentsArgs {
    #[command(subcommand)]
    pub command: IncidentsCommand,
}

/// What `incident incidents` does.
#[derive(Debug, Subcommand)]
pub enum IncidentsCommand {
    /// List incidents, newest first.
    List {
        /// Only these severities, comma-separated.
        #[arg(long = "severity", value_delimiter = ',', value_parser = crate::global::severity)]
        severities: Vec<Severity>,
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
