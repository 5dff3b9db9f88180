//! A WEB-SRM-compatible certificate authority: it validates certificate requests as Revenu
//! Québec's service does (same error ids, same `codRetour`), issues, replaces and deletes
//! certificates, keeps its registry in SQLite, and serves the enrolment and API hosts over TLS.
//! Vendors run it locally to test against; it is also a complete reference authority.
//!
//! - [`AuthorityFiles`]: the authority's folder (registry, sealed keys, certificates).
//! - [`Authority`]: answers certificate requests ([`Authority::handle`]), synchronously.
//! - [`server`]: the two HTTPS listeners.
//! - [`seed`]: the DEV test data of the protocol's published test cases.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod error;
mod files;
pub mod portal;
pub mod revocation;
pub mod seed;
pub mod server;
mod service;
mod structure;
mod transaction;

pub use error::Error;
pub use files::{AuthorityFiles, names};
pub use service::{Authority, Endpoint, LockoutPolicy, Request, Response, SystemClock};
