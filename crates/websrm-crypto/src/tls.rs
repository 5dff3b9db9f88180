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
use websrm_domain::Source;

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
    server_config_with(Arc::new(ServerIdentity::new(chain_der, key)?), client_auth)
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
    /// The root certificate as PEM: what a client of the local authority trusts (its
    /// `tls-root.pem`).
    pub fn root_pem(&self) -> String {
        crate::pem::encode("CERTIFICATE", &self.root_der)
    }

    /// A new root and a server certificate for `names` (e.g. `localhost`, `127.0.0.1`), valid
    /// from `now` for `days`; the root's key is not kept.
    pub fn generate(names: &[String], now: OffsetDateTime, days: i64) -> Result<Self, Error> {
        let (root_der, root_key) = Self::new_root(now, days)?;
        Self::issue(&root_der, &root_key, names, now, days)
    }

    /// A new root, valid from `now` for `days`, and its key: what [`LocalTlsIdentity::issue`]
    /// issues server certificates with, now and when they need renewing.
    pub fn new_root(now: OffsetDateTime, days: i64) -> Result<(Vec<u8>, PrivateKey), Error> {
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
        Ok((root_der, root_key))
    }

    /// A server certificate for `names` (host names or IP addresses), with a new key, issued by
    /// the root `root_der` with `root_key`, valid from `now` for `days` (never past the root).
    pub fn issue(
        root_der: &[u8],
        root_key: &PrivateKey,
        names: &[String],
        now: OffsetDateTime,
        days: i64,
    ) -> Result<Self, Error> {
        let root_cert = CertificateDer::from(root_der.to_vec());
        let issuer = Issuer::from_ca_cert_der(&root_cert, root_key).map_err(Error::certificate)?;
        let root_end = crate::inspect::inspect_certificate(root_der)?
            .validity
            .not_after();
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
        leaf.not_after = (now + Duration::days(days)).min(root_end);
        leaf.serial_number = Some(rcgen::SerialNumber::from_slice(
            crate::random_serial()?.as_bytes(),
        ));
        let leaf_der = leaf
            .signed_by(&key, &issuer)
            .map_err(Error::certificate)?
            .der()
            .to_vec();
        Ok(Self {
            root_der: root_der.to_vec(),
            chain: vec![leaf_der],
            key,
        })
    }

    /// Whether the server certificate names every one of `names` (DNS names, or IP addresses
    /// written as such) and is still valid at `until`.
    pub fn covers(&self, names: &[String], until: OffsetDateTime) -> Result<bool, Error> {
        let Some(leaf) = self.chain.first() else {
            return Ok(false);
        };
        let (dns, ips) = subject_alt_names(leaf)?;
        let valid = crate::inspect::inspect_certificate(leaf)?
            .validity
            .not_after()
            > until;
        Ok(valid
            && names
                .iter()
                .all(|name| match name.parse::<std::net::IpAddr>() {
                    Ok(ip) => ips.contains(&ip),
                    Err(_) => dns.iter().any(|d| d.eq_ignore_ascii_case(name)),
                }))
    }
}

/// The DNS names and IP addresses a certificate's subjectAltName lists.
fn subject_alt_names(der: &[u8]) -> Result<(Vec<String>, Vec<std::net::IpAddr>), Error> {
    use x509_parser::extensions::{GeneralName, ParsedExtension};
    use x509_parser::prelude::{FromDer, X509Certificate};
    let (_, cert) = X509Certificate::from_der(der).map_err(Error::parse)?;
    let (mut dns, mut ips) = (Vec::new(), Vec::new());
    for ext in cert.extensions() {
        if let ParsedExtension::SubjectAlternativeName(san) = ext.parsed_extension() {
            for name in &san.general_names {
                match name {
                    GeneralName::DNSName(d) => dns.push((*d).to_owned()),
                    GeneralName::IPAddress(bytes) => match bytes.len() {
                        4 => ips.push(std::net::IpAddr::from(
                            <[u8; 4]>::try_from(*bytes).unwrap_or_default(),
                        )),
                        16 => ips.push(std::net::IpAddr::from(
                            <[u8; 16]>::try_from(*bytes).unwrap_or_default(),
                        )),
                        _ => {}
                    },
                    _ => {}
                }
            }
        }
    }
    Ok((dns, ips))
}

/// The certificate a TLS server presents, replaceable while it serves: connections opened after
/// [`ServerIdentity::replace`] get the new one (a renewed certificate, the operator's own
/// reloaded), those already open keep theirs.
#[derive(Debug)]
pub struct ServerIdentity {
    current: std::sync::RwLock<Arc<rustls::sign::CertifiedKey>>,
}

impl ServerIdentity {
    /// The chain `chain_der` (leaf first) and its key.
    pub fn new(chain_der: Vec<Vec<u8>>, key: &PrivateKey) -> Result<Self, Error> {
        Self::from_parts(chain(chain_der), key_der(key))
    }

    /// A chain and a key in PEM (the operator's own certificate): certificates in order, leaf
    /// first; the key PKCS#8, SEC1 or PKCS#1, of any type rustls signs with.
    pub fn from_pem(chain_pem: &[u8], key_pem: &[u8]) -> Result<Self, Error> {
        use rustls::pki_types::pem::PemObject;
        let chain = CertificateDer::pem_slice_iter(chain_pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| Error::Tls {
                cause: Source::text(format!("the certificate file: {e}")),
            })?;
        if chain.is_empty() {
            return Err(Error::Tls {
                cause: Source::text("the certificate file holds no certificate"),
            });
        }
        let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|e| Error::Tls {
            cause: Source::text(format!("the key file: {e}")),
        })?;
        Self::from_parts(chain, key)
    }

    fn from_parts(
        chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
    ) -> Result<Self, Error> {
        let signing = provider()
            .key_provider
            .load_private_key(key)
            .map_err(Error::tls)?;
        let certified = rustls::sign::CertifiedKey::new(chain, signing);
        certified.keys_match().map_err(|e| Error::Tls {
            cause: Source::text(format!("the key is not the certificate's: {e}")),
        })?;
        Ok(Self {
            current: std::sync::RwLock::new(Arc::new(certified)),
        })
    }

    /// Presents `other`'s certificate from now on.
    pub fn replace(&self, other: Self) {
        let new = other
            .current
            .into_inner()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *self
            .current
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = new;
    }

    /// The certificate presented now (DER).
    pub fn leaf_der(&self) -> Vec<u8> {
        self.current
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .cert
            .first()
            .map(|c| c.to_vec())
            .unwrap_or_default()
    }
}

impl rustls::server::ResolvesServerCert for ServerIdentity {
    fn resolve(
        &self,
        _hello: rustls::server::ClientHello<'_>,
    ) -> Option<Arc<rustls::sign::CertifiedKey>> {
        Some(
            self.current
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .clone(),
        )
    }
}

/// [`server_config`] presenting `identity`'s certificate, whatever it is at each handshake.
pub fn server_config_with(
    identity: Arc<ServerIdentity>,
    client_auth: ClientAuth,
) -> Result<Arc<ServerConfig>, Error> {
    let builder = ServerConfig::builder_with_provider(provider())
        .with_protocol_versions(VERSIONS)
        .map_err(Error::tls)?;
    let builder = match client_auth {
        ClientAuth::None => builder.with_no_client_auth(),
        ClientAuth::Optional(cas) | ClientAuth::Required(cas) if cas.is_empty() => {
            return Err(Error::Tls {
                cause: Source::text("client authentication needs at least one CA"),
            });
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
    Ok(Arc::new(builder.with_cert_resolver(identity)))
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
