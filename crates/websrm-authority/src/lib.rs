//! A WEB-SRM-compatible certificate authority: it validates certificate requests as Revenu
//! Québec's service does, issues, replaces, deletes and revokes certificates, keeps its registry
//! in SQLite, and serves its online services and customer-service console. Vendors run it
//! locally to test against; it is also a complete reference authority.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub use websrm_protocol as protocol;
pub use websrm_store as store;
