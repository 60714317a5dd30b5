//! `POST /v1/alerts`, shaped exactly like the real server's REST endpoint: snake_case body,
//! PascalCase enum strings, `X-Execution-Id` and `X-Parent-Span-Id` headers required.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

use crate::data::validate_alert;
use crate::model::{AckStatus, IncidentType, Label, NewAlert, Severity};
use crate::shared::Shared;

/// The JSON error body every REST failure uses.
pub(crate) fn error(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    let body =
        json!({ "error": { "code": code, "message": message.into(), "status": status.as_u16() } });
    (status, Json(body)).into_response()
}

#[derive(Deserialize)]
struct AlertBody {
    external_id: Option<String>,
    source: String,
    title: String,
    #[serde(default)]
    description: String,
    severity: Severity,
    alert_type: RestAlertType,
    #[serde(default)]
    labels: std::collections::BTreeMap<String, String>,
    #[serde(default)]
    affected_services: Vec<String>,
    runbook_url: Option<String>,
}

/// Alert types as REST writes them (PascalCase), unlike GraphQL.
#[derive(Deserialize)]
enum RestAlertType {
    Infrastructure,
    Application,
    Security,
    Data,
    Performance,
    Availability,
    Compliance,
    Unknown,
}

impl From<RestAlertType> for IncidentType {
    fn from(value: RestAlertType) -> Self {
        match value {
            RestAlertType::Infrastructure => IncidentType::Infrastructure,
            RestAlertType::Application => IncidentType::Application,
            RestAlertType::Security => IncidentType::Security,
            RestAlertType::Data => IncidentType::Data,
            RestAlertType::Performance => IncidentType::Performance,
            RestAlertType::Availability => IncidentType::Availability,
            RestAlertType::Compliance => IncidentType::Compliance,
            RestAlertType::Unknown => IncidentType::Unknown,
        }
    }
}

/// Handles `POST /v1/alerts`.
pub(crate) async fn submit_alert(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    // Kept for tests of clients that send headers of their own or propagate trace context.
    shared.activity.http_request(&headers);
    let header_uuid = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| Uuid::parse_str(v).ok())
    };
    let (Some(execution_id), Some(parent_span_id)) = (
        header_uuid("x-execution-id"),
        header_uuid("x-parent-span-id"),
    ) else {
        return error(
            StatusCode::BAD_REQUEST,
            "EXECUTION_VIOLATION",
            "X-Execution-Id and X-Parent-Span-Id headers with UUID values are required",
        );
    };
    let body: AlertBody = match serde_json::from_slice(&body) {
        Ok(body) => body,
        Err(e) => {
            return error(
                StatusCode::BAD_REQUEST,
                "VALIDATION_ERROR",
                format!("invalid alert: {e}"),
            );
        }
    };
    if let Err(message) = validate_alert(&body.source, &body.title) {
        return error(StatusCode::BAD_REQUEST, "VALIDATION_ERROR", message);
    }
    let labels = body
        .labels
        .into_iter()
        .map(|(key, value)| Label { key, value })
        .collect();
    let ack = shared.store.submit_alert(NewAlert {
        external_id: body.external_id,
        source: body.source,
        title: body.title,
        description: body.description,
        severity: body.severity,
        alert_type: body.alert_type.into(),
        labels,
        affected_services: body.affected_services,
        runbook_url: body.runbook_url,
        annotations: Vec::new(),
    });
    let status = match ack.status {
        AckStatus::Accepted => "Accepted",
        AckStatus::Duplicate => "Duplicate",
        AckStatus::RateLimited => "RateLimited",
        AckStatus::Rejected => "Rejected",
    };
    Json(json!({
        "alert_id": ack.alert_id,
        "incident_id": ack.incident_id,
        "status": status,
        "message": ack.message,
        "execution": { "execution_id": execution_id, "parent_span_id": parent_span_id },
    }))
    .into_response()
}
