//! Operating a watcher: `/metrics` and `/healthz` through a server restart, and the README's
//! operations walkthrough against `incident serve` (whose data survives its restart).

use std::time::Duration;

use incident_devserver::DevServer;
use incident_devserver::model::Severity;
use serde_json::Value;

use crate::common::{Running, get, incident, metrics_base, open, settle, until};
#[cfg(feature = "devserver")]
use crate::common::{WAIT, bin, incident_at, serve, signal};

/// Polls `url` (an HTTP endpoint has nothing to await) until it answers `status`; its body.
async fn until_status(url: &str, status: u16) -> String {
    until(&format!("{url} to answer {status}"), async || {
        let (got, body) = get(url).await;
        (got == status).then_some(body)
    })
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_and_healthz_follow_a_server_restart() {
    let server = DevServer::builder().start().await.unwrap();
    let (mut watch, mut stderr) = Running::start_with_stderr(incident(
        &server,
        &[
            "watch",
            "critical",
            "--json",
            "--metrics-addr",
            "127.0.0.1:0",
        ],
    ));
    let base = metrics_base(&mut stderr).await;
    settle(&server, &["criticalIncidents"]).await;

    let (status, body) = get(&format!("{base}/healthz")).await;
    assert_eq!(status, 200, "{body}");
    let health: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(health["state"], "connected");
    open(&server, "counted", Severity::P0);
    assert_eq!(watch.json_line().await["event"]["title"], "counted");
    let (_, metrics) = get(&format!("{base}/metrics")).await;
    assert!(
        metrics.contains("incident_client_events_total{stream=\"critical\"} 1"),
        "{metrics}"
    );
    assert!(metrics.contains("incident_client_connected 1"), "{metrics}");
    // Described metrics, and ping round trips as a real histogram.
    assert!(
        metrics.contains("# HELP incident_client_events_total Events received"),
        "{metrics}"
    );
    assert!(
        metrics.contains("# TYPE incident_client_ping_rtt_seconds histogram"),
        "{metrics}"
    );
    assert!(
        metrics.contains("incident_client_ping_rtt_seconds_bucket{le=\"0.005\"}"),
        "{metrics}"
    );

    let restarting = {
        let server = server.clone();
        tokio::spawn(async move { server.restart(Duration::from_millis(1500)).await })
    };
    let down = until_status(&format!("{base}/healthz"), 503).await;
    let down: Value = serde_json::from_str(&down).unwrap();
    assert_eq!(down["status"], "unavailable");
    assert!(
        ["connecting", "reconnecting"].contains(&down["state"].as_str().unwrap()),
        "{down}"
    );
    restarting.await.unwrap().unwrap();
    until_status(&format!("{base}/healthz"), 200).await;
    let (_, metrics) = get(&format!("{base}/metrics")).await;
    assert!(
        metrics.contains("incident_client_reconnects_total 1"),
        "{metrics}"
    );
    let output = watch.interrupt().await;
    assert_eq!(output.status.code(), Some(0));
}

#[cfg(feature = "devserver")]
#[tokio::test(flavor = "multi_thread")]
async fn the_readme_operations_walkthrough_runs_against_incident_serve() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("server.json");
    let state_arg = state.to_str().unwrap().to_owned();
    let serve_args = [
        "--addr",
        "127.0.0.1:0",
        "--jwt-secret",
        "dev-secret",
        "--state",
        state_arg.as_str(),
    ];
    let (mut server, http_url, ws_url) = serve(&serve_args).await;
    let token = bin()
        .args(["token", "mint", "--jwt-secret", "dev-secret"])
        .output()
        .await
        .unwrap();
    let token = String::from_utf8(token.stdout).unwrap().trim().to_owned();
    let (mut watch, mut stderr) = Running::start_with_stderr(incident_at(
        &ws_url,
        &token,
        &[
            "watch",
            "critical",
            "--json",
            "--metrics-addr",
            "127.0.0.1:0",
        ],
    ));
    let base = metrics_base(&mut stderr).await;
    let (status, _) = get(&format!("{base}/healthz")).await;
    assert_eq!(status, 200);

    // An alert through the REST endpoint of the served process reaches the watcher.
    let submit = incident_at(
        &ws_url,
        &token,
        &[
            "alert",
            "submit",
            "--title",
            "Checkout down",
            "--severity",
            "P0",
        ],
    )
    .args(["--type", "availability", "--source", "pingdom"])
    .output()
    .await
    .unwrap();
    assert!(
        submit.status.success(),
        "{}",
        String::from_utf8_lossy(&submit.stderr)
    );
    let line = loop {
        let line = watch.json_line().await;
        if line["kind"] == "event" {
            break line;
        }
    };
    assert_eq!(line["event"]["title"], "Checkout down");
    let (_, metrics) = get(&format!("{base}/metrics")).await;
    assert!(
        metrics.contains("incident_client_events_total{stream=\"critical\"} 1"),
        "{metrics}"
    );
    watch.interrupt().await;

    // The server's data survives its own restart with --state.
    signal(&server, "-INT");
    let stopped = tokio::time::timeout(WAIT, server.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(stopped.success());
    let (_restarted, http_url_again, _) = serve(&serve_args).await;
    let listed = reqwest::Client::new()
        .post(&http_url_again)
        .bearer_auth(&token)
        .json(&serde_json::json!({ "query": "{ incidentStats { total } }" }))
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap();
    assert_eq!(listed["data"]["incidentStats"]["total"], 1, "{listed}");
    assert_ne!(http_url, "");
}
