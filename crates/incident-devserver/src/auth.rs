//! HS256 JWT checking and minting, and the random secret a server signs with by default.

use std::time::Duration;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

/// The authenticated subject of a request or connection, put in GraphQL context data.
#[derive(Debug, Clone)]
pub struct Caller(pub String);

/// A token's claims.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    /// Who the token is for.
    pub sub: String,
    /// Expiry, seconds since the Unix epoch.
    pub exp: u64,
    /// Issue time, seconds since the Unix epoch.
    pub iat: u64,
}

/// Whether and how the server checks tokens.
#[derive(Clone)]
pub enum Auth {
    /// Every request is accepted (`--no-auth`).
    Disabled,
    /// Tokens must be HS256-signed with this secret and unexpired.
    Hs256 {
        /// The shared secret.
        secret: Vec<u8>,
    },
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The secret never appears in logs.
        match self {
            Auth::Disabled => f.write_str("Auth::Disabled"),
            Auth::Hs256 { .. } => f.write_str("Auth::Hs256 { secret: <redacted> }"),
        }
    }
}

/// Why a token was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// No token was presented.
    #[error("missing bearer token")]
    Missing,
    /// The token is malformed, wrongly signed or expired.
    #[error("invalid token")]
    Invalid(#[source] jsonwebtoken::errors::Error),
}

impl Auth {
    /// Checks an `Authorization` value (`Bearer <jwt>`); returns the claims (made-up ones when
    /// auth is disabled).
    pub fn check(&self, authorization: Option<&str>) -> Result<Claims, AuthError> {
        let token = authorization
            .map(str::trim)
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .map(str::trim);
        match self {
            Auth::Disabled => Ok(Claims {
                sub: "anonymous".into(),
                exp: u64::MAX,
                iat: 0,
            }),
            Auth::Hs256 { secret } => {
                let token = token.filter(|t| !t.is_empty()).ok_or(AuthError::Missing)?;
                let mut validation = Validation::new(Algorithm::HS256);
                validation.leeway = 0;
                validation.set_required_spec_claims(&["exp", "sub"]);
                jsonwebtoken::decode::<Claims>(
                    token,
                    &DecodingKey::from_secret(secret),
                    &validation,
                )
                .map(|data| data.claims)
                .map_err(AuthError::Invalid)
            }
        }
    }

    /// A token for `subject` valid for `ttl`, signed with the secret (or with an empty secret
    /// when auth is disabled, which such a server accepts anyway).
    pub fn mint(&self, subject: &str, ttl: Duration) -> String {
        let secret: &[u8] = match self {
            Auth::Disabled => b"",
            Auth::Hs256 { secret } => secret,
        };
        mint(secret, subject, ttl)
    }
}

/// A HS256 token for `subject`, valid for `ttl` from now.
pub fn mint(secret: &[u8], subject: &str, ttl: Duration) -> String {
    let now = now_secs();
    let claims = Claims {
        sub: subject.to_owned(),
        iat: now,
        exp: now + ttl.as_secs().max(1),
    };
    jsonwebtoken::encode(
        &Header::new(Algorithm::HS256),
        &claims,
        &EncodingKey::from_secret(secret),
    )
    .expect("HS256 encoding of plain claims cannot fail")
}

/// A fresh HS256 secret: 32 bytes from the operating system's CSPRNG.
///
/// # Panics
///
/// If the operating system cannot provide random bytes, as `Uuid::new_v4` (which every incident
/// id comes from) would then too; there is no sound secret to fall back to.
pub(crate) fn random_secret() -> Vec<u8> {
    let mut secret = vec![0; 32];
    getrandom::fill(&mut secret).expect("the operating system's random number generator works");
    secret
}

/// Seconds since the Unix epoch.
pub fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Parses `30s`, `15m`, `1h`, `2d` or a bare number of seconds.
pub fn parse_ttl(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, unit) = text.split_at(
        text.find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len()),
    );
    let number: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration like 30s, 15m, 1h or 2d"))?;
    let seconds = match unit {
        "" | "s" => number,
        "m" => number * 60,
        "h" => number * 3600,
        "d" => number * 86_400,
        _ => return Err(format!("{text:?} has an unknown unit; use s, m, h or d")),
    };
    Ok(Duration::from_secs(seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minted_tokens_check_and_others_do_not() {
        let auth = Auth::Hs256 {
            secret: b"s3cret".to_vec(),
        };
        let token = auth.mint("alice", Duration::from_secs(60));
        assert_eq!(
            auth.check(Some(&format!("Bearer {token}"))).unwrap().sub,
            "alice"
        );
        assert!(matches!(auth.check(None), Err(AuthError::Missing)));
        assert!(matches!(
            auth.check(Some("Bearer nonsense")),
            Err(AuthError::Invalid(_))
        ));
        let other = mint(b"other", "alice", Duration::from_secs(60));
        assert!(matches!(
            auth.check(Some(&format!("Bearer {other}"))),
            Err(AuthError::Invalid(_))
        ));
    }

    #[test]
    fn random_secrets_are_32_bytes_and_differ() {
        let (one, two) = (random_secret(), random_secret());
        assert_eq!(one.len(), 32);
        assert_ne!(one, two);
    }

    #[test]
    fn ttl_parsing() {
        assert_eq!(parse_ttl("90").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_ttl("15m").unwrap(), Duration::from_secs(900));
        assert_eq!(parse_ttl("1h").unwrap(), Duration::from_secs(3600));
        assert_eq!(parse_ttl("2d").unwrap(), Duration::from_secs(172_800));
        assert!(parse_ttl("1w").is_err());
        assert!(parse_ttl("soon").is_err());
    }
}
