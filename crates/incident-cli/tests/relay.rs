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
        Nats::start_with("").await
    }

    /// A server with `config` (authorization, TLS blocks) added to its configuration file.
    async fn start_with(config: &str) -> Nats {
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
        // The relay's progress (resuming, published, duplicates) is logged at info.
        .env("INCIDENT_LOG_LEVEL", "info")
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

/// Runs a relay with `flags` against a server with `config`; it must publish an incident.
async fn relay_publishes_with(config: &str, flags: &[&str]) {
    let nats = Nats::start_with(config).await;
    let server = dev_server().await;
    let relay = Relay::start_with(&server, &nats, STREAM, flags);
    relay.logged("starting from now").await;
    let live = server
        .wait_for(WAIT, |s| s.subscribers("newIncidents") >= 1)
        .await;
    assert!(live, "the relay subscribed");
    let id = open(&server, "authenticated");
    relay.logged(&format!("published {id}")).await;
    let status = relay.terminate().await;
    assert!(status.success(), "{status:?}");
}

/// A relay with `flags` against a server with `config` exits 3 at once, naming NATS.
async fn relay_is_refused_with(config: &str, flags: &[&str], why: &str) {
    let nats = Nats::start_with(config).await;
    let server = dev_server().await;
    let started = std::time::Instant::now();
    let output = tokio::time::timeout(
        WAIT,
        relay_command(&server, &nats.url, STREAM)
            .args(flags)
            .stderr(Stdio::piped())
            .output(),
    )
    .await
    .expect("gives up instead of retrying")
    .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(3), "{flags:?}: {stderr}");
    assert!(stderr.contains(why), "{flags:?}: {stderr}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_relay_authenticates_with_a_user_and_password_or_a_token() {
    let users = "authorization { user: relay, password: s3cret }";
    relay_publishes_with(
        users,
        &["--nats-user", "relay", "--nats-password", "s3cret"],
    )
    .await;
    relay_is_refused_with(
        users,
        &["--nats-user", "relay", "--nats-password", "wrong"],
        "NATS refused the credentials",
    )
    .await;
    let token = "authorization { token: t0ken }";
    relay_publishes_with(token, &["--nats-token", "t0ken"]).await;
    relay_is_refused_with(
        token,
        &["--nats-token", "nope"],
        "NATS refused the credentials",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_relay_authenticates_with_an_nkey() {
    let dir = tempfile::tempdir().unwrap();
    let user = nkeys::KeyPair::new_user();
    let seed = dir.path().join("relay.nk");
    std::fs::write(&seed, user.seed().unwrap()).unwrap();
    let config = format!(
        "authorization {{ users = [ {{ nkey: {} }} ] }}",
        user.public_key()
    );
    relay_publishes_with(&config, &["--nats-nkey", seed.to_str().unwrap()]).await;
    let stranger = dir.path().join("stranger.nk");
    std::fs::write(&stranger, nkeys::KeyPair::new_user().seed().unwrap()).unwrap();
    relay_is_refused_with(
        &config,
        &["--nats-nkey", stranger.to_str().unwrap()],
        "NATS refused the credentials",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_relay_reaches_a_tls_only_server_with_a_client_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let ca = incident_devserver::pki::Ca::new("NATS CA");
    let server_identity = ca.server();
    let client = ca.client("relay");
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path.to_str().unwrap().to_owned()
    };
    let ca_file = write("ca.pem", ca.cert_pem());
    let config = format!(
        "tls {{ cert_file: {:?}, key_file: {:?}, ca_file: {:?}, verify: true }}",
        write("server.pem", &server_identity.cert_pem),
        write("server.key", &server_identity.key_pem),
        ca_file,
    );
    let (cert, key) = (
        write("client.pem", &client.cert_pem),
        write("client.key", &client.key_pem),
    );
    relay_publishes_with(
        &config,
        &[
            "--nats-ca-cert",
            &ca_file,
            "--nats-client-cert",
            &cert,
            "--nats-client-key",
            &key,
        ],
    )
    .await;
    // Without the client certificate the server refuses the handshake.
    relay_is_refused_with(&config, &["--nats-ca-cert", &ca_file], "NATS").await;
}

/// A NATS JWT for `claims`, signed by `issuer` (the ed25519-nkey scheme `nsc` writes).
fn nats_jwt(issuer: &nkeys::KeyPair, subject: &str, name: &str, nats: Value) -> String {
    use base64::Engine;
    let encode = |bytes: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let header = encode(br#"{"typ":"JWT","alg":"ed25519-nkey"}"#);
    let claims = serde_json::json!({
        "jti": format!("{now}{name}"), "iat": now, "iss": issuer.public_key(), "name": name,
        "sub": subject, "nats": nats,
    });
    let claims = encode(claims.to_string().as_bytes());
    let signature = issuer
        .sign(format!("{header}.{claims}").as_bytes())
        .unwrap();
    format!("{header}.{claims}.{}", encode(&signature))
}

#[tokio::test(flavor = "multi_thread")]
async fn the_relay_authenticates_with_a_credentials_file() {
    let operator = nkeys::KeyPair::new_operator();
    let account = nkeys::KeyPair::new_account();
    let user = nkeys::KeyPair::new_user();
    let unlimited = serde_json::json!({
        "subs": -1, "data": -1, "payload": -1, "imports": -1, "exports": -1, "wildcards": true,
        "conn": -1, "leaf": -1, "mem_storage": -1, "disk_storage": -1, "streams": -1, "consumer": -1,
    });
    let operator_jwt = nats_jwt(
        &operator,
        &operator.public_key(),
        "operator",
        serde_json::json!({ "type": "operator", "version": 2 }),
    );
    let account_jwt = nats_jwt(
        &operator,
        &account.public_key(),
        "incidents",
        serde_json::json!({ "limits": unlimited, "type": "account", "version": 2 }),
    );
    let user_jwt = nats_jwt(
        &account,
        &user.public_key(),
        "relay",
        serde_json::json!({ "pub": {}, "sub": {}, "subs": -1, "data": -1, "payload": -1, "type": "user", "version": 2 }),
    );
    // JetStream in operator mode needs a system account.
    let system = nkeys::KeyPair::new_account();
    let system_jwt = nats_jwt(
        &operator,
        &system.public_key(),
        "SYS",
        serde_json::json!({ "type": "account", "version": 2 }),
    );
    let config = format!(
        "operator: {operator_jwt:?}\nsystem_account: {sys}\nresolver: MEMORY\nresolver_preload: {{ {acc}: {account_jwt:?}, {sys}: {system_jwt:?} }}",
        acc = account.public_key(),
        sys = system.public_key(),
    );
    let dir = tempfile::tempdir().unwrap();
    let creds = |jwt: &str, seed: &str| {
        format!(
            "-----BEGIN NATS USER JWT-----\n{jwt}\n------END NATS USER JWT------\n\n-----BEGIN USER NKEY SEED-----\n{seed}\n------END USER NKEY SEED------\n"
        )
    };
    let file = dir.path().join("relay.creds");
    std::fs::write(&file, creds(&user_jwt, &user.seed().unwrap())).unwrap();
    relay_publishes_with(&config, &["--nats-creds", file.to_str().unwrap()]).await;
    // The same user JWT with another key's seed cannot answer the server's challenge.
    let forged = dir.path().join("forged.creds");
    std::fs::write(
        &forged,
        creds(&user_jwt, &nkeys::KeyPair::new_user().seed().unwrap()),
    )
    .unwrap();
    relay_is_refused_with(
        &config,
        &["--nats-creds", forged.to_str().unwrap()],
        "NATS refused the credentials",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn the_relay_runs_through_five_token_expiries_with_a_rewritten_token_file() {
    let nats = Nats::start().await;
    let server = dev_server().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("token");
    let write = {
        let (server, file) = (server.clone(), file.clone());
        move || {
            let temporary = file.with_extension("tmp");
            std::fs::write(
                &temporary,
                server.mint_token("relay", Duration::from_secs(3)),
            )
            .unwrap();
            std::fs::rename(&temporary, &file).unwrap();
        }
    };
    write();
    let refreshing = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let refresher = {
        let refreshing = refreshing.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            while refreshing.load(std::sync::atomic::Ordering::SeqCst) {
                tick.tick().await;
                write();
            }
        })
    };
    let relay = Relay::start_with(
        &server,
        &nats,
        STREAM,
        &["--token-file", file.to_str().unwrap()],
    );
    let live = server
        .wait_for(WAIT, |s| s.subscribers("newIncidents") >= 1)
        .await;
    assert!(live, "the relay subscribed");
    let mut opened = Vec::new();
    // The first connection and five rotations, with an incident every 200 ms throughout.
    let mut pace = tokio::time::interval(Duration::from_millis(200));
    while server.connections_accepted() < 6 {
        pace.tick().await;
        opened.push(open(&server, &format!("through expiries {}", opened.len())));
        assert!(
            opened.len() < 200,
            "no rotations: {}",
            server.connections_accepted()
        );
    }
    for id in &opened {
        relay.logged(&format!("published {id}")).await;
    }
    refreshing.store(false, std::sync::atomic::Ordering::SeqCst);
    refresher.await.unwrap();
    let log = relay.log.lock().unwrap().clone();
    assert!(
        !log.iter()
            .any(|line| line.contains("WARN") || line.contains("reconnect")),
        "{log:#?}"
    );
    let status = relay.terminate().await;
    assert!(status.success(), "{status:?}");
}
