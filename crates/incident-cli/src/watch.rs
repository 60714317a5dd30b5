//! `incident watch`: subscribe to the kinds asked for on one connection, print each event, and
//! with `--checkpoint` record progress after each. (`incident demo` runs the same loop against
//! an embedded server.)

use anyhow::{Context, Result};
use futures::stream::{BoxStream, SelectAll, StreamExt};
use incident_client::{
    Checkpoint, ConnectionState, Error, IncidentClient, Subscription, UpdateFilter, Uuid,
};
use serde_json::json;

use crate::checkpoint_file::CheckpointFile;
use crate::cli::{Global, Output, StreamKind, WatchArgs};
use crate::exit::parse;
use crate::global;
use crate::render::{self, Rendered};
use crate::resumable::Resumable;

/// Each stream's items: which stream, the event or error, and where the stream is after it.
type Events = BoxStream<'static, (StreamKind, Result<Rendered, Error>, Position)>;

/// Where a stream is after an item: its checkpoint (streams that can be resumed).
#[derive(Debug, Default)]
pub(crate) struct Position {
    checkpoint: Option<Checkpoint>,
}

/// `incident watch`: connect to `--ws-url`, or to an embedded dev server when none is given
/// (with the `devserver` feature; without it, a URL is required).
pub async fn run(global: &Global, args: WatchArgs) -> Result<()> {
    let kinds = if args.kinds.is_empty() {
        vec![StreamKind::New]
    } else {
        args.kinds.clone()
    };
    // Checked before connecting: a bad file, or one another watcher holds, fails at once,
    // whatever the server. The lock is held until the watcher exits.
    let mut checkpoint = match &args.checkpoint {
        Some(path) => {
            if !matches!(kinds.as_slice(), [kind] if Resumable::of(*kind).is_some()) {
                anyhow::bail!(crate::exit::UsageError(
                    "--checkpoint works with one stream that can be resumed: `new` or `critical`"
                        .into()
                ));
            }
            Some(CheckpointFile::lock(path)?)
        }
        None => None,
    };
    let resume = match &checkpoint {
        Some(file) => file.load()?,
        None => None,
    };
    // Before the client exists: it resolves its metric handles when it is made.
    let metrics = match args.metrics_addr {
        Some(_) => Some(crate::ops_http::install_recorder()?),
        None => None,
    };
    let (client, server) = match &global.ws_url {
        Some(url) => (
            global::connect(
                global,
                url,
                args.wait,
                Some(global::daemon_policy(args.max_attempts)),
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
    let streams = subscribe(&client, &kinds, &args, resume, checkpoint.as_mut()).await?;
    stream_until_done(&client, streams, &args.output, checkpoint.as_mut()).await?;
    #[cfg(feature = "devserver")]
    if let Some(server) = server {
        server.shutdown().await;
    }
    #[cfg(not(feature = "devserver"))]
    let _ = server;
    Ok(())
}

/// Without a URL: an embedded dev server with demo traffic, and a client connected to it.
#[cfg(feature = "devserver")]
async fn embedded_for_watch() -> Result<(IncidentClient, incident_devserver::DevServerHandle)> {
    crate::logging::status(
        "no --ws-url (INCIDENT_WS_URL): starting an embedded dev server with demo traffic (use --ws-url for a real server)",
    );
    crate::embedded::start(2.0).await
}

/// Without a URL, in a build with no embedded server: a usage error asking for one.
#[cfg(not(feature = "devserver"))]
async fn embedded_for_watch() -> Result<(IncidentClient, std::convert::Infallible)> {
    Err(global::missing_ws_url(
        "the server (this build has no embedded dev server: it was built without the `devserver` feature)",
    ))
}

/// The stream's items, each with the stream's position after it.
fn tracked<T: Send + 'static>(
    subscription: Subscription<T>,
) -> BoxStream<'static, (Result<T, Error>, Position)> {
    futures::stream::unfold(subscription, |mut subscription| async move {
        let item = subscription.next().await?;
        let position = Position {
            checkpoint: subscription.checkpoint(),
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

/// Subscribes to every kind; `resume` starts `new` or `critical` from a saved checkpoint, and
/// `checkpoint` records where each starts.
pub(crate) async fn subscribe(
    client: &IncidentClient,
    kinds: &[StreamKind],
    args: &WatchArgs,
    resume: Option<Checkpoint>,
    mut checkpoint: Option<&mut CheckpointFile>,
) -> Result<SelectAll<Events>> {
    let colour = render::use_colour() && !args.output.json;
    let severities = global::severities(&args.filters.severities);
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
                let stream = Resumable::of(kind).expect("new and critical resume");
                let subscription = stream.open(client, severities.clone(), resume.clone())?;
                if let Some(file) = checkpoint.as_deref_mut() {
                    // A fresh stream's start is the server's clock at its confirmation: wait for
                    // it, and record it before anything is printed, so a crash (even hours later,
                    // with nothing printed) resumes from here rather than from the next start's
                    // "now". A resumed stream knows its start already.
                    if subscription.checkpoint().is_none() {
                        subscription
                            .ready()
                            .await
                            .with_context(|| format!("the {} stream ended", stream.name()))?;
                    }
                    if let Some(start) = subscription.checkpoint() {
                        file.save(&start)?;
                    }
                }
                let name = stream.name();
                tracked(subscription)
                    .map(move |(e, at)| (kind, e.map(|i| render::incident(name, &i, colour)), at))
                    .boxed()
            }
            StreamKind::Updates => {
                let mut filter = UpdateFilter::default();
                if !incidents.is_empty() {
                    filter = filter.incidents(incidents.clone());
                }
                if let Some(severities) = severities.clone() {
                    filter = filter.severities(severities);
                }
                if args.filters.active_only {
                    filter = filter.active_only(true);
                }
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
    mut checkpoint: Option<&mut CheckpointFile>,
) -> Result<()> {
    let mut printed = 0usize;
    let shutdown = global::shutdown_signal();
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
                    if let (Some(file), Some(position)) =
                        (checkpoint.as_deref_mut(), position.checkpoint)
                    {
                        file.save(&position)?;
                    }
                }
                Some((kind, Err(error), _)) if error.is_recoverable() => {
                    let window = match &error {
                        Error::Gap(window) => Some(*window),
                        _ => None,
                    };
                    match &error {
                        Error::Lagged { dropped } => notice("lag", Some(kind), json!({ "dropped": dropped })),
                        _ => notice("gap", Some(kind), json!({
                            "message": error.to_string(),
                            "from": window.map(|w| w.from.to_rfc3339()),
                            "until": window.map(|w| w.until.to_rfc3339()),
                        })),
                    }
                    if !output.json {
                        tracing::warn!("{}: {error}", stream_name(kind));
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
