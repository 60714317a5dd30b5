//! Queries, mutations and REST alerts, typed, over real HTTP.

use crate::common::*;
use cynic::{MutationBuilder, QueryBuilder};
use incident_client::inputs::{
    CreateIncidentInput, IncidentFilterInput, PaginationInput, ResolveIncidentInput,
};
use incident_client::operations::*;
use incident_client::{AlertStatus, AlertSubmission, Error, IncidentState, IncidentType, Severity};

async fn create(
    client: &incident_client::IncidentClient,
    title: &str,
    severity: Severity,
) -> IncidentFields {
    let input = CreateIncidentInput {
        source: "sdk".into(),
        title: title.into(),
        description: "made by a test".into(),
        severity,
        incident_type: IncidentType::Application,
        affected_resources: vec!["api".into()],
        labels: Default::default(),
    };
    client
        .execute(CreateIncident::build(CreateIncidentVariables { input }))
        .await
        .unwrap()
        .create_incident
}

#[tokio::test]
async fn mutations_and_queries_are_typed() {
    let server = server().await;
    let client = client(&server).await;
    let created = create(&client, "checkout errors", Severity::P2).await;
    assert_eq!(created.state, IncidentState::Detected);

    let commented = client
        .execute(AddComment::build(AddCommentVariables {
            incident_id: created.id,
            comment: "on it".into(),
        }))
        .await
        .unwrap()
        .add_comment;
    assert_eq!(commented.timeline.last().unwrap().description, "on it");

    let resolved = client
        .execute(ResolveIncident::build(ResolveIncidentVariables {
            id: created.id,
            input: ResolveIncidentInput {
                method: incident_client::enums::ResolutionMethod::Manual,
                notes: "rolled back".into(),
                root_cause: None,
            },
        }))
        .await
        .unwrap()
        .resolve_incident;
    assert_eq!(resolved.state, IncidentState::Resolved);
    assert_eq!(resolved.resolution.unwrap().notes, "rolled back");

    let fetched = client
        .execute(GetIncident::build(GetIncidentVariables { id: created.id }))
        .await
        .unwrap()
        .incident;
    assert_eq!(fetched.id, created.id);
    let stats = client
        .execute(IncidentStatistics::build(()))
        .await
        .unwrap()
        .incident_stats;
    assert_eq!((stats.total, stats.resolved), (1, 1));
}

#[tokio::test]
async fn listing_pages_newest_first() {
    let server = server().await;
    let client = client(&server).await;
    for n in 0..3 {
        create(&client, &format!("n{n}"), Severity::P3).await;
    }
    let variables = ListIncidentsVariables {
        filter: Some(IncidentFilterInput {
            severities: Some(vec![Severity::P3]),
            ..Default::default()
        }),
        pagination: Some(PaginationInput {
            page: 0,
            page_size: 2,
        }),
        sort: None,
    };
    let page = client
        .execute(ListIncidents::build(variables))
        .await
        .unwrap()
        .incidents;
    let titles: Vec<_> = page.incidents.iter().map(|i| i.title.as_str()).collect();
    assert_eq!(titles, ["n2", "n1"]);
    assert!(page.page_info.has_next_page);
    assert_eq!(page.page_info.total_count, 3);
}

#[tokio::test]
async fn graphql_errors_are_typed() {
    let server = server().await;
    let client = client(&server).await;
    let error = client
        .execute(GetIncident::build(GetIncidentVariables {
            id: incident_client::Uuid::new_v4(),
        }))
        .await
        .unwrap_err();
    let Error::GraphQl(errors) = error else {
        panic!("{error:?}")
    };
    assert_eq!(errors[0].message, "Incident not found");
    assert_eq!(errors[0].path, [serde_json::json!("incident")]);
}

#[tokio::test]
async fn http_auth_failures_are_typed() {
    let server = server().await;
    let client = incident_client::IncidentClient::builder(server.ws_url())
        .token(server.mint_token("t", std::time::Duration::from_secs(60)))
        .http_url(server.http_url())
        .connect()
        .await
        .unwrap();
    assert!(client.execute(Health::build(())).await.is_ok());
    let stranger = incident_devserver::DevServer::builder()
        .start()
        .await
        .unwrap();
    let wrong_server = incident_client::IncidentClient::builder(server.ws_url())
        .token(stranger.mint_token("t", std::time::Duration::from_secs(60)))
        .http_url(
            stranger
                .http_url()
                .replace(&stranger.addr().to_string(), &server.addr().to_string()),
        );
    // The WebSocket handshake itself fails for a token signed by another server.
    assert!(matches!(
        wrong_server.connect().await,
        Err(Error::AuthRejected {
            signal: incident_client::AuthSignal::CloseCode(4403),
            ..
        })
    ));
}

#[tokio::test]
async fn rest_alerts_open_incidents_and_deduplicate() {
    let server = server().await;
    let client = client(&server).await;
    let mut critical = client.critical_incidents().unwrap();
    live(&critical).await;
    let mut alert = AlertSubmission::new(
        "prometheus",
        "Disk full on db-1",
        Severity::P0,
        IncidentType::Infrastructure,
    );
    alert.labels.insert("env".into(), "prod".into());
    let receipt = client.submit_alert(&alert).await.unwrap();
    assert_eq!(receipt.status, AlertStatus::Accepted);
    let incident = next(&mut critical).await.unwrap();
    assert_eq!(Some(incident.id), receipt.incident_id);
    assert_eq!(incident.incident_type, IncidentType::Infrastructure);
    let again = client.submit_alert(&alert).await.unwrap();
    assert_eq!(again.status, AlertStatus::Duplicate);
    assert_eq!(again.incident_id, receipt.incident_id);
}

#[tokio::test]
async fn rest_validation_errors_are_typed() {
    let server = server().await;
    let client = client(&server).await;
    let alert = AlertSubmission::new("prometheus", "", Severity::P0, IncidentType::Infrastructure);
    let error = client.submit_alert(&alert).await.unwrap_err();
    assert!(
        matches!(&error, Error::HttpStatus { status: 400, code, .. } if code == "VALIDATION_ERROR"),
        "{error:?}"
    );
}

#[test]
fn values_from_a_newer_server_decode_into_the_fallback() {
    let event = serde_json::json!({
        "incidentUpdates": { "updateType": "ESCALATED_TO_VENDOR", "incidentId": null, "timestamp": "2026-11-26T19:22:14.791139941+00:00" }
    });
    let decoded: IncidentUpdates = serde_json::from_value(event).unwrap();
    assert_eq!(
        decoded.incident_updates.update_type,
        incident_client::IncidentUpdateType::Other("ESCALATED_TO_VENDOR".into())
    );
    assert_eq!(
        decoded.incident_updates.timestamp.timestamp_subsec_nanos(),
        791_139_941
    );
}
