//! A pager bot: pages for every critical incident, typed by its own GraphQL document.
//!
//! `WS_URL` and `AUTH_TOKEN` say where and as whom; `PAGES` how many pages to send before
//! exiting (default: run until interrupted).

use std::error::Error;

use cynic::SubscriptionBuilder;
use futures::StreamExt;
use incident_client::IncidentClient;

/// The structs generated from `graphql/*.graphql` by `build.rs`.
mod ops {
    include!(concat!(env!("OUT_DIR"), "/ops.rs"));
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let url = std::env::var("WS_URL")?;
    let token = std::env::var("AUTH_TOKEN")?;
    let limit: Option<usize> = std::env::var("PAGES").ok().map(|n| n.parse()).transpose()?;

    let client = IncidentClient::builder(url).token(token).connect().await?;
    // Caught up after reconnects like the SDK's own `critical_incidents()`: `Page` selects
    // `id` and `createdAt`.
    let mut pages = client.subscribe_caught_up(ops::Pages::build(()))?;
    pages.ready().await?;
    eprintln!("subscribed");
    let mut sent = 0;
    while let Some(event) = pages.next().await {
        let page: ops::Page = match event {
            Ok(event) => event.critical_incidents,
            Err(notice) if notice.is_recoverable() => {
                eprintln!("{notice}");
                continue;
            }
            Err(fatal) => return Err(fatal.into()),
        };
        println!(
            "PAGE {} {} {} [{}]",
            page.severity,
            page.id,
            page.title,
            page.affected_resources.join(", ")
        );
        sent += 1;
        if limit.is_some_and(|limit| sent >= limit) {
            break;
        }
    }
    client.shutdown().await;
    Ok(())
}
