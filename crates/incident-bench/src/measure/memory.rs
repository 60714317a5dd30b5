//! Memory: growth per idle subscription, per extra SDK connection and per bare
//! tokio-tungstenite connection, as RSS and as live heap bytes, each in a fresh process.

use std::time::Duration;

use anyhow::{Context, Result};
use futures::StreamExt;
use incident_client::IncidentClient;
use tokio_tungstenite::tungstenite::Message;

use super::process::{RawSocket, Sender, raw_subscription};

/// Memory growth per item, in bytes.
#[derive(Debug, Clone, Copy)]
pub struct Memory {
    /// Resident set size: what the operating system charges, in 4 KiB pages.
    pub rss: f64,
    /// Live heap bytes, counted by the allocator: exact, whatever the count.
    pub heap: f64,
}

/// Live heap bytes of this process: allocated less freed, since start.
pub(crate) fn heap() -> i64 {
    let stats = crate::GLOBAL.stats();
    stats.bytes_allocated as i64 - stats.bytes_deallocated as i64
}

/// Memory of this process at one moment, to measure growth from.
struct Snapshot {
    rss: u64,
    heap: i64,
}

impl Snapshot {
    fn take() -> Result<Snapshot> {
        Ok(Snapshot {
            rss: rss()?,
            heap: heap(),
        })
    }

    /// Growth since this snapshot, per item of `count`.
    fn growth_per(&self, count: usize) -> Result<Memory> {
        let now = Snapshot::take()?;
        Ok(Memory {
            rss: now.rss.saturating_sub(self.rss) as f64 / count as f64,
            heap: (now.heap - self.heap) as f64 / count as f64,
        })
    }
}

/// Resident memory of this process, in bytes.
pub(crate) fn rss() -> Result<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm")?;
    let pages: u64 = statm.split_whitespace().nth(1).context("statm")?.parse()?;
    Ok(pages * 4096)
}

/// Lets allocations settle before reading RSS.
pub(crate) async fn settle() {
    tokio::time::sleep(Duration::from_millis(300)).await;
}

/// Memory growth per idle `new_incidents` subscription, `count` of them on one connection.
pub async fn memory_per_subscription(addr: &str, count: usize) -> Result<Memory> {
    let client = IncidentClient::builder(format!("ws://{addr}/idle"))
        .connect()
        .await?;
    // Warm up the code paths and allocator pools with one subscription like the measured ones,
    // dropped again: what it kept (the stored operation, say) is released and paid again below.
    drop(client.new_incidents(None)?);
    settle().await;
    let before = Snapshot::take()?;
    let subscriptions: Vec<_> = (0..count)
        .map(|_| client.new_incidents(None))
        .collect::<Result<_, _>>()?;
    settle().await;
    let memory = before.growth_per(count)?;
    drop(subscriptions);
    client.shutdown().await;
    Ok(memory)
}

/// Memory growth per extra connection, `count` clients with one idle subscription each.
pub async fn memory_per_connection(addr: &str, count: usize) -> Result<Memory> {
    let url = format!("ws://{addr}/idle");
    // One connection like the measured ones first, kept: the figure is per extra connection.
    let warm = IncidentClient::builder(url.as_str()).connect().await?;
    let _warm_subscription = warm.new_incidents(None)?;
    settle().await;
    let before = Snapshot::take()?;
    let mut clients = Vec::with_capacity(count);
    for _ in 0..count {
        let client = IncidentClient::builder(url.as_str()).connect().await?;
        let subscription = client.new_incidents(None)?;
        clients.push((client, subscription));
    }
    settle().await;
    let memory = before.growth_per(count)?;
    for (client, _) in &clients {
        client.shutdown().await;
    }
    warm.shutdown().await;
    Ok(memory)
}

/// The same for the bare reader: a tokio-tungstenite connection with its default configuration,
/// subscribed once, read by its own task, as a hand-written client (the seed's Rust example) holds it.
pub async fn memory_per_bare_connection(addr: &str, count: usize) -> Result<Memory> {
    let sender = Sender::at(addr);
    let hold = |socket: RawSocket| {
        tokio::spawn(async move {
            let mut socket = socket;
            while let Ok(Some(_)) = next_untyped(&mut socket).await {}
        })
    };
    let warm = hold(raw_subscription(&sender, "idle").await?);
    settle().await;
    let before = Snapshot::take()?;
    let mut readers = Vec::with_capacity(count);
    for _ in 0..count {
        readers.push(hold(raw_subscription(&sender, "idle").await?));
    }
    settle().await;
    let memory = before.growth_per(count)?;
    for reader in readers {
        reader.abort();
    }
    warm.abort();
    Ok(memory)
}

/// The next frame parsed into untyped JSON; `None` after `complete`.
async fn next_untyped(socket: &mut RawSocket) -> Result<Option<serde_json::Value>> {
    while let Some(message) = socket.next().await {
        let Message::Text(text) = message? else {
            continue;
        };
        let value: serde_json::Value = serde_json::from_str(&text)?;
        if value["type"] == "complete" {
            return Ok(None);
        }
        return Ok(Some(value));
    }
    Ok(None)
}
