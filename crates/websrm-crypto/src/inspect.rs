//! Reading any certificate into domain values.

use websrm_domain::{
    RawSubject, RevocationReason, SerialNumber, Source, Subject, Thumbprint, Validity,
};
use x509_parser::prelude::{FromDer, X509Certificate};
use x509_parser::public_key::PublicKey as ParsedKey;

use crate::validate::raw_subject;
use crate::{Error, PrivateKey, PublicKey};

/// What a certificate says, as domain values.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CertificateInfo {
    /// The serial number (`noSerie`), left-padded with zeros to 20 bytes if shorter.
    pub serial: SerialNumber,
    /// The subject attributes as found.
    pub raw_subject: RawSubject,
    /// The subject, if it is a valid WEB-SRM subject.
    pub subject: Option<Subject>,
    /// The issuer's name, as text (e.g. `CN=…, O=…`).
    pub issuer: String,
    /// The validity period.
    pub validity: Validity,
    /// SHA-1 of the DER, the value of `EMPRCERTIFTRANSM` and `emprCertifSEV`.
    pub thumbprint: Thumbprint,
    /// The public key, if it is an ECDSA P-256 key.
    pub public_key: Option<PublicKey>,
    /// Where the issuer publishes its CRL (the URIs of the CRL distribution points).
    pub crl_urls: Vec<String>,
    /// Where the issuer's certificate can be fetched (authority information access,
    /// caIssuers URIs).
    pub ca_issuers: Vec<String>,
}

impl CertificateInfo {
    /// Whether the certificate's public key is the public half of `key`.
    pub fn matches_key(&self, key: &PrivateKey) -> bool {
        self.public_key.as_ref() == Some(&key.public_key())
    }
}

/// Reads a DER certificate.
pub fn inspect_certificate(der: &[u8]) -> Result<CertificateInfo, Error> {
    let cert = parse(der)?;
    let raw = cert.raw_serial();
    let raw = raw.strip_prefix(&[0]).unwrap_or(raw);
    if raw.len() > 20 {
        return Err(Error::SerialLength { len: raw.len() });
    }
    let mut serial = [0u8; 20];
    serial[20 - raw.len()..].copy_from_slice(raw);
    let validity = Validity::new(
        cert.validity().not_before.to_datetime(),
        cert.validity().not_after.to_datetime(),
    )
    .ok_or_else(|| Error::CertificateParse {
        cause: Source::text("the validity period ends before it starts"),
    })?;
    let public_key = match cert.public_key().parsed() {
        Ok(ParsedKey::EC(ec)) => PublicKey::from_sec1(ec.data()).ok(),
        _ => None,
    };
    let raw_subject = raw_subject(cert.subject());
    let (crl_urls, ca_issuers) = publication_links(&cert);
    Ok(CertificateInfo {
        crl_urls,
        ca_issuers,
        serial: SerialNumber::from_bytes(serial),
        subject: Subject::from_attributes(&raw_subject).ok(),
        raw_subject,
        issuer: cert.issuer().to_string(),
        validity,
        thumbprint: thumbprint(der),
        public_key,
    })
}

/// The URIs of the CRL distribution points and of the caIssuers access descriptions.
fn publication_links(cert: &X509Certificate<'_>) -> (Vec<String>, Vec<String>) {
    use x509_parser::extensions::{DistributionPointName, GeneralName, ParsedExtension};
    let mut crl = Vec::new();
    let mut issuers = Vec::new();
    for ext in cert.extensions() {
        match ext.parsed_extension() {
            ParsedExtension::CRLDistributionPoints(points) => {
                for point in points.iter() {
                    if let Some(DistributionPointName::FullName(names)) = &point.distribution_point
                    {
                        for name in names {
                            if let GeneralName::URI(uri) = name {
                                crl.push((*uri).to_owned());
                            }
                        }
                    }
                }
            }
            ParsedExtension::AuthorityInfoAccess(aia) => {
                for desc in aia.iter() {
                    if desc.access_method
                        == x509_parser::oid_registry::OID_PKIX_ACCESS_DESCRIPTOR_CA_ISSUERS
                        && let GeneralName::URI(uri) = &desc.access_location
                    {
                        issuers.push((*uri).to_owned());
                    }
                }
            }
            _ => {}
        }
    }
    (crl, issuers)
}

/// The thumbprint of a DER certificate: SHA-1 of its encoding.
pub fn thumbprint(der: &[u8]) -> Thumbprint {
    let digest = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, der);
    let mut bytes = [0u8; 20];
    bytes.copy_from_slice(digest.as_ref());
    Thumbprint::from_bytes(bytes)
}

/// Checks that `certificate` is signed by the key of `issuer` (both DER).
pub fn verify_issued_by(certificate: &[u8], issuer: &[u8]) -> Result<(), Error> {
    let cert = parse(certificate)?;
    let issuer = parse(issuer)?;
    cert.verify_signature(Some(issuer.public_key()))
        .map_err(|_| Error::BadSignature)
}

fn parse(der: &[u8]) -> Result<X509Certificate<'_>, Error> {
    match X509Certificate::from_der(der) {
        Ok(([], cert)) => Ok(cert),
        Ok(_) => Err(Error::CertificateParse {
            cause: Source::text("trailing data after the certificate"),
        }),
        Err(e) => Err(Error::parse(e)),
    }
}

/// What a verified CRL says.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CrlInfo {
    /// The revoked serial numbers with their reasons (unspecified when the CRL gives none).
    pub revoked: Vec<(SerialNumber, RevocationReason)>,
    /// When the issuer promises the next CRL.
    pub next_update: Option<time::OffsetDateTime>,
    /// When this CRL was issued.
    pub this_update: time::OffsetDateTime,
}

/// Reads a DER CRL and verifies its signature with the key of `issuer` (a DER certificate).
pub fn verify_crl(crl: &[u8], issuer: &[u8]) -> Result<CrlInfo, Error> {
    let issuer = parse(issuer)?;
    let (rest, list) = x509_parser::parse_x509_crl(crl).map_err(Error::parse)?;
    if !rest.is_empty() {
        return Err(Error::CertificateParse {
            cause: Source::text("trailing data after the CRL"),
        });
    }
    list.verify_signature(issuer.public_key())
        .map_err(|_| Error::BadSignature)?;
    let mut revoked = Vec::new();
    for entry in list.iter_revoked_certificates() {
        let raw = entry.raw_serial();
        let raw = raw.strip_prefix(&[0]).unwrap_or(raw);
        if raw.len() > 20 {
            return Err(Error::SerialLength { len: raw.len() });
        }
        let mut serial = [0u8; 20];
        serial[20 - raw.len()..].copy_from_slice(raw);
        let reason = entry
            .reason_code()
            .and_then(|(_, code)| RevocationReason::from_code(code.0))
            .unwrap_or(RevocationReason::Unspecified);
        revoked.push((SerialNumber::from_bytes(serial), reason));
    }
    Ok(CrlInfo {
        revoked,
        next_update: list.next_update().map(|t| t.to_datetime()),
        this_update: list.last_update().to_datetime(),
    })
}
