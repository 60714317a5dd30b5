//! Resuming where a consumer left off, across clients (a restart of the consuming process).

use crate::common::*;
use incident_client::{Checkpoint, Severity};
use incident_devserver::model::Severity as ServerSeverity;

#[tokio::test]
async fn a_new_client_resumes_from_a_saved_checkpoint_with_nothing_lost_or_repeated() {
    let server = server().await;
    let saved = {
        let client = client(&server).await;
        let mut new = client.new_incidents(None).unwrap();
        live(&new).await;
        let before = new.checkpoint().expect("new_incidents has checkpoints");
        for n in 0..30 {
            open(&server, &format!("first {n}"), ServerSeverity::P3);
        }
        for n in 0..30 {
            assert_eq!(next(&mut new).await.unwrap().title, format!("first {n}"));
        }
        let saved = new.checkpoint().unwrap();
        assert!(saved > before);
        assert_eq!(saved.ids.len(), 1);
        // What a process writes to disk, and reads back after its restart.
        serde_json::to_string(&saved).unwrap()
        // The client and its subscription are dropped here.
    };
    for n in 0..50 {
        open(&server, &format!("while away {n}"), ServerSeverity::P3);
    }

    let checkpoint: Checkpoint = serde_json::from_str(&saved).unwrap();
    let client = client(&server).await;
    let mut resumed = client.new_incidents_from(None, checkpoint.clone()).unwrap();
    for n in 0..50 {
        let incident = next(&mut resumed).await.unwrap();
        assert_eq!(incident.title, format!("while away {n}"));
        assert!(resumed.checkpoint().unwrap() > checkpoint);
    }
    live(&resumed).await;
    open(&server, "live", ServerSeverity::P3);
    assert_eq!(next(&mut resumed).await.unwrap().title, "live");
    assert_eq!(client.stats().caught_up, 50);
    // Nothing repeated: the marker comes next.
    marker_next(&server, &mut resumed, ServerSeverity::P3).await;
}

#[tokio::test]
async fn resuming_critical_incidents_applies_the_severity_and_skips_what_was_delivered() {
    let server = server().await;
    let first = open(&server, "already paged", ServerSeverity::P0);
    let client = client(&server).await;
    let created = server
        .store()
        .get(first.parse().unwrap())
        .unwrap()
        .created_at;
    // Delivered: the incident at exactly the checkpoint's instant.
    let checkpoint = Checkpoint {
        ids: vec![first.parse().unwrap()],
        ..Checkpoint::at(created)
    };
    open(&server, "minor", ServerSeverity::P3);
    open(&server, "page", ServerSeverity::P1);
    let mut critical = client.critical_incidents_from(checkpoint).unwrap();
    assert_eq!(next(&mut critical).await.unwrap().title, "page");
    live(&critical).await;
    // Nothing more (not "already paged" again): the marker comes next.
    marker_next(&server, &mut critical, ServerSeverity::P0).await;
    let filtered = client.new_incidents_from(Some(vec![Severity::P3]), Checkpoint::at(created));
    let mut filtered = filtered.unwrap();
    assert_eq!(next(&mut filtered).await.unwrap().title, "minor");
}

#[tokio::test]
async fn resuming_works_against_a_server_process_that_restarted_from_its_state_file() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("server.json");
    let first = incident_devserver::DevServer::builder()
        .jwt_secret("shared")
        .state_file(&state)
        .start()
        .await
        .unwrap();
    let saved = {
        let client = client(&first).await;
        let mut new = client.new_incidents(None).unwrap();
        live(&new).await;
        for n in 0..10 {
            open(&first, &format!("before {n}"), ServerSeverity::P2);
        }
        for _ in 0..10 {
            next(&mut new).await.unwrap();
        }
        client.shutdown().await;
        new.checkpoint().unwrap()
    };
    first.shutdown().await;

    // Another server process, on another port, from the same file.
    let second = incident_devserver::DevServer::builder()
        .jwt_secret("shared")
        .state_file(&state)
        .start()
        .await
        .unwrap();
    assert_eq!(
        second.store().stats().0,
        10,
        "the incidents survived the restart"
    );
    for n in 0..20 {
        open(&second, &format!("after {n}"), ServerSeverity::P2);
    }
    let client = client(&second).await;
    let mut resumed = client.new_incidents_from(None, saved).unwrap();
    for n in 0..20 {
        assert_eq!(
            next(&mut resumed).await.unwrap().title,
            format!("after {n}")
        );
    }
    live(&resumed).await;
    // Nothing from before the restart again: the marker comes next.
    marker_next(&second, &mut resumed, ServerSeverity::P2).await;
}

#[tokio::test]
async fn a_corrupt_state_file_is_an_error_not_an_empty_server() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("server.json");
    std::fs::write(&state, "[1, 2").unwrap();
    let error = incident_devserver::DevServer::builder()
        .state_file(&state)
        .start()
        .await
        .unwrap_err();
    assert!(error.to_string().contains("state file"), "{error}");
}

/// A checkpoint just after the incident `title` (opened now, at `severity`).
fn checkpoint_after(server: &incident_devserver::DevServerHandle, title: &str) -> Checkpoint {
    let id = open(server, title, ServerSeverity::P4);
    let created = server.store().get(id.parse().unwrap()).unwrap().created_at;
    Checkpoint {
        ids: vec![id.parse().unwrap()],
        ..Checkpoint::at(created)
    }
}

#[tokio::test]
async fn a_consumer_away_for_12000_incidents_resumes_with_all_of_them() {
    const AWAY: usize = 12_000;
    const BUFFER: usize = 64;
    let server = server().await;
    let checkpoint = checkpoint_after(&server, "last seen");
    let severities = [
        ServerSeverity::P0,
        ServerSeverity::P1,
        ServerSeverity::P2,
        ServerSeverity::P3,
        ServerSeverity::P4,
    ];
    for n in 0..AWAY {
        open(&server, &format!("away {n}"), severities[n % 5]);
    }
    let client = builder(&server)
        .subscription_buffer(BUFFER)
        .connect()
        .await
        .unwrap();
    let mut resumed = client.new_incidents_from(None, checkpoint).unwrap();
    let mut seen = std::collections::HashSet::new();
    let mut last = None;
    for _ in 0..AWAY {
        let incident = next(&mut resumed).await.unwrap();
        assert!(incident.title.starts_with("away "), "{}", incident.title);
        assert!(seen.insert(incident.id), "{} twice", incident.title);
        // Oldest first, ties by id, as the listing is read.
        let key = (incident.created_at, incident.id);
        assert!(last < Some(key), "out of order at {}", incident.title);
        last = Some(key);
        // Memory stays bounded: the buffer, plus one page, plus what was held live.
        assert!(
            resumed.queue_depth() <= 2 * BUFFER + 100,
            "{}",
            resumed.queue_depth()
        );
    }
    assert_eq!(seen.len(), AWAY);
    live(&resumed).await;
    open(&server, "back", ServerSeverity::P2);
    assert_eq!(next(&mut resumed).await.unwrap().title, "back");
    // Nothing twice: the marker comes next.
    marker_next(&server, &mut resumed, ServerSeverity::P2).await;
}

#[tokio::test]
async fn a_catch_up_during_five_seconds_of_503s_delivers_everything_once() {
    let server = server().await;
    let client = client(&server).await;
    let mut new = client.new_incidents(None).unwrap();
    live(&new).await;
    open(&server, "before", ServerSeverity::P2);
    assert_eq!(next(&mut new).await.unwrap().title, "before");

    server.graphql_unavailable(true);
    let restarting = {
        let server = server.clone();
        tokio::spawn(async move { server.restart(std::time::Duration::from_millis(300)).await })
    };
    until("the client to notice the restart", || {
        !client.stats().connected
    })
    .await;
    for n in 0..5 {
        open(&server, &format!("missed {n}"), ServerSeverity::P2);
    }
    restarting.await.unwrap().unwrap();
    // The catch-up backs off 100 ms, 200 ms, .. 1.6 s: six refusals span about five seconds.
    let refused = || server.graphql_refused() >= 6;
    server_sees(&server, "six refused catch-up queries", |_| refused()).await;
    assert!(new.is_live(), "live again, still catching up");
    server.graphql_unavailable(false);
    open(&server, "after", ServerSeverity::P2);
    let mut titles = Vec::new();
    for _ in 0..6 {
        titles.push(next(&mut new).await.unwrap().title);
    }
    assert_eq!(
        titles,
        [
            "missed 0", "missed 1", "missed 2", "missed 3", "missed 4", "after"
        ]
    );
    // Nothing twice: the marker comes next.
    marker_next(&server, &mut new, ServerSeverity::P2).await;
    assert_eq!(client.stats().gaps, 0);
}

#[tokio::test]
async fn an_incident_escalated_while_away_is_delivered_to_the_severity_it_opened_with() {
    let server = server().await;
    let checkpoint = checkpoint_after(&server, "last seen");
    let escalate = |title: &str, from: ServerSeverity| {
        let id = open(&server, title, from);
        server
            .store()
            .escalate(
                id.parse().unwrap(),
                ServerSeverity::P1,
                "paged".into(),
                "tests",
            )
            .unwrap();
    };
    escalate("opened P3, now P1", ServerSeverity::P3);
    escalate("opened P2, now P1", ServerSeverity::P2);
    open(&server, "plain P3", ServerSeverity::P3);
    let client = client(&server).await;

    let mut p3 = client
        .new_incidents_from(Some(vec![Severity::P3]), checkpoint.clone())
        .unwrap();
    let first = next(&mut p3).await.unwrap();
    assert_eq!(first.title, "opened P3, now P1");
    assert_eq!(first.severity, Severity::P1, "delivered as it is now");
    assert_eq!(next(&mut p3).await.unwrap().title, "plain P3");
    live(&p3).await;
    // Nothing more: the marker comes next.
    marker_next(&server, &mut p3, ServerSeverity::P3).await;

    // Live, `critical_incidents` never saw either: they opened below P1.
    let mut critical = client.critical_incidents_from(checkpoint).unwrap();
    live(&critical).await;
    open(&server, "page", ServerSeverity::P0);
    assert_eq!(next(&mut critical).await.unwrap().title, "page");
    // Nothing more: the marker comes next.
    marker_next(&server, &mut critical, ServerSeverity::P0).await;
}
