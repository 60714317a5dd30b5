//! `incident-devserver serve --tls-cert/--tls-key/--client-ca` as a process: it serves HTTPS
//! with the given certificate, and with a client CA it refuses clients without a certificate.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use incident_devserver::pki::Ca;

/// Kills the server when the test ends, whatever happens.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the binary with `args` and returns it with the HTTP URL it printed.
fn serve(args: &[&str]) -> (Server, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_incident-devserver"))
        .arg("serve")
        .args(["--addr", "127.0.0.1:0", "--no-auth"])
        .args(args)
        .env("LOG_LEVEL", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let server = Server(child);
    // The first line names the URLs; the process stays up until killed.
    let line = BufReader::new(stderr)
        .lines()
        .map_while(Result::ok)
        .find(|line| line.starts_with("serving GraphQL on "))
        .expect("the server says where it serves");
    let http_url = line.split(' ').nth(3).unwrap().to_owned();
    (server, http_url)
}

fn client(ca: &Ca, identity: Option<&incident_devserver::pki::Identity>) -> reqwest::Client {
    let mut builder = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .add_root_certificate(reqwest::Certificate::from_pem(ca.cert_pem().as_bytes()).unwrap());
    if let Some(identity) = identity {
        let pem = format!("{}{}", identity.cert_pem, identity.key_pem);
        builder = builder.identity(reqwest::Identity::from_pem(pem.as_bytes()).unwrap());
    }
    builder.build().unwrap()
}

#[tokio::test]
async fn the_binary_serves_https_and_requires_client_certificates_when_told() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::new("Binary CA");
    let server_identity = ca.server();
    let (cert, key, ca_file) = (
        dir.path().join("server.pem"),
        dir.path().join("server.key"),
        dir.path().join("ca.pem"),
    );
    std::fs::write(&cert, &server_identity.cert_pem).unwrap();
    std::fs::write(&key, &server_identity.key_pem).unwrap();
    std::fs::write(&ca_file, ca.cert_pem()).unwrap();
    let tls = [
        "--tls-cert",
        cert.to_str().unwrap(),
        "--tls-key",
        key.to_str().unwrap(),
    ];

    let (_server, http_url) = serve(&tls);
    assert!(http_url.starts_with("https://127.0.0.1:"), "{http_url}");
    let health = http_url.replace("/graphql", "/health");
    let answer = client(&ca, None).get(&health).send().await.unwrap();
    assert_eq!(answer.status().as_u16(), 200);

    let mut mutual = tls.to_vec();
    mutual.extend(["--client-ca", ca_file.to_str().unwrap()]);
    let (_mutual_server, http_url) = serve(&mutual);
    let health = http_url.replace("/graphql", "/health");
    assert!(
        client(&ca, None).get(&health).send().await.is_err(),
        "no client certificate"
    );
    let identity = ca.client("tests");
    let answer = client(&ca, Some(&identity))
        .get(&health)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status().as_u16(), 200);
}
