//! Opening a database: pragmas, the kind of store, and the numbered migrations.

use std::path::Path;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior};
use time::OffsetDateTime;

use websrm_domain::Source;

use crate::Error;

/// What kind of store a file is, recorded as SQLite's `application_id`.
#[derive(Debug, Clone, Copy)]
pub struct Kind {
    /// What the store is called in errors (`websrm device store`).
    pub name: &'static str,
    /// SQLite's `application_id` that marks a file as this kind of store.
    pub application_id: i32,
    /// The schema's migrations, in order: the file's `user_version` counts those applied.
    pub migrations: &'static [&'static str],
}

/// Opens (creating if needed) a database of `kind` at `path`, in WAL mode with full
/// synchronisation and foreign keys, and brings its schema to the latest version.
pub fn open(path: &Path, kind: Kind) -> Result<Connection, Error> {
    crate::private::sqlite_file(path)?;
    let conn = Connection::open(path)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(Error::Database {
            cause: Source::text(format!("could not enable WAL mode (got {mode})")),
        });
    }
    // Every commit reaches the disk before it returns: a record the caller was told is written
    // survives a power cut.
    conn.execute_batch("PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;")?;
    // A savepoint keeps the pages it changes in a sub-journal until it ends; in memory rather
    // than in a temporary file, since a batch of writes sets one savepoint per write.
    conn.execute_batch("PRAGMA temp_store = MEMORY;")?;
    stable_plans(&conn)?;
    migrate(&conn, path, kind)?;
    Ok(conn)
}

/// SQLite's query planner stability guarantee: a statement's plan never depends on the values
/// bound to it. Without it, a cached statement whose `ORDER BY` the planner compared with a bound
/// value is prepared again each time another value is bound, that is on every request.
fn stable_plans(conn: &Connection) -> Result<(), Error> {
    conn.set_db_config(
        rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
        true,
    )?;
    Ok(())
}

/// Opens a read connection to a database that [`open`] already created and migrated: WAL
/// lets it read every committed write while the writer writes; it never writes itself.
pub fn open_reader(path: &Path) -> Result<Connection, Error> {
    let conn = Connection::open_with_flags(
        path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    conn.execute_batch("PRAGMA foreign_keys = ON;")?;
    stable_plans(&conn)?;
    Ok(conn)
}

fn migrate(conn: &Connection, path: &Path, kind: Kind) -> Result<(), Error> {
    let tx = rusqlite::Transaction::new_unchecked(conn, TransactionBehavior::Immediate)?;
    let app: i32 = tx.query_row("PRAGMA application_id", [], |r| r.get(0))?;
    let version: u32 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if app == 0 && version == 0 {
        let tables: i64 = tx.query_row("SELECT count(*) FROM sqlite_schema", [], |r| r.get(0))?;
        if tables != 0 {
            return Err(Error::WrongDatabase {
                path: path.display().to_string(),
                expected: kind.name,
            });
        }
        tx.execute_batch(&format!("PRAGMA application_id = {}", kind.application_id))?;
    } else if app != kind.application_id {
        return Err(Error::WrongDatabase {
            path: path.display().to_string(),
            expected: kind.name,
        });
    }
    let supported = kind.migrations.len() as u32;
    if version > supported {
        return Err(Error::SchemaTooNew {
            found: version,
            supported,
        });
    }
    for (index, sql) in kind.migrations.iter().enumerate().skip(version as usize) {
        tx.execute_batch(sql)?;
        tx.execute_batch(&format!("PRAGMA user_version = {}", index + 1))?;
    }
    tx.commit()?;
    Ok(())
}

/// The schema version recorded in the file.
pub fn schema_version(conn: &Connection) -> Result<u32, Error> {
    Ok(conn.query_row("PRAGMA user_version", [], |r| r.get(0))?)
}

/// `PRAGMA integrity_check`: `Ok` when SQLite reports `ok`.
pub fn integrity_check(conn: &Connection) -> Result<(), Error> {
    let result: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
    if result == "ok" {
        Ok(())
    } else {
        Err(Error::Database {
            cause: Source::text(format!("integrity check: {result}")),
        })
    }
}

/// An immediate (write-locking) transaction: check-then-write sequences in it cannot interleave
/// with another writer.
pub fn write_tx(conn: &mut Connection) -> Result<rusqlite::Transaction<'_>, Error> {
    Ok(conn.transaction_with_behavior(TransactionBehavior::Immediate)?)
}

/// A time as the Unix seconds stored in a column.
pub fn to_unix(t: OffsetDateTime) -> i64 {
    t.unix_timestamp()
}

/// Unix seconds read from `table.column`, or [`Error::Corrupt`].
pub fn from_unix(
    table: &'static str,
    column: &'static str,
    secs: i64,
) -> Result<OffsetDateTime, Error> {
    OffsetDateTime::from_unix_timestamp(secs).map_err(|_| Error::Corrupt {
        table,
        column,
        value: secs.to_string(),
    })
}

/// Parses a stored text value into a domain type.
pub fn parse<T: std::str::FromStr>(
    table: &'static str,
    column: &'static str,
    text: &str,
) -> Result<T, Error> {
    text.parse().map_err(|_| Error::Corrupt {
        table,
        column,
        value: text.to_owned(),
    })
}

/// Runs a query expected to return at most one row.
pub fn optional<T>(result: rusqlite::Result<T>) -> Result<Option<T>, Error> {
    Ok(result.optional()?)
}

/// Queries and statements through SQLite's statement cache: the registry runs the same few
/// statements on every request, and preparing them each time costs more than running them.
pub trait Cached {
    /// `query_row` with a cached statement.
    fn query_row_cached<T, P, F>(&self, sql: &str, params: P, f: F) -> rusqlite::Result<T>
    where
        P: rusqlite::Params,
        F: FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>;

    /// `execute` with a cached statement.
    fn execute_cached<P: rusqlite::Params>(&self, sql: &str, params: P) -> rusqlite::Result<usize>;
}

impl Cached for Connection {
    fn query_row_cached<T, P, F>(&self, sql: &str, params: P, f: F) -> rusqlite::Result<T>
    where
        P: rusqlite::Params,
        F: FnOnce(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
    {
        self.prepare_cached(sql)?.query_row(params, f)
    }

    fn execute_cached<P: rusqlite::Params>(&self, sql: &str, params: P) -> rusqlite::Result<usize> {
        self.prepare_cached(sql)?.execute(params)
    }
}

#[cfg(test)]
mod tests {
    use rusqlite::StatementStatus;

    use super::*;

    /// A cached statement whose plan compares a bound value with its `ORDER BY` stays prepared
    /// while other values are bound and another connection commits: the registry's look-ups do
    /// not pay for a new plan on every request.
    #[test]
    fn cached_statements_are_not_prepared_again_for_new_values() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let kind = Kind {
            name: "test",
            application_id: 1,
            migrations: &[
                "CREATE TABLE c (id INTEGER PRIMARY KEY, key_id TEXT, operator INTEGER); \
                 CREATE INDEX c_key ON c(key_id);",
            ],
        };
        let writer = open(&path, kind).unwrap();
        let reader = open_reader(&path).unwrap();
        let sql = "SELECT id FROM c WHERE key_id = ?1 AND +operator = ?2 ORDER BY id DESC LIMIT 1";
        for i in 0..50 {
            writer
                .execute_cached(
                    "INSERT INTO c (key_id, operator) VALUES (?1, 1)",
                    [format!("k{i}")],
                )
                .unwrap();
            let mut stmt = reader.prepare_cached(sql).unwrap();
            let id: i64 = stmt
                .query_row(rusqlite::params![format!("k{i}"), 1], |r| r.get(0))
                .unwrap();
            assert_eq!(id, i + 1);
            assert_eq!(stmt.get_status(StatementStatus::RePrepare), 0, "at {i}");
        }
    }
}
