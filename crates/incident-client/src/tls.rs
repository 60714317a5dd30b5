//! TLS for `wss://` and `https://`: one rustls configuration, built from the builder's settings,
//! shared by the WebSocket and the HTTP paths, and the classification of certificate failures
//! (which are never retried).

use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{AlertDescription, RootCertStore};

use crate::error::{Cause, Error, Result};

/// What the builder was told about TLS.
#[derive(Debug, Clone, Default)]
pub(crate) struct TlsSettings {
    /// Trust the operating system's roots instead of the built-in web roots.
    pub(crate) system_roots: bool,
    /// More CA certificates to trust, PEM.
    pub(crate) extra_roots: Vec<Vec<u8>>,
    /// A client certificate chain and key, PEM, for mutual TLS.
    pub(crate) identity: Option<(Vec<u8>, Vec<u8>)>,
}

impl TlsSettings {
    /// Whether anything differs from the defaults.
    pub(crate) fn is_customized(&self) -> bool {
        self.system_roots || !self.extra_roots.is_empty() || self.identity.is_some()
    }

    /// The rustls client configuration. No ALPN is offered: the WebSocket needs HTTP/1.1, and
    /// the HTTP path uses the same configuration.
    pub(crate) fn client_config(&self) -> Result<Arc<rustls::ClientConfig>> {
        let mut roots = RootCertStore::empty();
        if self.system_roots {
            add_system_roots(&mut roots)?;
        } else {
            add_web_roots(&mut roots);
        }
        for pem in &self.extra_roots {
            for certificate in certificates(pem, "a root certificate")? {
                roots
                    .add(certificate)
                    .map_err(|e| invalid("a root certificate", e.to_string()))?;
            }
        }
        let builder = rustls::ClientConfig::builder_with_provider(provider()?)
            .with_safe_default_protocol_versions()
            .map_err(|e| invalid("TLS", e.to_string()))?
            .with_root_certificates(roots);
        let config = match &self.identity {
            Some((chain, key)) => {
                let chain = certificates(chain, "the client certificate")?;
                let key = PrivateKeyDer::from_pem_slice(key)
                    .map_err(|e| invalid("the client key", e.to_string()))?;
                builder
                    .with_client_auth_cert(chain, key)
                    .map_err(|e| invalid("the client certificate and key", e.to_string()))?
            }
            None => builder.with_no_client_auth(),
        };
        Ok(Arc::new(config))
    }
}

/// A configuration for plain `http://`, which never uses it: reqwest needs one when no crypto
/// provider is installed for the process (it is built without one, so the provider is the
/// client's choice), and building it reads no root store.
pub(crate) fn plain_config() -> Result<rustls::ClientConfig> {
    Ok(rustls::ClientConfig::builder_with_provider(provider()?)
        .with_safe_default_protocol_versions()
        .map_err(|e| invalid("TLS", e.to_string()))?
        .with_root_certificates(RootCertStore::empty())
        .with_no_client_auth())
}

/// The crypto provider chosen by the Cargo features: `aws-lc-rs` when enabled (it is never a
/// default, so enabling it is a choice), else `ring` (the default), else the process default a
/// program installed with `CryptoProvider::install_default`.
fn provider() -> Result<Arc<rustls::crypto::CryptoProvider>> {
    #[cfg(feature = "aws-lc-rs")]
    return Ok(Arc::new(rustls::crypto::aws_lc_rs::default_provider()));
    #[cfg(all(feature = "ring", not(feature = "aws-lc-rs")))]
    return Ok(Arc::new(rustls::crypto::ring::default_provider()));
    #[cfg(not(any(feature = "ring", feature = "aws-lc-rs")))]
    rustls::crypto::CryptoProvider::get_default()
        .cloned()
        .ok_or_else(|| {
            invalid(
                "TLS",
                "no crypto provider: enable incident-client's `ring` or `aws-lc-rs` feature, or \
                 install a process default with rustls' CryptoProvider::install_default"
                    .into(),
            )
        })
}

/// The built-in web roots (Mozilla's, from `webpki-roots`), when built with that feature.
fn add_web_roots(roots: &mut RootCertStore) {
    #[cfg(feature = "webpki-roots")]
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    #[cfg(not(feature = "webpki-roots"))]
    let _ = roots;
}

/// The operating system's roots (SSL_CERT_FILE and SSL_CERT_DIR when set, else the platform's
/// store), with the `native-roots` feature.
fn add_system_roots(roots: &mut RootCertStore) -> Result<()> {
    #[cfg(feature = "native-roots")]
    {
        let found = rustls_native_certs::load_native_certs();
        if found.certs.is_empty() {
            let why = found
                .errors
                .first()
                .map(ToString::to_string)
                .unwrap_or_else(|| "no certificate found".into());
            return Err(invalid("the system's root certificates", why));
        }
        let (_added, _ignored) = roots.add_parsable_certificates(found.certs);
        Ok(())
    }
    #[cfg(not(feature = "native-roots"))]
    {
        let _ = roots;
        Err(invalid(
            "tls_system_roots",
            "this build of incident-client has no `native-roots` feature".into(),
        ))
    }
}

fn invalid(setting: &str, reason: String) -> Error {
    Error::InvalidSetting {
        setting: setting.to_owned(),
        reason,
    }
}

/// Every certificate in a PEM bundle; at least one.
fn certificates(pem: &[u8], what: &str) -> Result<Vec<CertificateDer<'static>>> {
    let found = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| invalid(what, e.to_string()))?;
    if found.is_empty() {
        return Err(invalid(what, "no certificate in the PEM".into()));
    }
    Ok(found)
}

/// A TLS handshake failed over a certificate: the server's is not trusted (unknown issuer,
/// expired, wrong name), or the server refused the client's (or its absence). Retrying cannot
/// help, so the client stops instead of reconnecting.
#[derive(Debug, thiserror::Error)]
#[error("TLS certificate problem: {problem}")]
pub(crate) struct CertificateProblem {
    problem: rustls::Error,
    #[source]
    original: Cause,
}

/// Wraps `error` as a [`Cause`], as a [`CertificateProblem`] when one is behind it.
pub(crate) fn classify(error: impl std::error::Error + Send + Sync + 'static) -> Cause {
    match certificate_problem(&error) {
        Some(problem) => Arc::new(CertificateProblem {
            problem,
            original: Arc::new(error),
        }),
        None => Arc::new(error),
    }
}

/// Whether `cause` is a [`CertificateProblem`].
pub(crate) fn is_certificate_problem(cause: &Cause) -> bool {
    cause.downcast_ref::<CertificateProblem>().is_some()
}

/// The rustls error behind `error`, if it is about a certificate. I/O errors hide their inner
/// error from `source()`, so those are opened with `get_ref`.
fn certificate_problem(error: &(dyn std::error::Error + 'static)) -> Option<rustls::Error> {
    let mut next = Some(error);
    while let Some(error) = next {
        if let Some(tls) = error.downcast_ref::<rustls::Error>() {
            return about_certificates(tls).then(|| tls.clone());
        }
        if let Some(inner) = error
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            && let Some(found) = certificate_problem(inner)
        {
            return Some(found);
        }
        next = error.source();
    }
    None
}

fn about_certificates(error: &rustls::Error) -> bool {
    match error {
        rustls::Error::InvalidCertificate(_) | rustls::Error::NoCertificatesPresented => true,
        rustls::Error::AlertReceived(alert) => matches!(
            alert,
            AlertDescription::BadCertificate
                | AlertDescription::UnsupportedCertificate
                | AlertDescription::CertificateRevoked
                | AlertDescription::CertificateExpired
                | AlertDescription::CertificateUnknown
                | AlertDescription::UnknownCA
                | AlertDescription::CertificateRequired
        ),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn certificate_errors_are_found_inside_io_errors() {
        let tls = rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer);
        let io = std::io::Error::new(std::io::ErrorKind::InvalidData, tls);
        let cause = classify(io);
        assert!(is_certificate_problem(&cause));
        assert_eq!(
            cause.to_string(),
            "TLS certificate problem: invalid peer certificate: UnknownIssuer"
        );
        let other = classify(std::io::Error::new(
            std::io::ErrorKind::ConnectionRefused,
            "refused",
        ));
        assert!(!is_certificate_problem(&other));
    }

    #[test]
    fn bad_pem_is_a_typed_error() {
        let settings = TlsSettings {
            extra_roots: vec![b"not a certificate".to_vec()],
            ..TlsSettings::default()
        };
        let error = settings.client_config().unwrap_err();
        assert!(
            matches!(&error, Error::InvalidSetting { setting, .. } if setting == "a root certificate"),
            "{error}"
        );
    }

    /// The root store follows the features: Mozilla's roots with `webpki-roots`, none without.
    #[test]
    fn the_default_root_store_follows_the_features() {
        let mut roots = RootCertStore::empty();
        add_web_roots(&mut roots);
        assert_eq!(roots.is_empty(), !cfg!(feature = "webpki-roots"));
    }

    /// Without `native-roots`, asking for the system's roots is a typed error at connect.
    #[cfg(not(feature = "native-roots"))]
    #[test]
    fn system_roots_without_the_feature_are_a_typed_error() {
        let settings = TlsSettings {
            system_roots: true,
            ..TlsSettings::default()
        };
        let error = settings.client_config().unwrap_err();
        assert!(
            matches!(&error, Error::InvalidSetting { setting, reason }
                if setting == "tls_system_roots" && reason.contains("native-roots")),
            "{error}"
        );
    }

    /// Without a provider feature, the process default is used, and its absence is a typed
    /// error naming the features.
    #[cfg(not(any(feature = "ring", feature = "aws-lc-rs")))]
    #[test]
    fn no_provider_is_a_typed_error() {
        let error = TlsSettings::default().client_config().unwrap_err();
        assert!(
            matches!(&error, Error::InvalidSetting { reason, .. } if reason.contains("`ring`")),
            "{error}"
        );
        assert!(plain_config().is_err());
    }

    /// The provider is the one the features name.
    #[cfg(any(feature = "ring", feature = "aws-lc-rs"))]
    #[test]
    fn the_provider_follows_the_features() {
        let config = TlsSettings::default().client_config().unwrap();
        assert!(plain_config().is_ok());
        let names = |provider: &rustls::crypto::CryptoProvider| {
            let groups: Vec<String> = provider
                .kx_groups
                .iter()
                .map(|group| format!("{:?}", group.name()))
                .collect();
            groups.join(",")
        };
        #[cfg(feature = "aws-lc-rs")]
        let expected = rustls::crypto::aws_lc_rs::default_provider();
        #[cfg(not(feature = "aws-lc-rs"))]
        let expected = rustls::crypto::ring::default_provider();
        assert_eq!(names(config.crypto_provider()), names(&expected));
        // The two providers differ: aws-lc-rs offers post-quantum key exchange, ring does not.
        assert_eq!(
            names(&expected).contains("MLKEM"),
            cfg!(feature = "aws-lc-rs")
        );
    }
}
