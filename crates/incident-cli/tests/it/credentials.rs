//! Credentials that outlive a token: `--token-file` and `--token-command` through several
//! expiries of 3 s tokens with no gap, the command's timeout, and conflicting token sources.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use incident_devserver::model::Severity;
use incident_devserver::{DevServer, DevServerHandle};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

use crate::common::{WAIT, open};

const SECRET: &str = "rotation-secret";

/// `incident ARGS` against `server` with no token of its own: each test gives the source.
fn incident(server: &DevServerHandle, args: &[&str]) -> Command {
    let mut command = crate::common::incident(server, args);
    command.env_remove("AUTH_TOKEN");
    command
}

/// Writes a fresh 3 s token to `path` now and every second until `running` clears
/// (atomically: a reader never sees half a token).
fn keep_fresh(server: &DevServerHandle, path: &Path, running: Arc<AtomicBool>) {
    let write = {
        let (server, path) = (server.clone(), path.to_owned());
        move || {
            let temporary = path.with_extension("tmp");
            std::fs::write(
                &temporary,
                server.mint_token("rotating", Duration::from_secs(3)),
            )
            .unwrap();
            std::fs::rename(&temporary, &path).unwrap();
        }
    };
    write();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        while running.load(Ordering::SeqCst) {
            tick.tick().await;
            write();
        }
    });
}

/// Opens a P1 incident every 200 ms until `running` clears; returns how many.
fn produce(server: &DevServerHandle, running: Arc<AtomicBool>) -> tokio::task::JoinHandle<usize> {
    let server = server.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(200));
        let mut n = 0;
        while running.load(Ordering::SeqCst) {
            tick.tick().await;
            open(&server, &format!("steady {n}"), Severity::P1);
            n += 1;
        }
        n
    })
}

/// Runs `watch critical updates --json` with `token_args` until the server accepted
/// `connections` connections (each rotation opens one) while incidents are produced, then
/// checks that every incident and its CREATED update came exactly once, with no gap or
/// reconnect line, and that the watcher is still running.
async fn watch_through_rotations(
    server: &DevServerHandle,
    token_args: &[&str],
    connections: usize,
) {
    let mut args = vec!["watch", "critical", "updates", "--json"];
    args.extend_from_slice(token_args);
    let mut child = incident(server, &args).spawn().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let live = server
        .wait_for(WAIT, |s| {
            s.subscribers("criticalIncidents") >= 1 && s.subscribers("incidentUpdates") >= 1
        })
        .await;
    assert!(live, "the watcher subscribed");
    let producing = Arc::new(AtomicBool::new(true));
    let producer = produce(server, producing.clone());
    let rotated = server
        .wait_for(WAIT, |s| s.connections_accepted() >= connections)
        .await;
    producing.store(false, Ordering::SeqCst);
    let produced = producer.await.unwrap();
    assert!(
        rotated,
        "only {} connections",
        server.connections_accepted()
    );
    let (mut incidents, mut updates) = (std::collections::HashSet::new(), 0usize);
    let reading = tokio::time::timeout(WAIT, async {
        while incidents.len() < produced || updates < produced {
            let line = lines
                .next_line()
                .await
                .unwrap()
                .expect("the watcher is running");
            let value: Value = serde_json::from_str(&line).unwrap();
            assert_eq!(value["kind"], "event", "no gap, no reconnect: {line}");
            match value["stream"].as_str() {
                Some("critical") => assert!(
                    incidents.insert(value["event"]["id"].as_str().unwrap().to_owned()),
                    "twice: {line}"
                ),
                Some("updates") => updates += 1,
                other => panic!("{other:?}: {line}"),
            }
        }
    })
    .await;
    assert!(
        reading.is_ok(),
        "{} of {produced} incidents, {updates} updates",
        incidents.len()
    );
    assert_eq!(updates, produced, "each CREATED update once");
    assert!(child.try_wait().unwrap().is_none(), "still running");
    child.kill().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn watch_with_a_rewritten_token_file_runs_through_five_expiries_with_no_gap() {
    let server = DevServer::builder()
        .jwt_secret(SECRET)
        .start()
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("token");
    let refreshing = Arc::new(AtomicBool::new(true));
    keep_fresh(&server, &file, refreshing.clone());
    // The first connection and one per rotation.
    watch_through_rotations(&server, &["--token-file", file.to_str().unwrap()], 6).await;
    refreshing.store(false, Ordering::SeqCst);
}

#[tokio::test(flavor = "multi_thread")]
async fn watch_with_a_token_command_printing_json_rotates_with_no_gap() {
    let server = DevServer::builder()
        .jwt_secret(SECRET)
        .start()
        .await
        .unwrap();
    let script = format!(
        r#"printf '{{"token":"%s","expiresAt":"%s"}}' "$({bin} token mint --jwt-secret {SECRET} --ttl 3s)" "$(date -u -d '+3 seconds' +%Y-%m-%dT%H:%M:%SZ)""#,
        bin = env!("CARGO_BIN_EXE_incident"),
    );
    watch_through_rotations(&server, &["--token-command", &script], 4).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_token_command_that_hangs_fails_within_its_timeout() {
    let server = DevServer::builder()
        .jwt_secret(SECRET)
        .start()
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let output = incident(
        &server,
        &[
            "--token-command",
            "sleep 30",
            "--token-timeout",
            "1s",
            "watch",
            "critical",
        ],
    )
    .output()
    .await
    .unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("token provider"), "{stderr}");
    assert!(stderr.contains("within 1s"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread")]
async fn two_token_sources_are_a_usage_error_and_a_file_beats_auth_token() {
    let server = DevServer::builder()
        .jwt_secret(SECRET)
        .start()
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("token");
    std::fs::write(&file, server.mint_token("file", Duration::from_secs(600))).unwrap();
    let file = file.to_str().unwrap();
    for args in [
        vec!["--token", "x", "--token-file", file, "incidents", "list"],
        vec![
            "--token-file",
            file,
            "--token-command",
            "true",
            "incidents",
            "list",
        ],
    ] {
        let output = incident(&server, &args).output().await.unwrap();
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains("one source of tokens"), "{stderr}");
    }
    // AUTH_TOKEN (stale) and a token file: the file wins.
    let output = incident(&server, &["--token-file", file, "incidents", "list"])
        .env("AUTH_TOKEN", "stale")
        .output()
        .await
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}
