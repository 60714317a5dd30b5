//! `incident` on production networks: `incident serve` over TLS, `watch` through an HTTPS proxy
//! with a private CA, mutual TLS, an untrusted certificate exiting 3, and `watch --wait`.

use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use crate::common::{WAIT, incident_at, open, serve};
use incident_devserver::pki::Ca;
use incident_devserver::proxy::HttpProxy;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

const SECRET: &str = "network-secret";

/// The CA's certificate, the server's certificate and key, and a client certificate and key,
/// written as PEM files in `dir`.
struct Files {
    ca: PathBuf,
    server_cert: PathBuf,
    server_key: PathBuf,
    client_cert: PathBuf,
    client_key: PathBuf,
}

fn write_pki(dir: &Path) -> Files {
    let ca = Ca::new("Company CA");
    let server = ca.server();
    let client = ca.client("watcher");
    let write = |name: &str, text: &str| {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    };
    Files {
        ca: write("ca.pem", ca.cert_pem()),
        server_cert: write("server.pem", &server.cert_pem),
        server_key: write("server.key", &server.key_pem),
        client_cert: write("client.pem", &client.cert_pem),
        client_key: write("client.key", &client.key_pem),
    }
}

/// `incident serve` over TLS with the certificate in `files`, and `extra` flags; the server and
/// its WebSocket URL.
async fn serve_tls(files: &Files, extra: &[&str]) -> (tokio::process::Child, String) {
    let mut args = vec![
        "--addr",
        "127.0.0.1:0",
        "--jwt-secret",
        SECRET,
        "--tls-cert",
        files.server_cert.to_str().unwrap(),
        "--tls-key",
        files.server_key.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let (server, _http_url, ws_url) = serve(&args).await;
    (server, ws_url)
}

/// `incident ARGS` with the token, no proxy from the outside environment, and `env` on top.
fn incident(ws_url: &str, args: &[&str], env: &[(&str, &str)]) -> Command {
    let token =
        incident_devserver::mint(SECRET.as_bytes(), "cli-networks", Duration::from_secs(600));
    let mut command = incident_at(ws_url, &token, args);
    for name in [
        "HTTPS_PROXY",
        "https_proxy",
        "HTTP_PROXY",
        "http_proxy",
        "ALL_PROXY",
        "all_proxy",
        "NO_PROXY",
        "no_proxy",
    ] {
        command.env_remove(name);
    }
    for (name, value) in env {
        command.env(name, value);
    }
    command
}

/// Runs `watch critical --json --limit 1` with `tls` flags and submits P0 alerts (with the same
/// flags) until the watcher prints one; returns the printed event.
async fn watch_one(ws_url: &str, tls: &[&str], env: &[(&str, &str)]) -> Value {
    let mut args = vec!["watch", "critical", "--json", "--limit", "1"];
    args.extend_from_slice(tls);
    let mut watch = incident(ws_url, &args, env)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(watch.stdout.take().unwrap()).lines();
    let printed = tokio::time::timeout(WAIT, async {
        let mut attempt = 0;
        loop {
            // The watcher runs in another process: alerts go in until one reaches it.
            attempt += 1;
            let title = format!("Certificate expiry on edge-{attempt}");
            let mut submit = vec![
                "alert",
                "submit",
                "--title",
                &title,
                "--severity",
                "P0",
                "--type",
                "security",
                "--source",
                "tests",
            ];
            submit.extend_from_slice(tls);
            let submitted = incident(ws_url, &submit, env).output().await.unwrap();
            assert!(
                submitted.status.success(),
                "{}",
                String::from_utf8_lossy(&submitted.stderr)
            );
            if let Ok(line) =
                tokio::time::timeout(Duration::from_millis(300), lines.next_line()).await
            {
                return line.unwrap().expect("a line");
            }
        }
    })
    .await
    .expect("the watcher prints an event");
    let output = tokio::time::timeout(WAIT, watch.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_str(&printed).unwrap()
}

/// Runs `incident watch critical` expecting it to fail, within seconds.
async fn watch_fails(ws_url: &str, tls: &[&str], env: &[(&str, &str)]) -> Output {
    let mut args = vec!["watch", "critical", "--limit", "1"];
    args.extend_from_slice(tls);
    let started = Instant::now();
    let output = tokio::time::timeout(WAIT, incident(ws_url, &args, env).output())
        .await
        .expect("exits instead of retrying")
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(10));
    output
}

#[tokio::test(flavor = "multi_thread")]
async fn watch_streams_over_wss_through_an_https_proxy_and_refuses_an_untrusted_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let files = write_pki(dir.path());
    let (_server, ws_url) = serve_tls(&files, &[]).await;
    assert!(ws_url.starts_with("wss://127.0.0.1:"), "{ws_url}");
    let ws_url = ws_url.replace("127.0.0.1", "localhost");
    let port = ws_url
        .split(':')
        .nth(2)
        .unwrap()
        .split('/')
        .next()
        .unwrap()
        .to_owned();
    let proxy = HttpProxy::start(None).await.unwrap();
    let env = [("HTTPS_PROXY", proxy.url())];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let ca = ["--ca-cert", files.ca.to_str().unwrap()];

    let event = watch_one(&ws_url, &ca, &env).await;
    assert_eq!(event["stream"], "critical");
    assert!(
        event["event"]["title"]
            .as_str()
            .unwrap()
            .starts_with("Certificate expiry")
    );
    let connects = proxy.connects();
    let target = format!("localhost:{port}");
    assert!(
        connects.iter().filter(|c| **c == target).count() >= 2,
        "the watcher's WebSocket and the alerts' HTTPS went through the proxy: {connects:?}"
    );

    let refused = watch_fails(&ws_url, &[], &env).await;
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(3), "{stderr}");
    assert!(
        stderr.contains("TLS certificate problem: invalid peer certificate: UnknownIssuer"),
        "{stderr}"
    );
    assert!(
        stderr.contains("--ca-cert"),
        "the hint names the flag: {stderr}"
    );

    // The system's roots on request, with SSL_CERT_FILE naming the bundle, as OpenSSL reads it.
    let event = watch_one(
        &ws_url,
        &["--system-roots"],
        &[("SSL_CERT_FILE", files.ca.to_str().unwrap())],
    )
    .await;
    assert_eq!(event["stream"], "critical");

    // ALL_PROXY when no scheme's own variable is set; NO_PROXY exempts a host, as curl reads them.
    let all = HttpProxy::start(None).await.unwrap();
    let all_url = all.url();
    watch_one(&ws_url, &ca, &[("ALL_PROXY", all_url.as_str())]).await;
    assert!(all.connects().contains(&target), "{:?}", all.connects());
    let bypassed = HttpProxy::start(None).await.unwrap();
    let bypassed_url = bypassed.url();
    watch_one(
        &ws_url,
        &ca,
        &[
            ("HTTPS_PROXY", bypassed_url.as_str()),
            ("NO_PROXY", "localhost"),
        ],
    )
    .await;
    assert!(bypassed.connects().is_empty(), "{:?}", bypassed.connects());
}

#[tokio::test(flavor = "multi_thread")]
async fn mutual_tls_with_client_certificate_flags() {
    let dir = tempfile::tempdir().unwrap();
    let files = write_pki(dir.path());
    let (_server, ws_url) = serve_tls(&files, &["--client-ca", files.ca.to_str().unwrap()]).await;
    let ca = files.ca.to_str().unwrap();
    let with_identity = [
        "--ca-cert",
        ca,
        "--client-cert",
        files.client_cert.to_str().unwrap(),
        "--client-key",
        files.client_key.to_str().unwrap(),
    ];
    let event = watch_one(&ws_url, &with_identity, &[]).await;
    assert_eq!(event["event"]["severity"], "P0");

    let refused = watch_fails(&ws_url, &["--ca-cert", ca], &[]).await;
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("TLS certificate problem"), "{stderr}");
}

#[tokio::test(flavor = "multi_thread")]
async fn watch_wait_receives_events_from_a_server_started_after_it() {
    // A free port: bound, noted, released. The watcher starts first.
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let ws_url = format!("ws://{addr}/graphql/ws");

    let fail_fast = watch_fails(&ws_url, &[], &[]).await;
    assert_eq!(fail_fast.status.code(), Some(3), "without --wait it exits");

    let mut watch = incident(
        &ws_url,
        &["watch", "new", "--json", "--limit", "1", "--wait"],
        &[],
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    let mut stderr = BufReader::new(watch.stderr.take().unwrap()).lines();
    let waiting = tokio::time::timeout(WAIT, async {
        while let Some(line) = stderr.next_line().await.unwrap() {
            if line.contains("not reachable yet") {
                return line;
            }
        }
        panic!("the watcher exited instead of waiting");
    })
    .await
    .expect("the watcher logs its attempts");
    assert!(waiting.contains("attempt"), "{waiting}");

    let server = incident_devserver::DevServer::builder()
        .addr(addr)
        .jwt_secret(SECRET)
        .start()
        .await
        .unwrap();
    assert!(
        server
            .wait_for(WAIT, |s| s.subscribers("newIncidents") == 1)
            .await
    );
    open(
        &server,
        "Started before its server",
        incident_devserver::model::Severity::P2,
    );
    let mut lines = BufReader::new(watch.stdout.take().unwrap()).lines();
    let line = tokio::time::timeout(WAIT, lines.next_line())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    let event: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(event["event"]["title"], "Started before its server");
    let status = tokio::time::timeout(WAIT, watch.wait())
        .await
        .unwrap()
        .unwrap();
    assert!(status.success());
}
