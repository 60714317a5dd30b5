//! `incident relay` into a real `nats-server -js` on 127.0.0.1: two relays with one SIGKILLed
//! and restarted leave every incident in JetStream exactly once; a relay restarted after
//! incidents were created while it was down publishes them; `incidents list --all` reconciles;
//! bad NATS settings are clear errors.

#![cfg(all(feature = "relay", feature = "devserver"))]

mod common;

use std::collections::BTreeSet;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_nats::jetstream;
use common::WAIT;
use incident_devserver::model::{IncidentType, Severity};
use incident_devserver::{DevServer, DevServerHandle};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

const SECRET: &str = "relay-secret";
const SUBJECT: &str = "incidents.new";
const STREAM: &str = "INCIDENTS";

/// A `nats-server -js` on an ephemeral port of 127.0.0.1, storing in a temporary directory.
struct Nats {
    _child: Child,
    url: String,
    _store: tempfile::TempDir,
}

impl Nats {
    async fn start() -> Nats {
        let store = tempfile::tempdir().unwrap();
        let mut child = Command::new("nats-server")
            .args(["-js", "-a", "127.0.0.1", "-p", "-1", "-sd"])
            .arg(store.path())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("nats-server on PATH (Debian package nats-server; .ci/run installs it)");
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let url = tokio::time::timeout(WAIT, async {
            let mut url = None;
            while let Some(line) = lines.next_line().await.unwrap() {
                if let Some((_, address)) = line.split_once("Listening for client connections on ")
                {
                    url = Some(format!("nats://{}", address.trim()));
                }
                if line.contains("Server is ready") {
                    return url.expect("the client address is logged before ready");
                }
            }
            panic!("nats-server exited");
        })
        .await
        .expect("nats-server starts");
        // Keep reading its log so it never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Nats {
            _child: child,
            url,
            _store: store,
        }
    }

    async fn jetstream(&self) -> jetstream::Context {
        jetstream::new(async_nats::connect(&self.url).await.unwrap())
    }
}

/// A running `incident relay new`, with its stderr collected.
struct Relay {
    child: Child,
    log: Arc<Mutex<Vec<String>>>,
}

impl Relay {
    fn start(server: &DevServerHandle, nats: &Nats, stream: &str) -> Relay {
        Relay::start_with(server, nats, stream, &[])
    }

    fn start_with(server: &DevServerHandle, nats: &Nats, stream: &str, extra: &[&str]) -> Relay {
        let mut child = relay_command(server, &nats.url, stream)
            .args(extra)
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let sink = log.clone();
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                sink.lock().unwrap().push(line);
            }
        });
        Relay { child, log }
    }

    /// Waits until a line of its log contains `needle`.
    async fn logged(&self, needle: &str) {
        let seen = tokio::time::timeout(WAIT, async {
            let mut poll = tokio::time::interval(Duration::from_millis(20));
            loop {
                if self.log.lock().unwrap().iter().any(|l| l.contains(needle)) {
                    return;
                }
                poll.tick().await;
            }
        })
        .await;
        assert!(
            seen.is_ok(),
            "relay never logged {needle:?}: {:#?}",
            self.log.lock().unwrap()
        );
    }

    fn kill(&mut self) {
        let pid = self.child.id().unwrap().to_string();
        assert!(
            std::process::Command::new("kill")
                .args(["-KILL", &pid])
                .status()
                .unwrap()
                .success()
        );
    }

    async fn terminate(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().unwrap().to_string();
        assert!(
            std::process::Command::new("kill")
                .args(["-TERM", &pid])
                .status()
                .unwrap()
                .success()
        );
        tokio::time::timeout(WAIT, self.child.wait())
            .await
            .unwrap()
            .unwrap()
    }
}

fn relay_command(server: &DevServerHandle, nats: &str, stream: &str) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_incident"));
    command
        .args([
            "relay",
            "new",
            "--nats",
            nats,
            "--stream",
            stream,
            "--subject",
            SUBJECT,
        ])
        .env("WS_URL", server.ws_url())
        .env(
            "AUTH_TOKEN",
            server.mint_token("relay", Duration::from_secs(600)),
        )
        .env("LOG_LEVEL", "warn")
        .stdout(Stdio::null())
        .kill_on_drop(true);
    command
}

async fn dev_server() -> DevServerHandle {
    DevServer::builder()
        .jwt_secret(SECRET)
        .start()
        .await
        .unwrap()
}

fn open(server: &DevServerHandle, title: &str) -> String {
    server
        .store()
        .create_incident(
            "relay-tests",
            title,
            "d",
            Severity::P2,
            IncidentType::Application,
            vec![],
            vec![],
            "tests",
        )
        .unwrap()
        .id
        .to_string()
}

/// The incident ids in the stream, in stream order.
async fn stored(nats: &Nats, stream: &str) -> Vec<String> {
    let stream = nats.jetstream().await.get_stream(stream).await.unwrap();
    let state = stream.get_info().await.unwrap().state;
    let mut ids = Vec::new();
    if state.messages == 0 {
        return ids;
    }
    for sequence in state.first_sequence..=state.last_sequence {
        let message = stream.get_raw_message(sequence).await.unwrap();
        let json: Value = serde_json::from_slice(&message.payload).unwrap();
        assert_eq!(json["stream"], "new");
        let id = json["event"]["id"].as_str().unwrap().to_owned();
        assert_eq!(
            message.headers.get("Nats-Msg-Id").map(|v| v.as_str()),
            Some(id.as_str()),
            "the message id is the incident id"
        );
        ids.push(id);
    }
    ids
}

/// Waits until the stream holds `count` messages.
async fn until_stored(nats: &Nats, stream: &str, count: usize) -> Vec<String> {
    let reached = tokio::time::timeout(WAIT, async {
        let mut poll = tokio::time::interval(Duration::from_millis(50));
        loop {
            let ids = stored(nats, stream).await;
            if ids.len() >= count {
                return ids;
            }
            poll.tick().await;
        }
    })
    .await;
    reached.unwrap_or_else(|_| panic!("the stream never held {count} incidents"))
}

/// The ids `incident incidents list --all --json` prints, in order.
async fn list_all_ids(server: &DevServerHandle) -> Vec<String> {
    let listed = Command::new(env!("CARGO_BIN_EXE_incident"))
        .args(["incidents", "list", "--all", "--json"])
        .env("WS_URL", server.ws_url())
        .env(
            "AUTH_TOKEN",
            server.mint_token("relay", Duration::from_secs(600)),
        )
        .output()
        .await
        .unwrap();
    let stderr = String::from_utf8_lossy(&listed.stderr);
    assert!(listed.status.success(), "{stderr}");
    let ids: Vec<String> = String::from_utf8(listed.stdout)
        .unwrap()
        .lines()
        .map(|line| {
            serde_json::from_str::<Value>(line).unwrap()["id"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert!(
        stderr.contains(&format!("{} incidents", ids.len())),
        "{stderr}"
    );
    ids
}

fn assert_exactly_once(stored: &[String], created: &[String]) {
    let unique: BTreeSet<&String> = stored.iter().collect();
    assert_eq!(
        unique.len(),
        stored.len(),
        "no incident stored twice: {stored:?}"
    );
    let expected: BTreeSet<&String> = created.iter().collect();
    assert_eq!(unique, expected, "every created incident stored");
}

#[tokio::test(flavor = "multi_thread")]
async fn two_relays_one_killed_and_restarted_store_every_incident_exactly_once() {
    let nats = Nats::start().await;
    let server = dev_server().await;
    let mut first = Relay::start(&server, &nats, STREAM);
    let second = Relay::start(&server, &nats, STREAM);
    assert!(
        server
            .wait_for(WAIT, |s| s.subscribers("newIncidents") == 2)
            .await
    );

    let mut created = Vec::new();
    for n in 0..8 {
        created.push(open(&server, &format!("before the crash {n}")));
    }
    until_stored(&nats, STREAM, 3).await;
    first.kill();
    assert!(
        server
            .wait_for(WAIT, |s| s.subscribers("newIncidents") == 1)
            .await
    );
    for n in 0..8 {
        created.push(open(&server, &format!("while one relay is down {n}")));
    }
    let restarted = Relay::start(&server, &nats, STREAM);
    restarted.logged("resuming after incident").await;
    assert!(
        server
            .wait_for(WAIT, |s| s.subscribers("newIncidents") == 2)
            .await
    );
    for n in 0..8 {
        created.push(open(&server, &format!("after the restart {n}")));
    }
    let last = created.last().unwrap().clone();
    // Both running relays have handled the last incident: one stored it, the other was told
    // it was a duplicate.
    second.logged(&last).await;
    restarted.logged(&last).await;
    let ids = until_stored(&nats, STREAM, created.len()).await;
    assert_exactly_once(&ids, &created);
    let duplicates = second
        .log
        .lock()
        .unwrap()
        .iter()
        .chain(restarted.log.lock().unwrap().iter())
        .filter(|l| l.contains("duplicate"))
        .count();
    assert!(
        duplicates >= 8,
        "the second copy of each incident was dropped by JetStream"
    );

    // Reconciling: the stream and `incidents list --all` agree.
    let listed = list_all_ids(&server).await;
    assert_exactly_once(&listed, &ids);

    assert!(second.terminate().await.success(), "SIGTERM exits 0");
    assert!(restarted.terminate().await.success());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_relay_restarted_after_downtime_publishes_what_it_missed() {
    let nats = Nats::start().await;
    let server = dev_server().await;
    let mut relay = Relay::start(&server, &nats, "MISSED");
    relay.logged("holds nothing yet").await;
    assert!(
        server
            .wait_for(WAIT, |s| s.subscribers("newIncidents") == 1)
            .await
    );
    let mut created: Vec<String> = (0..3)
        .map(|n| open(&server, &format!("seen {n}")))
        .collect();
    until_stored(&nats, "MISSED", 3).await;
    relay.kill();
    assert!(
        server
            .wait_for(WAIT, |s| s.subscribers("newIncidents") == 0)
            .await
    );
    created.extend((0..4).map(|n| open(&server, &format!("missed {n}"))));
    let restarted = Relay::start_with(&server, &nats, "MISSED", &["--metrics-addr", "127.0.0.1:0"]);
    let ids = until_stored(&nats, "MISSED", 7).await;
    restarted
        .logged(&format!("resuming after incident {}", created[2]))
        .await;
    assert_exactly_once(&ids, &created);
    assert_eq!(ids, created, "stored in creation order");
    restarted.logged("metrics: http://").await;
    let base = restarted
        .log
        .lock()
        .unwrap()
        .iter()
        .find_map(|l| {
            l.strip_prefix("metrics: ")
                .map(|r| r.split(' ').next().unwrap().to_owned())
        })
        .unwrap();
    let metrics = reqwest::get(&base).await.unwrap().text().await.unwrap();
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("incident_relay_published_total") && l.ends_with(" 4")),
        "{metrics}"
    );
    assert_eq!(
        reqwest::get(base.replace("/metrics", "/healthz"))
            .await
            .unwrap()
            .status()
            .as_u16(),
        200
    );
    assert!(restarted.terminate().await.success());
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_nats_settings_are_clear_errors() {
    let nats = Nats::start().await;
    let server = dev_server().await;
    nats.jetstream()
        .await
        .create_stream(jetstream::stream::Config {
            name: "OTHER".into(),
            subjects: vec!["other.>".into()],
            ..Default::default()
        })
        .await
        .unwrap();
    let uncovered = tokio::time::timeout(WAIT, relay_command(&server, &nats.url, "OTHER").output())
        .await
        .unwrap()
        .unwrap();
    let stderr = String::from_utf8_lossy(&uncovered.stderr);
    assert_eq!(uncovered.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("do not cover incidents.new"), "{stderr}");

    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let unreachable = tokio::time::timeout(
        WAIT,
        relay_command(&server, &format!("nats://{closed}"), STREAM).output(),
    )
    .await
    .expect("gives up instead of hanging")
    .unwrap();
    let stderr = String::from_utf8_lossy(&unreachable.stderr);
    assert_eq!(unreachable.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("cannot reach NATS"), "{stderr}");

    let malformed = relay_command(&server, "nats://host:notaport", STREAM)
        .output()
        .await
        .unwrap();
    assert_eq!(
        malformed.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&malformed.stderr)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn incidents_list_all_pages_through_every_incident_oldest_first() {
    let server = dev_server().await;
    let created: Vec<String> = (0..230)
        .map(|n| open(&server, &format!("incident {n}")))
        .collect();
    let ids = list_all_ids(&server).await;
    assert_eq!(ids, created, "three pages, oldest first, nothing twice");
}
