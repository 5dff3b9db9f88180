//! The authority's registry: operators and their codes, SRS products, device identifiers,
//! certificates with every transition, and the hash-chained audit log.
//!
//! One API over two engines: SQLite (one file, the default) and PostgreSQL (shared by several
//! authority processes). Every statement is written once, in `operators.rs` and
//! `certificates.rs`, and runs on both; `schema.rs` holds each engine's migrations.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use rusqlite::Connection;
use time::OffsetDateTime;
use websrm_domain::{
    CertificateState, CertificationCode, DeviceId, Environment, FileNumber, GstNumber,
    IdentificationNumber, Nickname, PartnerId, ProductMode, QstNumber, Sector, SerialNumber,
    SoftwareVersion, SrsId, Thumbprint, Validity, VersionId, VersionState,
};

use crate::Error;
use crate::audit::AuditChain;
use crate::checkpoint::{self, Checkpointer};
use crate::db;
use crate::sql::{Db, Lite};
use crate::writer::Writer;

mod certificates;
mod operators;
mod products;
mod schema;
mod services;
mod transactions;

pub use operators::AgentSession;
pub use schema::MIGRATIONS;
pub use services::{ReceivedDocument, RecordedDocument, UserChange};
pub use transactions::{ReceivedTransaction, RecordedTransaction};

const KIND: db::Kind = db::Kind {
    name: "websrm authority registry",
    application_id: 0x5753_5247,
    migrations: MIGRATIONS,
};

/// Where a registry lives.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Database {
    /// An SQLite file, created on first use.
    Sqlite(PathBuf),
    /// A PostgreSQL database, by URL (`postgres://user:password@host:port/name`, or any form
    /// libpq accepts); its schema is created on first use.
    Postgres(String),
}

impl Database {
    /// Reads `postgres://…` or `postgresql://…`, and a libpq `key=value` string (`host=…
    /// dbname=…`), as PostgreSQL; anything else as an SQLite file (with or without `sqlite:` in
    /// front). A connection string is never taken for a file name.
    pub fn parse(text: &str) -> Self {
        let lower = text.get(..13).unwrap_or(text).to_ascii_lowercase();
        if let Some(scheme) = ["postgresql://", "postgres://"]
            .into_iter()
            .find(|scheme| lower.starts_with(scheme))
        {
            // The scheme in lower case, as the client reads it.
            Self::Postgres(format!("{scheme}{}", &text[scheme.len()..]))
        } else if is_key_value(text) {
            Self::Postgres(text.to_owned())
        } else {
            Self::Sqlite(PathBuf::from(text.strip_prefix("sqlite:").unwrap_or(text)))
        }
    }
}

/// Whether `text` is a libpq `key=value` connection string: one of its words sets a
/// connection parameter.
fn is_key_value(text: &str) -> bool {
    const KEYS: &[&str] = &[
        "host",
        "hostaddr",
        "port",
        "dbname",
        "user",
        "password",
        "sslmode",
        "sslrootcert",
        "connect_timeout",
        "application_name",
        "options",
        "target_session_attrs",
    ];
    // libpq allows spaces around `=`: `host = db password = x`.
    let words: Vec<&str> = text.split_whitespace().collect();
    words.iter().enumerate().any(|(i, word)| {
        let key = match word.split_once('=') {
            Some((key, _)) if !key.is_empty() => key,
            // `key =` or `key = value`: the key is this word, followed by a word starting `=`.
            _ => match words.get(i + 1) {
                Some(next) if next.starts_with('=') => word,
                _ => return false,
            },
        };
        KEYS.contains(&key.to_ascii_lowercase().as_str())
    })
}

impl FromStr for Database {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Self::parse(s))
    }
}

/// Shows the file, or the database by user, host, port and name: never the connection string,
/// which may hold a password in any of its forms.
impl fmt::Display for Database {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Sqlite(path) => write!(f, "{}", path.display()),
            Self::Postgres(url) => f.write_str(&describe(url)),
        }
    }
}

impl fmt::Debug for Database {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Sqlite(path) => f.debug_tuple("Sqlite").field(path).finish(),
            Self::Postgres(_) => f.debug_tuple("Postgres").field(&self.to_string()).finish(),
        }
    }
}

/// A PostgreSQL database named by what the client's own parser reads of the connection string:
/// `postgresql://USER@HOST:PORT/NAME`, without the password.
#[cfg(feature = "postgres")]
fn describe(url: &str) -> String {
    // TLS words are read by the store (the client knows neither verify-full nor sslrootcert).
    let parsed = crate::pg_tls::split(url)
        .ok()
        .and_then(|(rest, _, _)| rest.parse::<postgres::Config>().ok());
    let Some(config) = parsed else {
        return "a PostgreSQL connection string that does not parse".into();
    };
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .enumerate()
        .map(|(i, host)| {
            let host = match host {
                postgres::config::Host::Tcp(name) => name.clone(),
                #[cfg(unix)]
                postgres::config::Host::Unix(path) => path.display().to_string(),
            };
            match config
                .get_ports()
                .get(i)
                .or_else(|| config.get_ports().first())
            {
                Some(port) => format!("{host}:{port}"),
                None => host,
            }
        })
        .collect();
    format!(
        "postgresql://{}@{}/{}",
        config.get_user().unwrap_or("(default user)"),
        if hosts.is_empty() {
            "(default host)".to_owned()
        } else {
            hosts.join(",")
        },
        config.get_dbname().unwrap_or("(default database)"),
    )
}

/// Without the PostgreSQL client, nothing of the string is shown.
#[cfg(not(feature = "postgres"))]
fn describe(_: &str) -> String {
    "a PostgreSQL database (this build has no PostgreSQL client)".into()
}

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
    /// When the authority disabled it: its authorization codes and its password for the
    /// online services no longer work (its certificates are not revoked by that).
    pub disabled_at: Option<OffsetDateTime>,
}

/// An authorization code on record.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AuthorizationCodeRecord {
    /// Whose code it is.
    pub operator: OperatorId,
    /// The sector it was issued for.
    pub sector: Sector,
    /// When it becomes usable (up to 90 minutes after issuance at Revenu Québec).
    pub activated_at: OffsetDateTime,
    /// When a newer code superseded it.
    pub superseded_at: Option<OffsetDateTime>,
}

/// A secret an operator proves, each with its own count of failures and its own lockout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Credential {
    /// Authorization codes, presented in the subject of a certificate request.
    AuthorizationCode,
    /// The password of the online services.
    Password,
}

impl Credential {
    /// The columns holding its count, window start and lockout end.
    pub(crate) fn columns(self) -> (&'static str, &'static str, &'static str) {
        match self {
            Self::AuthorizationCode => ("failed_attempts", "first_failure_at", "locked_until"),
            Self::Password => (
                "password_failed_attempts",
                "password_first_failure_at",
                "password_locked_until",
            ),
        }
    }
}

/// What [`Registry::reserve_attempt`] decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Reservation {
    /// The attempt may be verified; it is already counted as a failure (and the state it left
    /// is given), until [`Registry::clear_attempts`] gives it back on success.
    Granted(AttemptState),
    /// The credential is locked out until then; nothing was counted.
    Locked(OffsetDateTime),
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

/// What the registry's writer has done (see [`Registry::writer_stats`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct WriterStats {
    /// Batches (transactions) run.
    pub batches: u64,
    /// Writes they held: `writes / batches` is the mean batch size.
    pub writes: u64,
    /// Batches that did not commit.
    pub failed_batches: u64,
    /// Time from each batch's start to its commit, summed.
    pub busy: std::time::Duration,
    /// Calls made on the write connection: statements, and transaction control (a write's
    /// savepoint released and the next set count once). On PostgreSQL each is a round trip.
    pub round_trips: u64,
    /// Calls made on the read connections, each a round trip on PostgreSQL.
    pub read_round_trips: u64,
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
    /// Where this version stands (registered, awaiting certification, certified, withdrawn).
    pub state: VersionState,
    /// The modes the product is registered with.
    pub mode: ProductMode,
    /// The sectors it serves (`RBC`, `TRP`), in order, without repeats.
    pub sectors: Vec<Sector>,
}

impl Product {
    /// A product version, registered for both modes and every SRS sector until
    /// [`Product::with_mode`] and [`Product::with_sectors`] say otherwise.
    #[allow(clippy::too_many_arguments)] // The protocol's product identity has this many parts.
    pub fn new(
        environment: Environment,
        partner_id: PartnerId,
        srs_id: SrsId,
        version_id: VersionId,
        certification_code: CertificationCode,
        version: SoftwareVersion,
        parent_version: SoftwareVersion,
        state: VersionState,
    ) -> Self {
        Self {
            environment,
            partner_id,
            srs_id,
            version_id,
            certification_code,
            version,
            parent_version,
            state,
            mode: ProductMode::Both,
            sectors: vec![Sector::Restaurant, Sector::Transport],
        }
    }

    /// The same version with these modes.
    #[must_use]
    pub fn with_mode(mut self, mode: ProductMode) -> Self {
        self.mode = mode;
        self
    }

    /// The same version serving these sectors (sorted, repeats dropped).
    #[must_use]
    pub fn with_sectors(mut self, sectors: impl IntoIterator<Item = Sector>) -> Self {
        let mut sectors: Vec<Sector> = sectors.into_iter().collect();
        sectors.sort_unstable();
        sectors.dedup();
        self.sectors = sectors;
        self
    }

    /// Whether operators may use this version in production.
    pub fn is_certified(&self) -> bool {
        self.state.is_certified()
    }
}

/// A developer (partner) whose products the authority registers.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Partner {
    /// `IDPARTN`.
    pub partner_id: PartnerId,
    /// The developer's name, as given when registering it (may be empty).
    pub name: String,
    /// Whether the developer is registered for the conformity environments: DEV and ESSAI refuse
    /// an unregistered developer's requests (063E, 064E); production still serves its certified
    /// versions.
    pub registered: bool,
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

/// The authority's registry: one SQLite file, or one PostgreSQL database shared by every
/// authority process.
///
/// Safe to share between threads. Reads use a small pool of connections and run in parallel.
/// Writes go to one writer thread, which commits whatever is queued as one transaction (group
/// commit): one flush to disk for many writes, and each write returns only once the commit that
/// holds it is durable. On PostgreSQL every write transaction first takes one advisory lock, so
/// that the writers of several processes take turns, batch by batch: each check-then-write
/// (a repeated request, a nickname in force, a lockout count, the audit chain's next link) sees
/// every write committed before it, whichever process made it.
#[derive(Debug)]
pub struct Registry {
    // Dropped in this order: the writer commits what it holds and closes its connection, which
    // ends the checkpointer.
    writer: Writer,
    /// SQLite only: checkpoints mostly off the writer's path (held for its `Drop`).
    _checkpointer: Option<Checkpointer>,
    readers: Readers,
    database: Database,
    /// The audit chain's key, checkpoint and head (shared with the writer's thread).
    audit: Arc<AuditChain>,
    /// The key under which authorization codes are kept as digests, once the authority gave it.
    code_key: std::sync::RwLock<Option<zeroize::Zeroizing<[u8; 32]>>>,
    /// Calls made on the read connections (each a round trip on PostgreSQL).
    read_round_trips: Arc<std::sync::atomic::AtomicU64>,
}

/// The read connections.
#[derive(Debug)]
enum Readers {
    /// Opened once; a read runs on the caller's thread.
    Sqlite {
        pool: Vec<Mutex<Connection>>,
        next: AtomicUsize,
    },
    /// Each on a thread of its own (a PostgreSQL client must live outside any async runtime).
    #[cfg(feature = "postgres")]
    Postgres(crate::pg::Readers),
}

/// The writer's connection during a write, with the audit chain that `audit::append` links to.
struct Audited<'a> {
    db: &'a mut dyn Db,
    chain: &'a AuditChain,
}

impl Db for Audited<'_> {
    fn execute(&mut self, sql: &str, params: &[crate::sql::Value]) -> Result<u64, Error> {
        self.db.execute(sql, params)
    }

    fn query(
        &mut self,
        sql: &str,
        params: &[crate::sql::Value],
    ) -> Result<Vec<crate::sql::Row>, Error> {
        self.db.query(sql, params)
    }

    fn batch(&mut self, sql: &str) -> Result<(), Error> {
        self.db.batch(sql)
    }

    fn batches(&mut self, statements: &[&str]) -> Result<(), Error> {
        self.db.batches(statements)
    }

    fn begin_write(&mut self) -> Result<(), Error> {
        self.db.begin_write()
    }

    fn audit_chain(&self) -> Option<&AuditChain> {
        Some(self.chain)
    }
}

/// How many read connections a registry keeps.
const READERS: usize = 4;

impl Registry {
    /// Opens the SQLite registry at `path`, creating it on first use and migrating it to the
    /// current schema.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, Error> {
        let path = path.as_ref().to_path_buf();
        // The write connection creates and migrates the file; the readers open it as it is.
        let writer_path = path.clone();
        let (wake, woken) = checkpoint::pair();
        let audit = Arc::new(AuditChain::default());
        let chain = Arc::clone(&audit);
        let writer = Writer::start_with(
            move || {
                let mut conn = db::open(&writer_path, KIND)?;
                wake.install(&mut conn)?;
                Ok(conn)
            },
            move |committed| chain.after_commit(committed),
        )?;
        let checkpointer = Checkpointer::start(&path, woken)?;
        let pool = (0..READERS)
            .map(|_| db::open_reader(&path).map(Mutex::new))
            .collect::<Result<_, _>>()?;
        Ok(Self {
            writer,
            _checkpointer: Some(checkpointer),
            readers: Readers::Sqlite {
                pool,
                next: AtomicUsize::new(0),
            },
            database: Database::Sqlite(path),
            audit,
            code_key: std::sync::RwLock::default(),
            read_round_trips: Arc::default(),
        })
    }

    /// Opens the registry in `database`, creating its schema on first use and migrating it to
    /// the current version. A database whose schema is newer than this version knows is refused.
    ///
    /// A PostgreSQL connection string that asks for TLS (`sslmode=require` or `verify-full`,
    /// the default for a host off this machine) needs a connector: see `open_database_with`
    /// (feature `postgres`).
    pub fn open_database(database: &Database) -> Result<Self, Error> {
        match database {
            Database::Sqlite(path) => Self::open(path),
            #[cfg(feature = "postgres")]
            Database::Postgres(_) => Self::open_database_with(database, None),
            #[cfg(not(feature = "postgres"))]
            Database::Postgres(_) => Err(Error::Database {
                message: format!(
                    "{database}: this build of websrm-store has no PostgreSQL support (feature `postgres`)"
                ),
            }),
        }
    }

    /// [`open_database`](Self::open_database), with the TLS connector for a PostgreSQL
    /// connection string that asks for TLS (the authority builds one over rustls from
    /// [`pg_tls::options`](crate::pg_tls::options)).
    #[cfg(feature = "postgres")]
    pub fn open_database_with(
        database: &Database,
        tls: Option<Arc<dyn crate::pg_tls::Connector>>,
    ) -> Result<Self, Error> {
        match database {
            Database::Sqlite(path) => Self::open(path),
            Database::Postgres(url) => {
                let options = crate::pg_tls::options(url)?;
                if options.mode != crate::pg_tls::SslMode::Disable && tls.is_none() {
                    return Err(Error::Database {
                        message: format!(
                            "{database}: the connection string asks for TLS ({:?}; verify-full is the \
                             default for a host off this machine) and no TLS connector was given",
                            options.mode
                        ),
                    });
                }
                let tls = tls.filter(|_| options.mode != crate::pg_tls::SslMode::Disable);
                let config = crate::pg::config(url, tls)?;
                let name = database.to_string();
                let writer_config = config.clone();
                let audit = Arc::new(AuditChain::default());
                let chain = Arc::clone(&audit);
                let writer = Writer::start_with(
                    move || {
                        let mut conn = crate::pg::Pg::connect(&writer_config)?;
                        crate::pg::migrate(&mut conn, &name, KIND.name, schema::PG_MIGRATIONS)?;
                        Ok(conn)
                    },
                    move |committed| chain.after_commit(committed),
                )?;
                Ok(Self {
                    writer,
                    _checkpointer: None,
                    readers: Readers::Postgres(crate::pg::Readers::start(&config, READERS)?),
                    database: database.clone(),
                    audit,
                    code_key: std::sync::RwLock::default(),
                    read_round_trips: Arc::default(),
                })
            }
        }
    }

    /// Where the registry lives.
    pub fn database(&self) -> &Database {
        &self.database
    }

    /// The file, for an SQLite registry.
    pub fn path(&self) -> Option<&Path> {
        match &self.database {
            Database::Sqlite(path) => Some(path),
            Database::Postgres(_) => None,
        }
    }

    /// Runs an empty write transaction through the writer: whether the registry takes writes
    /// now (its write lock granted, its commit done).
    pub fn check_writable(&self) -> Result<(), Error> {
        self.write(|tx| {
            tx.count("SELECT 1", &[])?;
            Ok(())
        })
    }

    /// Checks a registry file without opening it for use (nothing is written): it is a
    /// registry (its `application_id`), whole (`PRAGMA integrity_check`), and of a schema this
    /// websrm knows; its schema version.
    pub fn check_file(path: &Path) -> Result<u32, Error> {
        let check = || -> Result<Result<u32, String>, rusqlite::Error> {
            let conn =
                Connection::open_with_flags(path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)?;
            let app: i32 = conn.query_row("PRAGMA application_id", [], |r| r.get(0))?;
            if app != KIND.application_id {
                return Ok(Err("it is not a websrm registry".to_owned()));
            }
            let integrity: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
            if integrity != "ok" {
                return Ok(Err(format!("it is damaged: {integrity}")));
            }
            let version: u32 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
            if version as usize > MIGRATIONS.len() {
                return Ok(Err(format!(
                    "its schema is version {version}; this version of websrm knows up to {}",
                    MIGRATIONS.len()
                )));
            }
            Ok(Ok(version))
        };
        match check() {
            Ok(Ok(version)) => Ok(version),
            Ok(Err(why)) => Err(Error::Database {
                message: format!("{}: {why}", path.display()),
            }),
            Err(e) => Err(Error::Database {
                message: format!("{}: {e}", path.display()),
            }),
        }
    }

    /// What the registry's writer has done since it opened: batches committed (or not), writes,
    /// the time spent from each batch's start to its commit, and the calls made on the write
    /// and read connections (round trips on PostgreSQL).
    pub fn writer_stats(&self) -> WriterStats {
        use std::sync::atomic::Ordering::Relaxed;
        let s = self.writer.stats();
        WriterStats {
            batches: s.batches.load(Relaxed),
            writes: s.writes.load(Relaxed),
            failed_batches: s.failed_batches.load(Relaxed),
            busy: std::time::Duration::from_nanos(s.busy_nanos.load(Relaxed)),
            round_trips: s.round_trips.load(Relaxed),
            read_round_trips: self.read_round_trips.load(Relaxed),
        }
    }

    /// The size of the registry's files (SQLite: the database and its write-ahead log), or
    /// `None` on PostgreSQL.
    pub fn size_bytes(&self) -> Option<u64> {
        let Database::Sqlite(path) = &self.database else {
            return None;
        };
        let mut wal = path.as_os_str().to_owned();
        wal.push("-wal");
        let size = |p: &Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
        Some(size(path) + size(Path::new(&wal)))
    }

    /// How many certificates are in each stored status (`active`, `replaced`, `deleted`,
    /// `revoked`), and how many active ones are past `now`.
    pub fn certificate_counts(&self, now: OffsetDateTime) -> Result<Vec<(String, u64)>, Error> {
        let at = db::to_unix(now);
        self.read(move |db| {
            let mut counts = Vec::new();
            for row in db.query(
                "SELECT CASE WHEN status = 'active' AND not_after < ?1 THEN 'expired' ELSE status END, count(*) \
                 FROM certificates GROUP BY 1 ORDER BY 1",
                crate::sql::vals![at],
            )? {
                counts.push((row.text(0)?, u64::try_from(row.int(1)?).unwrap_or_default()));
            }
            Ok(counts)
        })
    }

    /// Copies the registry, as it is at one instant, into a new SQLite file `dest` (which must
    /// not exist), with SQLite's online backup API: a consistent snapshot while other processes
    /// go on writing, checked with `PRAGMA integrity_check`; the number of audit entries it
    /// holds. A PostgreSQL registry is backed up with `pg_dump` instead
    /// ([`Error::NotSqlite`]).
    pub fn snapshot_to(&self, dest: &Path) -> Result<u64, Error> {
        let Database::Sqlite(source) = &self.database else {
            return Err(Error::NotSqlite {
                action: "a snapshot (use pg_dump for PostgreSQL)",
            });
        };
        if dest.exists() {
            return Err(Error::Io {
                action: "creating",
                path: dest.display().to_string(),
                message: "it already exists".to_owned(),
            });
        }
        crate::private::sqlite_file(dest)?;
        let copy = || -> Result<u64, rusqlite::Error> {
            let from = Connection::open_with_flags(
                source,
                rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY
                    | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )?;
            from.busy_timeout(std::time::Duration::from_secs(30))?;
            let mut to = Connection::open(dest)?;
            {
                // Every page in one step: one read transaction, so one instant of the registry
                // however busy its writers are (smaller steps restart whenever one commits).
                let backup = rusqlite::backup::Backup::new(&from, &mut to)?;
                let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
                loop {
                    if std::time::Instant::now() > deadline {
                        return Err(rusqlite::Error::SqliteFailure(
                            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_BUSY),
                            Some("the registry stayed busy for 60 s".to_owned()),
                        ));
                    }
                    match backup.step(-1)? {
                        rusqlite::backup::StepResult::Done => break,
                        rusqlite::backup::StepResult::More
                        | rusqlite::backup::StepResult::Busy
                        | rusqlite::backup::StepResult::Locked => {
                            std::thread::sleep(std::time::Duration::from_millis(20));
                        }
                        _ => std::thread::sleep(std::time::Duration::from_millis(20)),
                    }
                }
            }
            let check: String = to.query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
            if check != "ok" {
                return Err(rusqlite::Error::SqliteFailure(
                    rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_CORRUPT),
                    Some(check),
                ));
            }
            // A standalone file: no WAL beside it.
            to.query_row("PRAGMA journal_mode = DELETE", [], |_| Ok(()))?;
            to.query_row("SELECT count(*) FROM audit_log", [], |r| r.get::<_, i64>(0))
                .map(|n| u64::try_from(n).unwrap_or_default())
        };
        match copy() {
            Ok(entries) => {
                std::fs::File::open(dest)
                    .and_then(|f| f.sync_all())
                    .map_err(|e| Error::Io {
                        action: "flushing",
                        path: dest.display().to_string(),
                        message: e.to_string(),
                    })?;
                Ok(entries)
            }
            Err(e) => {
                for suffix in ["", "-wal", "-shm", "-journal"] {
                    let mut name = dest.as_os_str().to_owned();
                    name.push(suffix);
                    let _ = std::fs::remove_file(PathBuf::from(name));
                }
                Err(Error::Database {
                    message: format!("snapshot of the registry: {e}"),
                })
            }
        }
    }

    /// Runs a read on a read connection: on SQLite the first free one of the pool (or the next in
    /// turn), on PostgreSQL the first free reader thread.
    /// A read may run twice on PostgreSQL (again on a new connection when the first was lost),
    /// so it is `Fn`; reads change nothing.
    fn read<T: Send + 'static>(
        &self,
        f: impl Fn(&mut dyn Db) -> Result<T, Error> + Send + 'static,
    ) -> Result<T, Error> {
        let calls = Arc::clone(&self.read_round_trips);
        match &self.readers {
            Readers::Sqlite { pool, next } => {
                let conn = sqlite_reader(pool, next);
                f(&mut crate::sql::Counted {
                    db: &mut Lite(&conn),
                    calls: &calls,
                })
            }
            #[cfg(feature = "postgres")]
            Readers::Postgres(readers) => {
                readers.read(move |db| f(&mut crate::sql::Counted { db, calls: &calls }))
            }
        }
    }

    /// Runs a write in the writer's next batch (one transaction, one commit for every write
    /// queued meanwhile) and returns once that batch is committed.
    fn write<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut dyn Db) -> Result<T, Error> + Send + 'static,
    ) -> Result<T, Error> {
        let chain = Arc::clone(&self.audit);
        self.writer.write(move |db| {
            // A write undone (its savepoint rolled back) takes its audit entries with it.
            let mark = chain.mark();
            let result = f(&mut Audited { db, chain: &chain });
            if result.is_err() {
                chain.undo_to(mark);
            }
            result
        })
    }

    /// The schema version of the database.
    pub fn schema_version(&self) -> Result<u32, Error> {
        let sql = match self.database {
            Database::Sqlite(_) => "PRAGMA user_version",
            Database::Postgres(_) => "SELECT version FROM websrm_schema WHERE kind = 'registry'",
        };
        let version = self.read(move |db| db.count(sql, &[]))?;
        u32::try_from(version).map_err(|_| Error::Database {
            message: format!("schema version {version}"),
        })
    }

    /// The engine's own consistency check: SQLite's `integrity_check`; on PostgreSQL, that no
    /// index of the registry was left invalid (by an interrupted `CREATE INDEX CONCURRENTLY`,
    /// say), the engine checking its own pages with data checksums.
    pub fn integrity_check(&self) -> Result<(), Error> {
        let problem = match self.database {
            Database::Sqlite(_) => self.read(|db| {
                let result = db
                    .row("PRAGMA integrity_check", &[])?
                    .map(|r| r.text(0))
                    .transpose()?
                    .unwrap_or_default();
                Ok((result != "ok").then_some(result))
            })?,
            Database::Postgres(_) => self.read(|db| {
                let invalid = db.count(
                    "SELECT count(*) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid \
                     JOIN pg_namespace n ON n.oid = c.relnamespace \
                     WHERE n.nspname = current_schema() AND NOT (i.indisvalid AND i.indisready)",
                    &[],
                )?;
                Ok((invalid != 0).then(|| format!("{invalid} invalid index(es)")))
            })?,
        };
        match problem {
            None => Ok(()),
            Some(result) => Err(Error::Database {
                message: format!("integrity check: {result}"),
            }),
        }
    }
}

fn sqlite_reader<'p>(
    pool: &'p [Mutex<Connection>],
    next: &AtomicUsize,
) -> MutexGuard<'p, Connection> {
    // Reads never leave anything half done, so a poisoned lock is safe to take over.
    for reader in pool {
        if let Ok(guard) = reader.try_lock() {
            return guard;
        }
    }
    let next = next.fetch_add(1, Ordering::Relaxed) % pool.len();
    pool[next]
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod database_tests {
    use super::*;

    /// Every form of a PostgreSQL connection string is read as one, and named without its
    /// password, TLS words included.
    #[test]
    fn connection_strings_are_postgresql_and_named_without_their_password() {
        for text in [
            "postgres://u:s3cret@db.internal:5432/x",
            "POSTGRESQL://u:s3cret@db.internal:5432/x",
            "host=db.internal password=s3cret dbname=x user=u",
            "host = db.internal password = s3cret dbname = x user = u",
            "postgres://u@db.internal/x?sslmode=verify-full&sslrootcert=/r.pem&password=s3cret",
        ] {
            let database = Database::parse(text);
            assert!(matches!(database, Database::Postgres(_)), "{text}");
            let shown = format!("{database} {database:?}");
            assert!(!shown.contains("s3cret"), "{text}: {shown}");
            #[cfg(feature = "postgres")]
            assert!(shown.contains("db.internal"), "{text}: {shown}");
        }
        assert!(matches!(
            Database::parse("./authority/authority.db"),
            Database::Sqlite(_)
        ));
    }
}

#[cfg(test)]
mod batch_tests {
    use super::*;
    use crate::audit::NewAudit;

    /// Many writes appending audit entries at once, some of them undone after appending theirs:
    /// each batch links its entries to the head it keeps, an undone write's entry leaves no gap
    /// or fork, and the chain verifies whole, keyed and checkpointed.
    #[test]
    fn writes_batched_together_keep_one_audit_chain_when_some_are_undone() {
        let dir = tempfile::tempdir().unwrap();
        let registry = Arc::new(Registry::open(dir.path().join("r.db")).unwrap());
        let at = OffsetDateTime::UNIX_EPOCH + time::Duration::days(20_000);
        registry
            .key_audit_chain([5; 32], Some(dir.path().join("audit.checkpoint")), at)
            .unwrap();
        #[allow(clippy::needless_collect)] // Every thread starts before the first is joined.
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let registry = Arc::clone(&registry);
                std::thread::spawn(move || {
                    let mut kept = 0;
                    for i in 0..40 {
                        let entry = NewAudit::new(at, "t", "lookup", "x", format!("{t} {i}"));
                        let undone = i % 5 == 2;
                        let result = registry.write(move |db| {
                            crate::audit::append(db, &entry)?;
                            if undone {
                                return Err(Error::Database {
                                    message: "undone after its entry".into(),
                                });
                            }
                            Ok(())
                        });
                        assert_eq!(result.is_err(), undone, "{result:?}");
                        kept += usize::from(!undone);
                    }
                    kept
                })
            })
            .collect();
        let kept: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
        let stats = registry.writer_stats();
        assert!(
            stats.batches < stats.writes,
            "some writes shared a batch: {stats:?}"
        );
        // The marking entry, then every kept one.
        assert_eq!(registry.verify_audit_chain().unwrap(), kept as u64 + 1);
        drop(registry);
        let reopened = Registry::open(dir.path().join("r.db")).unwrap();
        reopened
            .key_audit_chain([5; 32], Some(dir.path().join("audit.checkpoint")), at)
            .unwrap();
        assert_eq!(reopened.verify_audit_chain().unwrap(), kept as u64 + 1);
    }
}
