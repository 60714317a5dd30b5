//! How the relay authenticates to NATS, against servers configured for each way: a user and
//! password, a token, an nkey, an operator-mode credentials file made at test time, and TLS
//! with a client certificate; each wrong credential exits 3 at once, naming NATS.

use std::time::Duration;

use serde_json::Value;

use super::{Nats, Relay, STREAM, dev_server, open, relay_command};
use crate::common::WAIT;

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
