//! With the `trace-context` feature, HTTP requests and REST alerts carry the caller's span as a
//! W3C `traceparent`, and the alert's `X-Parent-Span-Id` is that span; without a span they carry
//! none and the header is a random UUID.

use std::time::Duration;

use incident_client::{AlertSubmission, IncidentClient, IncidentType, Severity};
use incident_devserver::DevServer;
use opentelemetry::trace::TracerProvider as _;
use tracing::Instrument;
use tracing_subscriber::layer::SubscriberExt;

#[tokio::test]
async fn requests_carry_the_callers_span() {
    let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
    let tracer = provider.tracer("incident-tests");
    let subscriber =
        tracing_subscriber::registry().with(tracing_opentelemetry::layer().with_tracer(tracer));
    let _guard = tracing::subscriber::set_default(subscriber);

    let server = DevServer::builder().start().await.unwrap();
    let client = IncidentClient::builder(server.ws_url())
        .token(server.mint_token("tracing", Duration::from_secs(600)))
        .connect()
        .await
        .unwrap();
    let alert = AlertSubmission::new("tests", "Traced", Severity::P2, IncidentType::Data);

    let receipt = client
        .submit_alert(&alert)
        .instrument(tracing::info_span!("handle_page"))
        .await
        .unwrap();
    let traceparents = server.traceparents();
    assert_eq!(traceparents.len(), 1, "{traceparents:?}");
    let parts: Vec<&str> = traceparents[0].split('-').collect();
    assert_eq!(parts.len(), 4, "{traceparents:?}");
    assert_eq!(parts[0], "00");
    assert_eq!(parts[1].len(), 32);
    assert_eq!(parts[2].len(), 16);
    assert_ne!(parts[1], "0".repeat(32));
    // The server echoes the parent span it was given: the same span as the traceparent's.
    let echoed = receipt.execution["parent_span_id"]
        .as_str()
        .unwrap()
        .replace('-', "");
    assert!(echoed.ends_with(parts[2]), "{echoed} vs {}", parts[2]);

    // Outside any span: nothing to propagate.
    client
        .submit_alert(&AlertSubmission::new(
            "tests",
            "Untraced",
            Severity::P2,
            IncidentType::Data,
        ))
        .await
        .unwrap();
    assert_eq!(server.traceparents().len(), 1);

    // GraphQL over HTTP too.
    use cynic::QueryBuilder;
    let stats = incident_client::operations::IncidentStatistics::build(());
    client
        .execute(stats)
        .instrument(tracing::info_span!("report"))
        .await
        .unwrap();
    let traceparents = server.traceparents();
    assert_eq!(traceparents.len(), 2, "{traceparents:?}");
    assert_ne!(traceparents[1], traceparents[0], "another span");
}
