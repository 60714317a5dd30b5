//! Streams critical incidents as typed values.
//!
//! With `WS_URL` (and `AUTH_TOKEN`) set it connects there; otherwise it starts the dev server
//! in-process with demo traffic and connects to that.
//!
//! ```sh
//! cargo run -p incident-client --example watch_critical
//! WS_URL=ws://localhost:8080/graphql/ws AUTH_TOKEN=... cargo run -p incident-client --example watch_critical
//! ```

use std::time::Duration;

use futures::StreamExt;
use incident_client::IncidentClient;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let (_server, ws_url, token) = match std::env::var("WS_URL") {
        Ok(url) => (None, url, std::env::var("AUTH_TOKEN").ok()),
        Err(_) => {
            let server = incident_devserver::DevServer::builder()
                .demo_traffic(5.0)
                .start()
                .await?;
            let token = server.mint_token("example", Duration::from_secs(3600));
            eprintln!(
                "no WS_URL: streaming from an embedded dev server at {}",
                server.ws_url()
            );
            (Some(server.clone()), server.ws_url(), Some(token))
        }
    };
    let mut builder = IncidentClient::builder(ws_url);
    if let Some(token) = token {
        builder = builder.token(token);
    }
    let client = builder.connect().await?;
    let mut critical = client.critical_incidents()?;
    for _ in 0..5 {
        match tokio::time::timeout(Duration::from_secs(30), critical.next()).await {
            Ok(Some(Ok(incident))) => println!(
                "{} {:>13} {}",
                incident.severity, incident.state, incident.title
            ),
            Ok(Some(Err(error))) if error.is_recoverable() => eprintln!("warning: {error}"),
            Ok(Some(Err(error))) => return Err(error.into()),
            Ok(None) => break,
            Err(_) => {
                eprintln!("no critical incident in 30 s");
                break;
            }
        }
    }
    client.shutdown().await;
    Ok(())
}
