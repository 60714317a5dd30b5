//! GraphQL over HTTP and the REST alert endpoint.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::config::Network;
use crate::error::{Error, GraphQlError, Result, cause, message};
use crate::rest::{AlertReceipt, AlertSubmission};
use crate::token::TokenSource;

/// The HTTP side of the client. Cheap to clone: clones (the client's, the connection task's
/// catch-ups) share one `reqwest::Client`, built on first use, so a client that only subscribes
/// never pays for a TLS root store and connection pool. Never shared between `IncidentClient`s:
/// a reqwest client belongs to the runtime it first ran on.
#[derive(Debug, Clone)]
pub(crate) struct HttpClient {
    client: Arc<OnceLock<reqwest::Client>>,
    timeout: Duration,
    network: Arc<Network>,
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
        network: Arc<Network>,
    ) -> Self {
        Self {
            client: Arc::default(),
            timeout,
            network,
            graphql_url,
            alerts_url: format!("{origin}/v1/alerts"),
            token,
        }
    }

    /// This client's `reqwest::Client`, built the first time it is needed.
    fn client(&self) -> Result<&reqwest::Client> {
        if let Some(client) = self.client.get() {
            return Ok(client);
        }
        let mut builder = reqwest::Client::builder()
            .connect_timeout(self.timeout)
            .timeout(self.timeout * 3)
            .default_headers(self.network.headers.clone());
        builder = match &self.network.tls {
            Some(tls) => builder.use_preconfigured_tls(rustls::ClientConfig::clone(tls)),
            None => builder.use_preconfigured_tls(crate::tls::plain_config()?),
        };
        // The proxy decision is the WebSocket's, made by the same matcher for this URL.
        builder = match self.network.proxies.for_url(&self.graphql_url) {
            Some(proxy) => {
                let mut reqwest_proxy = reqwest::Proxy::all(proxy.uri().to_string())
                    .map_err(|e| Error::Http(cause(e)))?;
                if let Some(auth) = proxy.basic_auth() {
                    reqwest_proxy = reqwest_proxy.custom_http_auth(auth.clone());
                }
                builder.proxy(reqwest_proxy)
            }
            None => builder.no_proxy(),
        };
        let built = builder.build().map_err(|e| Error::Http(cause(e)))?;
        Ok(self.client.get_or_init(|| built))
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
            if let Some(context) = crate::trace::current() {
                attempt = attempt.header("traceparent", context.traceparent());
            }
            let response = attempt
                .send()
                .await
                .map_err(|e| Error::Http(crate::tls::classify(e)))?;
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
        let request = self.client()?.post(&self.graphql_url).json(&operation);
        self.data_of(request).await
    }

    /// Sends a GraphQL request and returns its `data`, or the errors as [`Error::GraphQl`].
    async fn data_of(&self, request: reqwest::RequestBuilder) -> Result<Value> {
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

    /// Runs a query given as text, with variables as JSON, and returns its `data`.
    pub(crate) async fn execute_document(&self, query: &str, variables: Value) -> Result<Value> {
        let body = serde_json::json!({ "query": query, "variables": variables });
        let request = self.client()?.post(&self.graphql_url).json(&body);
        self.data_of(request).await
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
            .client()?
            .post(&self.alerts_url)
            .header("X-Execution-Id", uuid::Uuid::new_v4().to_string())
            .header(
                "X-Parent-Span-Id",
                crate::trace::current()
                    .map(|context| context.span_uuid())
                    .unwrap_or_else(uuid::Uuid::new_v4)
                    .to_string(),
            )
            .json(alert);
        let (status, body) = self.send(request).await?;
        if !(200..300).contains(&status) {
            return Err(status_error(status, &body));
        }
        serde_json::from_slice(&body).map_err(|e| Error::Decode(cause(e)))
    }
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
            signal: crate::error::AuthSignal::HttpStatus(401),
            reason: message,
        };
    }
    Error::HttpStatus {
        status,
        code: field("code").unwrap_or_default(),
        message,
    }
}
