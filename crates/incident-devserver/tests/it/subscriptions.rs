//! Each subscription and each of its filters, fed by real mutations and alerts.

use std::time::Duration;

use crate::common::*;
use incident_devserver::DevServer;
use incident_devserver::model::{IncidentType, Severity};
use serde_json::{Value, json};

async fn update(server: &incident_devserver::DevServerHandle, id: &str, input: Value) {
    let response = http(
        server,
        "mutation($id: UUID!, $input: UpdateIncidentInput!) { updateIncident(id: $id, input: $input) { id } }",
        json!({ "id": id, "input": input }),
    )
    .await;
    assert!(response.get("errors").is_none(), "{response}");
}

/// Comments on incident `id` over HTTP: a `COMMENT_ADDED` update, which tests use as a marker.
async fn comment(server: &incident_devserver::DevServerHandle, id: &str) {
    let response = http(
        server,
        "mutation($id: UUID!) { addComment(incidentId: $id, comment: \"marker\") { id } }",
        json!({ "id": id }),
    )
    .await;
    assert!(response.get("errors").is_none(), "{response}");
}

#[tokio::test]
async fn new_incidents_filters_by_severity() {
    let server = server().await;
    let mut conn = Conn::ready(&server).await;
    conn.subscribe(
        "s",
        "subscription($s: [Severity!]) { newIncidents(severities: $s) { title severity } }",
        json!({ "s": ["P3"] }),
    )
    .await;
    conn.sync().await;
    create(&server, "skipped", "P1").await;
    create(&server, "kept", "P3").await;
    assert_eq!(
        conn.next_data("s").await,
        json!({ "newIncidents": { "title": "kept", "severity": "P3" } })
    );
    // A subscription's events come in the order they were published: a leak or a duplicate
    // would come before the marker.
    create(&server, "marker", "P3").await;
    assert_eq!(
        conn.next_data("s").await,
        json!({ "newIncidents": { "title": "marker", "severity": "P3" } })
    );
}

#[tokio::test]
async fn critical_incidents_carries_only_p0_and_p1() {
    let server = server().await;
    let mut conn = Conn::ready(&server).await;
    conn.subscribe(
        "c",
        "subscription { criticalIncidents { title isCritical } }",
        json!({}),
    )
    .await;
    conn.sync().await;
    create(&server, "minor", "P2").await;
    create(&server, "major", "P1").await;
    create(&server, "worst", "P0").await;
    assert_eq!(
        conn.next_data("c").await,
        json!({ "criticalIncidents": { "title": "major", "isCritical": true } })
    );
    assert_eq!(
        conn.next_data("c").await,
        json!({ "criticalIncidents": { "title": "worst", "isCritical": true } })
    );
    // Nothing more (events come in the order they were published): the marker is next.
    create(&server, "marker", "P1").await;
    assert_eq!(
        conn.next_data("c").await,
        json!({ "criticalIncidents": { "title": "marker", "isCritical": true } })
    );
}

#[tokio::test]
async fn incident_updates_reports_every_kind_of_change() {
    let server = server().await;
    let mut conn = Conn::ready(&server).await;
    conn.subscribe(
        "u",
        "subscription { incidentUpdates { updateType incidentId } }",
        json!({}),
    )
    .await;
    conn.sync().await;
    let id = create(&server, "changing", "P2").await;
    update(&server, &id, json!({ "state": "TRIAGED" })).await;
    http(
        &server,
        "mutation($id: UUID!) { addComment(incidentId: $id, comment: \"hi\") { id } }",
        json!({ "id": id }),
    )
    .await;
    http(
        &server,
        "mutation($id: UUID!) { assignIncident(incidentId: $id, assignees: [\"ann\"]) { id } }",
        json!({ "id": id }),
    )
    .await;
    http(
        &server,
        "mutation($id: UUID!) { resolveIncident(id: $id, input: { method: MANUAL, notes: \"fixed\" }) { id } }",
        json!({ "id": id }),
    )
    .await;
    for kind in [
        "CREATED",
        "STATE_CHANGED",
        "COMMENT_ADDED",
        "ASSIGNED",
        "RESOLVED",
    ] {
        assert_eq!(
            conn.next_data("u").await,
            json!({ "incidentUpdates": { "updateType": kind, "incidentId": id } })
        );
    }
}

#[tokio::test]
async fn incident_updates_filters_by_incident_id() {
    let server = server().await;
    let watched = create(&server, "watched", "P2").await;
    let other = create(&server, "other", "P2").await;
    let mut conn = Conn::ready(&server).await;
    conn.subscribe(
        "u",
        "subscription($ids: [UUID!]) { incidentUpdates(incidentIds: $ids) { updateType incidentId } }",
        json!({ "ids": [watched] }),
    )
    .await;
    conn.sync().await;
    update(&server, &other, json!({ "state": "TRIAGED" })).await;
    update(&server, &watched, json!({ "state": "TRIAGED" })).await;
    assert_eq!(
        conn.next_data("u").await,
        json!({ "incidentUpdates": { "updateType": "STATE_CHANGED", "incidentId": watched } })
    );
    // Nothing more (events come in the order they were published): the marker is next.
    comment(&server, &watched).await;
    assert_eq!(
        conn.next_data("u").await,
        json!({ "incidentUpdates": { "updateType": "COMMENT_ADDED", "incidentId": watched } })
    );
}

#[tokio::test]
async fn incident_updates_filters_by_severity() {
    let server = server().await;
    let mut conn = Conn::ready(&server).await;
    conn.subscribe(
        "u",
        "subscription { incidentUpdates(severities: [P0]) { updateType } }",
        json!({}),
    )
    .await;
    conn.sync().await;
    create(&server, "low", "P4").await;
    let high = create(&server, "high", "P0").await;
    assert_eq!(
        conn.next_data("u").await,
        json!({ "incidentUpdates": { "updateType": "CREATED" } })
    );
    // If "low" had passed the filter, that CREATED was its own and "high"'s CREATED would come
    // next, before the marker (events come in the order they were published).
    comment(&server, &high).await;
    assert_eq!(
        conn.next_data("u").await,
        json!({ "incidentUpdates": { "updateType": "COMMENT_ADDED" } })
    );
}

#[tokio::test]
async fn incident_updates_active_only_skips_closed_incidents() {
    let server = server().await;
    let id = create(&server, "closing", "P2").await;
    let mut conn = Conn::ready(&server).await;
    conn.subscribe(
        "u",
        "subscription { incidentUpdates(activeOnly: true) { updateType } }",
        json!({}),
    )
    .await;
    conn.sync().await;
    update(&server, &id, json!({ "state": "CLOSED" })).await;
    // The marker: had the closing update passed the filter, it would come before this CREATED.
    create(&server, "open", "P2").await;
    assert_eq!(
        conn.next_data("u").await,
        json!({ "incidentUpdates": { "updateType": "CREATED" } })
    );
}

#[tokio::test]
async fn incident_updates_sends_heartbeats_without_an_incident() {
    let server = DevServer::builder()
        .heartbeat_interval(Duration::from_millis(150))
        .start()
        .await
        .unwrap();
    let mut conn = Conn::ready(&server).await;
    conn.subscribe(
        "u",
        "subscription { incidentUpdates(severities: [P0]) { updateType incidentId timestamp } }",
        json!({}),
    )
    .await;
    let data = conn.next_data("u").await;
    assert_eq!(data["incidentUpdates"]["updateType"], "HEARTBEAT");
    assert_eq!(data["incidentUpdates"]["incidentId"], Value::Null);
    let timestamp = data["incidentUpdates"]["timestamp"].as_str().unwrap();
    assert!(
        timestamp.ends_with("+00:00"),
        "the server writes +00:00, not Z: {timestamp}"
    );
}

#[tokio::test]
async fn state_changes_filter_by_incident() {
    let server = server().await;
    let watched = create(&server, "watched", "P2").await;
    let other = create(&server, "other", "P2").await;
    let mut conn = Conn::ready(&server).await;
    conn.subscribe(
        "s",
        "subscription($id: UUID) { incidentStateChanges(incidentId: $id) { incidentId oldState newState changedBy } }",
        json!({ "id": watched }),
    )
    .await;
    conn.sync().await;
    update(&server, &other, json!({ "state": "TRIAGED" })).await;
    update(&server, &watched, json!({ "state": "INVESTIGATING" })).await;
    assert_eq!(
        conn.next_data("s").await,
        json!({ "incidentStateChanges": { "incidentId": watched, "oldState": "DETECTED", "newState": "INVESTIGATING", "changedBy": "tester" } })
    );
    // Nothing more (events come in the order they were published): the marker is next.
    update(&server, &watched, json!({ "state": "REMEDIATING" })).await;
    assert_eq!(
        conn.next_data("s").await,
        json!({ "incidentStateChanges": { "incidentId": watched, "oldState": "INVESTIGATING", "newState": "REMEDIATING", "changedBy": "tester" } })
    );
}

#[tokio::test]
async fn alerts_filter_by_source() {
    let server = server().await;
    let mut conn = Conn::ready(&server).await;
    conn.subscribe(
        "a",
        "subscription { alerts(sources: [\"grafana\"]) { source title deduplicated } }",
        json!({}),
    )
    .await;
    conn.sync().await;
    let submit = |source: &'static str, title: &'static str| {
        http(
            &server,
            "mutation($input: SubmitAlertInput!) { submitAlert(input: $input) { status } }",
            json!({ "input": { "source": source, "title": title, "description": "d", "severity": "P2", "alertType": "PERFORMANCE" } }),
        )
    };
    for source in ["pagerduty", "grafana"] {
        submit(source, "cpu").await;
    }
    assert_eq!(
        conn.next_data("a").await,
        json!({ "alerts": { "source": "grafana", "title": "cpu", "deduplicated": false } })
    );
    // Nothing more (events come in the order they were published): the marker is next.
    submit("grafana", "marker").await;
    assert_eq!(
        conn.next_data("a").await,
        json!({ "alerts": { "source": "grafana", "title": "marker", "deduplicated": false } })
    );
}

#[tokio::test]
async fn many_subscriptions_share_one_socket() {
    let server = server().await;
    let mut conn = Conn::ready(&server).await;
    conn.subscribe("new", "subscription { newIncidents { title } }", json!({}))
        .await;
    conn.subscribe(
        "crit",
        "subscription { criticalIncidents { title } }",
        json!({}),
    )
    .await;
    conn.sync().await;
    create(&server, "both", "P0").await;
    let mut ids = Vec::new();
    for _ in 0..2 {
        let Frame::Json(frame) = conn.recv().await else {
            panic!()
        };
        ids.push(frame["id"].as_str().unwrap().to_owned());
    }
    ids.sort();
    assert_eq!(ids, ["crit", "new"]);
}

/// A subscriber that stops reading falls behind, and the server ends its subscription with an
/// error it can see, while a subscriber that keeps up receives everything.
#[tokio::test]
async fn a_slow_subscriber_is_cut_off_without_holding_up_others() {
    const EVENTS: usize = 12_000;
    const BATCH: usize = 400;
    // Each incident is two events on the feed (created, and its CREATED update).
    let server = DevServer::builder()
        .event_capacity(2 * BATCH + 100)
        .start()
        .await
        .unwrap();
    let full = "subscription { newIncidents { id title description source labels { key value } timeline { actor description eventType timestamp } createdAt updatedAt } }";
    let mut slow = Conn::ready(&server).await;
    slow.subscribe("slow", full, json!({})).await;
    let mut fast = Conn::ready(&server).await;
    fast.subscribe("fast", "subscription { newIncidents { id } }", json!({}))
        .await;
    slow.sync().await;
    fast.sync().await;

    let padding = "x".repeat(400);
    for batch in 0..EVENTS / BATCH {
        for n in 0..BATCH {
            server
                .store()
                .create_incident(
                    "load",
                    &format!("incident {batch}/{n}"),
                    &padding,
                    Severity::P2,
                    IncidentType::Application,
                    vec![],
                    vec![],
                    "load",
                )
                .unwrap();
        }
        for _ in 0..BATCH {
            fast.next_data("fast").await;
        }
    }

    let mut received = 0;
    let error = loop {
        match slow.recv().await {
            Frame::Json(frame)
                if frame["type"] == "next" && frame["payload"].get("errors").is_some() =>
            {
                break frame["payload"]["errors"][0]["message"]
                    .as_str()
                    .unwrap()
                    .to_owned();
            }
            Frame::Json(frame) if frame["type"] == "error" => {
                break frame["payload"][0]["message"].as_str().unwrap().to_owned();
            }
            Frame::Json(frame) if frame["type"] == "next" => received += 1,
            other => panic!("unexpected {other:?} after {received} events"),
        }
    };
    assert!(error.starts_with("subscriber too slow: "), "{error}");
    assert!(received < EVENTS, "the slow subscriber was never cut off");
    assert_eq!(
        slow.recv().await,
        Frame::Json(json!({ "type": "complete", "id": "slow" }))
    );
}
