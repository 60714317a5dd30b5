//! Every subscription delivers typed events, with filters, over one socket.

use crate::common::*;
use incident_client::{IncidentUpdateType, Severity, UpdateFilter};
use incident_devserver::model::Severity as ServerSeverity;

#[tokio::test]
async fn critical_incidents_are_typed_and_filtered() {
    let server = server().await;
    let client = client(&server).await;
    let mut critical = client.critical_incidents().unwrap();
    live(&critical).await;
    open(&server, "minor", ServerSeverity::P3);
    let id = open(&server, "database down", ServerSeverity::P0);
    let incident = next(&mut critical).await.unwrap();
    assert_eq!(incident.id.to_string(), id);
    assert_eq!(incident.title, "database down");
    assert_eq!(incident.severity, Severity::P0);
    assert_eq!(incident.state, incident_client::IncidentState::Detected);
    assert!(incident.is_critical);
    assert_eq!(incident.timeline.len(), 1);
    // Nothing more: the marker comes next.
    marker_next(&server, &mut critical, ServerSeverity::P1).await;
}

#[tokio::test]
async fn new_incidents_filter_by_severity() {
    let server = server().await;
    let client = client(&server).await;
    let mut low = client.new_incidents(Some(vec![Severity::P4])).unwrap();
    let mut all = client.new_incidents(None).unwrap();
    live(&low).await;
    live(&all).await;
    open(&server, "noise", ServerSeverity::P4);
    open(&server, "real", ServerSeverity::P1);
    assert_eq!(next(&mut low).await.unwrap().title, "noise");
    assert_eq!(next(&mut all).await.unwrap().title, "noise");
    assert_eq!(next(&mut all).await.unwrap().title, "real");
    // Not "real" (P1): the marker, opened after it, comes next.
    marker_next(&server, &mut low, ServerSeverity::P4).await;
}

#[tokio::test]
async fn incident_updates_filter_by_incident() {
    let server = server().await;
    let client = client(&server).await;
    let watched = open(&server, "watched", ServerSeverity::P2);
    let other = open(&server, "other", ServerSeverity::P2);
    let filter = UpdateFilter::default().incidents([watched.parse().unwrap()]);
    let mut updates = client.incident_updates(filter).unwrap();
    live(&updates).await;
    server
        .store()
        .add_comment(other.parse().unwrap(), "x".into(), "t")
        .unwrap();
    server
        .store()
        .add_comment(watched.parse().unwrap(), "y".into(), "t")
        .unwrap();
    let update = next(&mut updates).await.unwrap();
    assert_eq!(update.update_type, IncidentUpdateType::CommentAdded);
    assert_eq!(update.incident_id.unwrap().to_string(), watched);
    // Nothing more (events come in the order they were published): the marker, an assignment of
    // the watched incident, comes next.
    server
        .store()
        .assign(watched.parse().unwrap(), vec!["marker".into()], "t")
        .unwrap();
    let marker = next(&mut updates).await.unwrap();
    assert_eq!(
        marker.update_type,
        IncidentUpdateType::Assigned,
        "{marker:?}"
    );
    assert_eq!(marker.incident_id.unwrap().to_string(), watched);
}

#[tokio::test]
async fn heartbeats_arrive_without_an_incident() {
    let server = incident_devserver::DevServer::builder()
        .heartbeat_interval(std::time::Duration::from_millis(100))
        .start()
        .await
        .unwrap();
    let client = client(&server).await;
    let mut updates = client.incident_updates(UpdateFilter::default()).unwrap();
    let beat = next(&mut updates).await.unwrap();
    assert_eq!(beat.update_type, IncidentUpdateType::Heartbeat);
    assert_eq!(beat.incident_id, None);
}

#[tokio::test]
async fn state_changes_are_typed() {
    let server = server().await;
    let client = client(&server).await;
    let id = open(&server, "moving", ServerSeverity::P2);
    let mut changes = client
        .incident_state_changes(Some(id.parse().unwrap()))
        .unwrap();
    live(&changes).await;
    let changes_input = incident_devserver::store::IncidentChanges {
        state: Some(incident_devserver::model::IncidentState::Investigating),
        ..Default::default()
    };
    server
        .store()
        .update_incident(id.parse().unwrap(), changes_input, "alice")
        .unwrap();
    let change = next(&mut changes).await.unwrap();
    assert_eq!(change.old_state, incident_client::IncidentState::Detected);
    assert_eq!(
        change.new_state,
        incident_client::IncidentState::Investigating
    );
    assert_eq!(change.changed_by, "alice");
}

#[tokio::test]
async fn alerts_filter_by_source() {
    let server = server().await;
    let client = client(&server).await;
    let mut alerts = client.alerts(Some(vec!["grafana".into()])).unwrap();
    live(&alerts).await;
    for source in ["datadog", "grafana"] {
        let alert = incident_client::AlertSubmission::new(
            source,
            "CPU hot",
            Severity::P2,
            incident_client::IncidentType::Performance,
        );
        client.submit_alert(&alert).await.unwrap();
    }
    let alert = next(&mut alerts).await.unwrap();
    assert_eq!(alert.source, "grafana");
    assert_eq!(alert.alert_type, incident_client::IncidentType::Performance);
    // Nothing more (events come in the order they were published): the marker comes next.
    let marker = incident_client::AlertSubmission::new(
        "grafana",
        "marker",
        Severity::P2,
        incident_client::IncidentType::Performance,
    );
    client.submit_alert(&marker).await.unwrap();
    assert_eq!(next(&mut alerts).await.unwrap().title, "marker");
}

#[tokio::test]
async fn many_subscriptions_share_one_socket() {
    let server = server().await;
    let client = client(&server).await;
    let mut streams: Vec<_> = (0..20)
        .map(|_| client.new_incidents(None).unwrap())
        .collect();
    let mut critical = client.critical_incidents().unwrap();
    for stream in &streams {
        live(stream).await;
    }
    live(&critical).await;
    assert_eq!(server.connections(), 1);
    assert_eq!(server.subscribers("newIncidents"), 20);
    open(&server, "for everyone", ServerSeverity::P1);
    for stream in &mut streams {
        assert_eq!(next(stream).await.unwrap().title, "for everyone");
    }
    assert_eq!(next(&mut critical).await.unwrap().title, "for everyone");
    assert_eq!(client.stats().live_subscriptions, 21);
    assert_eq!(client.stats().events_received, 21);
}
