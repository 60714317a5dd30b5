//! The metrics an operator alerts on, through a real Prometheus recorder. The recorder is this
//! test's thread-local default (`set_default_local_recorder`) on a current-thread runtime, so
//! the client's task records into it and the other tests of this binary record elsewhere.

use std::time::Duration;

use crate::common::*;
use incident_client::ReconnectPolicy;
use incident_devserver::model::Severity as ServerSeverity;
use metrics_exporter_prometheus::PrometheusBuilder;

/// The value of the sample `series` (name and labels as rendered), if present.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.trim().parse().ok())
}

#[tokio::test]
async fn events_drops_reconnects_and_the_connection_are_counted() {
    let recorder = PrometheusBuilder::new().build_recorder();
    let prometheus = recorder.handle();
    let _local = metrics::set_default_local_recorder(&recorder);
    let server = server().await;
    let client = builder(&server)
        .subscription_buffer(2)
        .reconnect(ReconnectPolicy::new(
            Duration::from_millis(20),
            Duration::from_millis(50),
            Some(10),
        ))
        .connect()
        .await
        .unwrap();
    let mut critical = client.critical_incidents().unwrap();
    let slow = client
        .incident_updates(incident_client::UpdateFilter::default())
        .unwrap();
    live(&critical).await;
    live(&slow).await;

    open(&server, "page me", ServerSeverity::P0);
    next(&mut critical).await.unwrap();
    for n in 0..5 {
        open(&server, &format!("noise {n}"), ServerSeverity::P4);
    }
    // The P0 above was an update too: six updates into a buffer of two.
    until("four of six dropped", || slow.dropped() == 4).await;
    let text = prometheus.render();
    assert_eq!(
        sample(&text, "incident_client_events_total{stream=\"critical\"}"),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            "incident_client_events_delivered_total{stream=\"critical\"}"
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(&text, "incident_client_events_total{stream=\"updates\"}"),
        Some(6.0)
    );
    assert_eq!(
        sample(
            &text,
            "incident_client_dropped_events_total{stream=\"updates\"}"
        ),
        Some(4.0)
    );
    assert_eq!(sample(&text, "incident_client_connected"), Some(1.0));
    let last = sample(
        &text,
        "incident_client_last_event_timestamp_seconds{stream=\"critical\"}",
    )
    .unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    assert!(last > now - 60.0 && last <= now, "{last} vs {now}");
    assert!(text.contains("incident_client_ping_rtt_seconds"), "{text}");

    server.drop_all();
    until("the reconnect", || client.stats().reconnects == 1).await;
    let text = prometheus.render();
    assert_eq!(sample(&text, "incident_client_reconnects_total"), Some(1.0));
    assert_eq!(
        sample(&text, "incident_client_gaps_total{stream=\"critical\"}"),
        Some(0.0),
        "caught-up streams have no gaps"
    );
    assert_eq!(
        sample(&text, "incident_client_gaps_total{stream=\"updates\"}"),
        Some(1.0)
    );
    drop(slow);
    client.shutdown().await;
    assert_eq!(
        sample(&prometheus.render(), "incident_client_connected"),
        Some(0.0)
    );
}
