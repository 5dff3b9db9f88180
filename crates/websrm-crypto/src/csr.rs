//! Building the CSR an SRS sends, and its encoding in the JSON `csr` field.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use rcgen::{CertificateParams, CustomExtension, DistinguishedName, DnType, DnValue};
use websrm_domain::{Attribute, Subject};

use websrm_domain::Source;

use crate::{Error, PrivateKey, der};

const BEGIN: &str = "-----BEGIN CERTIFICATE REQUEST-----";
const END: &str = "-----END CERTIFICATE REQUEST-----";

/// `id-kp-timeStamping` (1.3.6.1.5.5.7.3.8): the extended key usage Revenu Québec's documents
/// request in a CSR (they call it "client authentication"); see `docs/PROTOCOL.md`.
pub const EKU_REQUESTED: &[u64] = &[1, 3, 6, 1, 5, 5, 7, 3, 8];
/// `id-kp-clientAuth` (1.3.6.1.5.5.7.3.2).
pub const EKU_CLIENT_AUTH: &[u64] = &[1, 3, 6, 1, 5, 5, 7, 3, 2];

/// A PKCS#10 certificate signing request in DER.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Csr {
    der: Vec<u8>,
}

impl Csr {
    /// Builds the CSR WEB-SRM requires for `subject`, signed with `key` (ECDSA P-256, SHA-256).
    ///
    /// The subject attributes come in the order CN, O, SN, OU, GN, L, ST, C (CN, O, SN, L, ST, C
    /// for a server administrator), SN being the surname attribute (2.5.4.4) and GN givenName
    /// (2.5.4.42). The requested extensions are those of Revenu Québec's sample: basic
    /// constraints CA:false, key usage digitalSignature and nonRepudiation, extended key usage
    /// 1.3.6.1.5.5.7.3.8 (critical), and the subject key identifier.
    pub fn build(subject: &Subject, key: &PrivateKey) -> Result<Self, Error> {
        let mut params = CertificateParams::default();
        params.distinguished_name = distinguished_name(subject);
        params.custom_extensions = requested_extensions(key);
        let csr = params.serialize_request(key).map_err(Error::certificate)?;
        Ok(Self {
            der: csr.der().to_vec(),
        })
    }

    /// The CSR from its DER encoding (not validated: see [`crate::validate_csr`]).
    pub fn from_der(der: Vec<u8>) -> Self {
        Self { der }
    }

    /// The DER encoding.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// The form of the JSON `csr` field: the BEGIN line, a line feed, the DER in Base64 on one
    /// line, a line feed, the END line.
    pub fn to_wire(&self) -> String {
        format!("{BEGIN}\n{}\n{END}", BASE64.encode(&self.der))
    }

    /// Reads the `csr` field: the single-line wire form, or ordinary PEM wrapped at any width
    /// (with `\n` or `\r\n` line ends). Fails if it is not Base64 between the BEGIN and END lines.
    pub fn from_wire(text: &str) -> Result<Self, Error> {
        let body = text
            .trim()
            .strip_prefix(BEGIN)
            .and_then(|rest| rest.strip_suffix(END))
            .ok_or_else(|| Error::Base64 {
                cause: Source::text("missing BEGIN or END CERTIFICATE REQUEST line"),
            })?;
        let compact: String = body.chars().filter(|c| !matches!(c, '\n' | '\r')).collect();
        if compact.trim().is_empty() {
            return Err(Error::Base64 {
                cause: Source::text("no data between the BEGIN and END lines"),
            });
        }
        let der = BASE64.decode(compact.trim()).map_err(|e| Error::Base64 {
            cause: Source::new(e),
        })?;
        Ok(Self { der })
    }
}

/// The subject as an rcgen distinguished name, one attribute per RDN, in CSR order.
pub(crate) fn distinguished_name(subject: &Subject) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    for (attribute, value) in subject.attributes() {
        let ty = match attribute {
            Attribute::CommonName => DnType::CommonName,
            Attribute::Organization => DnType::OrganizationName,
            Attribute::OrganizationalUnit => DnType::OrganizationalUnitName,
            Attribute::Locality => DnType::LocalityName,
            Attribute::State => DnType::StateOrProvinceName,
            Attribute::Country => DnType::CountryName,
            Attribute::Surname | Attribute::GivenName => {
                DnType::CustomDnType(attribute.oid().to_vec())
            }
        };
        // ST and C are two upper-case letters, PrintableString as RFC 5280 asks; the others may
        // carry accented letters or ':' and are UTF8String.
        let value = match attribute {
            Attribute::State | Attribute::Country => match value.as_str().try_into() {
                Ok(printable) => DnValue::PrintableString(printable),
                Err(_) => DnValue::Utf8String(value),
            },
            _ => DnValue::Utf8String(value),
        };
        dn.push(ty, value);
    }
    dn
}

/// Basic constraints, key usage, extended key usage and subject key identifier, with the
/// criticality of Revenu Québec's sample.
fn requested_extensions(key: &PrivateKey) -> Vec<CustomExtension> {
    // BasicConstraints ::= SEQUENCE { cA BOOLEAN DEFAULT FALSE, ... }: empty means CA:false.
    let basic_constraints = CustomExtension::from_oid_content(&[2, 5, 29, 19], der::tlv(0x30, &[]));
    // KeyUsage BIT STRING: digitalSignature (bit 0) and nonRepudiation (bit 1); 6 unused bits.
    let key_usage =
        CustomExtension::from_oid_content(&[2, 5, 29, 15], vec![0x03, 0x02, 0x06, 0xC0]);
    let mut eku = CustomExtension::from_oid_content(
        &[2, 5, 29, 37],
        der::tlv(0x30, &der::oid(EKU_REQUESTED)),
    );
    eku.set_criticality(true);
    let ski = CustomExtension::from_oid_content(
        &[2, 5, 29, 14],
        der::tlv(0x04, &key_identifier(&key.public_key())),
    );
    vec![basic_constraints, key_usage, eku, ski]
}

/// RFC 5280 §4.2.1.2 method 1: SHA-1 of the subject public key's BIT STRING content.
pub(crate) fn key_identifier(public_key: &crate::PublicKey) -> Vec<u8> {
    ring::digest::digest(
        &ring::digest::SHA1_FOR_LEGACY_USE_ONLY,
        public_key.as_sec1(),
    )
    .as_ref()
    .to_vec()
}
