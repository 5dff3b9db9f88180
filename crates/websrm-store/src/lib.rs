//! Durable, crash-safe persistence on an SRS's device, speaking domain types only.
//!
//! [`DeviceStore`]: the device identifier for life, one certificate slot per operator and SRS
//! installation (certificate, `certifPSI`, sealed key, status), requests written down before they
//! leave the device, the outbox of signed transactions, and the history of every lifecycle event.
//! Its private keys are sealed under a key-encryption key that a [`KeyProtector`] supplies.
//!
//! The store opens SQLite in WAL mode with `synchronous = FULL` and foreign keys on, applies
//! numbered embedded migrations recorded as the file's `user_version`, and makes every
//! multi-step change in one transaction: after a crash, the file holds each record whole or not
//! at all. That layer is `websrm-sqlite`, which the authority's registry (`websrm-registry`)
//! shares; an SRS compiles neither the registry nor PostgreSQL.
//! No rusqlite type appears in this API. Schema: `docs/DATA_MODEL.md`.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod device;
mod error;
mod protector;

pub use device::DeviceStore;
pub use error::Error;
pub use protector::{FileKeyProtector, KeyProtector};
pub use websrm_domain as domain;
pub use zeroize::Zeroizing;

/// Creates `dir` (and its parents) if missing, private to this account, and refuses an existing
/// folder with files in it that others may enter, read or write, with the command that fixes it
/// (modes 0700, or a protected access list on Windows).
pub fn private_dir(dir: &std::path::Path) -> Result<(), Error> {
    Ok(websrm_sqlite::private_dir(dir)?)
}
