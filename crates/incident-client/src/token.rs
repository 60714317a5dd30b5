//! Where the client gets its JWT.

use std::fmt;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::error::BoxError;

/// A bearer token, and when it expires. Its `Debug` never shows the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct Token {
    jwt: String,
    expires_at: Option<SystemTime>,
    issued_at: Option<SystemTime>,
}

impl Token {
    /// Wraps a JWT. Its expiry is read from its `exp` claim, if it has one.
    pub fn new(jwt: impl Into<String>) -> Self {
        let jwt = jwt.into();
        let (issued_at, expires_at) = jwt_times(&jwt);
        Self {
            jwt,
            expires_at,
            issued_at,
        }
    }

    /// Wraps a token that expires at `expires_at` (whatever its own claims say).
    pub fn with_expiry(token: impl Into<String>, expires_at: SystemTime) -> Self {
        Self {
            jwt: token.into(),
            expires_at: Some(expires_at),
            issued_at: Some(SystemTime::now()),
        }
    }

    /// The JWT itself.
    pub fn expose(&self) -> &str {
        &self.jwt
    }

    /// When it expires: as its provider said, or its `exp` claim (read, not verified); `None`
    /// when neither says.
    pub fn expires_at(&self) -> Option<SystemTime> {
        self.expires_at
    }

    /// When it was issued (a JWT's `iat` claim, or when it was given with its expiry).
    pub(crate) fn issued_at(&self) -> Option<SystemTime> {
        self.issued_at
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Token")
            .field("jwt", &"<redacted>")
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

impl From<String> for Token {
    fn from(jwt: String) -> Self {
        Self::new(jwt)
    }
}

impl From<&str> for Token {
    fn from(jwt: &str) -> Self {
        Self::new(jwt)
    }
}

/// The `iat` and `exp` claims of a JWT (`header.claims.signature`, base64url), without
/// verifying it.
fn jwt_times(jwt: &str) -> (Option<SystemTime>, Option<SystemTime>) {
    use base64::Engine;
    let claims = jwt.split('.').nth(1).and_then(|claims| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(claims.trim_end_matches('='))
            .ok()
    });
    let claims: serde_json::Value = claims
        .and_then(|claims| serde_json::from_slice(&claims).ok())
        .unwrap_or_default();
    let time = |name: &str| {
        let seconds = claims[name].as_f64().filter(|s| (0.0..1e12).contains(s))?;
        UNIX_EPOCH.checked_add(Duration::from_secs_f64(seconds))
    };
    (time("iat"), time("exp"))
}

type TokenFuture = Pin<Box<dyn Future<Output = Result<Token, BoxError>> + Send>>;

/// Supplies a token on every connect, so long-lived clients present a fresh one after a
/// reconnect or when the server rejects an expired one.
#[derive(Clone)]
pub struct TokenProvider {
    provide: Arc<dyn Fn() -> TokenFuture + Send + Sync>,
    /// Always the same token: rotating to a fresh one is pointless.
    fixed: bool,
}

impl TokenProvider {
    /// A provider from an async function.
    pub fn new<F, Fut, T, E>(provide: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<T, E>> + Send + 'static,
        T: Into<Token>,
        E: Into<BoxError>,
    {
        Self {
            provide: Arc::new(move || {
                let future = provide();
                Box::pin(async move { future.await.map(Into::into).map_err(Into::into) })
            }),
            fixed: false,
        }
    }

    /// A provider that always gives the same token.
    pub fn fixed(token: impl Into<Token>) -> Self {
        let token = token.into();
        let mut provider = Self::new(move || {
            let token = token.clone();
            async move { Ok::<_, BoxError>(token) }
        });
        provider.fixed = true;
        provider
    }

    /// Whether it always gives the same token ([`TokenProvider::fixed`]).
    pub(crate) fn is_fixed(&self) -> bool {
        self.fixed
    }

    /// A provider that reads the token from `path` every time it is asked: on every connect
    /// and after the server rejected one, the way Kubernetes clients read a projected
    /// service-account token that is rewritten as it rotates. Surrounding whitespace is ignored;
    /// a missing or empty file is an error naming the path (never the contents).
    pub fn file(path: impl Into<PathBuf>) -> Self {
        let path: Arc<Path> = Arc::from(path.into());
        Self::new(move || {
            let path = path.clone();
            async move {
                let text = tokio::fs::read_to_string(&path)
                    .await
                    .map_err(|e| format!("reading the token file {}: {e}", path.display()))?;
                let token = text.trim();
                if token.is_empty() {
                    return Err(format!("the token file {} is empty", path.display()).into());
                }
                Ok::<_, BoxError>(Token::new(token))
            }
        })
    }

    /// A provider that runs `program` with `args` and reads the token from what it prints,
    /// like kubeconfig `exec` plugins and AWS `credential_process`: either the token alone, or
    /// JSON `{"token": "...", "expiresAt": "<RFC 3339>"}`. The token is cached and reused until
    /// shortly before it expires (as long before as the client rotates connections: 10% of its
    /// lifetime, at least 3 s or half of it; a token with no known expiry is fetched anew every
    /// time). The command must finish within
    /// the client's token timeout ([`crate::IncidentClientBuilder::token_timeout`]); if it fails,
    /// the error carries its exit status and the end of its stderr (never its stdout).
    pub fn command<I, S>(program: impl Into<String>, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let command = Arc::new(TokenCommand {
            program: program.into(),
            args: args.into_iter().map(Into::into).collect(),
            cached: tokio::sync::Mutex::new(None),
        });
        Self::new(move || {
            let command = command.clone();
            async move { command.token().await }
        })
    }

    /// Asks for a token.
    pub async fn token(&self) -> Result<Token, BoxError> {
        (self.provide)().await
    }
}

/// The program behind [`TokenProvider::command`], and its last token.
struct TokenCommand {
    program: String,
    args: Vec<String>,
    /// The token, and when to stop reusing it.
    cached: tokio::sync::Mutex<Option<(Token, SystemTime)>>,
}

impl TokenCommand {
    async fn token(&self) -> Result<Token, BoxError> {
        let mut cached = self.cached.lock().await;
        if let Some((token, until)) = cached.as_ref()
            && SystemTime::now() < *until
        {
            return Ok(token.clone());
        }
        let output = tokio::process::Command::new(&self.program)
            .args(&self.args)
            .stdin(std::process::Stdio::null())
            .kill_on_drop(true)
            .output()
            .await
            .map_err(|e| format!("running the token command {:?}: {e}", self.program))?;
        if !output.status.success() {
            let stderr = String::from_utf8_lossy(&output.stderr);
            let stderr = stderr.trim();
            // The end of stderr says why; a runaway one is cut.
            let tail: String = stderr
                .chars()
                .rev()
                .take(500)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            return Err(format!(
                "the token command {:?} failed ({}): {tail}",
                self.program, output.status
            )
            .into());
        }
        let token = parse_command_output(&output.stdout)
            .map_err(|why| format!("the token command {:?} {why}", self.program))?;
        *cached = token
            .expires_at()
            .map(|at| (token.clone(), reuse_until(at)));
        Ok(token)
    }
}

/// A command's stdout as a token: JSON with `token` (and `expiresAt`), or the token alone.
fn parse_command_output(stdout: &[u8]) -> Result<Token, String> {
    let text = std::str::from_utf8(stdout).map_err(|_| "printed something that is not UTF-8")?;
    let text = text.trim();
    if text.starts_with('{') {
        #[derive(serde::Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Printed {
            token: String,
            expires_at: Option<chrono::DateTime<chrono::Utc>>,
        }
        let printed: Printed = serde_json::from_str(text).map_err(|e| {
            format!("printed JSON without a string `token` (and an RFC 3339 `expiresAt`): {e}")
        })?;
        return Ok(match printed.expires_at {
            Some(at) => Token::with_expiry(printed.token, at.into()),
            None => Token::new(printed.token),
        });
    }
    if text.is_empty() || text.contains(char::is_whitespace) {
        return Err("printed no token (one line, or JSON with `token`)".into());
    }
    Ok(Token::new(text))
}

/// Until when a token that expires at `at` is reused: as long before expiry as the client
/// rotates its connection (10% of the lifetime, at least 3 s or half of it), so a rotation
/// always gets a fresh one.
fn reuse_until(at: SystemTime) -> SystemTime {
    let left = at.duration_since(SystemTime::now()).unwrap_or_default();
    at - crate::connection::rotation::margin(left)
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
        assert!(!format!("{token:?}").contains("secret"), "{token:?}");
        assert!(format!("{token:?}").contains("<redacted>"));
        assert!(!format!("{:?}", TokenProvider::fixed(token)).contains("secret"));
    }

    fn jwt(claims: serde_json::Value) -> String {
        use base64::Engine;
        let encode = |v: serde_json::Value| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
        };
        format!(
            "{}.{}.sig",
            encode(serde_json::json!({"alg": "HS256"})),
            encode(claims)
        )
    }

    #[test]
    fn a_jwts_expiry_is_its_exp_claim() {
        let token = Token::new(jwt(serde_json::json!({ "sub": "a", "exp": 2_000_000_000 })));
        assert_eq!(
            token.expires_at(),
            Some(UNIX_EPOCH + Duration::from_secs(2_000_000_000))
        );
        assert_eq!(
            Token::new(jwt(serde_json::json!({ "sub": "a" }))).expires_at(),
            None
        );
        assert_eq!(Token::new("opaque").expires_at(), None);
        let at = UNIX_EPOCH + Duration::from_secs(5);
        assert_eq!(Token::with_expiry("opaque", at).expires_at(), Some(at));
    }

    #[test]
    fn command_output_is_a_token_or_json() {
        let plain = parse_command_output(b"  abc.def.ghi\n").unwrap();
        assert_eq!(plain.expose(), "abc.def.ghi");
        let json =
            parse_command_output(br#"{"token":"t0k","expiresAt":"2030-01-01T00:00:00Z"}"#).unwrap();
        assert_eq!(json.expose(), "t0k");
        assert_eq!(
            json.expires_at(),
            Some(UNIX_EPOCH + Duration::from_secs(1_893_456_000))
        );
        for bad in [
            &b""[..],
            b"two words",
            br#"{"expiresAt":"2030-01-01T00:00:00Z"}"#,
            b"{nope",
        ] {
            let error = parse_command_output(bad).unwrap_err();
            assert!(!error.contains("t0k"), "{error}");
        }
    }

    #[tokio::test]
    async fn a_token_file_is_read_on_every_ask() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        let provider = TokenProvider::file(&path);
        let error = provider.token().await.unwrap_err().to_string();
        assert!(error.contains("token"), "{error}");
        std::fs::write(&path, "first\n").unwrap();
        assert_eq!(provider.token().await.unwrap().expose(), "first");
        std::fs::write(&path, "second").unwrap();
        assert_eq!(provider.token().await.unwrap().expose(), "second");
        std::fs::write(&path, " \n").unwrap();
        assert!(
            provider
                .token()
                .await
                .unwrap_err()
                .to_string()
                .contains("empty")
        );
    }

    #[tokio::test]
    async fn a_token_command_is_cached_until_shortly_before_expiry_and_failures_carry_stderr() {
        let dir = tempfile::tempdir().unwrap();
        let count = dir.path().join("count");
        let script = format!(
            "echo x >> {count}; printf '{{\"token\":\"t-%s\",\"expiresAt\":\"2099-01-01T00:00:00Z\"}}' $(wc -l < {count})",
            count = count.display()
        );
        let provider = TokenProvider::command("sh", ["-c", script.as_str()]);
        assert_eq!(provider.token().await.unwrap().expose(), "t-1");
        assert_eq!(provider.token().await.unwrap().expose(), "t-1", "cached");
        let failing = TokenProvider::command(
            "sh",
            ["-c", "echo s3cret; echo 'vault is sealed' >&2; exit 3"],
        );
        let error = failing.token().await.unwrap_err().to_string();
        assert!(error.contains("vault is sealed"), "{error}");
        assert!(!error.contains("s3cret"), "stdout never shows: {error}");
    }
}

/// The provider and the token it gave last. WebSocket connects ask the provider every time; HTTP
/// requests reuse the last token and ask again only when the server answers 401.
#[derive(Debug, Clone)]
pub(crate) struct TokenSource {
    provider: TokenProvider,
    current: Arc<std::sync::Mutex<Option<Token>>>,
    /// How long the provider may take.
    timeout: Duration,
}

impl TokenSource {
    pub(crate) fn new(provider: TokenProvider, timeout: Duration) -> Self {
        Self {
            provider,
            current: Arc::default(),
            timeout,
        }
    }

    /// Whether the provider always gives the same token.
    pub(crate) fn is_fixed(&self) -> bool {
        self.provider.is_fixed()
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
