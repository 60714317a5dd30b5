//! The command line's conventions: shell completions, manual pages kept fresh, `INCIDENT_*`
//! environment names with the seed clients' and the `nats` CLI's names as aliases, and JSON logs.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use incident_devserver::{DevServer, DevServerHandle};
use serde_json::Value;
use tokio::process::Command;

use crate::common::{WAIT, bare};

/// Runs `command` to its end, within the wait.
async fn run(command: &mut Command) -> Output {
    tokio::time::timeout(WAIT, command.output())
        .await
        .expect("incident finishes")
        .unwrap()
}

/// `bytes` as text, for messages and matching.
fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test]
async fn completions_generate_for_bash_zsh_fish_and_powershell() {
    let bash = run(bare(&["completions", "bash"]).stdout(std::process::Stdio::piped())).await;
    assert!(bash.status.success(), "{}", text(&bash.stderr));
    let script =
        std::env::temp_dir().join(format!("incident-completion-{}.bash", std::process::id()));
    std::fs::write(&script, &bash.stdout).unwrap();
    // bash itself loads the script and registers the completion function.
    let registered = std::process::Command::new("bash")
        .arg("-c")
        .arg(format!(
            "source {} && complete -p incident",
            script.display()
        ))
        .output()
        .unwrap();
    std::fs::remove_file(&script).unwrap();
    assert!(registered.status.success(), "{}", text(&registered.stderr));
    assert!(
        text(&registered.stdout).contains("-F _incident incident"),
        "{}",
        text(&registered.stdout)
    );
    let bash = text(&bash.stdout);
    assert!(
        bash.contains("--log-format") && bash.contains("watch"),
        "{bash}"
    );

    for (shell, marks) in [
        ("zsh", &["#compdef incident", "--log-format", "watch"][..]),
        ("fish", &["complete -c incident", "log-format", "watch"][..]),
        (
            "powershell",
            &[
                "Register-ArgumentCompleter",
                "'incident'",
                "--log-format",
                "watch",
            ][..],
        ),
    ] {
        let output = run(&mut bare(&["completions", shell])).await;
        assert!(output.status.success(), "{shell}: {}", text(&output.stderr));
        let script = text(&output.stdout);
        for mark in marks {
            assert!(script.contains(mark), "{shell} lacks {mark:?}:\n{script}");
        }
    }
    let unknown = run(&mut bare(&["completions", "tcsh"])).await;
    assert_eq!(unknown.status.code(), Some(2));
}

/// The checked-in manual pages.
fn man_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("man")
}

/// The checked-in pages are what `incident man --dir` writes now: a change to the command line
/// that forgets to regenerate them fails here (and in CI).
#[tokio::test]
async fn the_checked_in_man_pages_are_fresh() {
    let fresh = tempfile::tempdir().unwrap();
    let written = run(&mut bare(&["man", "--dir", fresh.path().to_str().unwrap()])).await;
    assert!(written.status.success(), "{}", text(&written.stderr));
    let names = |dir: &Path| {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };
    let regenerate =
        "regenerate with `cargo run -p incident-cli -- man --dir crates/incident-cli/man`";
    assert_eq!(names(fresh.path()), names(&man_dir()), "{regenerate}");
    for name in names(fresh.path()) {
        let now = std::fs::read_to_string(fresh.path().join(&name)).unwrap();
        let checked_in = std::fs::read_to_string(man_dir().join(&name)).unwrap();
        assert!(now == checked_in, "man/{name} is stale: {regenerate}");
    }
    assert!(names(fresh.path()).contains(&"incident-watch.1".to_owned()));

    let page = run(&mut bare(&["man"])).await;
    assert!(page.status.success());
    let page = text(&page.stdout);
    assert_eq!(
        page,
        std::fs::read_to_string(man_dir().join("incident.1")).unwrap()
    );
    assert!(page.contains(".TH incident 1"), "{page}");
    assert!(page.contains("INCIDENT_WS_URL"), "{page}");
}

/// `incident incidents list` against `server`, with `env` set.
async fn list(env: &[(&str, &str)]) -> Output {
    let mut command = bare(&["incidents", "list", "--json"]);
    command.envs(env.iter().copied());
    run(&mut command).await
}

/// A dev server for the tests that need one.
async fn server() -> DevServerHandle {
    DevServer::builder().start().await.unwrap()
}

#[tokio::test]
async fn incident_environment_names_and_the_seed_aliases_are_read() {
    let server = server().await;
    let ws = server.ws_url().to_owned();
    let token = server.mint_token("conventions", Duration::from_secs(600));
    let unreachable = "ws://127.0.0.1:1/graphql/ws";

    let named = list(&[("INCIDENT_WS_URL", &ws), ("INCIDENT_TOKEN", &token)]).await;
    assert!(named.status.success(), "{}", text(&named.stderr));
    let aliases = list(&[("WS_URL", &ws), ("AUTH_TOKEN", &token)]).await;
    assert!(aliases.status.success(), "{}", text(&aliases.stderr));

    // The INCIDENT_* name wins over its alias.
    let both = list(&[
        ("INCIDENT_WS_URL", &ws),
        ("WS_URL", unreachable),
        ("INCIDENT_TOKEN", &token),
        ("AUTH_TOKEN", "stale"),
    ])
    .await;
    assert!(both.status.success(), "{}", text(&both.stderr));
    let stale = list(&[
        ("INCIDENT_WS_URL", &ws),
        ("INCIDENT_TOKEN", "stale"),
        ("AUTH_TOKEN", &token),
    ])
    .await;
    assert_eq!(stale.status.code(), Some(4), "{}", text(&stale.stderr));

    // Log level: LOG_LEVEL=off silences even the final error (logged in JSON), unless
    // INCIDENT_LOG_LEVEL says otherwise.
    let failing = |env: &[(&str, &str)]| {
        let mut command = bare(&["watch", "new", "--max-attempts", "1"]);
        command
            .env("INCIDENT_WS_URL", unreachable)
            .env("INCIDENT_LOG_FORMAT", "json")
            .envs(env.iter().copied());
        command
    };
    let silent = run(&mut failing(&[("LOG_LEVEL", "off")])).await;
    assert_eq!(silent.status.code(), Some(3));
    assert_eq!(text(&silent.stderr), "");
    let loud = run(&mut failing(&[
        ("LOG_LEVEL", "off"),
        ("INCIDENT_LOG_LEVEL", "error"),
    ]))
    .await;
    assert_eq!(loud.status.code(), Some(3));
    assert!(
        text(&loud.stderr).contains("\"level\":\"ERROR\""),
        "{}",
        text(&loud.stderr)
    );

    // The dev server's secret: INCIDENT_JWT_SECRET, or JWT_SECRET.
    for name in ["INCIDENT_JWT_SECRET", "JWT_SECRET"] {
        let minted = run(bare(&["token", "mint", "--ttl", "1m"]).env(name, "dev-secret")).await;
        assert!(minted.status.success(), "{name}: {}", text(&minted.stderr));
        assert_eq!(text(&minted.stdout).trim().split('.').count(), 3);
    }
    let missing = run(&mut bare(&["token", "mint"])).await;
    assert_eq!(missing.status.code(), Some(2));

    // The relay's NATS address: INCIDENT_NATS_URL, or the `nats` CLI's NATS_URL (nothing
    // listens on port 1: a connection failure, exit 3, rather than a missing --nats, exit 2).
    let relay = ["relay", "new", "--stream", "S", "--subject", "s.new"];
    let no_address = run(&mut bare(&relay)).await;
    assert_eq!(
        no_address.status.code(),
        Some(2),
        "{}",
        text(&no_address.stderr)
    );
    for name in ["INCIDENT_NATS_URL", "NATS_URL"] {
        let tried = run(bare(&relay)
            .env(name, "nats://127.0.0.1:1")
            .env("INCIDENT_WS_URL", unreachable))
        .await;
        assert_eq!(
            tried.status.code(),
            Some(3),
            "{name}: {}",
            text(&tried.stderr)
        );
        assert!(
            text(&tried.stderr).contains("NATS"),
            "{}",
            text(&tried.stderr)
        );
    }
}

/// Every stderr line parses as JSON with `--log-format json`: logs, status lines and the final
/// error with its hint.
#[tokio::test]
async fn json_logs_are_one_object_per_line() {
    let server = server().await;
    let token = server.mint_token("conventions", Duration::from_secs(600));
    let listed = run(bare(&["--log-format", "json", "incidents", "list"])
        .env("INCIDENT_WS_URL", server.ws_url())
        .env("INCIDENT_TOKEN", &token))
    .await;
    assert!(listed.status.success(), "{}", text(&listed.stderr));
    let lines = json_lines(&listed.stderr);
    assert!(
        lines.iter().any(|line| line["fields"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("incidents"))),
        "{lines:?}"
    );

    let failed = run(bare(&[
        "--log-format",
        "json",
        "watch",
        "new",
        "--max-attempts",
        "1",
    ])
    .env("INCIDENT_WS_URL", "ws://127.0.0.1:1/graphql/ws"))
    .await;
    assert_eq!(failed.status.code(), Some(3));
    let lines = json_lines(&failed.stderr);
    let error = lines
        .iter()
        .find(|line| line["level"] == "ERROR" && line["fields"]["exit_code"] == 3)
        .unwrap_or_else(|| panic!("no final error: {lines:?}"));
    assert!(
        error["fields"]["hint"]
            .as_str()
            .is_some_and(|h| h.contains("server running")),
        "{error}"
    );
    assert!(error["timestamp"].is_string(), "{error}");
}

/// Each line of `stderr`, parsed as JSON (failing on a line that is not).
fn json_lines(stderr: &[u8]) -> Vec<Value> {
    text(stderr)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line:?}")))
        .collect()
}
