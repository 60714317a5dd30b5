//! Catching up a subscription: reading its operation to build the listing query.
//!
//! Every caught-up stream, the SDK's own (`new_incidents`, `critical_incidents`) and a user's
//! operation on `newIncidents` or `criticalIncidents` (`subscribe_caught_up`), catches up with
//! the same query shape, built here from the operation's own document (parsed with cynic-parser,
//! so named fragments, directives, comments and any text are read as GraphQL reads them):
//! `incidents(pagination, sort) { incidents { <the selection> sdkSeverity: severity sdkTimeline:
//! timeline { .. } } pageInfo { totalPages } }` plus the document's fragments. The incidents it
//! lists then decode into the operation's type. The operation must select the incident's `id`
//! and `createdAt` (to deduplicate and to know where to start), directly or through fragments.

use std::sync::Arc;

use cynic_parser::ExecutableDocument;
use cynic_parser::common::OperationType;
use cynic_parser::executable::{Iter, OperationDefinition, Selection};
use incident_schema::Severity;
use serde_json::Value;

use crate::catchup::CatchupSpec;
use crate::delivery::listing::ADDED_SELECTION;
use crate::error::{Error, Result};

/// The catch-up for the serialized operation `payload` (`{"query": .., "variables": ..,
/// "operationName": ..}`).
pub(crate) fn spec_for(payload: &str) -> Result<CatchupSpec> {
    let payload: Value = serde_json::from_str(payload).map_err(|e| unsupported(e.to_string()))?;
    let query = payload["query"]
        .as_str()
        .ok_or_else(|| unsupported("the operation has no query text".into()))?;
    let document = cynic_parser::parse_executable_document(query)
        .map_err(|e| unsupported(format!("the operation cannot be parsed: {e}")))?;
    let operation = operation(&document, payload["operationName"].as_str())?;
    if operation.operation_type() != OperationType::Subscription {
        return Err(unsupported("the operation is not a subscription".into()));
    }
    let mut roots = operation.selection_set();
    let root = match (roots.next(), roots.next()) {
        (Some(Selection::Field(root)), None) => root,
        (Some(_), None) => {
            return Err(unsupported(
                "the subscription's root field must be selected directly".into(),
            ));
        }
        (None, _) => return Err(unsupported("the subscription selects no field".into())),
        (Some(_), Some(_)) => {
            return Err(unsupported(
                "a subscription with more than one root field cannot be caught up".into(),
            ));
        }
    };
    let root_field = match root.name() {
        "newIncidents" => "newIncidents",
        "criticalIncidents" => "criticalIncidents",
        other => {
            return Err(unsupported(format!(
                "only newIncidents and criticalIncidents can be caught up, not {other}"
            )));
        }
    };
    if root.alias().is_some() {
        return Err(unsupported(
            "an aliased root field cannot be caught up".into(),
        ));
    }
    if root.directives().len() > 0 {
        return Err(unsupported(
            "a root field with directives cannot be caught up".into(),
        ));
    }
    for needed in ["id", "createdAt"] {
        if !selects(&document, root.selection_set(), needed, 0) {
            return Err(unsupported(format!(
                "select `{needed}` on {root_field} to catch it up (it names and orders incidents)"
            )));
        }
    }
    let severities = match root_field {
        "criticalIncidents" => Some(vec![Severity::P0, Severity::P1]),
        _ => match root.arguments().find(|a| a.name() == "severities") {
            None => None,
            Some(argument) => severities(argument.value(), &payload["variables"])?,
        },
    };
    let span = root
        .selection_set_span()
        .ok_or_else(|| unsupported(format!("{root_field} has no selection")))?;
    // The selection without its closing brace, then what the machine reads and removes.
    let selection = query[span.start..span.end].trim_end();
    let selection = selection.strip_suffix('}').unwrap_or(selection);
    let fragments: Vec<String> = document
        .fragments()
        .map(|fragment| {
            let span = fragment.selection_set_span();
            format!(
                "fragment {} on {} {}",
                fragment.name(),
                fragment.type_condition(),
                &query[span.start..span.end]
            )
        })
        .collect();
    // The operation's variables that the selection (or a fragment) uses come along, declared
    // as the operation declares them, with the values it was sent with.
    let mut declared = String::new();
    let mut variables = serde_json::Map::new();
    for definition in operation.variable_definitions() {
        let name = definition.name();
        let used =
            uses_variable(selection, name) || fragments.iter().any(|f| uses_variable(f, name));
        if !used {
            continue;
        }
        if matches!(name, "pagination" | "sort") {
            return Err(unsupported(format!(
                "the selection uses ${name}, a name the catch-up query needs for itself"
            )));
        }
        declared.push_str(&format!(", ${name}: {}", definition.ty()));
        if let Some(value) = payload["variables"].get(name) {
            variables.insert(name.to_owned(), value.clone());
        }
    }
    let mut catchup = format!(
        "query CatchUp($pagination: PaginationInput, $sort: IncidentSortInput{declared}) {{ incidents(pagination: $pagination, sort: $sort) {{ incidents {selection} {ADDED_SELECTION} }} pageInfo {{ totalPages }} }} }}"
    );
    for fragment in fragments {
        catchup.push('\n');
        catchup.push_str(&fragment);
    }
    Ok(CatchupSpec {
        root_field,
        severities,
        query: Arc::from(catchup),
        variables,
    })
}

/// Whether GraphQL `text` refers to variable `$name` (not to a longer name that starts with it).
fn uses_variable(text: &str, name: &str) -> bool {
    let needle = format!("${name}");
    text.match_indices(&needle).any(|(at, _)| {
        !text[at + needle.len()..]
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
    })
}

fn unsupported(reason: String) -> Error {
    Error::UnsupportedOperation { reason }
}

/// The operation named `name`, or the only one.
fn operation<'a>(
    document: &'a ExecutableDocument,
    name: Option<&str>,
) -> Result<OperationDefinition<'a>> {
    let mut operations = document.operations();
    match name {
        Some(name) => document
            .operations()
            .find(|o| o.name() == Some(name))
            .ok_or_else(|| unsupported(format!("the document has no operation {name}"))),
        None => match (operations.next(), operations.next()) {
            (Some(only), None) => Ok(only),
            (None, _) => Err(unsupported("the document has no operation".into())),
            (Some(_), Some(_)) => Err(unsupported(
                "the document has several operations and no operationName".into(),
            )),
        },
    }
}

/// Whether `selections` select `field` (not aliased to another) on the incident itself,
/// directly, in an inline fragment or in a named one.
fn selects(
    document: &ExecutableDocument,
    selections: Iter<'_, Selection<'_>>,
    field: &str,
    depth: usize,
) -> bool {
    if depth > 16 {
        return false;
    }
    selections.into_iter().any(|selection| match selection {
        Selection::Field(selected) => {
            selected.name() == field && selected.alias().is_none_or(|alias| alias == field)
        }
        Selection::InlineFragment(inline) => {
            selects(document, inline.selection_set(), field, depth + 1)
        }
        Selection::FragmentSpread(spread) => document
            .fragments()
            .find(|f| f.name() == spread.fragment_name())
            .is_some_and(|f| selects(document, f.selection_set(), field, depth + 1)),
    })
}

/// The `severities` argument, from a variable or a literal list; `None` for null (all).
fn severities(value: cynic_parser::Value<'_>, variables: &Value) -> Result<Option<Vec<Severity>>> {
    use cynic_parser::Value as Literal;
    let names: Vec<String> = match value {
        Literal::Variable(variable) => {
            let name = variable.name();
            match &variables[name] {
                Value::Null => return Ok(None),
                Value::Array(items) => items
                    .iter()
                    .map(|v| v.as_str().map(str::to_owned))
                    .collect::<Option<_>>()
                    .ok_or_else(|| unsupported(format!("${name} is not a list of severities")))?,
                _ => return Err(unsupported(format!("${name} is not a list of severities"))),
            }
        }
        Literal::Null(_) => return Ok(None),
        Literal::List(list) => list
            .items()
            .map(|item| match item {
                Literal::Enum(value) => Ok(value.name().to_owned()),
                _ => Err(unsupported("severities are enum values".into())),
            })
            .collect::<Result<_>>()?,
        Literal::Enum(value) => vec![value.name().to_owned()],
        _ => return Err(unsupported("severities is not a list".into())),
    };
    names
        .iter()
        .map(|name| {
            name.parse::<Severity>()
                .map_err(|_| unsupported(format!("{name} is not a severity")))
        })
        .collect::<Result<Vec<_>>>()
        .map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec(query: &str, variables: Value) -> Result<CatchupSpec> {
        spec_for(&json!({ "query": query, "variables": variables }).to_string())
    }

    #[test]
    fn a_new_incidents_selection_becomes_the_catch_up_selection() {
        let spec = spec(
            "subscription Mine($severities: [Severity!]) {\n  newIncidents(severities: $severities) {\n    id\n    createdAt\n    title\n    labels { key value }\n  }\n}\n",
            json!({ "severities": ["P0", "P2"] }),
        )
        .unwrap();
        assert_eq!(spec.root_field, "newIncidents");
        assert_eq!(spec.severities, Some(vec![Severity::P0, Severity::P2]));
        let query = spec.query;
        assert!(
            query.contains(
                "incidents {\n    id\n    createdAt\n    title\n    labels { key value }\n   sdkSeverity: severity sdkTimeline: timeline { eventType description metadata { key value } } } pageInfo { totalPages }"
            ),
            "{query}"
        );
        // The listing is read oldest first and unfiltered: the machine filters by the severity
        // each incident opened with.
        assert!(query.starts_with("query CatchUp($pagination: PaginationInput, $sort: IncidentSortInput) { incidents(pagination: $pagination, sort: $sort) {"), "{query}");
        cynic_parser::parse_executable_document(&query).unwrap();
    }

    #[test]
    fn named_fragments_directives_and_non_ascii_text_are_read() {
        let spec = spec(
            "subscription Mine { newIncidents { ...Fields title @include(if: true) } }\n# Überwachung: «critical» 🚨\nfragment Fields on Incident { id createdAt labels { key value } }",
            Value::Null,
        )
        .unwrap();
        let query = &*spec.query;
        assert!(
            query.contains("...Fields title @include(if: true)"),
            "{query}"
        );
        assert!(
            query.ends_with("fragment Fields on Incident { id createdAt labels { key value } }"),
            "{query}"
        );
        cynic_parser::parse_executable_document(query).unwrap();
    }

    #[test]
    fn variables_the_selection_uses_come_along() {
        let spec = spec(
            "subscription Mine($severities: [Severity!], $withLabels: Boolean!, $withLabelsToo: Int) { newIncidents(severities: $severities) { id createdAt labels @include(if: $withLabels) { key } } }",
            json!({ "severities": ["P1"], "withLabels": true, "withLabelsToo": 3 }),
        )
        .unwrap();
        assert!(
            spec.query.starts_with(
                "query CatchUp($pagination: PaginationInput, $sort: IncidentSortInput, $withLabels: Boolean!) {"
            ),
            "{}",
            spec.query
        );
        assert_eq!(spec.variables.len(), 1);
        assert_eq!(spec.variables["withLabels"], json!(true));
        cynic_parser::parse_executable_document(&spec.query).unwrap();
    }

    #[test]
    fn operations_are_picked_by_name_and_inline_fragments_count() {
        let spec = spec_for(
            &json!({
                "query": "query Other { health { status } } subscription Mine { criticalIncidents { ... on Incident { id createdAt } } }",
                "operationName": "Mine",
            })
            .to_string(),
        )
        .unwrap();
        assert_eq!(spec.root_field, "criticalIncidents");
    }

    #[test]
    fn critical_incidents_catch_up_p0_and_p1_and_literals_work() {
        let spec = spec(
            "subscription { criticalIncidents { id createdAt } }",
            Value::Null,
        )
        .unwrap();
        assert_eq!(spec.severities, Some(vec![Severity::P0, Severity::P1]));
        let spec = spec_for(
            &json!({ "query": "subscription { newIncidents(severities: [P3]) { createdAt id } }" })
                .to_string(),
        )
        .unwrap();
        assert_eq!(spec.severities, Some(vec![Severity::P3]));
        let all = spec_for(
            &json!({ "query": "subscription S($s: [Severity!]) { newIncidents(severities: $s) { id createdAt } }", "variables": { "s": null } })
                .to_string(),
        )
        .unwrap();
        assert_eq!(all.severities, None);
    }

    #[test]
    fn what_cannot_be_caught_up_is_a_typed_error() {
        let cases = [
            ("subscription { alerts { id } }", "only newIncidents"),
            (
                "subscription { newIncidents { title createdAt } }",
                "select `id`",
            ),
            (
                "subscription { newIncidents { id title } }",
                "select `createdAt`",
            ),
            (
                "subscription { newIncidents { id createdAt: updatedAt } }",
                "select `createdAt`",
            ),
            (
                "subscription { n: newIncidents { id createdAt } }",
                "aliased",
            ),
            ("query { incidents { total } }", "not a subscription"),
            (
                "subscription { newIncidents { id createdAt } criticalIncidents { id createdAt } }",
                "more than one root field",
            ),
            (
                "subscription { newIncidents { id createdAt }",
                "cannot be parsed",
            ),
        ];
        for (query, expected) in cases {
            let error = spec(query, Value::Null).unwrap_err();
            assert!(error.to_string().contains(expected), "{query}: {error}");
        }
    }

    #[test]
    fn nested_id_and_created_at_do_not_count() {
        let error = spec(
            "subscription { newIncidents { title timeline { id createdAt: timestamp } } }",
            Value::Null,
        )
        .unwrap_err();
        assert!(error.to_string().contains("select `id`"), "{error}");
    }
}
