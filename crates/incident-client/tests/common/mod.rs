//! Shared set-up: a dev server on 127.0.0.1:0 and a client for it.

#![allow(dead_code)]

use std::time::Duration;

use futures::StreamExt;
use incident_client::{IncidentClient, IncidentClientBuilder, Result, Subscription};
use incident_devserver::model::{IncidentType, Severity};
use incident_devserver::{DevServer, DevServerHandle};

pub const WAIT: Duration = Duration::from_secs(10);

pub async fn server() -> DevServerHandle {
    DevServer::builder().start().await.unwrap()
}

pub fn builder(server: &DevServerHandle) -> IncidentClientBuilder {
    IncidentClient::builder(server.ws_url())
        .token(server.mint_token("sdk-tests", Duration::from_secs(3600)))
}

pub async fn client(server: &DevServerHandle) -> IncidentClient {
    builder(server).connect().await.unwrap()
}

/// The next item, failing the test if none comes within [`WAIT`].
pub async fn next<T>(subscription: &mut Subscription<T>) -> Result<T> {
    tokio::time::timeout(WAIT, subscription.next())
        .await
        .expect("an item within the wait")
        .expect("the stream to go on")
}

/// Expects no item for a short while.
pub async fn quiet<T: std::fmt::Debug>(subscription: &mut Subscription<T>) {
    if let Ok(item) = tokio::time::timeout(Duration::from_millis(300), subscription.next()).await {
        panic!("expected nothing, got {item:?}");
    }
}

/// Gives the server a moment to register subscriptions sent just now.
pub async fn settle() {
    tokio::time::sleep(Duration::from_millis(150)).await;
}

/// Opens an incident straight in the server's store.
pub fn open(server: &DevServerHandle, title: &str, severity: Severity) -> String {
    server
        .store()
        .create_incident(
            "tests",
            title,
            "created by a test",
            severity,
            IncidentType::Application,
            vec![],
            vec![],
            "tests",
        )
        .unwrap()
        .id
        .to_string()
}
