//! One acknowledged WebSocket: framing, sending, and the ping/pong bookkeeping that both the
//! keepalive and [`crate::Subscription::ready`] rely on.
//!
//! Every `ping` carries its number (`{"sdk": n}`) and a server that echoes ping payloads (the
//! dev server, graphql-ws) answers with the same: that pong confirms the server has read
//! everything the client sent before ping `n`. A subscription is live once the pong for a ping
//! sent after its `subscribe` is back. Pongs the client did not ask for (the protocol allows
//! unsolicited ones) are ignored once the server has shown it echoes; from a server that never
//! echoes, pongs answer the oldest ping, in order, as the protocol orders them.

use std::collections::VecDeque;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use tokio::time::Instant;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use crate::error::{Error, Result, cause, message};
use crate::protocol::{self, PongPayload, ServerMessage};

pub(crate) type Socket = WebSocketStream<crate::transport::Transport>;

/// What came off the socket.
pub(crate) enum Read {
    Message(ServerMessage),
    /// The close code (if the frame had one) and reason.
    Closed(Option<u16>, String),
}

/// A socket and the URL it was opened to, for errors that name it.
pub(crate) struct Link {
    socket: Socket,
    url: String,
    /// When the connection was acknowledged.
    pub(crate) since: Instant,
    /// Whether the server delivered an event on it.
    pub(crate) delivered: bool,
    /// When a message last arrived: a half-open socket stops delivering long before it is
    /// noticed, so this, not the moment of noticing, is where a gap starts.
    pub(crate) last_heard: Instant,
    /// The server's clock at the handshake (its `Date` header), in Unix microseconds.
    pub(crate) server_date: Option<i64>,
    /// When the token this connection was opened with expires, and when it was issued (its
    /// `iat` claim), as the token says.
    pub(crate) token_expires_at: Option<std::time::SystemTime>,
    pub(crate) token_issued_at: Option<std::time::SystemTime>,
    /// When it was acknowledged, on the wall clock.
    pub(crate) since_wall: std::time::SystemTime,
    pings: Pings,
}

/// Pings sent so far, and the numbers and send times of those not answered yet.
#[derive(Debug, Default)]
pub(crate) struct Pings {
    sent: u64,
    unanswered: VecDeque<(u64, Instant)>,
    /// The server echoed a ping's payload: pongs without the client's number are not answers.
    echoes: bool,
}

impl Pings {
    /// Records ping number `sent() + 1` as sent now.
    fn sent(&mut self) -> u64 {
        self.sent += 1;
        self.unanswered.push_back((self.sent, Instant::now()));
        self.sent
    }

    /// Records a `pong`. Returns the number of the ping it answers (every earlier one is
    /// answered too) and that ping's round trip, or `None` for a pong that answers nothing the
    /// client asked.
    pub(crate) fn answer(&mut self, pong: PongPayload) -> Option<(u64, Duration)> {
        let answered = match pong {
            PongPayload::Ping(number) => {
                self.echoes = true;
                let (oldest, _) = *self.unanswered.front()?;
                if number < oldest || number > self.sent {
                    return None;
                }
                number
            }
            PongPayload::Bare if !self.echoes => self.unanswered.front()?.0,
            PongPayload::Bare | PongPayload::Other => return None,
        };
        let mut sent = None;
        while self.unanswered.front().is_some_and(|(n, _)| *n <= answered) {
            sent = self.unanswered.pop_front().map(|(_, at)| at);
        }
        Some((answered, sent?.elapsed()))
    }
}

impl Link {
    pub(crate) fn new(
        socket: Socket,
        url: &str,
        server_date: Option<i64>,
        token: Option<&crate::token::Token>,
    ) -> Self {
        Self {
            server_date,
            token_expires_at: token.and_then(|t| t.expires_at()),
            token_issued_at: token.and_then(|t| t.issued_at()),
            since_wall: std::time::SystemTime::now(),
            socket,
            url: url.to_owned(),
            since: Instant::now(),
            delivered: false,
            last_heard: Instant::now(),
            pings: Pings::default(),
        }
    }

    /// The error for a connection that broke after it was established.
    pub(crate) fn lost(&self, why: crate::error::Cause) -> Error {
        Error::ConnectionLost {
            url: self.url.clone(),
            source: why,
        }
    }

    /// The next protocol message, or how the socket closed. Malformed text is [`Error::Decode`].
    /// The caller records when messages arrive ([`Link::heard`]), once per batch.
    pub(crate) async fn read(&mut self) -> Result<Read> {
        let url = &self.url;
        read(&mut self.socket, |source| Error::ConnectionLost {
            url: url.clone(),
            source,
        })
        .await
    }

    /// Notes that messages just arrived.
    pub(crate) fn heard(&mut self) {
        self.last_heard = Instant::now();
    }

    /// When a message last arrived, on the wall clock.
    pub(crate) fn last_heard_at(&self) -> chrono::DateTime<chrono::Utc> {
        let silent = chrono::Duration::from_std(self.last_heard.elapsed()).unwrap_or_default();
        chrono::Utc::now() - silent
    }

    pub(crate) async fn send(&mut self, text: String) -> Result<()> {
        let url = &self.url;
        send(&mut self.socket, text, |source| Error::ConnectionLost {
            url: url.clone(),
            source,
        })
        .await
    }

    /// Sends a `ping` and returns its number (from 1).
    pub(crate) async fn ping(&mut self) -> Result<u64> {
        let number = self.pings.sent + 1;
        self.send(protocol::ping(number)).await?;
        Ok(self.pings.sent())
    }

    /// The server's clock now, from its handshake `Date` and the time since (rounded down to the
    /// second by the header, so never ahead of it), in Unix microseconds.
    pub(crate) fn server_now(&self) -> Option<i64> {
        let since = self.since.elapsed().as_micros() as i64;
        self.server_date.map(|date| date + since)
    }

    /// Records a `pong`; see [`Pings::answer`].
    pub(crate) fn pong(&mut self, pong: PongPayload) -> Option<(u64, Duration)> {
        self.pings.answer(pong)
    }

    /// Whether a ping is waiting for its pong.
    pub(crate) fn awaiting_pong(&self) -> bool {
        !self.pings.unanswered.is_empty()
    }

    /// When the oldest unanswered ping times out, if one is unanswered.
    pub(crate) fn pong_deadline(&self, timeout: Duration) -> Option<Instant> {
        self.pings
            .unanswered
            .front()
            .map(|(_, sent)| *sent + timeout)
    }

    /// Closes with `code`, then reads until the server's close (at most a second), so the
    /// server sees a clean close handshake.
    pub(crate) async fn close(&mut self, code: u16, reason: &str) {
        let frame = CloseFrame {
            code: CloseCode::from(code),
            reason: reason.to_owned().into(),
        };
        if self.socket.close(Some(frame)).await.is_err() {
            return;
        }
        let _ = tokio::time::timeout(Duration::from_secs(1), async {
            while let Some(Ok(_)) = self.socket.next().await {}
        })
        .await;
    }
}

/// Reads the next protocol message; transport errors become `broken(cause)`.
pub(crate) async fn read(
    socket: &mut Socket,
    broken: impl Fn(crate::error::Cause) -> Error,
) -> Result<Read> {
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
            Some(Err(error)) => return Err(broken(cause(error))),
            None => return Ok(Read::Closed(None, String::new())),
        }
    }
}

/// Sends one text frame; transport errors become `broken(cause)`.
pub(crate) async fn send(
    socket: &mut Socket,
    text: String,
    broken: impl Fn(crate::error::Cause) -> Error,
) -> Result<()> {
    socket
        .send(Message::Text(text.into()))
        .await
        .map_err(|e| broken(cause(e)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn echoed_pongs_answer_their_own_ping_and_unsolicited_ones_nothing() {
        let mut pings = Pings::default();
        assert_eq!(pings.answer(PongPayload::Bare), None, "nothing was asked");
        let (one, two) = (pings.sent(), pings.sent());
        assert_eq!((one, two), (1, 2));
        assert_eq!(pings.answer(PongPayload::Other), None);
        assert_eq!(pings.answer(PongPayload::Ping(7)), None, "never sent");
        assert_eq!(pings.answer(PongPayload::Ping(2)).map(|a| a.0), Some(2));
        assert!(pings.unanswered.is_empty(), "pong 2 answers ping 1 too");
        let three = pings.sent();
        // The server has shown it echoes: a bare pong is a heartbeat, not an answer.
        assert_eq!(pings.answer(PongPayload::Bare), None);
        assert_eq!(pings.answer(PongPayload::Ping(1)), None, "already answered");
        assert_eq!(pings.answer(PongPayload::Ping(three)).map(|a| a.0), Some(3));
    }

    #[test]
    fn a_server_that_never_echoes_answers_in_order() {
        let mut pings = Pings::default();
        pings.sent();
        pings.sent();
        assert_eq!(pings.answer(PongPayload::Bare).map(|a| a.0), Some(1));
        assert_eq!(pings.answer(PongPayload::Bare).map(|a| a.0), Some(2));
        assert_eq!(pings.answer(PongPayload::Bare), None);
    }
}
