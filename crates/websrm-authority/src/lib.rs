//! A WEB-SRM-compatible authority: it validates certificate requests as Revenu Québec's service
//! does (same error ids, same `codRetour`), issues, replaces and deletes certificates; examines
//! transactions, user accounts and documents as WEB-SRM does and records them; keeps its
//! registry in SQLite or PostgreSQL, and serves the enrolment and API hosts over TLS. Vendors run
//! it locally to test against; it is also a complete reference authority.
//!
//! - [`AuthorityFiles`]: the authority's folder (registry, sealed keys, certificates).
//! - [`Authority`]: answers every service's requests ([`Authority::handle`]: `/enrolement`,
//!   `/certificats`, `/transaction`, `/utilisateur`, `/document`), synchronously. It is the
//!   assembly of parts over one shared core (environment, registry, clock, policies):
//!   [`Administration`] ([`Authority::admin`]), [`revocation::Revocation`]
//!   ([`Authority::revocation`]), [`portal::OnlineServices`] ([`Authority::online`]),
//!   [`Essai`] ([`Authority::essai`]), and inside the crate the certificate service and the API
//!   host's services.
//! - [`server`]: the two HTTPS listeners.
//! - [`seed`]: the DEV test data of the protocol's published test cases.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod admin;
mod authority;
pub mod backup;
mod context;
mod core;
mod deadline;
mod document;
mod error;
mod essai;
pub mod faults;
mod files;
mod metrics;
pub mod password;
mod pg_tls;
pub mod portal;
mod product;
pub mod revocation;
pub mod seed;
pub mod server;
mod service;

mod transaction;
mod user;

/// Entry points for the fuzz targets (`fuzz/`): the parsers of untrusted bytes that are not
/// public otherwise. Not part of the API.
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing {
    /// Reads a portal form (`application/x-www-form-urlencoded`) as axum's `Form` does: as
    /// each page's typed form (how many of them read it), and as name-value pairs.
    pub fn form(bytes: &[u8]) -> (usize, std::collections::HashMap<String, String>) {
        (
            crate::portal::read_forms(bytes),
            serde_urlencoded::from_bytes(bytes).unwrap_or_default(),
        )
    }

    /// Reads a cookie from a `Cookie` header as axum-extra's `CookieJar` does.
    pub fn cookie(cookies: &str, name: &str) -> Option<String> {
        axum_extra::extract::cookie::Cookie::split_parse_encoded(cookies.to_owned())
            .filter_map(Result::ok)
            .find(|c| c.name() == name)
            .map(|c| c.value().to_owned())
    }
}

pub use admin::{
    Administration, CertificateFilter, IssuedCode, OperatorRegistration, ProductRegistration,
    StateFilter,
};
pub use error::Error;
/// The registry's records, as the authority's administration returns them, and the state a
/// product version is in.
pub mod records {
    pub use websrm_domain::VersionState;
    pub use websrm_registry::AuditEntry;
    pub use websrm_registry::{
        AuthorizationCodeRecord, CertificateRecord, DeviceRecord, EssaiExchange, EssaiSession,
        Operator, OperatorId, Partner, Product, ProductKey,
    };
}
pub use authority::Authority;
pub use essai::{Essai, EssaiStatus};
pub use files::{
    AuthorityFiles, RenewedTls, Rotated, names, read_tls, renew_tls, rotate_ca, rotate_psi,
    rotate_tls,
};
pub use service::{Endpoint, LockoutPolicy, OffsetClock, Request, Response, SystemClock};
/// The test cases of a certification run (SW-77), as the examiner holds them.
pub use websrm_protocol::essai as cases;
/// Where the registry lives: an SQLite file or a PostgreSQL database.
pub use websrm_registry::Database;
