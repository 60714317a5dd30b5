//! A deliberately small graphql-transport-ws client over tokio-tungstenite, so these tests check
//! the server's wire behaviour frame by frame.

#![allow(dead_code)]

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use incident_devserver::{DevServer, DevServerHandle};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

pub const WAIT: Duration = Duration::from_secs(5);

pub async fn server() -> DevServerHandle {
    DevServer::builder().start().await.unwrap()
}

pub fn token(server: &DevServerHandle) -> String {
    server.mint_token("tester", Duration::from_secs(3600))
}

pub struct Conn {
    pub socket: tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
}

/// What came off the socket.
#[derive(Debug, PartialEq)]
pub enum Frame {
    Json(Value),
    Closed(Option<u16>, String),
}

impl Conn {
    pub async fn open(server: &DevServerHandle) -> Conn {
        Conn::open_speaking(server, "graphql-transport-ws").await
    }

    /// Opens a socket asking for `subprotocol`, and checks the server agreed to it.
    pub async fn open_speaking(server: &DevServerHandle, subprotocol: &str) -> Conn {
        let mut request = server.ws_url().into_client_request().unwrap();
        request
            .headers_mut()
            .insert("Sec-WebSocket-Protocol", subprotocol.parse().unwrap());
        let (socket, response) = tokio_tungstenite::connect_async(request).await.unwrap();
        assert_eq!(response.headers()["sec-websocket-protocol"], subprotocol);
        Conn { socket }
    }

    /// Opens, initialises with `token` and expects the ack.
    pub async fn ready(server: &DevServerHandle) -> Conn {
        let mut conn = Conn::open(server).await;
        conn.init(Some(&token(server))).await;
        assert_eq!(
            conn.recv().await,
            Frame::Json(json!({ "type": "connection_ack" }))
        );
        conn
    }

    pub async fn init(&mut self, token: Option<&str>) {
        let payload = match token {
            Some(token) => json!({ "Authorization": format!("Bearer {token}") }),
            None => json!({}),
        };
        self.send(json!({ "type": "connection_init", "payload": payload }))
            .await;
    }

    pub async fn send(&mut self, value: Value) {
        self.socket
            .send(Message::Text(value.to_string().into()))
            .await
            .unwrap();
    }

    pub async fn subscribe(&mut self, id: &str, query: &str, variables: Value) {
        self.send(json!({ "type": "subscribe", "id": id, "payload": { "query": query, "variables": variables } }))
            .await;
    }

    pub async fn recv(&mut self) -> Frame {
        self.recv_within(WAIT)
            .await
            .expect("a frame within the wait")
    }

    pub async fn recv_within(&mut self, wait: Duration) -> Option<Frame> {
        loop {
            let message = tokio::time::timeout(wait, self.socket.next()).await.ok()?;
            return Some(match message {
                Some(Ok(Message::Text(text))) => Frame::Json(serde_json::from_str(&text).unwrap()),
                Some(Ok(Message::Close(frame))) => Frame::Closed(
                    frame.as_ref().map(|f| f.code.into()),
                    frame.map(|f| f.reason.to_string()).unwrap_or_default(),
                ),
                Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => continue,
                Some(Ok(Message::Binary(_))) => panic!("binary frame from the server"),
                None | Some(Err(_)) => Frame::Closed(None, String::new()),
            });
        }
    }

    /// The next `next` payload's `data` for `id`, skipping nothing else.
    pub async fn next_data(&mut self, id: &str) -> Value {
        match self.recv().await {
            Frame::Json(value) if value["type"] == "next" && value["id"] == id => {
                assert!(value["payload"].get("errors").is_none(), "{value}");
                value["payload"]["data"].clone()
            }
            other => panic!("expected next for {id}, got {other:?}"),
        }
    }

    /// Sends a `ping` and waits for its `pong`. The server handles a connection's messages in
    /// order and answers a ping only after the subscriptions sent before it receive events, so
    /// after this, every earlier `subscribe` is live. Expects nothing else meanwhile.
    pub async fn sync(&mut self) {
        self.send(json!({ "type": "ping" })).await;
        assert_eq!(self.recv().await, Frame::Json(json!({ "type": "pong" })));
    }
}

/// Runs a GraphQL request over HTTP with a valid token.
pub async fn http(server: &DevServerHandle, query: &str, variables: Value) -> Value {
    reqwest::Client::new()
        .post(server.http_url())
        .bearer_auth(token(server))
        .json(&json!({ "query": query, "variables": variables }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// Creates an incident over HTTP and returns its id.
pub async fn create(server: &DevServerHandle, title: &str, severity: &str) -> String {
    let response = http(
        server,
        "mutation($input: CreateIncidentInput!) { createIncident(input: $input) { id } }",
        json!({ "input": { "source": "tests", "title": title, "description": "d", "severity": severity, "incidentType": "APPLICATION" } }),
    )
    .await;
    response["data"]["createIncident"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{response}"))
        .to_owned()
}
