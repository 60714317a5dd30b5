//! `cargo xtask schema pull|diff|check`: thin callers of `incident-codegen`, which the
//! `incident schema` commands call too.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use incident_codegen::Documents;
use incident_sdl::Schema;

use crate::codegen;

/// `schema diff`: prints the changes from `old` to `new` grouped by severity; exit 1 when any is
/// breaking (or, with `strict`, when there is any change at all).
pub fn diff_files(
    old: &Path,
    new: &Path,
    ignore_descriptions: bool,
    strict: bool,
) -> Result<ExitCode> {
    let report = incident_codegen::diff(&read(old)?, &read(new)?, ignore_descriptions)?;
    print!("{}", report.to_diff_text());
    let failed = if strict {
        !report.changes.is_empty()
    } else {
        report.has_breaking()
    };
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// `schema check`: the diff, plus which operations in `documents` (default: the SDK's own) each
/// breaking or dangerous change affects; exit 1 only when a breaking change affects one.
pub fn check_files(
    root: &Path,
    documents: Option<&Path>,
    old: &Path,
    new: &Path,
    json: bool,
) -> Result<ExitCode> {
    let documents = match documents {
        Some(dir) => Documents::read(dir)?,
        None => {
            Documents::read(root.join(codegen::OPERATIONS_DIR))?.with_label(codegen::OPERATIONS_DIR)
        }
    };
    let report = incident_codegen::check(&read(old)?, &read(new)?, &documents)?;
    if json {
        println!("{}", report.to_json());
    } else {
        print!("{}", report.to_text());
    }
    Ok(if report.breaks_documents() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// `schema pull`: fetches the SDL from `url` (see `incident_codegen::pull`), writes it
/// normalized, prints what it did and what changed, and regenerates code.
pub fn pull(
    root: &Path,
    url: &str,
    headers: &[String],
    out: Option<&Path>,
    run_codegen: bool,
) -> Result<ExitCode> {
    let client = http_client(headers)?;
    let target = out
        .map(Path::to_path_buf)
        .unwrap_or_else(|| root.join(codegen::SCHEMA_PATH));
    let current = match std::fs::read_to_string(&target) {
        Ok(text) => {
            Some(Schema::parse(&text).with_context(|| format!("parsing {}", target.display()))?)
        }
        Err(_) => None,
    };
    // A new file has nothing to fall back on: the project's schema stands in.
    let template = match &current {
        Some(current) => Some(current.clone()),
        None => Schema::parse(&read(&root.join(codegen::SCHEMA_PATH))?).ok(),
    };
    let mut post = |body: &serde_json::Value| -> Result<serde_json::Value, String> {
        let response = client
            .post(url)
            .json(body)
            .send()
            .map_err(|e| format!("POST {url}: {e}"))?;
        let response = response
            .error_for_status()
            .map_err(|e| format!("POST {url}: {e}"))?;
        response
            .json()
            .map_err(|e| format!("the answer is not JSON: {e}"))
    };
    let pulled = incident_codegen::pull::pull(&mut post, current.as_ref(), template.as_ref())?;
    for note in &pulled.notes {
        println!("{note}");
    }
    std::fs::write(&target, pulled.schema.to_sdl())
        .with_context(|| format!("writing {}", target.display()))?;
    println!("wrote {}", target.display());
    let report = incident_codegen::Check::from_changes(pulled.changes);
    print!("{}", report.to_diff_text());
    if run_codegen && out.is_none() {
        return codegen::run(root, false);
    }
    Ok(ExitCode::SUCCESS)
}

fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
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
