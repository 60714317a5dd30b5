//! Where the client gets its JWT.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use crate::error::BoxError;

/// A bearer token. Its `Debug` never shows the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

impl Token {
    /// Wraps a JWT.
    pub fn new(jwt: impl Into<String>) -> Self {
        Self(jwt.into())
    }

    /// The JWT itself.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

impl From<String> for Token {
    fn from(jwt: String) -> Self {
        Self(jwt)
    }
}

impl From<&str> for Token {
    fn from(jwt: &str) -> Self {
        Self(jwt.to_owned())
    }
}

type TokenFuture = Pin<Box<dyn Future<Output = Result<Token, BoxError>> + Send>>;

/// Supplies a token on every connect, so long-lived clients present a fresh one after a
/// reconnect or when the server rejects an expired one.
#[derive(Clone)]
pub struct TokenProvider(Arc<dyn Fn() -> TokenFuture + Send + Sync>);

impl TokenProvider {
    /// A provider from an async function.
    pub fn new<F, Fut, T, E>(provide: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<T, E>> + Send + 'static,
        T: Into<Token>,
        E: Into<BoxError>,
    {
        Self(Arc::new(move || {
            let future = provide();
            Box::pin(async move { future.await.map(Into::into).map_err(Into::into) })
        }))
    }

    /// A provider that always gives the same token.
    pub fn fixed(token: impl Into<Token>) -> Self {
        let token = token.into();
        Self::new(move || {
            let token = token.clone();
            async move { Ok::<_, BoxError>(token) }
        })
    }

    /// Asks for a token.
    pub async fn token(&self) -> Result<Token, BoxError> {
        (self.0)().await
    }
}

impl fmt::Debug for TokenProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenProvider(..)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_never_show_in_debug() {
        let token = Token::new("eyJhbGciOiJIUzI1NiJ9.secret.sig");
        assert_eq!(format!("{token:?}"), "Token(<redacted>)");
        assert!(!format!("{:?}", TokenProvider::fixed(token)).contains("secret"));
    }
}

/// The provider and the token it gave last. WebSocket connects ask the provider every time; HTTP
/// requests reuse the last token and ask again only when the server answers 401.
#[derive(Debug, Clone)]
pub(crate) struct TokenSource {
    provider: TokenProvider,
    current: Arc<std::sync::Mutex<Option<Token>>>,
    /// How long the provider may take.
    timeout: std::time::Duration,
}

impl TokenSource {
    pub(crate) fn new(provider: TokenProvider, timeout: std::time::Duration) -> Self {
        Self {
            provider,
            current: Arc::default(),
            timeout,
        }
    }

    /// A new token from the provider, remembered for HTTP. A provider that takes longer than
    /// the timeout fails, so a hung secret store cannot stall a reconnect.
    pub(crate) async fn fresh(&self) -> Result<Token, BoxError> {
        let token = tokio::time::timeout(self.timeout, self.provider.token())
            .await
            .map_err(|_| -> BoxError {
                format!("the token provider gave no token within {:?}", self.timeout).into()
            })??;
        *self.current.lock().unwrap_or_else(|p| p.into_inner()) = Some(token.clone());
        Ok(token)
    }

    /// The last token, or a new one if there is none yet.
    pub(crate) async fn current(&self) -> Result<Token, BoxError> {
        let current = self
            .current
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        match current {
            Some(token) => Ok(token),
            None => self.fresh().await,
        }
    }
}
