//! The store on an SRS's device: its device identifier for life, its certificate slots, the
//! requests in flight, and the history of everything that happened.

use std::fmt;
use std::path::{Path, PathBuf};

use rusqlite::{Connection, Row, params};
use time::OffsetDateTime;
use websrm_domain::{
    DeviceId, Environment, ErrorId, IdentificationNumber, Nickname, QstNumber, ReturnCode,
    SerialNumber, SrsId, Thumbprint, Validity,
};

use crate::Error;
use crate::db::{self, Cached, from_unix, optional, parse, to_unix};

/// The device store's schema, one migration per version (version = index + 1).
pub const MIGRATIONS: &[&str] = &[
    r"
CREATE TABLE device (
    singleton   INTEGER PRIMARY KEY CHECK (singleton = 1),
    device_id   TEXT NOT NULL,
    source      TEXT NOT NULL CHECK (source IN ('assigned', 'entered')),
    recorded_at INTEGER NOT NULL
);
CREATE TABLE slots (
    environment  TEXT NOT NULL,
    operator     TEXT NOT NULL,
    installation TEXT NOT NULL,
    nickname     TEXT NOT NULL,
    certificate  BLOB NOT NULL,
    certif_psi   TEXT NOT NULL,
    sealed_key   BLOB NOT NULL,
    serial       TEXT NOT NULL UNIQUE,
    thumbprint   TEXT NOT NULL,
    not_before   INTEGER NOT NULL,
    not_after    INTEGER NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('active', 'revoked')),
    updated_at   INTEGER NOT NULL,
    PRIMARY KEY (environment, operator, installation)
);
CREATE TABLE pending (
    id           INTEGER PRIMARY KEY,
    environment  TEXT NOT NULL,
    operator     TEXT NOT NULL,
    installation TEXT NOT NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('enrol', 'replace', 'delete')),
    nickname     TEXT,
    sealed_key   BLOB,
    csr          BLOB,
    serial       TEXT,
    created_at   INTEGER NOT NULL,
    UNIQUE (environment, operator, installation),
    CHECK ((kind = 'delete') = (sealed_key IS NULL AND csr IS NULL))
);
CREATE TABLE history (
    id           INTEGER PRIMARY KEY,
    at           INTEGER NOT NULL,
    environment  TEXT,
    operator     TEXT,
    installation TEXT,
    event        TEXT NOT NULL,
    serial       TEXT,
    other_serial TEXT,
    device_id    TEXT,
    error_id     TEXT,
    return_code  TEXT,
    detail       TEXT
);
",
    r"
CREATE TABLE terminals (
    label       TEXT PRIMARY KEY,
    device_id   TEXT NOT NULL UNIQUE,
    obtained_at INTEGER NOT NULL,
    certificate TEXT NOT NULL CHECK (certificate IN ('installed', 'none'))
);
CREATE TABLE chains (
    environment TEXT NOT NULL,
    device_id   TEXT NOT NULL,
    srs_id      TEXT NOT NULL,
    qst         TEXT NOT NULL,
    last_actu   TEXT NOT NULL,
    position    INTEGER NOT NULL,
    PRIMARY KEY (environment, device_id, srs_id, qst)
);
",
    // A certificate the authority no longer accepts (011E: revoked, deleted or replaced
    // elsewhere) is told apart from one seen on the CRL; the CHECK changes, so the table is
    // rebuilt.
    r"
CREATE TABLE slots_v3 (
    environment  TEXT NOT NULL,
    operator     TEXT NOT NULL,
    installation TEXT NOT NULL,
    nickname     TEXT NOT NULL,
    certificate  BLOB NOT NULL,
    certif_psi   TEXT NOT NULL,
    sealed_key   BLOB NOT NULL,
    serial       TEXT NOT NULL UNIQUE,
    thumbprint   TEXT NOT NULL,
    not_before   INTEGER NOT NULL,
    not_after    INTEGER NOT NULL,
    status       TEXT NOT NULL CHECK (status IN ('active', 'revoked', 'refused')),
    updated_at   INTEGER NOT NULL,
    PRIMARY KEY (environment, operator, installation)
);
INSERT INTO slots_v3 SELECT environment, operator, installation, nickname, certificate, certif_psi,
    sealed_key, serial, thumbprint, not_before, not_after, status, updated_at FROM slots;
DROP TABLE slots;
ALTER TABLE slots_v3 RENAME TO slots;
",
];

const KIND: db::Kind = db::Kind {
    name: "websrm device store",
    application_id: 0x5753_4456,
    migrations: MIGRATIONS,
};

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
    pub id: i64,
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
        db::schema_version(&self.conn)
    }

    /// SQLite's integrity check.
    pub fn integrity_check(&self) -> Result<(), Error> {
        db::integrity_check(&self.conn)
    }

    /// The device identifier, if the device has one.
    pub fn device_id(&self) -> Result<Option<DeviceId>, Error> {
        let text = optional(
            self.conn
                .query_row_cached("SELECT device_id FROM device", [], |r| {
                    r.get::<_, String>(0)
                }),
        )?;
        text.map(|t| parse("device", "device_id", &t)).transpose()
    }

    /// Records the identifier the user already has for this device, before a first enrolment.
    /// Entering the one on record again is accepted; a different one is refused.
    pub fn enter_device_id(&mut self, id: DeviceId, at: OffsetDateTime) -> Result<(), Error> {
        let tx = db::write_tx(&mut self.conn)?;
        if set_device_id(&tx, id, "entered", at)? {
            history(&tx, at, None, &HistoryEvent::DeviceIdEntered(id))?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Forgets an identifier the user entered by hand, when the authority does not know it
    /// (`JW00B999047E`) and no certificate of this device was obtained with it. An identifier the
    /// authority assigned, or one certificates were obtained with, is never forgotten.
    pub fn forget_entered_device_id(&mut self, at: OffsetDateTime) -> Result<bool, Error> {
        let tx = db::write_tx(&mut self.conn)?;
        let slots: i64 = tx.query_row_cached("SELECT count(*) FROM slots", [], |r| r.get(0))?;
        let entered = optional(tx.query_row_cached(
            "SELECT device_id FROM device WHERE source = 'entered'",
            [],
            |r| r.get::<_, String>(0),
        ))?;
        let Some(text) = entered.filter(|_| slots == 0) else {
            return Ok(false);
        };
        tx.execute_cached("DELETE FROM device WHERE source = 'entered'", [])?;
        let id: DeviceId = parse("device", "device_id", &text)?;
        history(
            &tx,
            at,
            None,
            &HistoryEvent::Abandoned {
                kind: "device-id".into(),
                reason: format!("{id} is unknown to the authority"),
            },
        )?;
        tx.commit()?;
        Ok(true)
    }

    /// Records a terminal attached to this device. Its identifier is kept for life: a label or
    /// identifier already on record is refused.
    pub fn add_terminal(
        &mut self,
        label: &str,
        device_id: DeviceId,
        certificate_installed: bool,
        at: OffsetDateTime,
    ) -> Result<(), Error> {
        let tx = db::write_tx(&mut self.conn)?;
        let inserted = tx.execute_cached(
            "INSERT OR IGNORE INTO terminals (label, device_id, obtained_at, certificate) VALUES (?1, ?2, ?3, ?4)",
            params![label, device_id.to_string(), to_unix(at), if certificate_installed { "installed" } else { "none" }],
        )?;
        if inserted == 0 {
            return Err(Error::TerminalExists(label.to_owned()));
        }
        history(
            &tx,
            at,
            None,
            &HistoryEvent::RequestPrepared {
                kind: format!("terminal {label}: {device_id}"),
            },
        )?;
        tx.commit()?;
        Ok(())
    }

    /// The terminals attached to this device, by label.
    pub fn terminals(&self) -> Result<Vec<Terminal>, Error> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT label, device_id, obtained_at, certificate FROM terminals ORDER BY label",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, String>(3)?,
            ))
        })?;
        rows.map(|r| {
            let (label, device, at, certificate) = r?;
            Ok(Terminal {
                label,
                device_id: parse("terminals", "device_id", &device)?,
                obtained_at: from_unix("terminals", "obtained_at", at)?,
                certificate_installed: certificate == "installed",
            })
        })
        .collect()
    }

    /// Adds a link to a signature chain in one transaction: `sign` receives the previous `actu`
    /// (`None` for the first) and returns the new one, which is stored before it is returned. If
    /// the process dies before the commit, nothing was handed out and the chain is unchanged; the
    /// next signature follows the last one returned.
    pub fn extend_chain(
        &mut self,
        key: &ChainKey,
        sign: impl FnOnce(Option<&str>) -> Result<String, Error>,
    ) -> Result<ChainLink, Error> {
        let tx = db::write_tx(&mut self.conn)?;
        let params_key = params![
            key.environment.as_str(),
            key.device.to_string(),
            key.srs_id.to_string(),
            key.qst.as_str()
        ];
        let head: Option<(String, i64)> = optional(tx.query_row_cached(
            "SELECT last_actu, position FROM chains WHERE environment = ?1 AND device_id = ?2 AND srs_id = ?3 AND qst = ?4",
            params_key,
            |r| Ok((r.get(0)?, r.get(1)?)),
        ))?;
        let (preced, position) = match head {
            Some((actu, position)) => (Some(actu), position + 1),
            None => (None, 1),
        };
        let actu = sign(preced.as_deref())?;
        tx.execute_cached(
            "INSERT INTO chains (environment, device_id, srs_id, qst, last_actu, position) VALUES (?1, ?2, ?3, ?4, ?5, ?6) \
             ON CONFLICT (environment, device_id, srs_id, qst) DO UPDATE SET last_actu = excluded.last_actu, position = excluded.position",
            params![key.environment.as_str(), key.device.to_string(), key.srs_id.to_string(), key.qst.as_str(), actu, position],
        )?;
        tx.commit()?;
        Ok(ChainLink {
            preced,
            actu,
            position: position.unsigned_abs(),
        })
    }

    /// The last `actu` of a chain and its position, if the chain has begun.
    pub fn chain_head(&self, key: &ChainKey) -> Result<Option<(String, u64)>, Error> {
        let head: Option<(String, i64)> = optional(self.conn.query_row_cached(
            "SELECT last_actu, position FROM chains WHERE environment = ?1 AND device_id = ?2 AND srs_id = ?3 AND qst = ?4",
            params![key.environment.as_str(), key.device.to_string(), key.srs_id.to_string(), key.qst.as_str()],
            |r| Ok((r.get(0)?, r.get(1)?)),
        ))?;
        Ok(head.map(|(a, p)| (a, p.unsigned_abs())))
    }

    /// Writes down an enrolment (`AJO`) before it is sent: the new key (sealed) and the CSR.
    pub fn begin_enrolment(
        &mut self,
        slot: &SlotKey,
        nickname: &Nickname,
        sealed_key: &[u8],
        csr_der: &[u8],
        at: OffsetDateTime,
    ) -> Result<i64, Error> {
        let tx = db::write_tx(&mut self.conn)?;
        if slot_row(&tx, slot)?.is_some() {
            return Err(Error::SlotOccupied {
                slot: slot.to_string(),
            });
        }
        let id = insert_pending(
            &tx,
            slot,
            "enrol",
            Some(nickname),
            Some(sealed_key),
            Some(csr_der),
            None,
            at,
        )?;
        tx.commit()?;
        Ok(id)
    }

    /// Writes down a replacement (`REM`) of the slot's certificate before it is sent.
    pub fn begin_replacement(
        &mut self,
        slot: &SlotKey,
        nickname: &Nickname,
        sealed_key: &[u8],
        csr_der: &[u8],
        at: OffsetDateTime,
    ) -> Result<i64, Error> {
        let tx = db::write_tx(&mut self.conn)?;
        let current = slot_row(&tx, slot)?.ok_or_else(|| Error::SlotNotFound {
            slot: slot.to_string(),
        })?;
        let serial = current.material.serial;
        let id = insert_pending(
            &tx,
            slot,
            "replace",
            Some(nickname),
            Some(sealed_key),
            Some(csr_der),
            Some(serial),
            at,
        )?;
        tx.commit()?;
        Ok(id)
    }

    /// Writes down a deletion (`SUP`) of the slot's certificate before it is sent.
    pub fn begin_deletion(&mut self, slot: &SlotKey, at: OffsetDateTime) -> Result<i64, Error> {
        let tx = db::write_tx(&mut self.conn)?;
        let current = slot_row(&tx, slot)?.ok_or_else(|| Error::SlotNotFound {
            slot: slot.to_string(),
        })?;
        let id = insert_pending(
            &tx,
            slot,
            "delete",
            None,
            None,
            None,
            Some(current.material.serial),
            at,
        )?;
        tx.commit()?;
        Ok(id)
    }

    /// The requests written down and not yet completed or abandoned, oldest first.
    pub fn pending(&self) -> Result<Vec<PendingRequest>, Error> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, environment, operator, installation, kind, nickname, sealed_key, csr, serial, created_at \
             FROM pending ORDER BY id",
        )?;
        let rows = stmt.query_map([], |r| Ok(pending_from_row(r)))?;
        rows.map(|r| r?).collect()
    }

    /// Completes an enrolment: the slot receives the certificate and the pending key in one
    /// transaction, and the device identifier the authority assigned (if any) is recorded.
    pub fn complete_enrolment(
        &mut self,
        pending_id: i64,
        material: &CertificateMaterial,
        assigned: Option<DeviceId>,
        at: OffsetDateTime,
    ) -> Result<(), Error> {
        let tx = db::write_tx(&mut self.conn)?;
        let pending = pending_by_id(&tx, pending_id, "enrol")?;
        let PendingKind::Enrol { nickname } = &pending.kind else {
            return Err(Error::PendingNotFound {
                id: pending_id,
                kind: "enrol",
            });
        };
        if let Some(id) = assigned
            && set_device_id(&tx, id, "assigned", at)?
        {
            history(&tx, at, None, &HistoryEvent::DeviceIdAssigned(id))?;
        }
        let key = pending.sealed_key.as_deref().unwrap_or_default();
        write_slot(&tx, &pending.slot, nickname, material, key, at)?;
        tx.execute_cached("DELETE FROM pending WHERE id = ?1", [pending_id])?;
        history(
            &tx,
            at,
            Some(&pending.slot),
            &HistoryEvent::Enrolled {
                serial: material.serial,
            },
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Completes a replacement: the slot's certificate and key become the new ones in one
    /// transaction, so that it always holds a complete, matching pair.
    pub fn complete_replacement(
        &mut self,
        pending_id: i64,
        material: &CertificateMaterial,
        at: OffsetDateTime,
    ) -> Result<(), Error> {
        let tx = db::write_tx(&mut self.conn)?;
        let pending = pending_by_id(&tx, pending_id, "replace")?;
        let PendingKind::Replace {
            serial: old,
            nickname,
        } = &pending.kind
        else {
            return Err(Error::PendingNotFound {
                id: pending_id,
                kind: "replace",
            });
        };
        let key = pending.sealed_key.as_deref().unwrap_or_default();
        write_slot(&tx, &pending.slot, nickname, material, key, at)?;
        tx.execute_cached("DELETE FROM pending WHERE id = ?1", [pending_id])?;
        history(
            &tx,
            at,
            Some(&pending.slot),
            &HistoryEvent::Replaced {
                old: *old,
                new: material.serial,
            },
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Completes a deletion: key and certificate are removed together; the history keeps a
    /// tombstone.
    pub fn complete_deletion(&mut self, pending_id: i64, at: OffsetDateTime) -> Result<(), Error> {
        let tx = db::write_tx(&mut self.conn)?;
        let pending = pending_by_id(&tx, pending_id, "delete")?;
        let PendingKind::Delete { serial } = pending.kind else {
            return Err(Error::PendingNotFound {
                id: pending_id,
                kind: "delete",
            });
        };
        delete_slot(&tx, &pending.slot)?;
        tx.execute_cached("DELETE FROM pending WHERE id = ?1", [pending_id])?;
        history(
            &tx,
            at,
            Some(&pending.slot),
            &HistoryEvent::Deleted { serial },
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Abandons a pending request (its new key, never used, is discarded with it).
    pub fn abandon(
        &mut self,
        pending_id: i64,
        reason: &str,
        at: OffsetDateTime,
    ) -> Result<(), Error> {
        let tx = db::write_tx(&mut self.conn)?;
        let kind: Option<(String, String, String, String)> = optional(tx.query_row_cached(
            "SELECT kind, environment, operator, installation FROM pending WHERE id = ?1",
            [pending_id],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        ))?;
        let Some((kind, environment, operator, installation)) = kind else {
            return Err(Error::PendingNotFound {
                id: pending_id,
                kind: "any",
            });
        };
        let slot = slot_key("pending", &environment, &operator, installation)?;
        tx.execute_cached("DELETE FROM pending WHERE id = ?1", [pending_id])?;
        history(
            &tx,
            at,
            Some(&slot),
            &HistoryEvent::Abandoned {
                kind,
                reason: reason.to_owned(),
            },
        )?;
        tx.commit()?;
        Ok(())
    }

    /// The slot, if it holds a certificate.
    pub fn slot(&self, key: &SlotKey) -> Result<Option<Slot>, Error> {
        slot_row(&self.conn, key)
    }

    /// Every slot of the device.
    pub fn slots(&self) -> Result<Vec<Slot>, Error> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "{SLOT_SELECT} ORDER BY environment, operator, installation"
        ))?;
        let rows = stmt.query_map([], |r| Ok(slot_from_row(r)))?;
        rows.map(|r| r?).collect()
    }

    /// Records that the authority reported the slot's certificate revoked (on its CRL).
    pub fn mark_revoked(&mut self, key: &SlotKey, at: OffsetDateTime) -> Result<(), Error> {
        self.mark(key, SlotStatus::Revoked, at)
    }

    /// Records that the authority refused the slot's certificate (`JW00B999011E`). A certificate
    /// already known revoked stays so.
    pub fn mark_refused(&mut self, key: &SlotKey, at: OffsetDateTime) -> Result<(), Error> {
        self.mark(key, SlotStatus::Refused, at)
    }

    fn mark(&mut self, key: &SlotKey, status: SlotStatus, at: OffsetDateTime) -> Result<(), Error> {
        let tx = db::write_tx(&mut self.conn)?;
        let slot = slot_row(&tx, key)?.ok_or_else(|| Error::SlotNotFound {
            slot: key.to_string(),
        })?;
        if slot.status == status || slot.status == SlotStatus::Revoked {
            return Ok(());
        }
        tx.execute_cached(
            "UPDATE slots SET status = ?5, updated_at = ?4 \
             WHERE environment = ?1 AND operator = ?2 AND installation = ?3",
            params![
                key.environment.as_str(),
                key.operator.as_str(),
                key.installation,
                to_unix(at),
                status.as_str()
            ],
        )?;
        let serial = slot.material.serial;
        let event = match status {
            SlotStatus::Refused => HistoryEvent::RefusedSeen { serial },
            _ => HistoryEvent::RevokedSeen { serial },
        };
        history(&tx, at, Some(key), &event)?;
        tx.commit()?;
        Ok(())
    }

    /// Removes an ended certificate (expired, revoked or refused) and its key from the slot, in
    /// one transaction with its history entry, so that a new certificate can be obtained for it.
    /// `serial` must be the slot's certificate: a slot that changed meanwhile is left alone.
    pub fn retire(
        &mut self,
        key: &SlotKey,
        serial: SerialNumber,
        state: EndState,
        at: OffsetDateTime,
    ) -> Result<(), Error> {
        let tx = db::write_tx(&mut self.conn)?;
        let slot = slot_row(&tx, key)?.ok_or_else(|| Error::SlotNotFound {
            slot: key.to_string(),
        })?;
        if slot.material.serial != serial {
            return Err(Error::SlotNotFound {
                slot: format!("{key} with certificate {serial}"),
            });
        }
        delete_slot(&tx, key)?;
        history(&tx, at, Some(key), &HistoryEvent::Retired { serial, state })?;
        tx.commit()?;
        Ok(())
    }

    /// Records an error the authority returned, for support and audits.
    pub fn record_authority_error(
        &mut self,
        slot: Option<&SlotKey>,
        error_id: ErrorId,
        return_code: Option<ReturnCode>,
        message: &str,
        at: OffsetDateTime,
    ) -> Result<(), Error> {
        let event = HistoryEvent::AuthorityError {
            error_id,
            return_code,
            message: message.to_owned(),
        };
        history(&self.conn, at, slot, &event)
    }

    /// Resets an SRS installation's own data: its slots and pending requests are removed from the
    /// device. The device identifier stays.
    pub fn reset_installation(
        &mut self,
        installation: &str,
        at: OffsetDateTime,
    ) -> Result<usize, Error> {
        let tx = db::write_tx(&mut self.conn)?;
        let slots: Vec<Slot> = {
            let mut stmt = tx.prepare_cached(&format!("{SLOT_SELECT} WHERE installation = ?1"))?;
            let rows = stmt.query_map([installation], |r| Ok(slot_from_row(r)))?;
            rows.map(|r| r?).collect::<Result<_, _>>()?
        };
        for slot in &slots {
            history(
                &tx,
                at,
                Some(&slot.key),
                &HistoryEvent::InstallationReset {
                    serial: Some(slot.material.serial),
                },
            )?;
        }
        tx.execute_cached("DELETE FROM slots WHERE installation = ?1", [installation])?;
        tx.execute_cached(
            "DELETE FROM pending WHERE installation = ?1",
            [installation],
        )?;
        tx.commit()?;
        Ok(slots.len())
    }

    /// The whole history, oldest first.
    pub fn history(&self) -> Result<Vec<HistoryEntry>, Error> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT at, environment, operator, installation, event, serial, other_serial, device_id, error_id, \
             return_code, detail FROM history ORDER BY id",
        )?;
        let rows = stmt.query_map([], |r| Ok(history_from_row(r)))?;
        rows.map(|r| r?).collect()
    }
}

/// Records `id` as the device identifier; `Ok(true)` if newly recorded, `Ok(false)` if it was
/// already the one on record, an error if another one is.
fn set_device_id(
    conn: &Connection,
    id: DeviceId,
    source: &str,
    at: OffsetDateTime,
) -> Result<bool, Error> {
    let existing = optional(
        conn.query_row_cached("SELECT device_id FROM device", [], |r| {
            r.get::<_, String>(0)
        }),
    )?;
    match existing {
        Some(text) => {
            let existing: DeviceId = parse("device", "device_id", &text)?;
            if existing == id {
                Ok(false)
            } else {
                Err(Error::DeviceIdConflict {
                    existing,
                    offered: id,
                })
            }
        }
        None => {
            conn.execute_cached(
                "INSERT INTO device (singleton, device_id, source, recorded_at) VALUES (1, ?1, ?2, ?3)",
                params![id.to_string(), source, to_unix(at)],
            )?;
            Ok(true)
        }
    }
}

#[allow(clippy::too_many_arguments)] // One column each; a struct would only rename them.
fn insert_pending(
    conn: &Connection,
    slot: &SlotKey,
    kind: &str,
    nickname: Option<&Nickname>,
    sealed_key: Option<&[u8]>,
    csr: Option<&[u8]>,
    serial: Option<SerialNumber>,
    at: OffsetDateTime,
) -> Result<i64, Error> {
    let existing: Option<i64> = optional(conn.query_row_cached(
        "SELECT id FROM pending WHERE environment = ?1 AND operator = ?2 AND installation = ?3",
        params![
            slot.environment.as_str(),
            slot.operator.as_str(),
            slot.installation
        ],
        |r| r.get(0),
    ))?;
    if let Some(pending) = existing {
        return Err(Error::PendingExists {
            slot: slot.to_string(),
            pending,
        });
    }
    conn.execute_cached(
        "INSERT INTO pending (environment, operator, installation, kind, nickname, sealed_key, csr, serial, created_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![
            slot.environment.as_str(),
            slot.operator.as_str(),
            slot.installation,
            kind,
            nickname.map(Nickname::as_str),
            sealed_key,
            csr,
            serial.map(|s| s.to_string()),
            to_unix(at)
        ],
    )?;
    let id = conn.last_insert_rowid();
    history(
        conn,
        at,
        Some(slot),
        &HistoryEvent::RequestPrepared {
            kind: kind.to_owned(),
        },
    )?;
    Ok(id)
}

fn pending_by_id(conn: &Connection, id: i64, kind: &'static str) -> Result<PendingRequest, Error> {
    let row = optional(conn.query_row_cached(
        "SELECT id, environment, operator, installation, kind, nickname, sealed_key, csr, serial, created_at \
         FROM pending WHERE id = ?1",
        [id],
        |r| Ok(pending_from_row(r)),
    ))?;
    row.ok_or(Error::PendingNotFound { id, kind })?
}

fn pending_from_row(r: &Row<'_>) -> Result<PendingRequest, Error> {
    let slot = slot_key(
        "pending",
        &r.get::<_, String>(1)?,
        &r.get::<_, String>(2)?,
        r.get(3)?,
    )?;
    let kind: String = r.get(4)?;
    let nickname: Option<String> = r.get(5)?;
    let serial: Option<String> = r.get(8)?;
    let nickname = || -> Result<Nickname, Error> {
        parse(
            "pending",
            "nickname",
            nickname.as_deref().unwrap_or_default(),
        )
    };
    let serial = || -> Result<SerialNumber, Error> {
        parse("pending", "serial", serial.as_deref().unwrap_or_default())
    };
    let kind = match kind.as_str() {
        "enrol" => PendingKind::Enrol {
            nickname: nickname()?,
        },
        "replace" => PendingKind::Replace {
            serial: serial()?,
            nickname: nickname()?,
        },
        "delete" => PendingKind::Delete { serial: serial()? },
        _ => {
            return Err(Error::Corrupt {
                table: "pending",
                column: "kind",
                value: kind,
            });
        }
    };
    Ok(PendingRequest {
        id: r.get(0)?,
        slot,
        kind,
        sealed_key: r.get(6)?,
        csr_der: r.get(7)?,
        created_at: from_unix("pending", "created_at", r.get(9)?)?,
    })
}

const SLOT_SELECT: &str = "SELECT environment, operator, installation, nickname, certificate, certif_psi, sealed_key, \
    serial, thumbprint, not_before, not_after, status, updated_at FROM slots";

fn slot_row(conn: &Connection, key: &SlotKey) -> Result<Option<Slot>, Error> {
    let row = optional(conn.query_row_cached(
        &format!("{SLOT_SELECT} WHERE environment = ?1 AND operator = ?2 AND installation = ?3"),
        params![
            key.environment.as_str(),
            key.operator.as_str(),
            key.installation
        ],
        |r| Ok(slot_from_row(r)),
    ))?;
    row.transpose()
}

fn slot_from_row(r: &Row<'_>) -> Result<Slot, Error> {
    let key = slot_key(
        "slots",
        &r.get::<_, String>(0)?,
        &r.get::<_, String>(1)?,
        r.get(2)?,
    )?;
    let validity = Validity::new(
        from_unix("slots", "not_before", r.get(9)?)?,
        from_unix("slots", "not_after", r.get(10)?)?,
    )
    .ok_or_else(|| Error::Corrupt {
        table: "slots",
        column: "not_after",
        value: "before not_before".into(),
    })?;
    let status: String = r.get(11)?;
    Ok(Slot {
        key,
        nickname: parse("slots", "nickname", &r.get::<_, String>(3)?)?,
        material: CertificateMaterial {
            certificate_der: r.get(4)?,
            certif_psi_pem: r.get(5)?,
            serial: parse("slots", "serial", &r.get::<_, String>(7)?)?,
            thumbprint: parse("slots", "thumbprint", &r.get::<_, String>(8)?)?,
            validity,
        },
        sealed_key: r.get(6)?,
        status: match status.as_str() {
            "active" => SlotStatus::Active,
            "revoked" => SlotStatus::Revoked,
            "refused" => SlotStatus::Refused,
            _ => {
                return Err(Error::Corrupt {
                    table: "slots",
                    column: "status",
                    value: status,
                });
            }
        },
        updated_at: from_unix("slots", "updated_at", r.get(12)?)?,
    })
}

fn slot_key(
    table: &'static str,
    environment: &str,
    operator: &str,
    installation: String,
) -> Result<SlotKey, Error> {
    Ok(SlotKey {
        environment: parse(table, "environment", environment)?,
        operator: parse(table, "operator", operator)?,
        installation,
    })
}

fn write_slot(
    conn: &Connection,
    key: &SlotKey,
    nickname: &Nickname,
    m: &CertificateMaterial,
    sealed_key: &[u8],
    at: OffsetDateTime,
) -> Result<(), Error> {
    conn.execute_cached(
        "INSERT INTO slots (environment, operator, installation, nickname, certificate, certif_psi, sealed_key, serial, \
         thumbprint, not_before, not_after, status, updated_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, 'active', ?12) \
         ON CONFLICT (environment, operator, installation) DO UPDATE SET nickname = excluded.nickname, \
         certificate = excluded.certificate, certif_psi = excluded.certif_psi, sealed_key = excluded.sealed_key, \
         serial = excluded.serial, thumbprint = excluded.thumbprint, not_before = excluded.not_before, \
         not_after = excluded.not_after, status = 'active', updated_at = excluded.updated_at",
        params![
            key.environment.as_str(),
            key.operator.as_str(),
            key.installation,
            nickname.as_str(),
            m.certificate_der,
            m.certif_psi_pem,
            sealed_key,
            m.serial.to_string(),
            m.thumbprint.to_string(),
            to_unix(m.validity.not_before()),
            to_unix(m.validity.not_after()),
            to_unix(at)
        ],
    )?;
    Ok(())
}

fn delete_slot(conn: &Connection, key: &SlotKey) -> Result<(), Error> {
    let n = conn.execute_cached(
        "DELETE FROM slots WHERE environment = ?1 AND operator = ?2 AND installation = ?3",
        params![
            key.environment.as_str(),
            key.operator.as_str(),
            key.installation
        ],
    )?;
    if n == 0 {
        return Err(Error::SlotNotFound {
            slot: key.to_string(),
        });
    }
    Ok(())
}

fn history(
    conn: &Connection,
    at: OffsetDateTime,
    slot: Option<&SlotKey>,
    event: &HistoryEvent,
) -> Result<(), Error> {
    let (name, serial, other, device, error_id, code, detail): (
        &str,
        _,
        _,
        _,
        _,
        _,
        Option<String>,
    ) = match event {
        HistoryEvent::DeviceIdAssigned(id) => (
            "device-id-assigned",
            None,
            None,
            Some(*id),
            None,
            None,
            None,
        ),
        HistoryEvent::DeviceIdEntered(id) => {
            ("device-id-entered", None, None, Some(*id), None, None, None)
        }
        HistoryEvent::RequestPrepared { kind } => (
            "request-prepared",
            None,
            None,
            None,
            None,
            None,
            Some(kind.clone()),
        ),
        HistoryEvent::Enrolled { serial } => {
            ("enrolled", Some(*serial), None, None, None, None, None)
        }
        HistoryEvent::Replaced { old, new } => {
            ("replaced", Some(*old), Some(*new), None, None, None, None)
        }
        HistoryEvent::Deleted { serial } => {
            ("deleted", Some(*serial), None, None, None, None, None)
        }
        HistoryEvent::RevokedSeen { serial } => {
            ("revoked-seen", Some(*serial), None, None, None, None, None)
        }
        HistoryEvent::RefusedSeen { serial } => {
            ("refused-seen", Some(*serial), None, None, None, None, None)
        }
        HistoryEvent::Retired { serial, state } => (
            "retired",
            Some(*serial),
            None,
            None,
            None,
            None,
            Some(state.as_str().to_owned()),
        ),
        HistoryEvent::AuthorityError {
            error_id,
            return_code,
            message,
        } => (
            "authority-error",
            None,
            None,
            None,
            Some(*error_id),
            *return_code,
            Some(message.clone()),
        ),
        HistoryEvent::Abandoned { kind, reason } => (
            "abandoned",
            None,
            None,
            None,
            None,
            None,
            Some(format!("{kind}: {reason}")),
        ),
        HistoryEvent::InstallationReset { serial } => {
            ("installation-reset", *serial, None, None, None, None, None)
        }
    };
    conn.execute_cached(
        "INSERT INTO history (at, environment, operator, installation, event, serial, other_serial, device_id, error_id, \
         return_code, detail) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        params![
            to_unix(at),
            slot.map(|s| s.environment.as_str()),
            slot.map(|s| s.operator.to_string()),
            slot.map(|s| s.installation.clone()),
            name,
            serial.map(|s: SerialNumber| s.to_string()),
            other.map(|s: SerialNumber| s.to_string()),
            device.map(|d: DeviceId| d.to_string()),
            error_id.map(|e: ErrorId| e.to_string()),
            code.map(|c: ReturnCode| c.to_string()),
            detail
        ],
    )?;
    Ok(())
}

fn history_from_row(r: &Row<'_>) -> Result<HistoryEntry, Error> {
    let environment: Option<String> = r.get(1)?;
    let slot = match environment {
        Some(env) => Some(slot_key(
            "history",
            &env,
            &r.get::<_, String>(2)?,
            r.get(3)?,
        )?),
        None => None,
    };
    let text = |i: usize| -> Result<String, Error> {
        Ok(r.get::<_, Option<String>>(i)?.unwrap_or_default())
    };
    let serial =
        |i: usize| -> Result<SerialNumber, Error> { parse("history", "serial", &text(i)?) };
    let event: String = r.get(4)?;
    let event = match event.as_str() {
        "device-id-assigned" => {
            HistoryEvent::DeviceIdAssigned(parse("history", "device_id", &text(7)?)?)
        }
        "device-id-entered" => {
            HistoryEvent::DeviceIdEntered(parse("history", "device_id", &text(7)?)?)
        }
        "request-prepared" => HistoryEvent::RequestPrepared { kind: text(10)? },
        "enrolled" => HistoryEvent::Enrolled { serial: serial(5)? },
        "replaced" => HistoryEvent::Replaced {
            old: serial(5)?,
            new: serial(6)?,
        },
        "deleted" => HistoryEvent::Deleted { serial: serial(5)? },
        "revoked-seen" => HistoryEvent::RevokedSeen { serial: serial(5)? },
        "refused-seen" => HistoryEvent::RefusedSeen { serial: serial(5)? },
        "retired" => {
            let state = text(10)?;
            HistoryEvent::Retired {
                serial: serial(5)?,
                state: EndState::parse(&state).ok_or(Error::Corrupt {
                    table: "history",
                    column: "detail",
                    value: state,
                })?,
            }
        }
        "authority-error" => HistoryEvent::AuthorityError {
            error_id: parse("history", "error_id", &text(8)?)?,
            return_code: r
                .get::<_, Option<String>>(9)?
                .map(|c| parse("history", "return_code", &c))
                .transpose()?,
            message: text(10)?,
        },
        "abandoned" => {
            let detail = text(10)?;
            let (kind, reason) = detail.split_once(": ").unwrap_or((&detail, ""));
            HistoryEvent::Abandoned {
                kind: kind.to_owned(),
                reason: reason.to_owned(),
            }
        }
        "installation-reset" => HistoryEvent::InstallationReset {
            serial: r
                .get::<_, Option<String>>(5)?
                .map(|s| parse("history", "serial", &s))
                .transpose()?,
        },
        _ => {
            return Err(Error::Corrupt {
                table: "history",
                column: "event",
                value: event,
            });
        }
    };
    Ok(HistoryEntry {
        at: from_unix("history", "at", r.get(0)?)?,
        slot,
        event,
    })
}
