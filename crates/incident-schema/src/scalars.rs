//! The schema's custom scalars, mapped to Rust types.

use crate::schema;

/// `DateTimeScalar`: a UTC instant. Reads any RFC 3339 text (`+00:00` or `Z`, up to nanoseconds);
/// writes RFC 3339 with `Z`.
pub type Timestamp = chrono::DateTime<chrono::Utc>;

/// `JSONObject`: a JSON object. The API uses it for string-to-string maps (labels, annotations).
pub type JsonObject = serde_json::Map<String, serde_json::Value>;

cynic::impl_scalar!(uuid::Uuid, schema::UUID);
cynic::impl_scalar!(chrono::DateTime<chrono::Utc>, schema::DateTimeScalar);
cynic::impl_scalar!(serde_json::Map<String, serde_json::Value>, schema::JSONObject);

#[cfg(test)]
mod tests {
    use super::*;

    fn check(wire: &str, expected_rfc3339: &str) {
        let parsed: Timestamp = serde_json::from_value(serde_json::json!(wire)).unwrap();
        assert_eq!(
            parsed.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
            expected_rfc3339
        );
    }

    #[test]
    fn timestamps_read_every_form_the_server_writes() {
        check(
            "2026-11-26T19:22:14.791139941+00:00",
            "2026-11-26T19:22:14.791139941Z",
        );
        check("2026-11-26T19:22:14Z", "2026-11-26T19:22:14Z");
        check("2026-11-26T19:22:14.5Z", "2026-11-26T19:22:14.500Z");
        check("2026-11-26T21:22:14+02:00", "2026-11-26T19:22:14Z");
    }

    #[test]
    fn timestamps_write_rfc3339() {
        let parsed: Timestamp =
            serde_json::from_value(serde_json::json!("2026-11-26T19:22:14.791139941+00:00"))
                .unwrap();
        assert_eq!(
            serde_json::to_value(parsed).unwrap(),
            serde_json::json!("2026-11-26T19:22:14.791139941Z")
        );
    }

    #[test]
    fn malformed_timestamps_are_errors() {
        assert!(serde_json::from_value::<Timestamp>(serde_json::json!("yesterday")).is_err());
    }

    #[test]
    fn json_objects_are_maps() {
        let labels: JsonObject = serde_json::from_str(r#"{"env":"prod","team":"sre"}"#).unwrap();
        assert_eq!(labels["env"], "prod");
        assert!(serde_json::from_str::<JsonObject>("[1]").is_err());
    }
}
