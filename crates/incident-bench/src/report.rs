//! The results, as Markdown tables with goals.

use std::time::Duration;

use crate::measure::{Memory, Rate};
use crate::paced::PacedRun;
use crate::readers::{Reader, Run};

/// The results, as a Markdown table with goals.
#[derive(Debug, Default)]
pub struct Report {
    rows: Vec<[String; 4]>,
    /// The throughput readers' table.
    readers: Vec<[String; 6]>,
    /// The server-paced readers' table.
    paced: Vec<[String; 7]>,
}

impl Report {
    fn row(&mut self, what: String, value: String, goal: &str, verdict: String) {
        self.rows.push([what, value, goal.to_owned(), verdict]);
    }

    /// The readers side by side on one runtime: CPU per event (median and range of the rounds),
    /// its ratio to the hand-written typed reader's, and events a second; then the goal row.
    pub fn throughput(&mut self, runtime: &str, runs: &[(Reader, Vec<Run>)]) {
        let cpu = |runs: &[Run]| spread(runs.iter().map(Run::cpu_per_event_us).collect());
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

    /// The JSON parsers on this stream's payload, fastest first.
    pub fn decoders(&mut self, results: &[(&str, f64)]) {
        let serde_json = results
            .iter()
            .find(|(name, _)| *name == "serde_json")
            .map_or(f64::NAN, |r| r.1);
        let figures: Vec<String> = results
            .iter()
            .map(|(name, ns)| format!("{name} {ns:.0} ns ({:.2}x)", ns / serde_json))
            .collect();
        let fastest = results.first().map_or("?", |r| r.0);
        self.row(
            "decoding one payload into `GraphQlResponse<NewIncidents>` (best of 5 passes over 50,000 payloads), fastest first".into(),
            figures.join(", "),
            "a parser faster than serde_json for the fast path",
            if fastest == "serde_json" { "**no**: serde_json is fastest here".into() } else { format!("yes: {fastest}") },
        );
    }

    /// The server-paced readers on one runtime and regime: CPU per event and p50/p99 latency
    /// (median and range of the rounds), CPU against the typed reader's; then the goal rows.
    pub fn paced(&mut self, regime: &str, runtime: &str, runs: &[(Reader, Vec<PacedRun>)]) {
        let cpu =
            |rounds: &[PacedRun]| spread(rounds.iter().map(|r| r.run.cpu_per_event_us()).collect());
        let p50 = |rounds: &[PacedRun]| spread(rounds.iter().map(|r| r.p50).collect());
        let p99 = |rounds: &[PacedRun]| spread(rounds.iter().map(|r| r.p99).collect());
        let of = |wanted: Reader| {
            runs.iter()
                .find(|(reader, _)| *reader == wanted)
                .map(|(_, r)| r.as_slice())
        };
        let typed_cpu = of(Reader::Typed).map(|r| cpu(r).0).unwrap_or(f64::NAN);
        for (reader, rounds) in runs {
            let (c, cl, ch) = cpu(rounds);
            let (l, ll, lh) = p50(rounds);
            let (n, nl, nh) = p99(rounds);
            self.paced.push([
                regime.to_owned(),
                runtime.to_owned(),
                reader.describe().to_owned(),
                format!("{c:.2} us ({cl:.2} to {ch:.2})"),
                if *reader == Reader::Frames {
                    "-".to_owned()
                } else {
                    format!("{:.2}x", c / typed_cpu)
                },
                format!("{l:.0} us ({ll:.0} to {lh:.0})"),
                format!("{n:.0} us ({nl:.0} to {nh:.0})"),
            ]);
        }
        let (Some(sdk), Some(typed), Some(gws)) =
            (of(Reader::Sdk), of(Reader::Typed), of(Reader::GraphqlWs))
        else {
            return;
        };
        let ratio = cpu(sdk).0 / typed_cpu;
        self.row(
            format!("server-paced ({regime}), {runtime}: SDK CPU per event vs the typed reader (median of {} rounds)", sdk.len()),
            format!("{ratio:.2}x"),
            "<= 1.1x",
            verdict(ratio <= 1.1),
        );
        let (sdk_cpu, gws_cpu) = (cpu(sdk).0, cpu(gws).0);
        self.row(
            format!("server-paced ({regime}), {runtime}: SDK CPU per event vs graphql-ws-client's"),
            format!("{sdk_cpu:.2} us vs {gws_cpu:.2} us"),
            "below",
            verdict(sdk_cpu < gws_cpu),
        );
        if regime != "one frame per write" {
            // Latency: every round, not only the median.
            let worst = sdk
                .iter()
                .zip(typed)
                .map(|(s, t)| s.p50 / t.p50)
                .fold(0.0, f64::max);
            self.row(
                format!("server-paced ({regime}), {runtime}: SDK p50 latency vs the typed reader's, worst round of {}", sdk.len()),
                format!("{worst:.2}x"),
                "<= 1.1x in every round",
                verdict(worst <= 1.1),
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
        if !self.paced.is_empty() {
            out.push_str("| server-paced regime | runtime | reader | CPU per event (median, range) | vs typed reader | p50 latency | p99 latency |\n|---|---|---|---|---|---|---|\n");
            for row in &self.paced {
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

/// The median, lowest and highest of `values`.
fn spread(values: Vec<f64>) -> (f64, f64, f64) {
    let low = values.iter().copied().fold(f64::INFINITY, f64::min);
    let high = values.iter().copied().fold(0.0, f64::max);
    (median(values), low, high)
}

/// The middle value (the upper one of an even count).
fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(|a, b| a.total_cmp(b));
    values[values.len() / 2]
}

fn verdict(met: bool) -> String {
    if met { "yes".into() } else { "**no**".into() }
}
