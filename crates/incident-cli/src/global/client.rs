//! The client a command talks through, made from the global settings.

use anyhow::{Context, Result};
use incident_client::{IncidentClient, IncidentClientBuilder, ReconnectPolicy};

use super::{read_pem, token_provider};
use crate::cli::Global;
use crate::exit::UsageError;

/// A client for `url` with the global settings; with `wait`, it waits for a server that is not
/// up yet; `policy` is how it reconnects (the library's default: 10 attempts).
pub async fn connect(
    global: &Global,
    url: &str,
    wait: bool,
    policy: Option<ReconnectPolicy>,
) -> Result<IncidentClient> {
    let mut builder = builder(global, url)?.wait_for_server(wait);
    if let Some(policy) = policy {
        builder = builder.reconnect(policy);
    }
    builder
        .connect()
        .await
        .with_context(|| format!("connecting to {url}"))
}

/// A builder for `url` with the global settings (token source, HTTP URL, TLS).
pub fn builder(global: &Global, url: &str) -> Result<IncidentClientBuilder> {
    let mut builder = IncidentClient::builder(url).token_timeout(global.token_timeout);
    if let Some(provider) = token_provider(global)? {
        builder = builder.token_provider(provider);
    }
    if let Some(http) = &global.http_url {
        builder = builder.http_url(http);
    }
    if global.system_roots {
        builder = builder.tls_system_roots();
    }
    if let Some(path) = &global.ca_cert {
        builder = builder.add_root_certificate_pem(read_pem(path, "--ca-cert")?);
    }
    if let (Some(cert), Some(key)) = (&global.client_cert, &global.client_key) {
        builder = builder.client_identity_pem(
            read_pem(cert, "--client-cert")?,
            read_pem(key, "--client-key")?,
        );
    }
    Ok(builder)
}

/// How long-running commands (`watch`, `relay`) reconnect: forever unless `--max-attempts`,
/// with delays growing to 30 s. A daemon outlasts an outage; the attempts are logged.
pub fn daemon_policy(max_attempts: Option<u32>) -> ReconnectPolicy {
    let mut policy = ReconnectPolicy::default();
    policy.max_attempts = max_attempts;
    policy.max_delay = std::time::Duration::from_secs(30);
    policy
}

/// `--ws-url`, or else the usage error of [`missing_ws_url`].
pub fn require_ws_url<'a>(global: &'a Global, what: &str) -> Result<&'a str> {
    global.ws_url.as_deref().ok_or_else(|| missing_ws_url(what))
}

/// The usage error (exit 2) of a command that needs a server and was given none: "set --ws-url
/// or INCIDENT_WS_URL (or WS_URL) to `what`".
pub fn missing_ws_url(what: &str) -> anyhow::Error {
    UsageError(format!(
        "set --ws-url or INCIDENT_WS_URL (or WS_URL) to {what}"
    ))
    .into()
}
