//! Durable, crash-safe persistence for WEB-SRM, speaking domain types only: SQLite, and for the
//! authority's registry PostgreSQL too (feature `postgres`), shared by several processes.
//!
//! - [`DeviceStore`]: on an SRS's device. Its device identifier for life, one certificate slot per
//!   operator and SRS installation (certificate, `certifPSI`, sealed key, status), requests written
//!   down before they leave the device, and the history of every lifecycle event.
//! - [`Registry`]: at the authority. Operators, their authorization codes (as keyed digests) and
//!   lockout counters, SRS products, issued device identifiers, certificates with every
//!   transition, and an append-only audit log chained by HMAC under the authority's key. In an
//!   SQLite file, or in a PostgreSQL database that several authority processes share
//!   ([`Database`], with TLS through `pg_tls`); the same statements run on both.
//!
//! Both open SQLite in WAL mode with `synchronous = FULL` and foreign keys on, apply numbered
//! embedded migrations recorded as the file's `user_version`, and make every multi-step change in
//! one transaction: after a crash, a file holds each record whole or not at all.
//! On PostgreSQL the registry's schema carries the same numbered migrations, and every write
//! transaction holds one advisory lock so that the rules hold across processes.
//! No rusqlite or postgres type appears in this API. Schemas: `docs/DATA_MODEL.md`.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod audit;
mod checkpoint;
mod db;
pub mod device;
mod error;
#[cfg(feature = "postgres")]
mod pg;
#[cfg(feature = "postgres")]
pub mod pg_tls;
mod private;
mod protector;
pub mod registry;
mod sql;
mod writer;

pub use audit::{AuditEntry, NewAudit};
pub use device::DeviceStore;
pub use error::Error;
pub use private::private_dir;
pub use protector::{FileKeyProtector, KeyProtector};
pub use registry::{Database, Registry};
pub use websrm_domain as domain;
pub use zeroize::Zeroizing;
