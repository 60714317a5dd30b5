//! `cargo xtask schema pull` against a running dev server, which (like the real server) refuses
//! the standard introspection query as too complex.

use std::path::Path;
use std::time::Duration;

use incident_devserver::DevServer;

#[tokio::test(flavor = "multi_thread")]
async fn pull_falls_back_to_service_sdl_and_writes_the_normalized_schema() {
    let server = DevServer::builder().start().await.unwrap();
    let token = server.mint_token("xtask", Duration::from_secs(300));
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("pulled.graphql");
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args([
            "schema",
            "pull",
            "--url",
            &server.http_url(),
            "--header",
            &format!("Authorization: Bearer {token}"),
        ])
        .arg("--out")
        .arg(&out)
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("introspection was refused (Query is too complex.)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("fetched the schema with { _service { sdl } } instead"),
        "{stdout}"
    );
    assert!(
        stdout.contains("the server answered with a federation export; read the root types"),
        "{stdout}"
    );
    assert!(stdout.contains("restored QueryRoot._service"), "{stdout}");
    let pulled = std::fs::read_to_string(&out).unwrap();
    let project = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../schema/incident-manager.graphql"),
    )
    .unwrap();
    assert_eq!(
        pulled, project,
        "pulling from a server of the same schema must reproduce the file byte for byte"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn pull_without_a_token_fails_clearly() {
    let server = DevServer::builder().start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["schema", "pull", "--url", &server.http_url(), "--out"])
        .arg(dir.path().join("pulled.graphql"))
        .output()
        .await
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("401 Unauthorized"), "{stderr}");
}
