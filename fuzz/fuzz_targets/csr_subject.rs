//! Structure-aware: a well-formed CSR, signed with a P-256 key, whose subject attributes vary
//! (which attributes, in which order, repeated or not, which directory string type, which
//! text), so that the subject rules are reached, which random bytes never would.
#![no_main]

use std::sync::OnceLock;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use rcgen::string::{BmpString, Ia5String, PrintableString, TeletexString, UniversalString};
use rcgen::{CertificateParams, CustomExtension, DistinguishedName, DnType, DnValue, KeyPair};
use websrm_crypto::{Csr, validate_csr_der};

#[derive(Debug, Arbitrary)]
enum Kind {
    Utf8,
    Printable,
    Bmp,
    Teletex,
    Ia5,
    Universal,
}

#[derive(Debug, Arbitrary)]
struct Attribute {
    /// Index into the attributes WEB-SRM reads, or another.
    which: u8,
    kind: Kind,
    value: String,
}

#[derive(Debug, Arbitrary)]
struct Input {
    attributes: Vec<Attribute>,
    non_repudiation: bool,
}

const OIDS: [&[u64]; 9] = [
    &[2, 5, 4, 3],
    &[2, 5, 4, 10],
    &[2, 5, 4, 4],
    &[2, 5, 4, 11],
    &[2, 5, 4, 42],
    &[2, 5, 4, 7],
    &[2, 5, 4, 8],
    &[2, 5, 4, 6],
    &[2, 5, 4, 5],
];

fn key() -> &'static KeyPair {
    static KEY: OnceLock<KeyPair> = OnceLock::new();
    KEY.get_or_init(|| KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap())
}

fn value(kind: &Kind, text: &str) -> Option<DnValue> {
    Some(match kind {
        Kind::Utf8 => DnValue::Utf8String(text.to_owned()),
        // The PrintableString set of X.680 as the encoder checks it (rcgen's own check is
        // wider and its encoder panics on the difference: a harness matter, not websrm's).
        Kind::Printable => {
            if !text
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || " '()+,-./:=".contains(c))
            {
                return None;
            }
            DnValue::PrintableString(PrintableString::try_from(text).ok()?)
        }
        Kind::Bmp => DnValue::BmpString(BmpString::try_from(text).ok()?),
        Kind::Teletex => DnValue::TeletexString(TeletexString::try_from(text).ok()?),
        Kind::Ia5 => DnValue::Ia5String(Ia5String::try_from(text).ok()?),
        Kind::Universal => DnValue::UniversalString(UniversalString::try_from(text).ok()?),
    })
}

fuzz_target!(|input: Input| {
    let mut dn = DistinguishedName::new();
    // What the CSR says, as WEB-SRM attributes (others are left out: a CSR carrying one is
    // refused).
    let mut sent: Vec<(websrm_domain::Attribute, String)> = Vec::new();
    for a in input.attributes.iter().take(12) {
        let oid = OIDS[usize::from(a.which) % OIDS.len()];
        if let Some(v) = value(&a.kind, &a.value) {
            dn.push(DnType::from_oid(oid), v);
            if let Some(attribute) = websrm_domain::Attribute::from_oid(oid) {
                sent.push((attribute, a.value.clone()));
            }
        }
    }
    let mut params = CertificateParams::default();
    params.distinguished_name = dn;
    let bits = if input.non_repudiation {
        vec![0x03, 0x02, 0x06, 0xC0]
    } else {
        vec![0x03, 0x02, 0x07, 0x80]
    };
    params.custom_extensions = vec![CustomExtension::from_oid_content(&[2, 5, 29, 15], bits)];
    let Ok(request) = params.serialize_request(key()) else {
        return;
    };
    if let Ok(validated) = validate_csr_der(Csr::from_der(request.der().to_vec())) {
        // Accepted: the subject is what the CSR said, attribute for attribute (the CSR carries
        // exactly the WEB-SRM attributes, each once, in its order), and it reads back as itself.
        let rebuilt = validated.subject.attributes();
        assert_eq!(rebuilt, sent, "the subject accepted is not the one sent");
        let mut raw = websrm_domain::RawSubject::new();
        for (attribute, value) in rebuilt {
            raw.push(attribute, value);
        }
        assert_eq!(
            websrm_domain::Subject::from_attributes(&raw).as_ref(),
            Ok(&validated.subject)
        );
    }
});
