//! `cargo xtask schema pull` and `cargo xtask schema diff`.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use cynic_introspection::{IntrospectionQuery, SpecificationVersion};
use incident_sdl::{Change, Schema, Severity};

use crate::codegen;

/// `schema diff`: prints the changes from `old` to `new` grouped by severity; exit 1 when any is
/// breaking (or, with `strict`, when there is any change at all).
pub fn diff_files(
    old: &Path,
    new: &Path,
    ignore_descriptions: bool,
    strict: bool,
) -> Result<ExitCode> {
    let mut old_schema = read_schema(old)?;
    let mut new_schema = read_schema(new)?;
    if ignore_descriptions {
        old_schema.strip_descriptions();
        new_schema.strip_descriptions();
    }
    let changes = incident_sdl::diff(&old_schema, &new_schema);
    print_changes(&changes);
    let failed = if strict {
        !changes.is_empty()
    } else {
        changes.iter().any(|c| c.severity == Severity::Breaking)
    };
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// `schema pull`: fetches the SDL from `url`, by introspection or, when the server refuses that,
/// by `{ _service { sdl } }`; writes it normalized; prints the changes; regenerates code.
pub fn pull(
    root: &Path,
    url: &str,
    headers: &[String],
    out: Option<&Path>,
    run_codegen: bool,
) -> Result<ExitCode> {
    let client = http_client(headers)?;
    let sdl = match introspect(&client, url)? {
        Ok(sdl) => {
            println!("fetched the schema by introspection");
            sdl
        }
        Err(reason) => {
            println!(
                "introspection was refused ({reason}); fetched the schema with {{ _service {{ sdl }} }} instead"
            );
            service_sdl(&client, url)?
        }
    };
    let target = out
        .map(Path::to_path_buf)
        .unwrap_or_else(|| root.join(codegen::SCHEMA_PATH));
    // The schema being replaced, if there is one: roots to fall back on, and the definitions a
    // federation export leaves out.
    let current = match std::fs::read_to_string(&target) {
        Ok(text) => {
            Some(Schema::parse(&text).with_context(|| format!("parsing {}", target.display()))?)
        }
        Err(_) => None,
    };
    // A new file has nothing to fall back on: the project's schema stands in.
    let template = match &current {
        Some(current) => Some(current.clone()),
        None => std::fs::read_to_string(root.join(codegen::SCHEMA_PATH))
            .ok()
            .and_then(|text| Schema::parse(&text).ok()),
    };
    let pulled = if incident_sdl::federation::is_export(&sdl) {
        let roots = match root_types(&client, url) {
            Ok(roots) => {
                println!(
                    "the server answered with a federation export; read the root types with a small introspection query"
                );
                roots
            }
            Err(reason) => {
                let roots = current
                    .as_ref()
                    .map(|c| c.roots.clone())
                    .unwrap_or_default();
                println!(
                    "the server answered with a federation export and refused the root-type query ({reason:#}); kept the roots of {}",
                    target.display()
                );
                roots
            }
        };
        println!("restored QueryRoot._service, _Service and _Any, which the export leaves out");
        incident_sdl::federation::rebuild(&sdl, roots, template.as_ref())
            .context("rebuilding the schema from the federation export")?
    } else {
        Schema::parse(&sdl).context("the server's SDL does not parse")?
    };
    let changes = match &current {
        Some(current) => incident_sdl::diff(current, &pulled),
        None => Vec::new(),
    };
    std::fs::write(&target, pulled.to_sdl())
        .with_context(|| format!("writing {}", target.display()))?;
    println!("wrote {}", target.display());
    print_changes(&changes);
    if run_codegen && out.is_none() {
        return codegen::run(root, false);
    }
    Ok(ExitCode::SUCCESS)
}

fn read_schema(path: &Path) -> Result<Schema> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    Schema::parse(&text).with_context(|| format!("parsing {}", path.display()))
}

fn print_changes(changes: &[Change]) {
    if changes.is_empty() {
        println!("no changes");
        return;
    }
    for severity in [Severity::Breaking, Severity::Dangerous, Severity::Safe] {
        let group: Vec<&Change> = changes.iter().filter(|c| c.severity == severity).collect();
        if group.is_empty() {
            continue;
        }
        println!("{severity} ({}):", group.len());
        for change in group {
            println!("  {change}");
        }
    }
}

fn http_client(headers: &[String]) -> Result<reqwest::blocking::Client> {
    let mut map = reqwest::header::HeaderMap::new();
    for header in headers {
        let Some((name, value)) = header.split_once(':') else {
            bail!("--header takes `Name: value`, got {header:?}");
        };
        map.insert(
            reqwest::header::HeaderName::from_bytes(name.trim().as_bytes())?,
            reqwest::header::HeaderValue::from_str(value.trim())?,
        );
    }
    Ok(reqwest::blocking::Client::builder()
        .default_headers(map)
        .build()?)
}

/// The SDL by introspection, `Ok(Err(reason))` when the server answers but refuses the query.
fn introspect(client: &reqwest::blocking::Client, url: &str) -> Result<Result<String, String>> {
    let operation =
        IntrospectionQuery::with_capabilities(SpecificationVersion::June2018.capabilities());
    let response: cynic::GraphQlResponse<IntrospectionQuery> = client
        .post(url)
        .json(&operation)
        .send()
        .with_context(|| format!("POST {url}"))?
        .error_for_status()?
        .json()
        .context("the introspection answer is not a GraphQL response")?;
    if let Some(errors) = response.errors.filter(|e| !e.is_empty()) {
        let messages: Vec<String> = errors.into_iter().map(|e| e.message).collect();
        return Ok(Err(messages.join("; ")));
    }
    let Some(data) = response.data.filter(|d| d.introspected_schema.is_some()) else {
        return Ok(Err("the answer has no data".to_owned()));
    };
    let schema = data
        .into_schema()
        .context("the introspection answer is inconsistent")?;
    Ok(Ok(schema.to_sdl()))
}

/// The root type names, by the small introspection query the server's limits allow.
fn root_types(client: &reqwest::blocking::Client, url: &str) -> Result<incident_sdl::Roots> {
    let response: serde_json::Value = client
        .post(url)
        .json(&serde_json::json!({ "query": incident_sdl::federation::ROOTS_QUERY }))
        .send()
        .with_context(|| format!("POST {url}"))?
        .error_for_status()?
        .json()?;
    let name = |key: &str| {
        response
            .pointer(&format!("/data/__schema/{key}/name"))
            .and_then(|v| v.as_str())
            .map(str::to_owned)
    };
    let roots = incident_sdl::Roots {
        query: name("queryType"),
        mutation: name("mutationType"),
        subscription: name("subscriptionType"),
    };
    match roots.query {
        Some(_) => Ok(roots),
        None => bail!("the answer names no query root: {response}"),
    }
}

fn service_sdl(client: &reqwest::blocking::Client, url: &str) -> Result<String> {
    let response: serde_json::Value = client
        .post(url)
        .json(&serde_json::json!({ "query": "{ _service { sdl } }" }))
        .send()
        .with_context(|| format!("POST {url}"))?
        .error_for_status()?
        .json()?;
    match response
        .pointer("/data/_service/sdl")
        .and_then(|v| v.as_str())
    {
        Some(sdl) => Ok(sdl.to_owned()),
        None => bail!("the server answered {{ _service {{ sdl }} }} without an SDL: {response}"),
    }
}
