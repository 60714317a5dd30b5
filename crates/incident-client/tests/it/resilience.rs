//! What the supervised connection does when networks and servers misbehave.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::common::*;
use incident_client::{EndReason, Error, ReconnectPolicy, Severity, TokenProvider, UpdateFilter};
use incident_devserver::DevServer;
use incident_devserver::model::Severity as ServerSeverity;

/// Reconnects within a test's patience.
pub(crate) fn quick_reconnect() -> ReconnectPolicy {
    ReconnectPolicy::new(
        Duration::from_millis(50),
        Duration::from_millis(200),
        Some(20),
    )
}

#[tokio::test]
async fn a_server_restart_loses_no_new_incidents() {
    let server = server().await;
    let client = builder(&server)
        .reconnect(quick_reconnect())
        .connect()
        .await
        .unwrap();
    let mut new = client.new_incidents(None).unwrap();
    let mut critical = client.critical_incidents().unwrap();
    live(&new).await;
    live(&critical).await;
    open(&server, "before", ServerSeverity::P1);
    assert_eq!(next(&mut new).await.unwrap().title, "before");
    assert_eq!(next(&mut critical).await.unwrap().title, "before");

    let restarting = {
        let server = server.clone();
        tokio::spawn(async move { server.restart(Duration::from_millis(600)).await })
    };
    // Down: the client has seen the connection go.
    until("the client to notice the restart", || {
        !client.stats().connected
    })
    .await;
    for n in 0..5 {
        open(
            &server,
            &format!("during {n}"),
            if n % 2 == 0 {
                ServerSeverity::P0
            } else {
                ServerSeverity::P3
            },
        );
    }
    restarting.await.unwrap().unwrap();
    // Live again: wait for the resubscription to reach the server, then create one more.
    live(&new).await;
    live(&critical).await;
    open(&server, "after", ServerSeverity::P1);

    let titles: Vec<String> = futures_titles(&mut new, 6).await;
    assert_eq!(
        titles,
        [
            "during 0", "during 1", "during 2", "during 3", "during 4", "after"
        ]
    );
    let titles: Vec<String> = futures_titles(&mut critical, 4).await;
    assert_eq!(titles, ["during 0", "during 2", "during 4", "after"]);
    let stats = client.stats();
    // Nothing twice: the marker comes next.
    marker_next(&server, &mut new, ServerSeverity::P3).await;
    assert_eq!(stats.reconnects, 1);
    // The catch-up starts once the server confirmed the resubscription, so "after" is found by
    // it (counted as caught up) or held live, depending on which comes first.
    assert!((5 + 3..=5 + 3 + 2).contains(&stats.caught_up), "{stats:?}");
}

async fn futures_titles(
    subscription: &mut incident_client::Subscription<incident_client::operations::IncidentFields>,
    n: usize,
) -> Vec<String> {
    let mut titles = Vec::new();
    for _ in 0..n {
        titles.push(next(subscription).await.unwrap().title);
    }
    titles
}

#[tokio::test]
async fn streams_that_cannot_catch_up_report_a_gap_and_continue() {
    let server = server().await;
    let client = builder(&server)
        .reconnect(quick_reconnect())
        .connect()
        .await
        .unwrap();
    let mut updates = client.incident_updates(UpdateFilter::default()).unwrap();
    live(&updates).await;
    server.drop_all();
    assert!(matches!(next(&mut updates).await, Err(Error::Gap(_))));
    live(&updates).await;
    let id = open(&server, "after the gap", ServerSeverity::P2);
    let update = next(&mut updates).await.unwrap();
    assert_eq!(update.incident_id.unwrap().to_string(), id);
    assert_eq!(client.stats().gaps, 1);
}

#[tokio::test]
async fn a_half_open_socket_is_detected_by_keepalive() {
    let server = server().await;
    let client = builder(&server)
        .keepalive(Duration::from_millis(100), Duration::from_millis(200))
        .reconnect(quick_reconnect())
        .connect()
        .await
        .unwrap();
    let mut new = client.new_incidents(None).unwrap();
    live(&new).await;
    server.freeze_all();
    // The frozen socket answers nothing; the client must notice and reconnect on its own.
    until("the half-open socket to be detected", || {
        client.stats().reconnects == 1
    })
    .await;
    live(&new).await;
    open(&server, "after the freeze", ServerSeverity::P2);
    assert_eq!(next(&mut new).await.unwrap().title, "after the freeze");
}

#[tokio::test]
async fn a_missing_ack_times_out() {
    let server = server().await;
    server.withhold_ack(true);
    let error = builder(&server)
        .ack_timeout(Duration::from_millis(300))
        .connect()
        .await
        .unwrap_err();
    assert!(
        matches!(error, Error::AckTimeout(t) if t == Duration::from_millis(300)),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_bad_token_is_a_typed_auth_error_after_one_refresh() {
    let server = server().await;
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let provider = TokenProvider::new(move || {
        counter.fetch_add(1, Ordering::SeqCst);
        async { Ok::<_, std::convert::Infallible>("not-a-valid-jwt") }
    });
    let error = incident_client::IncidentClient::builder(server.ws_url())
        .token_provider(provider)
        .connect()
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            Error::AuthRejected {
                signal: incident_client::AuthSignal::CloseCode(4403),
                ..
            }
        ),
        "{error:?}"
    );
    assert_eq!(
        calls.load(Ordering::SeqCst),
        2,
        "one refresh, no retry storm"
    );
}

#[tokio::test]
async fn an_expired_token_is_refreshed_once_and_the_stream_continues() {
    let server = server().await;
    let calls = Arc::new(AtomicUsize::new(0));
    let (counter, minting) = (calls.clone(), server.clone());
    let provider = TokenProvider::new(move || {
        // The first token lives one second; later ones an hour.
        let ttl = if counter.fetch_add(1, Ordering::SeqCst) == 0 {
            1
        } else {
            3600
        };
        let token = minting.mint_token("refreshing", Duration::from_secs(ttl));
        async move { Ok::<_, std::convert::Infallible>(token) }
    });
    // Without rotation: the expiry closes the connection, and the reconnect refreshes.
    let client = incident_client::IncidentClient::builder(server.ws_url())
        .token_provider(provider)
        .token_rotation(false)
        .reconnect(quick_reconnect())
        .connect()
        .await
        .unwrap();
    let mut new = client.new_incidents(None).unwrap();
    live(&new).await;
    // The first token expires after a second; the server closes with 4403.
    until("the reconnect with a fresh token", || {
        client.stats().reconnects == 1
    })
    .await;
    live(&new).await;
    open(&server, "after expiry", ServerSeverity::P2);
    assert_eq!(next(&mut new).await.unwrap().title, "after expiry");
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    assert_eq!(client.stats().reconnects, 1);
}

#[tokio::test]
async fn a_rejected_refresh_ends_streams_with_an_auth_error() {
    let server = server().await;
    let calls = Arc::new(AtomicUsize::new(0));
    let (counter, minting) = (calls.clone(), server.clone());
    let provider = TokenProvider::new(move || {
        let first = counter.fetch_add(1, Ordering::SeqCst) == 0;
        let token = if first {
            minting.mint_token("once", Duration::from_secs(1))
        } else {
            "revoked".to_owned()
        };
        async move { Ok::<_, std::convert::Infallible>(token) }
    });
    let client = incident_client::IncidentClient::builder(server.ws_url())
        .token_provider(provider)
        .token_rotation(false)
        .connect()
        .await
        .unwrap();
    let mut new = client.new_incidents(None).unwrap();
    let error = tokio::time::timeout(Duration::from_secs(5), next(&mut new))
        .await
        .unwrap()
        .unwrap_err();
    assert!(
        matches!(
            error,
            Error::AuthRejected {
                signal: incident_client::AuthSignal::CloseCode(4403),
                ..
            }
        ),
        "{error:?}"
    );
    assert!(next_is_end(&mut new).await);
    assert_eq!(new.end_reason(), Some(EndReason::AuthRejected));
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

async fn next_is_end<T>(subscription: &mut incident_client::Subscription<T>) -> bool {
    use futures::StreamExt;
    tokio::time::timeout(WAIT, subscription.next())
        .await
        .unwrap()
        .is_none()
}

#[tokio::test]
async fn giving_up_after_the_policy_ends_streams_with_a_typed_error() {
    let server = server().await;
    let policy = ReconnectPolicy::new(
        Duration::from_millis(10),
        Duration::from_millis(20),
        Some(2),
    );
    let client = builder(&server).reconnect(policy).connect().await.unwrap();
    let mut new = client.new_incidents(None).unwrap();
    live(&new).await;
    server.shutdown().await;
    let error = next(&mut new).await.unwrap_err();
    assert!(
        matches!(error, Error::RetriesExhausted { attempts: 2, .. }),
        "{error:?}"
    );
    assert!(next_is_end(&mut new).await);
    assert_eq!(new.end_reason(), Some(EndReason::RetriesExhausted));
}

#[tokio::test]
async fn a_server_close_with_4500_ends_the_offending_operation_only() {
    let server = server().await;
    let client = builder(&server)
        .reconnect(quick_reconnect())
        .connect()
        .await
        .unwrap();
    let mut first = client.new_incidents(None).unwrap();
    let mut offender = client.critical_incidents().unwrap();
    live(&first).await;
    live(&offender).await;
    server.close_all(4500, "internal error");
    let error = next(&mut offender).await.unwrap_err();
    assert!(
        matches!(&error, Error::Closed { code: 4500, reason } if reason == "internal error"),
        "{error:?}"
    );
    assert_eq!(offender.end_reason(), Some(EndReason::Closed));
    until("the reconnect", || client.stats().reconnects == 1).await;
    live(&first).await;
    open(&server, "still flowing", ServerSeverity::P0);
    assert_eq!(next(&mut first).await.unwrap().title, "still flowing");
}

#[tokio::test]
async fn a_slow_consumer_never_holds_up_other_subscriptions() {
    let server = server().await;
    let client = builder(&server)
        .subscription_buffer(16)
        .connect()
        .await
        .unwrap();
    // Updates cannot be replayed, so a consumer that falls behind loses the oldest.
    let mut ignored = client.incident_updates(UpdateFilter::default()).unwrap();
    let mut busy = client.new_incidents(Some(vec![Severity::P2])).unwrap();
    live(&ignored).await;
    live(&busy).await;
    for n in 0..200 {
        open(&server, &format!("flood {n}"), ServerSeverity::P2);
        // The consumer of `busy` keeps up; `ignored` is never read during the flood.
        assert_eq!(next(&mut busy).await.unwrap().title, format!("flood {n}"));
    }
    assert!(matches!(
        next(&mut ignored).await,
        Err(Error::Lagged { dropped: 184 })
    ));
    for _ in 184..200 {
        let update = next(&mut ignored).await.unwrap();
        assert_eq!(
            update.update_type,
            incident_client::IncidentUpdateType::Created
        );
    }
    assert_eq!(ignored.dropped(), 184);
    assert_eq!(client.stats().dropped, 184);
}

#[tokio::test]
async fn shutdown_ends_every_stream_with_a_typed_reason() {
    let server = server().await;
    let client = client(&server).await;
    let mut new = client.new_incidents(None).unwrap();
    live(&new).await;
    assert_eq!(server.connections(), 1);
    client.shutdown().await;
    assert!(matches!(next(&mut new).await, Err(Error::Shutdown)));
    assert!(next_is_end(&mut new).await);
    server_sees(&server, "the client close with 1000", |s| {
        s.connections() == 0 && s.client_closes().iter().any(|(code, _)| *code == 1000)
    })
    .await;
    assert!(matches!(client.new_incidents(None), Err(Error::Shutdown)));
}

#[tokio::test]
async fn bad_urls_and_refused_connections_are_typed() {
    let error = incident_client::IncidentClient::builder("http://localhost/graphql")
        .connect()
        .await
        .unwrap_err();
    assert!(matches!(error, Error::InvalidUrl { .. }), "{error:?}");
    let error = incident_client::IncidentClient::builder("ws://")
        .connect()
        .await
        .unwrap_err();
    assert!(matches!(error, Error::InvalidUrl { .. }), "{error:?}");
    let unused = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let error = incident_client::IncidentClient::builder(format!("ws://{unused}/graphql/ws"))
        .connect()
        .await
        .unwrap_err();
    assert!(matches!(error, Error::Connect { .. }), "{error:?}");
}

#[tokio::test]
async fn dropping_a_subscription_completes_it_on_the_server() {
    let server = DevServer::builder().start().await.unwrap();
    let client = client(&server).await;
    let sub = client.new_incidents(None).unwrap();
    live(&sub).await;
    assert_eq!(client.stats().live_subscriptions, 1);
    assert_eq!(server.subscribers("newIncidents"), 1);
    drop(sub);
    server_sees(&server, "the subscription completed", |s| {
        s.subscribers("newIncidents") == 0
    })
    .await;
    assert_eq!(client.stats().live_subscriptions, 0);
}

#[tokio::test]
async fn messages_over_the_size_cap_drop_the_connection_and_leave_a_gap() {
    let server = server().await;
    let client = builder(&server)
        .max_message_size(256)
        .reconnect(quick_reconnect())
        .connect()
        .await
        .unwrap();
    let mut alerts = client.alerts(None).unwrap();
    live(&alerts).await;
    let alert = incident_client::AlertSubmission::new(
        "big",
        "x".repeat(400),
        Severity::P3,
        incident_client::IncidentType::Data,
    );
    client.submit_alert(&alert).await.unwrap();
    assert!(matches!(next(&mut alerts).await, Err(Error::Gap(_))));
    assert_eq!(client.stats().reconnects, 1);
}

#[tokio::test]
async fn the_token_never_shows_in_debug_output() {
    let server = server().await;
    let jwt = server.mint_token("secretive", Duration::from_secs(60));
    let client = incident_client::IncidentClient::builder(server.ws_url())
        .token(jwt.clone())
        .connect()
        .await
        .unwrap();
    let subscription = client.new_incidents(None).unwrap();
    let debug = format!("{client:?} {subscription:?}");
    assert!(!debug.contains(&jwt), "{debug}");
    assert!(debug.contains("ws://"), "{debug}");
}
