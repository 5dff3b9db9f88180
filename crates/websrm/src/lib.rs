//! The certificate side of WEB-SRM for sales recording systems (SRS), in one crate: keys and
//! CSRs, enrolment, replacement and deletion, the device identifier, a secure local store,
//! expiry warnings, the billing guard and transaction signatures, wire-compatible with Revenu
//! Québec's WEB-SRM.
//!
//! Today the crate re-exports the domain vocabulary every other part is built on.
//!
//! ```
//! let id: websrm::domain::DeviceId = "7654-0955-8558".parse()?;
//! assert_eq!(id.to_string(), "7654-0955-8558");
//! # Ok::<(), websrm::domain::ParseError>(())
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub use websrm_domain as domain;

#[doc(hidden)]
pub use websrm_protocol as __protocol;
#[doc(hidden)]
pub use websrm_store as __store;
