//! The graphql-transport-ws conversation, frame by frame.

use std::time::Duration;

use crate::common::*;
use incident_devserver::DevServer;
use serde_json::json;

#[tokio::test]
async fn init_is_acknowledged() {
    let server = server().await;
    Conn::ready(&server).await;
}

#[tokio::test]
async fn a_query_over_the_socket_gets_next_then_complete() {
    let server = server().await;
    let mut conn = Conn::ready(&server).await;
    conn.subscribe("1", "{ health { status } }", json!({}))
        .await;
    assert_eq!(
        conn.next_data("1").await,
        json!({ "health": { "status": "healthy" } })
    );
    assert_eq!(
        conn.recv().await,
        Frame::Json(json!({ "type": "complete", "id": "1" }))
    );
}

#[tokio::test]
async fn a_subscription_streams_until_the_client_completes_it() {
    let server = server().await;
    let mut conn = Conn::ready(&server).await;
    conn.subscribe("s", "subscription { newIncidents { title } }", json!({}))
        .await;
    conn.sync().await;
    assert_eq!(server.subscribers("newIncidents"), 1);
    create(&server, "first", "P2").await;
    assert_eq!(
        conn.next_data("s").await,
        json!({ "newIncidents": { "title": "first" } })
    );
    conn.send(json!({ "type": "complete", "id": "s" })).await;
    assert!(
        server
            .wait_for(WAIT, |s| s.subscribers("newIncidents") == 0)
            .await
    );
    create(&server, "second", "P2").await;
    // No marker (no subscription is left); 0 subscribers means no feed receiver for "second".
    conn.sync().await;
}

#[tokio::test]
async fn an_invalid_document_gets_an_error_message() {
    let server = server().await;
    let mut conn = Conn::ready(&server).await;
    conn.subscribe("1", "subscription { newIncidents { priority } }", json!({}))
        .await;
    let Frame::Json(frame) = conn.recv().await else {
        panic!("expected a message")
    };
    assert_eq!(frame["type"], "error");
    assert_eq!(frame["id"], "1");
    assert!(
        frame["payload"][0]["message"]
            .as_str()
            .unwrap()
            .contains("priority"),
        "{frame}"
    );
}

#[tokio::test]
async fn a_malformed_message_closes_with_4400() {
    let server = server().await;
    let mut conn = Conn::ready(&server).await;
    conn.send(json!({ "type": "subscribe", "id": "1" })).await;
    assert!(matches!(conn.recv().await, Frame::Closed(Some(4400), _)));
}

#[tokio::test]
async fn a_missing_token_closes_with_4403() {
    let server = server().await;
    let mut conn = Conn::open(&server).await;
    conn.init(None).await;
    assert_eq!(
        conn.recv().await,
        Frame::Closed(Some(4403), "Forbidden".into())
    );
}

#[tokio::test]
async fn a_token_with_the_wrong_signature_closes_with_4403() {
    let server = server().await;
    let forged = incident_devserver::mint(b"not the secret", "mallory", Duration::from_secs(60));
    let mut conn = Conn::open(&server).await;
    conn.init(Some(&forged)).await;
    assert_eq!(
        conn.recv().await,
        Frame::Closed(Some(4403), "Forbidden".into())
    );
}

#[tokio::test]
async fn a_malformed_token_closes_with_4403() {
    let server = server().await;
    let mut conn = Conn::open(&server).await;
    conn.init(Some("not-a-jwt")).await;
    assert_eq!(
        conn.recv().await,
        Frame::Closed(Some(4403), "Forbidden".into())
    );
}

#[tokio::test]
async fn a_token_that_expires_while_connected_closes_with_4403() {
    let server = server().await;
    let short = server.mint_token("brief", Duration::from_secs(1));
    let mut conn = Conn::open(&server).await;
    conn.init(Some(&short)).await;
    assert_eq!(
        conn.recv().await,
        Frame::Json(json!({ "type": "connection_ack" }))
    );
    let closed = conn.recv_within(Duration::from_secs(4)).await;
    assert_eq!(
        closed,
        Some(Frame::Closed(Some(4403), "Forbidden: token expired".into()))
    );
}

#[tokio::test]
async fn ping_gets_pong_with_the_payload() {
    let server = server().await;
    let mut conn = Conn::ready(&server).await;
    conn.send(json!({ "type": "ping", "payload": { "n": 1 } }))
        .await;
    assert_eq!(
        conn.recv().await,
        Frame::Json(json!({ "type": "pong", "payload": { "n": 1 } }))
    );
}

#[tokio::test]
async fn subscribing_before_the_ack_closes_with_4401() {
    let server = server().await;
    let mut conn = Conn::open(&server).await;
    conn.subscribe("1", "{ health { status } }", json!({}))
        .await;
    assert!(matches!(conn.recv().await, Frame::Closed(Some(4401), _)));
}

#[tokio::test]
async fn a_reused_subscription_id_closes_with_4409() {
    let server = server().await;
    let mut conn = Conn::ready(&server).await;
    conn.subscribe(
        "dup",
        "subscription { criticalIncidents { id } }",
        json!({}),
    )
    .await;
    conn.subscribe(
        "dup",
        "subscription { criticalIncidents { id } }",
        json!({}),
    )
    .await;
    assert!(matches!(conn.recv().await, Frame::Closed(Some(4409), _)));
}

#[tokio::test]
async fn a_second_init_closes_with_4429() {
    let server = server().await;
    let mut conn = Conn::ready(&server).await;
    conn.init(Some(&token(&server))).await;
    assert!(matches!(conn.recv().await, Frame::Closed(Some(4429), _)));
}

#[tokio::test]
async fn no_init_closes_with_4408() {
    let server = DevServer::builder()
        .init_timeout(Duration::from_millis(200))
        .start()
        .await
        .unwrap();
    let mut conn = Conn::open(&server).await;
    assert!(matches!(conn.recv().await, Frame::Closed(Some(4408), _)));
}

#[tokio::test]
async fn withheld_acks_leave_the_client_waiting() {
    let server = server().await;
    server.withhold_ack(true);
    let mut conn = Conn::open(&server).await;
    conn.init(Some(&token(&server))).await;
    // Messages are handled in order, an ack written before the ping is read: pong next, no ack.
    conn.sync().await;
}

#[tokio::test]
async fn close_all_sends_the_chosen_code() {
    let server = server().await;
    let mut conn = Conn::ready(&server).await;
    server.close_all(4500, "boom");
    assert_eq!(conn.recv().await, Frame::Closed(Some(4500), "boom".into()));
}

#[tokio::test]
async fn drop_all_ends_sockets_without_a_close_frame() {
    let server = server().await;
    let mut conn = Conn::ready(&server).await;
    server.drop_all();
    assert_eq!(conn.recv().await, Frame::Closed(None, String::new()));
}

#[tokio::test]
async fn frozen_sockets_stay_open_and_silent() {
    let server = server().await;
    let mut conn = Conn::ready(&server).await;
    server.freeze_all();
    assert!(server.wait_for(WAIT, |s| s.frozen_connections() == 1).await);
    conn.send(json!({ "type": "ping" })).await;
    assert_eq!(server.connections(), 1);
    // A frozen socket writes nothing, not even a pong, until dropped: its bare end comes next.
    server.drop_all();
    assert_eq!(conn.recv().await, Frame::Closed(None, String::new()));
}

#[tokio::test]
async fn restart_keeps_the_port_and_the_data() {
    let server = server().await;
    let id = create(&server, "survives", "P3").await;
    let mut conn = Conn::ready(&server).await;
    server.restart(Duration::from_millis(100)).await.unwrap();
    assert_eq!(conn.recv().await, Frame::Closed(None, String::new()));
    let response = http(
        &server,
        "query($id: UUID!) { incident(id: $id) { title } }",
        json!({ "id": id }),
    )
    .await;
    assert_eq!(response["data"]["incident"]["title"], "survives");
    Conn::ready(&server).await;
}

#[tokio::test]
async fn paused_servers_accept_nothing_until_resumed() {
    let server = server().await;
    server.pause_accepting(true);
    assert!(server.wait_for(WAIT, |s| s.is_paused()).await);
    let request = reqwest::Client::new()
        .get(format!("{}/health", server.base_url()))
        .timeout(Duration::from_millis(500))
        .send();
    assert!(request.await.is_err());
    server.pause_accepting(false);
    let response = reqwest::get(format!("{}/health", server.base_url()))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

/// The legacy `graphql-ws` protocol (subscriptions-transport-ws), for older clients: `start`,
/// `data`, `stop`, with the same token check at `connection_init`.
#[tokio::test]
async fn the_legacy_graphql_ws_protocol_streams_too() {
    let server = server().await;
    let mut conn = Conn::open_speaking(&server, "graphql-ws").await;
    conn.init(Some(&token(&server))).await;
    assert_eq!(
        conn.recv().await,
        Frame::Json(json!({ "type": "connection_ack" }))
    );
    conn.send(json!({ "type": "start", "id": "old", "payload": { "query": "subscription { newIncidents { title } }" } }))
        .await;
    assert!(
        server
            .wait_for(WAIT, |s| s.subscribers("newIncidents") == 1)
            .await
    );
    create(&server, "for an old client", "P1").await;
    let data = loop {
        match conn.recv().await {
            Frame::Json(frame) if frame["type"] == "ka" => continue,
            Frame::Json(frame) => break frame,
            other => panic!("expected data, got {other:?}"),
        }
    };
    assert_eq!(
        data,
        json!({ "type": "data", "id": "old", "payload": { "data": { "newIncidents": { "title": "for an old client" } } } })
    );
}

#[tokio::test]
async fn the_legacy_protocol_refuses_a_missing_token() {
    let server = server().await;
    let mut conn = Conn::open_speaking(&server, "graphql-ws").await;
    conn.init(None).await;
    match conn.recv().await {
        Frame::Json(frame) => assert_eq!(frame["type"], "connection_error", "{frame}"),
        Frame::Closed(code, reason) => {
            panic!("expected connection_error, got a close {code:?} {reason}")
        }
    }
}
