//! Helpers for the store tests: real keys and certificates from websrm-crypto.

#![allow(dead_code, unreachable_pub)] // Each test binary uses a different part.

use time::OffsetDateTime;
use time::macros::datetime;
use websrm_crypto::{CertificateAuthority, Csr, KeyEncryptionKey, PrivateKey, validate_csr};
use websrm_domain::published::MICHEL_UNTEL;
use websrm_domain::{Environment, Sector, Subject};
use websrm_store::device::{CertificateMaterial, SlotKey};

pub const T0: OffsetDateTime = datetime!(2026-11-26 15:00:00 UTC);

pub fn slot(installation: &str) -> SlotKey {
    SlotKey {
        environment: Environment::Dev,
        operator: MICHEL_UNTEL.id(),
        installation: installation.into(),
    }
}

/// Michel Untel's restaurant SRS named `nickname`.
pub fn subject(nickname: &str) -> Subject {
    MICHEL_UNTEL
        .srs_subject(Sector::Restaurant, nickname.parse().unwrap())
        .unwrap()
}

/// A key, its sealed form, its CSR, and the certificate a CA issues for it.
pub struct Issued {
    pub key: PrivateKey,
    pub sealed: Vec<u8>,
    pub csr: Vec<u8>,
    pub material: CertificateMaterial,
}

pub fn issue(
    ca: &CertificateAuthority,
    kek: &KeyEncryptionKey,
    purpose: &str,
    nickname: &str,
) -> Issued {
    let key = PrivateKey::generate().unwrap();
    let sealed = key.seal(kek, purpose).unwrap().as_bytes().to_vec();
    let csr = Csr::build(&subject(nickname), &key).unwrap();
    let validated = validate_csr(&csr.to_wire()).unwrap();
    let cert = ca.issue(&validated, T0).unwrap();
    let material = CertificateMaterial::new(
        cert.der.clone(),
        "-----BEGIN CERTIFICATE-----\nPSI\n-----END CERTIFICATE-----\n".into(),
        cert.serial,
        cert.thumbprint,
        cert.validity,
    );
    Issued {
        key,
        sealed,
        csr: csr.der().to_vec(),
        material,
    }
}

pub fn ca() -> CertificateAuthority {
    CertificateAuthority::generate(Environment::Dev, T0).unwrap()
}
