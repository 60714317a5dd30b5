//! Catching up a user's own subscription: reading its operation to build the catch-up query.
//!
//! A user's operation on `newIncidents` or `criticalIncidents` can be caught up after reconnects
//! like the SDK's own streams if it selects the incident's `id` and `createdAt` (to deduplicate and
//! to know where to start). The catch-up query must return incidents in the operation's own shape,
//! so it is built from the operation's selection: `incidents(filter, pagination, sort) {
//! incidents <the selection> pageInfo { hasNextPage } }`. cynic writes operations with their
//! selections inline, which is all this reads.

use std::ops::Range;
use std::sync::Arc;

use incident_schema::Severity;
use serde_json::Value;

use crate::catchup::CatchupSpec;
use crate::error::{Error, Result};

/// The catch-up for the serialized operation `payload` (`{"query": .., "variables": ..}`).
pub(crate) fn spec_for(payload: &str) -> Result<CatchupSpec> {
    let payload: Value = serde_json::from_str(payload).map_err(|e| unsupported(e.to_string()))?;
    let query = payload["query"]
        .as_str()
        .ok_or_else(|| unsupported("the operation has no query text".into()))?;
    let root = RootField::read(query)?;
    let root_field = match root.name.as_str() {
        "newIncidents" => "newIncidents",
        "criticalIncidents" => "criticalIncidents",
        other => {
            return Err(unsupported(format!(
                "only newIncidents and criticalIncidents can be caught up, not {other}"
            )));
        }
    };
    for needed in ["id", "createdAt"] {
        if !root
            .top_level_fields
            .iter()
            .any(|(key, field)| key == needed && field == needed)
        {
            return Err(unsupported(format!(
                "select `{needed}` on {root_field} to catch it up (it names and orders incidents)"
            )));
        }
    }
    let severities = match root_field {
        "criticalIncidents" => Some(vec![Severity::P0, Severity::P1]),
        _ => match &root.severities {
            None => None,
            Some(value) => severities(value, &payload["variables"])?,
        },
    };
    let selection = &query[root.selection.clone()];
    let catchup = format!(
        "query CatchUp($filter: IncidentFilterInput, $pagination: PaginationInput, $sort: IncidentSortInput) {{ incidents(filter: $filter, pagination: $pagination, sort: $sort) {{ incidents {selection} pageInfo {{ hasNextPage }} }} }}"
    );
    Ok(CatchupSpec {
        root_field,
        severities,
        query: Some(Arc::from(catchup)),
        resume: false,
    })
}

fn unsupported(reason: String) -> Error {
    Error::UnsupportedOperation { reason }
}

/// The `severities` argument, from a variable or a literal list; `None` for null (all).
fn severities(value: &ArgValue, variables: &Value) -> Result<Option<Vec<Severity>>> {
    let names: Vec<String> = match value {
        ArgValue::Variable(name) => match &variables[name] {
            Value::Null => return Ok(None),
            Value::Array(items) => items
                .iter()
                .map(|v| v.as_str().map(str::to_owned))
                .collect::<Option<_>>()
                .ok_or_else(|| unsupported(format!("${name} is not a list of severities")))?,
            _ => return Err(unsupported(format!("${name} is not a list of severities"))),
        },
        ArgValue::Null => return Ok(None),
        ArgValue::List(names) => names.clone(),
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

/// The one root field of a subscription, as much as a catch-up needs of it.
#[derive(Debug)]
struct RootField {
    name: String,
    severities: Option<ArgValue>,
    /// The byte range of its selection set, braces included.
    selection: Range<usize>,
    top_level_fields: Vec<(String, String)>,
}

#[derive(Debug, Clone, PartialEq)]
enum ArgValue {
    Variable(String),
    List(Vec<String>),
    Null,
}

impl RootField {
    fn read(query: &str) -> Result<Self> {
        let tokens = tokenize(query);
        let mut at = 0;
        let text = |i: usize| tokens.get(i).map(|t| &query[t.clone()]);
        if text(at) != Some("subscription") {
            return Err(unsupported("the operation is not a subscription".into()));
        }
        at += 1;
        if text(at).is_some_and(is_name) {
            at += 1;
        }
        if text(at) == Some("(") {
            at = skip_balanced(&tokens, query, at, "(", ")")?;
        }
        if text(at) != Some("{") {
            return Err(unsupported(
                "directives on the operation are not supported".into(),
            ));
        }
        at += 1;
        let name = text(at)
            .filter(|t| is_name(t))
            .ok_or_else(|| unsupported("the subscription selects no field".into()))?
            .to_owned();
        at += 1;
        if text(at) == Some(":") {
            return Err(unsupported(
                "an aliased root field cannot be caught up".into(),
            ));
        }
        let mut severities = None;
        if text(at) == Some("(") {
            let end = skip_balanced(&tokens, query, at, "(", ")")?;
            let mut i = at + 1;
            while i < end - 1 {
                let argument = text(i).unwrap_or_default();
                if text(i + 1) != Some(":") {
                    return Err(unsupported("malformed arguments".into()));
                }
                let (value, next) = arg_value(&tokens, query, i + 2)?;
                if argument == "severities" {
                    severities = Some(value);
                }
                i = next;
            }
            at = end;
        }
        if text(at) != Some("{") {
            return Err(unsupported(format!("{name} has no selection")));
        }
        let start = tokens[at].start;
        let end_index = skip_balanced(&tokens, query, at, "{", "}")?;
        let selection = start..tokens[end_index - 1].end;
        let top_level_fields = top_level_fields(&tokens, query, at + 1, end_index - 1);
        if text(end_index) != Some("}") {
            return Err(unsupported(
                "a subscription with more than one root field cannot be caught up".into(),
            ));
        }
        Ok(Self {
            name,
            severities,
            selection,
            top_level_fields,
        })
    }
}

/// The value at `at` and the index after it.
fn arg_value(tokens: &[Range<usize>], query: &str, at: usize) -> Result<(ArgValue, usize)> {
    let text = |i: usize| tokens.get(i).map(|t| &query[t.clone()]).unwrap_or_default();
    match text(at) {
        "$" => Ok((ArgValue::Variable(text(at + 1).to_owned()), at + 2)),
        "null" => Ok((ArgValue::Null, at + 1)),
        "[" => {
            let end = skip_balanced(tokens, query, at, "[", "]")?;
            let names = (at + 1..end - 1).map(|i| text(i).to_owned()).collect();
            Ok((ArgValue::List(names), end))
        }
        other if other.starts_with('"') => Ok((ArgValue::Null, at + 1)),
        "{" => Ok((ArgValue::Null, skip_balanced(tokens, query, at, "{", "}")?)),
        _ => Ok((ArgValue::Null, at + 1)),
    }
}

/// The `(response key, field)` pairs selected directly in the selection between `from` and `to`
/// (exclusive): `alias: field` is `(alias, field)`, a plain `field` is `(field, field)`.
fn top_level_fields(
    tokens: &[Range<usize>],
    query: &str,
    from: usize,
    to: usize,
) -> Vec<(String, String)> {
    let text = |i: usize| tokens.get(i).map(|t| &query[t.clone()]).unwrap_or_default();
    let mut fields = Vec::new();
    let mut depth = 0usize;
    let mut i = from;
    while i < to {
        match text(i) {
            "{" | "(" => depth += 1,
            "}" | ")" => depth = depth.saturating_sub(1),
            "..." => {
                // A fragment spread or inline fragment: skip its name or type condition.
                i += 1;
                if text(i) == "on" {
                    i += 1;
                }
            }
            name if depth == 0 && is_name(name) => {
                if text(i + 1) == ":" {
                    fields.push((name.to_owned(), text(i + 2).to_owned()));
                    i += 2;
                } else {
                    fields.push((name.to_owned(), name.to_owned()));
                }
            }
            _ => {}
        }
        i += 1;
    }
    fields
}

/// The index after the token that closes the one at `at`.
fn skip_balanced(
    tokens: &[Range<usize>],
    query: &str,
    at: usize,
    open: &str,
    close: &str,
) -> Result<usize> {
    let mut depth = 0usize;
    for (i, token) in tokens.iter().enumerate().skip(at) {
        let text = &query[token.clone()];
        if text == open {
            depth += 1;
        } else if text == close {
            depth -= 1;
            if depth == 0 {
                return Ok(i + 1);
            }
        }
    }
    Err(unsupported(format!("unbalanced {open}{close}")))
}

fn is_name(text: &str) -> bool {
    text.starts_with(|c: char| c == '_' || c.is_ascii_alphabetic())
}

/// GraphQL tokens as byte ranges: names, numbers, strings, punctuators; whitespace, commas and
/// comments dropped.
fn tokenize(text: &str) -> Vec<Range<usize>> {
    let bytes = text.as_bytes();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        let start = i;
        match c {
            b' ' | b'\t' | b'\n' | b'\r' | b',' => i += 1,
            b'#' => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
            }
            b'"' => {
                let block = text[i..].starts_with("\"\"\"");
                i += if block { 3 } else { 1 };
                while i < bytes.len() {
                    if block && text[i..].starts_with("\"\"\"") {
                        i += 3;
                        break;
                    }
                    if !block && bytes[i] == b'\\' {
                        i += 2;
                        continue;
                    }
                    if !block && bytes[i] == b'"' {
                        i += 1;
                        break;
                    }
                    i += 1;
                }
                tokens.push(start..i.min(bytes.len()));
            }
            b'.' if text[i..].starts_with("...") => {
                i += 3;
                tokens.push(start..i);
            }
            c if c == b'_' || c == b'-' || c.is_ascii_alphanumeric() => {
                while i < bytes.len()
                    && (bytes[i] == b'_' || bytes[i] == b'.' || bytes[i].is_ascii_alphanumeric())
                {
                    i += 1;
                }
                i = i.max(start + 1);
                tokens.push(start..i);
            }
            _ => {
                i += 1;
                tokens.push(start..i);
            }
        }
    }
    tokens
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
        let query = spec.query.unwrap();
        assert!(
            query.contains(
                "incidents {\n    id\n    createdAt\n    title\n    labels { key value }\n  } pageInfo { hasNextPage }"
            ),
            "{query}"
        );
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
