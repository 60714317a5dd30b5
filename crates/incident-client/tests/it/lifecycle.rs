//! How the connection task lives and ends: it never outlives its handles, never storms a server,
//! and every stream ends with the reason that matches its last error.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::common::*;
use incident_client::{EndReason, Error, IncidentClient, ReconnectPolicy, TokenProvider};
use incident_devserver::model::Severity as ServerSeverity;

#[tokio::test]
async fn dropping_every_handle_closes_the_connection_for_good() {
    let server = server().await;
    let client = client(&server).await;
    let subscription = client.new_incidents(None).unwrap();
    live(&subscription).await;

    // A subscription alone keeps the connection: it still delivers after the client is dropped.
    drop(client);
    let mut subscription = subscription;
    open(&server, "still here", ServerSeverity::P2);
    assert_eq!(next(&mut subscription).await.unwrap().title, "still here");
    assert_eq!(server.connections(), 1);

    drop(subscription);
    server_sees(&server, "the client close with 1000", |s| {
        s.connections() == 0
            && s.client_closes()
                .iter()
                .any(|(code, reason)| *code == 1000 && reason == "client dropped")
    })
    .await;
    // The task is gone: nothing reconnects.
    let came_back = server
        .wait_for(Duration::from_millis(1500), |s| {
            s.connections_accepted() > 1
        })
        .await;
    assert!(!came_back, "the dropped client reconnected");
}

#[tokio::test]
async fn a_dropped_client_that_is_reconnecting_stops() {
    let server = server().await;
    let client = builder(&server)
        .reconnect(ReconnectPolicy::new(
            Duration::from_secs(5),
            Duration::from_secs(5),
            None,
        ))
        .connect()
        .await
        .unwrap();
    let subscription = client.new_incidents(None).unwrap();
    live(&subscription).await;
    server.pause_accepting(true);
    server.drop_all();
    until("the client to notice", || !client.stats().connected).await;
    drop(subscription);
    drop(client);
    server.pause_accepting(false);
    let came_back = server
        .wait_for(Duration::from_secs(6), |s| s.connections_accepted() > 1)
        .await;
    assert!(
        !came_back,
        "the dropped client reconnected after its backoff"
    );
}

#[tokio::test]
async fn a_server_that_revokes_after_the_ack_gets_one_refresh_then_auth_rejected() {
    let (url, accepted) = flapping(4403, CloseWhen::OnFirstMessage).await;
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let provider = TokenProvider::new(move || {
        counter.fetch_add(1, Ordering::SeqCst);
        async { Ok::<_, std::convert::Infallible>("a-token") }
    });
    let client = IncidentClient::builder(url)
        .token_provider(provider)
        .connect()
        .await
        .unwrap();
    let mut new = client.new_incidents(None).unwrap();
    let error = next(&mut new).await.unwrap_err();
    assert!(
        matches!(
            &error,
            Error::AuthRejected {
                signal: incident_client::AuthSignal::CloseCode(4403),
                ..
            }
        ),
        "{error:?}"
    );
    assert!(
        error.to_string().contains("WebSocket close code 4403"),
        "{error}"
    );
    assert!(futures::StreamExt::next(&mut new).await.is_none());
    assert_eq!(new.end_reason(), Some(EndReason::AuthRejected));
    assert_eq!(calls.load(Ordering::SeqCst), 2, "one refresh");
    assert!(*accepted.borrow() <= 3, "a handful of connections");
    // The client says why it can no longer subscribe.
    let late = client.critical_incidents().unwrap_err();
    assert!(matches!(late, Error::AuthRejected { .. }), "{late:?}");
}

#[tokio::test]
async fn a_server_that_closes_after_every_ack_sees_the_backoff_grow() {
    let (url, accepted) = flapping(1011, CloseWhen::AfterAck).await;
    let client = IncidentClient::builder(url).connect().await.unwrap();
    let _new = client.new_incidents(None).unwrap();
    // With the default policy (200 ms doubling to 10 s, full jitter) five seconds hold about
    // seven attempts; resetting the backoff on every ack made it about eighty.
    let mut watching = accepted.clone();
    let storm = tokio::time::timeout(Duration::from_secs(5), watching.wait_for(|n| *n > 15)).await;
    assert!(storm.is_err(), "{} connections in 5 s", *accepted.borrow());
    assert!(*accepted.borrow() >= 2, "it did retry");
}

#[tokio::test]
async fn a_flapping_server_exhausts_a_bounded_policy() {
    let (url, accepted) = flapping(1011, CloseWhen::AfterAck).await;
    let client = IncidentClient::builder(url.clone())
        .reconnect(ReconnectPolicy::new(
            Duration::from_millis(10),
            Duration::from_millis(500),
            Some(3),
        ))
        .connect()
        .await
        .unwrap();
    let mut new = client.new_incidents(None).unwrap();
    let error = loop {
        match next(&mut new).await {
            Err(Error::Gap(_)) | Ok(_) => continue,
            Err(error) => break error,
        }
    };
    let Error::RetriesExhausted { attempts: 3, last } = &error else {
        panic!("{error:?}");
    };
    assert!(
        matches!(**last, Error::Closed { code: 1011, .. }),
        "{last:?}"
    );
    assert!(futures::StreamExt::next(&mut new).await.is_none());
    assert_eq!(new.end_reason(), Some(EndReason::RetriesExhausted));
    assert_eq!(
        *accepted.borrow(),
        4,
        "the first connection and three retries"
    );
}

#[tokio::test]
async fn a_failing_token_provider_is_retried_by_the_policy_and_named_at_the_end() {
    let server = server().await;
    let calls = Arc::new(AtomicUsize::new(0));
    let (counter, minting) = (calls.clone(), server.clone());
    let provider = TokenProvider::new(move || {
        let first = counter.fetch_add(1, Ordering::SeqCst) == 0;
        let token = minting.mint_token("once", Duration::from_secs(3600));
        async move {
            if first {
                Ok(token)
            } else {
                Err("the vault is sealed")
            }
        }
    });
    let client = IncidentClient::builder(server.ws_url())
        .token_provider(provider)
        .reconnect(ReconnectPolicy::new(
            Duration::from_millis(10),
            Duration::from_millis(20),
            Some(2),
        ))
        .connect()
        .await
        .unwrap();
    let mut updates = client
        .incident_updates(incident_client::UpdateFilter::default())
        .unwrap();
    live(&updates).await;
    server.drop_all();
    let error = loop {
        match next(&mut updates).await {
            Err(Error::Gap(_)) | Ok(_) => continue,
            Err(error) => break error,
        }
    };
    let Error::RetriesExhausted { attempts: 2, last } = &error else {
        panic!("{error:?}");
    };
    assert!(matches!(**last, Error::TokenProvider(_)), "{last:?}");
    assert_eq!(updates.end_reason(), Some(EndReason::RetriesExhausted));
    assert_eq!(
        calls.load(Ordering::SeqCst),
        3,
        "the first token and two retries"
    );
}

#[tokio::test]
async fn errors_name_the_url_they_are_about() {
    let server = server().await;
    let url = server.ws_url();
    let client = builder(&server)
        .reconnect(ReconnectPolicy::new(
            Duration::from_millis(10),
            Duration::from_millis(20),
            Some(1),
        ))
        .connect()
        .await
        .unwrap();
    let mut new = client.new_incidents(None).unwrap();
    live(&new).await;
    server.shutdown().await;
    let error = next(&mut new).await.unwrap_err();
    let Error::RetriesExhausted { last, .. } = &error else {
        panic!("{error:?}");
    };
    assert!(matches!(**last, Error::Connect { .. }), "{last:?}");
    assert_eq!(last.to_string(), format!("could not connect to {url}"));
}

#[tokio::test]
async fn ready_waits_for_the_server_and_fails_for_an_ended_stream() {
    let server = server().await;
    let client = client(&server).await;
    let critical = client.critical_incidents().unwrap();
    live(&critical).await;
    assert!(critical.is_live());
    assert_eq!(server.subscribers("criticalIncidents"), 1);
    client.shutdown().await;
    assert!(matches!(critical.ready().await, Err(Error::Shutdown)));
    assert!(!critical.is_live());
}
