//! Reconnect: from a dev server restart to the first event on the resubscribed stream.

use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use futures::StreamExt;
use incident_client::{IncidentClient, ReconnectPolicy, UpdateFilter};
use incident_devserver::DevServer;
use incident_devserver::model::{IncidentType, Severity};

/// Time from the server serving again after a restart to the first event on the resubscribed
/// stream, with the default reconnect policy; events are produced every 5 ms throughout.
pub async fn reconnect() -> Result<Duration> {
    let server = DevServer::builder().start().await?;
    let client = IncidentClient::builder(server.ws_url())
        .token(server.mint_token("bench", Duration::from_secs(600)))
        .reconnect(ReconnectPolicy::default())
        .connect()
        .await?;
    let mut updates = client.incident_updates(UpdateFilter::default())?;
    updates.ready().await?;
    let producer = {
        let server = server.clone();
        tokio::spawn(async move {
            loop {
                let _ = server.store().create_incident(
                    "bench",
                    "tick",
                    "",
                    Severity::P3,
                    IncidentType::Data,
                    vec![],
                    vec![],
                    "bench",
                );
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
    };
    updates.next().await;
    server.restart(Duration::from_millis(100)).await?;
    let back = Instant::now();
    let back_at = chrono::Utc::now();
    loop {
        match tokio::time::timeout(Duration::from_secs(30), updates.next()).await? {
            // Updates from before the restart may still be queued: the figure is to the first
            // one the server produced after it was back.
            Some(Ok(update)) if update.timestamp >= back_at => break,
            Some(Ok(_)) => continue,
            Some(Err(error)) if error.is_recoverable() => continue,
            other => bail!("the stream ended during the restart: {other:?}"),
        }
    }
    let elapsed = back.elapsed();
    producer.abort();
    client.shutdown().await;
    server.shutdown().await;
    Ok(elapsed)
}
