//! Everything cryptographic in WEB-SRM, for both sides, behind a small API that returns
//! domain types.
//!
//! - **Keys**: [`PrivateKey`] (ECDSA P-256) never leaves the crate in the clear; it is sealed for
//!   storage with a [`KeyEncryptionKey`] ([`PrivateKey::seal`], AES-256-GCM).
//! - **CSR** (SRS side): [`Csr::build`] makes the request WEB-SRM expects from a domain
//!   [`Subject`](websrm_domain::Subject), and [`Csr::to_wire`] encodes it for the JSON `csr` field.
//! - **Validation** (authority side): [`validate_csr`] checks a received `csr` and reports every
//!   defect as a [`CsrFinding`] with its WEB-SRM error id.
//! - **Issuance** (authority side): [`CertificateAuthority`] issues five-year certificates and the
//!   authority's `certifPSI` certificate ([`PsiKey`]).
//! - **Inspection**: [`inspect_certificate`] reads serial, subject, validity and thumbprint.
//! - **TLS**: [`tls`] builds rustls configurations for server-authenticated and mutual TLS.
//! - **Signatures**: [`Signature`] (P1363, 88 Base64 characters) and the texts WEB-SRM signs.
//!
//! ```
//! use websrm_crypto::{Csr, PrivateKey, validate_csr};
//! use websrm_domain::{Subject, SrsSubject, SrsSubjectFields, Sector, UtcOffset};
//!
//! let subject = Subject::Srs(SrsSubject::new(SrsSubjectFields {
//!     identification_number: "5678912340".parse()?,
//!     sector: Sector::Restaurant,
//!     authorization_code: "D8T8-W8W8".parse()?,
//!     nickname: "Caisse du bar".parse()?,
//!     qst_number: "5678912340TQ0001".parse()?,
//!     file_number: "ER0001".parse()?,
//!     utc_offset: UtcOffset::EASTERN,
//! }).expect("consistent subject"));
//! let key = PrivateKey::generate()?;
//! let wire = Csr::build(&subject, &key)?.to_wire();
//! let validated = validate_csr(&wire).expect("a valid CSR");
//! assert_eq!(validated.subject, subject);
//! assert_eq!(validated.public_key, key.public_key());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![doc(test(attr(deny(warnings))))]

mod ca;
mod csr;
mod der;
mod error;
mod inspect;
mod key;
pub mod pem;
mod qr;
mod signature;
pub mod tls;
mod validate;

pub use ca::{
    CertificateAuthority, IssuedCertificate, PsiKey, PublicationLinks, RevokedEntry, random_serial,
    serial_at,
};
pub use csr::{Csr, EKU_CLIENT_AUTH, EKU_REQUESTED};
pub use error::Error;
pub use inspect::{
    CertificateInfo, CrlInfo, inspect_certificate, thumbprint, verify_crl, verify_issued_by,
};
pub use key::{KeyEncryptionKey, PrivateKey, PublicKey, SealedKey};
pub use qr::encrypt_for_psi;
pub use signature::{
    Preceding, Signature, TransactionSignatureInput, hmac_sha256, hmac_sha256_verify, sha256,
    signatransm_input,
};
pub use validate::{CsrFinding, ValidatedCsr, validate_csr, validate_csr_der};
pub use websrm_domain as domain;

/// The rustls this crate configures, for crates that serve or connect with its configurations.
pub use rustls;
