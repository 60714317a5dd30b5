//! graphql-transport-ws messages, as the client sends and reads them.

use std::ops::Range;

use serde::Deserialize;
use serde_json::json;
use serde_json::value::RawValue;
use tokio_tungstenite::tungstenite::Utf8Bytes;

use crate::error::GraphQlError;

/// The subprotocol this client speaks.
pub(crate) const SUBPROTOCOL: &str = "graphql-transport-ws";

/// A message from the server.
#[derive(Debug)]
pub(crate) enum ServerMessage {
    ConnectionAck,
    /// The payload stays raw text, so it is parsed once, straight into the subscriber's type,
    /// by the subscriber's task.
    Next {
        id: String,
        payload: RawPayload,
    },
    Error {
        id: String,
        payload: Vec<GraphQlError>,
    },
    Complete {
        id: String,
    },
    Ping,
    Pong(PongPayload),
}

/// What a `pong` carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PongPayload {
    /// No payload: a server that does not echo ping payloads.
    Bare,
    /// The echoed payload of the client's ping number `n`.
    Ping(u64),
    /// Something else: not an answer to the client's pings.
    Other,
}

/// The envelope every message shares. serde's internally tagged enums cannot hold a `RawValue`,
/// so messages are read as this envelope first and then by `type`.
#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(rename = "type", borrow)]
    kind: std::borrow::Cow<'a, str>,
    #[serde(default)]
    id: Option<String>,
    #[serde(default, borrow)]
    payload: Option<&'a RawValue>,
}

/// A `next` payload (`{"data": .., "errors": ..}`) as raw JSON text: a slice of the frame it came
/// in, which is shared, not copied.
#[derive(Clone)]
pub(crate) struct RawPayload {
    frame: Utf8Bytes,
    range: Range<usize>,
    /// The range runs to the frame's end unchecked (see [`crate::envelope`]).
    tentative: bool,
}

impl RawPayload {
    /// The payload's JSON text (for a tentative range, possibly with a member that followed it).
    pub(crate) fn as_str(&self) -> &str {
        &self.frame[self.range.clone()]
    }

    /// Decodes the payload with `decode`. If that fails on a tentative range, the frame is parsed
    /// in full for the exact range and decoded again; the first error stands if that fails too.
    pub(crate) fn decode<T, E>(&self, decode: impl Fn(&str) -> Result<T, E>) -> Result<T, E> {
        match decode(self.as_str()) {
            Err(error) if self.tentative => match exact_payload(&self.frame) {
                Some(range) => decode(&self.frame[range]).map_err(|_| error),
                None => Err(error),
            },
            decoded => decoded,
        }
    }
}

/// The payload's range in `frame` by the full parser.
fn exact_payload(frame: &str) -> Option<Range<usize>> {
    let envelope: Envelope<'_> = serde_json::from_str(frame).ok()?;
    Some(range_in(frame, envelope.payload?.get()))
}

/// Where `raw`, a slice borrowed from `text`, sits in it.
fn range_in(text: &str, raw: &str) -> Range<usize> {
    let start = raw.as_ptr() as usize - text.as_ptr() as usize;
    start..start + raw.len()
}

impl From<String> for RawPayload {
    fn from(text: String) -> Self {
        let range = 0..text.len();
        Self {
            frame: text.into(),
            range,
            tentative: false,
        }
    }
}

impl std::fmt::Debug for RawPayload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("RawPayload").field(&self.as_str()).finish()
    }
}

impl ServerMessage {
    /// Reads one message; anything that is not a well-formed protocol message is an error.
    pub(crate) fn parse(frame: Utf8Bytes) -> Result<ServerMessage, serde_json::Error> {
        use serde::de::Error as _;
        let text: &str = &frame;
        // Events take the fast path: the payload is not parsed here, only delimited.
        if let Some(crate::envelope::Scanned {
            kind: "next",
            id: Some(id),
            payload: Some(range),
            tentative,
        }) = crate::envelope::scan(text)
        {
            // The frame is copied rather than shared: a frame shares tungstenite's read buffer,
            // and while queued frames hold it the buffer cannot be reused, so its reads shrink to
            // a few hundred bytes (measured: 100,000 `recvfrom` calls for 200,000 events instead
            // of about 15,000). One 1 KB copy costs far less.
            return Ok(ServerMessage::Next {
                id: id.to_owned(),
                payload: RawPayload {
                    frame: text.to_owned().into(),
                    range,
                    tentative,
                },
            });
        }
        let envelope: Envelope<'_> = serde_json::from_str(text)?;
        let id = || {
            envelope
                .id
                .clone()
                .ok_or_else(|| serde_json::Error::custom("the message has no id"))
        };
        let payload = || {
            envelope
                .payload
                .ok_or_else(|| serde_json::Error::custom("the message has no payload"))
        };
        Ok(match envelope.kind.as_ref() {
            "connection_ack" => ServerMessage::ConnectionAck,
            "next" => {
                // The raw value borrows from `text`, so its offset there is its place in the frame.
                let range = range_in(text, payload()?.get());
                ServerMessage::Next {
                    id: id()?,
                    payload: RawPayload {
                        frame: text.to_owned().into(),
                        range,
                        tentative: false,
                    },
                }
            }
            "error" => ServerMessage::Error {
                id: id()?,
                payload: serde_json::from_str(payload()?.get())?,
            },
            "complete" => ServerMessage::Complete { id: id()? },
            "ping" => ServerMessage::Ping,
            "pong" => ServerMessage::Pong(match envelope.payload {
                None => PongPayload::Bare,
                Some(payload) if payload.get() == "null" => PongPayload::Bare,
                Some(payload) => serde_json::from_str::<PingTag>(payload.get())
                    .map_or(PongPayload::Other, |tag| PongPayload::Ping(tag.sdk)),
            }),
            other => {
                return Err(serde_json::Error::custom(format!(
                    "unknown message type {other:?}"
                )));
            }
        })
    }
}

/// `connection_init` with `payload`.
pub(crate) fn connection_init(payload: serde_json::Value) -> String {
    json!({ "type": "connection_init", "payload": payload }).to_string()
}

/// `payload` is the operation already serialized as JSON.
pub(crate) fn subscribe(id: &str, payload: &str) -> String {
    let id = serde_json::to_string(id).expect("strings serialize");
    format!(r#"{{"type":"subscribe","id":{id},"payload":{payload}}}"#)
}

pub(crate) fn complete(id: &str) -> String {
    json!({ "type": "complete", "id": id }).to_string()
}

/// Ping number `n`: its payload names it, so the pong that echoes it answers this ping only.
pub(crate) fn ping(n: u64) -> String {
    json!({ "type": "ping", "payload": { "sdk": n } }).to_string()
}

/// The payload of the client's pings.
#[derive(Deserialize)]
struct PingTag {
    sdk: u64,
}

pub(crate) fn pong() -> String {
    json!({ "type": "pong" }).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subscribe_embeds_the_serialized_operation() {
        let message: serde_json::Value =
            serde_json::from_str(&subscribe("7", r#"{"query":"{ a }"}"#)).unwrap();
        assert_eq!(
            message,
            json!({ "type": "subscribe", "id": "7", "payload": { "query": "{ a }" } })
        );
    }

    #[test]
    fn server_messages_decode() {
        let check =
            |text: &'static str| ServerMessage::parse(text.into()).map(|m| format!("{m:?}"));
        assert_eq!(
            check(r#"{"type":"connection_ack"}"#).unwrap(),
            "ConnectionAck"
        );
        assert_eq!(check(r#"{"type":"ping","payload":{}}"#).unwrap(), "Ping");
        assert_eq!(check(r#"{"type":"pong"}"#).unwrap(), "Pong(Bare)");
        assert_eq!(
            check(r#"{"type":"pong","payload":{"sdk":3}}"#).unwrap(),
            "Pong(Ping(3))"
        );
        assert_eq!(
            check(r#"{"type":"pong","payload":{"x":1}}"#).unwrap(),
            "Pong(Other)"
        );
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&ping(4)).unwrap(),
            json!({ "type": "ping", "payload": { "sdk": 4 } })
        );
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
        let Ok(ServerMessage::Next { payload, .. }) = ServerMessage::parse(
            r#"{"id":"1", "payload" : {"data":{"a":[1]}} ,"type":"next"}"#.into(),
        ) else {
            panic!("a next message");
        };
        assert_eq!(payload.as_str(), r#"{"data":{"a":[1]}}"#);
        assert!(check(r#"{"type":"mystery"}"#).is_err());
        // A member after the payload: the unscanned guess fails to decode, the exact range works.
        let Ok(ServerMessage::Next { payload, .. }) = ServerMessage::parse(
            r#"{"type":"next","id":"1","payload":{"data":{"a":2}},"extensions":{"x":1}}"#.into(),
        ) else {
            panic!("a next message");
        };
        let decoded: serde_json::Value = payload.decode(|text| serde_json::from_str(text)).unwrap();
        assert_eq!(decoded, json!({ "data": { "a": 2 } }));
        let Ok(ServerMessage::Next { payload, .. }) = ServerMessage::parse(
            r#"{"type":"next","id":"1","payload":{"data":{"a":"broken"}"#.into(),
        ) else {
            panic!("an unscanned payload is only checked when decoded");
        };
        assert!(
            payload
                .decode(|text| serde_json::from_str::<serde_json::Value>(text))
                .is_err()
        );
        assert!(check("not json").is_err());
    }
}
