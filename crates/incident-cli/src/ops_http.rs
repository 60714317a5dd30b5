//! `--metrics-addr`: `GET /metrics` in the Prometheus text format and `GET /healthz` from the
//! client's connection state, on a small HTTP/1 server (hyper).

use std::convert::Infallible;
use std::net::SocketAddr;

use anyhow::{Context, Result};
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use incident_client::ConnectionState;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tokio::sync::watch;

/// Installs the process-wide Prometheus recorder. Call it before the client is made: the client
/// resolves its metric handles then.
pub fn install_recorder() -> Result<PrometheusHandle> {
    // Ping round trips as a histogram with buckets, not the exporter's default summary.
    PrometheusBuilder::new()
        .set_buckets_for_metric(
            metrics_exporter_prometheus::Matcher::Full(incident_client::telemetry::PING_RTT.into()),
            PING_RTT_BUCKETS,
        )
        .context("configuring the ping round-trip histogram")?
        .install_recorder()
        .context("installing the Prometheus recorder")
}

/// Bucket bounds (seconds) for the ping round-trip histogram: 0.5 ms to 10 s (the same as
/// `incident_client::telemetry::PING_RTT_BUCKETS`, repeated so this crate builds against the
/// published client of the previous release too).
const PING_RTT_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Binds `addr` and serves until the process ends; returns the bound address.
pub async fn serve(
    addr: SocketAddr,
    metrics: PrometheusHandle,
    state: watch::Receiver<ConnectionState>,
) -> Result<SocketAddr> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("listening for metrics on {addr}"))?;
    let bound = listener.local_addr()?;
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let (metrics, state) = (metrics.clone(), state.clone());
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |request| {
                    let response = respond(&request, &metrics, &state);
                    async move { Ok::<_, Infallible>(response) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Ok(bound)
}

/// The answer to one request: `/metrics`, `/healthz`, or 404 (405 for a method other than GET).
fn respond(
    request: &Request<Incoming>,
    metrics: &PrometheusHandle,
    state: &watch::Receiver<ConnectionState>,
) -> Response<Full<Bytes>> {
    if request.method() != Method::GET {
        return text(
            StatusCode::METHOD_NOT_ALLOWED,
            "text/plain",
            "GET only\n".into(),
        );
    }
    match request.uri().path() {
        "/metrics" => text(
            StatusCode::OK,
            "text/plain; version=0.0.4",
            metrics.render(),
        ),
        "/healthz" => {
            let state = state.borrow().clone();
            let status = if state.is_connected() {
                StatusCode::OK
            } else {
                StatusCode::SERVICE_UNAVAILABLE
            };
            text(status, "application/json", health_body(&state).to_string())
        }
        _ => text(
            StatusCode::NOT_FOUND,
            "text/plain",
            "try /metrics or /healthz\n".into(),
        ),
    }
}

/// What `/healthz` says: the state's name and what explains it.
pub fn health_body(state: &ConnectionState) -> serde_json::Value {
    use serde_json::json;
    match state {
        ConnectionState::Connected { since } => json!({
            "status": "ok",
            "state": state.name(),
            "connected_since": chrono::DateTime::<chrono::Utc>::from(*since).to_rfc3339(),
        }),
        ConnectionState::Connecting { attempt } => json!({
            "status": "unavailable",
            "state": state.name(),
            "attempt": attempt,
        }),
        ConnectionState::Reconnecting {
            attempt,
            delay,
            error,
        } => json!({
            "status": "unavailable",
            "state": state.name(),
            "attempt": attempt,
            "retry_in_ms": delay.as_millis() as u64,
            "error": error,
        }),
        ConnectionState::Closed { error } => json!({
            "status": "unavailable",
            "state": state.name(),
            "error": error.as_ref().map(ToString::to_string),
        }),
        _ => json!({ "status": "unavailable", "state": state.name() }),
    }
}

/// A response with `status`, `content_type` and `body`.
fn text(status: StatusCode, content_type: &str, body: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    if let Ok(value) = content_type.parse() {
        response
            .headers_mut()
            .insert(hyper::header::CONTENT_TYPE, value);
    }
    response
}
