//! The registry's error.

use websrm_domain::{
    IdentificationNumber, Nickname, PartnerId, SerialNumber, Source, SrsId, VersionId,
};

use crate::OperatorId;

/// What went wrong in the registry.
///
/// SQLite's and PostgreSQL's errors are kept as an opaque [`Source`]; no rusqlite or postgres
/// type leaks.
/// The variants of the files themselves (`Database` to `NotPrivateAcl`) are those of
/// `websrm_sqlite::Error`, by name.
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
    /// The registry belongs to another authority: its CA (or another key it was bound to)
    /// differs from the one presented.
    #[error(
        "the registry belongs to another authority: its {name} is {recorded}, not {presented}; \
         every process of an authority opens a copy of the same folder"
    )]
    BoundElsewhere {
        /// What was compared (`CA certificate SHA-256`).
        name: String,
        /// What the registry holds.
        recorded: String,
        /// What was presented.
        presented: String,
    },
    /// An operator with this identification number is already registered.
    #[error("operator {0} is already registered")]
    OperatorExists(IdentificationNumber),
    /// No operator has this id.
    #[error("no operator with id {0}")]
    OperatorNotFound(OperatorId),
    /// No customer-service agent has this id.
    #[error("no agent {0}")]
    AgentNotFound(String),
    /// A customer-service agent with this id is already registered.
    #[error("agent {0} is already registered")]
    AgentExists(String),
    /// The authorization code is already recorded.
    #[error("this authorization code is already recorded")]
    AuthorizationCodeExists,
    /// This product version is already registered.
    #[error("this SRS product version is already registered for the environment")]
    ProductExists,
    /// No product version has these identifiers.
    #[error("no version {version_id} of SRS {srs_id} of partner {partner_id} is registered")]
    ProductNotFound {
        /// `IDPARTN`.
        partner_id: PartnerId,
        /// `IDSEV`.
        srs_id: SrsId,
        /// `IDVERSI`.
        version_id: VersionId,
    },
    /// This works on an SQLite registry only.
    #[error("{action} works on an SQLite registry only")]
    NotSqlite {
        /// What was asked.
        action: &'static str,
    },
    /// No partner has this identifier.
    #[error("no partner {0} is registered")]
    PartnerNotFound(PartnerId),
    /// No certificate has this serial number.
    #[error("no certificate with serial number {0}")]
    CertificateNotFound(SerialNumber),
    /// The certificate is not in force (already replaced, deleted or revoked).
    #[error("certificate {0} is not in force")]
    CertificateNotActive(SerialNumber),
    /// A certificate with this serial number or thumbprint is already recorded.
    #[error("a certificate with serial number {0} or the same thumbprint is already recorded")]
    CertificateExists(SerialNumber),
    /// The operator already has a certificate in force for this public key and nickname: the
    /// request is a repetition of the one that issued it (two copies raced).
    #[error("certificate {0} is already in force for this key")]
    KeyInUse(SerialNumber),
    /// In PROD, the operator already has an in-force certificate with this nickname.
    #[error("the operator already has a certificate in force named {0}")]
    NicknameInUse(Nickname),
    /// The operator's authorization codes are locked out after too many failures: a certificate
    /// whose code was checked before the lockout took hold is not recorded after it.
    #[error("the operator is locked out until {until}")]
    LockedOut {
        /// Until when.
        until: time::OffsetDateTime,
    },
    /// No device identifier could be allocated.
    #[error("could not allocate a new device identifier")]
    DeviceIdExhausted,
    /// The audit log ends before the entry its checkpoint names: entries were cut off.
    #[error(
        "the audit log was cut: it ends at entry {last}, but its checkpoint names entry {checkpoint}"
    )]
    AuditTruncated {
        /// The last entry found.
        last: i64,
        /// The entry the checkpoint names.
        checkpoint: i64,
    },
    /// The audit log is keyed: it can be verified and continued only with the authority
    /// folder's key.
    #[error("the audit log is keyed: open it with the authority's folder, which holds its key")]
    AuditKeyRequired,
    /// A product's certification run moved (another authority process answered a request of
    /// it) between the moment it was read and the moment this request's outcome was recorded.
    #[error("the certification run moved while this request was examined; send it again")]
    EssaiMoved,
    /// The audit log's hash chain is broken at this entry.
    #[error("the audit log was altered: the hash chain breaks at entry {seq}")]
    AuditChainBroken {
        /// The first entry whose hash does not match.
        seq: i64,
    },
}

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Self {
        websrm_sqlite::Error::from(e).into()
    }
}

websrm_sqlite::shared_variants!(Error);
