//! Shared set-up: a dev server on 127.0.0.1:0 and a client for it.

#![allow(dead_code)]

use std::time::Duration;

use futures::StreamExt;
use incident_client::operations::IncidentFields;
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

/// The ordering barrier tests use instead of waiting a while to see nothing arrive: opens an
/// incident titled "marker" at `severity` (one `subscription` accepts) and expects it as the very
/// next item. The server delivers a subscription's events in the order they were published, and a
/// caught-up stream delivers what was created earlier first, so anything unwanted (a duplicate, an
/// incident the filter excludes) would have come before it.
pub async fn marker_next(
    server: &DevServerHandle,
    subscription: &mut Subscription<IncidentFields>,
    severity: Severity,
) {
    open(server, "marker", severity);
    let item = next(subscription).await.expect("the marker, not an error");
    assert_eq!(
        item.title, "marker",
        "expected the marker next, got {item:?}"
    );
}

/// Waits until the server has `subscription` (see `Subscription::ready`).
pub async fn live<T>(subscription: &Subscription<T>) {
    tokio::time::timeout(WAIT, subscription.ready())
        .await
        .expect("the subscription to go live within the wait")
        .expect("the subscription to go live, not end");
}

/// Waits until `condition` holds, failing the test after [`WAIT`]. Counters such as
/// `Stats` have nothing to await, so the condition is polled on a 10 ms interval.
pub async fn until(what: &str, mut condition: impl FnMut() -> bool) {
    let polled = tokio::time::timeout(WAIT, async {
        let mut poll = tokio::time::interval(Duration::from_millis(10));
        while !condition() {
            poll.tick().await;
        }
    })
    .await;
    assert!(polled.is_ok(), "timed out waiting for {what}");
}

/// Waits until the dev server sees `condition`, failing the test after [`WAIT`].
pub async fn server_sees(
    server: &DevServerHandle,
    what: &str,
    condition: impl FnMut(&DevServerHandle) -> bool,
) {
    assert!(
        server.wait_for(WAIT, condition).await,
        "timed out waiting for the server to see {what}"
    );
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

/// When a [`flapping`] server closes an acknowledged connection.
#[derive(Debug, Clone, Copy)]
pub enum CloseWhen {
    /// Right after sending `connection_ack`.
    AfterAck,
    /// When the client sends its first message after the ack.
    OnFirstMessage,
}

/// A hand-written graphql-transport-ws server on 127.0.0.1:0 that acknowledges every connection
/// and then closes it with `code`. Returns its URL and the count of WebSocket connections, which
/// a test can await.
pub async fn flapping(code: u16, when: CloseWhen) -> (String, tokio::sync::watch::Receiver<usize>) {
    use futures::SinkExt;
    use tokio_tungstenite::tungstenite::Message;
    use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};
    use tokio_tungstenite::tungstenite::protocol::CloseFrame;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/graphql/ws", listener.local_addr().unwrap());
    let (counter, accepted) = tokio::sync::watch::channel(0usize);
    let counter = std::sync::Arc::new(counter);
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let counter = counter.clone();
            tokio::spawn(async move {
                // tungstenite fixes the error type of this callback.
                #[allow(clippy::result_large_err)]
                let agree = |_: &Request, mut response: Response| {
                    response.headers_mut().insert(
                        "Sec-WebSocket-Protocol",
                        "graphql-transport-ws".parse().unwrap(),
                    );
                    Ok(response)
                };
                let Ok(mut socket) = tokio_tungstenite::accept_hdr_async(tcp, agree).await else {
                    return; // not a WebSocket (a catch-up query over HTTP, say)
                };
                counter.send_modify(|n| *n += 1);
                // connection_init
                if !matches!(socket.next().await, Some(Ok(Message::Text(_)))) {
                    return;
                }
                let ack = Message::Text(r#"{"type":"connection_ack"}"#.into());
                if socket.send(ack).await.is_err() {
                    return;
                }
                if let CloseWhen::OnFirstMessage = when {
                    let _ = socket.next().await;
                }
                let frame = CloseFrame {
                    code: code.into(),
                    reason: "flapping".into(),
                };
                let _ = socket.close(Some(frame)).await;
                while let Some(Ok(_)) = socket.next().await {}
            });
        }
    });
    (url, accepted)
}
