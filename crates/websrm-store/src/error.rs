//! The device store's error.

use websrm_domain::{DeviceId, SerialNumber, Source};

use crate::device::{PendingId, SlotKey};

/// What went wrong in the device store.
///
/// SQLite's errors are kept as an opaque [`Source`]; no rusqlite type leaks. The variants of the files
/// themselves (`Database` to `NotPrivateAcl`) are those of `websrm_sqlite::Error`, by name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The database failed.
    #[error("database error: {cause}")]
    Database {
        /// The database's error, or what websrm found wrong.
        cause: Source,
    },
    /// A file operation failed.
    #[error("{action} {path}: {cause}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file.
        path: String,
        /// The system's error.
        cause: Source,
    },
    /// The file belongs to another kind of store (a registry opened as a device store, say).
    #[error("{path} is not a {expected} database")]
    WrongDatabase {
        /// The file.
        path: String,
        /// The kind of store expected.
        expected: &'static str,
    },
    /// The file was written by a newer version of websrm.
    #[error(
        "the database schema is version {found}; this version of websrm knows up to {supported}"
    )]
    SchemaTooNew {
        /// The file's schema version.
        found: u32,
        /// The newest version this code knows.
        supported: u32,
    },
    /// A stored value does not parse: the file was altered outside websrm.
    #[error("corrupt value in {table}.{column}: {value:?}")]
    Corrupt {
        /// The table.
        table: &'static str,
        /// The column.
        column: &'static str,
        /// The value found.
        value: String,
    },
    /// A file or folder of a store may be read or written by other accounts of the machine.
    #[error("{path} may be read or written by others (mode {mode:o}); run `{fix}`")]
    NotPrivate {
        /// The file or folder.
        path: String,
        /// Its permission bits.
        mode: u32,
        /// The command that makes it private.
        fix: String,
    },
    /// A file or folder of a store may be read or written by other accounts of the machine,
    /// as its Windows access list says.
    #[error(
        "{path} may be read or written by {others} (its access list grants them access); run `{fix}`"
    )]
    NotPrivateAcl {
        /// The file or folder.
        path: String,
        /// Who else has access, by name and SID.
        others: String,
        /// The `icacls` command that makes it private.
        fix: String,
    },
    /// A different device identifier is already recorded for this device; it is never replaced.
    #[error("this device already has the identifier {existing}; {offered} is refused")]
    DeviceIdConflict {
        /// The identifier on record.
        existing: DeviceId,
        /// The identifier offered.
        offered: DeviceId,
    },
    /// The certificate slot does not exist.
    #[error("no certificate slot {slot}")]
    SlotNotFound {
        /// The slot.
        slot: SlotKey,
    },
    /// The slot holds another certificate than the one named.
    #[error("the certificate slot {slot} does not hold the certificate {serial}")]
    CertificateNotInSlot {
        /// The slot.
        slot: SlotKey,
        /// The certificate named.
        serial: SerialNumber,
    },
    /// The slot already holds a certificate (replace it instead of enrolling again).
    #[error("the certificate slot {slot} already holds a certificate")]
    SlotOccupied {
        /// The slot.
        slot: SlotKey,
    },
    /// A request for this slot is already pending; finish or abandon it first.
    #[error("a request for slot {slot} is already pending (id {pending})")]
    PendingExists {
        /// The slot.
        slot: SlotKey,
        /// The pending request's id.
        pending: PendingId,
    },
    /// No pending request has this id (or it is of another kind).
    #[error("no pending {kind} request with id {id}")]
    PendingNotFound {
        /// The id asked for.
        id: PendingId,
        /// The kind of request expected.
        kind: &'static str,
    },
    /// The key-encryption key could not be obtained.
    #[error("key-encryption key: {cause}")]
    KeyProtector {
        /// Why: the lower error, or what was found wrong with the key.
        cause: Source,
    },
    /// A terminal with this label or device identifier is already recorded.
    #[error("a terminal {0} or with the same identifier is already recorded")]
    TerminalExists(String),
    /// Signing the next link of a chain failed; the chain is unchanged.
    #[error("signing failed: {0}")]
    Signing(Source),
}

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Self {
        websrm_sqlite::Error::from(e).into()
    }
}

websrm_sqlite::shared_variants!(Error);
