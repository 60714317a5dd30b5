//! The one-shot commands: alerts, incidents, serve, token.

use std::collections::BTreeMap;

use anyhow::{Context, Result};
use cynic::{MutationBuilder, QueryBuilder};
use futures::TryStreamExt;
use incident_client::enums::{IncidentSortField, SortOrder};
use incident_client::inputs::{
    IncidentFilterInput, IncidentSortInput, PaginationInput, ResolveIncidentInput,
};
use incident_client::operations::*;
use incident_client::{AlertSubmission, IncidentClient};

use crate::cli::{AlertArgs, AlertCommand, Global, IncidentsArgs, IncidentsCommand};
#[cfg(feature = "devserver")]
use crate::cli::{ServeArgs, TokenArgs, TokenCommand};
use crate::exit::{UsageError, parse};

/// A client for `--ws-url`, which the one-shot commands require. Lazy: they only use HTTP
/// (queries, mutations, REST alerts), so no WebSocket is opened, and a server that serves no
/// WebSocket route works too.
async fn client(global: &Global) -> Result<IncidentClient> {
    let url = crate::global::require_ws_url(
        global,
        "the server (for example ws://localhost:8080/graphql/ws)",
    )?;
    crate::global::builder(global, url)?
        .lazy(true)
        .connect()
        .await
        .with_context(|| format!("connecting to {url}"))
}

/// `incident alert submit`.
pub async fn alert(global: &Global, args: AlertArgs) -> Result<()> {
    let AlertCommand::Submit(args) = args.command;
    let mut alert = AlertSubmission::new(
        args.source,
        args.title,
        args.severity,
        parse(&args.alert_type)?,
    );
    alert.description = args.description;
    alert.labels = args
        .labels
        .iter()
        .map(|label| {
            label
                .split_once('=')
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .ok_or_else(|| UsageError(format!("--label takes key=value, got {label:?}")).into())
        })
        .collect::<Result<BTreeMap<_, _>>>()?;
    alert.affected_services = args.services;
    alert.runbook_url = args.runbook;
    alert.external_id = args.external_id;
    let client = client(global).await?;
    let receipt = client
        .submit_alert(&alert)
        .await
        .context("submitting the alert")?;
    if args.json {
        println!(
            "{}",
            serde_json::json!({
                "alert_id": receipt.alert_id, "incident_id": receipt.incident_id,
                "status": format!("{:?}", receipt.status), "message": receipt.message,
            })
        );
    } else {
        let incident = receipt
            .incident_id
            .map(|id| id.to_string())
            .unwrap_or_else(|| "-".into());
        println!(
            "{:?}: alert {} -> incident {} ({})",
            receipt.status, receipt.alert_id, incident, receipt.message
        );
    }
    client.shutdown().await;
    Ok(())
}

/// `incident incidents ...`.
pub async fn incidents(global: &Global, args: IncidentsArgs) -> Result<()> {
    let client = client(global).await?;
    match args.command {
        IncidentsCommand::List {
            severities,
            states,
            active_only,
            page,
            page_size,
            all,
            json,
        } => {
            let filter = IncidentFilterInput {
                severities: crate::global::severities(&severities),
                states: Some(
                    states
                        .iter()
                        .map(|s| parse(s))
                        .collect::<Result<Vec<_>>>()?,
                )
                .filter(|s| !s.is_empty()),
                sources: None,
                active_only: active_only.then_some(true),
            };
            if all {
                list_all(&client, filter, json).await?;
            } else {
                list_page(&client, filter, page, page_size, json).await?;
            }
        }
        IncidentsCommand::Get { id, json } => {
            let incident = client
                .execute(GetIncident::build(GetIncidentVariables { id: parse(&id)? }))
                .await?
                .incident;
            if json {
                println!("{}", serde_json::to_string(&incident)?);
            } else {
                println!(
                    "{} {} {} — {}",
                    incident.severity, incident.state, incident.title, incident.id
                );
                println!(
                    "source {}; opened {}; assignees {}",
                    incident.source,
                    incident.created_at,
                    incident.assignees.join(", ")
                );
                for event in &incident.timeline {
                    println!(
                        "  {} {} {}: {}",
                        event.timestamp, event.event_type, event.actor, event.description
                    );
                }
            }
        }
        IncidentsCommand::Resolve {
            id,
            notes,
            method,
            root_cause,
        } => {
            let input = ResolveIncidentInput {
                method: parse(&method.replace('-', "_"))?,
                notes,
                root_cause,
            };
            let incident = client
                .execute(ResolveIncident::build(ResolveIncidentVariables {
                    id: parse(&id)?,
                    input,
                }))
                .await?
                .resolve_incident;
            println!("{} is {}", incident.id, incident.state);
        }
        IncidentsCommand::Comment { id, text } => {
            let incident = client
                .execute(AddComment::build(AddCommentVariables {
                    incident_id: parse(&id)?,
                    comment: text,
                }))
                .await?
                .add_comment;
            println!(
                "commented on {} ({} timeline events)",
                incident.id,
                incident.timeline.len()
            );
        }
    }
    client.shutdown().await;
    Ok(())
}

/// `incident serve`: the dev server in the foreground.
#[cfg(feature = "devserver")]
pub async fn serve(args: ServeArgs) -> Result<()> {
    let builder = args.builder().map_err(UsageError)?;
    let server = builder.start().await?;
    crate::logging::status(&format!(
        "serving {} and {}; Ctrl-C to stop",
        server.http_url(),
        server.ws_url()
    ));
    tokio::signal::ctrl_c().await?;
    server.shutdown().await;
    Ok(())
}

/// `incident token mint`.
#[cfg(feature = "devserver")]
pub fn token(args: TokenArgs) -> Result<()> {
    let TokenCommand::Mint(mint) = args.command;
    println!("{}", mint.mint());
    Ok(())
}

/// One page of `incidents list`, newest first.
async fn list_page(
    client: &IncidentClient,
    filter: IncidentFilterInput,
    page: i32,
    page_size: i32,
    json: bool,
) -> Result<()> {
    let variables = ListIncidentsVariables {
        filter: Some(filter),
        pagination: Some(PaginationInput { page, page_size }),
        sort: None,
    };
    let page = client
        .execute(ListIncidents::build(variables))
        .await?
        .incidents;
    if json {
        println!("{}", serde_json::to_string(&page)?);
    } else {
        for incident in &page.incidents {
            print_line(incident);
        }
        let info = &page.page_info;
        crate::logging::status(&format!(
            "page {} of {} ({} incidents)",
            info.page + 1,
            info.total_pages.max(1),
            info.total_count
        ));
    }
    Ok(())
}

/// `incidents list --all`: every page, oldest first (so incidents opened meanwhile land on later
/// pages instead of shifting earlier ones), printed as each page arrives.
async fn list_all(client: &IncidentClient, filter: IncidentFilterInput, json: bool) -> Result<()> {
    let oldest_first = IncidentSortInput {
        field: IncidentSortField::CreatedAt,
        order: SortOrder::Asc,
    };
    let mut incidents = std::pin::pin!(client.incidents_paged(Some(filter), oldest_first));
    let mut total = 0usize;
    while let Some(incident) = incidents.try_next().await? {
        if json {
            println!("{}", serde_json::to_string(&incident)?);
        } else {
            print_line(&incident);
        }
        total += 1;
    }
    crate::logging::status(&format!("{total} incidents"));
    Ok(())
}

/// One incident as a line of `incidents list`.
fn print_line(incident: &IncidentFields) {
    println!(
        "{}  {} {:<13} {}",
        incident.id, incident.severity, incident.state, incident.title
    );
}
