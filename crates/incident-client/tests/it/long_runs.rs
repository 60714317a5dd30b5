//! Long absences and long runs: a gap's window and its reconciliation, a slow consumer of a
//! caught-up stream, and five token expiries on all five streams.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::common::*;
use crate::resilience::quick_reconnect;
use incident_client::{Error, TokenProvider, UpdateFilter};
use incident_devserver::DevServer;
use incident_devserver::model::Severity as ServerSeverity;

#[tokio::test]
async fn a_gap_says_its_window_and_the_reconciliation_query_finds_what_changed_in_it() {
    let server = server().await;
    let untouched = open(&server, "untouched", ServerSeverity::P3);
    let touched = open(&server, "touched while away", ServerSeverity::P2);
    let client = builder(&server)
        .reconnect(quick_reconnect())
        .connect()
        .await
        .unwrap();
    let mut updates = client.incident_updates(UpdateFilter::default()).unwrap();
    live(&updates).await;
    server.pause_accepting(true);
    assert!(server.wait_for(WAIT, |s| s.is_paused()).await);
    server.drop_all();
    until("the client to notice", || !client.stats().connected).await;
    server
        .store()
        .add_comment(touched.parse().unwrap(), "missed".into(), "ops")
        .unwrap();
    server.pause_accepting(false);

    assert!(matches!(next(&mut updates).await, Err(Error::Gap(_))));
    let window = updates.last_gap().expect("a gap has a window");
    assert!(window.from <= window.until);
    let changed = client.incidents_changed_since(window.from).await.unwrap();
    let ids: Vec<String> = changed.iter().map(|i| i.id.to_string()).collect();
    assert_eq!(
        ids,
        std::slice::from_ref(&touched),
        "only what changed in the window"
    );
    assert!(!ids.contains(&untouched));
}

#[tokio::test]
async fn a_slow_consumer_of_a_caught_up_stream_loses_nothing_and_stays_bounded() {
    // The server must not cut the subscriber off while 5,000 incidents are made at once.
    let server = DevServer::builder()
        .event_capacity(20_000)
        .start()
        .await
        .unwrap();
    let client = builder(&server)
        .subscription_buffer(100)
        .connect()
        .await
        .unwrap();
    let mut new = client.new_incidents(None).unwrap();
    live(&new).await;
    // The consumer sleeps through all of it: every event reaches the client before it reads.
    for n in 0..5_000 {
        open(&server, &format!("burst {n}"), ServerSeverity::P3);
    }
    until("every event at the client", || {
        client.stats().events_received >= 5_000
    })
    .await;
    assert!(new.queue_depth() <= 100, "the buffer stayed bounded");
    let mut largest_backlog = 0;
    for n in 0..5_000 {
        largest_backlog = largest_backlog.max(new.queue_depth());
        let incident = next(&mut new)
            .await
            .unwrap_or_else(|e| panic!("item {n}: {e}"));
        assert_eq!(incident.title, format!("burst {n}"));
    }
    live(&new).await;
    open(&server, "live again", ServerSeverity::P3);
    assert_eq!(next(&mut new).await.unwrap().title, "live again");
    // Nothing twice: the marker comes next.
    marker_next(&server, &mut new, ServerSeverity::P3).await;
    assert_eq!(new.dropped(), 0);
    // A full buffer (100) plus at most one page (100) of what was fetched back.
    assert!(largest_backlog <= 200, "backlog reached {largest_backlog}");
    // All but the first buffer-full came back through the refill.
    assert!(client.stats().caught_up >= 4_900, "{:?}", client.stats());
}

/// Every event a stream yields, as a comparable key, until `expected` keys have come (or the
/// wait runs out); errors (a `Gap`, say) fail the test.
async fn collect<T, K: std::hash::Hash + Eq + std::fmt::Debug>(
    stream: &mut incident_client::Subscription<T>,
    expected: &std::collections::HashSet<K>,
    key: impl Fn(&T) -> K,
) -> Vec<K> {
    let mut got = Vec::new();
    let mut have = std::collections::HashSet::new();
    while have.len() < expected.len() {
        let item = tokio::time::timeout(WAIT, futures::StreamExt::next(stream))
            .await
            .unwrap_or_else(|_| panic!("{} of {} events", have.len(), expected.len()))
            .expect("the stream goes on")
            .expect("no gap, no error");
        let k = key(&item);
        have.insert(key(&item));
        got.push(k);
    }
    got
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn five_token_expiries_rotate_with_no_gap_and_nothing_twice_on_all_five_streams() {
    use incident_devserver::model::{IncidentType, NewAlert, ResolutionMethod};
    use incident_devserver::store::Event;
    use std::collections::HashSet;

    let server = server().await;
    let minting = server.clone();
    let provider = TokenProvider::new(move || {
        let token = minting.mint_token("rotating", Duration::from_secs(3));
        async move { Ok::<_, std::convert::Infallible>(token) }
    });
    let client = incident_client::IncidentClient::builder(server.ws_url())
        .token_provider(provider)
        .connect()
        .await
        .unwrap();
    let mut new = client.new_incidents(None).unwrap();
    let mut critical = client.critical_incidents().unwrap();
    let mut updates = client.incident_updates(UpdateFilter::default()).unwrap();
    let mut changes = client.incident_state_changes(None).unwrap();
    let mut alerts = client.alerts(None).unwrap();
    live(&new).await;
    live(&critical).await;
    live(&updates).await;
    live(&changes).await;
    live(&alerts).await;

    // What the server published, as the streams must see it.
    let mut published = server.store().subscribe();
    let producing = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let producer = {
        let (server, producing) = (server.clone(), producing.clone());
        tokio::spawn(async move {
            let severities = [
                ServerSeverity::P0,
                ServerSeverity::P3,
                ServerSeverity::P1,
                ServerSeverity::P4,
            ];
            let mut tick = tokio::time::interval(Duration::from_millis(40));
            let mut n = 0usize;
            while producing.load(Ordering::SeqCst) {
                tick.tick().await;
                let ack = server.store().submit_alert(NewAlert {
                    external_id: None,
                    source: "rotation".into(),
                    title: format!("alert {n}"),
                    description: "d".into(),
                    severity: severities[n % 4],
                    alert_type: IncidentType::Application,
                    labels: vec![],
                    affected_services: vec![],
                    runbook_url: None,
                    annotations: vec![],
                });
                if let Some(id) = ack.incident_id {
                    if n.is_multiple_of(3) {
                        server
                            .store()
                            .add_comment(id, "looking".into(), "bot")
                            .unwrap();
                    }
                    if n.is_multiple_of(5) {
                        server
                            .store()
                            .resolve_incident(
                                id,
                                ResolutionMethod::Manual,
                                "done".into(),
                                None,
                                "bot",
                            )
                            .unwrap();
                    }
                }
                n += 1;
            }
        })
    };
    until("five rotations", || client.stats().rotations >= 5).await;
    producing.store(false, Ordering::SeqCst);
    producer.await.unwrap();

    let (mut created, mut paged, mut changed, mut alerted, mut updated) = (
        HashSet::new(),
        HashSet::new(),
        HashSet::new(),
        HashSet::new(),
        HashSet::new(),
    );
    while let Ok(event) = published.try_recv() {
        match event {
            Event::Created(incident) => {
                if matches!(incident.severity, ServerSeverity::P0 | ServerSeverity::P1) {
                    paged.insert(incident.id.to_string());
                }
                created.insert(incident.id.to_string());
            }
            Event::Updated(update, _) => {
                updated.insert((
                    update.incident_id.map(|i| i.to_string()),
                    update.timestamp.timestamp_micros(),
                ));
            }
            Event::StateChanged(change) => {
                changed.insert((
                    change.incident_id.to_string(),
                    change.timestamp.timestamp_micros(),
                ));
            }
            Event::Alert(alert) => {
                alerted.insert(alert.id.to_string());
            }
        }
    }
    assert!(created.len() > 50, "{} incidents", created.len());
    let got = collect(&mut new, &created, |i| i.id.to_string()).await;
    assert_eq!(got.len(), created.len(), "new: nothing twice");
    let got = collect(&mut critical, &paged, |i| i.id.to_string()).await;
    assert_eq!(got.len(), paged.len(), "critical: nothing twice");
    let got = collect(&mut updates, &updated, |u| {
        (
            u.incident_id.map(|i| i.to_string()),
            u.timestamp.timestamp_micros(),
        )
    })
    .await;
    assert_eq!(got.len(), updated.len(), "updates: nothing twice");
    let got = collect(&mut changes, &changed, |c| {
        (c.incident_id.to_string(), c.timestamp.timestamp_micros())
    })
    .await;
    assert_eq!(got.len(), changed.len(), "state changes: nothing twice");
    let got = collect(&mut alerts, &alerted, |a| a.id.to_string()).await;
    assert_eq!(got.len(), alerted.len(), "alerts: nothing twice");
    // Nothing twice, on any stream: one marker reaches all five (an alert opening a P0 incident,
    // then resolved), and is next on each, as events come in the order they were published.
    let marker = server.store().submit_alert(NewAlert {
        external_id: None,
        source: "rotation".into(),
        title: "marker".into(),
        description: "d".into(),
        severity: ServerSeverity::P0,
        alert_type: IncidentType::Application,
        labels: vec![],
        affected_services: vec![],
        runbook_url: None,
        annotations: vec![],
    });
    let marker = marker
        .incident_id
        .expect("the marker alert opens an incident");
    server
        .store()
        .resolve_incident(marker, ResolutionMethod::Manual, "done".into(), None, "bot")
        .unwrap();
    let marker = marker.to_string();
    for stream in [&mut new, &mut critical] {
        assert_eq!(next(stream).await.unwrap().title, "marker");
    }
    let update = next(&mut updates).await.unwrap();
    assert_eq!(
        update.incident_id.map(|i| i.to_string()),
        Some(marker.clone()),
        "{update:?}"
    );
    let change = next(&mut changes).await.unwrap();
    assert_eq!(change.incident_id.to_string(), marker, "{change:?}");
    assert_eq!(next(&mut alerts).await.unwrap().title, "marker");
    let stats = client.stats();
    assert_eq!((stats.gaps, stats.reconnects), (0, 0), "{stats:?}");
    assert!(stats.rotations >= 5);
}
