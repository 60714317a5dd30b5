//! What the tests share: the binary and the commands built from it, a running watcher, the dev
//! server as a process, and how long to wait for a condition.

use std::process::Stdio;
use std::time::Duration;

use incident_devserver::DevServerHandle;
use incident_devserver::model::{IncidentType, Severity};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader, Lines};
use tokio::process::{Child, ChildStderr, ChildStdout, Command};

/// How long a test waits for a condition before failing. Generous, for a loaded machine with
/// two cores running these tests in parallel; a passing test never waits it out.
pub const WAIT: Duration = Duration::from_secs(40);

/// How often [`until`] looks again, for conditions that cannot be awaited (a file, an HTTP
/// endpoint, another process's log).
const POLL: Duration = Duration::from_millis(20);

/// The `incident` binary, killed when the handle is dropped (a failing test leaves nothing
/// running).
pub fn bin() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_incident"));
    command.kill_on_drop(true);
    command
}

/// `incident ARGS` against `server`: its URL in `WS_URL`, a token it accepts in `AUTH_TOKEN`,
/// warnings only on stderr, stdout and stderr piped.
pub fn incident(server: &DevServerHandle, args: &[&str]) -> Command {
    let token = server.mint_token("cli-tests", Duration::from_secs(600));
    incident_at(&server.ws_url(), &token, args)
}

/// `incident ARGS` against the server at `ws_url` with `token`, as [`incident`] sets it up.
pub fn incident_at(ws_url: &str, token: &str, args: &[&str]) -> Command {
    let mut command = bin();
    command
        .args(args)
        .env("WS_URL", ws_url)
        .env("AUTH_TOKEN", token)
        .env("LOG_LEVEL", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

/// `incident ARGS` with an empty environment (but PATH), so the developer's own variables cannot
/// change what a test sees.
pub fn bare(args: &[&str]) -> Command {
    let mut command = bin();
    command
        .args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default());
    command
}

/// Opens an incident of `severity` titled `title` on `server`; returns its id.
pub fn open(server: &DevServerHandle, title: &str, severity: Severity) -> String {
    server
        .store()
        .create_incident(
            "cli",
            title,
            "d",
            severity,
            IncidentType::Application,
            vec![],
            vec![],
            "cli",
        )
        .unwrap()
        .id
        .to_string()
}

/// Waits until the server has the watcher's subscriptions, one to each of `fields`.
pub async fn settle(server: &DevServerHandle, fields: &[&str]) {
    let live = server
        .wait_for(WAIT, |s| fields.iter().all(|f| s.subscribers(f) >= 1))
        .await;
    assert!(live, "the watcher never subscribed to {fields:?}");
}

/// Polls `probe` until it gives a value, failing after [`WAIT`] with `what` was awaited.
pub async fn until<T>(what: &str, mut probe: impl AsyncFnMut() -> Option<T>) -> T {
    let found = tokio::time::timeout(WAIT, async {
        let mut poll = tokio::time::interval(POLL);
        loop {
            poll.tick().await;
            if let Some(found) = probe().await {
                return found;
            }
        }
    })
    .await;
    found.unwrap_or_else(|_| panic!("waited {WAIT:?} for {what}"))
}

/// A running `incident` whose stdout the test reads line by line.
pub struct Running {
    pub child: Child,
    pub lines: Lines<BufReader<ChildStdout>>,
}

impl Running {
    /// Spawns `command` (its stdout must be piped).
    pub fn start(mut command: Command) -> Running {
        let mut child = command.spawn().unwrap();
        let lines = BufReader::new(child.stdout.take().unwrap()).lines();
        Running { child, lines }
    }

    /// Spawns `command` (stdout and stderr piped), also handing back its stderr's lines.
    pub fn start_with_stderr(mut command: Command) -> (Running, Lines<BufReader<ChildStderr>>) {
        let mut child = command.spawn().unwrap();
        let stderr = BufReader::new(child.stderr.take().unwrap()).lines();
        let lines = BufReader::new(child.stdout.take().unwrap()).lines();
        (Running { child, lines }, stderr)
    }

    /// The next line it prints, as JSON.
    pub async fn json_line(&mut self) -> Value {
        let line = tokio::time::timeout(WAIT, self.lines.next_line())
            .await
            .expect("a line within the wait")
            .unwrap()
            .expect("output");
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"))
    }

    /// Sends SIGINT, reads stdout to its end, and returns how it exited.
    pub async fn interrupt(mut self) -> std::process::Output {
        signal(&self.child, "-INT");
        while let Ok(Some(_)) = tokio::time::timeout(WAIT, self.lines.next_line())
            .await
            .expect("stdout closes once the process ends")
        {}
        tokio::time::timeout(WAIT, self.child.wait_with_output())
            .await
            .expect("the process ends after SIGINT")
            .unwrap()
    }
}

/// Sends `child` a signal, such as `-INT` or `-KILL`, with kill(1).
pub fn signal(child: &Child, which: &str) {
    let pid = child.id().expect("still running").to_string();
    let status = std::process::Command::new("kill")
        .args([which, &pid])
        .status()
        .unwrap();
    assert!(status.success(), "kill {which} {pid}");
}

/// Starts `incident serve` with `args` and returns it with the HTTP and WebSocket URLs it
/// printed.
#[cfg(feature = "devserver")]
pub async fn serve(args: &[&str]) -> (Child, String, String) {
    let mut child = bin()
        .arg("serve")
        .args(args)
        .env("LOG_LEVEL", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap()).lines();
    let line = tokio::time::timeout(WAIT, async {
        while let Some(line) = stderr.next_line().await.unwrap() {
            if line.starts_with("serving ") {
                return line;
            }
        }
        panic!("incident serve ended without serving");
    })
    .await
    .expect("incident serve starts");
    let words: Vec<&str> = line.split(' ').collect();
    (
        child,
        words[1].to_owned(),
        words[3].trim_end_matches(';').to_owned(),
    )
}

/// GETs `url`, returning the status and body.
pub async fn get(url: &str) -> (u16, String) {
    let response = reqwest::get(url).await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

/// The `http://ADDR` a watcher with `--metrics-addr` says on stderr that it serves.
pub async fn metrics_base(stderr: &mut Lines<BufReader<ChildStderr>>) -> String {
    tokio::time::timeout(WAIT, async {
        while let Some(line) = stderr.next_line().await.unwrap() {
            if let Some(rest) = line.strip_prefix("metrics: ") {
                let url = rest.split(' ').next().unwrap();
                return url.trim_end_matches("/metrics").to_owned();
            }
        }
        panic!("the watcher ended without serving metrics");
    })
    .await
    .expect("the metrics address on stderr")
}
