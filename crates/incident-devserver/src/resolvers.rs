//! Query and mutation root fields. Arguments arrive as JSON; answers leave as JSON shaped like the
//! schema's output types, which `schema.rs` then serves field by field.

use serde::Deserialize;
use serde_json::{Value, json};

use crate::model::*;
use crate::state::Shared;
use crate::store::{IncidentChanges, IncidentFilter, SortField, Store, StoreError};

/// Resolves the root query or mutation field `name`.
pub fn resolve(
    shared: &Shared,
    name: &str,
    args: &Value,
    actor: &str,
) -> async_graphql::Result<Value> {
    let store = &shared.store;
    let incident = |result: Result<Incident, StoreError>| -> async_graphql::Result<Value> {
        result
            .map(|i| store.incident_json(&i))
            .map_err(|e| async_graphql::Error::new(e.to_string()))
    };
    match name {
        "health" => Ok(json!({ "status": "healthy", "version": env!("CARGO_PKG_VERSION") })),
        "incident" => incident(store.get(arg(args, "id")?).ok_or(StoreError::NotFound)),
        "incidents" => {
            let filter: Option<IncidentFilter> = arg(args, "filter")?;
            let sort: Option<SortInput> = arg(args, "sort")?;
            page(store, &filter.unwrap_or_default(), None, sort, args)
        }
        "activeIncidents" => page(
            store,
            &IncidentFilter {
                active_only: Some(true),
                ..Default::default()
            },
            None,
            None,
            args,
        ),
        "criticalIncidents" => page(
            store,
            &IncidentFilter {
                severities: Some(vec![Severity::P0, Severity::P1]),
                ..Default::default()
            },
            None,
            None,
            args,
        ),
        "searchIncidents" => {
            let query: String = arg(args, "query")?;
            page(store, &IncidentFilter::default(), Some(&query), None, args)
        }
        "playbook" => Err("Playbook not found".into()),
        "playbooks" => Ok(json!([])),
        "incidentStats" => {
            let (total, active, resolved, by) = store.stats();
            Ok(json!({
                "total": total, "active": active, "resolved": resolved,
                "bySeverity": { "p0": by[0], "p1": by[1], "p2": by[2], "p3": by[3], "p4": by[4] },
            }))
        }
        "_service" => Ok(json!({ "sdl": shared.served_sdl.get() })),
        "submitAlert" => {
            let input: SubmitAlertInput = arg(args, "input")?;
            let ack = store.submit_alert(input.into_alert()?);
            Ok(serde_json::to_value(ack)?)
        }
        "createIncident" => {
            let input: CreateIncidentInput = arg(args, "input")?;
            incident(store.create_incident(
                &input.source,
                &input.title,
                &input.description,
                input.severity,
                input.incident_type,
                input.affected_resources,
                labels_from_json(Some(&input.labels)),
                actor,
            ))
        }
        "updateIncident" => {
            let changes: IncidentChanges = arg(args, "input")?;
            incident(store.update_incident(arg(args, "id")?, changes, actor))
        }
        "resolveIncident" => {
            let input: ResolveInput = arg(args, "input")?;
            incident(store.resolve_incident(
                arg(args, "id")?,
                input.method,
                input.notes,
                input.root_cause,
                actor,
            ))
        }
        "addComment" => {
            incident(store.add_comment(arg(args, "incidentId")?, arg(args, "comment")?, actor))
        }
        "assignIncident" => {
            incident(store.assign(arg(args, "incidentId")?, arg(args, "assignees")?, actor))
        }
        "linkIncidents" => {
            incident(store.link(arg(args, "incidentId")?, arg(args, "relatedId")?, actor))
        }
        "escalateIncident" => incident(store.escalate(
            arg(args, "incidentId")?,
            arg(args, "newSeverity")?,
            arg(args, "reason")?,
            actor,
        )),
        other => Err(format!("the dev server does not implement {other}").into()),
    }
}

fn arg<T: for<'de> Deserialize<'de>>(args: &Value, name: &str) -> async_graphql::Result<T> {
    T::deserialize(args.get(name).unwrap_or(&Value::Null))
        .map_err(|e| async_graphql::Error::new(format!("invalid argument {name}: {e}")))
}

#[derive(Deserialize)]
struct SortInput {
    field: SortField,
    order: Option<String>,
}

/// `PaginationInput`. async-graphql's dynamic schema passes input objects as written, so the
/// schema's field defaults are applied here.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct Pagination {
    page: i64,
    page_size: i64,
}

impl Default for Pagination {
    fn default() -> Self {
        Self {
            page: 0,
            page_size: 20,
        }
    }
}

fn page(
    store: &Store,
    filter: &IncidentFilter,
    search: Option<&str>,
    sort: Option<SortInput>,
    args: &Value,
) -> async_graphql::Result<Value> {
    let pagination: Option<Pagination> = arg(args, "pagination")?;
    let Pagination { page, page_size } = pagination.unwrap_or_default();
    if !(1..=100).contains(&page_size) {
        return Err("pageSize must be between 1 and 100".into());
    }
    if page < 0 {
        return Err("page must not be negative".into());
    }
    let (page_size, page) = (page_size as usize, page as usize);
    let sort = sort.map(|s| (s.field, s.order.as_deref() == Some("ASC")));
    let (items, total) = store.list(filter, search, sort, page, page_size);
    let total_pages = total.div_ceil(page_size);
    Ok(json!({
        "incidents": items.iter().map(|i| store.incident_json(i)).collect::<Vec<_>>(),
        "pageInfo": {
            "page": page,
            "pageSize": page_size,
            "totalCount": total,
            "totalPages": total_pages,
            "hasNextPage": page + 1 < total_pages,
            "hasPreviousPage": page > 0,
        },
    }))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreateIncidentInput {
    source: String,
    title: String,
    description: String,
    severity: Severity,
    incident_type: IncidentType,
    #[serde(default)]
    affected_resources: Vec<String>,
    #[serde(default)]
    labels: serde_json::Map<String, Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ResolveInput {
    method: ResolutionMethod,
    notes: String,
    root_cause: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SubmitAlertInput {
    external_id: Option<String>,
    source: String,
    title: String,
    description: String,
    severity: Severity,
    alert_type: IncidentType,
    #[serde(default)]
    labels: serde_json::Map<String, Value>,
    #[serde(default)]
    affected_services: Vec<String>,
    runbook_url: Option<String>,
    #[serde(default)]
    annotations: serde_json::Map<String, Value>,
}

impl SubmitAlertInput {
    fn into_alert(self) -> async_graphql::Result<NewAlert> {
        validate_alert(&self.source, &self.title)?;
        Ok(NewAlert {
            external_id: self.external_id,
            source: self.source,
            title: self.title,
            description: self.description,
            severity: self.severity,
            alert_type: self.alert_type,
            labels: labels_from_json(Some(&self.labels)),
            affected_services: self.affected_services,
            runbook_url: self.runbook_url,
            annotations: labels_from_json(Some(&self.annotations)),
        })
    }
}

/// The real server's alert rules: a source, and a title of 1 to 500 characters.
pub fn validate_alert(source: &str, title: &str) -> Result<(), String> {
    if source.is_empty() {
        return Err("source must not be empty".into());
    }
    if title.is_empty() || title.chars().count() > 500 {
        return Err("title must be 1 to 500 characters".into());
    }
    Ok(())
}
