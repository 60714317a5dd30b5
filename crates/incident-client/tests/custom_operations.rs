//! A user's own cynic fragments, written against `incident_schema::schema`, through the generic
//! `subscribe`; and a server `error` message ending such a stream with typed GraphQL errors.

mod common;

use common::*;
use cynic::SubscriptionBuilder;
use incident_client::schema;
use incident_client::{EndReason, Error};
use incident_devserver::model::Severity as ServerSeverity;

#[derive(cynic::QueryFragment, Debug)]
#[cynic(graphql_type = "Incident", schema = "incident_manager")]
struct TitleOnly {
    title: String,
    severity: incident_client::Severity,
}

#[derive(cynic::QueryFragment, Debug)]
#[cynic(graphql_type = "SubscriptionRoot", schema = "incident_manager")]
struct MyCritical {
    critical_incidents: TitleOnly,
}

/// Eleven levels deep: more than the server allows. Never decoded, so its fields go unread.
#[derive(cynic::QueryFragment, Debug)]
#[cynic(graphql_type = "Incident", schema = "incident_manager")]
#[allow(dead_code)]
struct Deep1 {
    related_incidents: Vec<Deep2>,
}
#[derive(cynic::QueryFragment, Debug)]
#[cynic(graphql_type = "Incident", schema = "incident_manager")]
#[allow(dead_code)]
struct Deep2 {
    related_incidents: Vec<Deep3>,
}
#[derive(cynic::QueryFragment, Debug)]
#[cynic(graphql_type = "Incident", schema = "incident_manager")]
#[allow(dead_code)]
struct Deep3 {
    related_incidents: Vec<Deep4>,
}
#[derive(cynic::QueryFragment, Debug)]
#[cynic(graphql_type = "Incident", schema = "incident_manager")]
#[allow(dead_code)]
struct Deep4 {
    related_incidents: Vec<Deep5>,
}
#[derive(cynic::QueryFragment, Debug)]
#[cynic(graphql_type = "Incident", schema = "incident_manager")]
#[allow(dead_code)]
struct Deep5 {
    related_incidents: Vec<Deep6>,
}
#[derive(cynic::QueryFragment, Debug)]
#[cynic(graphql_type = "Incident", schema = "incident_manager")]
#[allow(dead_code)]
struct Deep6 {
    related_incidents: Vec<Deep7>,
}
#[derive(cynic::QueryFragment, Debug)]
#[cynic(graphql_type = "Incident", schema = "incident_manager")]
#[allow(dead_code)]
struct Deep7 {
    related_incidents: Vec<Deep8>,
}
#[derive(cynic::QueryFragment, Debug)]
#[cynic(graphql_type = "Incident", schema = "incident_manager")]
#[allow(dead_code)]
struct Deep8 {
    related_incidents: Vec<Deep9>,
}
#[derive(cynic::QueryFragment, Debug)]
#[cynic(graphql_type = "Incident", schema = "incident_manager")]
#[allow(dead_code)]
struct Deep9 {
    related_incidents: Vec<Deep10>,
}
#[derive(cynic::QueryFragment, Debug)]
#[cynic(graphql_type = "Incident", schema = "incident_manager")]
#[allow(dead_code)]
struct Deep10 {
    id: incident_client::Uuid,
}

#[derive(cynic::QueryFragment, Debug)]
#[cynic(graphql_type = "SubscriptionRoot", schema = "incident_manager")]
#[allow(dead_code)]
struct TooDeep {
    new_incidents: Deep1,
}

#[tokio::test]
async fn a_users_own_fragment_streams_typed_values() {
    let server = server().await;
    let client = client(&server).await;
    let mut mine = client.subscribe(MyCritical::build(())).unwrap();
    live(&mine).await;
    open(&server, "custom", ServerSeverity::P1);
    let event = next(&mut mine).await.unwrap();
    assert_eq!(event.critical_incidents.title, "custom");
    assert_eq!(
        event.critical_incidents.severity,
        incident_client::Severity::P1
    );
}

#[tokio::test]
async fn a_server_error_message_ends_the_stream_with_graphql_errors() {
    let server = server().await;
    let client = client(&server).await;
    let mut deep = client.subscribe(TooDeep::build(())).unwrap();
    let error = next(&mut deep).await.unwrap_err();
    let Error::GraphQl(errors) = error else {
        panic!("{error:?}")
    };
    assert!(errors[0].message.contains("nested too deep"), "{errors:?}");
    assert!(futures::StreamExt::next(&mut deep).await.is_none());
    assert_eq!(deep.end_reason(), Some(EndReason::GraphQlErrors));
    // The connection is fine: other subscriptions still work.
    let mut fine = client.critical_incidents().unwrap();
    live(&fine).await;
    open(&server, "unaffected", ServerSeverity::P0);
    assert_eq!(next(&mut fine).await.unwrap().title, "unaffected");
}
