//! Latency: microseconds from the sender's write to the reader, for the SDK and for the
//! hand-written typed reader that is its floor.

use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Result;
use futures::StreamExt;
use incident_client::IncidentClient;
use tokio_tungstenite::tungstenite::Message;

use super::process::{Sender, raw_subscription};

/// Microseconds since a send time (Unix nanoseconds) carried as `t=NANOS`.
pub(crate) fn since_sent(title: &str) -> Result<f64> {
    let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_nanos();
    let sent: u128 = title.trim_start_matches("t=").parse()?;
    Ok(now.saturating_sub(sent) as f64 / 1000.0)
}

/// The latency floor: the same timed frames read by the hand-written typed reader, in
/// microseconds, sorted.
pub async fn latency_typed_reader(sender: &Sender, events: usize, rate: f64) -> Result<Vec<f64>> {
    let mut socket = raw_subscription(sender, &format!("rate/{rate}/{events}")).await?;
    let mut samples = Vec::with_capacity(events);
    while let Some(message) = socket.next().await {
        let Message::Text(text) = message? else {
            continue;
        };
        match crate::readers::decode_typed(&text)? {
            Some(incident) => samples.push(since_sent(&incident.title)?),
            None => break,
        }
    }
    samples.sort_by(|a, b| a.total_cmp(b));
    Ok(samples)
}

/// Microseconds from the sender's write to the caller's `next()`, sorted.
pub async fn latency(sender: &Sender, events: usize, rate: f64) -> Result<Vec<f64>> {
    let client = IncidentClient::builder(sender.url(&format!("rate/{rate}/{events}")))
        .connect()
        .await?;
    let mut stream = client.new_incidents(None)?;
    let mut samples = Vec::with_capacity(events);
    while let Some(item) = stream.next().await {
        samples.push(since_sent(&item?.title)?);
    }
    client.shutdown().await;
    samples.sort_by(|a, b| a.total_cmp(b));
    Ok(samples)
}
