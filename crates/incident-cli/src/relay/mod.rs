//! `incident relay new|critical`: the typed stream, forwarded into NATS JetStream.
//!
//! Every incident is published to SUBJECT as the JSON `incident watch --json` prints, with
//! `Nats-Msg-Id` set to the incident's id, and the next is taken only once JetStream acknowledged
//! the last (publish failures are retried with backoff). On start the relay reads the last
//! message on SUBJECT and resumes the SDK's catch-up after that incident, so the stream itself is
//! the checkpoint: a crashed or redeployed relay loses nothing, and what it publishes twice is
//! dropped by JetStream's duplicate window. Several relays can run at once for availability:
//! each publishes everything, JetStream stores each incident once (as long as the copies arrive
//! within the stream's duplicate window of each other).
//!
//! This file is the relay loop; [`nats`] connects to NATS and prepares the stream.

mod nats;

use std::time::Duration;

use anyhow::{Result, bail};
use async_nats::jetstream::{self, stream};
use futures::StreamExt;
use incident_client::{Checkpoint, IncidentClient, Severity, Timestamp, Uuid};
use serde_json::Value;
use tokio::sync::watch;

use crate::cli::{Global, RelayArgs};
use crate::exit::{Unreachable, UsageError};
use crate::global;
use crate::resumable::Resumable;

/// The duplicate window of a stream the relay creates: the longest two relays (or a relay and
/// its restarted self) may publish the same incident apart and still store it once.
pub const DUPLICATE_WINDOW: Duration = Duration::from_secs(10 * 60);

/// The longest wait between publish attempts.
const MAX_RETRY_DELAY: Duration = Duration::from_secs(5);

/// `incident relay`.
pub async fn run(global: &Global, args: RelayArgs) -> Result<()> {
    nats::check_subject(&args.subject)?;
    let url = global::require_ws_url(global, "the Incident Manager the relay reads from")?;
    let severities = global::severities(&args.severities);
    let metrics = match args.metrics_addr {
        Some(_) => {
            let handle = crate::ops_http::install_recorder()?;
            describe_relay_metrics();
            Some(handle)
        }
        None => None,
    };
    let jetstream = nats::connect(&args.nats, &args.nats_auth).await?;
    let stream = nats::ensure_stream(&jetstream, &args.stream, &args.subject).await?;
    let resume = last_relayed(&stream, &args.subject).await?;
    match &resume {
        Some(from) => tracing::info!(
            "resuming after incident {} (created {})",
            from.ids
                .first()
                .map(ToString::to_string)
                .unwrap_or_default(),
            from.created_at.to_rfc3339()
        ),
        None => tracing::info!("{} holds nothing yet; starting from now", args.subject),
    }
    let policy = global::daemon_policy(args.max_attempts);
    let client = global::connect(global, url, args.wait, Some(policy)).await?;
    if let (Some(addr), Some(metrics)) = (args.metrics_addr, metrics) {
        let bound = crate::ops_http::serve(addr, metrics, client.connection_state()).await?;
        crate::logging::status(&format!(
            "metrics: http://{bound}/metrics and http://{bound}/healthz"
        ));
    }
    let outcome = relay(&client, &jetstream, &args, severities, resume).await;
    client.shutdown().await;
    outcome
}

/// Forwards the stream until a signal or a fatal error, each incident acknowledged by
/// JetStream before the next is taken.
async fn relay(
    client: &IncidentClient,
    jetstream: &jetstream::Context,
    args: &RelayArgs,
    severities: Option<Vec<Severity>>,
    resume: Option<Checkpoint>,
) -> Result<()> {
    let stream = Resumable::from(args.kind);
    let name = stream.name();
    let mut incidents = stream.open(client, severities, resume)?;
    let (stop, mut stopping) = watch::channel(false);
    tokio::spawn(async move {
        global::shutdown_signal().await;
        let _ = stop.send(true);
    });
    tracing::info!(
        "forwarding {name} incidents to {} on stream {}",
        args.subject,
        args.stream
    );
    loop {
        let next = tokio::select! {
            _ = stopping.changed() => {
                tracing::info!("interrupted; nothing in flight, exiting");
                return Ok(());
            }
            next = incidents.next() => next,
        };
        match next {
            None => bail!("the {name} stream ended"),
            Some(Ok(incident)) => {
                let rendered = crate::render::incident(name, &incident, false);
                let payload = serde_json::to_vec(&rendered.json)?;
                let id = incident.id.to_string();
                let ack = publish(jetstream, &args.subject, &id, payload, &mut stopping).await?;
                if ack.duplicate {
                    metrics::counter!("incident_relay_duplicates_total").increment(1);
                    tracing::info!(
                        incident = %id,
                        sequence = ack.sequence,
                        "{id} already stored (duplicate, sequence {})",
                        ack.sequence
                    );
                } else {
                    metrics::counter!("incident_relay_published_total").increment(1);
                    tracing::info!(
                        incident = %id,
                        sequence = ack.sequence,
                        "published {id} as sequence {}",
                        ack.sequence
                    );
                }
                metrics::gauge!("incident_relay_last_published_timestamp_seconds")
                    .set(chrono::Utc::now().timestamp_millis() as f64 / 1000.0);
                if *stopping.borrow() {
                    tracing::info!("interrupted; the last publish was acknowledged, exiting");
                    return Ok(());
                }
            }
            Some(Err(error)) if error.is_recoverable() => tracing::warn!("{error}"),
            Some(Err(error)) => {
                return Err(anyhow::Error::new(error).context(format!("the {name} stream ended")));
            }
        }
    }
}

/// Publishes until JetStream acknowledges, backing off between attempts. A shutdown during the
/// retries ends the relay with an error: the incident was not stored, and the next start
/// resumes before it.
async fn publish(
    jetstream: &jetstream::Context,
    subject: &str,
    id: &str,
    payload: Vec<u8>,
    stopping: &mut watch::Receiver<bool>,
) -> Result<jetstream::publish::PublishAck> {
    let mut delay = Duration::from_millis(100);
    loop {
        let message = jetstream::message::PublishMessage::build()
            .message_id(id)
            .payload(payload.clone().into());
        let attempt = async {
            jetstream
                .send_publish(subject.to_owned(), message)
                .await?
                .await
        };
        let error = match attempt.await {
            Ok(ack) => return Ok(ack),
            Err(error) => error,
        };
        metrics::counter!("incident_relay_publish_failures_total").increment(1);
        if *stopping.borrow() {
            bail!(Unreachable(format!(
                "stopped before JetStream stored incident {id} ({error}); the next start resumes before it"
            )));
        }
        tracing::warn!(incident = %id, "publishing {id} failed ({error}); retrying in {delay:?}");
        tokio::select! {
            () = tokio::time::sleep(delay) => {}
            _ = stopping.changed() => {}
        }
        delay = (delay * 2).min(MAX_RETRY_DELAY);
    }
}

/// Where the last relayed incident left off: the checkpoint of the newest message on SUBJECT.
async fn last_relayed(stream: &stream::Stream, subject: &str) -> Result<Option<Checkpoint>> {
    let message = match stream.get_last_raw_message_by_subject(subject).await {
        Ok(message) => message,
        Err(error) if error.kind() == stream::LastRawMessageErrorKind::NoMessageFound => {
            return Ok(None);
        }
        Err(error) => bail!(Unreachable(format!(
            "cannot read the last message on {subject}: {error}"
        ))),
    };
    checkpoint_of(&message.payload)
        .map(Some)
        .ok_or_else(|| {
            UsageError(format!(
                "the last message on {subject} (sequence {}) is not an incident a relay wrote; publish incidents to a subject of their own",
                message.sequence
            ))
            .into()
        })
}

/// The checkpoint just after the incident in a relayed message.
fn checkpoint_of(payload: &[u8]) -> Option<Checkpoint> {
    let message: Value = serde_json::from_slice(payload).ok()?;
    let event = &message["event"];
    let id: Uuid = event["id"].as_str()?.parse().ok()?;
    let created_at: Timestamp = event["createdAt"].as_str()?.parse().ok()?;
    let mut checkpoint = Checkpoint::at(created_at);
    checkpoint.ids.push(id);
    Some(checkpoint)
}

/// Help text for the relay's own metrics (`# HELP` lines on `/metrics`).
fn describe_relay_metrics() {
    use metrics::{Unit, describe_counter, describe_gauge};
    describe_counter!(
        "incident_relay_published_total",
        Unit::Count,
        "Incidents published to JetStream and acknowledged."
    );
    describe_counter!(
        "incident_relay_duplicates_total",
        Unit::Count,
        "Publishes JetStream acknowledged as duplicates (another relay had published them)."
    );
    describe_counter!(
        "incident_relay_publish_failures_total",
        Unit::Count,
        "Failed publish attempts (each retried)."
    );
    describe_gauge!(
        "incident_relay_last_published_timestamp_seconds",
        Unit::Seconds,
        "Unix time of the last acknowledged publish."
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_checkpoint_is_read_from_the_relayed_json() {
        let id = Uuid::new_v4();
        let payload = serde_json::json!({
            "kind": "event", "stream": "new",
            "event": { "id": id, "createdAt": "2030-01-01T00:00:00.5Z", "title": "x" },
        });
        let checkpoint = checkpoint_of(payload.to_string().as_bytes()).unwrap();
        assert_eq!(checkpoint.ids, [id]);
        assert_eq!(
            checkpoint.created_at.to_rfc3339(),
            "2030-01-01T00:00:00.500+00:00"
        );
        assert!(checkpoint_of(b"{\"event\":{}}").is_none());
        assert!(checkpoint_of(b"not json").is_none());
    }
}
