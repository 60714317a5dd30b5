//! The one error type of this crate.

use std::sync::Arc;
use std::time::Duration;

/// A boxed error, as token providers return them.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// The cause behind an [`Error`]: shared, so errors can be cloned to every affected stream, and
/// opaque, so no dependency's error type appears in this crate's API.
pub type Cause = Arc<dyn std::error::Error + Send + Sync + 'static>;

/// Wraps an error as a [`Cause`].
pub(crate) fn cause(error: impl std::error::Error + Send + Sync + 'static) -> Cause {
    Arc::new(error)
}

/// A [`Cause`] that is only a message.
pub(crate) fn message(text: impl Into<String>) -> Cause {
    Arc::new(Message(text.into()))
}

#[derive(Debug)]
struct Message(String);

impl std::fmt::Display for Message {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Message {}

/// Everything that can go wrong, as something a caller can act on.
///
/// Streams yield two non-terminal errors and keep going after them: [`Error::Lagged`] (the
/// consumer fell behind and events were dropped) and [`Error::Gap`] (a reconnect happened on a
/// stream that cannot be caught up). Every other error a stream yields is its last item.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The URL cannot be used.
    #[error("invalid URL {url:?}: {reason}")]
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A setting cannot be used (a PEM file without a certificate, a bad header, a proxy URL
    /// that is not `http://`).
    #[error("invalid {setting}: {reason}")]
    InvalidSetting {
        /// Which setting.
        setting: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The connection could not be opened (refused, DNS, TLS, proxy, WebSocket handshake, the
    /// server closing before its ack). A certificate problem (see
    /// [`Error::is_certificate_problem`]) names the certificate failure and is never retried.
    #[error("could not connect to {url}")]
    Connect {
        /// Where the client tried to connect.
        url: String,
        /// Why it failed.
        #[source]
        source: Cause,
    },
    /// An established connection broke: a transport error, the socket closing without a close
    /// frame, or no pong within the keepalive timeout. The client reconnects after it.
    #[error("lost the connection to {url}")]
    ConnectionLost {
        /// The URL the connection was opened to.
        url: String,
        /// What happened.
        #[source]
        source: Cause,
    },
    /// The server did not acknowledge `connection_init` in time.
    #[error("the server did not acknowledge the connection within {0:?}")]
    AckTimeout(Duration),
    /// The server refused the token, also after one refresh from the token provider.
    #[error("the server rejected the credentials ({signal}): {reason}")]
    AuthRejected {
        /// How the server said so: a WebSocket close code (4401, 4403) or an HTTP status (401).
        signal: AuthSignal,
        /// The server's reason.
        reason: String,
    },
    /// The token provider failed.
    #[error("the token provider failed")]
    TokenProvider(#[source] Cause),
    /// The server closed the connection with a code that ends this operation.
    #[error("the server closed the connection with code {code} ({reason})")]
    Closed {
        /// The WebSocket close code.
        code: u16,
        /// The server's reason.
        reason: String,
    },
    /// The server answered with GraphQL errors.
    #[error("the server answered with {} GraphQL error(s), first: {}", .0.len(), .0.first().map(|e| e.message.as_str()).unwrap_or(""))]
    GraphQl(Vec<GraphQlError>),
    /// A message from the server could not be decoded.
    #[error("could not decode the server's answer")]
    Decode(#[source] Cause),
    /// The consumer fell behind and this many events were dropped from the subscription's buffer.
    #[error("{dropped} event(s) dropped because the consumer fell behind")]
    Lagged {
        /// How many events were dropped.
        dropped: u64,
    },
    /// The connection was re-established; events sent while it was down are not replayed on this
    /// stream, which the server cannot catch up. The window says when events may be missing
    /// (reconcile with [`crate::IncidentClient::incidents_changed_since`]`(window.from)`).
    #[error(
        "the stream may have missed events between {} and {} while the connection was down",
        .0.from.to_rfc3339(),
        .0.until.to_rfc3339()
    )]
    Gap(crate::gap::GapWindow),
    /// The connection could not be re-established within the reconnect policy.
    #[error("gave up reconnecting after {attempts} attempt(s)")]
    RetriesExhausted {
        /// How many attempts were made.
        attempts: u32,
        /// The last attempt's error.
        #[source]
        last: Box<Error>,
    },
    /// The server refuses the listing query a caught-up stream (`new_incidents`,
    /// `critical_incidents`, `subscribe_caught_up`) catches up with: the stream ends here rather
    /// than skip what it could not fetch, and its checkpoint stays before the hole, so a restart
    /// resumes there. A server that is only unreachable or overloaded is retried instead.
    #[error("the server refused the catch-up query")]
    CatchUpRefused(#[source] Box<Error>),
    /// The client was shut down.
    #[error("the client was shut down")]
    Shutdown,
    /// The operation cannot be used this way (for example, caught up after reconnects).
    #[error("this operation cannot be used here: {reason}")]
    UnsupportedOperation {
        /// What the operation lacks.
        reason: String,
    },
    /// An HTTP request failed before the server answered.
    #[error("the HTTP request failed")]
    Http(#[source] Cause),
    /// The server answered an HTTP request with an error status.
    #[error("the server answered HTTP {status}: {code}: {message}")]
    HttpStatus {
        /// The HTTP status.
        status: u16,
        /// The error code from the body (`VALIDATION_ERROR`, `UNAUTHORIZED`, ...), if any.
        code: String,
        /// The message from the body, or the body itself.
        message: String,
    },
}

/// How the server refused credentials ([`Error::AuthRejected`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AuthSignal {
    /// A WebSocket close code: 4401 (unauthorized) or 4403 (forbidden).
    CloseCode(u16),
    /// An HTTP status: 401 (or 403).
    HttpStatus(u16),
}

impl AuthSignal {
    /// The number, whichever way it came.
    pub fn code(self) -> u16 {
        match self {
            AuthSignal::CloseCode(code) | AuthSignal::HttpStatus(code) => code,
        }
    }
}

impl std::fmt::Display for AuthSignal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AuthSignal::CloseCode(code) => write!(f, "WebSocket close code {code}"),
            AuthSignal::HttpStatus(code) => write!(f, "HTTP status {code}"),
        }
    }
}

impl Error {
    /// True for errors after which a stream keeps delivering ([`Error::Lagged`], [`Error::Gap`]).
    pub fn is_recoverable(&self) -> bool {
        matches!(self, Error::Lagged { .. } | Error::Gap(_))
    }
}

/// One GraphQL error from the server.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
pub struct GraphQlError {
    /// What went wrong.
    pub message: String,
    /// Where in the document, if the server says.
    #[serde(default)]
    pub locations: Vec<Location>,
    /// Which field, if the server says.
    #[serde(default)]
    pub path: Vec<serde_json::Value>,
}

impl GraphQlError {
    pub(crate) fn from_cynic<E>(error: cynic::GraphQlError<E>) -> Self {
        Self {
            message: error.message,
            locations: error
                .locations
                .unwrap_or_default()
                .into_iter()
                .map(|l| Location {
                    line: l.line.max(0) as u32,
                    column: l.column.max(0) as u32,
                })
                .collect(),
            path: error
                .path
                .unwrap_or_default()
                .into_iter()
                .map(|segment| match segment {
                    cynic::GraphQlErrorPathSegment::Field(name) => serde_json::Value::String(name),
                    cynic::GraphQlErrorPathSegment::Index(index) => serde_json::Value::from(index),
                })
                .collect(),
        }
    }
}

/// A position in a GraphQL document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
pub struct Location {
    /// 1-based line.
    pub line: u32,
    /// 1-based column.
    pub column: u32,
}

impl Error {
    /// Whether a TLS handshake failed over a certificate: the server's is not trusted (unknown
    /// issuer, expired, wrong name) or the server refused the client's. The client does not
    /// retry these; the fix is a setting (`add_root_certificate_pem`, `client_identity_pem`).
    pub fn is_certificate_problem(&self) -> bool {
        match self {
            Error::Connect { source, .. } | Error::Http(source) => {
                crate::tls::is_certificate_problem(source)
            }
            Error::RetriesExhausted { last, .. } => last.is_certificate_problem(),
            _ => false,
        }
    }
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_is_send_sync_static() {
        fn check<T: Send + Sync + 'static + std::error::Error>() {}
        check::<Error>();
    }

    #[test]
    fn auth_rejections_say_where_they_came_from() {
        let ws = Error::AuthRejected {
            signal: AuthSignal::CloseCode(4403),
            reason: "Forbidden".into(),
        };
        assert_eq!(
            ws.to_string(),
            "the server rejected the credentials (WebSocket close code 4403): Forbidden"
        );
        let http = Error::AuthRejected {
            signal: AuthSignal::HttpStatus(401),
            reason: "expired".into(),
        };
        assert_eq!(
            http.to_string(),
            "the server rejected the credentials (HTTP status 401): expired"
        );
    }

    #[test]
    fn connect_errors_name_the_url_and_keep_the_cause() {
        let error = Error::Connect {
            url: "ws://127.0.0.1:9/graphql/ws".into(),
            source: message("connection refused"),
        };
        assert_eq!(
            error.to_string(),
            "could not connect to ws://127.0.0.1:9/graphql/ws"
        );
        let cause = std::error::Error::source(&error).map(ToString::to_string);
        assert_eq!(cause.as_deref(), Some("connection refused"));
    }

    #[test]
    fn only_lag_and_gap_are_recoverable() {
        assert!(Error::Lagged { dropped: 3 }.is_recoverable());
        let now = chrono::Utc::now();
        assert!(
            Error::Gap(crate::GapWindow {
                from: now,
                until: now
            })
            .is_recoverable()
        );
        assert!(!Error::Shutdown.is_recoverable());
        assert!(
            !Error::AuthRejected {
                signal: AuthSignal::CloseCode(4403),
                reason: String::new()
            }
            .is_recoverable()
        );
    }
}
