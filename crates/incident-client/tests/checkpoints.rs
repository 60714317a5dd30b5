//! Resuming where a consumer left off, across clients (a restart of the consuming process).

mod common;

use common::*;
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
    quiet(&mut resumed).await;
    assert_eq!(client.stats().caught_up, 50);
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
    quiet(&mut critical).await;
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
    quiet(&mut resumed).await;
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
