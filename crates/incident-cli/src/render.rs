//! How events look: one human line (coloured on a terminal) or one JSON object per line.

use std::io::IsTerminal;

use incident_client::Severity;
use incident_client::operations::{
    AlertFields, IncidentFields, IncidentStateChange, IncidentUpdate,
};
use serde::Serialize;
use serde_json::{Value, json};

/// An event ready to print.
#[derive(Debug)]
pub struct Rendered {
    /// The `--json` line: `{"kind": "event", "stream": ..., "event": ...}`.
    pub json: Value,
    /// The human-readable line.
    pub line: String,
}

/// Whether to colour output: stdout is a terminal and `NO_COLOR` is unset.
pub fn use_colour() -> bool {
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()
}

/// An event's `--json` line.
fn envelope(stream: &str, event: &impl Serialize) -> Value {
    json!({ "kind": "event", "stream": stream, "event": event })
}

/// A line that is not an event (gap, lag, reconnect, end), for `--json` output: `kind` says
/// which, so a log shipper can tell them from events.
pub fn notice(kind: &str, stream: Option<&str>, detail: Value) -> Value {
    let mut line = json!({ "kind": kind });
    if let Some(stream) = stream {
        line["stream"] = json!(stream);
    }
    if let (Value::Object(line), Value::Object(detail)) = (&mut line, detail) {
        line.extend(detail);
    }
    line
}

/// A severity, coloured by urgency when `colour`.
fn severity(severity: &Severity, colour: bool) -> String {
    let code = match severity {
        Severity::P0 => "1;31",
        Severity::P1 => "31",
        Severity::P2 => "33",
        Severity::P3 => "36",
        _ => "2",
    };
    if colour {
        format!("\x1b[{code}m{severity}\x1b[0m")
    } else {
        severity.to_string()
    }
}

/// A timestamp as the local time of day.
fn time(timestamp: &incident_client::Timestamp) -> String {
    timestamp
        .with_timezone(&chrono::Local)
        .format("%H:%M:%S")
        .to_string()
}

/// An incident of the `new` or `critical` stream.
pub fn incident(stream: &'static str, incident: &IncidentFields, colour: bool) -> Rendered {
    let line = format!(
        "{} {:<8} {} {:<13} {}  [{}]",
        time(&incident.created_at),
        stream,
        severity(&incident.severity, colour),
        incident.state,
        incident.title,
        incident.id
    );
    Rendered {
        json: envelope(stream, incident),
        line,
    }
}

/// An incident update of the `updates` stream.
pub fn update(update: &IncidentUpdate, _colour: bool) -> Rendered {
    let subject = update
        .incident_id
        .map(|id| id.to_string())
        .unwrap_or_else(|| "-".into());
    let line = format!(
        "{} {:<8} {:<13} {}",
        time(&update.timestamp),
        "update",
        update.update_type,
        subject
    );
    Rendered {
        json: envelope("updates", update),
        line,
    }
}

/// A state change of the `state-changes` stream.
pub fn state_change(change: &IncidentStateChange, _colour: bool) -> Rendered {
    let line = format!(
        "{} {:<8} {} -> {} by {}  [{}]",
        time(&change.timestamp),
        "state",
        change.old_state,
        change.new_state,
        change.changed_by,
        change.incident_id
    );
    Rendered {
        json: envelope("state-changes", change),
        line,
    }
}

/// An alert of the `alerts` stream.
pub fn alert(alert: &AlertFields, colour: bool) -> Rendered {
    let dedup = if alert.deduplicated {
        " (duplicate)"
    } else {
        ""
    };
    let line = format!(
        "{} {:<8} {} {} from {}{}",
        time(&alert.received_at),
        "alert",
        severity(&alert.severity, colour),
        alert.title,
        alert.source,
        dedup
    );
    Rendered {
        json: envelope("alerts", alert),
        line,
    }
}
