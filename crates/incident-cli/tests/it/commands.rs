//! The one-shot commands: `incidents` list, comment and resolve, `demo` with no setup, and
//! `token mint` making tokens a server accepts.

#[cfg(feature = "devserver")]
use std::process::Stdio;

use incident_devserver::DevServer;
use incident_devserver::model::Severity;
use serde_json::Value;

#[cfg(feature = "devserver")]
use crate::common::{Running, WAIT, bin};
use crate::common::{incident, open};

#[tokio::test(flavor = "multi_thread")]
async fn incidents_can_be_listed_commented_and_resolved() {
    let server = DevServer::builder().start().await.unwrap();
    open(&server, "broken build", Severity::P2);
    let list = incident(&server, &["incidents", "list", "--json"])
        .output()
        .await
        .unwrap();
    let page: Value = serde_json::from_slice(&list.stdout).unwrap();
    let id = page["incidents"][0]["id"].as_str().unwrap().to_owned();
    let comment = incident(&server, &["incidents", "comment", &id, "looking"])
        .output()
        .await
        .unwrap();
    assert!(comment.status.success());
    let resolve = incident(
        &server,
        &["incidents", "resolve", &id, "--notes", "reverted"],
    )
    .output()
    .await
    .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&resolve.stdout).trim(),
        format!("{id} is RESOLVED")
    );
}

/// `alert submit` and `incidents list` use HTTP only: they work against a server that serves no
/// WebSocket route, and open no WebSocket on one that does.
#[tokio::test(flavor = "multi_thread")]
async fn one_shot_commands_open_no_websocket() {
    let http_only = DevServer::builder()
        .without_websocket()
        .start()
        .await
        .unwrap();
    let submitted = incident(
        &http_only,
        &[
            "alert",
            "submit",
            "--title",
            "Disk full",
            "--severity",
            "P1",
            "--type",
            "infrastructure",
            "--source",
            "prometheus",
            "--json",
        ],
    )
    .output()
    .await
    .unwrap();
    assert!(
        submitted.status.success(),
        "{}",
        String::from_utf8_lossy(&submitted.stderr)
    );
    let listed = incident(&http_only, &["incidents", "list", "--json"])
        .output()
        .await
        .unwrap();
    assert!(
        listed.status.success(),
        "{}",
        String::from_utf8_lossy(&listed.stderr)
    );
    let page: Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(page["incidents"][0]["title"], "Disk full", "{page}");
    // The route really is off: a watcher cannot connect there.
    let watch = incident(&http_only, &["watch", "new", "--max-attempts", "1"])
        .output()
        .await
        .unwrap();
    assert_eq!(watch.status.code(), Some(3));

    let full = DevServer::builder().start().await.unwrap();
    open(&full, "broken build", Severity::P2);
    let listed = incident(&full, &["incidents", "list"])
        .output()
        .await
        .unwrap();
    assert!(listed.status.success());
    assert_eq!(full.connections_accepted(), 0);
}

#[tokio::test(flavor = "multi_thread")]
#[cfg(feature = "devserver")]
async fn demo_streams_live_incidents_without_any_setup() {
    let mut command = bin();
    command
        .args(["demo", "--rate", "20", "--json", "--limit", "8"])
        .env_remove("WS_URL")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut demo = Running::start(command);
    // The demo watches critical, new and state-changes; the traffic generator may move an
    // incident along before the first new one arrives, so every kind is accepted in any order.
    let mut incidents = 0;
    for _ in 0..8 {
        let line = demo.json_line().await;
        match line["stream"].as_str() {
            Some("new" | "critical") => {
                assert!(line["event"]["id"].is_string(), "{line}");
                incidents += 1;
            }
            Some("state-changes") => assert!(line["event"]["incidentId"].is_string(), "{line}"),
            _ => panic!("unexpected stream: {line}"),
        }
    }
    assert!(incidents > 0, "no incident among the first 8 events");
    let status = tokio::time::timeout(WAIT, demo.child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success());
}

#[tokio::test(flavor = "multi_thread")]
#[cfg(feature = "devserver")]
async fn tokens_minted_by_the_cli_are_accepted() {
    let server = DevServer::builder()
        .jwt_secret("cli-secret")
        .start()
        .await
        .unwrap();
    let minted = bin()
        .args([
            "token",
            "mint",
            "--sub",
            "ops",
            "--ttl",
            "5m",
            "--jwt-secret",
            "cli-secret",
        ])
        .output()
        .await
        .unwrap();
    let token = String::from_utf8(minted.stdout).unwrap();
    let response = reqwest::Client::new()
        .post(server.http_url())
        .bearer_auth(token.trim())
        .json(&serde_json::json!({ "query": "{ health { status } }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}
