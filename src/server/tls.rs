//! go-plugin's AutoMTLS: Terraform puts its client certificate in `PLUGIN_CLIENT_CERT`; the
//! plugin answers with a fresh self-signed certificate of its own (sent in the handshake line)
//! and accepts TLS connections from exactly that client certificate.
//!
//! go-plugin's clients sign with ECDSA P-521 (see go-plugin `mtls.go`), which `ring` cannot
//! verify; the client's handshake signature for that one scheme is checked with the `p521`
//! crate, and every other scheme goes to rustls's `ring` provider as usual.

use std::sync::Arc;

use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{
    alg_id, AlgorithmIdentifier, CertificateDer, InvalidSignature, PrivateKeyDer,
    PrivatePkcs8KeyDer, SignatureVerificationAlgorithm, UnixTime,
};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName, SignatureScheme};
use tokio_rustls::rustls;

/// Why AutoMTLS could not be set up.
#[derive(Debug, thiserror::Error)]
pub(crate) enum TlsError {
    /// `PLUGIN_CLIENT_CERT` holds no PEM certificate.
    #[error("PLUGIN_CLIENT_CERT holds no valid PEM certificate")]
    ClientCertificate,
    /// The server certificate could not be generated.
    #[error("cannot generate the server certificate")]
    Generate(#[source] rcgen::Error),
    /// rustls refused the configuration.
    #[error("cannot configure tls")]
    Config(#[source] rustls::Error),
}

/// The server side of AutoMTLS: the rustls configuration and our certificate.
pub(crate) struct AutoMtls {
    /// The configuration for accepting connections.
    pub(crate) config: Arc<rustls::ServerConfig>,
    /// Our certificate, DER, for the handshake line.
    pub(crate) certificate: Vec<u8>,
}

impl AutoMtls {
    /// Sets up AutoMTLS for the client whose PEM certificate Terraform passed.
    pub(crate) fn new(client_cert_pem: &str) -> Result<Self, TlsError> {
        let client_certificate = CertificateDer::from_pem_slice(client_cert_pem.as_bytes())
            .map_err(|_| TlsError::ClientCertificate)?;
        let (certificate, key) = generate_certificate()?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier = Arc::new(PinnedClientVerifier {
            expected: client_certificate.into_owned(),
            algorithms: provider.signature_verification_algorithms,
        });
        // TLS 1.3 only: under TLS 1.2, Go's client signs with the first ECDSA scheme we list
        // whatever its key's curve, so a P-521 client certificate would fail there. Go's
        // crypto/tls (go-plugin, Terraform) negotiates 1.3 by default.
        let mut config = rustls::ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13])
            .map_err(TlsError::Config)?
            .with_client_cert_verifier(verifier)
            .with_single_cert(vec![CertificateDer::from(certificate.clone())], key)
            .map_err(TlsError::Config)?;
        // gRPC runs over HTTP/2, and grpc-go refuses servers that do not negotiate it by ALPN.
        config.alpn_protocols = vec![b"h2".to_vec()];
        Ok(AutoMtls {
            config: Arc::new(config),
            certificate,
        })
    }
}

/// A self-signed ECDSA P-256 certificate for `localhost`, usable as its own CA, as go-plugin's
/// client expects: it trusts the handshake's certificate as a root and checks the name.
fn generate_certificate() -> Result<(Vec<u8>, PrivateKeyDer<'static>), TlsError> {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair,
        KeyUsagePurpose, PKCS_ECDSA_P256_SHA256,
    };
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(TlsError::Generate)?;
    let mut params =
        CertificateParams::new(vec!["localhost".to_owned()]).map_err(TlsError::Generate)?;
    params
        .distinguished_name
        .push(DnType::CommonName, "localhost");
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
        KeyUsagePurpose::KeyAgreement,
        KeyUsagePurpose::KeyCertSign,
    ];
    params.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
    ];
    let certificate = params.self_signed(&key).map_err(TlsError::Generate)?;
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
    Ok((certificate.der().to_vec(), key))
}

/// Accepts exactly one client certificate (byte for byte), as go-plugin's server does by
/// making the client's certificate the only trusted root.
#[derive(Debug)]
struct PinnedClientVerifier {
    expected: CertificateDer<'static>,
    algorithms: WebPkiSupportedAlgorithms,
}

/// ECDSA P-521 with SHA-512, the only scheme go-plugin's client key can sign with.
static P521_ALGORITHMS: WebPkiSupportedAlgorithms = WebPkiSupportedAlgorithms {
    all: &[&EcdsaP521Sha512],
    mapping: &[(SignatureScheme::ECDSA_NISTP521_SHA512, &[&EcdsaP521Sha512])],
};

impl PinnedClientVerifier {
    fn algorithms_for(&self, scheme: SignatureScheme) -> &WebPkiSupportedAlgorithms {
        if scheme == SignatureScheme::ECDSA_NISTP521_SHA512 {
            &P521_ALGORITHMS
        } else {
            &self.algorithms
        }
    }
}

impl ClientCertVerifier for PinnedClientVerifier {
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        // No hints: go-plugin's client has one certificate and sends it.
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        if end_entity.as_ref() == self.expected.as_ref() {
            Ok(ClientCertVerified::assertion())
        } else {
            Err(rustls::Error::InvalidCertificate(
                rustls::CertificateError::ApplicationVerificationFailure,
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, self.algorithms_for(dss.scheme))
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, self.algorithms_for(dss.scheme))
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        let mut schemes = self.algorithms.supported_schemes();
        schemes.push(SignatureScheme::ECDSA_NISTP521_SHA512);
        schemes
    }
}

/// ECDSA over P-521 with SHA-512, verified by the `p521` crate.
#[derive(Debug)]
struct EcdsaP521Sha512;

impl SignatureVerificationAlgorithm for EcdsaP521Sha512 {
    fn verify_signature(
        &self,
        public_key: &[u8],
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), InvalidSignature> {
        use p521::ecdsa::signature::Verifier;
        let key =
            p521::ecdsa::VerifyingKey::from_sec1_bytes(public_key).map_err(|_| InvalidSignature)?;
        let signature =
            p521::ecdsa::Signature::from_der(signature).map_err(|_| InvalidSignature)?;
        key.verify(message, &signature)
            .map_err(|_| InvalidSignature)
    }

    fn public_key_alg_id(&self) -> AlgorithmIdentifier {
        alg_id::ECDSA_P521
    }

    fn signature_alg_id(&self) -> AlgorithmIdentifier {
        alg_id::ECDSA_SHA512
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A P-521 key, signature and SEC1 public key, as go-plugin's client would present them.
    fn p521_signed(message: &[u8]) -> (Vec<u8>, Vec<u8>) {
        use p521::ecdsa::signature::RandomizedSigner;
        // Any scalar below the group order is a valid key; this one is fixed for reproducibility.
        let signing_key = p521::ecdsa::SigningKey::from_slice(&[0x01; 66]).expect("valid scalar");
        let signature: p521::ecdsa::Signature =
            signing_key.sign_with_rng(&mut rand::rngs::OsRng, message);
        let public_key = p521::ecdsa::VerifyingKey::from(&signing_key)
            .to_encoded_point(false)
            .as_bytes()
            .to_vec();
        (public_key, signature.to_der().as_bytes().to_vec())
    }

    #[test]
    fn p521_signatures_verify_and_forgeries_do_not() {
        let (public_key, signature) = p521_signed(b"handshake transcript");
        let algorithm = EcdsaP521Sha512;
        assert!(algorithm
            .verify_signature(&public_key, b"handshake transcript", &signature)
            .is_ok());
        assert!(algorithm
            .verify_signature(&public_key, b"another transcript", &signature)
            .is_err());
        assert!(algorithm
            .verify_signature(&public_key, b"handshake transcript", &signature[1..])
            .is_err());
    }

    #[test]
    fn only_the_pinned_client_certificate_is_accepted() {
        let (pinned, _) = generate_certificate().expect("certificate");
        let (other, _) = generate_certificate().expect("certificate");
        let verifier = PinnedClientVerifier {
            expected: CertificateDer::from(pinned.clone()),
            algorithms: rustls::crypto::ring::default_provider().signature_verification_algorithms,
        };
        let now = UnixTime::now();
        assert!(verifier
            .verify_client_cert(&CertificateDer::from(pinned), &[], now)
            .is_ok());
        assert!(verifier
            .verify_client_cert(&CertificateDer::from(other), &[], now)
            .is_err());
        // go-plugin's client only sends its certificate if its P-521 scheme is offered.
        assert!(verifier
            .supported_verify_schemes()
            .contains(&SignatureScheme::ECDSA_NISTP521_SHA512));
        assert!(verifier
            .supported_verify_schemes()
            .contains(&SignatureScheme::ECDSA_NISTP256_SHA256));
    }

    #[test]
    fn auto_mtls_accepts_a_pem_client_certificate_and_refuses_garbage() {
        let (client, _) = generate_certificate().expect("certificate");
        let pem = format!(
            "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
            base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &client)
        );
        let auto_mtls = AutoMtls::new(&pem).expect("auto mtls");
        assert_eq!(auto_mtls.config.alpn_protocols, [b"h2".to_vec()]);
        assert!(matches!(
            AutoMtls::new("not a certificate"),
            Err(TlsError::ClientCertificate)
        ));
    }
}
