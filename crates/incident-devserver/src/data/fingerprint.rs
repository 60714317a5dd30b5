//! What makes two alerts the same, as a string that is stable across Rust releases and machines:
//! it is saved in the state file and served as `Incident.fingerprint`.
//!
//! The fingerprint is the SHA-256 of the alert's source, type and title, each written as its length
//! (8 bytes, big-endian) followed by its UTF-8 bytes, so no two different triples share an input;
//! lower-case hex, 64 characters. The type is written by its schema name (`APPLICATION`), not by
//! its position in the enum. Older versions wrote 16 hex characters of Rust's `DefaultHasher`;
//! such fingerprints in a state file still load, and simply never match a new alert.

use sha2::{Digest, Sha256};

use crate::model::{IncidentType, NewAlert};

/// The alert's fingerprint: 64 lower-case hex characters.
pub(super) fn fingerprint(alert: &NewAlert) -> String {
    of_fields(&alert.source, alert.alert_type, &alert.title)
}

fn of_fields(source: &str, alert_type: IncidentType, title: &str) -> String {
    let mut hasher = Sha256::new();
    let kind = type_name(alert_type);
    for field in [source, kind.as_str(), title] {
        hasher.update((field.len() as u64).to_be_bytes());
        hasher.update(field.as_bytes());
    }
    hasher
        .finalize()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// The type's name in the schema, as GraphQL writes it: the model's own serde name.
fn type_name(alert_type: IncidentType) -> String {
    serde_json::to_value(alert_type)
        .ok()
        .and_then(|name| name.as_str().map(str::to_owned))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(source: &str, alert_type: IncidentType, title: &str, expected: &str) {
        assert_eq!(of_fields(source, alert_type, title), expected);
    }

    /// Pinned values: a change here breaks deduplication against every saved state file.
    #[test]
    fn fingerprints_are_pinned() {
        check(
            "prometheus",
            IncidentType::Application,
            "High error rate on checkout-api",
            "c7776c56ae94503582e26756523477ab1302a17e394ce523c394fad085804223",
        );
        check(
            "a",
            IncidentType::Infrastructure,
            "bc",
            "246e90131e5eee8c254593447aac3239a7d6b62453aab6ca4c56069ede60fc80",
        );
        check(
            "ab",
            IncidentType::Infrastructure,
            "c",
            "ad6be534f46e9eaca5ad99c909dfaadaefac1ae3057f7fa655a9f63d92581991",
        );
    }

    #[test]
    fn type_names_are_the_schema_names() {
        for alert_type in [
            IncidentType::Infrastructure,
            IncidentType::Application,
            IncidentType::Security,
            IncidentType::Data,
            IncidentType::Performance,
            IncidentType::Availability,
            IncidentType::Compliance,
            IncidentType::Unknown,
        ] {
            assert_eq!(
                serde_json::to_value(alert_type).unwrap(),
                type_name(alert_type)
            );
        }
    }
}
