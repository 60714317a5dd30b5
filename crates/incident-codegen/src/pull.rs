//! `schema pull`: the SDL a server really serves, from servers that refuse full introspection
//! and answer `{ _service { sdl } }` with a federation export. The transport is the caller's
//! (`cargo xtask schema pull`, `incident schema pull`), so both run this one code path.

use cynic_introspection::{IntrospectionQuery, SpecificationVersion};
use incident_sdl::{Change, Roots, Schema, federation};
use serde_json::{Value, json};

use crate::{Error, Result};

/// What a pull found.
#[derive(Debug, Clone)]
pub struct Pulled {
    /// The schema, normalized.
    pub schema: Schema,
    /// What was done to get it, a line each (which queries worked, what was rebuilt).
    pub notes: Vec<String>,
    /// The changes from the current schema, if there was one.
    pub changes: Vec<Change>,
}

/// Sends one GraphQL request body and returns the response body.
pub type Post<'a> = dyn FnMut(&Value) -> std::result::Result<Value, String> + 'a;

/// Fetches the schema through `post`: full introspection first; when the server refuses it,
/// `{ _service { sdl } }`; when that is a federation export, the roots by a small introspection
/// query (or else `template`'s) and federation's own definitions restored. `current` is the
/// schema being replaced (for the change list); `template` supplies what an export leaves out.
pub fn pull(
    post: &mut Post<'_>,
    current: Option<&Schema>,
    template: Option<&Schema>,
) -> Result<Pulled> {
    let mut notes = Vec::new();
    let schema = match introspect(post)? {
        Ok(sdl) => {
            notes.push("fetched the schema by introspection".to_owned());
            parse(&sdl)?
        }
        Err(reason) => {
            notes.push(format!(
                "introspection was refused ({reason}); fetched the schema with {{ _service {{ sdl }} }} instead"
            ));
            let sdl = service_sdl(post)?;
            if federation::is_export(&sdl) {
                let roots = match root_types(post) {
                    Ok(roots) => {
                        notes.push("the server answered with a federation export; read the root types with a small introspection query".to_owned());
                        roots
                    }
                    Err(reason) => {
                        notes.push(format!("the server answered with a federation export and refused the root-type query ({reason}); kept the roots of the current schema"));
                        template.map(|t| t.roots.clone()).unwrap_or_default()
                    }
                };
                notes.push(
                    "restored QueryRoot._service, _Service and _Any, which the export leaves out"
                        .to_owned(),
                );
                federation::rebuild(&sdl, roots, template).map_err(|e| {
                    Error(format!(
                        "rebuilding the schema from the federation export: {e}"
                    ))
                })?
            } else {
                parse(&sdl)?
            }
        }
    };
    let changes = current
        .map(|current| incident_sdl::diff(current, &schema))
        .unwrap_or_default();
    Ok(Pulled {
        schema,
        notes,
        changes,
    })
}

fn parse(sdl: &str) -> Result<Schema> {
    Schema::parse(sdl).map_err(|e| Error(format!("the server's SDL does not parse: {e}")))
}

/// The SDL by full introspection; `Ok(Err(reason))` when the server answers but refuses.
fn introspect(post: &mut Post<'_>) -> Result<std::result::Result<String, String>> {
    let operation =
        IntrospectionQuery::with_capabilities(SpecificationVersion::June2018.capabilities());
    let body = serde_json::to_value(&operation).map_err(|e| Error(e.to_string()))?;
    let answer = post(&body).map_err(Error)?;
    let response: cynic::GraphQlResponse<IntrospectionQuery> = serde_json::from_value(answer)
        .map_err(|e| {
            Error(format!(
                "the introspection answer is not a GraphQL response: {e}"
            ))
        })?;
    if let Some(errors) = response.errors.filter(|e| !e.is_empty()) {
        let messages: Vec<String> = errors.into_iter().map(|e| e.message).collect();
        return Ok(Err(messages.join("; ")));
    }
    let Some(data) = response.data.filter(|d| d.introspected_schema.is_some()) else {
        return Ok(Err("the answer has no data".to_owned()));
    };
    let schema = data
        .into_schema()
        .map_err(|e| Error(format!("the introspection answer is inconsistent: {e}")))?;
    Ok(Ok(schema.to_sdl()))
}

fn service_sdl(post: &mut Post<'_>) -> Result<String> {
    let answer = post(&json!({ "query": "{ _service { sdl } }" })).map_err(Error)?;
    match answer.pointer("/data/_service/sdl").and_then(Value::as_str) {
        Some(sdl) => Ok(sdl.to_owned()),
        None => Err(Error(format!(
            "the server answered {{ _service {{ sdl }} }} without an SDL: {answer}"
        ))),
    }
}

/// The root type names, by the introspection query the server's limits allow.
fn root_types(post: &mut Post<'_>) -> std::result::Result<Roots, String> {
    let answer = post(&json!({ "query": federation::ROOTS_QUERY }))?;
    let name = |key: &str| {
        answer
            .pointer(&format!("/data/__schema/{key}/name"))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let roots = Roots::new(
        name("queryType"),
        name("mutationType"),
        name("subscriptionType"),
    );
    match roots.query {
        Some(_) => Ok(roots),
        None => Err(format!("the answer names no query root: {answer}")),
    }
}
