//! `incident watch` against a dev server: JSON events, filters, several kinds on one
//! connection, exit codes, reconnects and gaps as lines, and a daemon's retries.

use std::process::Stdio;
use std::time::Duration;

use incident_devserver::DevServer;
use incident_devserver::model::Severity;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::common::{Running, WAIT, bin, incident, open, settle};

/// How long a watcher without `--max-attempts` takes to make its eleventh attempt: the backoff
/// grows from 200 ms, doubling, to 30 s, so the first ten delays add up to about 111 s. A bound,
/// not a wait: the test goes on as soon as the attempt is logged.
const ELEVENTH_ATTEMPT: Duration = Duration::from_secs(150);

#[tokio::test(flavor = "multi_thread")]
async fn watch_json_prints_typed_events_and_sigint_exits_cleanly() {
    let server = DevServer::builder().start().await.unwrap();
    let mut watch = Running::start(incident(&server, &["watch", "new", "--json"]));
    settle(&server, &["newIncidents"]).await;
    open(&server, "first", Severity::P2);
    let line = watch.json_line().await;
    assert_eq!(line["stream"], "new");
    assert_eq!(line["event"]["title"], "first");
    assert_eq!(line["event"]["severity"], "P2");
    assert_eq!(line["event"]["state"], "DETECTED");
    let output = watch.interrupt().await;
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(server.wait_for(WAIT, |s| s.connections() == 0).await);
    assert!(
        server.client_closes().iter().any(|(code, _)| *code == 1000),
        "closed with 1000"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn watch_filters_by_severity() {
    let server = DevServer::builder().start().await.unwrap();
    let mut watch = Running::start(incident(
        &server,
        &[
            "watch",
            "new",
            "--severity",
            "P0,P1",
            "--json",
            "--limit",
            "2",
        ],
    ));
    settle(&server, &["newIncidents"]).await;
    open(&server, "skip", Severity::P3);
    open(&server, "keep zero", Severity::P0);
    open(&server, "skip too", Severity::P4);
    open(&server, "keep one", Severity::P1);
    assert_eq!(watch.json_line().await["event"]["title"], "keep zero");
    assert_eq!(watch.json_line().await["event"]["title"], "keep one");
    let status = tokio::time::timeout(WAIT, watch.child.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success());
}

#[tokio::test(flavor = "multi_thread")]
async fn several_kinds_share_one_connection() {
    let server = DevServer::builder().start().await.unwrap();
    let mut watch = Running::start(incident(
        &server,
        &["watch", "critical", "updates", "--json"],
    ));
    settle(&server, &["criticalIncidents", "incidentUpdates"]).await;
    assert_eq!(server.connections(), 1);
    open(&server, "both", Severity::P0);
    let mut streams = vec![
        watch.json_line().await["stream"]
            .as_str()
            .unwrap()
            .to_owned(),
        watch.json_line().await["stream"]
            .as_str()
            .unwrap()
            .to_owned(),
    ];
    streams.sort();
    assert_eq!(streams, ["critical", "updates"]);
    watch.interrupt().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_submitted_alert_is_seen_by_watch() {
    let server = DevServer::builder().start().await.unwrap();
    let mut watch = Running::start(incident(
        &server,
        &["watch", "critical", "alerts", "--json"],
    ));
    settle(&server, &["criticalIncidents", "alerts"]).await;
    let submit = incident(
        &server,
        &[
            "alert",
            "submit",
            "--title",
            "Checkout down",
            "--severity",
            "P0",
            "--type",
            "availability",
            "--source",
            "pingdom",
            "--json",
        ],
    )
    .output()
    .await
    .unwrap();
    assert!(
        submit.status.success(),
        "{}",
        String::from_utf8_lossy(&submit.stderr)
    );
    let receipt: Value = serde_json::from_slice(&submit.stdout).unwrap();
    assert_eq!(receipt["status"], "Accepted");
    let mut seen = Vec::new();
    for _ in 0..2 {
        let line = watch.json_line().await;
        seen.push((
            line["stream"].as_str().unwrap().to_owned(),
            line["event"]["title"].as_str().unwrap().to_owned(),
        ));
    }
    seen.sort();
    assert_eq!(
        seen,
        [
            ("alerts".into(), "Checkout down".into()),
            ("critical".into(), "Checkout down".into())
        ]
    );
    let critical_id = receipt["incident_id"].as_str().unwrap();
    let list = incident(&server, &["incidents", "get", critical_id, "--json"])
        .output()
        .await
        .unwrap();
    let fetched: Value = serde_json::from_slice(&list.stdout).unwrap();
    assert_eq!(fetched["incidentType"], "AVAILABILITY");
    watch.interrupt().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bad_token_exits_with_the_auth_code() {
    let server = DevServer::builder().start().await.unwrap();
    let output = incident(&server, &["watch", "new"])
        .env("AUTH_TOKEN", "expired-or-forged")
        .output()
        .await
        .unwrap();
    assert_eq!(output.status.code(), Some(4));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("rejected the credentials"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_waiting_watch_gives_up_after_max_attempts_and_by_default_keeps_trying() {
    let unused = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let url = format!("ws://{unused}/graphql/ws");
    let output = tokio::time::timeout(
        WAIT,
        bin()
            .args([
                "watch",
                "new",
                "--wait",
                "--max-attempts",
                "2",
                "--ws-url",
                &url,
            ])
            .output(),
    )
    .await
    .expect("gives up within the wait")
    .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains("gave up reconnecting after 2 attempt(s)"),
        "{stderr}"
    );
    // Without --max-attempts a daemon outlasts the library's default of 10 attempts: it is
    // still trying after the eleventh (each attempt is logged).
    let mut watch = bin()
        .args(["watch", "new", "--wait", "--ws-url", &url])
        .env("LOG_LEVEL", "info")
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(watch.stderr.take().unwrap()).lines();
    let eleventh = tokio::time::timeout(ELEVENTH_ATTEMPT, async {
        while let Some(line) = lines.next_line().await.unwrap() {
            if line.contains("attempt=11") {
                return true;
            }
        }
        false
    })
    .await;
    assert_eq!(eleventh, Ok(true), "an eleventh attempt was logged");
    assert!(watch.try_wait().unwrap().is_none(), "still trying");
    watch.kill().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn connection_failures_and_bad_usage_have_their_own_codes() {
    let unused = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let refused = bin()
        .args([
            "watch",
            "new",
            "--ws-url",
            &format!("ws://{unused}/graphql/ws"),
        ])
        .output()
        .await
        .unwrap();
    assert_eq!(
        refused.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    let bad_url = bin()
        .args(["watch", "--ws-url", "localhost:8080"])
        .output()
        .await
        .unwrap();
    assert_eq!(bad_url.status.code(), Some(2));
    let server = DevServer::builder().start().await.unwrap();
    let bad_severity = incident(&server, &["watch", "new", "--severity", "P9"])
        .output()
        .await
        .unwrap();
    assert_eq!(bad_severity.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad_severity.stderr).contains("\"P9\" is not a Severity"));
}

#[tokio::test(flavor = "multi_thread")]
async fn json_mode_reports_gaps_and_reconnects_as_lines() {
    let server = DevServer::builder().start().await.unwrap();
    let mut watch = Running::start(incident(&server, &["watch", "updates", "--json"]));
    settle(&server, &["incidentUpdates"]).await;
    server.drop_all();
    let mut kinds = Vec::new();
    while !(kinds.contains(&"gap".to_owned()) && kinds.contains(&"reconnected".to_owned())) {
        let line = watch.json_line().await;
        if line["kind"] == "gap" {
            assert_eq!(line["stream"], "updates");
            let from = line["from"].as_str().expect("a gap has a window");
            let until = line["until"].as_str().unwrap();
            assert!(from <= until, "{line}");
        }
        kinds.push(line["kind"].as_str().unwrap().to_owned());
    }
    assert!(kinds.contains(&"reconnecting".to_owned()), "{kinds:?}");
    watch.interrupt().await;
}
