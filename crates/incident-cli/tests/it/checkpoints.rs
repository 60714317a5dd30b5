//! `--checkpoint FILE`: a watcher killed with SIGKILL under load loses nothing, a refused
//! catch-up keeps the checkpoint before the hole, a corrupt file is bad usage, and one file
//! has one watcher at a time.

use std::time::Duration;

use incident_devserver::DevServer;
use incident_devserver::model::Severity;
use serde_json::Value;

use crate::common::{Running, WAIT, incident, open, settle, until};

/// Reads the JSON event lines a watcher printed until it exits (after a kill, what the pipe held).
async fn remaining_events(watch: &mut Running) -> Vec<Value> {
    let mut events = Vec::new();
    while let Ok(Some(line)) = tokio::time::timeout(WAIT, watch.lines.next_line())
        .await
        .expect("the pipe closes after the process ends")
    {
        let value: Value = serde_json::from_str(&line).unwrap();
        if value["kind"] == "event" {
            events.push(value);
        }
    }
    events
}

#[tokio::test(flavor = "multi_thread")]
async fn a_checkpointed_watch_survives_sigkill_with_nothing_lost() {
    let server = DevServer::builder().start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bot.checkpoint");
    let file_arg = file.to_str().unwrap().to_owned();
    let args = ["watch", "new", "--json", "--checkpoint", file_arg.as_str()];

    let mut watch = Running::start(incident(&server, &args));
    settle(&server, &["newIncidents"]).await;
    // Incidents keep coming at 100 a second while the watcher is killed and restarted.
    let producing = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let producer = {
        let (server, producing) = (server.clone(), producing.clone());
        tokio::spawn(async move {
            let mut created = Vec::new();
            let mut tick = tokio::time::interval(Duration::from_millis(10));
            while producing.load(std::sync::atomic::Ordering::SeqCst) {
                tick.tick().await;
                let n = created.len();
                created.push(open(&server, &format!("steady {n}"), Severity::P3));
            }
            created
        })
    };

    let mut printed: Vec<String> = Vec::new();
    for _ in 0..5 {
        // Let it print a few, then kill it without warning.
        for _ in 0..10 {
            printed.push(
                watch.json_line().await["event"]["id"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
            );
        }
        watch.child.kill().await.unwrap();
        printed.extend(
            remaining_events(&mut watch)
                .await
                .iter()
                .map(|e| e["event"]["id"].as_str().unwrap().to_owned()),
        );
        assert!(file.exists(), "a checkpoint was recorded");
        watch = Running::start(incident(&server, &args));
    }
    producing.store(false, std::sync::atomic::Ordering::SeqCst);
    let created = producer.await.unwrap();
    // The last watcher catches up on everything left.
    let mut seen: std::collections::HashSet<String> = printed.iter().cloned().collect();
    while !created.iter().all(|id| seen.contains(id)) {
        let id = watch.json_line().await["event"]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        seen.insert(id.clone());
        printed.push(id);
    }
    watch.interrupt().await;
    let duplicates = printed.len() - seen.len();
    assert!(
        duplicates <= 5,
        "{duplicates} duplicates over 5 crashes ({} printed, {} distinct)",
        printed.len(),
        seen.len()
    );
    assert!(created.len() >= 40, "the producer ran: {}", created.len());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refused_catch_up_exits_5_and_keeps_the_checkpoint_before_the_hole() {
    let server = DevServer::builder().start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bot.checkpoint");
    let file_arg = file.to_str().unwrap().to_owned();
    let args = ["watch", "new", "--json", "--checkpoint", file_arg.as_str()];
    let mut watch = Running::start(incident(&server, &args));
    settle(&server, &["newIncidents"]).await;
    open(&server, "printed", Severity::P3);
    let printed = watch.json_line().await;
    assert_eq!(printed["event"]["title"], "printed");

    // The server stops accepting the listing query; the watcher reconnects and must catch up.
    server.graphql_refusing(true);
    server.drop_all();
    // Created once the watcher is on its next connection, so it is not live on the old one.
    let reconnected = server
        .wait_for(WAIT, |s| s.connections_accepted() >= 2)
        .await;
    assert!(reconnected, "the watcher reconnected");
    open(&server, "missed", Severity::P3);
    let status = tokio::time::timeout(WAIT, watch.child.wait())
        .await
        .expect("the watcher to exit")
        .unwrap();
    assert_eq!(status.code(), Some(5), "exit code for a refused catch-up");
    let saved: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(saved["ids"], serde_json::json!([printed["event"]["id"]]));

    // Once the server answers again, a rerun resumes before the hole.
    server.graphql_refusing(false);
    let mut rerun = Running::start(incident(&server, &args));
    assert_eq!(rerun.json_line().await["event"]["title"], "missed");
    let output = rerun.interrupt().await;
    assert!(output.status.success(), "{output:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_corrupt_checkpoint_or_an_unresumable_stream_is_bad_usage() {
    let server = DevServer::builder().start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("broken.checkpoint");
    std::fs::write(&file, "{ not a checkpoint").unwrap();
    let output = incident(
        &server,
        &["watch", "new", "--checkpoint", file.to_str().unwrap()],
    )
    .output()
    .await
    .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("is corrupt"), "{stderr}");
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        "{ not a checkpoint"
    );

    let output = incident(
        &server,
        &["watch", "updates", "--checkpoint", file.to_str().unwrap()],
    )
    .output()
    .await
    .unwrap();
    assert_eq!(output.status.code(), Some(2));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_watcher_on_the_same_checkpoint_fails_at_once_and_the_first_runs_on() {
    let server = DevServer::builder().start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bot.checkpoint");
    let lock = dir.path().join("bot.checkpoint.lock");
    let file_arg = file.to_str().unwrap().to_owned();
    let args = ["watch", "new", "--json", "--checkpoint", file_arg.as_str()];

    // The first is running: it took the lock (before connecting) and the server has its
    // subscription.
    let mut first = Running::start(incident(&server, &args));
    until("the lock file", async || lock.exists().then_some(())).await;
    settle(&server, &["newIncidents"]).await;

    let second = tokio::time::timeout(WAIT, incident(&server, &args).output())
        .await
        .expect("the second watcher exits at once instead of waiting for the lock")
        .unwrap();
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert_eq!(second.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("another watcher holds the checkpoint {file_arg}")),
        "{stderr}"
    );
    assert_eq!(
        server.connections_accepted(),
        1,
        "the second failed before connecting"
    );

    // The first runs on, recording its progress in the file.
    assert!(
        first.child.try_wait().unwrap().is_none(),
        "the first runs on"
    );
    let id = open(&server, "after the refusal", Severity::P2);
    assert_eq!(first.json_line().await["event"]["id"], id.as_str());
    let output = first.interrupt().await;
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let saved: Value = serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(saved["ids"], serde_json::json!([id]));

    // Once the first has exited, the file is free again: a new watcher takes it and resumes.
    let mut rerun = Running::start(incident(&server, &args));
    let missed = open(&server, "for the next watcher", Severity::P2);
    assert_eq!(rerun.json_line().await["event"]["id"], missed.as_str());
    let output = rerun.interrupt().await;
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    let mut left: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(
        left,
        ["bot.checkpoint", "bot.checkpoint.lock"],
        "no temporary file is left behind"
    );
}

/// A new checkpoint file records the stream's start before any event is printed: a watcher
/// killed before its first event still resumes from its start, not from the restart's "now".
/// And a symlink to the checkpoint meets the same lock.
#[tokio::test(flavor = "multi_thread")]
async fn a_new_checkpoint_records_its_start_before_any_event_and_symlinks_share_the_lock() {
    let server = DevServer::builder().start().await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bot.checkpoint");
    let file_arg = file.to_str().unwrap().to_owned();
    let args = ["watch", "new", "--json", "--checkpoint", file_arg.as_str()];

    let mut first = Running::start(incident(&server, &args));
    until("the checkpoint written at start", async || {
        file.exists().then_some(())
    })
    .await;
    crate::common::signal(&first.child, "-KILL");
    first.child.wait().await.unwrap();
    let missed = open(&server, "while nothing was watching", Severity::P2);

    let link = dir.path().join("link.checkpoint");
    std::os::unix::fs::symlink(&file, &link).unwrap();
    let link_arg = link.to_str().unwrap().to_owned();
    let through_link = ["watch", "new", "--json", "--checkpoint", link_arg.as_str()];
    let mut rerun = Running::start(incident(&server, &through_link));
    assert_eq!(rerun.json_line().await["event"]["id"], missed.as_str());

    // The file itself, while the watcher through the link holds it: refused.
    let second = tokio::time::timeout(WAIT, incident(&server, &args).output())
        .await
        .expect("refused at once")
        .unwrap();
    assert_eq!(
        second.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&second.stderr)
    );
    let output = rerun.interrupt().await;
    assert_eq!(output.status.code(), Some(0), "{output:?}");
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink(),
        "the link is still a link: saves went to the file it points to"
    );
}
