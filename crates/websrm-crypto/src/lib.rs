//! Everything cryptographic in WEB-SRM, for both sides, behind a small API that returns
//! domain types: ECDSA P-256 keys that never leave the crate in the clear and are sealed for
//! storage, the CSRs an SRS sends, the authority's validation of CSRs and issuance of
//! certificates, certificate inspection, the TLS configurations of mutual authentication, and
//! the protocol's P1363 signatures.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub use websrm_domain as domain;
