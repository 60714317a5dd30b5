//! The processes measurements run in: the sender's (whose work and memory are not counted) and
//! fresh ones of this binary (so allocator and runtime state cannot leak between measurements),
//! and bare graphql-transport-ws connections to the sender.

use std::process::Stdio;

use anyhow::{Context, Result, bail};
use futures::{SinkExt, StreamExt};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

use super::memory::Memory;
use crate::readers::{Reader, Run};

/// The sender, running in its own process so its work and memory are not counted. Clones share
/// the process, which ends when the last one is dropped.
#[derive(Clone)]
pub struct Sender {
    _child: Option<std::sync::Arc<Child>>,
    addr: String,
}

impl Sender {
    pub async fn spawn() -> Result<Sender> {
        let mut child = Command::new(std::env::current_exe()?)
            .arg("--sender")
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()?;
        let stdout = child.stdout.take().context("sender stdout")?;
        let addr = BufReader::new(stdout)
            .lines()
            .next_line()
            .await?
            .context("the sender printed no address")?;
        Ok(Sender {
            _child: Some(std::sync::Arc::new(child)),
            addr,
        })
    }

    /// A handle on a sender another process started, for measurements in fresh processes.
    pub(crate) fn at(addr: &str) -> Sender {
        Sender {
            _child: None,
            addr: addr.to_owned(),
        }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("ws://{}/{path}", self.addr)
    }

    /// Runs `reader` over `/flood/events` in a new process of this binary, on the current-thread
    /// runtime or the multi-thread one.
    pub async fn reader_process(
        &self,
        reader: Reader,
        current_thread: bool,
        events: usize,
    ) -> Result<Run> {
        let events = events.to_string();
        let mut args = vec!["--reader", reader.name(), &self.addr, &events];
        if current_thread {
            args.push("--current-thread");
        }
        match fresh_process(&args).await?[..] {
            [events, wall_s, cpu_s] => Ok(Run {
                events: events as usize,
                wall_s,
                cpu_s,
            }),
            _ => bail!(
                "the {} reader printed the wrong count of numbers",
                reader.name()
            ),
        }
    }

    /// Runs `reader` over `/rate/RATE/events` (RATE 0: one frame per write, as fast as the
    /// sender writes) in a new process; the run and the latency quantiles (p50, p99) in us.
    pub async fn paced_process(
        &self,
        reader: Reader,
        current_thread: bool,
        rate: f64,
        events: usize,
    ) -> Result<crate::paced::PacedRun> {
        let (rate, events) = (rate.to_string(), events.to_string());
        let mut args = vec!["--paced", reader.name(), &self.addr, &rate, &events];
        if current_thread {
            args.push("--current-thread");
        }
        match fresh_process(&args).await?[..] {
            [events, wall_s, cpu_s, p50, p99] => Ok(crate::paced::PacedRun {
                run: Run {
                    events: events as usize,
                    wall_s,
                    cpu_s,
                },
                p50,
                p99,
            }),
            _ => bail!(
                "the paced {} reader printed the wrong count of numbers",
                reader.name()
            ),
        }
    }

    /// RSS of a fresh process at start and with one idle connection and subscription by `reader`.
    pub async fn idle_rss_process(&self, reader: Reader) -> Result<(u64, u64, i64)> {
        match fresh_process(&["--idle-rss", reader.name(), &self.addr]).await?[..] {
            [start, after, heap] => Ok((start as u64, after as u64, heap as i64)),
            _ => bail!("--idle-rss printed the wrong count of numbers"),
        }
    }

    /// Runs a memory measurement in a new process of this binary and reads its answer.
    pub async fn in_fresh_process(&self, mode: &str, count: usize) -> Result<Memory> {
        match fresh_process(&[mode, &self.addr, &count.to_string()]).await?[..] {
            [rss, heap] => Ok(Memory { rss, heap }),
            _ => bail!("{mode} {count} printed the wrong count of numbers"),
        }
    }
}

/// Runs this binary with `args` in a new process and reads the numbers it prints.
async fn fresh_process(args: &[&str]) -> Result<Vec<f64>> {
    let output = Command::new(std::env::current_exe()?)
        .args(args)
        .output()
        .await?;
    let what = args.join(" ");
    if !output.status.success() {
        bail!("{what} failed: {}", String::from_utf8_lossy(&output.stderr));
    }
    let text = String::from_utf8(output.stdout)?;
    text.split_whitespace()
        .map(str::parse)
        .collect::<Result<_, _>>()
        .with_context(|| format!("{what} printed {text:?}"))
}

pub(crate) type RawSocket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A WebSocket to the sender's `path` with the graphql-transport-ws subprotocol, Nagle off.
pub(crate) async fn raw_socket(sender: &Sender, path: &str) -> Result<RawSocket> {
    let mut request = sender.url(path).into_client_request()?;
    request
        .headers_mut()
        .insert("Sec-WebSocket-Protocol", "graphql-transport-ws".parse()?);
    let (socket, _) = tokio_tungstenite::connect_async_with_config(request, None, true).await?;
    Ok(socket)
}

/// A bare graphql-transport-ws connection to the sender's `path`, subscribed once.
pub(crate) async fn raw_subscription(sender: &Sender, path: &str) -> Result<RawSocket> {
    let mut socket = raw_socket(sender, path).await?;
    socket
        .send(Message::Text(r#"{"type":"connection_init"}"#.into()))
        .await?;
    let _ack = socket.next().await;
    socket
        .send(Message::Text(r#"{"type":"subscribe","id":"1","payload":{"query":"subscription { newIncidents { id } }"}}"#.into()))
        .await?;
    Ok(socket)
}
