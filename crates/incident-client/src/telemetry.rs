//! Metrics through the `metrics` facade: nothing is exported unless the application installs a
//! recorder (the `incident` CLI installs a Prometheus one for `--metrics-addr`). Handles are
//! resolved when a subscription or client is made, so install the recorder before connecting.
//!
//! | name | kind | labels | what |
//! |---|---|---|---|
//! | `incident_client_events_total` | counter | `stream` | events received from the server |
//! | `incident_client_events_delivered_total` | counter | `stream` | events handed to the consumer |
//! | `incident_client_dropped_events_total` | counter | `stream` | events dropped for a slow consumer |
//! | `incident_client_caught_up_total` | counter | `stream` | incidents recovered by catch-up and delivered |
//! | `incident_client_gaps_total` | counter | `stream` | gap notices |
//! | `incident_client_last_event_timestamp_seconds` | gauge | `stream` | Unix time of the last event received |
//! | `incident_client_reconnects_total` | counter | | successful connections after the first |
//! | `incident_client_auth_refreshes_total` | counter | | fresh tokens asked for after a rejection |
//! | `incident_client_connected` | gauge | | 1 while connected and acknowledged, else 0 |
//! | `incident_client_ping_rtt_seconds` | histogram | | ping to pong round trip |
//!
//! `stream` is `new`, `critical`, `updates`, `state_changes`, `alerts` or `custom`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use metrics::{
    Counter, Gauge, Unit, counter, describe_counter, describe_gauge, describe_histogram, gauge,
    histogram,
};

/// Events received from the server.
pub const EVENTS: &str = "incident_client_events_total";
/// Events handed to the consumer.
pub const DELIVERED: &str = "incident_client_events_delivered_total";
/// Events dropped because the consumer fell behind.
pub const DROPPED: &str = "incident_client_dropped_events_total";
/// Incidents recovered by catch-up queries and delivered.
pub const CAUGHT_UP: &str = "incident_client_caught_up_total";
/// Gap notices.
pub const GAPS: &str = "incident_client_gaps_total";
/// Unix time of the last event received on a stream.
pub const LAST_EVENT: &str = "incident_client_last_event_timestamp_seconds";
/// Successful connections after the first.
pub const RECONNECTS: &str = "incident_client_reconnects_total";
/// Fresh tokens asked for after the server rejected one.
pub const AUTH_REFRESHES: &str = "incident_client_auth_refreshes_total";
/// Counter: connections replaced before their token expired (no gap on any stream).
pub const ROTATIONS: &str = "incident_client_rotations_total";
/// 1 while connected and acknowledged.
pub const CONNECTED: &str = "incident_client_connected";
/// Ping to pong round trip.
pub const PING_RTT: &str = "incident_client_ping_rtt_seconds";

/// Bucket bounds (seconds) for [`PING_RTT`], for exporters that make histograms (Prometheus:
/// `PrometheusBuilder::set_buckets_for_metric`): 0.5 ms to 10 s.
pub const PING_RTT_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Describes every metric to the installed recorder (help text and unit), so an exporter
/// prints `# HELP` lines. The client does it when it connects; idempotent.
pub fn describe() {
    describe_counter!(
        EVENTS,
        Unit::Count,
        "Events received from the server, by stream."
    );
    describe_counter!(
        DELIVERED,
        Unit::Count,
        "Events handed to the consumer, by stream."
    );
    describe_counter!(
        DROPPED,
        Unit::Count,
        "Events dropped because the consumer fell behind (streams that cannot be caught up)."
    );
    describe_counter!(
        CAUGHT_UP,
        Unit::Count,
        "Incidents recovered by catch-up queries and delivered, by stream."
    );
    describe_counter!(GAPS, Unit::Count, "Gap notices delivered, by stream.");
    describe_gauge!(
        LAST_EVENT,
        Unit::Seconds,
        "Unix time of the last event received on a stream."
    );
    describe_counter!(
        RECONNECTS,
        Unit::Count,
        "Successful connections after the first."
    );
    describe_counter!(
        AUTH_REFRESHES,
        Unit::Count,
        "Fresh tokens asked for after the server rejected one."
    );
    describe_counter!(
        ROTATIONS,
        Unit::Count,
        "Connections replaced before their token expired, with no gap on any stream."
    );
    describe_gauge!(CONNECTED, "1 while connected and acknowledged, else 0.");
    describe_histogram!(
        PING_RTT,
        Unit::Seconds,
        "Round trip of the keepalive ping to its pong."
    );
}

/// One stream's handles, resolved once.
#[derive(Debug)]
pub(crate) struct StreamMetrics {
    events: Counter,
    delivered: Counter,
    dropped: Counter,
    caught_up: Counter,
    gaps: Counter,
    last_event: Gauge,
}

impl StreamMetrics {
    pub(crate) fn new(stream: &'static str) -> Self {
        Self {
            events: counter!(EVENTS, "stream" => stream),
            delivered: counter!(DELIVERED, "stream" => stream),
            dropped: counter!(DROPPED, "stream" => stream),
            caught_up: counter!(CAUGHT_UP, "stream" => stream),
            gaps: counter!(GAPS, "stream" => stream),
            last_event: gauge!(LAST_EVENT, "stream" => stream),
        }
    }

    /// An event arrived at `now` (Unix seconds, read once per batch of messages).
    pub(crate) fn received(&self, now: f64) {
        self.events.increment(1);
        self.last_event.set(now);
    }

    pub(crate) fn delivered(&self, recovered: bool) {
        self.delivered.increment(1);
        if recovered {
            self.caught_up.increment(1);
        }
    }

    pub(crate) fn dropped(&self) {
        self.dropped.increment(1);
    }

    pub(crate) fn gap(&self) {
        self.gaps.increment(1);
    }
}

/// The wall clock in Unix seconds, for [`StreamMetrics::received`].
pub(crate) fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|now| now.as_secs_f64())
        .unwrap_or_default()
}

/// Every stream kind's handles, made once per client and shared by its subscriptions.
#[derive(Debug)]
pub(crate) struct StreamMetricsSet(Vec<(&'static str, std::sync::Arc<StreamMetrics>)>);

impl StreamMetricsSet {
    pub(crate) fn new() -> Self {
        let kinds = [
            "new",
            "critical",
            "updates",
            "state_changes",
            "alerts",
            "custom",
        ];
        Self(
            kinds
                .into_iter()
                .map(|kind| (kind, std::sync::Arc::new(StreamMetrics::new(kind))))
                .collect(),
        )
    }

    /// The handles of `stream`, one of the kinds above.
    pub(crate) fn get(&self, stream: &'static str) -> std::sync::Arc<StreamMetrics> {
        let found = self.0.iter().find(|(kind, _)| *kind == stream);
        match found {
            Some((_, metrics)) => metrics.clone(),
            None => std::sync::Arc::new(StreamMetrics::new(stream)),
        }
    }
}

/// The connection's handles.
#[derive(Debug)]
pub(crate) struct ConnectionMetrics {
    reconnects: Counter,
    auth_refreshes: Counter,
    rotations: Counter,
    connected: Gauge,
}

impl ConnectionMetrics {
    pub(crate) fn new() -> Self {
        describe();
        Self {
            reconnects: counter!(RECONNECTS),
            auth_refreshes: counter!(AUTH_REFRESHES),
            rotations: counter!(ROTATIONS),
            connected: gauge!(CONNECTED),
        }
    }

    pub(crate) fn connected(&self, reconnected: bool) {
        self.connected.set(1.0);
        if reconnected {
            self.reconnects.increment(1);
        }
    }

    pub(crate) fn disconnected(&self) {
        self.connected.set(0.0);
    }

    pub(crate) fn auth_refresh(&self) {
        self.auth_refreshes.increment(1);
    }

    pub(crate) fn rotated(&self) {
        self.rotations.increment(1);
    }

    pub(crate) fn ping_rtt(&self, rtt: Duration) {
        histogram!(PING_RTT).record(rtt.as_secs_f64());
    }
}
