//! The store on an SRS's device: its device identifier for life, its certificate slots, the
//! requests in flight, and the history of everything that happened.
//!
//! `identity.rs`: the device identifier, terminals and signature chains; `requests.rs`: requests
//! written down before they leave and their outcome; `slots.rs`: the certificate slots;
//! `history.rs`: the history; `answers.rs`: answers remembered by idempotency key; `outbox.rs`:
//! transactions written before they are sent, what the authority answered, offline mode;
//! `schema.rs`: the migrations.

use std::fmt;
use std::path::{Path, PathBuf};

use rusqlite::{Connection, Row, params};
use time::OffsetDateTime;
use websrm_domain::{
    DeviceId, Environment, ErrorId, IdentificationNumber, Nickname, QstNumber, ReturnCode,
    SerialNumber, SrsId, Thumbprint, Validity,
};

use crate::Error;
use websrm_sqlite::{self as db, Cached, optional, to_unix};

mod answers;
mod history;
mod identity;
mod outbox;
mod requests;
mod schema;
mod slots;

pub use answers::{Extension, RememberedAnswer};
pub use outbox::{
    Link, NewTransaction, Offline, OutboxEntry, OutboxState, OutboxSummary, Receipt, Recording,
    Settlement,
};
pub use schema::MIGRATIONS;

use history::history;
use identity::set_device_id;
use slots::{delete_slot, slot_key, slot_row, write_slot};

/// A stored text value parsed into a domain type, or `Corrupt` naming its column.
fn parse<T: std::str::FromStr>(
    table: &'static str,
    column: &'static str,
    text: &str,
) -> Result<T, Error> {
    Ok(db::parse(table, column, text)?)
}

/// A stored time, or `Corrupt` naming its column.
fn from_unix(
    table: &'static str,
    column: &'static str,
    secs: i64,
) -> Result<OffsetDateTime, Error> {
    Ok(db::from_unix(table, column, secs)?)
}

const KIND: db::Kind = db::Kind {
    name: "websrm device store",
    application_id: 0x5753_4456,
    migrations: MIGRATIONS,
};

/// A request's id in the device store: the order requests were written down in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PendingId(pub i64);

impl fmt::Display for PendingId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// One certificate slot of the device: one per operator and SRS installation in an environment,
/// so that several SRSs, several operators, and a back-office SRS each keep their own.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SlotKey {
    /// The environment of the certificate.
    pub environment: Environment,
    /// The operator (or server administrator) the certificate is for: the CSR's CN.
    pub operator: IdentificationNumber,
    /// The SRS installation on the device, a name the SRS chooses (e.g. `pos-main`, `back-office`).
    pub installation: String,
}

impl fmt::Display for SlotKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}/{}/{}",
            self.environment, self.operator, self.installation
        )
    }
}

/// Whether a slot's certificate is usable, as far as the device knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SlotStatus {
    /// In force (expiry is judged from the validity).
    Active,
    /// The authority said it is revoked (its CRL lists it).
    Revoked,
    /// The authority no longer accepts it (`JW00B999011E`: revoked, deleted or replaced).
    Refused,
}

impl SlotStatus {
    fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Revoked => "revoked",
            Self::Refused => "refused",
        }
    }
}

/// Why a certificate ended on the device without being deleted or replaced through it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum EndState {
    /// Past its expiry.
    Expired,
    /// Revoked (seen on the authority's CRL).
    Revoked,
    /// Refused by the authority (`JW00B999011E`).
    Refused,
}

impl EndState {
    /// The word kept in the history.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Expired => "expired",
            Self::Revoked => "revoked",
            Self::Refused => "refused",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "expired" => Self::Expired,
            "revoked" => Self::Revoked,
            "refused" => Self::Refused,
            _ => return None,
        })
    }
}

/// What the authority returned for a certificate, as the caller read it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CertificateMaterial {
    /// The certificate (DER).
    pub certificate_der: Vec<u8>,
    /// The authority's `certifPSI` certificate (PEM).
    pub certif_psi_pem: String,
    /// The serial number.
    pub serial: SerialNumber,
    /// The thumbprint.
    pub thumbprint: Thumbprint,
    /// The validity.
    pub validity: Validity,
}

impl CertificateMaterial {
    /// The material of a certificate.
    pub fn new(
        certificate_der: Vec<u8>,
        certif_psi_pem: String,
        serial: SerialNumber,
        thumbprint: Thumbprint,
        validity: Validity,
    ) -> Self {
        Self {
            certificate_der,
            certif_psi_pem,
            serial,
            thumbprint,
            validity,
        }
    }
}

/// A certificate slot: always a complete, matching certificate and sealed key.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Slot {
    /// Which slot.
    pub key: SlotKey,
    /// The certificate's nickname (SN).
    pub nickname: Nickname,
    /// The certificate and what came with it.
    pub material: CertificateMaterial,
    /// The private key, sealed.
    pub sealed_key: Vec<u8>,
    /// Whether it is usable, as far as the device knows.
    pub status: SlotStatus,
    /// When the slot last changed.
    pub updated_at: OffsetDateTime,
}

/// What a pending request is for.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PendingKind {
    /// A first certificate for the slot (`AJO`).
    Enrol {
        /// The nickname requested.
        nickname: Nickname,
    },
    /// A replacement (`REM`) of the certificate with this serial.
    Replace {
        /// The certificate being replaced.
        serial: SerialNumber,
        /// The nickname requested.
        nickname: Nickname,
    },
    /// A deletion (`SUP`) of the certificate with this serial.
    Delete {
        /// The certificate being deleted.
        serial: SerialNumber,
    },
}

/// A request written down before it left the device, so that a crash or a lost response can be
/// recovered: retried, or abandoned.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PendingRequest {
    /// Its id.
    pub id: PendingId,
    /// The slot it is for.
    pub slot: SlotKey,
    /// What it asks for.
    pub kind: PendingKind,
    /// The new key, sealed (enrolment and replacement).
    pub sealed_key: Option<Vec<u8>>,
    /// The CSR sent (enrolment and replacement), DER.
    pub csr_der: Option<Vec<u8>>,
    /// When it was written.
    pub created_at: OffsetDateTime,
}

/// A lifecycle event of the device.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum HistoryEvent {
    /// The authority assigned the device identifier.
    DeviceIdAssigned(DeviceId),
    /// The user entered the device identifier they already had.
    DeviceIdEntered(DeviceId),
    /// A request was written down before being sent.
    RequestPrepared {
        /// `enrol`, `replace` or `delete`.
        kind: String,
    },
    /// A certificate was obtained.
    Enrolled {
        /// Its serial.
        serial: SerialNumber,
    },
    /// A certificate replaced another.
    Replaced {
        /// The old certificate.
        old: SerialNumber,
        /// The new certificate.
        new: SerialNumber,
    },
    /// A certificate was deleted at the authority; its key and certificate were removed.
    Deleted {
        /// Its serial.
        serial: SerialNumber,
    },
    /// The authority reported the certificate revoked.
    RevokedSeen {
        /// Its serial.
        serial: SerialNumber,
    },
    /// The authority refused the certificate (`JW00B999011E`): revoked, deleted or replaced.
    RefusedSeen {
        /// Its serial.
        serial: SerialNumber,
    },
    /// A certificate that had ended (expired, revoked, refused) was removed from the device with
    /// its key, to make room for a new one; the authority was not asked, since it refuses it.
    Retired {
        /// Its serial.
        serial: SerialNumber,
        /// How it had ended.
        state: EndState,
    },
    /// The authority answered with an error.
    AuthorityError {
        /// The error id.
        error_id: ErrorId,
        /// The return code, if any.
        return_code: Option<ReturnCode>,
        /// The message shown to the user.
        message: String,
    },
    /// A pending request was abandoned.
    Abandoned {
        /// `enrol`, `replace` or `delete`.
        kind: String,
        /// Why.
        reason: String,
    },
    /// An installation's data was reset; its slots were removed from the device (the
    /// certificates stay in force at the authority until deleted or revoked).
    InstallationReset {
        /// The serial of a removed certificate.
        serial: Option<SerialNumber>,
    },
    /// Offline mode started: a transmission got no answer.
    OfflineStarted {
        /// The communication failure.
        reason: String,
    },
    /// Offline mode ended: the authority answered again.
    OfflineEnded {
        /// When it had started.
        since: OffsetDateTime,
    },
}

/// An entry of the device's history.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct HistoryEntry {
    /// When.
    pub at: OffsetDateTime,
    /// The slot concerned, if any.
    pub slot: Option<SlotKey>,
    /// What happened.
    pub event: HistoryEvent,
}

/// A terminal attached to this device (e.g. an order-taking handheld), with its own device
/// identifier.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Terminal {
    /// The label the operator chose.
    pub label: String,
    /// Its device identifier, kept for life.
    pub device_id: DeviceId,
    /// When it was obtained.
    pub obtained_at: OffsetDateTime,
    /// Whether a certificate is installed on the terminal itself (one that can sign and
    /// authenticate), or none is needed.
    pub certificate_installed: bool,
}

/// One signature chain: transactions of one environment, device identifier, SRS and operator
/// (QST number), each `actu` signing the previous one as `preced`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct ChainKey {
    /// `ENVIRN`.
    pub environment: Environment,
    /// `IDAPPRL` of the device the transaction started on.
    pub device: DeviceId,
    /// `idSEV`.
    pub srs_id: SrsId,
    /// `noTVQ`.
    pub qst: QstNumber,
}

impl ChainKey {
    /// A chain key.
    pub fn new(environment: Environment, device: DeviceId, srs_id: SrsId, qst: QstNumber) -> Self {
        Self {
            environment,
            device,
            srs_id,
            qst,
        }
    }
}

/// A link added to a chain.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ChainLink {
    /// The previous `actu` (`None` for the first transaction of the chain: 88 `=`).
    pub preced: Option<String>,
    /// The new `actu`.
    pub actu: String,
    /// Its position in the chain, from 1.
    pub position: u64,
}

/// The device store, one SQLite file per device.
#[derive(Debug)]
pub struct DeviceStore {
    conn: Connection,
    path: PathBuf,
}

impl DeviceStore {
    /// Opens the store at `path`, creating it on first use and migrating it to the current
    /// schema.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, Error> {
        let path = path.as_ref().to_path_buf();
        Ok(Self {
            conn: db::open(&path, KIND)?,
            path,
        })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The schema version of the file.
    pub fn schema_version(&self) -> Result<u32, Error> {
        Ok(db::schema_version(&self.conn)?)
    }

    /// SQLite's integrity check.
    pub fn integrity_check(&self) -> Result<(), Error> {
        Ok(db::integrity_check(&self.conn)?)
    }
}
