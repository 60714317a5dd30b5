//! What an operator watches: the connection's state as it changes, and each stream's backlog.

use std::time::Duration;

use crate::common::*;
use incident_client::{ConnectionState, Error, ReconnectPolicy};
use incident_devserver::model::Severity as ServerSeverity;

async fn wait_state(
    state: &mut tokio::sync::watch::Receiver<ConnectionState>,
    what: &str,
    condition: impl FnMut(&ConnectionState) -> bool,
) -> ConnectionState {
    tokio::time::timeout(WAIT, state.wait_for(condition))
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for the state {what}"))
        .expect("the client is alive")
        .clone()
}

#[tokio::test]
async fn the_state_follows_a_server_restart_and_a_shutdown() {
    let server = server().await;
    let client = builder(&server)
        .reconnect(ReconnectPolicy::new(
            Duration::from_millis(100),
            Duration::from_millis(200),
            None,
        ))
        .connect()
        .await
        .unwrap();
    let mut state = client.connection_state();
    assert!(state.borrow().is_connected());
    let ConnectionState::Connected { since: first } = state.borrow().clone() else {
        panic!("connected");
    };

    let restarting = {
        let server = server.clone();
        tokio::spawn(async move { server.restart(Duration::from_secs(1)).await })
    };
    let lost = wait_state(&mut state, "not connected", |s| !s.is_connected()).await;
    assert!(
        matches!(
            lost,
            ConnectionState::Reconnecting { .. } | ConnectionState::Connecting { .. }
        ),
        "{lost:?}"
    );
    let retrying = wait_state(
        &mut state,
        "reconnecting after a failed attempt",
        |s| matches!(s, ConnectionState::Reconnecting { attempt, .. } if *attempt >= 2),
    )
    .await;
    let ConnectionState::Reconnecting { error, delay, .. } = retrying else {
        unreachable!()
    };
    assert!(error.contains("could not connect to"), "{error}");
    assert!(delay <= Duration::from_millis(200));
    restarting.await.unwrap().unwrap();
    let back = wait_state(&mut state, "connected again", ConnectionState::is_connected).await;
    let ConnectionState::Connected { since } = back else {
        unreachable!()
    };
    assert!(since > first);

    client.shutdown().await;
    let closed = wait_state(&mut state, "closed", |s| {
        matches!(s, ConnectionState::Closed { .. })
    })
    .await;
    assert!(
        matches!(closed, ConnectionState::Closed { error: None }),
        "{closed:?}"
    );
}

#[tokio::test]
async fn a_client_that_gives_up_says_why_in_its_state() {
    let server = server().await;
    let client = builder(&server)
        .reconnect(ReconnectPolicy::new(
            Duration::from_millis(10),
            Duration::from_millis(20),
            Some(1),
        ))
        .connect()
        .await
        .unwrap();
    let mut state = client.connection_state();
    server.shutdown().await;
    let closed = wait_state(&mut state, "closed", |s| {
        matches!(s, ConnectionState::Closed { .. })
    })
    .await;
    assert!(
        matches!(
            closed,
            ConnectionState::Closed {
                error: Some(Error::RetriesExhausted { attempts: 1, .. })
            }
        ),
        "{closed:?}"
    );
    assert_eq!(closed.name(), "closed");
}

#[tokio::test]
async fn a_subscription_reports_its_backlog() {
    let server = server().await;
    let client = client(&server).await;
    let mut new = client.new_incidents(None).unwrap();
    live(&new).await;
    assert_eq!(new.queue_depth(), 0);
    for n in 0..3 {
        open(&server, &format!("queued {n}"), ServerSeverity::P3);
    }
    until("three events queued", || new.queue_depth() == 3).await;
    next(&mut new).await.unwrap();
    assert_eq!(new.queue_depth(), 2);
}
