//! The registry on PostgreSQL: connections that live on the registry's own threads (the
//! synchronous client runs a small runtime of its own, which must not be inside the caller's),
//! statements rewritten from `?N` to `$N`, one advisory lock taken by every write transaction,
//! and versioned migrations applied under a second lock, so that processes starting together
//! migrate once.

use std::collections::HashMap;
use std::sync::mpsc::{Sender, channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use bytes::BytesMut;
use postgres::types::{IsNull, ToSql, Type, to_sql_checked};
use postgres::{Client, Config, NoTls, Statement};

use websrm_domain::Source;

use crate::Error;
use crate::sql::{Db, Row, Value};

/// The advisory lock every write transaction holds until it ends ("WSRW").
const WRITE_LOCK: i64 = 0x5753_5257;
/// The advisory lock held while the schema is checked and migrated ("WSRM").
const MIGRATE_LOCK: i64 = 0x5753_524D;

/// PostgreSQL's error, worded here: the server's message with its code, detail and a hint, or
/// the client's message followed by its causes (a TLS handshake's is why it failed). The text
/// says more than the client's error alone, which is why the source is that text.
impl From<postgres::Error> for Error {
    fn from(e: postgres::Error) -> Self {
        Self::Database {
            cause: Source::text(match e.as_db_error() {
                Some(db) => {
                    // A server that accepts only encrypted connections says "no encryption".
                    let hint = if db.message().contains("no encryption") {
                        "; the server requires TLS: add sslmode=verify-full (with sslrootcert) \
                         or sslmode=require to the connection string"
                    } else {
                        ""
                    };
                    format!(
                        "PostgreSQL: {} ({}){}{hint}",
                        db.message(),
                        db.code().code(),
                        db.detail().map(|d| format!(": {d}")).unwrap_or_default()
                    )
                }
                None => {
                    // The client's message, then its causes (a TLS handshake's is the reason it
                    // failed: an unknown issuer, a name the certificate does not hold).
                    let mut message = format!("PostgreSQL: {e}");
                    let mut source = std::error::Error::source(&e);
                    while let Some(cause) = source {
                        message.push_str(&format!(": {cause}"));
                        source = cause.source();
                    }
                    message
                }
            }),
        }
    }
}

/// A connection string as the client takes it, and the TLS to connect with (none: plain).
#[derive(Clone)]
pub(crate) struct PgConfig {
    config: Config,
    tls: Option<crate::pg_tls::Tls>,
}

impl PgConfig {
    fn connect(&self) -> Result<Client, Error> {
        Ok(match &self.tls {
            Some(tls) => self.config.connect(tls.clone())?,
            None => self.config.connect(NoTls)?,
        })
    }
}

/// Parses a connection URL or libpq key-value string; its TLS words (`sslmode`, `sslrootcert`)
/// are the connector's business. With `tls`, connections are encrypted; without, plain.
pub(crate) fn config(
    url: &str,
    tls: Option<Arc<dyn crate::pg_tls::Connector>>,
) -> Result<PgConfig, Error> {
    let (rest, _, _) = crate::pg_tls::split(url)?;
    let mut config: Config = rest.parse().map_err(|e: postgres::Error| Error::Database {
        cause: Source::text(format!(
            "the PostgreSQL connection string does not parse: {e}"
        )),
    })?;
    config.ssl_mode(if tls.is_some() {
        postgres::config::SslMode::Require
    } else {
        postgres::config::SslMode::Disable
    });
    if config.get_application_name().is_none() {
        config.application_name("websrm-authority");
    }
    // Nothing waits without bound: a database that does not answer, or a peer process whose
    // machine vanished while it held the write lock (its session ends when keepalives fail).
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(std::time::Duration::from_secs(10));
    }
    config
        .keepalives(true)
        .keepalives_idle(std::time::Duration::from_secs(30))
        .keepalives_interval(std::time::Duration::from_secs(10))
        .keepalives_retries(3);
    Ok(PgConfig {
        config,
        tls: tls.map(crate::pg_tls::Tls),
    })
}

/// A connection and its prepared statements.
pub(crate) struct Pg {
    client: Client,
    config: PgConfig,
    statements: HashMap<String, Statement>,
    /// The server ended this session (its last error said so), or the socket is gone.
    lost: bool,
}

impl Pg {
    /// Connects: over TLS when the configuration has a connector, else plain TCP or a Unix
    /// socket.
    pub(crate) fn connect(config: &PgConfig) -> Result<Self, Error> {
        Ok(Self {
            client: config.connect()?,
            config: config.clone(),
            statements: HashMap::new(),
            lost: false,
        })
    }

    /// Whether the connection is gone: the socket closed, or the server said it ends the
    /// session (SQLSTATE class 57P, operator intervention, or 08, connection exception).
    pub(crate) fn is_lost(&self) -> bool {
        self.lost || self.client.is_closed()
    }

    /// Notes an error that ends the session.
    fn check<T>(&mut self, result: Result<T, postgres::Error>) -> Result<T, Error> {
        result.map_err(|e| {
            let code = e.code().map(|c| c.code().to_owned()).unwrap_or_default();
            if code.starts_with("57P") || code.starts_with("08") || e.is_closed() {
                self.lost = true;
            }
            e.into()
        })
    }

    /// Connects again if the connection is gone (a restart, a fail-over).
    fn ensure_open(&mut self) -> Result<(), Error> {
        if self.is_lost() {
            self.client = self.config.connect()?;
            self.statements.clear();
            self.lost = false;
        }
        Ok(())
    }

    fn statement(&mut self, sql: &str) -> Result<Statement, Error> {
        if let Some(statement) = self.statements.get(sql) {
            return Ok(statement.clone());
        }
        let prepared = self.client.prepare(&translate(sql));
        let statement = self.check(prepared)?;
        self.statements.insert(sql.to_owned(), statement.clone());
        Ok(statement)
    }
}

/// `?N` becomes `$N`; a `+` that keeps SQLite off an index (`AND +column`, `(+column`) goes.
/// Quoted text (`'…'`, `"…"`) is copied as it is.
fn translate(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut chars = sql.chars().peekable();
    let mut quote: Option<char> = None;
    while let Some(c) = chars.next() {
        if let Some(q) = quote {
            out.push(c);
            if c == q {
                quote = None;
            }
            continue;
        }
        match c {
            '\'' | '"' => {
                quote = Some(c);
                out.push(c);
            }
            '?' if chars.peek().is_some_and(char::is_ascii_digit) => out.push('$'),
            '+' if chars.peek().is_some_and(char::is_ascii_alphabetic)
                && (out.ends_with('(') || out.ends_with("AND ") || out.ends_with("WHERE ")) => {}
            _ => out.push(c),
        }
    }
    out
}

impl ToSql for Value {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match self {
            Self::Null => Ok(IsNull::Yes),
            Self::Int(v) if *ty == Type::INT4 => i32::try_from(*v)?.to_sql_checked(ty, out),
            Self::Int(v) if *ty == Type::INT2 => i16::try_from(*v)?.to_sql_checked(ty, out),
            Self::Int(v) if *ty == Type::BOOL => (*v != 0).to_sql_checked(ty, out),
            Self::Int(v) => v.to_sql_checked(ty, out),
            Self::Text(v) => v.as_str().to_sql_checked(ty, out),
            Self::Blob(v) => v.as_slice().to_sql_checked(ty, out),
        }
    }

    /// Any type: `to_sql` checks the one the value holds against the parameter's.
    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

fn value(row: &postgres::Row, i: usize) -> Result<Value, Error> {
    let ty = row.columns()[i].type_();
    let value = if *ty == Type::INT8 {
        row.try_get::<_, Option<i64>>(i)?.map(Value::Int)
    } else if *ty == Type::INT4 {
        row.try_get::<_, Option<i32>>(i)?
            .map(|v| Value::Int(v.into()))
    } else if *ty == Type::INT2 {
        row.try_get::<_, Option<i16>>(i)?
            .map(|v| Value::Int(v.into()))
    } else if *ty == Type::BOOL {
        row.try_get::<_, Option<bool>>(i)?
            .map(|v| Value::Int(v.into()))
    } else if *ty == Type::BYTEA {
        row.try_get::<_, Option<Vec<u8>>>(i)?.map(Value::Blob)
    } else if [Type::TEXT, Type::VARCHAR, Type::BPCHAR, Type::NAME].contains(ty) {
        row.try_get::<_, Option<String>>(i)?.map(Value::Text)
    } else {
        return Err(Error::Database {
            cause: Source::text(format!(
                "column {i} has type {ty}, which the registry does not use"
            )),
        });
    };
    Ok(value.unwrap_or(Value::Null))
}

fn refs(params: &[Value]) -> Vec<&(dyn ToSql + Sync)> {
    params.iter().map(|p| p as &(dyn ToSql + Sync)).collect()
}

impl Db for Pg {
    fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64, Error> {
        let statement = self.statement(sql)?;
        let result = self.client.execute(&statement, &refs(params));
        self.check(result)
    }

    fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>, Error> {
        let statement = self.statement(sql)?;
        let result = self.client.query(&statement, &refs(params));
        self.check(result)?
            .iter()
            .map(|r| {
                (0..r.len())
                    .map(|i| value(r, i))
                    .collect::<Result<_, _>>()
                    .map(Row)
            })
            .collect()
    }

    fn batch(&mut self, sql: &str) -> Result<(), Error> {
        let result = self.client.batch_execute(sql);
        self.check(result)
    }

    /// One round trip: the statements as one simple query, which runs them in turn and stops at
    /// the first error.
    fn batches(&mut self, statements: &[&str]) -> Result<(), Error> {
        let result = self.client.batch_execute(&statements.join("; "));
        self.check(result)
    }

    fn begin_write(&mut self) -> Result<(), Error> {
        self.ensure_open()?;
        // One writer at a time across every process: the lock is released by COMMIT or ROLLBACK.
        // READ COMMITTED whatever the database's default: each statement after the lock then
        // sees every write committed before it (a snapshot taken before the wait would not).
        // A lock held longer than 30 s (a peer process hung) fails this batch, not every batch.
        let begin = format!(
            "BEGIN ISOLATION LEVEL READ COMMITTED; SET LOCAL lock_timeout = '30s'; \
             SELECT pg_advisory_xact_lock({WRITE_LOCK})"
        );
        let first = self.client.batch_execute(&begin);
        match self.check(first) {
            Ok(()) => Ok(()),
            // The server went away since the last batch (a restart, a fail-over): the client
            // learns it only now. Nothing has run yet, so connecting again and retrying is safe.
            Err(_) if self.is_lost() => {
                self.ensure_open()?;
                let again = self.client.batch_execute(&begin);
                self.check(again)
            }
            Err(e) => Err(e),
        }
    }
}

/// Creates or migrates the schema, under a lock: a second process starting at the same time
/// waits, then finds the schema current. The version is kept in `websrm_schema`.
pub(crate) fn migrate(
    pg: &mut Pg,
    name: &str,
    expected: &'static str,
    migrations: &[&str],
) -> Result<(), Error> {
    let client = &mut pg.client;
    let mut tx = client.transaction()?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATE_LOCK])?;
    // No write of another process runs while the schema changes (a rolling upgrade).
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&WRITE_LOCK])?;
    let has_table: bool = tx
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM information_schema.tables \
             WHERE table_schema = current_schema() AND table_name = 'websrm_schema')",
            &[],
        )?
        .get(0);
    let version: i64 = if has_table {
        let row = tx.query_opt(
            "SELECT version FROM websrm_schema WHERE kind = 'registry'",
            &[],
        )?;
        row.map(|r| r.get(0)).ok_or_else(|| Error::WrongDatabase {
            path: name.to_owned(),
            expected,
        })?
    } else {
        let tables: i64 = tx
            .query_one(
                "SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema()",
                &[],
            )?
            .get(0);
        if tables != 0 {
            return Err(Error::WrongDatabase {
                path: name.to_owned(),
                expected,
            });
        }
        tx.batch_execute(
            "CREATE TABLE websrm_schema (kind TEXT PRIMARY KEY, version BIGINT NOT NULL); \
             INSERT INTO websrm_schema VALUES ('registry', 0)",
        )?;
        0
    };
    let supported = migrations.len() as u32;
    let found = u32::try_from(version).unwrap_or(u32::MAX);
    if found > supported {
        return Err(Error::SchemaTooNew { found, supported });
    }
    for (index, sql) in migrations.iter().enumerate().skip(found as usize) {
        tx.batch_execute(sql)?;
        tx.execute(
            "UPDATE websrm_schema SET version = $1 WHERE kind = 'registry'",
            &[&(index as i64 + 1)],
        )?;
    }
    tx.commit()?;
    Ok(())
}

/// A read, run by a reader thread with its connection (opened, or opened again, as needed).
type ReadJob = Box<dyn FnOnce(&mut Option<Pg>, &PgConfig) + Send>;

/// Reader threads, each with its connection, taking reads from one queue.
#[derive(Debug)]
pub(crate) struct Readers {
    queue: Option<Sender<ReadJob>>,
    threads: Vec<JoinHandle<()>>,
}

impl Readers {
    /// Starts `n` readers; each connects on its first read and again after losing its connection.
    pub(crate) fn start(config: &PgConfig, n: usize) -> Result<Self, Error> {
        let (queue, jobs) = channel::<ReadJob>();
        let jobs = Arc::new(Mutex::new(jobs));
        let threads = (0..n)
            .map(|i| {
                let jobs = Arc::clone(&jobs);
                let config = config.clone();
                std::thread::Builder::new()
                    .name(format!("websrm-registry-reader-{i}"))
                    .spawn(move || {
                        let mut conn: Option<Pg> = None;
                        loop {
                            let job = {
                                let jobs = jobs
                                    .lock()
                                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                                jobs.recv()
                            };
                            let Ok(job) = job else { break };
                            job(&mut conn, &config);
                        }
                    })
                    .map_err(|e| Error::Database {
                        cause: Source::text(format!("cannot start a registry reader: {e}")),
                    })
            })
            .collect::<Result<_, _>>()?;
        Ok(Self {
            queue: Some(queue),
            threads,
        })
    }

    /// Runs `f` on the first free reader and returns its result. If the reader's connection
    /// turns out to be lost (the server restarted, a fail-over), `f` runs again, once, on a new
    /// one: a read changes nothing, so running it twice is safe.
    pub(crate) fn read<T: Send + 'static>(
        &self,
        f: impl Fn(&mut dyn Db) -> Result<T, Error> + Send + 'static,
    ) -> Result<T, Error> {
        round_trip("readers have", |reply| {
            let job: ReadJob = Box::new(move |conn: &mut Option<Pg>, config: &PgConfig| {
                let attempt = |conn: &mut Option<Pg>| -> Result<T, Error> {
                    if conn.as_ref().is_none_or(Pg::is_lost) {
                        *conn = None;
                        *conn = Some(Pg::connect(config)?);
                    }
                    let c = conn.as_mut().ok_or_else(|| Error::Database {
                        cause: Source::text("no connection"),
                    })?;
                    f(c)
                };
                let mut result = attempt(conn);
                if result.is_err() && conn.as_ref().is_some_and(Pg::is_lost) {
                    result = attempt(conn);
                }
                let _ = reply.send(result);
            });
            self.queue.as_ref().is_some_and(|q| q.send(job).is_ok())
        })
    }
}

/// Hands a read to the reader threads and waits for its answer: `send` queues a job that
/// answers on the sender it is given, and says whether it was queued. `stopped` completes
/// "the registry's … stopped" in the error when the threads have gone.
fn round_trip<T>(
    stopped: &str,
    send: impl FnOnce(Sender<Result<T, Error>>) -> bool,
) -> Result<T, Error> {
    let (reply, answer) = channel();
    let gone = || Error::Database {
        cause: Source::text(format!("the registry's {stopped} stopped")),
    };
    if !send(reply) {
        return Err(gone());
    }
    answer.recv().map_err(|_| gone())?
}

impl Drop for Readers {
    fn drop(&mut self) {
        self.queue.take();
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

impl std::fmt::Debug for Pg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pg").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::translate;

    #[test]
    fn placeholders_and_index_hints_are_rewritten() {
        assert_eq!(
            translate("SELECT a FROM t WHERE k = ?2 AND +op = ?1 AND (+n = ?10) AND x + 1 > ?3"),
            "SELECT a FROM t WHERE k = $2 AND op = $1 AND (n = $10) AND x + 1 > $3"
        );
        // Quoted text is left alone; an addition is not a hint.
        assert_eq!(
            translate("SELECT 'a ?1 +b', \"?2\" FROM t WHERE x +y = ?1"),
            "SELECT 'a ?1 +b', \"?2\" FROM t WHERE x +y = $1"
        );
    }
}
