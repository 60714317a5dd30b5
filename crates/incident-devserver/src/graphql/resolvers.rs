//! Query and mutation root fields. Arguments arrive as JSON; answers leave as JSON shaped like the
//! schema's output types (incidents as `views` shapes them), which `schema.rs` then serves field
//! by field.

use serde::Deserialize;
use serde_json::{Value, json};

use super::inputs::{CreateIncidentInput, Pagination, ResolveInput, SortInput, SubmitAlertInput};
use crate::data::{IncidentChanges, IncidentFilter, Store, StoreError};
use crate::model::{Incident, Severity, labels_from_json};
use crate::shared::Shared;
use crate::views;

/// Resolves the root query or mutation field `name`.
pub(super) fn resolve(
    shared: &Shared,
    name: &str,
    args: &Value,
    actor: &str,
) -> async_graphql::Result<Value> {
    let store = &shared.store;
    let incident = |result: Result<Incident, StoreError>| -> async_graphql::Result<Value> {
        result
            .map(|i| views::incident(store, &i))
            .map_err(|e| async_graphql::Error::new(e.to_string()))
    };
    match name {
        "health" => Ok(views::health()),
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
        "incidents": items.iter().map(|i| views::incident(store, i)).collect::<Vec<_>>(),
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
