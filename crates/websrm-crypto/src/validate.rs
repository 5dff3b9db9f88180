//! The authority's validation of a CSR: proof of possession, key and hash, key usage and
//! subject, each defect reported as a typed [`CsrFinding`].

use websrm_domain::{Attribute, ErrorId, RawSubject, Subject, SubjectFinding};
use x509_parser::certification_request::X509CertificationRequest;
use x509_parser::extensions::ParsedExtension;
use x509_parser::prelude::FromDer;
use x509_parser::public_key::PublicKey as ParsedKey;
use x509_parser::x509::X509Name;

use crate::{Csr, PublicKey};

const OID_EC_PUBLIC_KEY: &[u64] = &[1, 2, 840, 10045, 2, 1];
const OID_P256: &[u64] = &[1, 2, 840, 10045, 3, 1, 7];
const SHA256_SIGNATURES: [&[u64]; 2] = [
    &[1, 2, 840, 10045, 4, 3, 2],   // ecdsa-with-SHA256
    &[1, 2, 840, 113549, 1, 1, 11], // sha256WithRSAEncryption
];

/// A defect of a CSR, as the authority finds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CsrFinding {
    /// The `csr` field is not Base64 between BEGIN and END lines (421E).
    NotBase64,
    /// The bytes are not a PKCS#10 CSR (421E).
    NotACsr,
    /// The CSR's signature does not verify with its own public key: no proof of possession
    /// (421E).
    BadSignature,
    /// An elliptic-curve key whose length is not 256 bits (605E).
    KeyLength {
        /// The key's length in bits.
        bits: usize,
    },
    /// The key is not an elliptic-curve (ECDSA) key (606E).
    KeyAlgorithm,
    /// The CSR is not signed with SHA-256 (607E).
    Hash,
    /// A 256-bit elliptic-curve key on another curve than P-256 (608E).
    Curve,
    /// The key usage does not include non-repudiation (609E).
    NonRepudiationMissing,
    /// A defect of the subject.
    Subject(SubjectFinding),
}

impl CsrFinding {
    /// The WEB-SRM error id for this finding. This is the one table from findings to ids.
    pub fn error_id(self) -> ErrorId {
        use SubjectFinding as S;
        let number = match self {
            Self::NotBase64 | Self::NotACsr | Self::BadSignature => 421,
            Self::KeyLength { .. } => 605,
            Self::KeyAlgorithm => 606,
            Self::Hash => 607,
            Self::Curve => 608,
            Self::NonRepudiationMissing => 609,
            Self::Subject(finding) => match finding {
                S::NicknameInvalid => 420,
                S::OrganizationInvalid => 429,
                S::QstNumberInvalid => 430,
                S::ServerLocalityInvalid => 431,
                S::StateInvalid => 432,
                S::CountryInvalid => 433,
                S::SrsLocalityInvalid => 437,
                S::CommonNameMissing | S::CommonNameInvalid => 470,
                S::OrganizationalUnitMissing => 604,
                S::SurnameMissing => 610,
                S::OrganizationalUnitForbidden => 611,
                S::GivenNameMissing => 612,
                S::GivenNameForbidden => 613,
                S::FileNumberInvalid => 615,
                S::CommonNameNotQstPrefix => 616,
                // SubjectFinding is non-exhaustive; a new finding must be given its id here.
                _ => 421,
            },
        };
        ErrorId::new(number).unwrap_or(ErrorId::CONTACT_RETAILER)
    }
}

/// A CSR that passed every check: its subject and public key can be trusted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidatedCsr {
    /// The subject, in one of its two shapes.
    pub subject: Subject,
    /// The public key whose possession the CSR proves.
    pub public_key: PublicKey,
    /// The CSR as received.
    pub csr: Csr,
}

/// Validates the JSON `csr` field: decoding, key algorithm, length, curve and hash, proof of
/// possession, key usage and subject. Returns every finding, in that order.
pub fn validate_csr(wire: &str) -> Result<ValidatedCsr, Vec<CsrFinding>> {
    let csr = Csr::from_wire(wire).map_err(|_| vec![CsrFinding::NotBase64])?;
    validate_csr_der(csr)
}

/// Validates a CSR already decoded from its wire form.
pub fn validate_csr_der(csr: Csr) -> Result<ValidatedCsr, Vec<CsrFinding>> {
    let Ok(([], parsed)) = X509CertificationRequest::from_der(csr.der()) else {
        return Err(vec![CsrFinding::NotACsr]);
    };
    let mut findings = Vec::new();
    let info = &parsed.certification_request_info;
    let spki = &info.subject_pki;

    let mut point = None;
    if arcs(&spki.algorithm.algorithm).as_deref() != Some(OID_EC_PUBLIC_KEY) {
        findings.push(CsrFinding::KeyAlgorithm);
    } else {
        let curve = spki
            .algorithm
            .parameters
            .as_ref()
            .and_then(|p| p.as_oid().ok())
            .and_then(|o| arcs(&o));
        match spki.parsed() {
            Ok(ParsedKey::EC(ec)) if ec.key_size() != 256 => findings.push(CsrFinding::KeyLength {
                bits: ec.key_size(),
            }),
            Ok(ParsedKey::EC(_)) if curve.as_deref() != Some(OID_P256) => {
                findings.push(CsrFinding::Curve)
            }
            Ok(ParsedKey::EC(ec)) => point = Some(ec.data().to_vec()),
            _ => findings.push(CsrFinding::KeyAlgorithm),
        }
    }
    let signature_alg = arcs(&parsed.signature_algorithm.algorithm);
    if !SHA256_SIGNATURES
        .iter()
        .any(|s| signature_alg.as_deref() == Some(*s))
    {
        findings.push(CsrFinding::Hash);
    }
    // Proof of possession is only checked for a key WEB-SRM accepts at all.
    let public_key = match point {
        Some(point) if findings.is_empty() => {
            match (parsed.verify_signature(), PublicKey::from_sec1(&point)) {
                (Ok(()), Ok(key)) => Some(key),
                _ => {
                    findings.push(CsrFinding::BadSignature);
                    None
                }
            }
        }
        _ => None,
    };

    let non_repudiation =
        parsed
            .requested_extensions()
            .into_iter()
            .flatten()
            .any(|ext| match ext {
                ParsedExtension::KeyUsage(ku) => ku.non_repudiation(),
                _ => false,
            });
    if !non_repudiation {
        findings.push(CsrFinding::NonRepudiationMissing);
    }

    let subject = Subject::from_attributes(&raw_subject(&info.subject));
    match (subject, public_key) {
        (Ok(subject), Some(public_key)) if findings.is_empty() => Ok(ValidatedCsr {
            subject,
            public_key,
            csr,
        }),
        (subject, _) => {
            findings.extend(subject.err().into_iter().flatten().map(CsrFinding::Subject));
            Err(findings)
        }
    }
}

/// The attribute values of an X.509 name, in order, decoded from whichever directory string
/// type the CSR's author chose; values that are not text become empty (and so invalid).
pub(crate) fn raw_subject(name: &X509Name<'_>) -> RawSubject {
    let mut raw = RawSubject::new();
    for atv in name.iter_attributes() {
        let oid = arcs(atv.attr_type()).unwrap_or_default();
        match Attribute::from_oid(&oid) {
            Some(attribute) => {
                let value = atv.attr_value();
                let text = directory_string(value.tag().0, value.data).unwrap_or_default();
                raw.push(attribute, &text);
            }
            None => raw.others.push(atv.attr_type().to_id_string()),
        }
    }
    raw
}

/// The text of a directory string of ASN.1 universal tag `tag`. Windows CryptoAPI and .NET
/// write PrintableString where they can and BMPString otherwise (an accented nickname, `&`,
/// `@`, `_`, `!`); older toolkits write TeletexString, read as Latin-1 as most toolkits do.
/// The rules on allowed characters then apply to the decoded text.
pub(crate) fn directory_string(tag: u32, data: &[u8]) -> Option<String> {
    const UTF8: u32 = 12;
    const NUMERIC: u32 = 18;
    const PRINTABLE: u32 = 19;
    const TELETEX: u32 = 20;
    const IA5: u32 = 22;
    const UNIVERSAL: u32 = 28;
    const BMP: u32 = 30;
    match tag {
        UTF8 => std::str::from_utf8(data).ok().map(str::to_owned),
        NUMERIC | PRINTABLE | IA5 => data
            .is_ascii()
            .then(|| String::from_utf8_lossy(data).into_owned()),
        TELETEX => Some(data.iter().map(|&b| char::from(b)).collect()),
        BMP => {
            if !data.len().is_multiple_of(2) {
                return None;
            }
            let units = data
                .chunks_exact(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]]));
            char::decode_utf16(units)
                .collect::<Result<String, _>>()
                .ok()
        }
        UNIVERSAL => {
            if !data.len().is_multiple_of(4) {
                return None;
            }
            data.chunks_exact(4)
                .map(|c| char::from_u32(u32::from_be_bytes([c[0], c[1], c[2], c[3]])))
                .collect()
        }
        _ => None,
    }
}

fn arcs(oid: &x509_parser::der_parser::oid::Oid<'_>) -> Option<Vec<u64>> {
    oid.iter().map(Iterator::collect)
}
