//! graphql-transport-ws messages, as the client sends and reads them.

use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::GraphQlError;

/// The subprotocol this client speaks.
pub(crate) const SUBPROTOCOL: &str = "graphql-transport-ws";

/// A message from the server.
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(crate) enum ServerMessage {
    ConnectionAck,
    Next {
        id: String,
        payload: Value,
    },
    Error {
        id: String,
        payload: Vec<GraphQlError>,
    },
    Complete {
        id: String,
    },
    Ping,
    Pong,
}

pub(crate) fn connection_init(token: Option<&str>) -> String {
    match token {
        Some(token) => json!({ "type": "connection_init", "payload": { "Authorization": format!("Bearer {token}") } }),
        None => json!({ "type": "connection_init", "payload": {} }),
    }
    .to_string()
}

pub(crate) fn subscribe(id: &str, payload: &Value) -> String {
    json!({ "type": "subscribe", "id": id, "payload": payload }).to_string()
}

pub(crate) fn complete(id: &str) -> String {
    json!({ "type": "complete", "id": id }).to_string()
}

pub(crate) fn ping() -> String {
    json!({ "type": "ping" }).to_string()
}

pub(crate) fn pong() -> String {
    json!({ "type": "pong" }).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_messages_decode() {
        let check =
            |text: &str| serde_json::from_str::<ServerMessage>(text).map(|m| format!("{m:?}"));
        assert_eq!(
            check(r#"{"type":"connection_ack"}"#).unwrap(),
            "ConnectionAck"
        );
        assert_eq!(check(r#"{"type":"ping","payload":{}}"#).unwrap(), "Ping");
        assert!(
            check(r#"{"type":"next","id":"1","payload":{"data":null}}"#)
                .unwrap()
                .starts_with("Next")
        );
        assert!(
            check(r#"{"type":"error","id":"1","payload":[{"message":"bad"}]}"#)
                .unwrap()
                .contains("bad")
        );
        assert!(check(r#"{"type":"next"}"#).is_err());
        assert!(check(r#"{"type":"mystery"}"#).is_err());
        assert!(check("not json").is_err());
    }
}
