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

use std::time::Duration;

use anyhow::{Result, bail};
use async_nats::jetstream::{self, stream};
use futures::StreamExt;
use incident_client::{Checkpoint, IncidentClient, Severity, Timestamp, Uuid};
use serde_json::Value;
use tokio::sync::watch;

use crate::cli::{Global, RelayArgs, RelayKind};
use crate::exit::{Unreachable, UsageError};

/// The duplicate window of a stream the relay creates: the longest two relays (or a relay and
/// its restarted self) may publish the same incident apart and still store it once.
pub const DUPLICATE_WINDOW: Duration = Duration::from_secs(10 * 60);

/// The longest wait between publish attempts.
const MAX_RETRY_DELAY: Duration = Duration::from_secs(5);

/// `incident relay`.
pub async fn run(global: &Global, args: RelayArgs) -> Result<()> {
    check_subject(&args.subject)?;
    let Some(url) = &global.ws_url else {
        bail!(UsageError(
            "set --ws-url or INCIDENT_WS_URL (or WS_URL) to the Incident Manager the relay reads from".into()
        ));
    };
    let severities = crate::watch::severities(&args.severities)?;
    let metrics = match args.metrics_addr {
        Some(_) => {
            let handle = crate::ops_http::install_recorder()?;
            describe_relay_metrics();
            Some(handle)
        }
        None => None,
    };
    let jetstream = connect_nats(&args.nats, &args.nats_auth).await?;
    let stream = ensure_stream(&jetstream, &args.stream, &args.subject).await?;
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
    let policy = crate::watch::daemon_policy(args.max_attempts);
    let client = crate::watch::connect(global, url, args.wait, Some(policy)).await?;
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

async fn relay(
    client: &IncidentClient,
    jetstream: &jetstream::Context,
    args: &RelayArgs,
    severities: Option<Vec<Severity>>,
    resume: Option<Checkpoint>,
) -> Result<()> {
    let (name, mut incidents) = match (args.kind, resume) {
        (RelayKind::Critical, None) => ("critical", client.critical_incidents()?),
        (RelayKind::Critical, Some(from)) => ("critical", client.critical_incidents_from(from)?),
        (RelayKind::New, None) => ("new", client.new_incidents(severities)?),
        (RelayKind::New, Some(from)) => ("new", client.new_incidents_from(severities, from)?),
    };
    let (stop, mut stopping) = watch::channel(false);
    tokio::spawn(async move {
        crate::watch::shutdown_signal().await;
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

/// The JetStream context of the NATS server(s) at `url` (comma-separated), authenticated with
/// `auth` through async-nats' own options. A URL that cannot be parsed or a credentials file
/// that cannot be read is a usage error; a server that cannot be reached, or that refuses the
/// credentials or the TLS handshake, is a connection error (exit 3) at once, never a retry loop.
async fn connect_nats(url: &str, auth: &crate::cli::NatsAuth) -> Result<jetstream::Context> {
    let addresses: Vec<async_nats::ServerAddr> = url
        .split(',')
        .map(|address| {
            address.trim().parse().map_err(|e| {
                anyhow::Error::new(UsageError(format!(
                    "--nats {:?} is not a NATS URL: {e}",
                    redacted(address)
                )))
            })
        })
        .collect::<Result<_>>()?;
    let options = nats_options(auth).await?;
    let client = options
        .name(concat!("incident-relay/", env!("CARGO_PKG_VERSION")))
        .connection_timeout(Duration::from_secs(5))
        .connect(addresses)
        .await
        .map_err(|e| {
            use async_nats::ConnectErrorKind;
            let why = match e.kind() {
                ConnectErrorKind::AuthorizationViolation => "NATS refused the credentials",
                ConnectErrorKind::Tls => "the TLS handshake with NATS failed",
                _ => "cannot reach NATS",
            };
            Unreachable(format!("{why} at {}: {e}", redacted(url)))
        })?;
    Ok(jetstream::new(client))
}

/// `urls` without credentials in them (`nats://user:pass@host` becomes `nats://***@host`).
fn redacted(urls: &str) -> String {
    urls.split(',')
        .map(|url| match (url.find("://"), url.rfind('@')) {
            (Some(scheme), Some(at)) if at > scheme => {
                format!("{}***{}", &url[..scheme + 3], &url[at..])
            }
            _ => url.to_owned(),
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// async-nats' connect options for the credentials given.
async fn nats_options(auth: &crate::cli::NatsAuth) -> Result<async_nats::ConnectOptions> {
    let usage = |flag: &str, path: &std::path::Path, e: &dyn std::fmt::Display| -> anyhow::Error {
        UsageError(format!("{flag} {}: {e}", path.display())).into()
    };
    let mut options = async_nats::ConnectOptions::new();
    if let Some(path) = &auth.nats_creds {
        options = options
            .credentials_file(path)
            .await
            .map_err(|e| usage("--nats-creds", path, &e))?;
    }
    if let Some(path) = &auth.nats_nkey {
        let seed = std::fs::read_to_string(path).map_err(|e| usage("--nats-nkey", path, &e))?;
        let seed = seed
            .lines()
            .map(str::trim)
            .find(|line| line.starts_with("SU"))
            .ok_or_else(|| usage("--nats-nkey", path, &"holds no user nkey seed (SU...)"))?;
        options = options.nkey(seed.to_owned());
    }
    if let (Some(user), Some(password)) = (&auth.nats_user, &auth.nats_password) {
        options = options.user_and_password(user.clone(), password.clone());
    }
    if let Some(token) = &auth.nats_token {
        options = options.token(token.clone());
    }
    if let Some(path) = &auth.nats_ca_cert {
        std::fs::metadata(path).map_err(|e| usage("--nats-ca-cert", path, &e))?;
        options = options
            .add_root_certificates(path.clone())
            .require_tls(true);
    }
    if let (Some(cert), Some(key)) = (&auth.nats_client_cert, &auth.nats_client_key) {
        for (flag, path) in [("--nats-client-cert", cert), ("--nats-client-key", key)] {
            std::fs::metadata(path).map_err(|e| usage(flag, path, &e))?;
        }
        options = options
            .add_client_certificate(cert.clone(), key.clone())
            .require_tls(true);
    }
    Ok(options)
}

/// The stream `name`, created with SUBJECT and a 10-minute duplicate window when missing; an
/// existing stream must cover SUBJECT.
async fn ensure_stream(
    jetstream: &jetstream::Context,
    name: &str,
    subject: &str,
) -> Result<stream::Stream> {
    let config = stream::Config {
        name: name.to_owned(),
        subjects: vec![subject.to_owned()],
        duplicate_window: DUPLICATE_WINDOW,
        ..Default::default()
    };
    let mut stream = match jetstream.get_or_create_stream(config).await {
        Ok(stream) => stream,
        // Another relay may have created it between our lookup and our create.
        Err(first) => jetstream.get_stream(name).await.map_err(|_| {
            Unreachable(format!("cannot create or open the stream {name}: {first}"))
        })?,
    };
    let info = stream
        .info()
        .await
        .map_err(|e| Unreachable(format!("cannot read the stream {name}: {e}")))?;
    let subjects = &info.config.subjects;
    if !subjects.iter().any(|pattern| covers(pattern, subject)) {
        bail!(UsageError(format!(
            "the stream {name} exists with subjects {subjects:?}, which do not cover {subject}; add {subject} to it or choose another --stream"
        )));
    }
    if info.config.duplicate_window < DUPLICATE_WINDOW {
        tracing::warn!(
            "the stream {name} drops duplicates only within {:?}; two relays (or a restart) further apart than that store an incident twice",
            info.config.duplicate_window
        );
    }
    Ok(stream)
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

/// A subject to publish to: tokens separated by dots, no wildcards.
fn check_subject(subject: &str) -> Result<()> {
    let valid = !subject.is_empty()
        && subject.split('.').all(|token| {
            !token.is_empty()
                && token != "*"
                && token != ">"
                && !token.contains(char::is_whitespace)
        });
    if !valid {
        bail!(UsageError(format!(
            "--subject {subject:?} must be a literal subject such as incidents.new (no wildcards)"
        )));
    }
    Ok(())
}

/// Whether the stream subject `pattern` (`*` one token, `>` the rest) matches `subject`.
fn covers(pattern: &str, subject: &str) -> bool {
    let mut tokens = subject.split('.');
    for part in pattern.split('.') {
        match (part, tokens.next()) {
            (">", Some(_)) => return true,
            ("*", Some(_)) => {}
            (part, Some(token)) if part == token => {}
            _ => return false,
        }
    }
    tokens.next().is_none()
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
    fn stream_subjects_cover_like_nats() {
        assert!(covers("incidents.new", "incidents.new"));
        assert!(covers("incidents.*", "incidents.new"));
        assert!(covers("incidents.>", "incidents.new.p0"));
        assert!(covers(">", "incidents"));
        assert!(!covers("incidents.*", "incidents.new.p0"));
        assert!(!covers("incidents.new", "incidents.critical"));
        assert!(!covers("incidents.new.p0", "incidents.new"));
        assert!(!covers("incidents.>", "incidents"));
    }

    #[test]
    fn subjects_must_be_literal() {
        assert!(check_subject("incidents.new").is_ok());
        for bad in ["", "incidents.*", "a..b", "incidents.>", "a b"] {
            assert!(check_subject(bad).is_err(), "{bad:?}");
        }
    }

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
