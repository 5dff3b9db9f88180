//! Group commit: one writer thread owns the registry's write connection and commits whatever
//! is queued as one transaction, so that one fsync serves many requests. Each write runs in a
//! savepoint of its own (a write that fails is undone alone), and its caller gets the answer
//! only after the commit that holds it: "recorded before answered" holds for every write.

use std::future::Future;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

use websrm_domain::Source;

use crate::Error;
use crate::sql::Db;

/// The most writes one commit holds.
const MAX_BATCH: usize = 512;

/// A write: it runs on the writer's connection inside the batch's transaction (or not at all,
/// given `None`, when the transaction could not begin or the batch is poisoned), and returns
/// what to do once the batch is committed (or not).
type Job = Box<dyn FnOnce(Option<&mut dyn Db>, &mut Savepoints) -> Finish + Send>;

/// The savepoints of the batch in progress.
#[derive(Debug, Default)]
struct Savepoints {
    /// A savepoint could not be managed: the transaction is then in an unknown state, and the
    /// batch is rolled back.
    poisoned: bool,
    /// The last write's savepoint is still set: it is released by the next write's start, in
    /// the same round trip, or by the batch's `COMMIT`.
    open: bool,
}

/// Delivers a write's result once its batch's fate is known: `Ok(())` committed, or the error
/// that prevented the commit.
type Finish = Box<dyn FnOnce(Result<(), Error>) + Send>;

/// The writer thread and its queue.
#[derive(Debug)]
pub(crate) struct Writer {
    queue: Option<SyncSender<Job>>,
    thread: Option<JoinHandle<()>>,
    stats: std::sync::Arc<Stats>,
}

/// What the writer has done, counted as it goes (read for monitoring).
#[derive(Debug, Default)]
pub(crate) struct Stats {
    pub(crate) batches: std::sync::atomic::AtomicU64,
    pub(crate) writes: std::sync::atomic::AtomicU64,
    pub(crate) failed_batches: std::sync::atomic::AtomicU64,
    /// From the transaction's start to its commit, summed.
    pub(crate) busy_nanos: std::sync::atomic::AtomicU64,
    /// Calls made on the write connection (each a round trip on PostgreSQL).
    pub(crate) round_trips: std::sync::atomic::AtomicU64,
}

impl Writer {
    /// Starts the writer on the connection `connect` opens, on the writer's own thread (a
    /// PostgreSQL client must live outside any async runtime); returns once it is open.
    #[cfg(test)]
    pub(crate) fn start<C: Db + 'static>(
        connect: impl FnOnce() -> Result<C, Error> + Send + 'static,
    ) -> Result<Self, Error> {
        Self::start_with(connect, |_| {})
    }

    /// Starts the writer on the connection `connect` opens, on the writer's own thread (a
    /// PostgreSQL client must live outside any async runtime); returns once it is open.
    /// `after_commit` is called on the writer's thread once each
    /// batch's fate is known (whether it committed), before any of its writes is answered.
    pub(crate) fn start_with<C: Db + 'static>(
        connect: impl FnOnce() -> Result<C, Error> + Send + 'static,
        after_commit: impl Fn(bool) + Send + 'static,
    ) -> Result<Self, Error> {
        let (queue, jobs) = sync_channel::<Job>(4 * MAX_BATCH);
        let (opened, open) = std::sync::mpsc::channel::<Result<(), Error>>();
        let stats = std::sync::Arc::new(Stats::default());
        let counted = stats.clone();
        let thread = std::thread::Builder::new()
            .name("websrm-registry-writer".into())
            .spawn(move || match connect() {
                Ok(mut conn) => {
                    let _ = opened.send(Ok(()));
                    run(&mut conn, jobs, &after_commit, &counted);
                }
                Err(e) => {
                    let _ = opened.send(Err(e));
                }
            })
            .map_err(|e| Error::Database {
                cause: Source::text(format!("cannot start the registry's writer: {e}")),
            })?;
        open.recv().map_err(|_| Error::Database {
            cause: Source::text("the registry's writer stopped while opening"),
        })??;
        Ok(Self {
            queue: Some(queue),
            thread: Some(thread),
            stats,
        })
    }

    /// What the writer has done so far.
    pub(crate) fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Runs `f` on the write connection, in the next batch, and returns its result once the
    /// batch is committed.
    #[cfg(test)]
    pub(crate) fn write<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut dyn Db) -> Result<T, Error> + Send + 'static,
    ) -> Result<T, Error> {
        self.write_later(f).wait()
    }

    /// Runs `f` on the write connection, in the next batch; its result, once the batch is
    /// committed, is awaited (no thread is parked on it).
    pub(crate) fn write_later<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut dyn Db) -> Result<T, Error> + Send + 'static,
    ) -> Pending<T> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(
            move |conn: Option<&mut dyn Db>, savepoints: &mut Savepoints| {
                let result = conn.map(|conn| in_savepoint(conn, f, savepoints));
                Box::new(move |committed: Result<(), Error>| {
                    let _ = reply.send(committed.and_then(|()| {
                        result.unwrap_or_else(|| {
                            Err(Error::Database {
                                cause: Source::text("the write did not run"),
                            })
                        })
                    }));
                })
            },
        );
        let queued = self.queue.as_ref().is_some_and(|q| q.send(job).is_ok());
        Pending { answer, queued }
    }
}

/// A write queued for the registry's next batch: awaiting it gives its result once that batch is
/// committed (or the error that prevented the commit). Dropping it does not undo the write.
#[derive(Debug)]
#[must_use = "the write is answered for only once its commit is awaited"]
pub struct Pending<T> {
    answer: tokio::sync::oneshot::Receiver<Result<T, Error>>,
    queued: bool,
}

impl<T> Pending<T> {
    /// Blocks the calling thread until the write's batch is committed (or not), and returns the
    /// write's result. On an async runtime's thread, await it instead.
    pub fn wait(mut self) -> Result<T, Error> {
        /// Wakes the waiting thread.
        struct Unpark(std::thread::Thread);
        impl std::task::Wake for Unpark {
            fn wake(self: std::sync::Arc<Self>) {
                self.0.unpark();
            }
        }
        let waker = std::task::Waker::from(std::sync::Arc::new(Unpark(std::thread::current())));
        let mut cx = std::task::Context::from_waker(&waker);
        loop {
            if let std::task::Poll::Ready(result) = std::pin::Pin::new(&mut self).poll(&mut cx) {
                return result;
            }
            std::thread::park();
        }
    }
}

impl<T> Future for Pending<T> {
    type Output = Result<T, Error>;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        let gone = || Error::Database {
            cause: Source::text("the registry's writer has stopped"),
        };
        if !self.queued {
            return std::task::Poll::Ready(Err(gone()));
        }
        std::pin::Pin::new(&mut self.answer)
            .poll(cx)
            .map(|answer| answer.unwrap_or_else(|_| Err(gone())))
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        // Closing the queue ends the writer once it has committed what it holds.
        self.queue.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Runs `f` in a savepoint of its own: a failed write is undone alone and the batch's others
/// stand. If the savepoint itself cannot be set, released or rolled back to, `poisoned` is set:
/// PostgreSQL would otherwise turn the batch's `COMMIT` into a silent rollback, and writes that
/// ran earlier would be answered as recorded. The savepoint is left set when the write ends (a
/// failed write's rolled back to): the next write releases it as it sets its own, in one round
/// trip, and the batch's `COMMIT` releases the last.
fn in_savepoint<T>(
    conn: &mut dyn Db,
    f: impl FnOnce(&mut dyn Db) -> Result<T, Error>,
    savepoints: &mut Savepoints,
) -> Result<T, Error> {
    let start: &[&str] = if savepoints.open {
        &["RELEASE write", "SAVEPOINT write"]
    } else {
        &["SAVEPOINT write"]
    };
    if let Err(e) = conn.batches(start) {
        savepoints.poisoned = true;
        return Err(e);
    }
    savepoints.open = true;
    match f(conn) {
        Ok(value) => Ok(value),
        Err(e) => {
            if let Err(undo) = conn.batch("ROLLBACK TO write") {
                savepoints.poisoned = true;
                return Err(undo);
            }
            Err(e)
        }
    }
}

fn run(conn: &mut dyn Db, jobs: Receiver<Job>, after_commit: &dyn Fn(bool), stats: &Stats) {
    use std::sync::atomic::Ordering::Relaxed;
    let mut counted = crate::sql::Counted {
        db: conn,
        calls: &stats.round_trips,
    };
    let conn: &mut dyn Db = &mut counted;
    while let Ok(first) = jobs.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let started = std::time::Instant::now();
        stats.batches.fetch_add(1, Relaxed);
        stats.writes.fetch_add(batch.len() as u64, Relaxed);
        let mut savepoints = Savepoints::default();
        if let Err(e) = conn.begin_write() {
            // The transaction may have begun before the failure (a lock not granted).
            let _ = conn.batch("ROLLBACK");
            stats.failed_batches.fetch_add(1, Relaxed);
            after_commit(false);
            for job in batch {
                job(None, &mut savepoints)(Err(e.clone()));
            }
            continue;
        }
        let mut finishes: Vec<Finish> = Vec::with_capacity(batch.len());
        for job in batch {
            let finish = if savepoints.poisoned {
                job(None, &mut savepoints)
            } else {
                job(Some(&mut *conn), &mut savepoints)
            };
            finishes.push(finish);
        }
        let poisoned = savepoints.poisoned;
        let committed = if poisoned {
            let _ = conn.batch("ROLLBACK");
            Err(Error::Database {
                cause: Source::text("the batch was rolled back: a savepoint could not be managed"),
            })
        } else {
            conn.batch("COMMIT")
        };
        if committed.is_err() && !poisoned {
            let _ = conn.batch("ROLLBACK");
        }
        if committed.is_err() {
            stats.failed_batches.fetch_add(1, Relaxed);
        }
        stats.busy_nanos.fetch_add(
            u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX),
            Relaxed,
        );
        after_commit(committed.is_ok());
        for finish in finishes {
            finish(committed.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::sql::{Row, Value};

    /// A connection that records its statements and fails the `fail_at`-th `SAVEPOINT write`, as
    /// a server would after a cancel: the savepoints can no longer be managed.
    struct Recording {
        log: Arc<Mutex<Vec<String>>>,
        savepoints: usize,
        fail_at: usize,
    }

    impl Db for Recording {
        fn execute(&mut self, sql: &str, _: &[Value]) -> Result<u64, Error> {
            self.log.lock().unwrap().push(sql.to_owned());
            Ok(1)
        }

        fn query(&mut self, sql: &str, _: &[Value]) -> Result<Vec<Row>, Error> {
            self.log.lock().unwrap().push(sql.to_owned());
            Ok(Vec::new())
        }

        fn batch(&mut self, sql: &str) -> Result<(), Error> {
            self.log.lock().unwrap().push(sql.to_owned());
            if sql == "SAVEPOINT write" {
                self.savepoints += 1;
                if self.savepoints == self.fail_at {
                    return Err(Error::Database {
                        cause: Source::text("canceled"),
                    });
                }
            }
            Ok(())
        }

        fn begin_write(&mut self) -> Result<(), Error> {
            self.log.lock().unwrap().push("BEGIN".into());
            Ok(())
        }
    }

    /// Three writes forced into one batch (a first write holds the writer until they are
    /// queued behind it), the second of whose savepoints fails: the whole batch is rolled back
    /// and none of the three is answered as recorded, while the first batch commits.
    #[test]
    fn a_savepoint_that_cannot_be_managed_rolls_the_whole_batch_back() {
        use std::sync::atomic::Ordering::Relaxed;
        for attempt in 1..=20 {
            let log = Arc::new(Mutex::new(Vec::new()));
            let conn_log = Arc::clone(&log);
            // Savepoint 1 is the first write's; 2, 3 and 4 the batch's, the second of which fails.
            let writer = Arc::new(
                Writer::start(move || {
                    Ok(Recording {
                        log: conn_log,
                        savepoints: 0,
                        fail_at: 3,
                    })
                })
                .unwrap(),
            );
            let (started, running) = std::sync::mpsc::channel::<()>();
            let (release, held) = std::sync::mpsc::channel::<()>();
            let first = {
                let writer = Arc::clone(&writer);
                std::thread::spawn(move || {
                    writer.write(move |db| {
                        started.send(()).unwrap();
                        held.recv().unwrap();
                        db.execute("INSERT first", &[])
                    })
                })
            };
            running.recv().unwrap();
            // Collected so that the three are started now, before the first is released.
            #[allow(clippy::needless_collect)]
            let batch: Vec<_> = (0..3)
                .map(|i| {
                    let writer = Arc::clone(&writer);
                    std::thread::spawn(move || {
                        writer.write(move |db| db.execute(&format!("INSERT {i}"), &[]))
                    })
                })
                .collect();
            // Time for the three to be queued behind the first; whether they were is read from
            // the writer's counts below, and the attempt made again, longer, if not.
            std::thread::sleep(std::time::Duration::from_millis(20 * attempt));
            release.send(()).unwrap();
            assert!(first.join().unwrap().is_ok(), "the first batch commits");
            let outcomes: Vec<_> = batch.into_iter().map(|t| t.join().unwrap()).collect();
            let stats = writer.stats();
            if stats.batches.load(Relaxed) != 2 {
                continue;
            }
            assert_eq!(stats.writes.load(Relaxed), 4);
            let log = log.lock().unwrap().clone();
            assert!(outcomes.iter().all(Result::is_err), "{outcomes:?} {log:?}");
            assert_eq!(stats.failed_batches.load(Relaxed), 1, "{log:?}");
            assert_eq!(log.iter().filter(|s| *s == "COMMIT").count(), 1, "{log:?}");
            assert_eq!(
                log.iter().filter(|s| *s == "ROLLBACK").count(),
                1,
                "{log:?}"
            );
            return;
        }
        panic!("the three writes never shared a batch in 20 attempts");
    }

    /// A file in `dir` holding the table `t (v)`, and a writer on it.
    fn table_t(dir: &std::path::Path) -> (std::path::PathBuf, Writer) {
        let path = dir.join("w.db");
        rusqlite::Connection::open(&path)
            .unwrap()
            .execute_batch("CREATE TABLE t (v INTEGER NOT NULL)")
            .unwrap();
        let opened = path.clone();
        let writer = Writer::start(move || Ok(rusqlite::Connection::open(&opened)?)).unwrap();
        (path, writer)
    }

    /// On a real SQLite file: writes queued from one async task, none of them waited for by a
    /// thread of its own, are committed together (fewer commits than writes), each answered once
    /// its commit is done; a write dropped unawaited is committed all the same.
    #[test]
    fn writes_awaited_on_one_thread_share_their_commits() {
        use std::sync::atomic::Ordering::Relaxed;
        let dir = tempfile::tempdir().unwrap();
        let (path, writer) = table_t(dir.path());
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let results: Vec<_> = runtime.block_on(async {
            let pending: Vec<_> = (0..64_i64)
                .map(|v| {
                    writer.write_later(move |db| {
                        db.execute("INSERT INTO t (v) VALUES (?1)", &[Value::Int(v)])?;
                        Ok(v)
                    })
                })
                .collect();
            drop(writer.write_later(|db| db.execute("INSERT INTO t (v) VALUES (-1)", &[])));
            let mut results = Vec::new();
            for p in pending {
                results.push(p.await);
            }
            results
        });
        assert_eq!(results, (0..64).map(Ok).collect::<Vec<_>>());
        let batches = writer.stats().batches.load(Relaxed);
        assert!(batches < 64, "{batches} commits for 64 writes");
        drop(writer);
        let check = rusqlite::Connection::open(&path).unwrap();
        let n: i64 = check
            .query_row("SELECT count(*) FROM t", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 65);
    }

    /// On a real SQLite file: in one batch, a write that fails after changing a row is undone
    /// alone (its savepoint rolled back to), the writes before and after it are committed, and
    /// the savepoints left set between writes are released by the next write and the `COMMIT`.
    #[test]
    fn a_failed_write_is_undone_alone_and_its_batch_commits_the_others() {
        let dir = tempfile::tempdir().unwrap();
        let writer = Arc::new(table_t(dir.path()).1);
        // A first write holds the writer while the next three are queued: they form one batch.
        let (held, hold) = std::sync::mpsc::channel::<()>();
        let first = {
            let writer = Arc::clone(&writer);
            std::thread::spawn(move || {
                writer.write(move |db| {
                    let _ = hold.recv();
                    db.execute("INSERT INTO t (v) VALUES (0)", &[])
                })
            })
        };
        while writer
            .stats()
            .batches
            .load(std::sync::atomic::Ordering::Relaxed)
            == 0
        {
            std::thread::yield_now();
        }
        #[allow(clippy::needless_collect)] // Every write is queued before the writer is let go.
        let writes: Vec<_> = (1..=3)
            .map(|v: i64| {
                let writer = Arc::clone(&writer);
                let thread = std::thread::spawn(move || {
                    writer.write(move |db| {
                        db.execute("INSERT INTO t (v) VALUES (?1)", &[Value::Int(v)])?;
                        if v == 2 {
                            return Err(Error::Database {
                                cause: Source::text("refused after its insert"),
                            });
                        }
                        Ok(v)
                    })
                });
                // Queued in this order.
                std::thread::sleep(std::time::Duration::from_millis(30));
                thread
            })
            .collect();
        held.send(()).unwrap();
        assert!(first.join().unwrap().is_ok());
        let outcomes: Vec<_> = writes.into_iter().map(|t| t.join().unwrap()).collect();
        assert_eq!(outcomes[0], Ok(1));
        assert!(outcomes[1].is_err());
        assert_eq!(outcomes[2], Ok(3));
        assert_eq!(
            writer
                .stats()
                .batches
                .load(std::sync::atomic::Ordering::Relaxed),
            2
        );
        drop(writer);
        let check = rusqlite::Connection::open(dir.path().join("w.db")).unwrap();
        let values: Vec<i64> = check
            .prepare("SELECT v FROM t ORDER BY v")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(values, [0, 1, 3]);
    }
}
