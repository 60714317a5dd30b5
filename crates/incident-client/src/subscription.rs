//! `Subscription<T>`: one GraphQL subscription as a `futures::Stream`, with a bounded buffer.
//!
//! The connection task never waits for a consumer: it pushes each event's raw payload into the
//! subscription's buffer and moves on. When the buffer is full:
//! - on a stream that can be caught up (`new_incidents`, `critical_incidents`,
//!   `subscribe_caught_up`), its delivery machine ([`crate::delivery`]) sets live events aside
//!   and, once the consumer has drained half the buffer, reads them back from the listing oldest
//!   first, one page at a time (`Room` commands ask for the next page), until it hands over to
//!   live delivery: nothing is lost;
//! - on the others, the oldest event is dropped and counted, and the consumer receives
//!   [`Error::Lagged`] with the count before the next event.
//!
//! Either way a slow consumer costs bounded memory (see the README's guarantee) and never stalls
//! the socket, other subscriptions or keepalive.
//!
//! Payloads are decoded into `T` when the consumer polls, on the consumer's task: the connection
//! task only frames and routes, so decoding runs in parallel with reading on a multi-threaded
//! runtime, and a value is allocated and freed on the same thread.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll};

use futures::Stream;
use tokio::sync::mpsc;

pub(crate) use crate::buffer::{Buffer, Decoder};
use crate::checkpoint::{Checkpoint, Progress};
use crate::connection::Command;
use crate::error::{Error, Result};
use crate::gap::GapWindow;

/// The default number of events a subscription buffers for a slow consumer.
pub const DEFAULT_BUFFER: usize = 1024;

/// Why a subscription ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum EndReason {
    /// The server sent `complete`.
    Completed,
    /// The server sent GraphQL errors (an `error` message).
    GraphQlErrors,
    /// The server refused the credentials, also after a refresh.
    AuthRejected,
    /// The server closed the connection with a code that ends this operation (4400, 4409, 4500).
    Closed,
    /// Reconnecting failed for longer than the reconnect policy allows.
    RetriesExhausted,
    /// A TLS certificate failed (the server's is not trusted, or the server refused the
    /// client's); reconnecting cannot help.
    CertificateRejected,
    /// The server refuses the query a caught-up stream catches up with (it answered GraphQL
    /// errors or a client error status): the stream ends rather than report a gap, and its
    /// checkpoint stays before what it could not deliver.
    CatchUpFailed,
    /// The client was shut down.
    Shutdown,
    /// The subscription was dropped by its owner, or every client handle and subscription was
    /// dropped.
    Dropped,
}

/// A live GraphQL subscription. Yields `Ok(event)`s; see [`Error`] for the two non-terminal errors
/// ([`Error::Lagged`], [`Error::Gap`]) and the terminal ones. Ends with `None` after the server
/// completes it or after a terminal error. Dropping it unsubscribes (`complete` to the server).
pub struct Subscription<T> {
    id: String,
    buffer: Arc<Buffer>,
    decode: Decoder<T>,
    catchup: Option<Delivered<T>>,
    commands: mpsc::UnboundedSender<Command>,
}

/// For streams that are caught up after reconnects: where the consumer is, at full precision.
pub(crate) struct Delivered<T> {
    pub(crate) checkpoint: Progress,
    pub(crate) item: std::marker::PhantomData<fn() -> T>,
}

impl<T> std::fmt::Debug for Subscription<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Subscription")
            .field("id", &self.id)
            .field("end_reason", &self.end_reason())
            .finish()
    }
}

impl<T> Subscription<T> {
    pub(crate) fn new(
        id: String,
        buffer: Arc<Buffer>,
        decode: Decoder<T>,
        catchup: Option<Delivered<T>>,
        commands: mpsc::UnboundedSender<Command>,
    ) -> Self {
        Self {
            id,
            buffer,
            decode,
            catchup,
            commands,
        }
    }

    /// The protocol id of this subscription on the connection.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Why the stream ended, once it has.
    pub fn end_reason(&self) -> Option<EndReason> {
        self.buffer.lock().end
    }

    /// Waits until the subscription is live: its `subscribe` went out on an acknowledged
    /// connection and the server has read it (the pong to a ping sent after it came back), so
    /// events published from now on reach this stream. After a reconnect it is live again once
    /// resubscribed. Fails with the stream's terminal error if it ends first ([`Error::Shutdown`]
    /// when it ended without one).
    ///
    /// Use it instead of sleeping before producing the events a test or program waits for.
    pub async fn ready(&self) -> Result<()> {
        loop {
            let changed = self.buffer.changed.notified();
            tokio::pin!(changed);
            changed.as_mut().enable();
            {
                let state = self.buffer.lock();
                if state.live {
                    return Ok(());
                }
                if state.end.is_some() {
                    return Err(state
                        .terminal
                        .as_deref()
                        .cloned()
                        .unwrap_or(Error::Shutdown));
                }
            }
            changed.await;
        }
    }

    /// Where the consumer of an incident-creation stream (`new_incidents`, `critical_incidents`,
    /// `subscribe_caught_up`) is, after the last item it took: save it, and start the stream
    /// from it after a restart (`*_from` methods of [`crate::IncidentClient`]). `None` for
    /// streams that cannot be caught up.
    pub fn checkpoint(&self) -> Option<Checkpoint> {
        let delivered = self.catchup.as_ref()?;
        let checkpoint = delivered.checkpoint.checkpoint();
        let untouched = checkpoint.ids.is_empty() && checkpoint.recent.is_empty();
        if untouched && checkpoint.created_at == chrono::DateTime::UNIX_EPOCH {
            // Nothing taken yet: the stream's start, once the server told it.
            let start = self.buffer.lock().start;
            return start
                .and_then(chrono::DateTime::from_timestamp_micros)
                .map(Checkpoint::at);
        }
        Some(checkpoint)
    }

    /// The time window of the latest [`Error::Gap`] this stream reported: what a consumer
    /// reconciles (for incidents, with [`crate::IncidentClient::incidents_changed_since`]).
    pub fn last_gap(&self) -> Option<GapWindow> {
        self.buffer.lock().last_gap.as_deref().copied()
    }

    /// How many items (events and notices) wait in the buffer for this consumer: its backlog.
    /// At the buffer's capacity the oldest events are dropped ([`Error::Lagged`]).
    pub fn queue_depth(&self) -> usize {
        self.buffer.depth()
    }

    /// Whether the subscription is live now (see [`Subscription::ready`]).
    pub fn is_live(&self) -> bool {
        self.buffer.lock().live
    }

    /// How many events were dropped because this consumer fell behind, in total.
    pub fn dropped(&self) -> u64 {
        self.buffer.lock().dropped_total
    }
}

impl<T> Stream for Subscription<T> {
    type Item = Result<T>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        this.buffer.waker.register(cx.waker());
        let mut state = this.buffer.lock();
        if state.dropped_pending > 0 {
            let dropped = std::mem::take(&mut state.dropped_pending);
            return Poll::Ready(Some(Err(Error::Lagged { dropped })));
        }
        let item = state.items.pop_front();
        this.buffer.counted(&state);
        let Some(item) = item else {
            return if state.end.is_some() {
                Poll::Ready(None)
            } else {
                Poll::Pending
            };
        };
        let ask_for_room = state.awaiting_room && state.items.len() <= this.buffer.capacity / 2;
        if ask_for_room {
            state.awaiting_room = false;
        }
        drop(state);
        if ask_for_room {
            // The connection task fetches the next page of what was set aside.
            let _ = this.commands.send(Command::Room {
                id: this.id.clone(),
            });
        }
        let queued = match item {
            Ok(queued) => queued,
            Err(error) => return Poll::Ready(Some(Err(error))),
        };
        let value = match queued.payload.decode(&this.decode) {
            Ok(value) => value,
            Err(error) => return Poll::Ready(Some(Err(error))),
        };
        if let Some(delivered) = this.catchup.as_mut()
            && let Some(key) = queued.key
        {
            // The machine deduplicated; the checkpoint moves with what the consumer takes.
            if let Some(created) = chrono::DateTime::from_timestamp_micros(key.created) {
                delivered.checkpoint.advance(key.id, created);
            }
            if queued.recovered {
                this.buffer.stats.caught_up.fetch_add(1, Ordering::Relaxed);
            }
        }
        this.buffer.metrics.delivered(queued.recovered);
        Poll::Ready(Some(Ok(value)))
    }
}

impl<T> Drop for Subscription<T> {
    fn drop(&mut self) {
        let mut state = self.buffer.lock();
        if state.end.is_none() {
            state.end = Some(EndReason::Dropped);
            drop(state);
            // The connection task may already be gone; then there is nothing to unsubscribe.
            let _ = self.commands.send(Command::Unsubscribe {
                id: self.id.clone(),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::StreamExt;

    fn subscription(
        capacity: usize,
    ) -> (
        Subscription<u32>,
        Arc<Buffer>,
        mpsc::UnboundedReceiver<Command>,
    ) {
        let metrics = Arc::new(crate::telemetry::StreamMetrics::new("custom"));
        let buffer = Arc::new(Buffer::new(capacity, Arc::default(), metrics));
        let (tx, rx) = mpsc::unbounded_channel();
        let decode: Decoder<u32> = Box::new(|text| {
            text.parse()
                .map_err(|e| Error::Decode(crate::error::cause(e)))
        });
        (
            Subscription::new("1".into(), buffer.clone(), decode, None, tx),
            buffer,
            rx,
        )
    }

    fn at(seconds: i64) -> chrono::DateTime<chrono::Utc> {
        chrono::DateTime::from_timestamp(seconds, 0).unwrap()
    }

    fn window() -> GapWindow {
        GapWindow {
            from: at(1_000),
            until: at(2_000),
        }
    }

    fn later_window() -> GapWindow {
        GapWindow {
            from: at(3_000),
            until: at(4_000),
        }
    }

    fn push(buffer: &Buffer, n: u32) {
        buffer.push_payload(n.to_string().into(), 0.0);
    }

    #[tokio::test]
    async fn overflow_drops_the_oldest_and_reports_lag() {
        let (mut sub, buffer, _rx) = subscription(3);
        for n in 0..5 {
            push(&buffer, n);
        }
        assert!(matches!(
            sub.next().await,
            Some(Err(Error::Lagged { dropped: 2 }))
        ));
        assert_eq!(sub.next().await.unwrap().unwrap(), 2);
        assert_eq!(sub.next().await.unwrap().unwrap(), 3);
        assert_eq!(sub.next().await.unwrap().unwrap(), 4);
        assert_eq!(sub.dropped(), 2);
    }

    #[tokio::test]
    async fn a_terminal_error_is_delivered_then_the_stream_ends() {
        let (mut sub, buffer, _rx) = subscription(3);
        push(&buffer, 1);
        buffer.finish(EndReason::Shutdown, Some(Error::Shutdown));
        push(&buffer, 2);
        assert_eq!(sub.next().await.unwrap().unwrap(), 1);
        assert!(matches!(sub.next().await, Some(Err(Error::Shutdown))));
        assert!(sub.next().await.is_none());
        assert_eq!(sub.end_reason(), Some(EndReason::Shutdown));
    }

    #[tokio::test]
    async fn payloads_are_decoded_by_the_consumer_and_errors_are_items() {
        let (mut sub, buffer, _rx) = subscription(3);
        buffer.push_payload(String::from("not a number").into(), 0.0);
        push(&buffer, 9);
        assert!(matches!(sub.next().await, Some(Err(Error::Decode(_)))));
        assert_eq!(sub.next().await.unwrap().unwrap(), 9);
    }

    #[tokio::test]
    async fn caught_up_streams_move_the_checkpoint_with_what_the_consumer_takes() {
        let (mut sub, buffer, _rx) = subscription(8);
        sub.catchup = Some(Delivered {
            checkpoint: Progress::new(Checkpoint::at(chrono::DateTime::UNIX_EPOCH)),
            item: std::marker::PhantomData,
        });
        let key = |n: u32| crate::delivery::Key {
            created: 2_000_000_000_000_000 + i64::from(n),
            id: incident_schema::Uuid::from_u128(u128::from(n)),
        };
        buffer.push_delivered(String::from("1").into(), Some(key(1)), false);
        buffer.push_delivered(String::from("2").into(), Some(key(2)), true);
        assert_eq!(sub.next().await.unwrap().unwrap(), 1);
        assert_eq!(sub.checkpoint().unwrap().ids, [key(1).id]);
        assert_eq!(sub.next().await.unwrap().unwrap(), 2);
        let checkpoint = sub.checkpoint().unwrap();
        assert_eq!(checkpoint.created_at.timestamp_micros(), key(2).created);
        assert_eq!(checkpoint.ids, [key(2).id]);
        assert_eq!(buffer.stats.caught_up.load(Ordering::Relaxed), 1);
    }

    #[tokio::test]
    async fn only_events_are_dropped_and_counted_and_repeated_gaps_are_one() {
        let (mut sub, buffer, _rx) = subscription(2);
        buffer.push_gap(window());
        buffer.push_gap(window());
        push(&buffer, 1);
        // The buffer is full (a gap and 1): this gap joins the queued one instead of growing it.
        buffer.push_gap(later_window());
        push(&buffer, 2);
        push(&buffer, 3);
        // Full of notices and events: the events go first, and only they count as dropped.
        assert_eq!(sub.dropped(), 2);
        assert_eq!(buffer.stats.dropped.load(Ordering::Relaxed), 2);
        assert!(matches!(
            sub.next().await,
            Some(Err(Error::Lagged { dropped: 2 }))
        ));
        // One notice, covering both windows.
        match sub.next().await {
            Some(Err(Error::Gap(covered))) => {
                assert_eq!(covered, window().union(later_window()));
                assert_eq!(sub.last_gap(), Some(covered));
            }
            other => panic!("expected the gap, got {other:?}"),
        }
        assert_eq!(sub.next().await.unwrap().unwrap(), 3);
    }

    /// A stalled consumer and many reconnects: the queue stays at its capacity.
    #[tokio::test]
    async fn gap_notices_never_grow_a_full_queue() {
        let (mut sub, buffer, _rx) = subscription(3);
        for n in 0..100 {
            push(&buffer, n);
            buffer.push_gap(window());
        }
        assert!(buffer.depth() <= 3, "{}", buffer.depth());
        // The lag notice first, then the queue: one gap covering every window, and events.
        assert!(matches!(sub.next().await, Some(Err(Error::Lagged { .. }))));
        let mut gaps = 0;
        for _ in 0..buffer.depth() {
            if let Some(Err(Error::Gap(_))) = sub.next().await {
                gaps += 1;
            }
        }
        assert_eq!(gaps, 1);
    }

    #[tokio::test]
    async fn ready_follows_the_connection_and_the_end() {
        let (sub, buffer, _rx) = subscription(2);
        assert!(!sub.is_live());
        let waiting = tokio::spawn({
            let buffer = buffer.clone();
            async move {
                tokio::task::yield_now().await;
                buffer.set_live(true);
            }
        });
        sub.ready().await.unwrap();
        waiting.await.unwrap();
        buffer.set_live(false);
        buffer.finish(
            EndReason::AuthRejected,
            Some(Error::AuthRejected {
                signal: crate::AuthSignal::CloseCode(4403),
                reason: String::new(),
            }),
        );
        assert!(matches!(
            sub.ready().await,
            Err(Error::AuthRejected {
                signal: crate::AuthSignal::CloseCode(4403),
                ..
            })
        ));
    }

    #[tokio::test]
    async fn dropping_unsubscribes() {
        let (sub, _buffer, mut rx) = subscription(3);
        drop(sub);
        assert!(matches!(rx.recv().await, Some(Command::Unsubscribe { id }) if id == "1"));
    }
}
