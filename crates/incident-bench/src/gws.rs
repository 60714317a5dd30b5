//! graphql-ws-client 0.13, the crate a Rust user reaches for first, as its users run it: its
//! `Client` over a tokio-tungstenite connection. It ships adapters for tungstenite up to 0.28;
//! this is the same adapter for the workspace's 0.29.

use futures::{SinkExt, StreamExt};
use graphql_ws_client::{Error, Message};
use tokio_tungstenite::tungstenite::{self, Bytes, protocol::CloseFrame};

use crate::measure::RawSocket;

/// A WebSocket graphql-ws-client can drive.
pub struct Socket(pub RawSocket);

impl graphql_ws_client::Connection for Socket {
    async fn receive(&mut self) -> Option<Message> {
        loop {
            match self.0.next().await? {
                Ok(tungstenite::Message::Text(text)) => {
                    return Some(Message::Text(text.as_str().into()));
                }
                Ok(tungstenite::Message::Ping(_)) => return Some(Message::Ping),
                Ok(tungstenite::Message::Pong(_)) => return Some(Message::Pong),
                Ok(tungstenite::Message::Close(frame)) => {
                    return Some(Message::Close {
                        code: frame.as_ref().map(|frame| frame.code.into()),
                        reason: frame.map(|frame| frame.reason.to_string()),
                    });
                }
                Ok(tungstenite::Message::Frame(_) | tungstenite::Message::Binary(_)) => continue,
                Err(_) => return None,
            }
        }
    }

    async fn send(&mut self, message: Message) -> Result<(), Error> {
        let message = match message {
            Message::Text(text) => tungstenite::Message::Text(text.into()),
            Message::Close { code, reason } => {
                tungstenite::Message::Close(code.zip(reason).map(|(code, reason)| CloseFrame {
                    code: code.into(),
                    reason: reason.into(),
                }))
            }
            Message::Ping => tungstenite::Message::Ping(Bytes::new()),
            Message::Pong => tungstenite::Message::Pong(Bytes::new()),
        };
        self.0
            .send(message)
            .await
            .map_err(|error| Error::Send(error.to_string()))
    }
}

/// graphql-ws-client's stream of `newIncidents` from the sender's `path`, as its docs show it:
/// `Client::build(connection).subscribe(operation)`.
pub async fn subscribe(
    sender: &crate::measure::Sender,
    path: &str,
) -> anyhow::Result<
    graphql_ws_client::Subscription<
        cynic::StreamingOperation<
            incident_client::operations::NewIncidents,
            incident_client::operations::NewIncidentsVariables,
        >,
    >,
> {
    use cynic::SubscriptionBuilder;
    use incident_client::operations::{NewIncidents, NewIncidentsVariables};
    let socket = crate::measure::raw_socket(sender, path).await?;
    let operation = NewIncidents::build(NewIncidentsVariables { severities: None });
    Ok(graphql_ws_client::Client::build(Socket(socket))
        .subscribe(operation)
        .await?)
}

/// The incident in one of its items.
pub fn incident(
    item: Result<cynic::GraphQlResponse<incident_client::operations::NewIncidents>, Error>,
) -> anyhow::Result<incident_client::operations::IncidentFields> {
    let response = item?;
    let data = response
        .data
        .ok_or_else(|| anyhow::anyhow!("an item without data: {:?}", response.errors))?;
    Ok(data.new_incidents)
}
