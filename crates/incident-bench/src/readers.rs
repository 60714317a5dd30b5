//! The throughput readers, each run in a process of its own (`incident-bench --reader NAME ...`)
//! so allocator and runtime state cannot leak between them. Each reads one `/flood/N` run and
//! reports the events it decoded, the wall time and the process's CPU time (every thread) spent
//! from its first byte to `complete`.

use std::time::Instant;

use anyhow::{Context, Result, bail};
use futures::StreamExt;
use incident_client::IncidentClient;
use incident_client::operations::IncidentFields;
use serde::Deserialize;
use tokio_tungstenite::tungstenite::Message;

use crate::measure::{RawSocket, Sender, raw_subscription};

/// The four readers of one flood, cheapest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reader {
    /// tokio-tungstenite frames counted, no JSON: the transport's ceiling.
    Frames,
    /// tokio-tungstenite and serde into the same fields the SDK decodes: the floor a Rust client
    /// is judged against.
    Typed,
    /// tokio-tungstenite and `serde_json::Value`: the untyped reader.
    Untyped,
    /// The SDK: `IncidentClient::new_incidents`, decoded into `IncidentFields`.
    Sdk,
    /// graphql-ws-client 0.13's `Client`, decoded into the same `IncidentFields`.
    GraphqlWs,
}

impl Reader {
    pub const ALL: [Reader; 5] = [
        Reader::Frames,
        Reader::Typed,
        Reader::Untyped,
        Reader::Sdk,
        Reader::GraphqlWs,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Reader::Frames => "frames",
            Reader::Typed => "typed",
            Reader::Untyped => "untyped",
            Reader::Sdk => "sdk",
            Reader::GraphqlWs => "graphql-ws-client",
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            Reader::Frames => "frame-counting reader (tokio-tungstenite, no JSON)",
            Reader::Typed => {
                "hand-written typed reader (tokio-tungstenite + serde into the same fields)"
            }
            Reader::Untyped => "untyped reader (tokio-tungstenite + serde_json::Value)",
            Reader::Sdk => "the SDK: `new_incidents()` decoded into `IncidentFields`",
            Reader::GraphqlWs => "graphql-ws-client 0.13 (its `Client`, the same fields)",
        }
    }

    pub fn parse(name: &str) -> Result<Reader> {
        Reader::ALL
            .into_iter()
            .find(|r| r.name() == name)
            .with_context(|| format!("unknown reader {name}"))
    }
}

/// One reader's run.
#[derive(Debug, Clone, Copy)]
pub struct Run {
    pub events: usize,
    pub wall_s: f64,
    pub cpu_s: f64,
}

impl Run {
    pub fn cpu_per_event_us(&self) -> f64 {
        self.cpu_s * 1e6 / self.events as f64
    }

    pub fn per_second(&self) -> f64 {
        self.events as f64 / self.wall_s
    }
}

/// A graphql-transport-ws frame as a hand-written client declares it.
#[derive(Deserialize)]
struct Frame {
    #[serde(rename = "type")]
    kind: String,
    payload: Option<Payload>,
}

#[derive(Deserialize)]
struct Payload {
    data: Data,
}

#[derive(Deserialize)]
struct Data {
    #[serde(rename = "newIncidents")]
    new_incidents: IncidentFields,
}

/// The typed reader's decode: the frame into a struct, the incident into `IncidentFields`
/// (the same serde impl the SDK uses, so both decode exactly the same fields).
pub fn decode_typed(text: &str) -> Result<Option<IncidentFields>> {
    let frame: Frame = serde_json::from_str(text)?;
    match frame.kind.as_str() {
        "next" => Ok(Some(
            frame
                .payload
                .context("next without payload")?
                .data
                .new_incidents,
        )),
        "complete" => Ok(None),
        other => bail!("unexpected {other} frame"),
    }
}

/// Reads `/flood/events` with `reader`.
pub async fn flood(reader: Reader, sender: &Sender, events: usize) -> Result<Run> {
    let path = format!("flood/{events}");
    let (received, started, cpu) = match reader {
        Reader::Sdk => {
            let client = IncidentClient::builder(sender.url(&path))
                .subscription_buffer(events + 16)
                .connect()
                .await?;
            let mut stream = client.new_incidents(None)?;
            let (started, cpu) = (Instant::now(), cpu_time::ProcessTime::now());
            let mut received = 0;
            while let Some(item) = stream.next().await {
                received += usize::from(!item?.title.is_empty());
            }
            let measured = (received, started, cpu);
            client.shutdown().await;
            measured
        }
        Reader::GraphqlWs => {
            let mut stream = crate::gws::subscribe(sender, &path).await?;
            let (started, cpu) = (Instant::now(), cpu_time::ProcessTime::now());
            let mut received = 0;
            while let Some(item) = stream.next().await {
                received += usize::from(!crate::gws::incident(item)?.title.is_empty());
            }
            (received, started, cpu)
        }
        _ => {
            let mut socket = raw_subscription(sender, &path).await?;
            let (started, cpu) = (Instant::now(), cpu_time::ProcessTime::now());
            let received = read_raw(reader, &mut socket).await?;
            (received, started, cpu)
        }
    };
    let run = Run {
        events: received,
        wall_s: started.elapsed().as_secs_f64(),
        cpu_s: cpu.elapsed().as_secs_f64(),
    };
    if received != events {
        bail!(
            "the {} reader received {received} of {events} events",
            reader.name()
        );
    }
    Ok(run)
}

/// The hand-written readers' loop: every text frame until `complete`.
async fn read_raw(reader: Reader, socket: &mut RawSocket) -> Result<usize> {
    let mut received = 0;
    while let Some(message) = socket.next().await {
        let Message::Text(text) = message? else {
            continue;
        };
        let event = match reader {
            // The sender's frames start with their type.
            Reader::Frames => text.as_str().starts_with(r#"{"type":"next""#),
            Reader::Typed => match decode_typed(&text)? {
                Some(incident) => !incident.title.is_empty(),
                None => false,
            },
            Reader::Untyped => {
                let value: serde_json::Value = serde_json::from_str(&text)?;
                value["type"] == "next"
                    && value["payload"]["data"]["newIncidents"]["id"].is_string()
            }
            Reader::Sdk | Reader::GraphqlWs => unreachable!("these read through their clients"),
        };
        if !event {
            break;
        }
        received += 1;
    }
    Ok(received)
}

/// Resident memory of a process holding one connection with one idle subscription, by `reader`:
/// `(RSS at start, RSS after connecting and subscribing, live heap bytes the connection added)`.
/// The RSS growth less the heap growth is mostly code pages first run (and allocator slack); the
/// start figure is the code and runtime every reader pays alike (the same binary).
pub async fn idle_rss(reader: Reader, sender: &Sender) -> Result<(u64, u64, i64)> {
    let start = crate::measure::rss()?;
    let heap_start = crate::measure::heap();
    let after = match reader {
        Reader::Sdk => {
            let client = IncidentClient::builder(sender.url("idle"))
                .connect()
                .await?;
            let subscription = client.new_incidents(None)?;
            subscription.ready().await?;
            crate::measure::settle().await;
            let after = (crate::measure::rss()?, crate::measure::heap() - heap_start);
            drop(subscription);
            client.shutdown().await;
            after
        }
        _ => {
            let socket = raw_subscription(sender, "idle").await?;
            crate::measure::settle().await;
            let after = (crate::measure::rss()?, crate::measure::heap() - heap_start);
            drop(socket);
            after
        }
    };
    Ok((start, after.0, after.1))
}
