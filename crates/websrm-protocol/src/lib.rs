//! The WEB-SRM wire protocol for certificates, both ends.
//!
//! - [`wire`]: the `reqCertif` and `retourCertif` bodies with the protocol's exact field names,
//!   and their conversion into domain types ([`wire::CertificateAnswer`], [`wire::AuthorityError`]).
//! - [`headers`]: the request headers (`ENVIRN`, `CASESSAI`, `APPRLINIT`, `IDAPPRL`, …) as domain
//!   values, written in the protocol's order and read with every problem reported.
//! - [`transaction`]: transactions typed in both directions (table 23): the model the POS builds,
//!   its exact wire form, and the checks WEB-SRM makes, each failure with its error id.
//! - [`user`] and [`document`]: the `utilisateur` and `document` services, typed in both
//!   directions (`reqUtil`/`retourUtil`, `reqDoc`/`retourDoc`, the user report and the habitual
//!   third-party declaration with their signed parameters).
//! - [`explain`]: every error id websrm knows, with who can fix it and what to do next.
//! - [`catalogue`]: every certificate error id with its `codRetour`, condition, and French and
//!   English messages.
//! - [`client`] (feature `client`, on by default): the HTTP/1.1 client of the enrolment and API
//!   hosts, with the real WEB-SRM URLs by default and any other authority by URL and trust anchor.
//!
//! ```
//! use websrm_protocol::wire::{CertificateRequestBody, Modification};
//!
//! let body = CertificateRequestBody::from(&Modification::Delete { serial: "1A".repeat(20).parse()? });
//! let json = serde_json::to_string(&body)?;
//! assert_eq!(json, format!(r#"{{"reqCertif":{{"modif":"SUP","noSerie":"{}"}}}}"#, "1A".repeat(20)));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![doc(test(attr(deny(warnings))))]

pub mod catalogue;
#[cfg(feature = "client")]
pub mod client;
pub mod document;
pub mod essai;
pub mod explain;
pub mod headers;
pub mod request;
pub mod transaction;
pub mod user;
pub mod wire;

/// Entry points for the fuzz targets (`fuzz/`): the parsers of untrusted bytes that are not
/// public otherwise. Not part of the API.
#[cfg(all(feature = "fuzzing", feature = "client"))]
#[doc(hidden)]
pub mod fuzzing {
    /// Reads an HTTP answer as the client does: status and body.
    pub fn parse_response(bytes: &[u8]) -> Option<(u16, Vec<u8>)> {
        crate::client::parse_response(bytes).ok()
    }
}

pub use websrm_crypto as crypto;
pub use websrm_domain as domain;
