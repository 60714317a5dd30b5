//! The schema workflow from the command line: `codegen` writes what the xtask writes and names
//! what is wrong in a document, `schema pull` rebuilds a federation export, `schema diff` and
//! `schema check` tell breaking changes an operation uses from those none uses.

use std::time::Duration;

use incident_devserver::DevServer;
use serde_json::Value;

use crate::common::bin;

/// The workspace root, where the SDK's own documents and generated code live.
fn workspace_root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

/// `incident ARGS` run to completion in `dir`.
fn run_incident(args: &[&str], dir: &std::path::Path) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_incident"))
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap()
}

/// `incident codegen ARGS` run to completion in `dir`.
fn codegen(args: &[&str], dir: &std::path::Path) -> std::process::Output {
    let mut all = vec!["codegen"];
    all.extend_from_slice(args);
    run_incident(&all, dir)
}

#[test]
fn codegen_writes_what_the_xtask_writes_for_the_sdk_documents() {
    let out = tempfile::tempdir().unwrap();
    let file = out.path().join("operations.rs");
    let file_arg = file.to_str().unwrap();
    let documents = "crates/incident-client/graphql";
    let written = codegen(
        &["--documents", documents, "--out", file_arg],
        &workspace_root(),
    );
    assert!(
        written.status.success(),
        "{}",
        String::from_utf8_lossy(&written.stderr)
    );
    let committed = std::fs::read_to_string(
        workspace_root().join("crates/incident-client/src/generated/operations.rs"),
    )
    .unwrap();
    assert!(
        std::fs::read_to_string(&file).unwrap() == committed,
        "`incident codegen` and `cargo xtask codegen` differ"
    );
    let check = codegen(
        &["--documents", documents, "--out", file_arg, "--check"],
        &workspace_root(),
    );
    assert_eq!(check.status.code(), Some(0));
    std::fs::write(&file, "// edited by hand\n").unwrap();
    let stale = codegen(
        &["--documents", documents, "--out", file_arg, "--check"],
        &workspace_root(),
    );
    assert_eq!(stale.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&stale.stderr).contains("is stale"));
}

#[test]
fn codegen_names_the_document_operation_and_missing_field() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("graphql")).unwrap();
    std::fs::write(
        dir.path().join("graphql/pager.graphql"),
        "subscription Pager { criticalIncidents { id title pagerDuty } }\n",
    )
    .unwrap();
    // As the README has it.
    let output = codegen(
        &["--documents", "graphql", "--out", "src/ops.rs"],
        dir.path(),
    );
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains(
            "graphql/pager.graphql: operation Pager: field `pagerDuty` does not exist on type `Incident`"
        ),
        "{stderr}"
    );
    assert!(!dir.path().join("src/ops.rs").exists());
    std::fs::write(
        dir.path().join("graphql/pager.graphql"),
        "subscription Pager { criticalIncidents { id title } }\n",
    )
    .unwrap();
    let written = codegen(
        &["--documents", "graphql", "--out", "src/ops.rs"],
        dir.path(),
    );
    assert!(
        written.status.success(),
        "{}",
        String::from_utf8_lossy(&written.stderr)
    );
    let module = std::fs::read_to_string(dir.path().join("src/ops.rs")).unwrap();
    assert!(module.contains("pub struct Pager {"), "{module}");
    assert!(module.contains("use incident_client::schema;"), "{module}");
    let check = codegen(
        &["--documents", "graphql", "--out", "src/ops.rs", "--check"],
        dir.path(),
    );
    assert_eq!(check.status.code(), Some(0));
}

#[tokio::test(flavor = "multi_thread")]
async fn schema_pull_rebuilds_the_servers_federation_export_exactly() {
    let server = DevServer::builder().start().await.unwrap();
    let token = server.mint_token("cli", Duration::from_secs(300));
    let dir = tempfile::tempdir().unwrap();
    let url = server.http_url();
    let header = format!("Authorization: Bearer {token}");
    let output = bin()
        .args(["schema", "pull", "--url", &url, "--header", &header])
        .args(["--out", "pulled.graphql"])
        .current_dir(dir.path())
        .output()
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(stderr.contains("federation export"), "{stderr}");
    let pulled = std::fs::read_to_string(dir.path().join("pulled.graphql")).unwrap();
    assert!(
        pulled == incident_client::SDL,
        "the pulled schema differs from the committed one"
    );
}

#[test]
fn schema_diff_and_check_tell_used_from_unused_breaking_changes() {
    let dir = tempfile::tempdir().unwrap();
    let sdl = incident_client::SDL;
    std::fs::write(dir.path().join("old.graphql"), sdl).unwrap();
    let unused_removed = sdl.replacen("  correlationScore: Float\n", "", 1);
    std::fs::write(dir.path().join("unused.graphql"), &unused_removed).unwrap();
    let used_removed = sdl.replacen("  fingerprint: String\n", "", 1);
    std::fs::write(dir.path().join("used.graphql"), &used_removed).unwrap();
    std::fs::create_dir(dir.path().join("graphql")).unwrap();
    std::fs::write(
        dir.path().join("graphql/bot.graphql"),
        "subscription Bot { newIncidents { id fingerprint } }\n",
    )
    .unwrap();

    let diff = run_incident(
        &["schema", "diff", "old.graphql", "unused.graphql", "--json"],
        dir.path(),
    );
    assert_eq!(
        diff.status.code(),
        Some(1),
        "a breaking change fails a plain diff"
    );
    let json: Value = serde_json::from_slice(&diff.stdout).unwrap();
    assert_eq!(json["changes"][0]["path"], "Incident.correlationScore");

    let unused = run_incident(
        &[
            "schema",
            "check",
            "--documents",
            "graphql",
            "old.graphql",
            "unused.graphql",
        ],
        dir.path(),
    );
    let text = String::from_utf8_lossy(&unused.stdout);
    assert_eq!(unused.status.code(), Some(0), "{text}");
    assert!(
        text.contains("breaking, used by none of your operations (1):"),
        "{text}"
    );

    let used = run_incident(
        &[
            "schema",
            "check",
            "--documents",
            "graphql",
            "old.graphql",
            "used.graphql",
            "--json",
        ],
        dir.path(),
    );
    assert_eq!(used.status.code(), Some(1));
    let json: Value = serde_json::from_slice(&used.stdout).unwrap();
    assert_eq!(json["breaks_documents"], true);
    assert_eq!(json["changes"][0]["used_by"][0]["operation"], "Bot");
    assert_eq!(
        json["changes"][0]["used_by"][0]["at"],
        "newIncidents.fingerprint"
    );
}
