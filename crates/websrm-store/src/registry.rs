//! The authority's registry: operators and their codes, SRS products, device identifiers,
//! certificates with every transition, and the hash-chained audit log.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};

use rusqlite::{Connection, Row, params};
use time::OffsetDateTime;
use websrm_domain::{
    AuthorizationCode, CertificateState, CertificationCode, DeviceId, Environment, FileNumber,
    GstNumber, IdentificationNumber, Nickname, PartnerId, QstNumber, RevocationChannel,
    RevocationReason, Sector, SerialNumber, SoftwareVersion, SrsId, Thumbprint, Validity,
    VersionId,
};

use crate::Error;
use crate::audit::{self, AuditEntry, NewAudit};
use crate::db::{self, Cached, from_unix, optional, parse, to_unix};
use crate::writer::Writer;

/// The registry's schema, one migration per version (version = index + 1).
pub const MIGRATIONS: &[&str] = &[
    r"
CREATE TABLE operators (
    id                    INTEGER PRIMARY KEY,
    identification_number TEXT NOT NULL UNIQUE,
    legal_name            TEXT NOT NULL,
    qst_number            TEXT UNIQUE,
    gst_number            TEXT,
    created_at            INTEGER NOT NULL,
    failed_attempts       INTEGER NOT NULL DEFAULT 0,
    first_failure_at      INTEGER,
    locked_until          INTEGER
);
CREATE TABLE file_numbers (
    operator_id INTEGER NOT NULL REFERENCES operators(id),
    file_number TEXT NOT NULL,
    sector      TEXT NOT NULL,
    PRIMARY KEY (operator_id, file_number)
);
CREATE TABLE authorization_codes (
    id            INTEGER PRIMARY KEY,
    operator_id   INTEGER NOT NULL REFERENCES operators(id),
    code          TEXT NOT NULL UNIQUE,
    sector        TEXT NOT NULL,
    activated_at  INTEGER NOT NULL,
    superseded_at INTEGER,
    created_at    INTEGER NOT NULL
);
CREATE INDEX authorization_codes_operator ON authorization_codes(operator_id, sector);
CREATE TABLE products (
    environment        TEXT NOT NULL,
    partner_id         TEXT NOT NULL,
    srs_id             TEXT NOT NULL,
    version_id         TEXT NOT NULL,
    certification_code TEXT NOT NULL,
    version            TEXT NOT NULL,
    parent_version     TEXT NOT NULL,
    certified          INTEGER NOT NULL,
    PRIMARY KEY (environment, partner_id, srs_id, version_id)
);
CREATE TABLE devices (
    device_id   TEXT PRIMARY KEY,
    issued_at   INTEGER NOT NULL,
    operator_id INTEGER REFERENCES operators(id),
    host_device TEXT REFERENCES devices(device_id)
);
CREATE TABLE certificates (
    id                 INTEGER PRIMARY KEY,
    serial             TEXT NOT NULL UNIQUE,
    thumbprint         TEXT NOT NULL UNIQUE,
    environment        TEXT NOT NULL,
    operator_id        INTEGER NOT NULL REFERENCES operators(id),
    device_id          TEXT REFERENCES devices(device_id),
    nickname           TEXT NOT NULL,
    subject            TEXT NOT NULL,
    not_before         INTEGER NOT NULL,
    not_after          INTEGER NOT NULL,
    der                BLOB NOT NULL,
    status             TEXT NOT NULL CHECK (status IN ('active', 'replaced', 'deleted', 'revoked')),
    issued_at          INTEGER NOT NULL,
    replaced_by        TEXT REFERENCES certificates(serial),
    ended_at           INTEGER,
    revocation_reason  INTEGER,
    revocation_channel TEXT,
    ended_by           TEXT
);
CREATE INDEX certificates_operator ON certificates(operator_id, nickname);
CREATE INDEX certificates_device ON certificates(device_id);
CREATE INDEX certificates_revoked ON certificates(environment, status);
CREATE TABLE certificate_events (
    id          INTEGER PRIMARY KEY,
    certificate INTEGER NOT NULL REFERENCES certificates(id),
    at          INTEGER NOT NULL,
    event       TEXT NOT NULL,
    actor       TEXT NOT NULL,
    detail      TEXT NOT NULL
);
CREATE INDEX certificate_events_certificate ON certificate_events(certificate);
CREATE TABLE audit_log (
    seq       INTEGER PRIMARY KEY,
    at        INTEGER NOT NULL,
    actor     TEXT NOT NULL,
    action    TEXT NOT NULL,
    subject   TEXT NOT NULL,
    error_id  TEXT,
    detail    TEXT NOT NULL,
    prev_hash BLOB NOT NULL,
    hash      BLOB NOT NULL
);
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
",
    r"
ALTER TABLE certificates ADD COLUMN key_id TEXT;
CREATE INDEX certificates_key ON certificates(key_id);
",
    r"
CREATE TABLE agents (
    agent_id      TEXT PRIMARY KEY,
    password_hash TEXT NOT NULL,
    created_at    INTEGER NOT NULL
);
ALTER TABLE operators ADD COLUMN password_hash TEXT;
",
    // A server administrator holds one code per sector it administers (RBC, TRP); a new code
    // supersedes only the one of the same scope.
    r"
ALTER TABLE authorization_codes ADD COLUMN scope TEXT;
",
    // The online services' sessions, in the registry: they survive a restart and can be shared
    // by several authority processes. Only a hash of the token is kept.
    r"
CREATE TABLE portal_sessions (
    token_hash  TEXT PRIMARY KEY,
    operator_id INTEGER NOT NULL REFERENCES operators(id),
    csrf        TEXT NOT NULL,
    expires_at  INTEGER NOT NULL,
    flash_fr    TEXT,
    flash_en    TEXT
);
CREATE INDEX portal_sessions_expiry ON portal_sessions(expires_at);
",
];

const KIND: db::Kind = db::Kind {
    name: "websrm authority registry",
    application_id: 0x5753_5247,
    migrations: MIGRATIONS,
};

/// An operator's row id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OperatorId(pub i64);

/// An operator (or a server administrator) to register.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct NewOperator {
    /// The identification number (the CSR's CN).
    pub identification_number: IdentificationNumber,
    /// The legal name.
    pub legal_name: String,
    /// The QST number; `None` for a server administrator.
    pub qst_number: Option<QstNumber>,
    /// The GST number.
    pub gst_number: Option<GstNumber>,
    /// The mandatory-billing file numbers with their sector.
    pub file_numbers: Vec<(FileNumber, Sector)>,
}

impl NewOperator {
    /// An operator with no tax or file numbers yet.
    pub fn new(identification_number: IdentificationNumber, legal_name: impl Into<String>) -> Self {
        Self {
            identification_number,
            legal_name: legal_name.into(),
            qst_number: None,
            gst_number: None,
            file_numbers: Vec::new(),
        }
    }
}

/// A registered operator.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Operator {
    /// The row id.
    pub id: OperatorId,
    /// The identification number.
    pub identification_number: IdentificationNumber,
    /// The legal name.
    pub legal_name: String,
    /// The QST number.
    pub qst_number: Option<QstNumber>,
    /// The GST number.
    pub gst_number: Option<GstNumber>,
    /// The file numbers with their sector.
    pub file_numbers: Vec<(FileNumber, Sector)>,
    /// When registered.
    pub created_at: OffsetDateTime,
}

/// An authorization code on record.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AuthorizationCodeRecord {
    /// Whose code it is.
    pub operator: OperatorId,
    /// The code.
    pub code: AuthorizationCode,
    /// The sector it was issued for.
    pub sector: Sector,
    /// When it becomes usable (up to 90 minutes after issuance at Revenu Québec).
    pub activated_at: OffsetDateTime,
    /// When a newer code superseded it.
    pub superseded_at: Option<OffsetDateTime>,
}

/// Failed authorization attempts of an operator, for lockout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct AttemptState {
    /// Failures counted in the current window.
    pub failures: u32,
    /// When the current window started.
    pub first_failure_at: Option<OffsetDateTime>,
    /// Until when the operator is locked out.
    pub locked_until: Option<OffsetDateTime>,
}

impl AttemptState {
    /// A state with these values.
    pub fn new(
        failures: u32,
        first_failure_at: Option<OffsetDateTime>,
        locked_until: Option<OffsetDateTime>,
    ) -> Self {
        Self {
            failures,
            first_failure_at,
            locked_until,
        }
    }
}

/// A version of an SRS product, registered for an environment.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Product {
    /// The environment.
    pub environment: Environment,
    /// `IDPARTN`.
    pub partner_id: PartnerId,
    /// `IDSEV`.
    pub srs_id: SrsId,
    /// `IDVERSI`.
    pub version_id: VersionId,
    /// `CODCERTIF`.
    pub certification_code: CertificationCode,
    /// `VERSI`.
    pub version: SoftwareVersion,
    /// `VERSIPARN`.
    pub parent_version: SoftwareVersion,
    /// Whether this version is certified.
    pub certified: bool,
}

impl Product {
    /// A product version.
    #[allow(clippy::too_many_arguments)] // The protocol's product identity has this many parts.
    pub fn new(
        environment: Environment,
        partner_id: PartnerId,
        srs_id: SrsId,
        version_id: VersionId,
        certification_code: CertificationCode,
        version: SoftwareVersion,
        parent_version: SoftwareVersion,
        certified: bool,
    ) -> Self {
        Self {
            environment,
            partner_id,
            srs_id,
            version_id,
            certification_code,
            version,
            parent_version,
            certified,
        }
    }
}

/// A device identifier the authority issued.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeviceRecord {
    /// The identifier.
    pub device_id: DeviceId,
    /// When issued.
    pub issued_at: OffsetDateTime,
    /// The operator whose request obtained it.
    pub operator: Option<OperatorId>,
    /// For a terminal, the device it is attached to.
    pub host: Option<DeviceId>,
}

/// A certificate to record as issued.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct NewCertificate {
    /// The serial number.
    pub serial: SerialNumber,
    /// The thumbprint.
    pub thumbprint: Thumbprint,
    /// The environment.
    pub environment: Environment,
    /// The operator.
    pub operator: OperatorId,
    /// The device, for an SRS certificate.
    pub device: Option<DeviceId>,
    /// The nickname (SN).
    pub nickname: Nickname,
    /// The subject, as text.
    pub subject: String,
    /// The validity.
    pub validity: Validity,
    /// The DER.
    pub der: Vec<u8>,
    /// Who issued it (the request's channel or an agent).
    pub actor: String,
    /// The identifier of the certified public key (hex SHA-1), to recognise a retransmitted
    /// request for the same key.
    pub key_id: Option<String>,
    /// For a terminal's first enrolment, the host device that asked for it: the new device
    /// identifier is recorded as that host's terminal.
    pub host: Option<DeviceId>,
}

impl NewCertificate {
    /// The same record, for a terminal of the device `host`.
    pub fn with_host(mut self, host: Option<DeviceId>) -> Self {
        self.host = host;
        self
    }

    /// The same record with the identifier of its public key.
    pub fn with_key_id(mut self, key_id: &[u8]) -> Self {
        self.key_id = Some(key_id.iter().map(|b| format!("{b:02X}")).collect());
        self
    }

    /// A certificate record.
    #[allow(clippy::too_many_arguments)] // One field each; all are required.
    pub fn new(
        serial: SerialNumber,
        thumbprint: Thumbprint,
        environment: Environment,
        operator: OperatorId,
        device: Option<DeviceId>,
        nickname: Nickname,
        subject: String,
        validity: Validity,
        der: Vec<u8>,
        actor: impl Into<String>,
    ) -> Self {
        Self {
            serial,
            thumbprint,
            environment,
            operator,
            device,
            nickname,
            subject,
            validity,
            der,
            actor: actor.into(),
            key_id: None,
            host: None,
        }
    }
}

/// A certificate on record.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CertificateRecord {
    /// The serial number.
    pub serial: SerialNumber,
    /// The thumbprint.
    pub thumbprint: Thumbprint,
    /// The environment.
    pub environment: Environment,
    /// The operator.
    pub operator: OperatorId,
    /// The device.
    pub device: Option<DeviceId>,
    /// The nickname.
    pub nickname: Nickname,
    /// The subject, as text.
    pub subject: String,
    /// The validity.
    pub validity: Validity,
    /// The DER.
    pub der: Vec<u8>,
    /// The recorded state (expiry follows from the validity).
    pub state: CertificateState,
    /// When issued.
    pub issued_at: OffsetDateTime,
    /// The certificate that replaced it.
    pub replaced_by: Option<SerialNumber>,
    /// When it was replaced, deleted or revoked.
    pub ended_at: Option<OffsetDateTime>,
    /// Who replaced, deleted or revoked it.
    pub ended_by: Option<String>,
}

/// A transition of a certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CertificateEvent {
    /// When.
    pub at: OffsetDateTime,
    /// `issued`, `replaced`, `deleted` or `revoked`.
    pub event: String,
    /// Who.
    pub actor: String,
    /// Details (the replacing serial, the revocation reason and channel).
    pub detail: String,
}

/// The authority's registry, one SQLite file per authority.
///
/// Safe to share between threads. Reads use a small pool of connections and run in parallel
/// (WAL lets them see every committed write). Writes go to one writer thread, which commits
/// whatever is queued as one transaction (group commit): one fsync (WAL, `synchronous = FULL`)
/// for many writes, and each write returns only once the commit that holds it is durable.
#[derive(Debug)]
pub struct Registry {
    writer: Writer,
    readers: Vec<Mutex<Connection>>,
    next_reader: AtomicUsize,
    path: PathBuf,
}

/// How many read connections a registry keeps.
const READERS: usize = 4;

impl Registry {
    /// Opens the registry at `path`, creating it on first use and migrating it to the current
    /// schema.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, Error> {
        let path = path.as_ref().to_path_buf();
        // The write connection creates and migrates the file; the readers open it as it is.
        let writer = Writer::start(db::open(&path, KIND)?)?;
        let readers = (0..READERS)
            .map(|_| db::open_reader(&path).map(Mutex::new))
            .collect::<Result<_, _>>()?;
        Ok(Self {
            writer,
            readers,
            next_reader: AtomicUsize::new(0),
            path,
        })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// A read connection: the first free one of the pool, or the next in turn.
    fn conn(&self) -> MutexGuard<'_, Connection> {
        // Reads never leave anything half done, so a poisoned lock is safe to take over.
        for reader in &self.readers {
            if let Ok(guard) = reader.try_lock() {
                return guard;
            }
        }
        let next = self.next_reader.fetch_add(1, Ordering::Relaxed) % self.readers.len();
        self.readers[next]
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Runs a write in the writer's next batch (one transaction, one commit for every write
    /// queued meanwhile) and returns once that batch is committed.
    fn write<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, Error> + Send + 'static,
    ) -> Result<T, Error> {
        self.writer.write(f)
    }

    /// The schema version of the file.
    pub fn schema_version(&self) -> Result<u32, Error> {
        db::schema_version(&self.conn())
    }

    /// SQLite's integrity check.
    pub fn integrity_check(&self) -> Result<(), Error> {
        db::integrity_check(&self.conn())
    }

    // ----- operators ---------------------------------------------------------------------------

    /// Registers an operator.
    pub fn add_operator(
        &self,
        operator: &NewOperator,
        at: OffsetDateTime,
        audit: NewAudit,
    ) -> Result<OperatorId, Error> {
        let operator = operator.to_owned();
        self.write(move |tx| {
            if optional(tx.query_row_cached(
                "SELECT id FROM operators WHERE identification_number = ?1",
                [operator.identification_number.as_str()],
                |r| r.get::<_, i64>(0),
            ))?
            .is_some()
            {
                return Err(Error::OperatorExists(
                    operator.identification_number,
                ));
            }
            tx.execute_cached(
                "INSERT INTO operators (identification_number, legal_name, qst_number, gst_number, created_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    operator.identification_number.as_str(),
                    operator.legal_name,
                    operator.qst_number.as_ref().map(QstNumber::as_str),
                    operator.gst_number.as_ref().map(GstNumber::as_str),
                    to_unix(at)
                ],
            )?;
            let id = tx.last_insert_rowid();
            for (file, sector) in &operator.file_numbers {
                tx.execute_cached(
                    "INSERT INTO file_numbers (operator_id, file_number, sector) VALUES (?1, ?2, ?3)",
                    params![id, file.as_str(), sector.as_str()],
                )?;
            }
            audit::append(tx, &audit)?;
            Ok(OperatorId(id))
        })
    }

    /// The operator with this identification number.
    pub fn operator_by_identification(
        &self,
        number: &IdentificationNumber,
    ) -> Result<Option<Operator>, Error> {
        let conn = self.conn();
        let id = optional(conn.query_row_cached(
            "SELECT id FROM operators WHERE identification_number = ?1",
            [number.as_str()],
            |r| r.get::<_, i64>(0),
        ))?;
        id.map(|id| operator_row(&conn, OperatorId(id))).transpose()
    }

    /// The operator with this row id.
    pub fn operator(&self, id: OperatorId) -> Result<Operator, Error> {
        operator_row(&self.conn(), id)
    }

    /// Every operator, by identification number.
    pub fn operators(&self) -> Result<Vec<Operator>, Error> {
        let conn = self.conn();
        let ids: Vec<i64> = {
            let mut stmt =
                conn.prepare_cached("SELECT id FROM operators ORDER BY identification_number")?;
            stmt.query_map([], |r| r.get(0))?
                .collect::<Result<_, _>>()?
        };
        ids.into_iter()
            .map(|id| operator_row(&conn, OperatorId(id)))
            .collect()
    }

    /// Records a new authorization code for the operator; it supersedes the operator's previous
    /// codes for the same sector.
    pub fn add_authorization_code(
        &self,
        operator: OperatorId,
        code: &AuthorizationCode,
        sector: Sector,
        activated_at: OffsetDateTime,
        at: OffsetDateTime,
        audit: NewAudit,
    ) -> Result<(), Error> {
        self.add_code(operator, code, sector, None, activated_at, at, audit)
    }

    /// Records a server administrator's authorization code (sector `FOB`) for the servers of
    /// `administers` (RBC or TRP): it supersedes the administrator's earlier code for that
    /// sector only, so that an administrator of both sectors holds one code for each.
    pub fn add_server_code(
        &self,
        operator: OperatorId,
        code: &AuthorizationCode,
        administers: Sector,
        activated_at: OffsetDateTime,
        at: OffsetDateTime,
        audit: NewAudit,
    ) -> Result<(), Error> {
        self.add_code(
            operator,
            code,
            Sector::Server,
            Some(administers),
            activated_at,
            at,
            audit,
        )
    }

    #[allow(clippy::too_many_arguments)] // One column each, and the audit entry.
    fn add_code(
        &self,
        operator: OperatorId,
        code: &AuthorizationCode,
        sector: Sector,
        scope: Option<Sector>,
        activated_at: OffsetDateTime,
        at: OffsetDateTime,
        audit: NewAudit,
    ) -> Result<(), Error> {
        let code = code.to_owned();
        self.write(move |tx| {
            operator_row(tx, operator)?;
            if optional(tx.query_row_cached(
                "SELECT id FROM authorization_codes WHERE code = ?1",
                [code.expose()],
                |r| r.get::<_, i64>(0),
            ))?
            .is_some()
            {
                return Err(Error::AuthorizationCodeExists);
            }
            let scope = scope.map(Sector::as_str);
            tx.execute_cached(
                "UPDATE authorization_codes SET superseded_at = ?3 \
                 WHERE operator_id = ?1 AND sector = ?2 AND scope IS ?4 AND superseded_at IS NULL",
                params![operator.0, sector.as_str(), to_unix(at), scope],
            )?;
            tx.execute_cached(
                "INSERT INTO authorization_codes (operator_id, code, sector, activated_at, created_at, scope) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    operator.0,
                    code.expose(),
                    sector.as_str(),
                    to_unix(activated_at),
                    to_unix(at),
                    scope
                ],
            )?;
            audit::append(tx, &audit)?;
            Ok(())
        })
    }

    /// The record of an authorization code, whoever it belongs to.
    pub fn find_authorization_code(
        &self,
        code: &AuthorizationCode,
    ) -> Result<Option<AuthorizationCodeRecord>, Error> {
        let conn = self.conn();
        let row = optional(conn.query_row_cached(
            "SELECT operator_id, code, sector, activated_at, superseded_at FROM authorization_codes WHERE code = ?1",
            [code.expose()],
            |r| Ok(code_from_row(r)),
        ))?;
        row.transpose()
    }

    /// The operator's failed authorization attempts.
    pub fn attempt_state(&self, operator: OperatorId) -> Result<AttemptState, Error> {
        attempt_state(&self.conn(), operator)
    }

    /// Counts a failed authorization attempt, in one write so that racing failures are all
    /// counted: within `window` of the first failure the count grows, else it starts again at 1;
    /// reaching `max_failures` locks the operator out for `lockout`, with an audit entry.
    /// Returns the new state.
    pub fn count_failure(
        &self,
        operator: OperatorId,
        at: OffsetDateTime,
        policy: (u32, time::Duration, time::Duration),
        audit: NewAudit,
    ) -> Result<AttemptState, Error> {
        let (max_failures, window, lockout) = policy;
        self.write(move |tx| {
            let state = attempt_state(tx, operator)?;
            let in_window = state.first_failure_at.is_some_and(|t| at - t < window);
            let (failures, first) = if in_window {
                (state.failures + 1, state.first_failure_at)
            } else {
                (1, Some(at))
            };
            let locked_until = (failures >= max_failures).then_some(at + lockout);
            tx.execute_cached(
                "UPDATE operators SET failed_attempts = ?2, first_failure_at = ?3, locked_until = ?4 WHERE id = ?1",
                params![operator.0, failures, first.map(to_unix), locked_until.map(to_unix)],
            )?;
            if let Some(until) = locked_until {
                let audit = NewAudit { detail: format!("locked until {until}"), ..audit };
                audit::append(tx, &audit)?;
            }
            Ok(AttemptState::new(failures, first, locked_until))
        })
    }

    /// Stores the operator's failed-attempt state, with the audit entry of the decision.
    pub fn set_attempt_state(
        &self,
        operator: OperatorId,
        state: AttemptState,
        audit: Option<NewAudit>,
    ) -> Result<(), Error> {
        self.write(move |tx| {
            let n = tx.execute_cached(
                "UPDATE operators SET failed_attempts = ?2, first_failure_at = ?3, locked_until = ?4 WHERE id = ?1",
                params![operator.0, state.failures, state.first_failure_at.map(to_unix), state.locked_until.map(to_unix)],
            )?;
            if n == 0 {
                return Err(Error::OperatorNotFound(operator.0));
            }
            if let Some(audit) = audit {
                audit::append(tx, &audit)?;
            }
            Ok(())
        })
    }

    /// Sets the operator's password for the online services (its hash; the registry never sees
    /// the password).
    pub fn set_operator_password_hash(
        &self,
        operator: OperatorId,
        hash: &str,
        audit: NewAudit,
    ) -> Result<(), Error> {
        let hash = hash.to_owned();
        self.write(move |tx| {
            let n = tx.execute_cached(
                "UPDATE operators SET password_hash = ?2 WHERE id = ?1",
                params![operator.0, hash],
            )?;
            if n == 0 {
                return Err(Error::OperatorNotFound(operator.0));
            }
            audit::append(tx, &audit)?;
            Ok(())
        })
    }

    /// Opens a session of the online services for `operator`, under the hash of its token;
    /// expired sessions are removed at the same time.
    pub fn open_portal_session(
        &self,
        token_hash: &str,
        operator: OperatorId,
        csrf: &str,
        expires: OffsetDateTime,
        at: OffsetDateTime,
    ) -> Result<(), Error> {
        let (token_hash, csrf) = (token_hash.to_owned(), csrf.to_owned());
        self.write(move |tx| {
            tx.execute_cached(
                "DELETE FROM portal_sessions WHERE expires_at <= ?1",
                [to_unix(at)],
            )?;
            tx.execute_cached(
                "INSERT INTO portal_sessions (token_hash, operator_id, csrf, expires_at) VALUES (?1, ?2, ?3, ?4)",
                params![token_hash, operator.0, csrf, to_unix(expires)],
            )?;
            Ok(())
        })
    }

    /// The session under `token_hash`, if it exists and has not expired at `at`: its operator,
    /// CSRF token and expiry.
    pub fn portal_session(
        &self,
        token_hash: &str,
        at: OffsetDateTime,
    ) -> Result<Option<(OperatorId, String, OffsetDateTime)>, Error> {
        let row: Option<(i64, String, i64)> = optional(self.conn().query_row_cached(
            "SELECT operator_id, csrf, expires_at FROM portal_sessions WHERE token_hash = ?1 AND expires_at > ?2",
            params![token_hash, to_unix(at)],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        ))?;
        row.map(|(op, csrf, expires)| {
            Ok((
                OperatorId(op),
                csrf,
                from_unix("portal_sessions", "expires_at", expires)?,
            ))
        })
        .transpose()
    }

    /// Keeps a message (French, English) to show once on the session's next page.
    pub fn set_portal_flash(
        &self,
        token_hash: &str,
        french: &str,
        english: &str,
    ) -> Result<(), Error> {
        let (token_hash, french, english) =
            (token_hash.to_owned(), french.to_owned(), english.to_owned());
        self.write(move |tx| {
            tx.execute_cached(
                "UPDATE portal_sessions SET flash_fr = ?2, flash_en = ?3 WHERE token_hash = ?1",
                params![token_hash, french, english],
            )?;
            Ok(())
        })
    }

    /// Takes the session's message, if any: it is shown once.
    pub fn take_portal_flash(&self, token_hash: &str) -> Result<Option<(String, String)>, Error> {
        let token_hash = token_hash.to_owned();
        self.write(move |tx| {
            let flash: Option<(Option<String>, Option<String>)> = optional(tx.query_row_cached(
                "SELECT flash_fr, flash_en FROM portal_sessions WHERE token_hash = ?1",
                [&token_hash],
                |r| Ok((r.get(0)?, r.get(1)?)),
            ))?;
            tx.execute_cached(
                "UPDATE portal_sessions SET flash_fr = NULL, flash_en = NULL WHERE token_hash = ?1",
                [&token_hash],
            )?;
            Ok(match flash {
                Some((Some(fr), Some(en))) => Some((fr, en)),
                _ => None,
            })
        })
    }

    /// Ends a session.
    pub fn close_portal_session(&self, token_hash: &str) -> Result<(), Error> {
        let token_hash = token_hash.to_owned();
        self.write(move |tx| {
            tx.execute_cached(
                "DELETE FROM portal_sessions WHERE token_hash = ?1",
                [token_hash],
            )?;
            Ok(())
        })
    }

    /// The hash of the operator's password, if one is set.
    pub fn operator_password_hash(&self, operator: OperatorId) -> Result<Option<String>, Error> {
        let conn = self.conn();
        let row = optional(conn.query_row_cached(
            "SELECT password_hash FROM operators WHERE id = ?1",
            [operator.0],
            |r| r.get::<_, Option<String>>(0),
        ))?;
        Ok(row.flatten())
    }

    /// Registers a customer-service agent with the hash of its password.
    pub fn add_agent(
        &self,
        agent_id: &str,
        hash: &str,
        at: OffsetDateTime,
        audit: NewAudit,
    ) -> Result<(), Error> {
        let agent_id = agent_id.to_owned();
        let hash = hash.to_owned();
        self.write(move |tx| {
            let inserted = tx.execute_cached(
                "INSERT OR IGNORE INTO agents (agent_id, password_hash, created_at) VALUES (?1, ?2, ?3)",
                params![agent_id, hash, to_unix(at)],
            )?;
            if inserted == 0 {
                return Err(Error::AgentExists(agent_id));
            }
            audit::append(tx, &audit)?;
            Ok(())
        })
    }

    /// The hash of an agent's password, if the agent exists.
    pub fn agent_password_hash(&self, agent_id: &str) -> Result<Option<String>, Error> {
        optional(self.conn().query_row_cached(
            "SELECT password_hash FROM agents WHERE agent_id = ?1",
            [agent_id],
            |r| r.get(0),
        ))
    }

    // ----- products ----------------------------------------------------------------------------

    /// Registers an SRS product version for an environment.
    pub fn add_product(&self, product: &Product, audit: NewAudit) -> Result<(), Error> {
        let product = product.to_owned();
        self.write(move |tx| {
            let inserted = tx.execute_cached(
                "INSERT OR IGNORE INTO products (environment, partner_id, srs_id, version_id, certification_code, version, \
                 parent_version, certified) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    product.environment.as_str(),
                    product.partner_id.to_string(),
                    product.srs_id.to_string(),
                    product.version_id.to_string(),
                    product.certification_code.as_str(),
                    product.version.as_str(),
                    product.parent_version.as_str(),
                    product.certified
                ],
            )?;
            if inserted == 0 {
                return Err(Error::ProductExists);
            }
            audit::append(tx, &audit)?;
            Ok(())
        })
    }

    /// The product version designated by these identifiers in the environment.
    pub fn find_product(
        &self,
        environment: Environment,
        partner_id: PartnerId,
        srs_id: SrsId,
        version_id: VersionId,
    ) -> Result<Option<Product>, Error> {
        let conn = self.conn();
        let row = optional(conn.query_row_cached(
            "SELECT environment, partner_id, srs_id, version_id, certification_code, version, parent_version, certified \
             FROM products WHERE environment = ?1 AND partner_id = ?2 AND srs_id = ?3 AND version_id = ?4",
            params![environment.as_str(), partner_id.to_string(), srs_id.to_string(), version_id.to_string()],
            |r| Ok(product_from_row(r)),
        ))?;
        row.transpose()
    }

    /// Whether any product of this partner is registered in the environment.
    pub fn partner_known(
        &self,
        environment: Environment,
        partner_id: PartnerId,
    ) -> Result<bool, Error> {
        let n: i64 = self.conn().query_row_cached(
            "SELECT count(*) FROM products WHERE environment = ?1 AND partner_id = ?2",
            params![environment.as_str(), partner_id.to_string()],
            |r| r.get(0),
        )?;
        Ok(n > 0)
    }

    /// Every version of products with this partner and SRS id in the environment.
    pub fn products_of(
        &self,
        environment: Environment,
        partner_id: PartnerId,
        srs_id: SrsId,
    ) -> Result<Vec<Product>, Error> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT environment, partner_id, srs_id, version_id, certification_code, version, parent_version, certified \
             FROM products WHERE environment = ?1 AND partner_id = ?2 AND srs_id = ?3 ORDER BY version_id",
        )?;
        let rows = stmt.query_map(
            params![
                environment.as_str(),
                partner_id.to_string(),
                srs_id.to_string()
            ],
            |r| Ok(product_from_row(r)),
        )?;
        rows.map(|r| r?).collect()
    }

    // ----- devices -----------------------------------------------------------------------------

    /// Issues a new device identifier: random, never zero, never issued before.
    pub fn allocate_device_id(
        &self,
        operator: Option<OperatorId>,
        host: Option<DeviceId>,
        at: OffsetDateTime,
        audit: NewAudit,
    ) -> Result<DeviceId, Error> {
        self.write(move |tx| {
            let id = allocate_device_id(tx, operator, host, at)?;
            audit::append(tx, &audit.subject(id.to_string()))?;
            Ok(id)
        })
    }

    /// The record of a device identifier.
    pub fn device(&self, id: DeviceId) -> Result<Option<DeviceRecord>, Error> {
        let conn = self.conn();
        let row = optional(conn.query_row_cached(
            "SELECT device_id, issued_at, operator_id, host_device FROM devices WHERE device_id = ?1",
            [id.to_string()],
            |r| Ok(device_from_row(r)),
        ))?;
        row.transpose()
    }

    /// The terminals whose identifiers were issued for this host device.
    pub fn terminals_of(&self, host: DeviceId) -> Result<Vec<DeviceRecord>, Error> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT device_id, issued_at, operator_id, host_device FROM devices WHERE host_device = ?1 ORDER BY issued_at",
        )?;
        let rows = stmt.query_map([host.to_string()], |r| Ok(device_from_row(r)))?;
        rows.map(|r| r?).collect()
    }

    // ----- certificates ------------------------------------------------------------------------

    /// Whether the operator has a certificate in force in `environment` named `nickname` at `at`
    /// (active and not expired).
    pub fn nickname_in_force(
        &self,
        operator: OperatorId,
        environment: Environment,
        nickname: &Nickname,
        at: OffsetDateTime,
    ) -> Result<bool, Error> {
        nickname_in_force(&self.conn(), operator, environment, nickname, at, None)
    }

    /// Records an issued certificate, durably, with its event and audit entry. Called before the
    /// certificate is returned to anyone. When `new_device` is set, the device identifier is
    /// allocated in the same transaction and recorded as the certificate's device.
    ///
    /// In PROD, a nickname already used by an in-force certificate of the operator is refused.
    pub fn record_issued(
        &self,
        cert: &NewCertificate,
        new_device: bool,
        at: OffsetDateTime,
        audit: NewAudit,
    ) -> Result<Option<DeviceId>, Error> {
        let cert = cert.to_owned();
        self.write(move |tx| {
            check_key(tx, &cert)?;
            check_nickname(tx, &cert, at, None)?;
            let mut cert = cert;
            let allocated = if new_device {
                let id = allocate_device_id(tx, Some(cert.operator), cert.host, at)?;
                cert.device = Some(id);
                Some(id)
            } else {
                None
            };
            insert_certificate(tx, &cert, at)?;
            audit::append(tx, &audit)?;
            Ok(allocated)
        })
    }

    /// Records many issued certificates in one transaction (imports and benchmarks), each with
    /// its event and audit entry.
    pub fn record_issued_batch(
        &self,
        certs: &[NewCertificate],
        at: OffsetDateTime,
    ) -> Result<(), Error> {
        let certs = certs.to_owned();
        self.write(move |tx| {
            for cert in &certs {
                check_nickname(tx, cert, at, None)?;
                insert_certificate(tx, cert, at)?;
                audit::append(
                    tx,
                    &NewAudit::new(
                        at,
                        cert.actor.clone(),
                        "issue",
                        cert.serial.to_string(),
                        "imported",
                    ),
                )?;
            }
            Ok(())
        })
    }

    /// Replaces a certificate in force with a new one, in one transaction: the old is marked
    /// replaced by the new, the new recorded as issued.
    pub fn record_replacement(
        &self,
        old: SerialNumber,
        new: &NewCertificate,
        at: OffsetDateTime,
        audit: NewAudit,
    ) -> Result<(), Error> {
        let new = new.to_owned();
        self.write(move |tx| {
            let current = certificate_row(tx, "serial", &old.to_string())?
                .ok_or(Error::CertificateNotFound(old))?;
            if current.state != CertificateState::Active {
                return Err(Error::CertificateNotActive(old));
            }
            // The replacement may keep the nickname of the certificate it replaces.
            check_key(tx, &new)?;
            check_nickname(tx, &new, at, Some(old))?;
            insert_certificate(tx, &new, at)?;
            tx.execute_cached(
                "UPDATE certificates SET status = 'replaced', replaced_by = ?2, ended_at = ?3, ended_by = ?4 WHERE serial = ?1",
                params![old.to_string(), new.serial.to_string(), to_unix(at), new.actor],
            )?;
            event(
                tx,
                old,
                at,
                "replaced",
                &new.actor,
                &format!("replaced by {}", new.serial),
            )?;
            audit::append(tx, &audit)?;
            Ok(())
        })
    }

    /// Records a deletion at the SRS's request (`SUP`).
    pub fn record_deletion(
        &self,
        serial: SerialNumber,
        at: OffsetDateTime,
        actor: &str,
        audit: NewAudit,
    ) -> Result<(), Error> {
        self.end(serial, at, actor, "deleted", None, audit)
    }

    /// Records a revocation with its reason, the channel it came through and who did it.
    pub fn record_revocation(
        &self,
        serial: SerialNumber,
        reason: RevocationReason,
        channel: RevocationChannel,
        at: OffsetDateTime,
        actor: &str,
        audit: NewAudit,
    ) -> Result<(), Error> {
        self.end(serial, at, actor, "revoked", Some((reason, channel)), audit)
    }

    fn end(
        &self,
        serial: SerialNumber,
        at: OffsetDateTime,
        actor: &str,
        status: &str,
        revocation: Option<(RevocationReason, RevocationChannel)>,
        audit: NewAudit,
    ) -> Result<(), Error> {
        let actor = actor.to_owned();
        let status = status.to_owned();
        self.write(move |tx| {
            let current = certificate_row(tx, "serial", &serial.to_string())?
                .ok_or(Error::CertificateNotFound(serial))?;
            if current.state != CertificateState::Active {
                return Err(Error::CertificateNotActive(serial));
            }
            tx.execute_cached(
                "UPDATE certificates SET status = ?2, ended_at = ?3, ended_by = ?4, revocation_reason = ?5, \
                 revocation_channel = ?6 WHERE serial = ?1",
                params![
                    serial.to_string(),
                    status,
                    to_unix(at),
                    actor,
                    revocation.map(|(r, _)| r.code()),
                    revocation.map(|(_, c)| c.as_str())
                ],
            )?;
            let detail = revocation
                .map(|(r, c)| format!("{r} via {c}"))
                .unwrap_or_default();
            event(tx, serial, at, &status, &actor, &detail)?;
            audit::append(tx, &audit)?;
            Ok(())
        })
    }

    /// The certificate with this serial number.
    pub fn certificate_by_serial(
        &self,
        serial: SerialNumber,
    ) -> Result<Option<CertificateRecord>, Error> {
        certificate_row(&self.conn(), "serial", &serial.to_string())
    }

    /// The certificate with this thumbprint.
    pub fn certificate_by_thumbprint(
        &self,
        thumbprint: Thumbprint,
    ) -> Result<Option<CertificateRecord>, Error> {
        certificate_row(&self.conn(), "thumbprint", &thumbprint.to_string())
    }

    /// The operator's certificates, newest first.
    pub fn certificates_of_operator(
        &self,
        operator: OperatorId,
    ) -> Result<Vec<CertificateRecord>, Error> {
        certificates_where(
            &self.conn(),
            "operator_id = ?1 ORDER BY issued_at DESC, id DESC",
            &operator.0.to_string(),
        )
    }

    /// The operator's certificate in force for the public key `key_id` (hex SHA-1), if any: what
    /// a retransmitted request for the same key must get again.
    pub fn active_certificate_for_key(
        &self,
        operator: OperatorId,
        key_id: &[u8],
    ) -> Result<Option<CertificateRecord>, Error> {
        let hex: String = key_id.iter().map(|b| format!("{b:02X}")).collect();
        let conn = self.conn();
        let mut found = certificates_where(
            &conn,
            &format!(
                "key_id = ?1 AND +operator_id = {} AND status = 'active' ORDER BY id DESC",
                operator.0
            ),
            &hex,
        )?;
        Ok(if found.is_empty() {
            None
        } else {
            Some(found.remove(0))
        })
    }

    /// The certificates issued for a device, newest first.
    pub fn certificates_of_device(
        &self,
        device: DeviceId,
    ) -> Result<Vec<CertificateRecord>, Error> {
        certificates_where(
            &self.conn(),
            "device_id = ?1 ORDER BY issued_at DESC, id DESC",
            &device.to_string(),
        )
    }

    /// The revoked certificates of an environment's CA (both conformity environments share one),
    /// with when and why.
    pub fn revoked(&self, environment: Environment) -> Result<Vec<CertificateRecord>, Error> {
        let conn = self.conn();
        let family: &[&str] = if environment.is_conformity() {
            &["DEV", "ESSAI"]
        } else {
            &["PROD"]
        };
        let mut out = Vec::new();
        for env in family {
            out.extend(certificates_where(
                &conn,
                "environment = ?1 AND status = 'revoked' ORDER BY ended_at, id",
                env,
            )?);
        }
        Ok(out)
    }

    /// The transitions of a certificate, oldest first.
    pub fn certificate_events(&self, serial: SerialNumber) -> Result<Vec<CertificateEvent>, Error> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached("SELECT e.at, e.event, e.actor, e.detail FROM certificate_events e JOIN certificates c ON c.id = e.certificate \
             WHERE c.serial = ?1 ORDER BY e.id")?;
        let rows = stmt.query_map([serial.to_string()], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
                r.get::<_, String>(3)?,
            ))
        })?;
        rows.map(|r| {
            let (at, event, actor, detail) = r?;
            Ok(CertificateEvent {
                at: from_unix("certificate_events", "at", at)?,
                event,
                actor,
                detail,
            })
        })
        .collect()
    }

    /// How many certificates are on record.
    pub fn certificate_count(&self) -> Result<u64, Error> {
        let n: i64 = self
            .conn()
            .query_row("SELECT count(*) FROM certificates", [], |r| r.get(0))?;
        Ok(n.unsigned_abs())
    }

    // ----- audit -------------------------------------------------------------------------------

    /// Appends an entry to the audit log (a refusal, a look-up), durably.
    pub fn append_audit(&self, entry: NewAudit) -> Result<AuditEntry, Error> {
        self.write(move |tx| {
            let appended = audit::append(tx, &entry)?;
            Ok(appended)
        })
    }

    /// The audit log from entry `from` (1 is the first), in order.
    pub fn audit_entries(&self, from: i64) -> Result<Vec<AuditEntry>, Error> {
        audit::entries(&self.conn(), from)
    }

    /// Verifies the audit log's hash chain from the first entry; returns how many entries it has.
    pub fn verify_audit_chain(&self) -> Result<u64, Error> {
        audit::verify(&self.conn())
    }
}

fn operator_row(conn: &Connection, id: OperatorId) -> Result<Operator, Error> {
    let row = optional(conn.query_row_cached(
        "SELECT identification_number, legal_name, qst_number, gst_number, created_at FROM operators WHERE id = ?1",
        [id.0],
        |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, Option<String>>(2)?,
                r.get::<_, Option<String>>(3)?,
                r.get::<_, i64>(4)?,
            ))
        },
    ))?;
    let (number, legal_name, qst, gst, created) = row.ok_or(Error::OperatorNotFound(id.0))?;
    let mut stmt = conn.prepare_cached(
        "SELECT file_number, sector FROM file_numbers WHERE operator_id = ?1 ORDER BY file_number",
    )?;
    let files = stmt
        .query_map([id.0], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
        })?
        .map(|r| {
            let (f, s) = r?;
            Ok((
                parse("file_numbers", "file_number", &f)?,
                parse("file_numbers", "sector", &s)?,
            ))
        })
        .collect::<Result<Vec<_>, Error>>()?;
    Ok(Operator {
        id,
        identification_number: parse("operators", "identification_number", &number)?,
        legal_name,
        qst_number: qst
            .map(|q| parse("operators", "qst_number", &q))
            .transpose()?,
        gst_number: gst
            .map(|g| parse("operators", "gst_number", &g))
            .transpose()?,
        file_numbers: files,
        created_at: from_unix("operators", "created_at", created)?,
    })
}

fn code_from_row(r: &Row<'_>) -> Result<AuthorizationCodeRecord, Error> {
    Ok(AuthorizationCodeRecord {
        operator: OperatorId(r.get(0)?),
        code: parse("authorization_codes", "code", &r.get::<_, String>(1)?)?,
        sector: parse("authorization_codes", "sector", &r.get::<_, String>(2)?)?,
        activated_at: from_unix("authorization_codes", "activated_at", r.get(3)?)?,
        superseded_at: r
            .get::<_, Option<i64>>(4)?
            .map(|t| from_unix("authorization_codes", "superseded_at", t))
            .transpose()?,
    })
}

fn product_from_row(r: &Row<'_>) -> Result<Product, Error> {
    let text = |i: usize| r.get::<_, String>(i);
    Ok(Product {
        environment: parse("products", "environment", &text(0)?)?,
        partner_id: parse("products", "partner_id", &text(1)?)?,
        srs_id: parse("products", "srs_id", &text(2)?)?,
        version_id: parse("products", "version_id", &text(3)?)?,
        certification_code: parse("products", "certification_code", &text(4)?)?,
        version: parse("products", "version", &text(5)?)?,
        parent_version: parse("products", "parent_version", &text(6)?)?,
        certified: r.get(7)?,
    })
}

fn device_from_row(r: &Row<'_>) -> Result<DeviceRecord, Error> {
    Ok(DeviceRecord {
        device_id: parse("devices", "device_id", &r.get::<_, String>(0)?)?,
        issued_at: from_unix("devices", "issued_at", r.get(1)?)?,
        operator: r.get::<_, Option<i64>>(2)?.map(OperatorId),
        host: r
            .get::<_, Option<String>>(3)?
            .map(|h| parse("devices", "host_device", &h))
            .transpose()?,
    })
}

fn allocate_device_id(
    conn: &Connection,
    operator: Option<OperatorId>,
    host: Option<DeviceId>,
    at: OffsetDateTime,
) -> Result<DeviceId, Error> {
    for _ in 0..64 {
        let mut bytes = [0u8; 8];
        getrandom::fill(&mut bytes).map_err(|e| Error::Database {
            message: format!("random generator: {e}"),
        })?;
        let Some(id) = DeviceId::from_u64(u64::from_le_bytes(bytes) % (DeviceId::MAX + 1)) else {
            continue;
        };
        let inserted = conn.execute_cached(
            "INSERT OR IGNORE INTO devices (device_id, issued_at, operator_id, host_device) VALUES (?1, ?2, ?3, ?4)",
            params![id.to_string(), to_unix(at), operator.map(|o| o.0), host.map(|h| h.to_string())],
        )?;
        if inserted == 1 {
            return Ok(id);
        }
    }
    Err(Error::DeviceIdExhausted)
}

fn nickname_in_force(
    conn: &Connection,
    operator: OperatorId,
    environment: Environment,
    nickname: &Nickname,
    at: OffsetDateTime,
    except: Option<SerialNumber>,
) -> Result<bool, Error> {
    let n: i64 = conn.query_row_cached(
        "SELECT count(*) FROM certificates WHERE operator_id = ?1 AND environment = ?2 AND nickname = ?3 \
         AND status = 'active' AND not_after >= ?4 AND serial IS NOT ?5",
        params![operator.0, environment.as_str(), nickname.as_str(), to_unix(at), except.map(|s| s.to_string())],
        |r| r.get(0),
    )?;
    Ok(n > 0)
}

fn attempt_state(conn: &Connection, operator: OperatorId) -> Result<AttemptState, Error> {
    let row = optional(conn.query_row_cached(
        "SELECT failed_attempts, first_failure_at, locked_until FROM operators WHERE id = ?1",
        [operator.0],
        |r| {
            Ok((
                r.get::<_, u32>(0)?,
                r.get::<_, Option<i64>>(1)?,
                r.get::<_, Option<i64>>(2)?,
            ))
        },
    ))?;
    let (failures, first, locked) = row.ok_or(Error::OperatorNotFound(operator.0))?;
    Ok(AttemptState {
        failures,
        first_failure_at: first
            .map(|t| from_unix("operators", "first_failure_at", t))
            .transpose()?,
        locked_until: locked
            .map(|t| from_unix("operators", "locked_until", t))
            .transpose()?,
    })
}

/// A certificate in force for the same operator, key and nickname is the one a repeated
/// request already obtained: checked inside the write, so that two copies of a request in one
/// batch give one certificate.
fn check_key(conn: &Connection, cert: &NewCertificate) -> Result<(), Error> {
    let Some(key_id) = &cert.key_id else {
        return Ok(());
    };
    let existing: Option<String> = optional(conn.query_row_cached(
        "SELECT serial FROM certificates WHERE key_id = ?2 AND +operator_id = ?1 AND +nickname = ?3 \
         AND status = 'active' LIMIT 1",
        params![cert.operator.0, key_id, cert.nickname.as_str()],
        |r| r.get(0),
    ))?;
    match existing {
        Some(serial) => Err(Error::KeyInUse(parse("certificates", "serial", &serial)?)),
        None => Ok(()),
    }
}

fn check_nickname(
    conn: &Connection,
    cert: &NewCertificate,
    at: OffsetDateTime,
    except: Option<SerialNumber>,
) -> Result<(), Error> {
    if cert.environment == Environment::Prod
        && nickname_in_force(
            conn,
            cert.operator,
            cert.environment,
            &cert.nickname,
            at,
            except,
        )?
    {
        return Err(Error::NicknameInUse(cert.nickname.clone()));
    }
    Ok(())
}

fn insert_certificate(
    conn: &Connection,
    cert: &NewCertificate,
    at: OffsetDateTime,
) -> Result<(), Error> {
    let inserted = conn.execute_cached(
        "INSERT OR IGNORE INTO certificates (serial, thumbprint, environment, operator_id, device_id, nickname, subject, \
         not_before, not_after, der, status, issued_at, key_id) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 'active', ?11, ?12)",
        params![
            cert.serial.to_string(),
            cert.thumbprint.to_string(),
            cert.environment.as_str(),
            cert.operator.0,
            cert.device.map(|d| d.to_string()),
            cert.nickname.as_str(),
            cert.subject,
            to_unix(cert.validity.not_before()),
            to_unix(cert.validity.not_after()),
            cert.der,
            to_unix(at),
            cert.key_id
        ],
    )?;
    if inserted == 0 {
        return Err(Error::CertificateExists(cert.serial));
    }
    event(conn, cert.serial, at, "issued", &cert.actor, "")
}

fn event(
    conn: &Connection,
    serial: SerialNumber,
    at: OffsetDateTime,
    event: &str,
    actor: &str,
    detail: &str,
) -> Result<(), Error> {
    conn.execute_cached(
        "INSERT INTO certificate_events (certificate, at, event, actor, detail) \
         VALUES ((SELECT id FROM certificates WHERE serial = ?1), ?2, ?3, ?4, ?5)",
        params![serial.to_string(), to_unix(at), event, actor, detail],
    )?;
    Ok(())
}

const CERT_SELECT: &str = "SELECT serial, thumbprint, environment, operator_id, device_id, nickname, subject, not_before, \
    not_after, der, status, issued_at, replaced_by, ended_at, revocation_reason, revocation_channel, ended_by FROM certificates";

fn certificate_row(
    conn: &Connection,
    column: &str,
    value: &str,
) -> Result<Option<CertificateRecord>, Error> {
    let row = optional(conn.query_row_cached(
        &format!("{CERT_SELECT} WHERE {column} = ?1"),
        [value],
        |r| Ok(certificate_from_row(r)),
    ))?;
    row.transpose()
}

fn certificates_where(
    conn: &Connection,
    clause: &str,
    value: &str,
) -> Result<Vec<CertificateRecord>, Error> {
    let mut stmt = conn.prepare_cached(&format!("{CERT_SELECT} WHERE {clause}"))?;
    let rows = stmt.query_map([value], |r| Ok(certificate_from_row(r)))?;
    rows.map(|r| r?).collect()
}

fn certificate_from_row(r: &Row<'_>) -> Result<CertificateRecord, Error> {
    const T: &str = "certificates";
    let text = |i: usize| r.get::<_, String>(i);
    let validity = Validity::new(
        from_unix(T, "not_before", r.get(7)?)?,
        from_unix(T, "not_after", r.get(8)?)?,
    )
    .ok_or_else(|| Error::Corrupt {
        table: T,
        column: "not_after",
        value: "before not_before".into(),
    })?;
    let status = text(10)?;
    let state = match status.as_str() {
        "active" => CertificateState::Active,
        "replaced" => CertificateState::Replaced,
        "deleted" => CertificateState::Deleted,
        "revoked" => {
            let code: Option<u8> = r.get(14)?;
            let channel: Option<String> = r.get(15)?;
            CertificateState::Revoked {
                reason: code.and_then(RevocationReason::from_code).ok_or_else(|| {
                    Error::Corrupt {
                        table: T,
                        column: "revocation_reason",
                        value: format!("{code:?}"),
                    }
                })?,
                channel: parse(
                    T,
                    "revocation_channel",
                    channel.as_deref().unwrap_or_default(),
                )?,
            }
        }
        _ => {
            return Err(Error::Corrupt {
                table: T,
                column: "status",
                value: status,
            });
        }
    };
    Ok(CertificateRecord {
        serial: parse(T, "serial", &text(0)?)?,
        thumbprint: parse(T, "thumbprint", &text(1)?)?,
        environment: parse(T, "environment", &text(2)?)?,
        operator: OperatorId(r.get(3)?),
        device: r
            .get::<_, Option<String>>(4)?
            .map(|d| parse(T, "device_id", &d))
            .transpose()?,
        nickname: parse(T, "nickname", &text(5)?)?,
        subject: text(6)?,
        validity,
        der: r.get(9)?,
        state,
        issued_at: from_unix(T, "issued_at", r.get(11)?)?,
        replaced_by: r
            .get::<_, Option<String>>(12)?
            .map(|s| parse(T, "replaced_by", &s))
            .transpose()?,
        ended_at: r
            .get::<_, Option<i64>>(13)?
            .map(|t| from_unix(T, "ended_at", t))
            .transpose()?,
        ended_by: r.get(16)?,
    })
}
