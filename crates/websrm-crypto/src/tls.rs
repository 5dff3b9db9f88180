//! rustls configurations for WEB-SRM: server-authenticated TLS for enrolment, mutual TLS with
//! the SRS's certificate for everything else, limited to the protocol versions and cipher suites
//! WEB-SRM allows.

use std::sync::Arc;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, IsCa, Issuer, KeyUsagePurpose,
};
use rustls::crypto::CryptoProvider;
use rustls::crypto::ring::{cipher_suite as suite, default_provider};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use time::{Duration, OffsetDateTime};

use crate::{Error, PrivateKey};

/// The TLS provider: ring, with only the suites WEB-SRM lists, in its order of preference.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(CryptoProvider {
        cipher_suites: vec![
            suite::TLS13_AES_128_GCM_SHA256,
            suite::TLS13_AES_256_GCM_SHA384,
            suite::TLS13_CHACHA20_POLY1305_SHA256,
            suite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
            suite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
            suite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
            suite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
        ],
        ..default_provider()
    })
}

const VERSIONS: &[&rustls::SupportedProtocolVersion] =
    &[&rustls::version::TLS13, &rustls::version::TLS12];

/// The certificate chain and key a client presents for mutual TLS.
#[derive(Debug)]
pub struct ClientIdentity<'a> {
    /// The client's certificate first (DER), then any intermediates.
    pub chain: Vec<Vec<u8>>,
    /// The certificate's private key.
    pub key: &'a PrivateKey,
}

/// A client configuration trusting `trust_anchors` (DER certificates) and presenting
/// `identity` when given (mutual TLS).
pub fn client_config(
    trust_anchors: &[Vec<u8>],
    identity: Option<ClientIdentity<'_>>,
) -> Result<Arc<ClientConfig>, Error> {
    client_config_with_roots(roots(trust_anchors)?, identity)
}

/// A client configuration trusting the roots of `store` (e.g. the public CAs), presenting
/// `identity` when given.
pub fn client_config_with_roots(
    store: RootCertStore,
    identity: Option<ClientIdentity<'_>>,
) -> Result<Arc<ClientConfig>, Error> {
    let builder = ClientConfig::builder_with_provider(provider())
        .with_protocol_versions(VERSIONS)
        .map_err(Error::tls)?
        .with_root_certificates(store);
    let config = match identity {
        Some(identity) => builder
            .with_client_auth_cert(chain(identity.chain), key_der(identity.key))
            .map_err(Error::tls)?,
        None => builder.with_no_client_auth(),
    };
    Ok(Arc::new(config))
}

/// A client configuration that encrypts but accepts whatever certificate the server presents
/// (its handshake signature is still checked): what PostgreSQL's `sslmode=require` promises,
/// protection from passive eavesdropping only. `verify-full` uses [`client_config`].
pub fn client_config_encrypt_only() -> Result<Arc<ClientConfig>, Error> {
    let provider = provider();
    let config = ClientConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(VERSIONS)
        .map_err(Error::tls)?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyServer(provider)))
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// Accepts any server certificate; checks the handshake's signatures with the provider's
/// algorithms.
#[derive(Debug)]
struct AnyServer(Arc<CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for AnyServer {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &rustls::pki_types::ServerName<'_>,
        _: &[u8],
        _: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// Whether and how a server asks clients for a certificate.
#[derive(Debug, Clone)]
pub enum ClientAuth {
    /// No client certificate is asked for.
    None,
    /// A client certificate issued by one of these CAs (DER) is verified if presented; clients
    /// without one are let in (the enrolment host, which also serves the mutual-TLS paths).
    Optional(Vec<Vec<u8>>),
    /// A client certificate issued by one of these CAs (DER) is required.
    Required(Vec<Vec<u8>>),
}

/// A server configuration presenting `chain` and `key`.
pub fn server_config(
    chain_der: Vec<Vec<u8>>,
    key: &PrivateKey,
    client_auth: ClientAuth,
) -> Result<Arc<ServerConfig>, Error> {
    let builder = ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(VERSIONS)
        .map_err(Error::tls)?;
    let builder = match client_auth {
        ClientAuth::None => builder.with_no_client_auth(),
        ClientAuth::Optional(cas) | ClientAuth::Required(cas) if cas.is_empty() => {
            return Err(Error::tls("client authentication needs at least one CA"));
        }
        ClientAuth::Optional(cas) => builder.with_client_cert_verifier(
            WebPkiClientVerifier::builder_with_provider(Arc::new(roots(&cas)?), provider())
                .allow_unauthenticated()
                .build()
                .map_err(Error::tls)?,
        ),
        ClientAuth::Required(cas) => builder.with_client_cert_verifier(
            WebPkiClientVerifier::builder_with_provider(Arc::new(roots(&cas)?), provider())
                .build()
                .map_err(Error::tls)?,
        ),
    };
    let config = builder
        .with_single_cert(chain(chain_der), key_der(key))
        .map_err(Error::tls)?;
    Ok(Arc::new(config))
}

/// A TLS server identity for a local authority: a root to give clients as trust anchor and a
/// server certificate it issued for the given host names and IP addresses.
///
/// The real WEB-SRM presents a certificate from a public CA; a local authority cannot, so its
/// clients trust this root instead.
#[derive(Debug)]
pub struct LocalTlsIdentity {
    /// The root certificate (DER): the clients' trust anchor.
    pub root_der: Vec<u8>,
    /// The server's certificate chain (DER), leaf first.
    pub chain: Vec<Vec<u8>>,
    /// The server certificate's key.
    pub key: PrivateKey,
}

impl LocalTlsIdentity {
    /// A new root and a server certificate for `names` (e.g. `localhost`, `127.0.0.1`), valid
    /// from `now` for `days`.
    pub fn generate(names: &[String], now: OffsetDateTime, days: i64) -> Result<Self, Error> {
        let root_key = PrivateKey::generate()?;
        let mut root = CertificateParams::default();
        let mut dn = DistinguishedName::new();
        dn.push(DnType::CommonName, "websrm local TLS root");
        root.distinguished_name = dn;
        root.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        root.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
        root.not_before = now;
        root.not_after = now + Duration::days(days);
        root.serial_number = Some(rcgen::SerialNumber::from_slice(
            crate::random_serial()?.as_bytes(),
        ));
        let root_der = root
            .self_signed(&root_key)
            .map_err(Error::certificate)?
            .der()
            .to_vec();
        let issuer = Issuer::new(root, root_key);

        let key = PrivateKey::generate()?;
        let mut leaf = CertificateParams::new(names.to_vec()).map_err(Error::certificate)?;
        let mut dn = DistinguishedName::new();
        dn.push(
            DnType::CommonName,
            names
                .first()
                .cloned()
                .unwrap_or_else(|| "localhost".to_owned()),
        );
        leaf.distinguished_name = dn;
        leaf.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        leaf.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
        leaf.use_authority_key_identifier_extension = true;
        leaf.not_before = now;
        leaf.not_after = now + Duration::days(days);
        leaf.serial_number = Some(rcgen::SerialNumber::from_slice(
            crate::random_serial()?.as_bytes(),
        ));
        let leaf_der = leaf
            .signed_by(&key, &issuer)
            .map_err(Error::certificate)?
            .der()
            .to_vec();
        Ok(Self {
            root_der,
            chain: vec![leaf_der],
            key,
        })
    }
}

fn roots(anchors: &[Vec<u8>]) -> Result<RootCertStore, Error> {
    let mut store = RootCertStore::empty();
    for der in anchors {
        store
            .add(CertificateDer::from(der.clone()))
            .map_err(Error::tls)?;
    }
    Ok(store)
}

fn chain(ders: Vec<Vec<u8>>) -> Vec<CertificateDer<'static>> {
    ders.into_iter().map(CertificateDer::from).collect()
}

fn key_der(key: &PrivateKey) -> PrivateKeyDer<'static> {
    PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.pkcs8_der().to_vec()))
}
