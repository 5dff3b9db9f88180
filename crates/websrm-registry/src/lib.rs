//! The registry of a WEB-SRM-compatible authority: operators and their authorization codes (as
//! keyed digests) and lockout counters, SRS products, issued device identifiers, certificates with
//! every transition, the transactions, users and documents received, the certification runs, and
//! an append-only audit log chained by HMAC under the authority's key.
//!
//! One API over two engines: SQLite (one file, the default) and PostgreSQL (feature `postgres`,
//! shared by several authority processes, with TLS through [`pg_tls`]). Every statement is
//! written once, in the module of what it is about (`operators.rs`, `sessions.rs`,
//! `settings.rs`, `certificates.rs`…), and runs on both; `schema.rs` holds each engine's
//! migrations.
//!
//! An SQLite registry is opened by `websrm-sqlite`, the layer it shares with the device store:
//! WAL mode, `synchronous = FULL`, foreign keys on, numbered embedded migrations recorded as the
//! file's `user_version`, a file only its owner reads. On PostgreSQL the schema carries the same
//! numbered migrations, and every write transaction holds one advisory lock so that the rules
//! hold across processes. Writes are committed in groups by one writer thread ([`Registry`]).
//! No rusqlite or postgres type appears in this API. Schemas: `docs/DATA_MODEL.md`.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use rusqlite::Connection;
use time::OffsetDateTime;
use websrm_domain::{DeviceId, Environment, Thumbprint};

use websrm_sqlite as db;

use websrm_domain::Source;

use crate::audit::AuditChain;
use crate::checkpoint::Checkpointer;
use crate::sql::{Db, Lite};
use crate::writer::Writer;

mod audit;
mod certificates;
mod checkpoint;
mod database;
mod error;
mod essai;
mod operators;
#[cfg(feature = "postgres")]
mod pg;
#[cfg(feature = "postgres")]
pub mod pg_tls;
mod products;
mod records;
mod schema;
mod services;
mod sessions;
mod settings;
mod sql;
mod transactions;
mod writer;

pub use audit::{AuditEntry, NewAudit};
pub use database::Database;
pub use error::Error;
pub use essai::{EssaiExchange, EssaiMove, EssaiSession, ProductKey};
pub use records::{
    AttemptState, AuthorizationCodeRecord, CertificateEvent, CertificateRecord, Credential,
    DeviceRecord, NewCertificate, NewOperator, Operator, OperatorId, Partner, Product, Reservation,
    WriterStats,
};
pub use schema::MIGRATIONS;
pub use services::{ReceivedDocument, RecordedDocument, UserChange};
pub use sessions::AgentSession;
pub use transactions::{ReceivedTransaction, RecordedTransaction};
pub use writer::Pending;

const KIND: db::Kind = db::Kind {
    name: "websrm authority registry",
    application_id: 0x5753_5247,
    migrations: MIGRATIONS,
};

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
    Postgres(pg::Readers),
}

/// The writer's connection during a write, with the audit chain that `audit::append` links to.
struct Audited<'a> {
    db: &'a mut dyn Db,
    chain: &'a AuditChain,
}

impl Db for Audited<'_> {
    fn execute(&mut self, sql: &str, params: &[sql::Value]) -> Result<u64, Error> {
        self.db.execute(sql, params)
    }

    fn query(&mut self, sql: &str, params: &[sql::Value]) -> Result<Vec<sql::Row>, Error> {
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
                cause: Source::text(format!(
                    "{database}: this build of websrm-registry has no PostgreSQL support (feature `postgres`)"
                )),
            }),
        }
    }

    /// [`open_database`](Self::open_database), with the TLS connector for a PostgreSQL
    /// connection string that asks for TLS (the authority builds one over rustls from
    /// [`pg_tls::options`]).
    #[cfg(feature = "postgres")]
    pub fn open_database_with(
        database: &Database,
        tls: Option<Arc<dyn pg_tls::Connector>>,
    ) -> Result<Self, Error> {
        match database {
            Database::Sqlite(path) => Self::open(path),
            Database::Postgres(url) => {
                let options = pg_tls::options(url)?;
                if options.mode != pg_tls::SslMode::Disable && tls.is_none() {
                    return Err(Error::Database {
                        cause: Source::text(format!(
                            "{database}: the connection string asks for TLS ({:?}; verify-full is the \
                             default for a host off this machine) and no TLS connector was given",
                            options.mode
                        )),
                    });
                }
                let tls = tls.filter(|_| options.mode != pg_tls::SslMode::Disable);
                let config = pg::config(url, tls)?;
                let name = database.to_string();
                let writer_config = config.clone();
                let audit = Arc::new(AuditChain::default());
                let chain = Arc::clone(&audit);
                let writer = Writer::start_with(
                    move || {
                        let mut conn = pg::Pg::connect(&writer_config)?;
                        pg::migrate(&mut conn, &name, KIND.name, schema::PG_MIGRATIONS)?;
                        Ok(conn)
                    },
                    move |committed| chain.after_commit(committed),
                )?;
                Ok(Self {
                    writer,
                    _checkpointer: None,
                    readers: Readers::Postgres(pg::Readers::start(&config, READERS)?),
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
                cause: Source::text(format!("{}: {why}", path.display())),
            }),
            Err(e) => Err(Error::Database {
                cause: Source::text(format!("{}: {e}", path.display())),
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
                cause: Source::text("it already exists"),
            });
        }
        websrm_sqlite::sqlite_file(dest)?;
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
                        cause: Source::new(e),
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
                    cause: Source::text(format!("snapshot of the registry: {e}")),
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
                f(&mut sql::Counted {
                    db: &mut Lite(&conn),
                    calls: &calls,
                })
            }
            #[cfg(feature = "postgres")]
            Readers::Postgres(readers) => {
                readers.read(move |db| f(&mut sql::Counted { db, calls: &calls }))
            }
        }
    }

    /// Runs a write in the writer's next batch (one transaction, one commit for every write
    /// queued meanwhile) and returns once that batch is committed.
    fn write<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut dyn Db) -> Result<T, Error> + Send + 'static,
    ) -> Result<T, Error> {
        self.write_later(f).wait()
    }

    /// Queues a write for the writer's next batch; its result is there once that batch is
    /// committed.
    fn write_later<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut dyn Db) -> Result<T, Error> + Send + 'static,
    ) -> Pending<T> {
        let chain = Arc::clone(&self.audit);
        self.writer.write_later(move |db| {
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
            cause: Source::text(format!("schema version {version}")),
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
                cause: Source::text(format!("integrity check: {result}")),
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
                            audit::append(db, &entry)?;
                            if undone {
                                return Err(Error::Database {
                                    cause: Source::text("undone after its entry"),
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
