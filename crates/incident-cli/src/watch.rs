//! `incident watch` and `incident demo`.

use anyhow::{Context, Result};
use futures::stream::{BoxStream, SelectAll, StreamExt};
use incident_client::{
    Checkpoint, ConnectionState, Error, GapWindow, IncidentClient, ReconnectPolicy, Severity,
    Subscription, TokenProvider, UpdateFilter, Uuid,
};
use serde_json::json;

use crate::cli::{Global, Output, StreamKind, WatchArgs};
use crate::exit::parse;
use crate::render::{self, Rendered};

/// Each stream's items: which stream, the event or error, and where the stream is after it.
type Events = BoxStream<'static, (StreamKind, Result<Rendered, Error>, Position)>;

/// Where a stream is after an item: its checkpoint (streams that can be resumed) and the window
/// of its latest gap.
#[derive(Debug, Default)]
pub(crate) struct Position {
    checkpoint: Option<Checkpoint>,
    gap: Option<GapWindow>,
}

/// `incident watch`: connect to `--ws-url`, or to an embedded dev server when none is given
/// (with the `devserver` feature; without it, a URL is required).
pub async fn run(global: &Global, args: WatchArgs) -> Result<()> {
    let kinds = if args.kinds.is_empty() {
        vec![StreamKind::New]
    } else {
        args.kinds.clone()
    };
    // Checked before connecting: a bad file is a usage error, whatever the server.
    let resume = match &args.checkpoint {
        Some(path) => {
            if !matches!(kinds.as_slice(), [StreamKind::New] | [StreamKind::Critical]) {
                anyhow::bail!(crate::exit::UsageError(
                    "--checkpoint works with one stream that can be resumed: `new` or `critical`"
                        .into()
                ));
            }
            crate::checkpoint_file::load(path)?
        }
        None => None,
    };
    // Before the client exists: it resolves its metric handles when it is made.
    let metrics = match args.metrics_addr {
        Some(_) => Some(crate::ops_http::install_recorder()?),
        None => None,
    };
    let (client, server) = match &global.ws_url {
        Some(url) => (
            connect(
                global,
                url,
                args.wait,
                Some(daemon_policy(args.max_attempts)),
            )
            .await?,
            None,
        ),
        None => {
            let (client, server) = embedded_for_watch().await?;
            (client, Some(server))
        }
    };
    if let (Some(addr), Some(metrics)) = (args.metrics_addr, metrics) {
        let bound = crate::ops_http::serve(addr, metrics, client.connection_state()).await?;
        crate::logging::status(&format!(
            "metrics: http://{bound}/metrics and http://{bound}/healthz"
        ));
    }
    let streams = subscribe(&client, &kinds, &args, resume)?;
    stream_until_done(&client, streams, &args.output, args.checkpoint.as_deref()).await?;
    #[cfg(feature = "devserver")]
    if let Some(server) = server {
        server.shutdown().await;
    }
    #[cfg(not(feature = "devserver"))]
    let _ = server;
    Ok(())
}

#[cfg(feature = "devserver")]
async fn embedded_for_watch() -> Result<(IncidentClient, incident_devserver::DevServerHandle)> {
    crate::logging::status(
        "no --ws-url (INCIDENT_WS_URL): starting an embedded dev server with demo traffic (use --ws-url for a real server)",
    );
    crate::embedded::start(2.0).await
}

#[cfg(not(feature = "devserver"))]
async fn embedded_for_watch() -> Result<(IncidentClient, std::convert::Infallible)> {
    anyhow::bail!(crate::exit::UsageError(
        "set --ws-url or INCIDENT_WS_URL (or WS_URL) to the server (this build has no embedded dev server: it was built without the `devserver` feature)".into()
    ))
}

/// How long-running commands (`watch`, `relay`) reconnect: forever unless `--max-attempts`,
/// with delays growing to 30 s. A daemon outlasts an outage; the attempts are logged.
pub(crate) fn daemon_policy(max_attempts: Option<u32>) -> ReconnectPolicy {
    ReconnectPolicy {
        max_attempts,
        max_delay: std::time::Duration::from_secs(30),
        ..ReconnectPolicy::default()
    }
}

/// Where the command's tokens come from: `--token-file`, `--token-command`, or `--token` /
/// `AUTH_TOKEN`. A file or a command takes precedence over `AUTH_TOKEN`; two given on the
/// command line (or a file and a command from anywhere) is a usage error.
pub(crate) fn token_provider(global: &Global) -> Result<Option<TokenProvider>> {
    let conflict = |what: &str| -> anyhow::Error {
        crate::exit::UsageError(format!(
            "{what}: give one source of tokens (--token/AUTH_TOKEN, --token-file/INCIDENT_TOKEN_FILE or --token-command/INCIDENT_TOKEN_COMMAND)"
        ))
        .into()
    };
    match (&global.token_file, &global.token_command) {
        (Some(_), Some(_)) => Err(conflict("--token-file and --token-command both given")),
        (Some(_), None) | (None, Some(_)) if global.token_from_flag => {
            Err(conflict("--token given with a token file or command"))
        }
        (Some(path), None) => Ok(Some(TokenProvider::file(path))),
        (None, Some(command)) => Ok(Some(TokenProvider::command("sh", ["-c", command.as_str()]))),
        (None, None) => Ok(global.token.clone().map(TokenProvider::fixed)),
    }
}

/// A client for `url` with the global settings; with `wait`, it waits for a server that is not
/// up yet; `policy` is how it reconnects (the library's default: 10 attempts).
pub async fn connect(
    global: &Global,
    url: &str,
    wait: bool,
    policy: Option<ReconnectPolicy>,
) -> Result<IncidentClient> {
    let mut builder = IncidentClient::builder(url)
        .wait_for_server(wait)
        .token_timeout(global.token_timeout);
    if let Some(policy) = policy {
        builder = builder.reconnect(policy);
    }
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
    builder
        .connect()
        .await
        .with_context(|| format!("connecting to {url}"))
}

/// The stream's items, each with the stream's position after it.
fn tracked<T: Send + 'static>(
    subscription: Subscription<T>,
) -> BoxStream<'static, (Result<T, Error>, Position)> {
    futures::stream::unfold(subscription, |mut subscription| async move {
        let item = subscription.next().await?;
        let position = Position {
            checkpoint: subscription.checkpoint(),
            gap: subscription.last_gap(),
        };
        Some(((item, position), subscription))
    })
    .boxed()
}

/// The name a stream has in output: `new`, `critical`, `updates`, `state_changes`, `alerts`.
fn stream_name(kind: StreamKind) -> &'static str {
    match kind {
        StreamKind::Critical => "critical",
        StreamKind::New => "new",
        StreamKind::Updates => "updates",
        StreamKind::StateChanges => "state_changes",
        StreamKind::Alerts => "alerts",
    }
}

/// Subscribes to every kind; `resume` starts `new` or `critical` from a saved checkpoint.
pub(crate) fn subscribe(
    client: &IncidentClient,
    kinds: &[StreamKind],
    args: &WatchArgs,
    resume: Option<Checkpoint>,
) -> Result<SelectAll<Events>> {
    let colour = render::use_colour() && !args.output.json;
    let severities = severities(&args.filters.severities)?;
    let incidents: Vec<Uuid> = args
        .filters
        .incidents
        .iter()
        .map(|s| parse(s))
        .collect::<Result<_>>()?;
    let sources = Some(args.filters.sources.clone()).filter(|s| !s.is_empty());
    let mut all = SelectAll::new();
    for &kind in kinds {
        let events: Events = match kind {
            StreamKind::Critical | StreamKind::New => {
                let subscription = match (kind, resume.clone()) {
                    (StreamKind::Critical, None) => client.critical_incidents()?,
                    (StreamKind::Critical, Some(from)) => client.critical_incidents_from(from)?,
                    (_, None) => client.new_incidents(severities.clone())?,
                    (_, Some(from)) => client.new_incidents_from(severities.clone(), from)?,
                };
                if let (Some(path), Some(start)) = (&args.checkpoint, subscription.checkpoint()) {
                    // Recorded before anything is printed, so a crash right away still resumes
                    // from here rather than from the next start's "now".
                    crate::checkpoint_file::save(path, &start)?;
                }
                let name = stream_name(kind);
                tracked(subscription)
                    .map(move |(e, at)| (kind, e.map(|i| render::incident(name, &i, colour)), at))
                    .boxed()
            }
            StreamKind::Updates => {
                let filter = UpdateFilter {
                    incident_ids: Some(incidents.clone()).filter(|i| !i.is_empty()),
                    severities: severities.clone(),
                    active_only: args.filters.active_only.then_some(true),
                };
                tracked(client.incident_updates(filter)?)
                    .map(move |(e, at)| (kind, e.map(|u| render::update(&u, colour)), at))
                    .boxed()
            }
            StreamKind::StateChanges => {
                tracked(client.incident_state_changes(incidents.first().copied())?)
                    .map(move |(e, at)| (kind, e.map(|c| render::state_change(&c, colour)), at))
                    .boxed()
            }
            StreamKind::Alerts => tracked(client.alerts(sources.clone())?)
                .map(move |(e, at)| (kind, e.map(|a| render::alert(&a, colour)), at))
                .boxed(),
        };
        all.push(events);
    }
    Ok(all)
}

/// Prints events until the limit, a signal, or a stream's fatal error; with `checkpoint`,
/// records each stream's checkpoint after the event is printed. In `--json` mode every non-event
/// (gap, lag, reconnect, end) is a JSON line on stdout with a `kind`; otherwise it goes to stderr.
pub(crate) async fn stream_until_done(
    client: &IncidentClient,
    mut streams: SelectAll<Events>,
    output: &Output,
    checkpoint: Option<&std::path::Path>,
) -> Result<()> {
    let mut printed = 0usize;
    let shutdown = shutdown_signal();
    tokio::pin!(shutdown);
    let mut state = client.connection_state();
    state.borrow_and_update();
    let mut was_connected = true;
    let mut state_open = true;
    let notice = |kind: &str, stream: Option<StreamKind>, detail: serde_json::Value| {
        if output.json {
            println!("{}", render::notice(kind, stream.map(stream_name), detail));
        }
    };
    let outcome = loop {
        if output.limit.is_some_and(|limit| printed >= limit) {
            break Ok(());
        }
        tokio::select! {
            () = &mut shutdown => {
                tracing::info!("interrupted: closing subscriptions");
                notice("end", None, json!({ "reason": "interrupted" }));
                break Ok(());
            }
            changed = state.changed(), if state_open => {
                if changed.is_err() {
                    // The connection task ended; the streams say why.
                    state_open = false;
                    continue;
                }
                let now = state.borrow_and_update().clone();
                match &now {
                    ConnectionState::Reconnecting { attempt, delay, error } => {
                        was_connected = false;
                        notice("reconnecting", None, json!({
                            "attempt": attempt, "retry_in_ms": delay.as_millis() as u64, "error": error,
                        }));
                    }
                    ConnectionState::Connected { .. } if !was_connected => {
                        was_connected = true;
                        notice("reconnected", None, json!({}));
                    }
                    ConnectionState::Connecting { .. } => was_connected = false,
                    _ => {}
                }
            }
            event = streams.next() => match event {
                None => {
                    notice("end", None, json!({ "reason": "completed" }));
                    break Ok(());
                }
                Some((_, Ok(rendered), position)) => {
                    if output.json {
                        println!("{}", rendered.json);
                    } else {
                        println!("{}", rendered.line);
                    }
                    printed += 1;
                    if let (Some(path), Some(position)) = (checkpoint, position.checkpoint) {
                        crate::checkpoint_file::save(path, &position)?;
                    }
                }
                Some((kind, Err(error), position)) if error.is_recoverable() => {
                    let window = position.gap.filter(|_| matches!(error, Error::Gap));
                    match &error {
                        Error::Lagged { dropped } => notice("lag", Some(kind), json!({ "dropped": dropped })),
                        _ => notice("gap", Some(kind), json!({
                            "message": error.to_string(),
                            "from": window.map(|w| w.from.to_rfc3339()),
                            "until": window.map(|w| w.until.to_rfc3339()),
                        })),
                    }
                    if !output.json {
                        match window {
                            Some(w) => tracing::warn!(
                                "{}: {error} (between {} and {})",
                                stream_name(kind), w.from.to_rfc3339(), w.until.to_rfc3339()
                            ),
                            None => tracing::warn!("{}: {error}", stream_name(kind)),
                        }
                    }
                }
                Some((kind, Err(error), _)) => {
                    notice("end", Some(kind), json!({ "reason": "error", "error": format!("{:#}", anyhow::Error::new(error.clone())) }));
                    break Err(anyhow::Error::new(error).context(format!("the {} stream ended", stream_name(kind))));
                }
            }
        }
    };
    client.shutdown().await;
    outcome
}

/// Resolves on Ctrl-C (SIGINT) or SIGTERM.
pub(crate) async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = interrupt => {}
                    _ = terminate.recv() => {}
                }
            }
            Err(_) => {
                let _ = interrupt.await;
            }
        }
    }
    #[cfg(not(unix))]
    let _ = interrupt.await;
}

/// `--severity` values; `None` when none were given (every severity).
pub(crate) fn severities(given: &[String]) -> Result<Option<Vec<Severity>>> {
    if given.is_empty() {
        return Ok(None);
    }
    given
        .iter()
        .map(|s| parse(s))
        .collect::<Result<_>>()
        .map(Some)
}

/// A PEM file named by a flag; a missing file is a usage error naming both.
pub(crate) fn read_pem(path: &std::path::Path, flag: &str) -> Result<Vec<u8>> {
    std::fs::read(path)
        .map_err(|e| crate::exit::UsageError(format!("{flag} {}: {e}", path.display())).into())
}
