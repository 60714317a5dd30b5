//! Real networks: `wss://` and `https://` against a TLS dev server with a private CA, mutual TLS,
//! certificates that are not trusted, an HTTP CONNECT proxy, extra headers and the
//! `connection_init` payload, and a client started before its server.

use std::time::{Duration, Instant};

use crate::common::*;
use incident_client::{
    AlertSubmission, Error, IncidentClient, IncidentType, ReconnectPolicy, Severity,
};
use incident_devserver::pki::Ca;
use incident_devserver::proxy::HttpProxy;
use incident_devserver::{DevServer, DevServerHandle};

/// A dev server serving `https://` and `wss://` with a certificate from `ca`; with `client_ca`,
/// it requires client certificates signed by that CA.
async fn tls_server(ca: &Ca, client_ca: Option<&Ca>) -> DevServerHandle {
    let identity = ca.server();
    let mut builder = DevServer::builder().tls(identity.cert_pem, identity.key_pem);
    if let Some(client_ca) = client_ca {
        builder = builder.client_ca(client_ca.cert_pem());
    }
    builder.start().await.unwrap()
}

/// Submits a P0 alert over REST and checks it arrives on `critical` over the WebSocket.
async fn round_trip(client: &IncidentClient, title: &str) {
    let mut critical = client.critical_incidents().unwrap();
    live(&critical).await;
    let alert = AlertSubmission::new("tests", title, Severity::P0, IncidentType::Security);
    let receipt = client.submit_alert(&alert).await.unwrap();
    let incident = next(&mut critical).await.unwrap();
    assert_eq!(Some(incident.id), receipt.incident_id);
    assert_eq!(incident.title, title);
}

#[tokio::test]
async fn wss_streams_and_https_queries_with_a_private_ca() {
    let ca = Ca::new("Private CA");
    let server = tls_server(&ca, None).await;
    assert!(server.ws_url().starts_with("wss://"));
    let client = builder(&server)
        .add_root_certificate_pem(ca.cert_pem())
        .connect()
        .await
        .unwrap();
    let since = incident_client::Timestamp::from(chrono::Utc::now());
    round_trip(&client, "Certificate pinned in the vault").await;
    let changed = client.incidents_changed_since(since).await.unwrap();
    assert_eq!(changed.len(), 1, "the HTTPS query sees the incident");
    assert!(server.tls_failures().is_empty());
}

#[tokio::test]
async fn an_untrusted_certificate_fails_at_once_naming_the_problem() {
    let server = tls_server(&Ca::new("Unknown CA"), None).await;
    for wait in [false, true] {
        let started = Instant::now();
        let error = builder(&server)
            .wait_for_server(wait)
            .connect()
            .await
            .expect_err("the web roots do not include a private CA");
        assert!(started.elapsed() < Duration::from_secs(5), "fails fast");
        assert!(error.is_certificate_problem(), "{error:?}");
        assert!(matches!(error, Error::Connect { .. }), "{error:?}");
        let text = format!("{:#}", anyhow::Error::new(error));
        assert!(
            text.contains("TLS certificate problem: invalid peer certificate: UnknownIssuer"),
            "{text}"
        );
    }
    // One handshake each, even when told to wait for the server: no reconnect loop.
    server_sees(&server, "two failed handshakes", |s| {
        s.tls_failures().len() == 2
    })
    .await;
    assert_eq!(server.connections_accepted(), 0);
}

#[tokio::test]
async fn mutual_tls_accepts_a_signed_client_and_refuses_others() {
    let server_ca = Ca::new("Server CA");
    let client_ca = Ca::new("Client CA");
    let server = tls_server(&server_ca, Some(&client_ca)).await;
    let signed = client_ca.client("pager-bot");
    let client = builder(&server)
        .add_root_certificate_pem(server_ca.cert_pem())
        .client_identity_pem(signed.cert_pem, signed.key_pem)
        .connect()
        .await
        .unwrap();
    round_trip(&client, "mTLS works").await;

    let stranger = Ca::new("Other CA").client("intruder");
    let refused = [
        builder(&server).add_root_certificate_pem(server_ca.cert_pem()),
        builder(&server)
            .add_root_certificate_pem(server_ca.cert_pem())
            .client_identity_pem(stranger.cert_pem, stranger.key_pem),
    ];
    for attempt in refused {
        let error = attempt.connect().await.expect_err("refused");
        assert!(error.is_certificate_problem(), "{error:?}");
    }
    server_sees(&server, "two refused handshakes", |s| {
        s.tls_failures().len() == 2
    })
    .await;
    assert_eq!(
        server.connections_accepted(),
        1,
        "only the signed client got in"
    );
}

#[tokio::test]
async fn websocket_and_https_go_through_a_connect_proxy_with_basic_auth() {
    let ca = Ca::new("Private CA");
    let server = tls_server(&ca, None).await;
    let proxy = HttpProxy::start(Some(("relay", "s3cret"))).await.unwrap();
    let client = builder(&server)
        .add_root_certificate_pem(ca.cert_pem())
        .proxy(format!("http://relay:s3cret@{}", proxy.addr()))
        .connect()
        .await
        .unwrap();
    round_trip(&client, "Through the proxy").await;
    let target = server.addr().to_string();
    let connects = proxy.connects();
    assert!(
        connects.len() >= 2 && connects.iter().all(|c| *c == target),
        "the WebSocket and HTTPS both tunnel to {target}: {connects:?}"
    );
    assert_eq!(proxy.refused(), 0);

    let error = builder(&server)
        .add_root_certificate_pem(ca.cert_pem())
        .proxy(format!("http://relay:wrong@{}", proxy.addr()))
        .connect()
        .await
        .expect_err("the proxy refuses wrong credentials");
    assert!(matches!(error, Error::Connect { .. }), "{error:?}");
    assert_eq!(proxy.refused(), 1);
}

#[tokio::test]
async fn plain_websockets_tunnel_and_plain_http_is_forwarded_by_the_proxy() {
    let server = server().await;
    let proxy = HttpProxy::start(None).await.unwrap();
    let client = builder(&server).proxy(proxy.url()).connect().await.unwrap();
    round_trip(&client, "ws through the proxy").await;
    assert_eq!(proxy.connects(), vec![server.addr().to_string()]);
    let forwarded = proxy.forwarded();
    assert!(
        forwarded.iter().any(|uri| uri.ends_with("/v1/alerts")),
        "the REST call went through the proxy: {forwarded:?}"
    );
}

#[tokio::test]
async fn headers_user_agent_and_init_payload_reach_the_server() {
    let server = server().await;
    let client = builder(&server)
        .header("X-Team", "sre")
        .connection_init_payload(|token| {
            serde_json::json!({
                "Authorization": token.map(|t| format!("Bearer {t}")),
                "tenant": "payments",
            })
        })
        .connect()
        .await
        .unwrap();
    round_trip(&client, "Headers").await;
    assert_eq!(server.upgrade_headers("x-team"), ["sre"]);
    assert_eq!(
        server.upgrade_headers("user-agent"),
        [incident_client::USER_AGENT]
    );
    assert!(incident_client::USER_AGENT.starts_with("incident-client/"));
    let http_teams = server.request_headers("x-team");
    assert!(!http_teams.is_empty() && http_teams.iter().all(|v| v == "sre"));
    assert!(
        server
            .request_headers("user-agent")
            .iter()
            .all(|v| v == incident_client::USER_AGENT)
    );
    let payloads = server.init_payloads();
    assert_eq!(payloads.len(), 1);
    assert_eq!(payloads[0]["tenant"], "payments");
    assert!(
        payloads[0]["Authorization"]
            .as_str()
            .unwrap()
            .starts_with("Bearer ")
    );
}

#[tokio::test]
async fn bad_settings_are_typed_errors() {
    let server = server().await;
    let cases = [
        builder(&server).add_root_certificate_pem("not PEM"),
        builder(&server).client_identity_pem("no cert", "no key"),
        builder(&server).header("bad header", "x"),
        builder(&server).proxy("socks5://127.0.0.1:1080"),
    ];
    for case in cases {
        let error = case.connect().await.expect_err("a bad setting");
        assert!(matches!(error, Error::InvalidSetting { .. }), "{error:?}");
    }
    assert_eq!(server.connections_accepted(), 0);
}

#[tokio::test]
async fn a_client_started_before_its_server_waits_for_it() {
    // The port first belongs to something that accepts and hangs up (a server still starting),
    // then to the dev server.
    let early = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = early.local_addr().unwrap();
    let ws_url = format!("ws://{addr}/graphql/ws");
    let secret = b"wait-for-it".to_vec();
    let token = incident_devserver::mint(&secret, "tests", Duration::from_secs(3600));

    let refused = IncidentClient::builder(ws_url.clone())
        .token(token.clone())
        .connect();
    let fast = tokio::spawn(refused);

    let waiting = tokio::spawn(
        IncidentClient::builder(ws_url)
            .token(token)
            .reconnect(ReconnectPolicy::new(
                Duration::from_millis(20),
                Duration::from_millis(100),
                None,
            ))
            .wait_for_server(true)
            .connect(),
    );
    let mut hung_up = 0;
    while hung_up < 4 {
        let (socket, _) = tokio::time::timeout(WAIT, early.accept())
            .await
            .unwrap()
            .unwrap();
        drop(socket);
        hung_up += 1;
    }
    let error = fast.await.unwrap().expect_err("fail-fast is the default");
    assert!(matches!(error, Error::Connect { .. }), "{error:?}");
    assert!(!waiting.is_finished(), "still waiting for the server");
    drop(early);
    let server = DevServer::builder()
        .addr(addr)
        .jwt_secret(secret)
        .start()
        .await
        .unwrap();
    let client = tokio::time::timeout(WAIT, waiting)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    round_trip(&client, "Started late").await;
    drop(server);
}
