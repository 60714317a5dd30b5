//! Serving `https://` and `wss://`: a rustls server configuration from PEM, optionally requiring
//! client certificates signed by a given CA (mutual TLS).

use std::path::PathBuf;
use std::sync::Arc;

use rustls::RootCertStore;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;

use crate::error::{Error, Result};

/// PEM given to the builder, as bytes or as a file read at start.
#[derive(Debug, Clone)]
pub(crate) enum Pem {
    Bytes(Vec<u8>),
    File(PathBuf),
}

impl Pem {
    fn read(&self, what: &str) -> Result<Vec<u8>> {
        match self {
            Pem::Bytes(bytes) => Ok(bytes.clone()),
            Pem::File(path) => std::fs::read(path)
                .map_err(|e| Error::Tls(format!("{what} {}: {e}", path.display()))),
        }
    }
}

/// The PEM the builder was given; turned into a rustls configuration at start.
#[derive(Debug, Clone)]
pub(crate) struct TlsPem {
    pub(crate) cert_chain: Pem,
    pub(crate) key: Pem,
    pub(crate) client_ca: Option<Pem>,
}

impl TlsPem {
    /// The server configuration: the certificate chain and key, and with a client CA, a
    /// verifier that refuses clients without a certificate it signed.
    pub(crate) fn server_config(&self) -> Result<Arc<rustls::ServerConfig>> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let chain = certificates(
            &self.cert_chain.read("the TLS certificate")?,
            "the TLS certificate",
        )?;
        let key = PrivateKeyDer::from_pem_slice(&self.key.read("the TLS key")?)
            .map_err(|e| Error::Tls(format!("the TLS key: {e}")))?;
        let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::Tls(e.to_string()))?;
        let builder = match &self.client_ca {
            Some(pem) => {
                let mut roots = RootCertStore::empty();
                for certificate in certificates(&pem.read("the client CA")?, "the client CA")? {
                    roots
                        .add(certificate)
                        .map_err(|e| Error::Tls(format!("the client CA: {e}")))?;
                }
                let verifier =
                    WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                        .build()
                        .map_err(|e| Error::Tls(format!("the client CA: {e}")))?;
                builder.with_client_cert_verifier(verifier)
            }
            None => builder.with_no_client_auth(),
        };
        let mut config = builder
            .with_single_cert(chain, key)
            .map_err(|e| Error::Tls(format!("the TLS certificate and key: {e}")))?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }
}

/// Every certificate in a PEM bundle; at least one.
fn certificates(pem: &[u8], what: &str) -> Result<Vec<CertificateDer<'static>>> {
    let certificates = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| Error::Tls(format!("{what}: {e}")))?;
    if certificates.is_empty() {
        return Err(Error::Tls(format!("{what}: no certificate in the PEM")));
    }
    Ok(certificates)
}
