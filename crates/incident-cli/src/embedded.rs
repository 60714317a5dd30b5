//! The embedded dev server: `incident demo`, and `incident watch` without a URL. Only with the
//! `devserver` feature (the default).

use std::time::Duration;

use anyhow::{Context, Result};
use incident_client::IncidentClient;
use incident_devserver::{DevServer, DevServerHandle};

use crate::cli::{DemoArgs, Global, Output, StreamKind, WatchArgs};
use crate::watch::{stream_until_done, subscribe};

/// `incident demo`: an embedded dev server with demo traffic, watched through the typed client.
pub async fn demo(_global: &Global, args: DemoArgs) -> Result<()> {
    crate::logging::status(&format!(
        "starting an embedded dev server with {} demo alert(s) a second; Ctrl-C to stop",
        args.rate
    ));
    let (client, server) = start(args.rate).await?;
    crate::logging::status(&format!(
        "server: {}  (watching critical, new and state-changes)",
        server.ws_url()
    ));
    let watch = WatchArgs {
        metrics_addr: None,
        wait: false,
        max_attempts: None,
        checkpoint: None,
        kinds: vec![
            StreamKind::Critical,
            StreamKind::New,
            StreamKind::StateChanges,
        ],
        filters: crate::cli::Filters {
            severities: vec![],
            incidents: vec![],
            active_only: false,
            sources: vec![],
        },
        output: Output {
            json: args.output.json,
            limit: args.output.limit,
        },
    };
    let streams = subscribe(&client, &watch.kinds, &watch, None, None).await?;
    stream_until_done(&client, streams, &args.output, None).await?;
    server.shutdown().await;
    Ok(())
}

/// A dev server on an ephemeral port with demo traffic, and a client connected to it.
pub async fn start(rate: f64) -> Result<(IncidentClient, DevServerHandle)> {
    let server = DevServer::builder()
        .demo_traffic(rate)
        .start()
        .await
        .context("starting the embedded dev server")?;
    let token = server.mint_token("incident-cli", Duration::from_secs(24 * 3600));
    let client = IncidentClient::builder(server.ws_url())
        .token(token)
        .connect()
        .await?;
    Ok((client, server))
}
