//! The WEB-SRM wire protocol for certificates: `reqCertif`/`retourCertif` messages and their
//! headers with conversions into domain types, the catalogue of error ids and `codRetour`
//! values, and an HTTP client for the enrolment and API hosts.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub use websrm_crypto as crypto;
