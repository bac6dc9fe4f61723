//! HTTPS for the obshell API: a server certificate and key, and optionally a CA that client
//! certificates must chain to (mutual TLS). obshell itself serves HTTPS when it is started with
//! a certificate; the simulator lets the provider's `ca_certificate`, `client_certificate` and
//! `client_key` settings be tested end to end.

use std::sync::Arc;

use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

/// The PEM material for HTTPS. `Debug` never shows the key.
#[derive(Clone)]
pub struct SimTls {
    certificate_chain_pem: Vec<u8>,
    key_pem: Vec<u8>,
    client_ca_pem: Option<Vec<u8>>,
}

impl SimTls {
    /// The server's certificate chain (leaf first) and its private key, both PEM.
    pub fn new(certificate_chain_pem: impl Into<Vec<u8>>, key_pem: impl Into<Vec<u8>>) -> Self {
        Self {
            certificate_chain_pem: certificate_chain_pem.into(),
            key_pem: key_pem.into(),
            client_ca_pem: None,
        }
    }

    /// Requires every client to present a certificate that chains to one of these PEM CA
    /// certificates; a connection without one fails its handshake.
    pub fn with_client_ca(mut self, client_ca_pem: impl Into<Vec<u8>>) -> Self {
        self.client_ca_pem = Some(client_ca_pem.into());
        self
    }

    /// Whether client certificates are required.
    pub fn requires_client_certificate(&self) -> bool {
        self.client_ca_pem.is_some()
    }

    /// The acceptor for the listener, or what is wrong with the PEM material.
    pub(crate) fn acceptor(&self) -> Result<TlsAcceptor, TlsSetupError> {
        let chain = CertificateDer::pem_slice_iter(&self.certificate_chain_pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| TlsSetupError::Certificate(e.to_string()))?;
        if chain.is_empty() {
            return Err(TlsSetupError::Certificate(
                "no CERTIFICATE block found".to_owned(),
            ));
        }
        // The error of a failed key parse never quotes the key.
        let key = PrivateKeyDer::from_pem_slice(&self.key_pem)
            .map_err(|_| TlsSetupError::Key("no usable PEM private key found".to_owned()))?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsSetupError::Config(e.to_string()))?;
        let builder = match &self.client_ca_pem {
            None => builder.with_no_client_auth(),
            Some(pem) => {
                let mut roots = rustls::RootCertStore::empty();
                for certificate in CertificateDer::pem_slice_iter(pem) {
                    let certificate =
                        certificate.map_err(|e| TlsSetupError::ClientCa(e.to_string()))?;
                    roots
                        .add(certificate)
                        .map_err(|e| TlsSetupError::ClientCa(e.to_string()))?;
                }
                if roots.is_empty() {
                    return Err(TlsSetupError::ClientCa(
                        "no CERTIFICATE block found".to_owned(),
                    ));
                }
                let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                    Arc::new(roots),
                    provider,
                )
                .build()
                .map_err(|e| TlsSetupError::ClientCa(e.to_string()))?;
                builder.with_client_cert_verifier(verifier)
            }
        };
        let mut config = builder
            .with_single_cert(chain, key)
            .map_err(|e| TlsSetupError::Key(e.to_string()))?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(TlsAcceptor::from(Arc::new(config)))
    }
}

impl std::fmt::Debug for SimTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimTls")
            .field("client_ca", &self.client_ca_pem.is_some())
            .finish_non_exhaustive()
    }
}

/// Why the TLS material cannot serve.
#[derive(Debug, thiserror::Error)]
pub enum TlsSetupError {
    /// The server certificate chain.
    #[error("the TLS certificate is not usable: {0}")]
    Certificate(String),
    /// The private key, or it does not match the certificate.
    #[error("the TLS key is not usable: {0}")]
    Key(String),
    /// The client CA.
    #[error("the TLS client CA is not usable: {0}")]
    ClientCa(String),
    /// rustls refused the configuration.
    #[error("the TLS configuration is not usable: {0}")]
    Config(String),
}
