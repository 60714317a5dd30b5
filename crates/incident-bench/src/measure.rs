//! The measurements.

use std::process::Stdio;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use futures::{SinkExt, StreamExt};
use incident_client::{IncidentClient, ReconnectPolicy, UpdateFilter};
use incident_devserver::DevServer;
use incident_devserver::model::{IncidentType, Severity};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

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

/// Events a second and events received.
#[derive(Debug, Clone, Copy)]
pub struct Rate {
    pub per_second: f64,
    pub events: usize,
}

pub(crate) type RawSocket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A bare graphql-transport-ws connection to the sender's `path`, subscribed once.
pub(crate) async fn raw_subscription(sender: &Sender, path: &str) -> Result<RawSocket> {
    let mut request = sender.url(path).into_client_request()?;
    request
        .headers_mut()
        .insert("Sec-WebSocket-Protocol", "graphql-transport-ws".parse()?);
    let (mut socket, _) = tokio_tungstenite::connect_async_with_config(request, None, true).await?;
    socket
        .send(Message::Text(r#"{"type":"connection_init"}"#.into()))
        .await?;
    let _ack = socket.next().await;
    socket
        .send(Message::Text(r#"{"type":"subscribe","id":"1","payload":{"query":"subscription { newIncidents { id } }"}}"#.into()))
        .await?;
    Ok(socket)
}

/// The next frame parsed into untyped JSON; `None` after `complete`.
async fn next_untyped(socket: &mut RawSocket) -> Result<Option<serde_json::Value>> {
    while let Some(message) = socket.next().await {
        let Message::Text(text) = message? else {
            continue;
        };
        let value: serde_json::Value = serde_json::from_str(&text)?;
        if value["type"] == "complete" {
            return Ok(None);
        }
        return Ok(Some(value));
    }
    Ok(None)
}

/// Microseconds since a send time (Unix nanoseconds) carried as `t=NANOS`.
fn since_sent(title: &str) -> Result<f64> {
    let now = SystemTime::now().duration_since(UNIX_EPOCH)?.as_nanos();
    let sent: u128 = title.trim_start_matches("t=").parse()?;
    Ok(now.saturating_sub(sent) as f64 / 1000.0)
}

/// The latency floor: the same timed frames read by the hand-written typed reader, in
/// microseconds, sorted.
pub async fn latency_typed_reader(sender: &Sender, events: usize, rate: f64) -> Result<Vec<f64>> {
    let mut socket = raw_subscription(sender, &format!("rate/{rate}/{events}")).await?;
    let mut samples = Vec::with_capacity(events);
    while let Some(message) = socket.next().await {
        let Message::Text(text) = message? else {
            continue;
        };
        match crate::readers::decode_typed(&text)? {
            Some(incident) => samples.push(since_sent(&incident.title)?),
            None => break,
        }
    }
    samples.sort_by(|a, b| a.total_cmp(b));
    Ok(samples)
}

/// Microseconds from the sender's write to the caller's `next()`, sorted.
pub async fn latency(sender: &Sender, events: usize, rate: f64) -> Result<Vec<f64>> {
    let client = IncidentClient::builder(sender.url(&format!("rate/{rate}/{events}")))
        .connect()
        .await?;
    let mut stream = client.new_incidents(None)?;
    let mut samples = Vec::with_capacity(events);
    while let Some(item) = stream.next().await {
        samples.push(since_sent(&item?.title)?);
    }
    client.shutdown().await;
    samples.sort_by(|a, b| a.total_cmp(b));
    Ok(samples)
}

/// Memory growth per item, in bytes.
#[derive(Debug, Clone, Copy)]
pub struct Memory {
    /// Resident set size: what the operating system charges, in 4 KiB pages.
    pub rss: f64,
    /// Live heap bytes, counted by the allocator: exact, whatever the count.
    pub heap: f64,
}

/// Live heap bytes of this process: allocated less freed, since start.
pub(crate) fn heap() -> i64 {
    let stats = crate::GLOBAL.stats();
    stats.bytes_allocated as i64 - stats.bytes_deallocated as i64
}

/// Memory of this process at one moment, to measure growth from.
struct Snapshot {
    rss: u64,
    heap: i64,
}

impl Snapshot {
    fn take() -> Result<Snapshot> {
        Ok(Snapshot {
            rss: rss()?,
            heap: heap(),
        })
    }

    /// Growth since this snapshot, per item of `count`.
    fn growth_per(&self, count: usize) -> Result<Memory> {
        let now = Snapshot::take()?;
        Ok(Memory {
            rss: now.rss.saturating_sub(self.rss) as f64 / count as f64,
            heap: (now.heap - self.heap) as f64 / count as f64,
        })
    }
}

/// Resident memory of this process, in bytes.
pub(crate) fn rss() -> Result<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm")?;
    let pages: u64 = statm.split_whitespace().nth(1).context("statm")?.parse()?;
    Ok(pages * 4096)
}

/// Lets allocations settle before reading RSS.
pub(crate) async fn settle() {
    tokio::time::sleep(Duration::from_millis(300)).await;
}

/// Memory growth per idle `new_incidents` subscription, `count` of them on one connection.
pub async fn memory_per_subscription(addr: &str, count: usize) -> Result<Memory> {
    let client = IncidentClient::builder(format!("ws://{addr}/idle"))
        .connect()
        .await?;
    // Warm up the code paths and allocator pools with one subscription like the measured ones,
    // dropped again: what it kept (the stored operation, say) is released and paid again below.
    drop(client.new_incidents(None)?);
    settle().await;
    let before = Snapshot::take()?;
    let subscriptions: Vec<_> = (0..count)
        .map(|_| client.new_incidents(None))
        .collect::<Result<_, _>>()?;
    settle().await;
    let memory = before.growth_per(count)?;
    drop(subscriptions);
    client.shutdown().await;
    Ok(memory)
}

/// Memory growth per extra connection, `count` clients with one idle subscription each.
pub async fn memory_per_connection(addr: &str, count: usize) -> Result<Memory> {
    let url = format!("ws://{addr}/idle");
    // One connection like the measured ones first, kept: the figure is per extra connection.
    let warm = IncidentClient::builder(url.as_str()).connect().await?;
    let _warm_subscription = warm.new_incidents(None)?;
    settle().await;
    let before = Snapshot::take()?;
    let mut clients = Vec::with_capacity(count);
    for _ in 0..count {
        let client = IncidentClient::builder(url.as_str()).connect().await?;
        let subscription = client.new_incidents(None)?;
        clients.push((client, subscription));
    }
    settle().await;
    let memory = before.growth_per(count)?;
    for (client, _) in &clients {
        client.shutdown().await;
    }
    warm.shutdown().await;
    Ok(memory)
}

/// The same for the bare reader: a tokio-tungstenite connection with its default configuration,
/// subscribed once, read by its own task, as a hand-written client (the seed's Rust example) holds it.
pub async fn memory_per_bare_connection(addr: &str, count: usize) -> Result<Memory> {
    let sender = Sender::at(addr);
    let hold = |socket: RawSocket| {
        tokio::spawn(async move {
            let mut socket = socket;
            while let Ok(Some(_)) = next_untyped(&mut socket).await {}
        })
    };
    let warm = hold(raw_subscription(&sender, "idle").await?);
    settle().await;
    let before = Snapshot::take()?;
    let mut readers = Vec::with_capacity(count);
    for _ in 0..count {
        readers.push(hold(raw_subscription(&sender, "idle").await?));
    }
    settle().await;
    let memory = before.growth_per(count)?;
    for reader in readers {
        reader.abort();
    }
    warm.abort();
    Ok(memory)
}

/// Time from the server serving again after a restart to the first event on the resubscribed
/// stream, with the default reconnect policy; events are produced every 5 ms throughout.
pub async fn reconnect() -> Result<Duration> {
    let server = DevServer::builder().start().await?;
    let client = IncidentClient::builder(server.ws_url())
        .token(server.mint_token("bench", Duration::from_secs(600)))
        .reconnect(ReconnectPolicy::default())
        .connect()
        .await?;
    let mut updates = client.incident_updates(UpdateFilter::default())?;
    updates.ready().await?;
    let producer = {
        let server = server.clone();
        tokio::spawn(async move {
            loop {
                let _ = server.store().create_incident(
                    "bench",
                    "tick",
                    "",
                    Severity::P3,
                    IncidentType::Data,
                    vec![],
                    vec![],
                    "bench",
                );
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
    };
    updates.next().await;
    server.restart(Duration::from_millis(100)).await?;
    let back = Instant::now();
    let back_at = chrono::Utc::now();
    loop {
        match tokio::time::timeout(Duration::from_secs(30), updates.next()).await? {
            // Updates from before the restart may still be queued: the figure is to the first
            // one the server produced after it was back.
            Some(Ok(update)) if update.timestamp >= back_at => break,
            Some(Ok(_)) => continue,
            Some(Err(error)) if error.is_recoverable() => continue,
            other => bail!("the stream ended during the restart: {other:?}"),
        }
    }
    let elapsed = back.elapsed();
    producer.abort();
    client.shutdown().await;
    server.shutdown().await;
    Ok(elapsed)
}

/// Events a second the dev server delivers to `subscribers` subscribers (100 per connection).
pub async fn fanout(subscribers: usize, events: usize) -> Result<Rate> {
    let server = DevServer::builder()
        .event_capacity(events * 2 + 64)
        .start()
        .await?;
    let token = server.mint_token("bench", Duration::from_secs(600));
    let mut clients = Vec::new();
    let mut streams = Vec::new();
    for n in 0..subscribers {
        if n % 100 == 0 {
            clients.push(
                IncidentClient::builder(server.ws_url())
                    .token(token.clone())
                    .connect()
                    .await?,
            );
        }
        let client = clients.last().expect("one client per 100 subscribers");
        streams.push(client.incident_updates(UpdateFilter::default())?);
    }
    for stream in &streams {
        stream.ready().await?;
    }
    let started = Instant::now();
    for _ in 0..events {
        server.store().create_incident(
            "bench",
            "fan-out",
            "",
            Severity::P2,
            IncidentType::Data,
            vec![],
            vec![],
            "bench",
        )?;
    }
    let readers: Vec<_> = streams
        .into_iter()
        .map(|mut stream| {
            tokio::spawn(async move {
                let mut received = 0;
                while received < events {
                    match stream.next().await {
                        Some(Ok(_)) => received += 1,
                        Some(Err(error)) if error.is_recoverable() => {}
                        _ => break,
                    }
                }
                received
            })
        })
        .collect();
    let mut delivered = 0;
    for reader in readers {
        delivered += reader.await?;
    }
    let elapsed = started.elapsed();
    for client in &clients {
        client.shutdown().await;
    }
    server.shutdown().await;
    if delivered != subscribers * events {
        bail!("fan-out delivered {delivered} of {}", subscribers * events);
    }
    Ok(Rate {
        per_second: delivered as f64 / elapsed.as_secs_f64(),
        events: delivered,
    })
}

/// The results, as a Markdown table with goals.
#[derive(Debug, Default)]
pub struct Report {
    rows: Vec<[String; 4]>,
    /// The throughput readers' table.
    readers: Vec<[String; 6]>,
}

impl Report {
    fn row(&mut self, what: String, value: String, goal: &str, verdict: String) {
        self.rows.push([what, value, goal.to_owned(), verdict]);
    }

    /// The readers side by side on one runtime: CPU per event (median and range of the rounds),
    /// its ratio to the hand-written typed reader's, and events a second; then the goal row.
    pub fn throughput(&mut self, runtime: &str, runs: &[(Reader, Vec<Run>)]) {
        let cpu = |runs: &[Run]| {
            let per_event: Vec<f64> = runs.iter().map(Run::cpu_per_event_us).collect();
            let low = per_event.iter().copied().fold(f64::INFINITY, f64::min);
            let high = per_event.iter().copied().fold(0.0, f64::max);
            (median(per_event), low, high)
        };
        let typed = runs
            .iter()
            .find(|(reader, _)| *reader == Reader::Typed)
            .map(|(_, runs)| cpu(runs).0)
            .unwrap_or(f64::NAN);
        for (reader, rounds) in runs {
            let (median_cpu, low, high) = cpu(rounds);
            let rate = median(rounds.iter().map(Run::per_second).collect());
            let wall = median(rounds.iter().map(|r| r.wall_s).collect());
            self.readers.push([
                runtime.to_owned(),
                reader.describe().to_owned(),
                format!("{median_cpu:.2} us ({low:.2} to {high:.2})"),
                if *reader == Reader::Frames {
                    "-".to_owned()
                } else {
                    format!("{:.2}x", median_cpu / typed)
                },
                format!("{rate:.0}"),
                format!("{wall:.3} s"),
            ]);
        }
        if let Some((_, sdk)) = runs.iter().find(|(reader, _)| *reader == Reader::Sdk) {
            let ratio = cpu(sdk).0 / typed;
            let goal = if runtime == "current-thread" {
                1.1
            } else {
                1.3
            };
            self.row(
                format!(
                    "SDK CPU per event vs the hand-written typed reader, {runtime} ({} events a round, median of {} rounds)",
                    sdk[0].events,
                    sdk.len()
                ),
                format!("{ratio:.2}x"),
                &format!("<= {goal}x"),
                verdict(ratio <= goal),
            );
        }
    }

    /// Latency rows from rounds of sorted samples: each quantile is the median of the rounds'.
    pub fn latency(
        &mut self,
        rate: f64,
        placement: &str,
        typed: &[Vec<f64>],
        untyped: &[Vec<f64>],
    ) {
        let at = |rounds: &[Vec<f64>], q: f64| {
            median(
                rounds
                    .iter()
                    .map(|samples| {
                        samples[((samples.len() as f64 * q) as usize).min(samples.len() - 1)]
                    })
                    .collect(),
            )
        };
        let quantiles = |rounds: &[Vec<f64>]| {
            format!(
                "p50 {:.0} us, p99 {:.0} us, p99.9 {:.0} us",
                at(rounds, 0.5),
                at(rounds, 0.99),
                at(rounds, 0.999)
            )
        };
        let samples = format!(
            "median of {} rounds of {} samples",
            typed.len(),
            typed[0].len()
        );
        self.row(
            format!(
                "latency floor: hand-written typed reader {placement}, send -> decoded at {rate:.0} events/s ({samples})"
            ),
            quantiles(untyped),
            "floor to compare with",
            "-".into(),
        );
        self.row(
            format!(
                "SDK latency: caller {placement}, send -> `next()` at {rate:.0} events/s ({samples})"
            ),
            format!(
                "{} (p50 {:.2}x, p99 {:.2}x the typed reader's)",
                quantiles(typed),
                at(typed, 0.5) / at(untyped, 0.5),
                at(typed, 0.99) / at(untyped, 0.99)
            ),
            "p50 <= 1.1x typed reader, p99 < 1 ms",
            verdict(at(typed, 0.5) <= 1.1 * at(untyped, 0.5) && at(typed, 0.99) < 1000.0),
        );
    }

    /// RSS of one connection with one idle subscription, the typed reader's and the SDK's.
    pub fn idle_rss(&mut self, measured: &[(Reader, (u64, u64, i64))]) {
        let mib = |bytes: u64| bytes as f64 / (1024.0 * 1024.0);
        let growth = |(start, after): (u64, u64)| after.saturating_sub(start);
        let typed = measured
            .iter()
            .find(|(r, _)| *r == Reader::Typed)
            .map(|(_, (start, after, _))| growth((*start, *after)));
        for (reader, (start, after, heap)) in measured {
            let ratio = match (typed, *reader) {
                (Some(typed), Reader::Sdk) if typed > 0 => format!(
                    "; {:.2}x the typed reader's growth",
                    growth((*start, *after)) as f64 / typed as f64
                ),
                _ => String::new(),
            };
            self.row(
                format!(
                    "RSS of a process with 1 connection and 1 idle subscription: {}",
                    reader.describe()
                ),
                format!(
                    "{:.1} MiB at start (code and runtime, same binary), {:.1} MiB after (+{:.0} KiB{ratio}), of which live heap {:.0} KiB",
                    mib(*start),
                    mib(*after),
                    growth((*start, *after)) as f64 / 1024.0,
                    *heap as f64 / 1024.0
                ),
                "measured, no goal",
                "-".into(),
            );
        }
    }

    pub fn memory_subscriptions(&mut self, count: usize, memory: Memory) {
        self.memory(
            format!("memory per idle subscription, {count} on one connection"),
            memory,
            1024.0,
            "< 1 KB",
        );
    }

    pub fn memory_connections(&mut self, count: usize, sdk: Memory, bare: Memory) {
        self.row(
            format!("baseline: bare tokio-tungstenite connection (default configuration), {count} connections"),
            format!("RSS {:.1} KB, heap {:.1} KB", bare.rss / 1024.0, bare.heap / 1024.0),
            "floor to compare with",
            "-".into(),
        );
        self.memory(
            format!("memory per extra connection, {count} connections"),
            sdk,
            50.0 * 1024.0,
            "< 50 KB",
        );
        if let Some(row) = self.rows.last_mut() {
            row[1].push_str(&format!(" (heap {:.2}x baseline)", sdk.heap / bare.heap));
        }
    }

    /// A memory row, judged on both RSS and live heap bytes; RSS moves in 4 KiB pages, so at small
    /// counts only the heap figure can resolve the goal.
    fn memory(&mut self, what: String, memory: Memory, goal: f64, goal_text: &str) {
        let bytes = |b: f64| {
            if goal >= 10_240.0 {
                format!("{:.1} KB", b / 1024.0)
            } else {
                format!("{b:.0} B")
            }
        };
        let met = match (memory.rss < goal, memory.heap < goal) {
            (true, true) => "yes".to_owned(),
            (false, true) => "heap yes, RSS **no**".to_owned(),
            (true, false) => "RSS yes, heap **no**".to_owned(),
            (false, false) => "**no**".to_owned(),
        };
        self.row(
            what,
            format!("RSS {}, heap {}", bytes(memory.rss), bytes(memory.heap)),
            goal_text,
            met,
        );
    }

    pub fn reconnect(&mut self, samples: &[Duration]) {
        let mut sorted = samples.to_vec();
        sorted.sort();
        let median = sorted[sorted.len() / 2];
        let worst = *sorted.last().expect("at least one restart");
        self.row(
            format!(
                "server restart -> first event on the resubscribed stream ({} restarts)",
                samples.len()
            ),
            format!(
                "median {} ms, worst {} ms",
                median.as_millis(),
                worst.as_millis()
            ),
            "< 1 s",
            verdict(worst < Duration::from_secs(1)),
        );
    }

    pub fn fanout(&mut self, subscribers: usize, rate: Rate) {
        self.row(
            format!(
                "dev server fan-out to {subscribers} subscribers ({} deliveries)",
                rate.events
            ),
            format!("{:.0} events/s delivered", rate.per_second),
            "measured, no goal",
            "-".into(),
        );
    }

    pub fn markdown(&self, quick: bool) -> String {
        let mut out = String::new();
        if quick {
            out.push_str("(quick mode: small sizes and a debug build; these numbers are not the documented ones)\n\n");
        }
        if !self.readers.is_empty() {
            out.push_str("| runtime | reader | CPU per event (median, range) | vs typed reader | events/s | wall |\n|---|---|---|---|---|---|\n");
            for row in &self.readers {
                out.push_str(&format!("| {} |\n", row.join(" | ")));
            }
            out.push('\n');
        }
        out.push_str("| measurement | result | goal | met |\n|---|---|---|---|\n");
        for [what, value, goal, met] in &self.rows {
            out.push_str(&format!("| {what} | {value} | {goal} | {met} |\n"));
        }
        out
    }
}

/// The middle value (the upper one of an even count).
fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(|a, b| a.total_cmp(b));
    values[values.len() / 2]
}

fn verdict(met: bool) -> String {
    if met { "yes".into() } else { "**no**".into() }
}
