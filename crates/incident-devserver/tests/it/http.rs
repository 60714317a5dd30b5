//! HTTP: GraphQL over POST, the REST alert endpoint, limits, and the SDL the server really serves.

use std::time::Duration;

use crate::common::*;
use incident_devserver::DevServer;
use serde_json::{Value, json};

async fn post_alert(
    server: &incident_devserver::DevServerHandle,
    body: Value,
    headers: bool,
) -> (u16, Value) {
    let mut request = reqwest::Client::new()
        .post(format!("{}/v1/alerts", server.base_url()))
        .bearer_auth(token(server))
        .json(&body);
    if headers {
        request = request
            .header("X-Execution-Id", uuid::Uuid::new_v4().to_string())
            .header("X-Parent-Span-Id", uuid::Uuid::new_v4().to_string());
    }
    let response = request.send().await.unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

fn disk_alert() -> Value {
    json!({
        "source": "prometheus", "title": "Disk full on db-1", "description": "95%",
        "severity": "P1", "alert_type": "Infrastructure",
        "labels": { "env": "prod" }, "affected_services": ["db-1"],
    })
}

#[tokio::test]
async fn the_served_sdl_is_the_federation_export_of_the_schema_file() {
    let server = server().await;
    let response = http(&server, "{ _service { sdl } }", json!({})).await;
    let export = response["data"]["_service"]["sdl"].as_str().unwrap();
    // Like the real server: async-graphql's federation export, not the plain SDL.
    assert!(incident_sdl::federation::is_export(export), "{export}");
    assert!(!export.contains("schema {"), "no schema block");
    assert!(!export.contains("_service"), "no _service field");
    assert!(!export.contains("type _Service"), "no _Service type");
    let file = incident_sdl::Schema::parse(incident_devserver::SDL).unwrap();
    let roots = http(&server, incident_sdl::federation::ROOTS_QUERY, json!({})).await;
    assert_eq!(roots["data"]["__schema"]["queryType"]["name"], "QueryRoot");
    let served =
        incident_sdl::federation::rebuild(export, file.roots.clone(), Some(&file)).unwrap();
    let changes = incident_sdl::diff(&file, &served);
    assert!(
        changes.is_empty(),
        "the server drifted from schema/incident-manager.graphql: {changes:#?}"
    );
}

#[tokio::test]
async fn introspection_sees_every_type_of_the_file() {
    let server = server().await;
    let response = http(
        &server,
        "{ __schema { queryType { name } types { name } } }",
        json!({}),
    )
    .await;
    assert_eq!(
        response["data"]["__schema"]["queryType"]["name"],
        "QueryRoot"
    );
    let served: Vec<&str> = response["data"]["__schema"]["types"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    let file = incident_sdl::Schema::parse(incident_devserver::SDL).unwrap();
    // Introspection lists the types reachable from the roots; `_Any` (federation's entity
    // scalar) is declared but referenced by no field, so only the `_service` SDL shows it.
    for name in file.types.keys().filter(|name| *name != "_Any") {
        assert!(served.contains(&name.as_str()), "{name} is not served");
    }
}

#[tokio::test]
async fn the_full_introspection_query_is_refused_as_too_complex() {
    let server = server().await;
    let response = http(&server, STANDARD_INTROSPECTION, json!({})).await;
    assert_eq!(response["data"], Value::Null);
    assert!(
        response["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("complex"),
        "{response}"
    );
}

#[tokio::test]
async fn queries_deeper_than_ten_are_refused() {
    let server = server().await;
    let query = "{ incidents { incidents { relatedIncidents { relatedIncidents { relatedIncidents { relatedIncidents { relatedIncidents { relatedIncidents { relatedIncidents { relatedIncidents { id } } } } } } } } } } }";
    let response = http(&server, query, json!({})).await;
    assert!(
        response["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("nested too deep"),
        "{response}"
    );
}

#[tokio::test]
async fn a_missing_incident_is_an_error_with_null_data() {
    let server = server().await;
    let response = http(
        &server,
        "query($id: UUID!) { incident(id: $id) { id } }",
        json!({ "id": uuid::Uuid::new_v4() }),
    )
    .await;
    assert_eq!(response["data"], Value::Null);
    assert_eq!(response["errors"][0]["message"], "Incident not found");
    assert_eq!(response["errors"][0]["path"], json!(["incident"]));
    assert!(response["errors"][0].get("extensions").is_none());
}

#[tokio::test]
async fn pagination_is_newest_first_and_bounded() {
    let server = server().await;
    for n in 0..5 {
        create(&server, &format!("incident {n}"), "P3").await;
    }
    let page = |page: i64, size: i64| {
        let server = server.clone();
        async move {
            http(
                &server,
                "query($p: PaginationInput) { incidents(pagination: $p) { incidents { title } pageInfo { page pageSize totalCount totalPages hasNextPage hasPreviousPage } } }",
                json!({ "p": { "page": page, "pageSize": size } }),
            )
            .await
        }
    };
    let second = page(1, 2).await;
    assert_eq!(
        second["data"]["incidents"],
        json!({
            "incidents": [{ "title": "incident 2" }, { "title": "incident 1" }],
            "pageInfo": { "page": 1, "pageSize": 2, "totalCount": 5, "totalPages": 3, "hasNextPage": true, "hasPreviousPage": true },
        })
    );
    for size in [0, 101] {
        let refused = page(0, size).await;
        assert_eq!(
            refused["errors"][0]["message"], "pageSize must be between 1 and 100",
            "{refused}"
        );
    }
    assert!(page(0, 100).await.get("errors").is_none());
}

#[tokio::test]
async fn http_requires_a_valid_token() {
    let server = server().await;
    let response = reqwest::Client::new()
        .post(server.http_url())
        .json(&json!({ "query": "{ health { status } }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "UNAUTHORIZED");
}

#[tokio::test]
async fn no_auth_servers_need_no_token() {
    let server = DevServer::builder().no_auth().start().await.unwrap();
    let response: Value = reqwest::Client::new()
        .post(server.http_url())
        .json(&json!({ "query": "{ health { status } }" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(response["data"]["health"]["status"], "healthy");
}

#[tokio::test]
async fn a_rest_alert_becomes_an_incident_on_new_and_critical_streams() {
    let server = server().await;
    let mut conn = Conn::ready(&server).await;
    conn.subscribe("new", "subscription { newIncidents { id title severity incidentType labels { key value } affectedResources } }", json!({}))
        .await;
    conn.subscribe(
        "crit",
        "subscription { criticalIncidents { id } }",
        json!({}),
    )
    .await;
    conn.sync().await;
    let (status, ack) = post_alert(&server, disk_alert(), true).await;
    assert_eq!(status, 200, "{ack}");
    assert_eq!(ack["status"], "Accepted");
    let incident_id = ack["incident_id"].as_str().unwrap();
    let mut seen = std::collections::HashMap::new();
    for _ in 0..2 {
        let Frame::Json(frame) = conn.recv().await else {
            panic!()
        };
        seen.insert(
            frame["id"].as_str().unwrap().to_owned(),
            frame["payload"]["data"].clone(),
        );
    }
    assert_eq!(
        seen["new"]["newIncidents"],
        json!({ "id": incident_id, "title": "Disk full on db-1", "severity": "P1", "incidentType": "INFRASTRUCTURE",
                "labels": [{ "key": "env", "value": "prod" }], "affectedResources": ["db-1"] })
    );
    assert_eq!(seen["crit"]["criticalIncidents"]["id"], incident_id);
}

#[tokio::test]
async fn a_repeated_alert_is_a_duplicate_of_the_same_incident() {
    let server = server().await;
    let (_, first) = post_alert(&server, disk_alert(), true).await;
    let (status, second) = post_alert(&server, disk_alert(), true).await;
    assert_eq!(status, 200);
    assert_eq!(second["status"], "Duplicate");
    assert_eq!(second["incident_id"], first["incident_id"]);
    let stats = http(&server, "{ incidentStats { total } }", json!({})).await;
    assert_eq!(stats["data"]["incidentStats"]["total"], 1);
}

#[tokio::test]
async fn alerts_outside_the_dedup_window_open_new_incidents() {
    let server = DevServer::builder()
        .dedup_window(Duration::ZERO)
        .start()
        .await
        .unwrap();
    let (_, first) = post_alert(&server, disk_alert(), true).await;
    let (_, second) = post_alert(&server, disk_alert(), true).await;
    assert_eq!(second["status"], "Accepted");
    assert_ne!(second["incident_id"], first["incident_id"]);
}

#[tokio::test]
async fn rest_alerts_need_the_execution_headers() {
    let server = server().await;
    let (status, body) = post_alert(&server, disk_alert(), false).await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["code"], "EXECUTION_VIOLATION");
}

#[tokio::test]
async fn rest_alerts_are_validated() {
    let server = server().await;
    let mut empty_title = disk_alert();
    empty_title["title"] = json!("");
    let mut graphql_enum = disk_alert();
    graphql_enum["alert_type"] = json!("INFRASTRUCTURE");
    for body in [empty_title, graphql_enum] {
        let (status, error) = post_alert(&server, body, true).await;
        assert_eq!(
            (status, error["error"]["code"].as_str()),
            (400, Some("VALIDATION_ERROR")),
            "{error}"
        );
        assert_eq!(error["error"]["status"], 400);
    }
}

#[tokio::test]
async fn graphiql_and_health_are_served() {
    let server = server().await;
    let page = reqwest::get(server.http_url())
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("graphiql"), "{page}");
    let health: Value = reqwest::get(format!("{}/health", server.base_url()))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(health["status"], "healthy");
}

#[tokio::test]
async fn mutations_record_timeline_events() {
    let server = server().await;
    let id = create(&server, "story", "P2").await;
    http(&server, "mutation($id: UUID!) { escalateIncident(incidentId: $id, newSeverity: P0, reason: \"spreading\") { id } }", json!({ "id": id })).await;
    let other = create(&server, "cause", "P3").await;
    let linked = http(
        &server,
        "mutation($id: UUID!, $other: UUID!) { linkIncidents(incidentId: $id, relatedId: $other) { severity relatedIncidents { id } timeline { eventType actor } } }",
        json!({ "id": id, "other": other }),
    )
    .await;
    assert_eq!(
        linked["data"]["linkIncidents"],
        json!({ "severity": "P0", "relatedIncidents": [{ "id": other }],
                "timeline": [{ "eventType": "CREATED", "actor": "tester" }, { "eventType": "ESCALATED", "actor": "tester" }] })
    );
}

/// The introspection query GraphQL tools send (graphql-js's `getIntrospectionQuery()`).
const STANDARD_INTROSPECTION: &str = r#"
query IntrospectionQuery {
  __schema {
    queryType { name }
    mutationType { name }
    subscriptionType { name }
    types { ...FullType }
    directives { name description locations args { ...InputValue } }
  }
}
fragment FullType on __Type {
  kind name description
  fields(includeDeprecated: true) { name description args { ...InputValue } type { ...TypeRef } isDeprecated deprecationReason }
  inputFields { ...InputValue }
  interfaces { ...TypeRef }
  enumValues(includeDeprecated: true) { name description isDeprecated deprecationReason }
  possibleTypes { ...TypeRef }
}
fragment InputValue on __InputValue { name description type { ...TypeRef } defaultValue }
fragment TypeRef on __Type {
  kind name
  ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name } } } } } } }
}
"#;
