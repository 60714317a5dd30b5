//! `incident watch` and `incident demo`.

use anyhow::{Context, Result};
use futures::stream::{BoxStream, SelectAll, StreamExt};
use incident_client::{Error, IncidentClient, Severity, UpdateFilter, Uuid};

use crate::cli::{Global, Output, StreamKind, WatchArgs};
use crate::exit::parse;
use crate::render::{self, Rendered};

type Events = BoxStream<'static, (StreamKind, Result<Rendered, Error>)>;

/// `incident watch`: connect to `--ws-url`, or to an embedded dev server when none is given
/// (with the `devserver` feature; without it, a URL is required).
pub async fn run(global: &Global, args: WatchArgs) -> Result<()> {
    let kinds = if args.kinds.is_empty() {
        vec![StreamKind::New]
    } else {
        args.kinds.clone()
    };
    // Before the client exists: it resolves its metric handles when it is made.
    let metrics = match args.metrics_addr {
        Some(_) => Some(crate::ops_http::install_recorder()?),
        None => None,
    };
    let (client, server) = match &global.ws_url {
        Some(url) => (connect(global, url, global.token.clone()).await?, None),
        None => {
            let (client, server) = embedded_for_watch().await?;
            (client, Some(server))
        }
    };
    if let (Some(addr), Some(metrics)) = (args.metrics_addr, metrics) {
        let bound = crate::ops_http::serve(addr, metrics, client.connection_state()).await?;
        eprintln!("metrics: http://{bound}/metrics and http://{bound}/healthz");
    }
    let streams = subscribe(&client, &kinds, &args)?;
    stream_until_done(&client, streams, &args.output).await?;
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
    eprintln!(
        "WS_URL is not set: starting an embedded dev server with demo traffic (use --ws-url for a real server)"
    );
    crate::embedded::start(2.0).await
}

#[cfg(not(feature = "devserver"))]
async fn embedded_for_watch() -> Result<(IncidentClient, std::convert::Infallible)> {
    anyhow::bail!(crate::exit::UsageError(
        "set WS_URL or --ws-url to the server (this build has no embedded dev server: it was built without the `devserver` feature)".into()
    ))
}

/// A client for `url` with the global settings.
pub async fn connect(global: &Global, url: &str, token: Option<String>) -> Result<IncidentClient> {
    let mut builder = IncidentClient::builder(url);
    if let Some(token) = token {
        builder = builder.token(token);
    }
    if let Some(http) = &global.http_url {
        builder = builder.http_url(http);
    }
    builder
        .connect()
        .await
        .with_context(|| format!("connecting to {url}"))
}

pub(crate) fn subscribe(
    client: &IncidentClient,
    kinds: &[StreamKind],
    args: &WatchArgs,
) -> Result<SelectAll<Events>> {
    let colour = render::use_colour() && !args.output.json;
    let severities: Option<Vec<Severity>> = if args.filters.severities.is_empty() {
        None
    } else {
        Some(
            args.filters
                .severities
                .iter()
                .map(|s| parse(s))
                .collect::<Result<_>>()?,
        )
    };
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
            StreamKind::Critical => client
                .critical_incidents()?
                .map(move |e| (kind, e.map(|i| render::incident("critical", &i, colour))))
                .boxed(),
            StreamKind::New => client
                .new_incidents(severities.clone())?
                .map(move |e| (kind, e.map(|i| render::incident("new", &i, colour))))
                .boxed(),
            StreamKind::Updates => {
                let filter = UpdateFilter {
                    incident_ids: Some(incidents.clone()).filter(|i| !i.is_empty()),
                    severities: severities.clone(),
                    active_only: args.filters.active_only.then_some(true),
                };
                client
                    .incident_updates(filter)?
                    .map(move |e| (kind, e.map(|u| render::update(&u, colour))))
                    .boxed()
            }
            StreamKind::StateChanges => client
                .incident_state_changes(incidents.first().copied())?
                .map(move |e| (kind, e.map(|c| render::state_change(&c, colour))))
                .boxed(),
            StreamKind::Alerts => client
                .alerts(sources.clone())?
                .map(move |e| (kind, e.map(|a| render::alert(&a, colour))))
                .boxed(),
        };
        all.push(events);
    }
    Ok(all)
}

/// Prints events until the limit, a signal, or a stream's fatal error.
pub(crate) async fn stream_until_done(
    client: &IncidentClient,
    mut streams: SelectAll<Events>,
    output: &Output,
) -> Result<()> {
    let mut printed = 0usize;
    let shutdown = shutdown_signal();
    tokio::pin!(shutdown);
    let outcome = loop {
        if output.limit.is_some_and(|limit| printed >= limit) {
            break Ok(());
        }
        tokio::select! {
            () = &mut shutdown => {
                eprintln!("interrupted: closing subscriptions");
                break Ok(());
            }
            event = streams.next() => match event {
                None => break Ok(()),
                Some((_, Ok(rendered))) => {
                    if output.json {
                        println!("{}", rendered.json);
                    } else {
                        println!("{}", rendered.line);
                    }
                    printed += 1;
                }
                Some((kind, Err(error))) if error.is_recoverable() => {
                    eprintln!("warning: {kind:?}: {error}");
                }
                Some((kind, Err(error))) => break Err(anyhow::Error::new(error).context(format!("the {kind:?} stream ended"))),
            }
        }
    };
    client.shutdown().await;
    outcome
}

/// Resolves on Ctrl-C (SIGINT) or SIGTERM.
async fn shutdown_signal() {
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
