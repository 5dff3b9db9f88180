//! The registry's SQL, written once for both backends: values, rows, and a connection that runs
//! statements with `?N` parameters. SQLite runs them as written; the PostgreSQL backend
//! (`pg.rs`) rewrites the placeholders to `$N`.
//!
//! The statements keep to what both engines accept: `ON CONFLICT DO NOTHING` rather than
//! `INSERT OR IGNORE`, `RETURNING` rather than `last_insert_rowid()`, `IS [NOT] DISTINCT FROM`
//! rather than SQLite's `IS`. A `+` before a column (SQLite's "do not use an index on this
//! column") is dropped for PostgreSQL, whose planner needs no such hint.

use rusqlite::Connection;
use rusqlite::types::{ToSqlOutput, ValueRef};

use websrm_domain::Source;

use crate::Error;

/// A value bound to a statement or read from a row. Every column of the registry is one of these:
/// times are Unix seconds, booleans 0 or 1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Value {
    Null,
    Int(i64),
    Text(String),
    Blob(Vec<u8>),
}

impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Self::Int(v)
    }
}

impl From<u32> for Value {
    fn from(v: u32) -> Self {
        Self::Int(i64::from(v))
    }
}

impl From<u8> for Value {
    fn from(v: u8) -> Self {
        Self::Int(i64::from(v))
    }
}

impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Self::Int(i64::from(v))
    }
}

impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Self::Text(v.to_owned())
    }
}

impl From<String> for Value {
    fn from(v: String) -> Self {
        Self::Text(v)
    }
}

impl From<&String> for Value {
    fn from(v: &String) -> Self {
        Self::Text(v.clone())
    }
}

impl From<&[u8]> for Value {
    fn from(v: &[u8]) -> Self {
        Self::Blob(v.to_vec())
    }
}

impl From<&Vec<u8>> for Value {
    fn from(v: &Vec<u8>) -> Self {
        Self::Blob(v.clone())
    }
}

impl<T: Into<Self>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map_or(Self::Null, Into::into)
    }
}

/// The parameters of a statement, in order (`?1`, `?2`, ...).
macro_rules! vals {
    ($($v:expr),* $(,)?) => {
        &[$($crate::sql::Value::from($v)),*]
    };
}
pub(crate) use vals;

/// A row read back: its columns in the order of the `SELECT`.
#[derive(Debug)]
pub(crate) struct Row(pub(crate) Vec<Value>);

impl Row {
    fn get(&self, i: usize) -> Result<&Value, Error> {
        self.0.get(i).ok_or_else(|| Error::Database {
            cause: Source::text(format!("the row has no column {i}")),
        })
    }

    fn mismatch(&self, i: usize, expected: &str) -> Error {
        Error::Database {
            cause: Source::text(format!(
                "column {i}: expected {expected}, found {:?}",
                self.0.get(i)
            )),
        }
    }

    /// An integer column.
    pub(crate) fn int(&self, i: usize) -> Result<i64, Error> {
        match self.get(i)? {
            Value::Int(v) => Ok(*v),
            _ => Err(self.mismatch(i, "an integer")),
        }
    }

    /// An integer column that may be NULL.
    pub(crate) fn opt_int(&self, i: usize) -> Result<Option<i64>, Error> {
        match self.get(i)? {
            Value::Null => Ok(None),
            Value::Int(v) => Ok(Some(*v)),
            _ => Err(self.mismatch(i, "an integer or NULL")),
        }
    }

    /// A text column.
    pub(crate) fn text(&self, i: usize) -> Result<String, Error> {
        match self.get(i)? {
            Value::Text(v) => Ok(v.clone()),
            _ => Err(self.mismatch(i, "text")),
        }
    }

    /// A text column that may be NULL.
    pub(crate) fn opt_text(&self, i: usize) -> Result<Option<String>, Error> {
        match self.get(i)? {
            Value::Null => Ok(None),
            Value::Text(v) => Ok(Some(v.clone())),
            _ => Err(self.mismatch(i, "text or NULL")),
        }
    }

    /// A binary column.
    pub(crate) fn blob(&self, i: usize) -> Result<Vec<u8>, Error> {
        match self.get(i)? {
            Value::Blob(v) => Ok(v.clone()),
            _ => Err(self.mismatch(i, "bytes")),
        }
    }
}

/// A connection to the registry's database, whichever the engine.
pub(crate) trait Db {
    /// Runs a statement; returns how many rows it changed.
    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64, Error>;

    /// Runs a query; returns every row.
    fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>, Error>;

    /// Runs statements with no parameters (transaction control).
    fn batch(&mut self, sql: &str) -> Result<(), Error>;

    /// Runs several such statements in turn, stopping at the first that fails: on PostgreSQL
    /// in one round trip.
    fn batches(&mut self, statements: &[&str]) -> Result<(), Error> {
        statements.iter().try_for_each(|sql| self.batch(sql))
    }

    /// Begins the transaction of a batch of writes. Once it returns, no other writer (thread or
    /// process) writes until this transaction ends: check-then-write sequences in it cannot
    /// interleave with another's.
    fn begin_write(&mut self) -> Result<(), Error>;

    /// The registry's audit chain (its key and checkpoint), on the writer's connection during a
    /// write; `None` elsewhere.
    fn audit_chain(&self) -> Option<&crate::audit::AuditChain> {
        None
    }

    /// The first row of a query, if any.
    fn row(&mut self, sql: &str, params: &[Value]) -> Result<Option<Row>, Error> {
        Ok(self.query(sql, params)?.into_iter().next())
    }

    /// The integer of a query that returns exactly one (`count(*)`).
    fn count(&mut self, sql: &str, params: &[Value]) -> Result<i64, Error> {
        self.row(sql, params)?
            .ok_or_else(|| Error::Database {
                cause: Source::text("a count returned no row"),
            })?
            .int(0)
    }
}

/// A connection that counts the calls made on it: on PostgreSQL each is one round trip to the
/// server (reported by [`crate::Registry::writer_stats`]).
pub(crate) struct Counted<'a> {
    pub(crate) db: &'a mut dyn Db,
    pub(crate) calls: &'a std::sync::atomic::AtomicU64,
}

impl Counted<'_> {
    fn tally(&self) {
        self.calls
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
}

impl Db for Counted<'_> {
    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64, Error> {
        self.tally();
        self.db.execute(sql, params)
    }

    fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>, Error> {
        self.tally();
        self.db.query(sql, params)
    }

    fn batch(&mut self, sql: &str) -> Result<(), Error> {
        self.tally();
        self.db.batch(sql)
    }

    fn batches(&mut self, statements: &[&str]) -> Result<(), Error> {
        self.tally();
        self.db.batches(statements)
    }

    fn begin_write(&mut self) -> Result<(), Error> {
        self.tally();
        self.db.begin_write()
    }

    fn audit_chain(&self) -> Option<&crate::audit::AuditChain> {
        self.db.audit_chain()
    }
}

/// An SQLite connection, through its statement cache: the registry runs the same few statements
/// on every request, and preparing them each time costs more than running them.
pub(crate) struct Lite<'c>(pub(crate) &'c Connection);

impl rusqlite::ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self {
            Self::Null => ToSqlOutput::Borrowed(ValueRef::Null),
            Self::Int(v) => ToSqlOutput::Borrowed(ValueRef::Integer(*v)),
            Self::Text(v) => ToSqlOutput::Borrowed(ValueRef::Text(v.as_bytes())),
            Self::Blob(v) => ToSqlOutput::Borrowed(ValueRef::Blob(v)),
        })
    }
}

impl Db for Lite<'_> {
    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64, Error> {
        let n = self
            .0
            .prepare_cached(sql)?
            .execute(rusqlite::params_from_iter(params))?;
        Ok(n as u64)
    }

    fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>, Error> {
        let mut stmt = self.0.prepare_cached(sql)?;
        let columns = stmt.column_count();
        let mut rows = stmt.query(rusqlite::params_from_iter(params))?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            let mut values = Vec::with_capacity(columns);
            for i in 0..columns {
                values.push(match r.get_ref(i)? {
                    ValueRef::Null => Value::Null,
                    ValueRef::Integer(v) => Value::Int(v),
                    ValueRef::Text(v) => {
                        Value::Text(String::from_utf8(v.to_vec()).map_err(|_| Error::Database {
                            cause: Source::text(format!("column {i} is not UTF-8")),
                        })?)
                    }
                    ValueRef::Blob(v) => Value::Blob(v.to_vec()),
                    ValueRef::Real(v) => {
                        return Err(Error::Database {
                            cause: Source::text(format!("column {i} holds a real number ({v})")),
                        });
                    }
                });
            }
            out.push(Row(values));
        }
        Ok(out)
    }

    fn batch(&mut self, sql: &str) -> Result<(), Error> {
        self.0.prepare_cached(sql)?.execute([])?;
        Ok(())
    }

    fn begin_write(&mut self) -> Result<(), Error> {
        // The writer thread is the file's only writer; IMMEDIATE also keeps out another process
        // that opened the same file.
        self.0.execute_batch("BEGIN IMMEDIATE")?;
        Ok(())
    }
}

/// The writer thread owns its SQLite connection.
impl Db for Connection {
    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64, Error> {
        Lite(self).execute(sql, params)
    }

    fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>, Error> {
        Lite(self).query(sql, params)
    }

    fn batch(&mut self, sql: &str) -> Result<(), Error> {
        Lite(self).batch(sql)
    }

    fn begin_write(&mut self) -> Result<(), Error> {
        Lite(self).begin_write()
    }
}
