//! `incident schema pull|diff|check`: the same library calls as `cargo xtask schema`.

use std::path::Path;

use anyhow::{Context, Result, bail};
use incident_codegen::Documents;
use incident_sdl::Schema;

use crate::cli::{Global, SchemaCommand};
use crate::exit::UsageError;
use crate::global::read_pem;

/// Runs a schema command; `Ok(false)` means "exit 1" (a breaking change, a broken operation).
pub async fn run(global: &Global, command: SchemaCommand) -> Result<bool> {
    match command {
        SchemaCommand::Diff {
            old,
            new,
            ignore_descriptions,
            json,
        } => {
            let report = incident_codegen::diff(&read(&old)?, &read(&new)?, ignore_descriptions)?;
            if json {
                println!("{}", report.to_json());
            } else {
                print!("{}", report.to_diff_text());
            }
            Ok(!report.has_breaking())
        }
        SchemaCommand::Check {
            documents,
            old,
            new,
            json,
        } => {
            let documents = Documents::read(&documents).map_err(|e| UsageError(e.to_string()))?;
            let report = incident_codegen::check(&read(&old)?, &read(&new)?, &documents)?;
            if json {
                println!("{}", report.to_json());
            } else {
                print!("{}", report.to_text());
            }
            Ok(!report.breaks_documents())
        }
        SchemaCommand::Pull {
            url,
            mut headers,
            out,
        } => {
            // The global token source, unless an Authorization header was given.
            let authorized = headers.iter().any(|h| {
                h.split_once(':')
                    .is_some_and(|(name, _)| name.trim().eq_ignore_ascii_case("authorization"))
            });
            if let (false, Some(provider)) = (authorized, crate::global::token_provider(global)?) {
                let token = tokio::time::timeout(global.token_timeout, provider.token())
                    .await
                    .map_err(|_| {
                        anyhow::anyhow!(
                            "the token source gave no token within {:?}",
                            global.token_timeout
                        )
                    })?
                    .map_err(|e| anyhow::anyhow!("the token source failed: {e}"))?;
                headers.push(format!("Authorization: Bearer {}", token.expose()));
            }
            let client = http_client(global, &headers)?;
            // reqwest's blocking client owns a runtime of its own: run it off this one.
            tokio::task::spawn_blocking(move || pull(client, &url, out.as_deref()))
                .await
                .context("the pull task failed")??;
            Ok(true)
        }
    }
}

/// The SDL file `path`; one that cannot be read is a usage error naming it.
fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path)
        .map_err(|e| UsageError(format!("cannot read {}: {e}", path.display())).into())
}

/// The blocking HTTP client for `schema pull`: the `--header`s, and the global TLS flags.
fn http_client(global: &Global, headers: &[String]) -> Result<reqwest::blocking::ClientBuilder> {
    let mut map = reqwest::header::HeaderMap::new();
    for header in headers {
        let Some((name, value)) = header.split_once(':') else {
            // The value may be a secret: only its first word is shown.
            let shown = header.split_whitespace().next().unwrap_or_default();
            bail!(UsageError(format!(
                "--header takes `Name: value`, got one starting {shown:?} with no colon"
            )));
        };
        map.insert(
            reqwest::header::HeaderName::from_bytes(name.trim().as_bytes())?,
            reqwest::header::HeaderValue::from_str(value.trim())?,
        );
    }
    let mut client = reqwest::blocking::Client::builder()
        .default_headers(map)
        .user_agent(incident_client::USER_AGENT);
    if let Some(path) = &global.ca_cert {
        for certificate in reqwest::Certificate::from_pem_bundle(&read_pem(path, "--ca-cert")?)? {
            client = client.add_root_certificate(certificate);
        }
    }
    if let (Some(cert), Some(key)) = (&global.client_cert, &global.client_key) {
        let mut both = read_pem(cert, "--client-cert")?;
        both.extend(read_pem(key, "--client-key")?);
        client = client.identity(reqwest::Identity::from_pem(&both)?);
    }
    Ok(client)
}

/// `schema pull`: fetches the SDL from `url`, then writes it to `out` (with the diff from what
/// was there on stderr) or to stdout.
fn pull(client: reqwest::blocking::ClientBuilder, url: &str, out: Option<&Path>) -> Result<()> {
    let client = client.build()?;
    let current = match out.map(std::fs::read_to_string) {
        Some(Ok(text)) => Some(Schema::parse(&text).context("parsing the current schema")?),
        _ => None,
    };
    // What a federation export leaves out comes from the file being replaced, or else from the
    // schema this binary was built with.
    let template = current
        .clone()
        .or_else(|| Schema::parse(incident_client::SDL).ok());
    let mut post = |body: &serde_json::Value| -> Result<serde_json::Value, String> {
        client
            .post(url)
            .json(body)
            .send()
            .and_then(reqwest::blocking::Response::error_for_status)
            .map_err(|e| format!("POST {url}: {e}"))?
            .json()
            .map_err(|e| format!("the answer is not JSON: {e}"))
    };
    let pulled = incident_codegen::pull::pull(&mut post, current.as_ref(), template.as_ref())?;
    for note in &pulled.notes {
        crate::logging::status(note);
    }
    let sdl = pulled.schema.to_sdl();
    match out {
        Some(path) => {
            std::fs::write(path, &sdl).with_context(|| format!("writing {}", path.display()))?;
            crate::logging::status(&format!("wrote {}", path.display()));
            let report = incident_codegen::Check::from_changes(pulled.changes);
            eprint!("{}", report.to_diff_text());
        }
        None => print!("{sdl}"),
    }
    Ok(())
}
