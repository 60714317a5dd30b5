//! What the connection task does in every state: connection attempts, waiting (idle, or the
//! backoff before a reconnect), and acting on commands and finished catch-ups.

use std::time::Duration;

use tracing::{Instrument, info_span};

use crate::error::Error;
use crate::handshake;
use crate::link::Link;
use crate::protocol;
use crate::subscription::EndReason;

use super::{Attempt, Command, Flow, Supervisor, Wake};

impl Supervisor {
    /// One connection attempt, taking commands while it runs.
    pub(super) async fn attempt(&mut self, attempt: u32) -> Attempt {
        let span = info_span!("connect", url = %self.config.ws_url, attempt);
        // Boxed: connecting (TCP, WebSocket handshake, ack) needs a large future only while it
        // runs, and unboxed it would size every idle connection's task.
        let mut connecting = Box::pin(handshake::establish(self.config.clone()).instrument(span));
        loop {
            tokio::select! {
                result = &mut connecting => return match result {
                    Ok(link) => Attempt::Connected(Box::new(link)),
                    Err(error) => Attempt::Failed(error),
                },
                wake = self.next_wake() => match self.on_wake(wake, None).await {
                    Flow::Stop => return Attempt::Stopped,
                    Flow::Continue | Flow::Lost(_) => {}
                },
            }
        }
    }

    /// A lazy client without subscriptions: takes commands until one subscribes. `Break` means
    /// the task should end.
    pub(super) async fn idle(&mut self) -> std::ops::ControlFlow<()> {
        loop {
            let wake = self.next_wake().await;
            if let Flow::Stop = self.on_wake(wake, None).await {
                return std::ops::ControlFlow::Break(());
            }
            if !self.table.is_empty() {
                return std::ops::ControlFlow::Continue(());
            }
        }
    }

    /// Sleeps for the backoff while taking commands. `Break` means the task should end.
    pub(super) async fn wait(&mut self, delay: Duration) -> std::ops::ControlFlow<()> {
        let sleep = tokio::time::sleep(delay);
        tokio::pin!(sleep);
        loop {
            tokio::select! {
                () = &mut sleep => return std::ops::ControlFlow::Continue(()),
                wake = self.next_wake() => if let Flow::Stop = self.on_wake(wake, None).await {
                    return std::ops::ControlFlow::Break(());
                },
            }
        }
    }

    pub(super) async fn next_wake(&mut self) -> Wake {
        tokio::select! {
            command = self.commands.recv() => Wake::Command(command),
            done = self.recovery.next() => Wake::CaughtUp(done),
        }
    }

    /// Acts on a command or a finished catch-up; `link` is the socket when connected.
    pub(super) async fn on_wake(&mut self, wake: Wake, link: Option<&mut Link>) -> Flow {
        let command = match wake {
            Wake::CaughtUp(done) => {
                self.recovery.finish(&mut self.table, done);
                return Flow::Continue;
            }
            Wake::Command(command) => command,
        };
        match command {
            None => {
                // Every client handle and subscription is gone; nobody reads the streams.
                if let Some(link) = link {
                    self.close(link, "client dropped").await;
                }
                self.table.finish_all(EndReason::Dropped, None);
                self.closed(None);
                Flow::Stop
            }
            Some(Command::Shutdown { done }) => {
                if let Some(link) = link {
                    self.close(link, "client shut down").await;
                }
                self.table
                    .finish_all(EndReason::Shutdown, Some(&Error::Shutdown));
                let _ = self.stats.ended.set(Error::Shutdown);
                self.closed(None);
                let _ = done.send(());
                Flow::Stop
            }
            Some(Command::Subscribe {
                id,
                payload,
                sink,
                catchup,
            }) => {
                self.table
                    .insert(id.clone(), payload.clone(), sink, catchup.map(|c| *c));
                if let Some(outbox) = self.next_outbox.as_mut() {
                    outbox.push(protocol::subscribe(&id, &payload));
                }
                let Some(link) = link else {
                    // Sent with the others once connected.
                    return Flow::Continue;
                };
                self.last_subscribed = Some(id.clone());
                let sent = async {
                    link.send(protocol::subscribe(&id, &payload)).await?;
                    link.ping().await
                };
                match sent.await {
                    Ok(ping) => {
                        self.table.sent(&id, ping);
                        Flow::Continue
                    }
                    Err(error) => Flow::Lost(error),
                }
            }
            Some(Command::Room { id }) => {
                let now = self.recovery.now();
                if let Some(entry) = self.table.get_mut(&id)
                    && let Some(delivery) = entry.delivery.as_mut()
                {
                    delivery.on_room(now, entry.sink.depth());
                    self.recovery.drive(&mut self.table, &id);
                }
                Flow::Continue
            }
            Some(Command::Unsubscribe { id }) => {
                let removed = self.table.remove(&id).is_some();
                if let Some(outbox) = self.next_outbox.as_mut().filter(|_| removed) {
                    outbox.push(protocol::complete(&id));
                }
                match link {
                    Some(link) if removed => match link.send(protocol::complete(&id)).await {
                        Ok(()) => Flow::Continue,
                        Err(error) => Flow::Lost(error),
                    },
                    _ => Flow::Continue,
                }
            }
        }
    }

    /// Completes what is open and closes the socket with 1000.
    async fn close(&mut self, link: &mut Link, reason: &str) {
        for id in self.table.ids() {
            let _ = link.send(protocol::complete(&id)).await;
        }
        link.close(1000, reason).await;
    }
}
