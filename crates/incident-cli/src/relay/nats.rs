//! The relay's side of NATS: connecting with the `nats` CLI's credentials, and the JetStream
//! stream it publishes to (created when missing, checked to cover the subject).

use std::time::Duration;

use anyhow::{Result, bail};
use async_nats::jetstream::{self, stream};

use super::DUPLICATE_WINDOW;
use crate::cli::NatsAuth;
use crate::exit::{Unreachable, UsageError};

/// The JetStream context of the NATS server(s) at `url` (comma-separated), authenticated with
/// `auth` through async-nats' own options. A URL that cannot be parsed or a credentials file
/// that cannot be read is a usage error; a server that cannot be reached, or that refuses the
/// credentials or the TLS handshake, is a connection error (exit 3) at once, never a retry loop.
pub async fn connect(url: &str, auth: &NatsAuth) -> Result<jetstream::Context> {
    let addresses: Vec<async_nats::ServerAddr> = url
        .split(',')
        .map(|address| {
            address.trim().parse().map_err(|e| {
                anyhow::Error::new(UsageError(format!(
                    "--nats {:?} is not a NATS URL: {e}",
                    redacted(address)
                )))
            })
        })
        .collect::<Result<_>>()?;
    let options = connect_options(auth).await?;
    let client = options
        .name(concat!("incident-relay/", env!("CARGO_PKG_VERSION")))
        .connection_timeout(Duration::from_secs(5))
        .connect(addresses)
        .await
        .map_err(|e| {
            use async_nats::ConnectErrorKind;
            let why = match e.kind() {
                ConnectErrorKind::AuthorizationViolation => "NATS refused the credentials",
                ConnectErrorKind::Tls => "the TLS handshake with NATS failed",
                _ => "cannot reach NATS",
            };
            Unreachable(format!("{why} at {}: {e}", redacted(url)))
        })?;
    Ok(jetstream::new(client))
}

/// `urls` without credentials in them (`nats://user:pass@host` becomes `nats://***@host`).
fn redacted(urls: &str) -> String {
    urls.split(',')
        .map(|url| match (url.find("://"), url.rfind('@')) {
            (Some(scheme), Some(at)) if at > scheme => {
                format!("{}***{}", &url[..scheme + 3], &url[at..])
            }
            _ => url.to_owned(),
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// async-nats' connect options for the credentials given.
async fn connect_options(auth: &NatsAuth) -> Result<async_nats::ConnectOptions> {
    let usage = |flag: &str, path: &std::path::Path, e: &dyn std::fmt::Display| -> anyhow::Error {
        UsageError(format!("{flag} {}: {e}", path.display())).into()
    };
    let mut options = async_nats::ConnectOptions::new();
    if let Some(path) = &auth.nats_creds {
        options = options
            .credentials_file(path)
            .await
            .map_err(|e| usage("--nats-creds", path, &e))?;
    }
    if let Some(path) = &auth.nats_nkey {
        let seed = std::fs::read_to_string(path).map_err(|e| usage("--nats-nkey", path, &e))?;
        let seed = seed
            .lines()
            .map(str::trim)
            .find(|line| line.starts_with("SU"))
            .ok_or_else(|| usage("--nats-nkey", path, &"holds no user nkey seed (SU...)"))?;
        options = options.nkey(seed.to_owned());
    }
    if let (Some(user), Some(password)) = (&auth.nats_user, &auth.nats_password) {
        options = options.user_and_password(user.clone(), password.clone());
    }
    if let Some(token) = &auth.nats_token {
        options = options.token(token.clone());
    }
    if let Some(path) = &auth.nats_ca_cert {
        std::fs::metadata(path).map_err(|e| usage("--nats-ca-cert", path, &e))?;
        options = options
            .add_root_certificates(path.clone())
            .require_tls(true);
    }
    if let (Some(cert), Some(key)) = (&auth.nats_client_cert, &auth.nats_client_key) {
        for (flag, path) in [("--nats-client-cert", cert), ("--nats-client-key", key)] {
            std::fs::metadata(path).map_err(|e| usage(flag, path, &e))?;
        }
        options = options
            .add_client_certificate(cert.clone(), key.clone())
            .require_tls(true);
    }
    Ok(options)
}

/// The stream `name`, created with SUBJECT and a 10-minute duplicate window when missing; an
/// existing stream must cover SUBJECT.
pub async fn ensure_stream(
    jetstream: &jetstream::Context,
    name: &str,
    subject: &str,
) -> Result<stream::Stream> {
    let config = stream::Config {
        name: name.to_owned(),
        subjects: vec![subject.to_owned()],
        duplicate_window: DUPLICATE_WINDOW,
        ..Default::default()
    };
    let mut stream = match jetstream.get_or_create_stream(config).await {
        Ok(stream) => stream,
        // Another relay may have created it between our lookup and our create.
        Err(first) => jetstream.get_stream(name).await.map_err(|_| {
            Unreachable(format!("cannot create or open the stream {name}: {first}"))
        })?,
    };
    let info = stream
        .info()
        .await
        .map_err(|e| Unreachable(format!("cannot read the stream {name}: {e}")))?;
    let subjects = &info.config.subjects;
    if !subjects.iter().any(|pattern| covers(pattern, subject)) {
        bail!(UsageError(format!(
            "the stream {name} exists with subjects {subjects:?}, which do not cover {subject}; add {subject} to it or choose another --stream"
        )));
    }
    if info.config.duplicate_window < DUPLICATE_WINDOW {
        tracing::warn!(
            "the stream {name} drops duplicates only within {:?}; two relays (or a restart) further apart than that store an incident twice",
            info.config.duplicate_window
        );
    }
    Ok(stream)
}

/// A subject to publish to: tokens separated by dots, no wildcards.
pub fn check_subject(subject: &str) -> Result<()> {
    let valid = !subject.is_empty()
        && subject.split('.').all(|token| {
            !token.is_empty()
                && token != "*"
                && token != ">"
                && !token.contains(char::is_whitespace)
        });
    if !valid {
        bail!(UsageError(format!(
            "--subject {subject:?} must be a literal subject such as incidents.new (no wildcards)"
        )));
    }
    Ok(())
}

/// Whether the stream subject `pattern` (`*` one token, `>` the rest) matches `subject`.
fn covers(pattern: &str, subject: &str) -> bool {
    let mut tokens = subject.split('.');
    for part in pattern.split('.') {
        match (part, tokens.next()) {
            (">", Some(_)) => return true,
            ("*", Some(_)) => {}
            (part, Some(token)) if part == token => {}
            _ => return false,
        }
    }
    tokens.next().is_none()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_subjects_cover_like_nats() {
        assert!(covers("incidents.new", "incidents.new"));
        assert!(covers("incidents.*", "incidents.new"));
        assert!(covers("incidents.>", "incidents.new.p0"));
        assert!(covers(">", "incidents"));
        assert!(!covers("incidents.*", "incidents.new.p0"));
        assert!(!covers("incidents.new", "incidents.critical"));
        assert!(!covers("incidents.new.p0", "incidents.new"));
        assert!(!covers("incidents.>", "incidents"));
    }

    #[test]
    fn subjects_must_be_literal() {
        assert!(check_subject("incidents.new").is_ok());
        for bad in ["", "incidents.*", "a..b", "incidents.>", "a b"] {
            assert!(check_subject(bad).is_err(), "{bad:?}");
        }
    }
}
