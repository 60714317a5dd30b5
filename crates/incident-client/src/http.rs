//! GraphQL over HTTP and the REST alert endpoint.

use std::time::Duration;

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::{Error, GraphQlError, Result, cause, message};
use crate::rest::{AlertReceipt, AlertSubmission};
use crate::token::TokenSource;

/// The HTTP side of the client. Cheap to clone.
#[derive(Debug, Clone)]
pub(crate) struct HttpClient {
    client: reqwest::Client,
    graphql_url: String,
    alerts_url: String,
    token: Option<TokenSource>,
}

#[derive(Deserialize)]
struct RawResponse {
    #[serde(default)]
    data: Option<Value>,
    #[serde(default)]
    errors: Option<Vec<GraphQlError>>,
}

impl HttpClient {
    pub(crate) fn new(
        graphql_url: String,
        origin: &str,
        token: Option<TokenSource>,
        timeout: Duration,
    ) -> Result<Self> {
        let client = http_client(timeout)?;
        Ok(Self {
            client,
            graphql_url,
            alerts_url: format!("{origin}/v1/alerts"),
            token,
        })
    }

    /// Sends the request with the current token and, if the server answers 401, once more with
    /// a fresh one. Returns the status and body.
    async fn send(&self, request: reqwest::RequestBuilder) -> Result<(u16, Vec<u8>)> {
        let mut fresh = false;
        loop {
            let mut attempt = request
                .try_clone()
                .expect("requests with JSON bodies can be cloned");
            if let Some(source) = &self.token {
                let token = if fresh {
                    source.fresh().await
                } else {
                    source.current().await
                };
                let token = token.map_err(|e| Error::TokenProvider(e.into()))?;
                attempt = attempt.bearer_auth(token.expose());
            }
            let response = attempt.send().await.map_err(|e| Error::Http(cause(e)))?;
            let status = response.status().as_u16();
            if status == 401 && !fresh && self.token.is_some() {
                fresh = true;
                continue;
            }
            let body = response.bytes().await.map_err(|e| Error::Http(cause(e)))?;
            return Ok((status, body.to_vec()));
        }
    }

    /// Runs an operation and returns its `data` as JSON.
    pub(crate) async fn execute_raw<Q, V: serde::Serialize>(
        &self,
        operation: cynic::Operation<Q, V>,
    ) -> Result<Value> {
        let request = self.client.post(&self.graphql_url).json(&operation);
        let (status, body) = self.send(request).await?;
        if !(200..300).contains(&status) {
            return Err(status_error(status, &body));
        }
        let raw: RawResponse =
            serde_json::from_slice(&body).map_err(|e| Error::Decode(cause(e)))?;
        if let Some(errors) = raw.errors.filter(|e| !e.is_empty()) {
            return Err(Error::GraphQl(errors));
        }
        raw.data
            .filter(|d| !d.is_null())
            .ok_or_else(|| Error::Decode(message("the answer has neither data nor errors")))
    }

    /// Runs an operation and decodes its `data`.
    pub(crate) async fn execute<Q: DeserializeOwned, V: serde::Serialize>(
        &self,
        operation: cynic::Operation<Q, V>,
    ) -> Result<Q> {
        let data = self.execute_raw(operation).await?;
        serde_json::from_value(data).map_err(|e| Error::Decode(cause(e)))
    }

    /// `POST /v1/alerts` with the headers the real server requires.
    pub(crate) async fn submit_alert(&self, alert: &AlertSubmission) -> Result<AlertReceipt> {
        let request = self
            .client
            .post(&self.alerts_url)
            .header("X-Execution-Id", uuid::Uuid::new_v4().to_string())
            .header("X-Parent-Span-Id", uuid::Uuid::new_v4().to_string())
            .json(alert);
        let (status, body) = self.send(request).await?;
        if !(200..300).contains(&status) {
            return Err(status_error(status, &body));
        }
        serde_json::from_slice(&body).map_err(|e| Error::Decode(cause(e)))
    }
}

/// The connect timeout of the shared HTTP client.
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// An HTTP client for `connect_timeout`. Clients with the default share one process-wide
/// `reqwest::Client`: each one holds a TLS configuration with the whole web PKI root store and a
/// connection pool, tens of KB that every `IncidentClient` would otherwise pay again.
fn http_client(connect_timeout: Duration) -> Result<reqwest::Client> {
    static SHARED: std::sync::OnceLock<reqwest::Client> = std::sync::OnceLock::new();
    let build = |timeout: Duration| {
        reqwest::Client::builder()
            .connect_timeout(timeout)
            .timeout(timeout * 3)
            .build()
            .map_err(|e| Error::Http(cause(e)))
    };
    if connect_timeout != DEFAULT_CONNECT_TIMEOUT {
        return build(connect_timeout);
    }
    if let Some(client) = SHARED.get() {
        return Ok(client.clone());
    }
    let client = build(DEFAULT_CONNECT_TIMEOUT)?;
    Ok(SHARED.get_or_init(|| client).clone())
}

/// An error status as a typed error; 401 is an auth rejection.
fn status_error(status: u16, body: &[u8]) -> Error {
    let parsed: Option<Value> = serde_json::from_slice(body).ok();
    let field = |name: &str| {
        parsed
            .as_ref()
            .and_then(|b| b["error"][name].as_str())
            .map(str::to_owned)
    };
    let message = field("message").unwrap_or_else(|| String::from_utf8_lossy(body).into_owned());
    if status == 401 {
        return Error::AuthRejected {
            code: 401,
            reason: message,
        };
    }
    Error::HttpStatus {
        status,
        code: field("code").unwrap_or_default(),
        message,
    }
}
