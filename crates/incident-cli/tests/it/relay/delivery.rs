//! What the relay delivers: two relays with one SIGKILLed and restarted leave every incident
//! in JetStream exactly once, a relay restarted after downtime publishes what it missed,
//! `incidents list --all` reconciles, bad NATS settings are clear errors, and token expiries
//! cause no reconnect.

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream;

use super::{
    Nats, Relay, STREAM, assert_exactly_once, dev_server, list_all_ids, open, relay_command,
    until_stored,
};
use crate::common::WAIT;

#[tokio::test(flavor = "multi_thread")]
async fn two_relays_one_killed_and_restarted_store_every_incident_exactly_once() {
    let nats = Nats::start().await;
    let server = dev_server().await;
    let mut first = Relay::start(&server, &nats, STREAM);
    let second = Relay::start(&server, &nats, STREAM);
    assert!(
        server
            .wait_for(WAIT, |s| s.subscribers("newIncidents") == 2)
            .await
    );

    let mut created = Vec::new();
    for n in 0..8 {
        created.push(open(&server, &format!("before the crash {n}")));
    }
    until_stored(&nats, STREAM, 3).await;
    first.kill();
    assert!(
        server
            .wait_for(WAIT, |s| s.subscribers("newIncidents") == 1)
            .await
    );
    for n in 0..8 {
        created.push(open(&server, &format!("while one relay is down {n}")));
    }
    let restarted = Relay::start(&server, &nats, STREAM);
    restarted.logged("resuming after incident").await;
    assert!(
        server
            .wait_for(WAIT, |s| s.subscribers("newIncidents") == 2)
            .await
    );
    for n in 0..8 {
        created.push(open(&server, &format!("after the restart {n}")));
    }
    let last = created.last().unwrap().clone();
    // Both running relays have handled the last incident: one stored it, the other was told
    // it was a duplicate.
    second.logged(&last).await;
    restarted.logged(&last).await;
    let ids = until_stored(&nats, STREAM, created.len()).await;
    assert_exactly_once(&ids, &created);
    let duplicates = second
        .log()
        .iter()
        .chain(restarted.log().iter())
        .filter(|l| l.contains("duplicate"))
        .count();
    assert!(
        duplicates >= 8,
        "the second copy of each incident was dropped by JetStream"
    );

    // Reconciling: the stream and `incidents list --all` agree.
    let listed = list_all_ids(&server).await;
    assert_exactly_once(&listed, &ids);

    assert!(second.terminate().await.success(), "SIGTERM exits 0");
    assert!(restarted.terminate().await.success());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_relay_restarted_after_downtime_publishes_what_it_missed() {
    let nats = Nats::start().await;
    let server = dev_server().await;
    let mut relay = Relay::start(&server, &nats, "MISSED");
    relay.logged("holds nothing yet").await;
    assert!(
        server
            .wait_for(WAIT, |s| s.subscribers("newIncidents") == 1)
            .await
    );
    let mut created: Vec<String> = (0..3)
        .map(|n| open(&server, &format!("seen {n}")))
        .collect();
    until_stored(&nats, "MISSED", 3).await;
    relay.kill();
    assert!(
        server
            .wait_for(WAIT, |s| s.subscribers("newIncidents") == 0)
            .await
    );
    created.extend((0..4).map(|n| open(&server, &format!("missed {n}"))));
    let restarted = Relay::start_with(&server, &nats, "MISSED", &["--metrics-addr", "127.0.0.1:0"]);
    let ids = until_stored(&nats, "MISSED", 7).await;
    restarted
        .logged(&format!("resuming after incident {}", created[2]))
        .await;
    assert_exactly_once(&ids, &created);
    assert_eq!(ids, created, "stored in creation order");
    restarted.logged("metrics: http://").await;
    let base = restarted
        .log()
        .iter()
        .find_map(|l| {
            l.strip_prefix("metrics: ")
                .map(|r| r.split(' ').next().unwrap().to_owned())
        })
        .unwrap();
    let metrics = reqwest::get(&base).await.unwrap().text().await.unwrap();
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("incident_relay_published_total") && l.ends_with(" 4")),
        "{metrics}"
    );
    assert_eq!(
        reqwest::get(base.replace("/metrics", "/healthz"))
            .await
            .unwrap()
            .status()
            .as_u16(),
        200
    );
    assert!(restarted.terminate().await.success());
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_nats_settings_are_clear_errors() {
    let nats = Nats::start().await;
    let server = dev_server().await;
    nats.jetstream()
        .await
        .create_stream(jetstream::stream::Config {
            name: "OTHER".into(),
            subjects: vec!["other.>".into()],
            ..Default::default()
        })
        .await
        .unwrap();
    let uncovered = tokio::time::timeout(WAIT, relay_command(&server, &nats.url, "OTHER").output())
        .await
        .unwrap()
        .unwrap();
    let stderr = String::from_utf8_lossy(&uncovered.stderr);
    assert_eq!(uncovered.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("do not cover incidents.new"), "{stderr}");

    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let unreachable = tokio::time::timeout(
        WAIT,
        relay_command(&server, &format!("nats://{closed}"), STREAM).output(),
    )
    .await
    .expect("gives up instead of hanging")
    .unwrap();
    let stderr = String::from_utf8_lossy(&unreachable.stderr);
    assert_eq!(unreachable.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("cannot reach NATS"), "{stderr}");

    let malformed = relay_command(&server, "nats://host:notaport", STREAM)
        .output()
        .await
        .unwrap();
    assert_eq!(
        malformed.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&malformed.stderr)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn incidents_list_all_pages_through_every_incident_oldest_first() {
    let server = dev_server().await;
    let created: Vec<String> = (0..230)
        .map(|n| open(&server, &format!("incident {n}")))
        .collect();
    let ids = list_all_ids(&server).await;
    assert_eq!(ids, created, "three pages, oldest first, nothing twice");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_relay_runs_through_five_token_expiries_with_a_rewritten_token_file() {
    let nats = Nats::start().await;
    let server = dev_server().await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("token");
    let write = {
        let (server, file) = (server.clone(), file.clone());
        move || {
            let temporary = file.with_extension("tmp");
            std::fs::write(
                &temporary,
                server.mint_token("relay", Duration::from_secs(3)),
            )
            .unwrap();
            std::fs::rename(&temporary, &file).unwrap();
        }
    };
    write();
    let refreshing = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let refresher = {
        let refreshing = refreshing.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            while refreshing.load(std::sync::atomic::Ordering::SeqCst) {
                tick.tick().await;
                write();
            }
        })
    };
    let relay = Relay::start_with(
        &server,
        &nats,
        STREAM,
        &["--token-file", file.to_str().unwrap()],
    );
    let live = server
        .wait_for(WAIT, |s| s.subscribers("newIncidents") >= 1)
        .await;
    assert!(live, "the relay subscribed");
    let mut opened = Vec::new();
    // The first connection and five rotations, with an incident every 200 ms throughout.
    let mut pace = tokio::time::interval(Duration::from_millis(200));
    while server.connections_accepted() < 6 {
        pace.tick().await;
        opened.push(open(&server, &format!("through expiries {}", opened.len())));
        assert!(
            opened.len() < 200,
            "no rotations: {}",
            server.connections_accepted()
        );
    }
    for id in &opened {
        relay.logged(&format!("published {id}")).await;
    }
    refreshing.store(false, std::sync::atomic::Ordering::SeqCst);
    refresher.await.unwrap();
    let log = relay.log();
    assert!(
        !log.iter()
            .any(|line| line.contains("WARN") || line.contains("reconnect")),
        "{log:#?}"
    );
    let status = relay.terminate().await;
    assert!(status.success(), "{status:?}");
}
