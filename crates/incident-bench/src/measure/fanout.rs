//! Fan-out: events a second the dev server delivers to many subscribers.

use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use futures::StreamExt;
use incident_client::{IncidentClient, UpdateFilter};
use incident_devserver::DevServer;
use incident_devserver::model::{IncidentType, Severity};

/// Events a second and events received.
#[derive(Debug, Clone, Copy)]
pub struct Rate {
    pub per_second: f64,
    pub events: usize,
}

/// Events a second the dev server delivers to `subscribers` subscribers (100 per connection).
pub async fn fanout(subscribers: usize, events: usize) -> Result<Rate> {
    let server = DevServer::builder()
        .event_capacity(events * 2 + 64)
        .start()
        .await?;
    let token = server.mint_token("bench", Duration::from_secs(600));
    let mut clients = Vec::new();
    let mut streams = Vec::new();
    for n in 0..subscribers {
        if n % 100 == 0 {
            clients.push(
                IncidentClient::builder(server.ws_url())
                    .token(token.clone())
                    .connect()
                    .await?,
            );
        }
        let client = clients.last().expect("one client per 100 subscribers");
        streams.push(client.incident_updates(UpdateFilter::default())?);
    }
    for stream in &streams {
        stream.ready().await?;
    }
    let started = Instant::now();
    for _ in 0..events {
        server.store().create_incident(
            "bench",
            "fan-out",
            "",
            Severity::P2,
            IncidentType::Data,
            vec![],
            vec![],
            "bench",
        )?;
    }
    let readers: Vec<_> = streams
        .into_iter()
        .map(|mut stream| {
            tokio::spawn(async move {
                let mut received = 0;
                while received < events {
                    match stream.next().await {
                        Some(Ok(_)) => received += 1,
                        Some(Err(error)) if error.is_recoverable() => {}
                        _ => break,
                    }
                }
                received
            })
        })
        .collect();
    let mut delivered = 0;
    for reader in readers {
        delivered += reader.await?;
    }
    let elapsed = started.elapsed();
    for client in &clients {
        client.shutdown().await;
    }
    server.shutdown().await;
    if delivered != subscribers * events {
        bail!("fan-out delivered {delivered} of {}", subscribers * events);
    }
    Ok(Rate {
        per_second: delivered as f64 / elapsed.as_secs_f64(),
        events: delivered,
    })
}
