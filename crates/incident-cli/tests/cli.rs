//! The `incident` binary against a dev server, as a user runs it.

use std::process::Stdio;
use std::time::Duration;

use incident_devserver::model::{IncidentType, Severity};
use incident_devserver::{DevServer, DevServerHandle};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStdout, Command};

mod common;
use common::serve;

const WAIT: Duration = Duration::from_secs(15);

fn incident(server: &DevServerHandle, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_incident"));
    command
        .args(args)
        .env("WS_URL", server.ws_url())
        .env(
            "AUTH_TOKEN",
            server.mint_token("cli-tests", Duration::from_secs(600)),
        )
        .env("LOG_LEVEL", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    command
}

struct Running {
    child: Child,
    lines: Lines<BufReader<ChildStdout>>,
}

impl Running {
    fn start(mut command: Command) -> Running {
        let mut child = command.spawn().unwrap();
        let lines = BufReader::new(child.stdout.take().unwrap()).lines();
        Running { child, lines }
    }

    async fn json_line(&mut self) -> Value {
        let line = tokio::time::timeout(WAIT, self.lines.next_line())
            .await
            .expect("a line within the wait")
            .unwrap()
            .expect("output");
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"))
    }

    async fn interrupt(mut self) -> std::process::Output {
        let pid = self.child.id().unwrap().to_string();
        let status = std::process::Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .unwrap();
        assert!(status.success());
        let mut rest = String::new();
        while let Ok(Some(line)) = tokio::time::timeout(WAIT, self.lines.next_line())
            .await
            .unwrap()
        {
            rest.push_str(&line);
        }
        tokio::time::timeout(WAIT, self.child.wait_with_output())
            .await
            .unwrap()
            .unwrap()
    }
}

fn open(server: &DevServerHandle, title: &str, severity: Severity) {
    server
        .store()
        .create_incident(
            "cli",
            title,
            "d",
            severity,
            IncidentType::Application,
            vec![],
            vec![],
            "cli",
        )
        .unwrap();
}

/// Waits until the server has the watcher's subscriptions, one to each of `fields`.
async fn settle(server: &DevServerHandle, fields: &[&str]) {
    let live = server
        .wait_for(WAIT, |s| fields.iter().all(|f| s.subscribers(f) >= 1))
        .await;
    assert!(live, "the watcher never subscribed to {fields:?}");
}

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
        Command::new(env!("CARGO_BIN_EXE_incident"))
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
    let mut watch = Command::new(env!("CARGO_BIN_EXE_incident"))
        .args(["watch", "new", "--wait", "--ws-url", &url])
        .env("LOG_LEVEL", "info")
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(watch.stderr.take().unwrap()).lines();
    let eleventh = tokio::time::timeout(Duration::from_secs(150), async {
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
    let refused = Command::new(env!("CARGO_BIN_EXE_incident"))
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
    let bad_url = Command::new(env!("CARGO_BIN_EXE_incident"))
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

#[tokio::test(flavor = "multi_thread")]
#[cfg(feature = "devserver")]
async fn demo_streams_live_incidents_without_any_setup() {
    let mut command = Command::new(env!("CARGO_BIN_EXE_incident"));
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
    let minted = Command::new(env!("CARGO_BIN_EXE_incident"))
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

/// The workspace root, where the SDK's own documents and generated code live.
fn workspace_root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

fn codegen(args: &[&str], dir: &std::path::Path) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_incident"))
        .arg("codegen")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap()
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

/// GETs `url`, returning the status and body.
async fn get(url: &str) -> (u16, String) {
    let response = reqwest::get(url).await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

/// Polls `url` (every 20 ms: an HTTP endpoint has nothing to await) until it answers
/// `status`, failing after the wait.
async fn until_status(url: &str, status: u16) -> String {
    let answered = tokio::time::timeout(WAIT, async {
        let mut poll = tokio::time::interval(Duration::from_millis(20));
        loop {
            poll.tick().await;
            let (got, body) = get(url).await;
            if got == status {
                return body;
            }
        }
    })
    .await;
    answered.unwrap_or_else(|_| panic!("{url} never answered {status} within the wait"))
}

#[tokio::test(flavor = "multi_thread")]
async fn metrics_and_healthz_follow_a_server_restart() {
    let server = DevServer::builder().start().await.unwrap();
    let mut command = incident(
        &server,
        &[
            "watch",
            "critical",
            "--json",
            "--metrics-addr",
            "127.0.0.1:0",
        ],
    );
    let mut child = command.spawn().unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut watch = Running {
        lines: BufReader::new(child.stdout.take().unwrap()).lines(),
        child,
    };
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

/// Reads the JSON event lines a watcher printed until it exits (after a kill, what the pipe held).
async fn remaining_events(watch: &mut Running) -> Vec<Value> {
    let mut events = Vec::new();
    while let Ok(Some(line)) = tokio::time::timeout(WAIT, watch.lines.next_line())
        .await
        .expect("the pipe closes after the process ends")
    {
        let value: Value = serde_json::from_str(&line).unwrap();
        if value["kind"] == "event" {
            events.push(value);
        }
    }
    events
}

#[tokio::test(flavor = "multi_thread")]
async fn a_checkpointed_watch_survives_sigkill_with_nothing_lost() {
    let server = DevServer::builder().start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bot.checkpoint");
    let file_arg = file.to_str().unwrap().to_owned();
    let args = ["watch", "new", "--json", "--checkpoint", file_arg.as_str()];

    let mut watch = Running::start(incident(&server, &args));
    settle(&server, &["newIncidents"]).await;
    // Incidents keep coming at 100 a second while the watcher is killed and restarted.
    let producing = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let producer = {
        let (server, producing) = (server.clone(), producing.clone());
        tokio::spawn(async move {
            let mut created = Vec::new();
            let mut tick = tokio::time::interval(Duration::from_millis(10));
            while producing.load(std::sync::atomic::Ordering::SeqCst) {
                tick.tick().await;
                let n = created.len();
                let incident = server
                    .store()
                    .create_incident(
                        "cli",
                        &format!("steady {n}"),
                        "d",
                        Severity::P3,
                        IncidentType::Application,
                        vec![],
                        vec![],
                        "cli",
                    )
                    .unwrap();
                created.push(incident.id.to_string());
            }
            created
        })
    };

    let mut printed: Vec<String> = Vec::new();
    for _ in 0..5 {
        // Let it print a few, then kill it without warning.
        for _ in 0..10 {
            printed.push(
                watch.json_line().await["event"]["id"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
            );
        }
        watch.child.kill().await.unwrap();
        printed.extend(
            remaining_events(&mut watch)
                .await
                .iter()
                .map(|e| e["event"]["id"].as_str().unwrap().to_owned()),
        );
        assert!(file.exists(), "a checkpoint was recorded");
        watch = Running::start(incident(&server, &args));
    }
    producing.store(false, std::sync::atomic::Ordering::SeqCst);
    let created = producer.await.unwrap();
    // The last watcher catches up on everything left.
    let mut seen: std::collections::HashSet<String> = printed.iter().cloned().collect();
    while !created.iter().all(|id| seen.contains(id)) {
        let id = watch.json_line().await["event"]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        seen.insert(id.clone());
        printed.push(id);
    }
    watch.interrupt().await;
    let duplicates = printed.len() - seen.len();
    assert!(
        duplicates <= 5,
        "{duplicates} duplicates over 5 crashes ({} printed, {} distinct)",
        printed.len(),
        seen.len()
    );
    assert!(created.len() >= 40, "the producer ran: {}", created.len());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_catch_up_exits_5_and_keeps_the_checkpoint_before_the_hole() {
    let server = DevServer::builder().start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bot.checkpoint");
    let file_arg = file.to_str().unwrap().to_owned();
    let args = ["watch", "new", "--json", "--checkpoint", file_arg.as_str()];
    let mut watch = Running::start(incident(&server, &args));
    settle(&server, &["newIncidents"]).await;
    open(&server, "printed", Severity::P3);
    let printed = watch.json_line().await;
    assert_eq!(printed["event"]["title"], "printed");

    // The server stops accepting the listing query; the watcher reconnects and must catch up.
    server.graphql_refusing(true);
    server.drop_all();
    // Created once the watcher is on its next connection, so it is not live on the old one.
    let reconnected = server
        .wait_for(WAIT, |s| s.connections_accepted() >= 2)
        .await;
    assert!(reconnected, "the watcher reconnected");
    open(&server, "missed", Severity::P3);
    let status = tokio::time::timeout(WAIT, watch.child.wait())
        .await
        .expect("the watcher to exit")
        .unwrap();
    assert_eq!(status.code(), Some(5), "exit code for a refused catch-up");
    let saved: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(saved["ids"], serde_json::json!([printed["event"]["id"]]));

    // Once the server answers again, a rerun resumes before the hole.
    server.graphql_refusing(false);
    let mut rerun = Running::start(incident(&server, &args));
    assert_eq!(rerun.json_line().await["event"]["title"], "missed");
    let output = rerun.interrupt().await;
    assert!(output.status.success(), "{output:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_corrupt_checkpoint_or_an_unresumable_stream_is_bad_usage() {
    let server = DevServer::builder().start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("broken.checkpoint");
    std::fs::write(&file, "{ not a checkpoint").unwrap();
    let output = incident(
        &server,
        &["watch", "new", "--checkpoint", file.to_str().unwrap()],
    )
    .output()
    .await
    .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("is corrupt"), "{stderr}");
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        "{ not a checkpoint"
    );

    let output = incident(
        &server,
        &["watch", "updates", "--checkpoint", file.to_str().unwrap()],
    )
    .output()
    .await
    .unwrap();
    assert_eq!(output.status.code(), Some(2));
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

fn run_incident(args: &[&str], dir: &std::path::Path) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_incident"))
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn schema_pull_rebuilds_the_servers_federation_export_exactly() {
    let server = DevServer::builder().start().await.unwrap();
    let token = server.mint_token("cli", Duration::from_secs(300));
    let dir = tempfile::tempdir().unwrap();
    let url = server.http_url();
    let header = format!("Authorization: Bearer {token}");
    let output = Command::new(env!("CARGO_BIN_EXE_incident"))
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
    let token = Command::new(env!("CARGO_BIN_EXE_incident"))
        .args(["token", "mint", "--jwt-secret", "dev-secret"])
        .output()
        .await
        .unwrap();
    let token = String::from_utf8(token.stdout).unwrap().trim().to_owned();
    let mut watch = Command::new(env!("CARGO_BIN_EXE_incident"));
    watch
        .args([
            "watch",
            "critical",
            "--json",
            "--metrics-addr",
            "127.0.0.1:0",
        ])
        .env("WS_URL", &ws_url)
        .env("AUTH_TOKEN", &token)
        .env("LOG_LEVEL", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let mut child = watch.spawn().unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap()).lines();
    let mut watch = Running {
        lines: BufReader::new(child.stdout.take().unwrap()).lines(),
        child,
    };
    let base = metrics_base(&mut stderr).await;
    let (status, _) = get(&format!("{base}/healthz")).await;
    assert_eq!(status, 200);

    // An alert through the REST endpoint of the served process reaches the watcher.
    let submit = Command::new(env!("CARGO_BIN_EXE_incident"))
        .args([
            "alert",
            "submit",
            "--title",
            "Checkout down",
            "--severity",
            "P0",
        ])
        .args(["--type", "availability", "--source", "pingdom"])
        .env("WS_URL", &ws_url)
        .env("AUTH_TOKEN", &token)
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
    let pid = server.id().unwrap().to_string();
    let _ = std::process::Command::new("kill")
        .args(["-INT", &pid])
        .status();
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

/// The `http://ADDR` a watcher with `--metrics-addr` says on stderr that it serves.
async fn metrics_base(stderr: &mut Lines<BufReader<tokio::process::ChildStderr>>) -> String {
    tokio::time::timeout(WAIT, async {
        while let Some(line) = stderr.next_line().await.unwrap() {
            if let Some(rest) = line.strip_prefix("metrics: ") {
                let url = rest.split(' ').next().unwrap();
                return url.trim_end_matches("/metrics").to_owned();
            }
        }
        panic!("the watcher ended without serving metrics");
    })
    .await
    .expect("the metrics address on stderr")
}
