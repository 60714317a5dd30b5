//! Demo traffic: realistic alerts at a chosen rate, and incidents moving through their lives. The
//! randomness here only picks what happens next; nothing secret comes from it.

use std::sync::Arc;
use std::time::Duration;

use crate::data::{IncidentChanges, IncidentFilter, Store};
use crate::model::{IncidentState, IncidentType, Label, NewAlert, ResolutionMethod, Severity};

const TEMPLATES: &[(&str, &str, IncidentType, &str)] = &[
    (
        "prometheus",
        "High error rate on checkout-api",
        IncidentType::Application,
        "checkout-api",
    ),
    (
        "prometheus",
        "p99 latency above 2s on search",
        IncidentType::Performance,
        "search",
    ),
    (
        "datadog",
        "Disk 95% full on db-primary",
        IncidentType::Infrastructure,
        "db-primary",
    ),
    (
        "datadog",
        "Pod crash loop in payments",
        IncidentType::Availability,
        "payments",
    ),
    (
        "guardduty",
        "Unusual login pattern for service account",
        IncidentType::Security,
        "iam",
    ),
    (
        "airflow",
        "Nightly ETL missed its deadline",
        IncidentType::Data,
        "etl",
    ),
    (
        "llm-gateway",
        "Model provider returning 429s",
        IncidentType::Availability,
        "llm-gateway",
    ),
    (
        "llm-gateway",
        "Token spend above budget",
        IncidentType::Compliance,
        "llm-gateway",
    ),
];

/// Submits about `rate` alerts a second until the task is aborted; about one step in three also
/// moves an open incident along (triage, investigate, comment or resolve).
pub(crate) async fn run(store: Arc<Store>, rate: f64) {
    let period = Duration::from_secs_f64(1.0 / rate.max(0.01));
    let mut interval = tokio::time::interval(period);
    let mut serial: u64 = 0;
    loop {
        interval.tick().await;
        serial += 1;
        let (source, title, alert_type, service) = TEMPLATES[fastrand::usize(..TEMPLATES.len())];
        let severity = [
            Severity::P0,
            Severity::P1,
            Severity::P2,
            Severity::P2,
            Severity::P3,
            Severity::P4,
        ][fastrand::usize(..6)];
        store.submit_alert(NewAlert {
            external_id: Some(format!("demo-{serial}")),
            source: source.to_owned(),
            // A serial keeps most alerts distinct, so they open incidents rather than deduplicate.
            title: format!("{title} (#{serial})"),
            description: format!("Demo alert {serial} from {source}"),
            severity,
            alert_type,
            labels: vec![Label {
                key: "service".into(),
                value: service.into(),
            }],
            affected_services: vec![service.to_owned()],
            runbook_url: Some(format!("https://runbooks.example/{service}")),
            annotations: Vec::new(),
        });
        if fastrand::u8(..3) == 0 {
            progress_one(&store);
        }
    }
}

fn progress_one(store: &Store) {
    let filter = IncidentFilter {
        active_only: Some(true),
        ..Default::default()
    };
    let (open, _) = store.list(&filter, None, None, 0, 20);
    let Some(incident) = open.get(fastrand::usize(..open.len().max(1))) else {
        return;
    };
    let actor = "demo-bot";
    let next = match incident.state {
        IncidentState::Detected => Some(IncidentState::Triaged),
        IncidentState::Triaged => Some(IncidentState::Investigating),
        IncidentState::Investigating => Some(IncidentState::Remediating),
        _ => None,
    };
    let _ = match next {
        Some(state) if fastrand::bool() => store.update_incident(
            incident.id,
            IncidentChanges {
                state: Some(state),
                ..Default::default()
            },
            actor,
        ),
        Some(_) => store.add_comment(incident.id, "Looking into it".into(), actor),
        None => store.resolve_incident(
            incident.id,
            ResolutionMethod::AutoAssistedManual,
            "Mitigated".into(),
            None,
            actor,
        ),
    };
}
