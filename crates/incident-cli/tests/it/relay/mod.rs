//! `incident relay` into a real `nats-server -js` on 127.0.0.1: what it delivers and through
//! which failures ([`delivery`]), and each way it authenticates to NATS ([`auth`]). This file
//! is the harness both use.

mod auth;
mod delivery;

use std::collections::BTreeSet;
use std::process::Stdio;
use std::sync::{Arc, Mutex};

use async_nats::jetstream;
use incident_devserver::model::Severity;
use incident_devserver::{DevServer, DevServerHandle};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::common::{WAIT, incident, signal, until};

/// The dev server's JWT secret.
const SECRET: &str = "relay-secret";
/// The subject every relay here publishes to.
pub const SUBJECT: &str = "incidents.new";
/// The JetStream stream most tests use.
pub const STREAM: &str = "INCIDENTS";

/// A `nats-server -js` on an ephemeral port of 127.0.0.1, storing in a temporary directory.
pub struct Nats {
    _child: Child,
    pub url: String,
    _store: tempfile::TempDir,
}

impl Nats {
    /// A server with JetStream and no authentication.
    pub async fn start() -> Nats {
        Nats::start_with("").await
    }

    /// A server with `config` (authorization, TLS blocks) added to its configuration file.
    pub async fn start_with(config: &str) -> Nats {
        let store = tempfile::tempdir().unwrap();
        let file = store.path().join("nats.conf");
        let jetstream = store.path().join("js");
        std::fs::write(
            &file,
            format!(
                "listen: 127.0.0.1:-1\njetstream {{ store_dir: {:?} }}\n{config}\n",
                jetstream.display().to_string()
            ),
        )
        .unwrap();
        let mut child = Command::new("nats-server")
            .arg("-c")
            .arg(&file)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("nats-server on PATH (Debian package nats-server; .ci/run installs it)");
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let url = tokio::time::timeout(WAIT, async {
            let mut url = None;
            let mut log = Vec::new();
            while let Some(line) = lines.next_line().await.unwrap() {
                log.push(line.clone());
                if let Some((_, address)) = line.split_once("Listening for client connections on ")
                {
                    let scheme = if config.contains("tls {") {
                        "tls"
                    } else {
                        "nats"
                    };
                    url = Some(format!("{scheme}://{}", address.trim()));
                }
                if line.contains("Server is ready") {
                    return url.expect("the client address is logged before ready");
                }
            }
            panic!("nats-server exited: {log:#?}");
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

    /// A JetStream context on it, for the test's own reads.
    pub async fn jetstream(&self) -> jetstream::Context {
        jetstream::new(async_nats::connect(&self.url).await.unwrap())
    }
}

/// A running `incident relay new`, with its stderr collected.
pub struct Relay {
    child: Child,
    log: Arc<Mutex<Vec<String>>>,
}

impl Relay {
    /// Starts `incident relay new` from `server` into `stream`.
    pub fn start(server: &DevServerHandle, nats: &Nats, stream: &str) -> Relay {
        Relay::start_with(server, nats, stream, &[])
    }

    /// Starts it with `extra` flags.
    pub fn start_with(
        server: &DevServerHandle,
        nats: &Nats,
        stream: &str,
        extra: &[&str],
    ) -> Relay {
        let mut child = relay_command(server, &nats.url, stream)
            .args(extra)
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
    pub async fn logged(&self, needle: &str) {
        let log = &self.log;
        let what = format!("the relay to log {needle:?}");
        until(&what, async || {
            let log = log.lock().unwrap();
            log.iter().any(|l| l.contains(needle)).then_some(())
        })
        .await;
    }

    /// The lines it logged so far.
    pub fn log(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }

    /// Kills it with SIGKILL: no chance to finish anything.
    pub fn kill(&mut self) {
        signal(&self.child, "-KILL");
    }

    /// Stops it with SIGTERM and returns how it exited.
    pub async fn terminate(mut self) -> std::process::ExitStatus {
        signal(&self.child, "-TERM");
        tokio::time::timeout(WAIT, self.child.wait())
            .await
            .unwrap()
            .unwrap()
    }
}

/// `incident relay new` from `server` into `stream` on the NATS server at `nats`, its progress
/// logged (stderr piped).
pub fn relay_command(server: &DevServerHandle, nats: &str, stream: &str) -> Command {
    let args = [
        "relay",
        "new",
        "--nats",
        nats,
        "--stream",
        stream,
        "--subject",
        SUBJECT,
    ];
    let mut command = incident(server, &args);
    // The relay's progress (resuming, published, duplicates) is logged at info.
    command
        .env("INCIDENT_LOG_LEVEL", "info")
        .stdout(Stdio::null());
    command
}

/// A dev server with the relay tests' secret.
pub async fn dev_server() -> DevServerHandle {
    DevServer::builder()
        .jwt_secret(SECRET)
        .start()
        .await
        .unwrap()
}

/// Opens a P2 incident titled `title`; returns its id.
pub fn open(server: &DevServerHandle, title: &str) -> String {
    crate::common::open(server, title, Severity::P2)
}

/// The incident ids in the stream, in stream order.
pub async fn stored(nats: &Nats, stream: &str) -> Vec<String> {
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

/// Waits until the stream holds `count` messages; their incident ids.
pub async fn until_stored(nats: &Nats, stream: &str, count: usize) -> Vec<String> {
    let what = format!("the stream {stream} to hold {count} incidents");
    until(&what, async || {
        let ids = stored(nats, stream).await;
        (ids.len() >= count).then_some(ids)
    })
    .await
}

/// The ids `incident incidents list --all --json` prints, in order.
pub async fn list_all_ids(server: &DevServerHandle) -> Vec<String> {
    let listed = incident(server, &["incidents", "list", "--all", "--json"])
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

/// Asserts `stored` holds each of `created` exactly once, and nothing else.
pub fn assert_exactly_once(stored: &[String], created: &[String]) {
    let unique: BTreeSet<&String> = stored.iter().collect();
    assert_eq!(
        unique.len(),
        stored.len(),
        "no incident stored twice: {stored:?}"
    );
    let expected: BTreeSet<&String> = created.iter().collect();
    assert_eq!(unique, expected, "every created incident stored");
}
