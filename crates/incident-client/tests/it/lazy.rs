//! A lazy client: HTTP work never opens the WebSocket; the first subscription opens it, and it
//! closes after the last one ends.

use std::time::Duration;

use crate::common::*;
use cynic::QueryBuilder;
use incident_client::operations::*;
use incident_client::{AlertSubmission, ConnectionState, Error, IncidentType, Severity};

#[tokio::test]
async fn http_work_opens_no_websocket_and_subscriptions_open_and_close_it() {
    let server = server().await;
    let client = builder(&server)
        .lazy(true)
        .lazy_close_timeout(Duration::from_millis(100))
        .connect()
        .await
        .unwrap();
    assert!(matches!(
        *client.connection_state().borrow(),
        ConnectionState::Idle
    ));

    // Queries and REST alerts over HTTP: no WebSocket.
    let alert = AlertSubmission::new(
        "lazy",
        "Disk full on db-1",
        Severity::P3,
        IncidentType::Infrastructure,
    );
    client.submit_alert(&alert).await.unwrap();
    client.execute(IncidentStatistics::build(())).await.unwrap();
    assert_eq!(server.connections_accepted(), 0);

    // The first subscription opens it.
    let mut critical = client.critical_incidents().unwrap();
    live(&critical).await;
    assert_eq!(server.connections_accepted(), 1);
    let p0 = AlertSubmission::new(
        "lazy",
        "Checkout down",
        Severity::P0,
        IncidentType::Application,
    );
    client.submit_alert(&p0).await.unwrap();
    assert_eq!(next(&mut critical).await.unwrap().title, "Checkout down");

    // The last one ends: the connection closes with 1000 after the grace period.
    drop(critical);
    assert!(
        server
            .wait_for(WAIT, |s| s.connections() == 0
                && s.client_closes().iter().any(|(code, _)| *code == 1000))
            .await,
        "the lazy connection closes: {:?}",
        server.client_closes()
    );
    let mut state = client.connection_state();
    tokio::time::timeout(WAIT, state.wait_for(|s| matches!(s, ConnectionState::Idle)))
        .await
        .expect("idle within the wait")
        .unwrap();

    // And a new subscription opens a new one, with nothing reported missing.
    let mut again = client.critical_incidents().unwrap();
    live(&again).await;
    assert_eq!(server.connections_accepted(), 2);
    let p1 = AlertSubmission::new(
        "lazy",
        "Payments slow",
        Severity::P1,
        IncidentType::Application,
    );
    client.submit_alert(&p1).await.unwrap();
    assert_eq!(next(&mut again).await.unwrap().title, "Payments slow");
    assert_eq!(client.stats().gaps, 0);
    client.shutdown().await;
}

#[tokio::test]
async fn a_rejected_token_fails_the_subscription_not_connect_and_the_next_one_tries_again() {
    let server = server().await;
    let client = incident_client::IncidentClient::builder(server.ws_url())
        .token("forged")
        .lazy(true)
        .connect()
        .await
        .expect("a lazy connect does not connect");
    // The first subscription: a connection, a refresh, a second rejection. Each later one: a
    // single connection after a backoff (no second refresh until a healthy connection), so
    // resubscribing in a loop cannot hammer the server.
    for (attempt, accepted) in [(1, 2), (2, 3), (3, 4)] {
        let critical = client.critical_incidents().unwrap();
        let error = tokio::time::timeout(WAIT, critical.ready())
            .await
            .expect("an answer within the wait")
            .expect_err("the server rejects the token");
        assert!(
            matches!(error, Error::AuthRejected { .. }),
            "attempt {attempt}: {error}"
        );
        assert_eq!(server.connections_accepted(), accepted, "attempt {attempt}");
    }
}

#[tokio::test]
async fn a_grace_of_duration_max_keeps_the_connection_open() {
    let server = server().await;
    let client = builder(&server)
        .lazy(true)
        .lazy_close_timeout(Duration::MAX)
        .connect()
        .await
        .unwrap();
    let first = client.critical_incidents().unwrap();
    live(&first).await;
    drop(first);
    // Still the same connection for the next subscription (and no overflow in the timer).
    let mut second = client.critical_incidents().unwrap();
    live(&second).await;
    let p0 = AlertSubmission::new(
        "lazy",
        "Still here",
        Severity::P0,
        IncidentType::Application,
    );
    client.submit_alert(&p0).await.unwrap();
    assert_eq!(next(&mut second).await.unwrap().title, "Still here");
    assert_eq!(server.connections_accepted(), 1);
    assert!(client.connection_state().borrow().is_connected());
}
