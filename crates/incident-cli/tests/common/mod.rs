//! Helpers shared by the CLI's test files.

#![allow(dead_code)]

use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// How long a test waits for a condition.
pub const WAIT: Duration = Duration::from_secs(15);

/// Starts `incident serve` with `args` and returns it with the HTTP and WebSocket URLs it
/// printed.
pub async fn serve(args: &[&str]) -> (Child, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_incident"))
        .arg("serve")
        .args(args)
        .env("LOG_LEVEL", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
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
