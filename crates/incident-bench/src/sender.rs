//! The purpose-built sender: a graphql-transport-ws server that is never the bottleneck.
//!
//! It runs in its own process (`incident-bench --sender`), acknowledges `connection_init`, and
//! answers each `subscribe` according to the mode in the connection's URL path:
//! - `/flood/N`: N pre-encoded `next` frames, written as fast as the socket takes them, then `complete`;
//! - `/rate/R/N`: N frames at R a second (R = 0: one frame per write, as fast as the socket takes
//!   them), each carrying its send time (Unix nanoseconds) in the title;
//! - `/idle`: nothing (for memory measurements).

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Mutex;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};

/// How many distinct incident frames are encoded up front; more than the client's deduplication
/// window (4,096 ids), so cycling through them never looks like repeats.
const DISTINCT: usize = 8192;

/// What precedes the last twelve hex digits of a flood incident's id.
const ID_PREFIX: &str = "\"5eed0000-0000-0000-0000-";

/// Digits of the send time (Unix nanoseconds) in `/rate` frames.
const TIME_DIGITS: usize = 20;

/// Serves until killed; prints `ADDR` on stdout first.
pub async fn run() -> anyhow::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    println!("{}", listener.local_addr()?);
    let frames: Arc<Vec<String>> =
        Arc::new((0..DISTINCT).map(|n| incident_frame(n, "flood")).collect());
    loop {
        let (stream, _) = listener.accept().await?;
        tokio::spawn(serve(stream, frames.clone()));
    }
}

#[allow(clippy::result_large_err)] // tungstenite's handshake callback returns its large error type.
async fn serve(stream: TcpStream, frames: Arc<Vec<String>>) -> anyhow::Result<()> {
    stream.set_nodelay(true)?;
    let mut path = String::new();
    let socket =
        tokio_tungstenite::accept_hdr_async(stream, |request: &Request, mut response: Response| {
            path = request.uri().path().to_owned();
            response.headers_mut().insert(
                "Sec-WebSocket-Protocol",
                "graphql-transport-ws".parse().expect("valid header"),
            );
            // As every HTTP server sends it: the SDK starts a stream at the server's clock.
            let date = chrono::Utc::now()
                .format("%a, %d %b %Y %H:%M:%S GMT")
                .to_string();
            response
                .headers_mut()
                .insert("Date", date.parse().expect("valid header"));
            Ok(response)
        })
        .await?;
    let (sink, mut source) = socket.split();
    // Shared with the streaming tasks, so this loop keeps reading and answers pings while a
    // subscription streams (the client pings right after subscribing).
    let sink = Arc::new(Mutex::new(sink));
    let parts: Arc<Vec<String>> = Arc::new(
        path.trim_matches('/')
            .split('/')
            .map(str::to_owned)
            .collect(),
    );
    while let Some(message) = source.next().await {
        let Message::Text(text) = message? else {
            continue;
        };
        let message: Value = serde_json::from_str(&text)?;
        match message["type"].as_str() {
            Some("connection_init") => {
                let ack = json!({ "type": "connection_ack" }).to_string();
                sink.lock().await.send(Message::Text(ack.into())).await?
            }
            Some("ping") => {
                let pong = json!({ "type": "pong" }).to_string();
                sink.lock().await.send(Message::Text(pong.into())).await?
            }
            Some("subscribe") => {
                let id = message["id"].as_str().unwrap_or_default().to_owned();
                let (sink, parts, frames) = (sink.clone(), parts.clone(), frames.clone());
                tokio::spawn(async move {
                    if let Err(error) = stream_frames(&sink, &parts, &frames, &id).await {
                        eprintln!("sender: subscription {id}: {error}");
                    }
                });
            }
            _ => {}
        }
    }
    Ok(())
}

type Sink =
    Mutex<futures::stream::SplitSink<tokio_tungstenite::WebSocketStream<TcpStream>, Message>>;

/// Streams one subscription's frames as the path says, then `complete`.
async fn stream_frames(
    sink: &Sink,
    parts: &[String],
    frames: &[String],
    id: &str,
) -> anyhow::Result<()> {
    let complete = || Message::Text(json!({ "type": "complete", "id": id }).to_string().into());
    match parts.first().map(String::as_str) {
        Some("flood") => {
            let count: usize = parts.get(1).and_then(|n| n.parse().ok()).unwrap_or(10_000);
            // Encode every frame for this subscription before sending, so the flood itself is
            // only copying bytes into the socket.
            let own_id = format!("\"id\":\"{id}\"");
            let encoded: Vec<tokio_tungstenite::tungstenite::Utf8Bytes> = frames
                .iter()
                .map(|frame| frame.replacen("\"id\":\"SUB\"", &own_id, 1).into())
                .collect();
            // The lock is taken per batch, so a pong waits for at most one batch.
            // Every incident is distinct (a stream delivers each incident once): the id's last
            // twelve hex digits are the frame's number, written into a copy of its template.
            let id_at: Vec<usize> = encoded
                .iter()
                .map(|frame| frame.find(ID_PREFIX).expect("the id") + ID_PREFIX.len())
                .collect();
            for batch in (0..count).collect::<Vec<_>>().chunks(256) {
                let mut sink = sink.lock().await;
                for &n in batch {
                    let template = &encoded[n % DISTINCT];
                    let at = id_at[n % DISTINCT];
                    let mut frame = String::with_capacity(template.len());
                    frame.push_str(&template[..at]);
                    frame.push_str(&format!("{n:012x}"));
                    frame.push_str(&template[at + 12..]);
                    sink.feed(Message::Text(frame.into())).await?;
                }
                sink.flush().await?;
            }
            sink.lock().await.send(complete()).await?;
        }
        Some("rate") => {
            let rate: f64 = parts.get(1).and_then(|n| n.parse().ok()).unwrap_or(1000.0);
            let count: usize = parts.get(2).and_then(|n| n.parse().ok()).unwrap_or(1000);
            // Encoded up front with a fixed-width placeholder for the send time, so the time is
            // written into the frame just before the write.
            let own_id = format!("\"id\":\"{id}\"");
            let placeholder = format!("t={}", "0".repeat(TIME_DIGITS));
            let templates: Vec<(String, usize)> = (0..count.min(DISTINCT))
                .map(|n| {
                    let frame =
                        incident_frame(n, &placeholder).replacen("\"id\":\"SUB\"", &own_id, 1);
                    let at = frame.find(&placeholder).expect("the placeholder") + 2;
                    (frame, at)
                })
                .collect();
            // Rate 0: one frame per write, as fast as the socket takes them.
            let mut tick = (rate > 0.0).then(|| {
                let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / rate));
                tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
                tick
            });
            for n in 0..count {
                match tick.as_mut() {
                    Some(tick) => {
                        tick.tick().await;
                    }
                    None => tokio::task::yield_now().await,
                }
                let (template, at) = &templates[n % templates.len()];
                let mut frame = template.clone();
                let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_nanos();
                frame.replace_range(*at..at + TIME_DIGITS, &format!("{now:0TIME_DIGITS$}"));
                sink.lock().await.send(Message::Text(frame.into())).await?;
            }
            sink.lock().await.send(complete()).await?;
        }
        _ => {}
    }
    Ok(())
}

/// A `next` frame for `newIncidents` with a realistic incident (about 1.3 KB), subscription id
/// `SUB` to be replaced. The members come in the order async-graphql (the real server) writes
/// them: `type`, `id`, `payload`, and the incident's in the order the SDK's selection names them
/// (async-graphql answers in selection order; `json!` would sort them).
fn incident_frame(n: usize, title: &str) -> String {
    let id = uuid::Uuid::from_u128(0x5eed_0000_0000_0000_0000_0000_0000_0000 + n as u128);
    let created = "2026-11-26T19:22:14.791139941+00:00";
    let incident = Incident {
        id,
        created_at: created,
        updated_at: created,
        state: "DETECTED",
        severity: "P1",
        incident_type: "AVAILABILITY",
        source: "prometheus",
        title,
        description: "Error rate on checkout-api is above 5% for 5 minutes in eu-west-1; p99 latency 2.4 s.",
        affected_resources: json!(["checkout-api", "payments-db"]),
        labels: json!([{ "key": "env", "value": "prod" }, { "key": "region", "value": "eu-west-1" }, { "key": "team", "value": "payments" }]),
        assignees: json!(["oncall-payments"]),
        fingerprint: "9f2c4e1a7b3d5f60",
        correlation_score: 0.87,
        is_active: true,
        is_critical: true,
        related_incidents: json!([{ "id": uuid::Uuid::from_u128(7), "title": "Payments DB failover", "severity": "P2", "state": "INVESTIGATING" }]),
        resolution: Value::Null,
        timeline: json!([
            { "timestamp": created, "eventType": "CREATED", "actor": "alert from prometheus", "description": "incident opened", "metadata": [] },
            { "timestamp": created, "eventType": "NOTIFICATION_SENT", "actor": "pager", "description": "paged oncall-payments", "metadata": [{ "key": "channel", "value": "pagerduty" }] }
        ]),
    };
    let incident = serde_json::to_string(&incident).expect("serializes");
    let payload = format!(r#"{{"data":{{"newIncidents":{incident}}}}}"#);
    format!(r#"{{"type":"next","id":"SUB","payload":{payload}}}"#)
}

/// The payload of flood frame `n`: what a client decodes into the operation's type.
pub fn incident_payload(n: usize) -> String {
    let frame = incident_frame(n, &format!("flood {n}"));
    let start = frame.find("\"payload\":").expect("a payload") + "\"payload\":".len();
    frame[start..frame.len() - 1].to_owned()
}

/// An incident's members in the SDK's selection order.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct Incident<'a> {
    id: uuid::Uuid,
    created_at: &'a str,
    updated_at: &'a str,
    state: &'a str,
    severity: &'a str,
    incident_type: &'a str,
    source: &'a str,
    title: &'a str,
    description: &'a str,
    affected_resources: Value,
    labels: Value,
    assignees: Value,
    fingerprint: &'a str,
    correlation_score: f64,
    is_active: bool,
    is_critical: bool,
    related_incidents: Value,
    resolution: Value,
    timeline: Value,
}
