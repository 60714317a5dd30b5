//! A user's own cynic fragments, written against `incident_schema::schema`, through the generic
//! `subscribe` and the caught-up `subscribe_caught_up`; and a server `error` message ending such a
//! stream with typed GraphQL errors.

use crate::common::*;
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

/// What a pager needs, with the two fields catch-up relies on.
#[derive(cynic::QueryFragment, Debug)]
#[cynic(graphql_type = "Incident", schema = "incident_manager")]
struct Page {
    id: incident_client::Uuid,
    created_at: incident_client::Timestamp,
    title: String,
    affected_resources: Vec<String>,
}

#[derive(cynic::QueryVariables, Debug)]
struct PagesVariables {
    severities: Option<Vec<incident_client::Severity>>,
}

#[derive(cynic::QueryFragment, Debug)]
#[cynic(
    graphql_type = "SubscriptionRoot",
    variables = "PagesVariables",
    schema = "incident_manager"
)]
struct Pages {
    #[arguments(severities: $severities)]
    new_incidents: Page,
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

#[tokio::test]
async fn a_users_own_new_incidents_operation_is_caught_up_across_a_restart() {
    let server = server().await;
    let client = builder(&server)
        .reconnect(incident_client::ReconnectPolicy::new(
            std::time::Duration::from_millis(50),
            std::time::Duration::from_millis(200),
            Some(20),
        ))
        .connect()
        .await
        .unwrap();
    let variables = PagesVariables {
        severities: Some(vec![
            incident_client::Severity::P0,
            incident_client::Severity::P2,
        ]),
    };
    let mut pages = client.subscribe_caught_up(Pages::build(variables)).unwrap();
    live(&pages).await;
    open(&server, "before", ServerSeverity::P0);
    assert_eq!(
        next(&mut pages).await.unwrap().new_incidents.title,
        "before"
    );

    let restarting = {
        let server = server.clone();
        tokio::spawn(async move { server.restart(std::time::Duration::from_millis(300)).await })
    };
    until("the client to notice the restart", || {
        !client.stats().connected
    })
    .await;
    open(&server, "missed P0", ServerSeverity::P0);
    open(&server, "missed P1, filtered out", ServerSeverity::P1);
    open(&server, "missed P2", ServerSeverity::P2);
    restarting.await.unwrap().unwrap();
    live(&pages).await;
    open(&server, "after", ServerSeverity::P2);

    let mut titles = Vec::new();
    for _ in 0..3 {
        let page = next(&mut pages).await.unwrap().new_incidents;
        assert!(page.affected_resources.is_empty());
        assert!(!page.id.is_nil() && page.created_at.timestamp() > 0);
        titles.push(page.title);
    }
    assert_eq!(titles, ["missed P0", "missed P2", "after"]);
    // "after" is found by the catch-up (which starts once the server confirmed the
    // resubscription) or arrives live, depending on which comes first.
    let caught_up = client.stats().caught_up;
    assert!((2..=3).contains(&caught_up), "{caught_up}");
    // Nothing twice: the marker comes next.
    open(&server, "marker", ServerSeverity::P2);
    assert_eq!(
        next(&mut pages).await.unwrap().new_incidents.title,
        "marker"
    );
}

#[tokio::test]
async fn an_operation_that_cannot_be_caught_up_says_why() {
    let server = server().await;
    let client = client(&server).await;
    let error = client
        .subscribe_caught_up(MyCritical::build(()))
        .unwrap_err();
    assert!(
        matches!(&error, Error::UnsupportedOperation { reason } if reason.contains("select `id`")),
        "{error:?}"
    );
}
