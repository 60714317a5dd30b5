//! Subscribes with your own cynic fragment, checked against the schema when it compiles.
//!
//! A crate doing this registers the schema in its `build.rs`, as this one does:
//!
//! ```ignore
//! cynic_codegen::register_schema("incident_manager")
//!     .from_sdl(incident_schema::SDL)?
//!     .as_default()?;
//! ```
//!
//! and uses `incident_client::schema` as its `schema` module.

use std::time::Duration;

use cynic::SubscriptionBuilder;
use futures::StreamExt;
use incident_client::{IncidentClient, schema};

/// Only the fields this program needs.
#[derive(cynic::QueryFragment, Debug)]
#[cynic(graphql_type = "Incident", schema = "incident_manager")]
struct Headline {
    title: String,
    severity: incident_client::Severity,
    affected_resources: Vec<String>,
}

#[derive(cynic::QueryVariables, Debug)]
struct Variables {
    severities: Option<Vec<incident_client::Severity>>,
}

#[derive(cynic::QueryFragment, Debug)]
#[cynic(
    graphql_type = "SubscriptionRoot",
    variables = "Variables",
    schema = "incident_manager"
)]
struct Headlines {
    #[arguments(severities: $severities)]
    new_incidents: Headline,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let server = incident_devserver::DevServer::builder()
        .demo_traffic(5.0)
        .start()
        .await?;
    let client = IncidentClient::builder(server.ws_url())
        .token(server.mint_token("example", Duration::from_secs(600)))
        .connect()
        .await?;
    let operation = Headlines::build(Variables {
        severities: Some(vec![
            incident_client::Severity::P2,
            incident_client::Severity::P3,
        ]),
    });
    let mut headlines = client.subscribe(operation)?;
    for _ in 0..3 {
        if let Some(event) = headlines.next().await {
            let incident = event?.new_incidents;
            println!(
                "{} {} ({})",
                incident.severity,
                incident.title,
                incident.affected_resources.join(", ")
            );
        }
    }
    client.shutdown().await;
    server.shutdown().await;
    Ok(())
}
