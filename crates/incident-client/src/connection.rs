//! The connection task: one socket, supervised.
//!
//! graphql-ws-client 0.13 runs the protocol in an actor that has no reconnect, waits forever for
//! `connection_ack`, ends streams without a reason when the socket closes, leaves a stream pending
//! after a server `error` message, and blocks the whole socket (keepalive included) when one
//! subscription's buffer is full. Those are exactly the guarantees this SDK makes, so this task
//! replaces that actor. graphql-ws-client still supplies the operation abstraction
//! (`GraphqlOperation`, implemented for cynic's `StreamingOperation`) that [`crate::IncidentClient::subscribe`] takes.
//!
//! The task owns the socket and a table of subscriptions. It reconnects with backoff, presents a
//! fresh token on every connect, resubscribes everything, catches up `newIncidents` and
//! `criticalIncidents` (see `catchup.rs`) and gives every other stream a gap notice. It never waits
//! for a consumer: events go into each subscription's bounded buffer.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use futures::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use tracing::{Instrument, debug, info, info_span, warn};

use crate::catchup::{CatchupSpec, CatchupState, Watermark};
use crate::config::Config;
use crate::error::{Error, Result, cause, message};
use crate::http::HttpClient;
use crate::payloads::Payloads;
use crate::protocol::{self, ServerMessage};
use crate::stats::StatsInner;
use crate::subscription::{Buffer, EndReason};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// What the client and subscriptions ask of the connection task.
pub(crate) enum Command {
    Subscribe {
        id: String,
        payload: Arc<str>,
        sink: Arc<Buffer>,
        catchup: Option<(CatchupSpec, Arc<Watermark>)>,
    },
    Unsubscribe {
        id: String,
    },
    CaughtUp {
        id: String,
        generation: u64,
        result: Result<Option<Vec<Value>>>,
    },
    Shutdown {
        done: oneshot::Sender<()>,
    },
}

struct Entry {
    /// The operation serialized as JSON; identical ones share one allocation.
    payload: Arc<str>,
    sink: Arc<Buffer>,
    catchup: Option<CatchupState>,
}

/// How a served connection ended.
enum Outcome {
    Shutdown,
    Lost(Error),
}

pub(crate) struct Supervisor {
    config: Arc<Config>,
    http: HttpClient,
    stats: Arc<StatsInner>,
    commands: mpsc::UnboundedReceiver<Command>,
    commands_tx: mpsc::UnboundedSender<Command>,
    subscriptions: BTreeMap<String, Entry>,
    /// Distinct subscription payloads, shared with the client that interns them.
    payloads: Payloads,
    /// Bumped on every connection, so a catch-up from an older one is ignored.
    generation: u64,
}

impl Supervisor {
    pub(crate) fn new(
        config: Arc<Config>,
        http: HttpClient,
        stats: Arc<StatsInner>,
        commands: mpsc::UnboundedReceiver<Command>,
        commands_tx: mpsc::UnboundedSender<Command>,
        payloads: Payloads,
    ) -> Self {
        Self {
            config,
            http,
            stats,
            commands,
            commands_tx,
            subscriptions: BTreeMap::new(),
            payloads,
            generation: 0,
        }
    }

    /// Runs until shutdown or a fatal error. `ready` learns how the first connection went.
    pub(crate) async fn run(mut self, ready: oneshot::Sender<Result<()>>) {
        let mut ready = Some(ready);
        let mut attempt: u32 = 0;
        let mut auth_failures: u32 = 0;
        let mut connected_before = false;
        loop {
            let span = info_span!("connect", url = %self.config.ws_url, attempt);
            // Boxed: connecting (TCP, WebSocket handshake, ack) needs a large future only while
            // it runs, and unboxed it would size every idle connection's task.
            let established = Box::pin(self.establish().instrument(span)).await;
            let error = match established {
                Ok(socket) => {
                    attempt = 0;
                    auth_failures = 0;
                    if let Some(ready) = ready.take() {
                        let _ = ready.send(Ok(()));
                    }
                    match self.serve(socket, connected_before).await {
                        Outcome::Shutdown => return,
                        Outcome::Lost(error) => {
                            connected_before = true;
                            error
                        }
                    }
                }
                Err(error) => error,
            };
            self.stats.connected.store(false, Ordering::Relaxed);
            if let Error::AuthRejected { .. } = error {
                // One fresh token from the provider, at once; a second rejection is final.
                auth_failures += 1;
                if auth_failures < 2 {
                    info!("the server rejected the token; reconnecting with a fresh one");
                    continue;
                }
            }
            let fatal = matches!(
                error,
                Error::AuthRejected { .. } | Error::TokenProvider(_) | Error::InvalidUrl { .. }
            );
            if let Some(ready) = ready.take() {
                // The first connection failed: `connect()` reports it and nothing retries.
                let _ = ready.send(Err(error));
                self.finish_all(EndReason::Shutdown, || Error::Shutdown);
                return;
            }
            if fatal {
                warn!(%error, "giving up: the error is not one a reconnect can fix");
                let reason = if matches!(error, Error::AuthRejected { .. }) {
                    EndReason::AuthRejected
                } else {
                    EndReason::RetriesExhausted
                };
                self.finish_all(reason, || error.clone());
                return;
            }
            attempt += 1;
            if !self.config.reconnect.allows(attempt) {
                warn!(attempts = attempt - 1, %error, "giving up reconnecting");
                self.finish_all(EndReason::RetriesExhausted, || Error::RetriesExhausted {
                    attempts: attempt - 1,
                    last: Box::new(error.clone()),
                });
                return;
            }
            let delay = self.config.reconnect.delay(attempt);
            info!(attempt, ?delay, %error, "connection lost; reconnecting after backoff");
            if self.wait(delay).await.is_break() {
                return;
            }
        }
    }

    /// Connects, sends `connection_init` with a fresh token and waits for the ack.
    async fn establish(&self) -> Result<Socket> {
        let token = match &self.config.token {
            Some(source) => Some(
                source
                    .fresh()
                    .await
                    .map_err(|e| Error::TokenProvider(e.into()))?,
            ),
            None => None,
        };
        let url = &self.config.ws_url;
        let connect_error = |source: tungstenite::Error| Error::Connect {
            url: url.clone(),
            source: cause(source),
        };
        let mut request = url.as_str().into_client_request().map_err(connect_error)?;
        request.headers_mut().insert(
            "Sec-WebSocket-Protocol",
            tungstenite::http::HeaderValue::from_static(protocol::SUBPROTOCOL),
        );
        let mut ws_config = WebSocketConfig::default();
        ws_config.max_message_size = Some(self.config.max_message_size);
        ws_config.max_frame_size = Some(self.config.max_message_size);
        // tungstenite's 128 KiB read and write buffers per connection are sized for bulk
        // transfer; incident events are a few KB, and every frame is flushed as it is sent.
        ws_config.read_buffer_size = 16 * 1024;
        ws_config.write_buffer_size = 0;
        let started = Instant::now();
        let connecting =
            tokio_tungstenite::connect_async_with_config(request, Some(ws_config), true);
        let (mut socket, response) = tokio::time::timeout(self.config.connect_timeout, connecting)
            .await
            .map_err(|_| Error::Connect {
                url: url.clone(),
                source: message("timed out"),
            })?
            .map_err(connect_error)?;
        let accepted = response
            .headers()
            .get("sec-websocket-protocol")
            .and_then(|v| v.to_str().ok());
        if accepted != Some(protocol::SUBPROTOCOL) {
            return Err(Error::Connect {
                url: url.clone(),
                source: message(format!(
                    "the server did not accept the {} subprotocol",
                    protocol::SUBPROTOCOL
                )),
            });
        }
        send(
            &mut socket,
            protocol::connection_init(token.as_ref().map(|t| t.expose())),
        )
        .await?;
        let waiting = async {
            loop {
                match read(&mut socket).await? {
                    Read::Message(ServerMessage::ConnectionAck) => return Ok(()),
                    Read::Message(ServerMessage::Ping) => {
                        send(&mut socket, protocol::pong()).await?
                    }
                    Read::Message(other) => debug!(?other, "ignoring a message before the ack"),
                    Read::Closed(code, reason) => return Err(closed_error(code, reason)),
                }
            }
        };
        tokio::time::timeout(self.config.ack_timeout, waiting)
            .await
            .map_err(|_| Error::AckTimeout(self.config.ack_timeout))??;
        info!(ack_latency = ?started.elapsed(), "connected");
        Ok(socket)
    }

    /// Serves an acknowledged connection until it is lost or the client shuts down.
    async fn serve(&mut self, mut socket: Socket, reconnected: bool) -> Outcome {
        self.generation += 1;
        self.stats.connected.store(true, Ordering::Relaxed);
        self.stats.connects.fetch_add(1, Ordering::Relaxed);
        if let Err(error) = self.resubscribe(&mut socket, reconnected).await {
            return Outcome::Lost(error);
        }
        let mut last_subscribed: Option<String> = None;
        let mut keepalive = tokio::time::interval(self.config.keepalive_interval);
        keepalive.reset();
        let far_future = || tokio::time::Instant::now() + Duration::from_secs(86_400 * 365);
        let pong_deadline = tokio::time::sleep_until(far_future());
        tokio::pin!(pong_deadline);
        let mut awaiting_pong = false;
        loop {
            tokio::select! {
                read_result = read(&mut socket) => match read_result {
                    Ok(Read::Message(message)) => {
                        if matches!(message, ServerMessage::Pong) {
                            awaiting_pong = false;
                            pong_deadline.as_mut().reset(far_future());
                        }
                        if let Err(error) = self.handle_message(&mut socket, message).await {
                            return Outcome::Lost(error);
                        }
                    }
                    Ok(Read::Closed(code, reason)) => {
                        self.fail_offender(code, &reason, last_subscribed.as_deref());
                        return Outcome::Lost(closed_error(code, reason));
                    }
                    Err(error @ Error::Decode(_)) => {
                        warn!(%error, "the server sent a malformed message; reconnecting");
                        let _ = close(&mut socket, 4400, "malformed message").await;
                        return Outcome::Lost(error);
                    }
                    Err(error) => return Outcome::Lost(error),
                },
                command = self.commands.recv() => {
                    let Some(command) = command else {
                        // Every client handle and subscription is gone.
                        let _ = close(&mut socket, 1000, "client dropped").await;
                        return Outcome::Shutdown;
                    };
                    match command {
                        Command::Shutdown { done } => {
                            for id in self.subscriptions.keys() {
                                let _ = send(&mut socket, protocol::complete(id)).await;
                            }
                            let _ = close(&mut socket, 1000, "client shut down").await;
                            self.finish_all(EndReason::Shutdown, || Error::Shutdown);
                            let _ = done.send(());
                            return Outcome::Shutdown;
                        }
                        Command::Subscribe { id, payload, sink, catchup } => {
                            let sent = send(&mut socket, protocol::subscribe(&id, &payload)).await;
                            last_subscribed = Some(id.clone());
                            self.insert(id, payload, sink, catchup);
                            if let Err(error) = sent {
                                return Outcome::Lost(error);
                            }
                        }
                        Command::Unsubscribe { id } => {
                            if self.remove(&id).is_some() && send(&mut socket, protocol::complete(&id)).await.is_err() {
                                return Outcome::Lost(Error::Connect { url: self.config.ws_url.clone(), source: message("send failed") });
                            }
                        }
                        Command::CaughtUp { id, generation, result } => self.caught_up(&id, generation, result),
                    }
                },
                _ = keepalive.tick() => {
                    if !awaiting_pong {
                        if let Err(error) = send(&mut socket, protocol::ping()).await {
                            return Outcome::Lost(error);
                        }
                        awaiting_pong = true;
                        pong_deadline.as_mut().reset(tokio::time::Instant::now() + self.config.pong_timeout);
                    }
                },
                () = &mut pong_deadline => {
                    warn!(timeout = ?self.config.pong_timeout, "no pong from the server; the connection is half-open");
                    return Outcome::Lost(Error::Connect { url: self.config.ws_url.clone(), source: message("no pong within the timeout") });
                },
            }
        }
    }

    /// Sends `subscribe` for every live subscription; after a reconnect, starts catch-ups and
    /// gives the other streams a gap notice.
    async fn resubscribe(&mut self, socket: &mut Socket, reconnected: bool) -> Result<()> {
        self.subscriptions
            .retain(|_, entry| !entry.sink.is_closed());
        self.payloads.release_unused();
        self.stats
            .live_subscriptions
            .store(self.subscriptions.len() as u64, Ordering::Relaxed);
        let ids: Vec<String> = self.subscriptions.keys().cloned().collect();
        if reconnected && !ids.is_empty() {
            info!(count = ids.len(), "resubscribing");
        }
        for id in ids {
            let entry = &self.subscriptions[&id];
            send(socket, protocol::subscribe(&id, &entry.payload)).await?;
            if reconnected {
                self.after_reconnect(&id);
            }
        }
        Ok(())
    }

    fn after_reconnect(&mut self, id: &str) {
        let generation = self.generation;
        let Some(entry) = self.subscriptions.get_mut(id) else {
            return;
        };
        match &mut entry.catchup {
            Some(state) => {
                state.holding.get_or_insert_with(Vec::new);
                let http = self.http.clone();
                let severities = state.spec.severities.clone();
                let since = state.since(&entry.sink.queued());
                let commands = self.commands_tx.clone();
                let id = id.to_owned();
                tokio::spawn(async move {
                    let result = crate::catchup::missed_incidents(&http, severities, since).await;
                    let _ = commands.send(Command::CaughtUp {
                        id,
                        generation,
                        result,
                    });
                });
            }
            None => {
                self.stats.gaps.fetch_add(1, Ordering::Relaxed);
                entry.sink.push_error(Error::Gap);
            }
        }
    }

    fn caught_up(&mut self, id: &str, generation: u64, result: Result<Option<Vec<Value>>>) {
        let Some(entry) = self.subscriptions.get_mut(id) else {
            return;
        };
        let Some(state) = entry.catchup.as_mut() else {
            return;
        };
        if generation != self.generation && state.holding.is_none() {
            return;
        }
        let root_field = state.spec.root_field;
        let held = state.holding.take().unwrap_or_default();
        match result {
            Ok(Some(missed)) => {
                // Counted in `Stats::caught_up` as the consumer takes them: some may turn out to
                // be incidents it had already.
                if !missed.is_empty() {
                    info!(
                        subscription = id,
                        fetched = missed.len(),
                        "caught up on incidents created while disconnected"
                    );
                }
                for incident in missed {
                    entry
                        .sink
                        .push_recovered(crate::catchup::payload_for(root_field, incident));
                }
            }
            Ok(None) => {
                warn!(
                    subscription = id,
                    "too many incidents were missed to catch up; reporting a gap"
                );
                self.stats.gaps.fetch_add(1, Ordering::Relaxed);
                entry.sink.push_error(Error::Gap);
            }
            Err(error) => {
                warn!(subscription = id, %error, "catching up failed; reporting a gap");
                self.stats.gaps.fetch_add(1, Ordering::Relaxed);
                entry.sink.push_error(Error::Gap);
            }
        }
        for payload in held {
            entry.sink.push_payload(payload);
        }
    }

    async fn handle_message(&mut self, socket: &mut Socket, message: ServerMessage) -> Result<()> {
        match message {
            ServerMessage::Next { id, payload } => {
                let Some(entry) = self.subscriptions.get_mut(&id) else {
                    debug!(id, "event for an unknown subscription");
                    return Ok(());
                };
                match entry.catchup.as_mut().and_then(|s| s.holding.as_mut()) {
                    Some(held) => held.push(payload),
                    None => entry.sink.push_payload(payload),
                }
            }
            ServerMessage::Error { id, payload } => {
                if let Some(entry) = self.remove(&id) {
                    entry
                        .sink
                        .finish(EndReason::GraphQlErrors, Some(Error::GraphQl(payload)));
                }
            }
            ServerMessage::Complete { id } => {
                if let Some(entry) = self.remove(&id) {
                    entry.sink.finish(EndReason::Completed, None);
                }
            }
            ServerMessage::Ping => send(socket, protocol::pong()).await?,
            ServerMessage::Pong | ServerMessage::ConnectionAck => {}
        }
        Ok(())
    }

    /// 4400, 4409 and 4500 end the operation that caused them, named in the reason or else the
    /// one subscribed last; the others are resubscribed after the reconnect.
    fn fail_offender(&mut self, code: Option<u16>, reason: &str, last_subscribed: Option<&str>) {
        let Some(code @ (4400 | 4409 | 4500)) = code else {
            return;
        };
        let named = self
            .subscriptions
            .keys()
            .find(|id| reason.contains(&format!(" {id} ")))
            .cloned();
        let Some(id) = named.or_else(|| last_subscribed.map(str::to_owned)) else {
            return;
        };
        if let Some(entry) = self.remove(&id) {
            warn!(subscription = %id, code, reason, "the server closed the connection because of this operation; ending it");
            entry.sink.finish(
                EndReason::Closed,
                Some(Error::Closed {
                    code,
                    reason: reason.to_owned(),
                }),
            );
        }
    }

    fn insert(
        &mut self,
        id: String,
        payload: Arc<str>,
        sink: Arc<Buffer>,
        catchup: Option<(CatchupSpec, Arc<Watermark>)>,
    ) {
        let catchup = catchup.map(|(spec, watermark)| CatchupState::new(spec, watermark));
        self.subscriptions.insert(
            id,
            Entry {
                payload,
                sink,
                catchup,
            },
        );
        self.stats
            .live_subscriptions
            .store(self.subscriptions.len() as u64, Ordering::Relaxed);
    }

    fn remove(&mut self, id: &str) -> Option<Entry> {
        let entry = self.subscriptions.remove(id);
        if let Some(entry) = &entry {
            self.payloads.release(&entry.payload);
        }
        self.stats
            .live_subscriptions
            .store(self.subscriptions.len() as u64, Ordering::Relaxed);
        entry
    }

    fn finish_all(&mut self, reason: EndReason, error: impl Fn() -> Error) {
        for (_, entry) in std::mem::take(&mut self.subscriptions) {
            entry.sink.finish(reason, Some(error()));
        }
        self.payloads.release_unused();
        self.stats.live_subscriptions.store(0, Ordering::Relaxed);
        self.stats.connected.store(false, Ordering::Relaxed);
    }

    /// Sleeps for the backoff while still taking commands. `Break` means the client shut down.
    async fn wait(&mut self, delay: Duration) -> std::ops::ControlFlow<()> {
        let sleep = tokio::time::sleep(delay);
        tokio::pin!(sleep);
        loop {
            tokio::select! {
                () = &mut sleep => return std::ops::ControlFlow::Continue(()),
                command = self.commands.recv() => match command {
                    None => return std::ops::ControlFlow::Break(()),
                    Some(Command::Shutdown { done }) => {
                        self.finish_all(EndReason::Shutdown, || Error::Shutdown);
                        let _ = done.send(());
                        return std::ops::ControlFlow::Break(());
                    }
                    Some(Command::Subscribe { id, payload, sink, catchup }) => self.insert(id, payload, sink, catchup),
                    Some(Command::Unsubscribe { id }) => {
                        self.remove(&id);
                    }
                    Some(Command::CaughtUp { id, generation, result }) => self.caught_up(&id, generation, result),
                }
            }
        }
    }
}

enum Read {
    Message(ServerMessage),
    Closed(Option<u16>, String),
}

/// The next protocol message, or how the socket closed. Malformed text is [`Error::Decode`].
async fn read(socket: &mut Socket) -> Result<Read> {
    loop {
        match socket.next().await {
            Some(Ok(Message::Text(text))) => {
                return ServerMessage::parse(text)
                    .map(Read::Message)
                    .map_err(|e| Error::Decode(cause(e)));
            }
            Some(Ok(Message::Close(frame))) => {
                return Ok(match frame {
                    Some(frame) => Read::Closed(Some(frame.code.into()), frame.reason.to_string()),
                    None => Read::Closed(None, String::new()),
                });
            }
            Some(Ok(Message::Binary(_))) => {
                return Err(Error::Decode(message(
                    "a binary frame is not part of the protocol",
                )));
            }
            Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => continue,
            Some(Err(error)) => {
                return Err(Error::Connect {
                    url: String::new(),
                    source: cause(error),
                });
            }
            None => return Ok(Read::Closed(None, String::new())),
        }
    }
}

async fn send(socket: &mut Socket, text: String) -> Result<()> {
    socket
        .send(Message::Text(text.into()))
        .await
        .map_err(|e| Error::Connect {
            url: String::new(),
            source: cause(e),
        })
}

async fn close(socket: &mut Socket, code: u16, reason: &str) -> Result<()> {
    let frame = CloseFrame {
        code: CloseCode::from(code),
        reason: reason.to_owned().into(),
    };
    socket.close(Some(frame)).await.map_err(|e| Error::Connect {
        url: String::new(),
        source: cause(e),
    })
}

/// The error for a close: 4401 and 4403 are auth rejections, the rest carry their code.
fn closed_error(code: Option<u16>, reason: String) -> Error {
    match code {
        Some(code @ (4401 | 4403)) => Error::AuthRejected { code, reason },
        Some(code) => Error::Closed { code, reason },
        None => Error::Connect {
            url: String::new(),
            source: message("the connection closed without a close frame"),
        },
    }
}
