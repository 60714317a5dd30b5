//! The `graphql-transport-ws` protocol, server side.
//!
//! async-graphql ships an implementation, but it closes with 1002 where the protocol asks for
//! 4400 (malformed message) and 4403 (rejected `connection_init`), silently replaces a subscription
//! whose id is reused instead of closing with 4409, and gives no way to close a connection when
//! its token expires or to inject the faults the SDK's tests need. So this module speaks the
//! protocol itself and uses async-graphql only to execute operations. The legacy `graphql-ws`
//! subprotocol (subscriptions-transport-ws) is still served by async-graphql's implementation.

use std::collections::HashMap;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use async_graphql::dynamic::Schema;
use axum::extract::ws::{CloseFrame, Message, WebSocket};
use futures::{SinkExt, StreamExt};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::{broadcast, mpsc, oneshot};
use tokio::task::AbortHandle;

use crate::auth::{Caller, now_secs};
use crate::shared::Shared;

/// A command to every open WebSocket connection, for fault injection.
#[derive(Debug, Clone)]
pub(crate) enum Control {
    /// Close with this code and reason.
    Close(u16, String),
    /// Drop the TCP connection without a close frame.
    Drop,
    /// Stop reading and writing but keep the socket open (a half-open connection).
    Freeze,
}

/// Per-connection settings.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    /// How long a client may take to send `connection_init` (then 4408).
    pub(crate) init_timeout: Duration,
    /// Never answer `connection_init` (to test clients' ack timeouts).
    pub(crate) withhold_ack: bool,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum ClientMessage {
    ConnectionInit {
        #[serde(default)]
        payload: Option<Value>,
    },
    Ping {
        #[serde(default)]
        payload: Option<Value>,
    },
    Pong {
        #[serde(default)]
        #[allow(dead_code)]
        payload: Option<Value>,
    },
    Subscribe {
        id: String,
        payload: SubscribePayload,
    },
    Complete {
        id: String,
    },
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct SubscribePayload {
    query: String,
    #[serde(default)]
    operation_name: Option<String>,
    #[serde(default)]
    variables: Option<Value>,
}

enum Outgoing {
    Frame(String),
    Finished(String),
}

/// Serves one upgraded connection until it closes.
pub(crate) async fn serve(
    socket: WebSocket,
    shared: Arc<Shared>,
    schema: Schema,
    mut controls: broadcast::Receiver<Control>,
    settings: Settings,
) {
    let (mut sink, mut stream) = socket.split();
    let (out_tx, mut out_rx) = mpsc::channel::<Outgoing>(64);
    let mut operations: HashMap<String, AbortHandle> = HashMap::new();
    let mut caller: Option<Caller> = None;
    let mut init_seen = false;
    let init_deadline = tokio::time::sleep(settings.init_timeout);
    tokio::pin!(init_deadline);
    let expiry = tokio::time::sleep(Duration::MAX / 4);
    tokio::pin!(expiry);

    let close = loop {
        tokio::select! {
            incoming = stream.next() => {
                let text = match incoming {
                    Some(Ok(Message::Text(text))) => text,
                    Some(Ok(Message::Binary(_))) => break Some((4400, "Binary messages are not part of the protocol".to_owned())),
                    Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                    Some(Ok(Message::Close(frame))) => {
                        if let Some(frame) = frame {
                            shared.activity.client_closed(frame.code, &frame.reason);
                        }
                        break None;
                    }
                    None | Some(Err(_)) => break None,
                };
                let message: ClientMessage = match serde_json::from_str(&text) {
                    Ok(message) => message,
                    Err(error) => break Some((4400, format!("Invalid message: {error}"))),
                };
                match message {
                    ClientMessage::ConnectionInit { payload } => {
                        if init_seen {
                            break Some((4429, "Too many initialisation requests".to_owned()));
                        }
                        init_seen = true;
                        shared.activity.init_payload(payload.clone().unwrap_or(Value::Null));
                        if settings.withhold_ack {
                            continue;
                        }
                        let authorization = payload.as_ref().and_then(authorization_of);
                        match shared.auth.check(authorization.as_deref()) {
                            Ok(claims) => {
                                let remaining = claims.exp.saturating_sub(now_secs());
                                if remaining < u64::MAX / 4 {
                                    expiry.as_mut().reset(tokio::time::Instant::now() + Duration::from_secs(remaining));
                                }
                                tracing::debug!(sub = %claims.sub, "connection acknowledged");
                                caller = Some(Caller(claims.sub));
                                if sink.send(text_message(json!({ "type": "connection_ack" }))).await.is_err() {
                                    break None;
                                }
                            }
                            Err(error) => {
                                tracing::info!(%error, "connection_init refused");
                                break Some((4403, "Forbidden".to_owned()));
                            }
                        }
                    }
                    ClientMessage::Ping { payload } => {
                        let mut pong = json!({ "type": "pong" });
                        if let Some(payload) = payload {
                            pong["payload"] = payload;
                        }
                        if sink.send(text_message(pong)).await.is_err() {
                            break None;
                        }
                    }
                    ClientMessage::Pong { .. } => {}
                    ClientMessage::Subscribe { id, payload } => {
                        let Some(caller) = caller.clone() else {
                            break Some((4401, "Unauthorized".to_owned()));
                        };
                        if operations.get(&id).is_some_and(|task| !task.is_finished()) {
                            break Some((4409, format!("Subscriber for {id} already exists")));
                        }
                        shared.activity.subscribe_received();
                        let (started_tx, started) = oneshot::channel();
                        let task = tokio::spawn(run_operation(schema.clone(), id.clone(), payload, caller, out_tx.clone(), started_tx));
                        operations.insert(id, task.abort_handle());
                        // Messages are handled in order: a `ping` after this `subscribe` is
                        // answered only once the operation receives events.
                        let _ = started.await;
                    }
                    ClientMessage::Complete { id } => {
                        if let Some(task) = operations.remove(&id) {
                            task.abort();
                        }
                    }
                }
            }
            Some(outgoing) = out_rx.recv() => match outgoing {
                Outgoing::Frame(text) => {
                    if sink.send(Message::Text(text.into())).await.is_err() {
                        break None;
                    }
                }
                Outgoing::Finished(id) => {
                    if operations.get(&id).is_some_and(|task| task.is_finished()) {
                        operations.remove(&id);
                    }
                }
            },
            control = controls.recv() => match control {
                Ok(Control::Close(code, reason)) => break Some((code, reason)),
                Ok(Control::Drop) | Err(broadcast::error::RecvError::Closed) => {
                    abort_all(&mut operations);
                    return;
                }
                Ok(Control::Freeze) => {
                    abort_all(&mut operations);
                    shared.activity.froze();
                    // Hold the socket open, reading and writing nothing, until the server goes away.
                    loop {
                        if let Ok(Control::Drop) | Err(broadcast::error::RecvError::Closed) = controls.recv().await {
                            return;
                        }
                    }
                }
                Err(broadcast::error::RecvError::Lagged(_)) => {}
            },
            () = &mut init_deadline, if !init_seen => {
                break Some((4408, "Connection initialisation timeout".to_owned()));
            }
            () = &mut expiry, if caller.is_some() => {
                tracing::info!("token expired; closing the connection");
                break Some((4403, "Forbidden: token expired".to_owned()));
            }
        }
    };
    abort_all(&mut operations);
    if let Some((code, reason)) = close {
        let frame = CloseFrame {
            code,
            reason: reason.into(),
        };
        let _ = sink.send(Message::Close(Some(frame))).await;
        let _ = sink.close().await;
    }
}

fn abort_all(operations: &mut HashMap<String, AbortHandle>) {
    for (_, task) in operations.drain() {
        task.abort();
    }
}

/// `Authorization` from a `connection_init` payload, whatever the key's case.
fn authorization_of(payload: &Value) -> Option<String> {
    payload
        .as_object()?
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("authorization"))
        .and_then(|(_, v)| v.as_str().map(str::to_owned))
}

fn text_message(value: Value) -> Message {
    Message::Text(value.to_string().into())
}

/// Executes one operation, sending `next` for each result and `complete` at the end; an operation
/// that fails before producing data (a validation error, say) gets one `error` message instead.
async fn run_operation(
    schema: Schema,
    id: String,
    payload: SubscribePayload,
    caller: Caller,
    out: mpsc::Sender<Outgoing>,
    started: oneshot::Sender<()>,
) {
    let mut request = async_graphql::Request::new(payload.query).data(caller);
    if let Some(name) = payload.operation_name {
        request = request.operation_name(name);
    }
    if let Some(variables) = payload.variables {
        request = request.variables(async_graphql::Variables::from_json(variables));
    }
    let mut responses = schema.execute_stream(request);
    // The first poll parses, validates and resolves the root field, which registers the
    // subscription with the event feed; then the connection may read its next message.
    let first_response = futures::future::poll_fn(|cx| {
        let polled = responses.poll_next_unpin(cx);
        Poll::Ready(polled)
    })
    .await;
    let _ = started.send(());
    let first_response = match first_response {
        Poll::Ready(response) => response,
        Poll::Pending => responses.next().await,
    };
    let mut next = first_response;
    let mut first = true;
    while let Some(response) = next {
        let frame = if first && response.is_err() && response.data == async_graphql::Value::Null {
            let errors = serde_json::to_value(&response.errors).unwrap_or(Value::Null);
            let _ = out
                .send(Outgoing::Frame(
                    json!({ "type": "error", "id": id, "payload": errors }).to_string(),
                ))
                .await;
            let _ = out.send(Outgoing::Finished(id)).await;
            return;
        } else {
            json!({ "type": "next", "id": id, "payload": response })
        };
        first = false;
        if out.send(Outgoing::Frame(frame.to_string())).await.is_err() {
            return;
        }
        next = responses.next().await;
    }
    let _ = out
        .send(Outgoing::Frame(
            json!({ "type": "complete", "id": id }).to_string(),
        ))
        .await;
    let _ = out.send(Outgoing::Finished(id)).await;
}
