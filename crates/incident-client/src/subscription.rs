//! `Subscription<T>`: one GraphQL subscription as a `futures::Stream`, with a bounded buffer.
//!
//! The connection task never waits for a consumer: it pushes into the subscription's buffer and
//! moves on. When the buffer is full the oldest event is dropped and counted, and the consumer
//! receives [`Error::Lagged`] with the count before the next event. So a slow consumer costs at
//! most `capacity` events of memory and never stalls the socket, other subscriptions or keepalive.

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use futures::Stream;
use futures::task::AtomicWaker;
use incident_schema::{Timestamp, Uuid};
use tokio::sync::mpsc;

use crate::catchup::CatchupState;

use crate::connection::Command;
use crate::error::{Error, Result};
use crate::stats::StatsInner;

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
    /// The client was shut down.
    Shutdown,
    /// The subscription was dropped by its owner.
    Dropped,
}

/// A live GraphQL subscription. Yields `Ok(event)`s; see [`Error`] for the two non-terminal errors
/// ([`Error::Lagged`], [`Error::Gap`]) and the terminal ones. Ends with `None` after the server
/// completes it or after a terminal error. Dropping it unsubscribes (`complete` to the server).
pub struct Subscription<T> {
    id: String,
    buffer: Arc<Buffer<T>>,
    commands: mpsc::UnboundedSender<Command>,
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
        buffer: Arc<Buffer<T>>,
        commands: mpsc::UnboundedSender<Command>,
    ) -> Self {
        Self {
            id,
            buffer,
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

    /// How many events were dropped because this consumer fell behind, in total.
    pub fn dropped(&self) -> u64 {
        self.buffer.lock().dropped_total
    }
}

impl<T> Stream for Subscription<T> {
    type Item = Result<T>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let buffer = &self.buffer;
        buffer.waker.register(cx.waker());
        let mut state = buffer.lock();
        if state.dropped_pending > 0 {
            let dropped = std::mem::take(&mut state.dropped_pending);
            return Poll::Ready(Some(Err(Error::Lagged { dropped })));
        }
        if let Some(item) = state.items.pop_front() {
            return Poll::Ready(Some(item));
        }
        if state.end.is_some() {
            return Poll::Ready(None);
        }
        Poll::Pending
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

/// The state shared between a [`Subscription`] and the connection task.
pub(crate) struct Buffer<T> {
    state: Mutex<BufferState<T>>,
    waker: AtomicWaker,
    capacity: usize,
    stats: Arc<StatsInner>,
}

struct BufferState<T> {
    items: VecDeque<Result<T>>,
    dropped_pending: u64,
    dropped_total: u64,
    end: Option<EndReason>,
}

impl<T> Buffer<T> {
    pub(crate) fn new(capacity: usize, stats: Arc<StatsInner>) -> Self {
        Self {
            state: Mutex::new(BufferState {
                items: VecDeque::new(),
                dropped_pending: 0,
                dropped_total: 0,
                end: None,
            }),
            waker: AtomicWaker::new(),
            capacity: capacity.max(1),
            stats,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BufferState<T>> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Queues an item, dropping the oldest event if the buffer is full.
    pub(crate) fn push(&self, item: Result<T>) {
        let mut state = self.lock();
        if state.end.is_some() {
            return;
        }
        if state.items.len() >= self.capacity {
            // Drop the oldest event, never a terminal error (those are pushed with `finish`).
            if let Some(position) = state.items.iter().position(|i| i.is_ok()) {
                state.items.remove(position);
            } else {
                state.items.pop_front();
            }
            state.dropped_pending += 1;
            state.dropped_total += 1;
            self.stats.dropped.fetch_add(1, Ordering::Relaxed);
        }
        state.items.push_back(item);
        drop(state);
        self.waker.wake();
    }

    /// Ends the stream, after a final error if there is one.
    pub(crate) fn finish(&self, reason: EndReason, error: Option<Error>) {
        let mut state = self.lock();
        if state.end.is_some() {
            return;
        }
        if let Some(error) = error {
            state.items.push_back(Err(error));
        }
        state.end = Some(reason);
        drop(state);
        self.waker.wake();
    }
}

/// What the connection task needs from a subscription, whatever its item type.
pub(crate) trait Sink: Send + Sync {
    /// Decodes a raw `next` payload (`{data, errors}`) and queues the result, unless `catchup`
    /// says its incident was delivered already. Returns whether something was queued.
    fn push_payload(&self, payload: &str, catchup: Option<&mut CatchupState>) -> bool;
    /// Queues a non-terminal error.
    fn push_error(&self, error: Error);
    /// Ends the stream.
    fn finish(&self, reason: EndReason, error: Option<Error>);
    /// Whether the consumer has gone (dropped or ended).
    fn is_closed(&self) -> bool;
}

/// Turns a raw `next` payload into a subscription's item.
pub(crate) type Decoder<T> = Box<dyn Fn(&str) -> Result<T> + Send + Sync>;

/// Names the incident an item is about, and when it was created.
pub(crate) type IncidentOf<T> = fn(&T) -> (Uuid, Timestamp);

/// A [`Buffer`] with the function that turns a raw payload into its item, and for streams that
/// are caught up after reconnects, the function that names an item's incident.
pub(crate) struct TypedSink<T> {
    pub(crate) buffer: Arc<Buffer<T>>,
    pub(crate) decode: Decoder<T>,
    pub(crate) incident_of: Option<IncidentOf<T>>,
}

impl<T: Send> Sink for TypedSink<T> {
    fn push_payload(&self, payload: &str, catchup: Option<&mut CatchupState>) -> bool {
        self.buffer.stats.events.fetch_add(1, Ordering::Relaxed);
        let item = (self.decode)(payload);
        if let (Some(state), Ok(value), Some(incident_of)) = (catchup, &item, self.incident_of) {
            let (id, created) = incident_of(value);
            if !state.admit(id, created) {
                return false;
            }
        }
        self.buffer.push(item);
        true
    }

    fn push_error(&self, error: Error) {
        self.buffer.push(Err(error));
    }

    fn finish(&self, reason: EndReason, error: Option<Error>) {
        self.buffer.finish(reason, error);
    }

    fn is_closed(&self) -> bool {
        self.buffer.lock().end.is_some()
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
        Arc<Buffer<u32>>,
        mpsc::UnboundedReceiver<Command>,
    ) {
        let buffer = Arc::new(Buffer::new(capacity, Arc::default()));
        let (tx, rx) = mpsc::unbounded_channel();
        (
            Subscription::new("1".into(), buffer.clone(), tx),
            buffer,
            rx,
        )
    }

    #[tokio::test]
    async fn overflow_drops_the_oldest_and_reports_lag() {
        let (mut sub, buffer, _rx) = subscription(3);
        for n in 0..5 {
            buffer.push(Ok(n));
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
        buffer.push(Ok(1));
        buffer.finish(EndReason::Shutdown, Some(Error::Shutdown));
        buffer.push(Ok(2));
        assert_eq!(sub.next().await.unwrap().unwrap(), 1);
        assert!(matches!(sub.next().await, Some(Err(Error::Shutdown))));
        assert!(sub.next().await.is_none());
        assert_eq!(sub.end_reason(), Some(EndReason::Shutdown));
    }

    #[tokio::test]
    async fn dropping_unsubscribes() {
        let (sub, _buffer, mut rx) = subscription(3);
        drop(sub);
        assert!(matches!(rx.recv().await, Some(Command::Unsubscribe { id }) if id == "1"));
    }
}
