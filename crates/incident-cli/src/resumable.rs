//! The streams that resume from a checkpoint, `new` and `critical`: which subscription to open
//! for a kind, from a checkpoint or from now. `incident watch` and `incident relay` both open
//! them here, so they cannot drift apart.

use incident_client::operations::IncidentFields;
use incident_client::{Checkpoint, IncidentClient, Severity, Subscription};

use crate::cli::StreamKind;

/// A stream of incidents as they open that can be caught up and resumed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resumable {
    /// `newIncidents`, optionally only some severities.
    New,
    /// `criticalIncidents`: P0 and P1.
    Critical,
}

impl Resumable {
    /// The watch kind's resumable stream; `None` for the streams that cannot be resumed
    /// (`updates`, `state-changes`, `alerts`).
    pub fn of(kind: StreamKind) -> Option<Resumable> {
        match kind {
            StreamKind::New => Some(Resumable::New),
            StreamKind::Critical => Some(Resumable::Critical),
            StreamKind::Updates | StreamKind::StateChanges | StreamKind::Alerts => None,
        }
    }

    /// The stream's name in output (`"stream"` in JSON lines, log messages).
    pub fn name(self) -> &'static str {
        match self {
            Resumable::New => "new",
            Resumable::Critical => "critical",
        }
    }

    /// Subscribes: from `from` when given (everything created since, oldest first, then live),
    /// else from now. `severities` filters `new` (`None`: all); `critical` has its own filter.
    pub fn open(
        self,
        client: &IncidentClient,
        severities: Option<Vec<Severity>>,
        from: Option<Checkpoint>,
    ) -> incident_client::Result<Subscription<IncidentFields>> {
        match (self, from) {
            (Resumable::Critical, None) => client.critical_incidents(),
            (Resumable::Critical, Some(from)) => client.critical_incidents_from(from),
            (Resumable::New, None) => client.new_incidents(severities),
            (Resumable::New, Some(from)) => client.new_incidents_from(severities, from),
        }
    }
}

#[cfg(feature = "relay")]
impl From<crate::cli::RelayKind> for Resumable {
    fn from(kind: crate::cli::RelayKind) -> Resumable {
        match kind {
            crate::cli::RelayKind::New => Resumable::New,
            crate::cli::RelayKind::Critical => Resumable::Critical,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_new_and_critical_resume() {
        for (kind, expected) in [
            (StreamKind::New, Some(Resumable::New)),
            (StreamKind::Critical, Some(Resumable::Critical)),
            (StreamKind::Updates, None),
            (StreamKind::StateChanges, None),
            (StreamKind::Alerts, None),
        ] {
            assert_eq!(Resumable::of(kind), expected, "{kind:?}");
        }
        assert_eq!(Resumable::New.name(), "new");
        assert_eq!(Resumable::Critical.name(), "critical");
    }
}
