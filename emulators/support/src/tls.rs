//! TLS material generated at start-up: a private CA, a server certificate for 127.0.0.1 and
//! localhost signed by it, and client certificates on demand (mutual TLS). Clients trust
//! [`TlsMaterial::ca_pem`]; nothing is read from or written to disk.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::Mutex;

use rcgen::{
    BasicConstraints, Certificate, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose,
};
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::rustls::server::WebPkiClientVerifier;
use tokio_rustls::rustls::{self, RootCertStore, ServerConfig};
use tokio_rustls::TlsAcceptor;

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("certificate generation failed: {0}")]
    Generate(#[from] rcgen::Error),
    #[error("TLS configuration failed: {0}")]
    Config(#[from] rustls::Error),
    #[error("client verifier: {0}")]
    Verifier(String),
}

/// A client certificate and its key, both PEM (reqwest: `Identity::from_pem` of the two
/// concatenated).
#[derive(Debug, Clone)]
pub struct ClientIdentity {
    pub cert_pem: String,
    pub key_pem: String,
}

impl ClientIdentity {
    /// Certificate followed by key, the form `reqwest::Identity::from_pem` takes.
    pub fn combined_pem(&self) -> String {
        format!("{}{}", self.cert_pem, self.key_pem)
    }
}

pub struct TlsMaterial {
    ca_cert: Certificate,
    ca_key: KeyPair,
    server_cert: Certificate,
    server_key: KeyPair,
    /// DER of every client certificate issued, with its common name.
    issued: Mutex<HashMap<Vec<u8>, String>>,
}

fn ca_params(name: &str) -> Result<CertificateParams, rcgen::Error> {
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params
        .distinguished_name
        .push(DnType::CommonName, format!("{name} emulator CA"));
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    Ok(params)
}

impl TlsMaterial {
    /// A fresh CA named after the emulator and a server certificate for 127.0.0.1/localhost.
    pub fn generate(name: &str) -> Result<Self, TlsError> {
        let ca_key = KeyPair::generate()?;
        let ca_cert = ca_params(name)?.self_signed(&ca_key)?;
        let mut params =
            CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])?;
        params
            .distinguished_name
            .push(DnType::CommonName, format!("{name} emulator"));
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
        let server_key = KeyPair::generate()?;
        let server_cert = params.signed_by(&server_key, &ca_cert, &ca_key)?;
        Ok(Self {
            ca_cert,
            ca_key,
            server_cert,
            server_key,
            issued: Mutex::new(HashMap::new()),
        })
    }

    /// The CA certificate clients must trust.
    pub fn ca_pem(&self) -> String {
        self.ca_cert.pem()
    }

    /// A client certificate with this common name, signed by the CA.
    pub fn issue_client(&self, common_name: &str) -> Result<ClientIdentity, TlsError> {
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params
            .distinguished_name
            .push(DnType::CommonName, common_name);
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let key = KeyPair::generate()?;
        let cert = params.signed_by(&key, &self.ca_cert, &self.ca_key)?;
        self.issued
            .lock()
            .insert(cert.der().to_vec(), common_name.to_string());
        Ok(ClientIdentity {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }

    /// An acceptor presenting the server certificate. With `client_auth`, client certificates
    /// signed by the CA are verified when presented (and exposed as
    /// [`crate::PeerCertificate`]); they are not required, so a shared secret still works.
    pub fn acceptor(&self, client_auth: bool) -> Result<TlsAcceptor, TlsError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()?;
        let builder = if client_auth {
            let mut roots = RootCertStore::empty();
            roots.add(self.ca_cert.der().clone())?;
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .allow_unauthenticated()
                .build()
                .map_err(|e| TlsError::Verifier(e.to_string()))?;
            builder.with_client_cert_verifier(verifier)
        } else {
            builder.with_no_client_auth()
        };
        let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(self.server_key.serialize_der()));
        let chain: Vec<CertificateDer<'static>> = vec![self.server_cert.der().clone()];
        let mut config = builder.with_single_cert(chain, key)?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(TlsAcceptor::from(Arc::new(config)))
    }

    /// Common name of a client certificate this material issued (none for any other).
    pub fn client_name(&self, der: &[u8]) -> Option<String> {
        self.issued.lock().get(der).cloned()
    }
}
