//! The server-paced regime: every reader over `/rate/R/N` in a process of its own, the way an
//! incident stream usually runs (one event per wake-up). At R events a second each wake carries
//! one event; at R = 0 the sender writes one frame per write as fast as it can (server-bound
//! throughput). Each run reports CPU per event and the latency from the sender's write to the
//! decoded event (the send time rides in the title).

use std::time::Instant;

use anyhow::{Result, bail};
use futures::StreamExt;
use incident_client::IncidentClient;
use tokio_tungstenite::tungstenite::Message;

use crate::measure::{Sender, raw_subscription, since_sent};
use crate::readers::{Reader, Run, decode_typed};

/// Reads `/rate/rate/events` with `reader`: the run and every event's latency in us, sorted.
pub async fn paced(
    reader: Reader,
    sender: &Sender,
    rate: f64,
    events: usize,
) -> Result<(Run, Vec<f64>)> {
    let path = format!("rate/{rate}/{events}");
    let mut samples = Vec::with_capacity(events);
    let (started, cpu) = match reader {
        Reader::Sdk => {
            let client = IncidentClient::builder(sender.url(&path))
                .subscription_buffer(events + 16)
                .connect()
                .await?;
            let mut stream = client.new_incidents(None)?;
            let measured = (Instant::now(), cpu_time::ProcessTime::now());
            while let Some(item) = stream.next().await {
                samples.push(since_sent(&item?.title)?);
            }
            client.shutdown().await;
            measured
        }
        Reader::GraphqlWs => {
            let mut stream = crate::gws::subscribe(sender, &path).await?;
            let measured = (Instant::now(), cpu_time::ProcessTime::now());
            while let Some(item) = stream.next().await {
                samples.push(since_sent(&crate::gws::incident(item)?.title)?);
            }
            measured
        }
        _ => {
            let mut socket = raw_subscription(sender, &path).await?;
            let measured = (Instant::now(), cpu_time::ProcessTime::now());
            while let Some(message) = socket.next().await {
                let Message::Text(text) = message? else {
                    continue;
                };
                let title = match reader {
                    // No JSON: the send time's digits found in the text.
                    Reader::Frames => match text.as_str().find("\"title\":\"t=") {
                        Some(at) => {
                            let digits = &text[at + 9..];
                            digits[..digits.find('"').unwrap_or(digits.len())].to_owned()
                        }
                        None => break,
                    },
                    Reader::Typed => match decode_typed(&text)? {
                        Some(incident) => incident.title,
                        None => break,
                    },
                    _ => {
                        let value: serde_json::Value = serde_json::from_str(&text)?;
                        if value["type"] != "next" {
                            break;
                        }
                        value["payload"]["data"]["newIncidents"]["title"]
                            .as_str()
                            .unwrap_or_default()
                            .to_owned()
                    }
                };
                samples.push(since_sent(&title)?);
            }
            measured
        }
    };
    let run = Run {
        events: samples.len(),
        wall_s: started.elapsed().as_secs_f64(),
        cpu_s: cpu.elapsed().as_secs_f64(),
    };
    if samples.len() != events {
        bail!(
            "the {} reader received {} of {events} events",
            reader.name(),
            samples.len()
        );
    }
    samples.sort_by(|a, b| a.total_cmp(b));
    Ok((run, samples))
}

/// One paced run: the run and its latency quantiles in us.
#[derive(Debug, Clone, Copy)]
pub struct PacedRun {
    pub run: Run,
    pub p50: f64,
    pub p99: f64,
}

/// The sample at quantile `q` of sorted `samples`.
pub fn quantile(samples: &[f64], q: f64) -> f64 {
    samples[((samples.len() as f64 * q) as usize).min(samples.len() - 1)]
}
