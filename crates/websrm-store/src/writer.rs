//! Group commit: one writer thread owns the registry's write connection and commits whatever
//! is queued as one transaction, so that one fsync serves many requests. Each write runs in a
//! savepoint of its own (a write that fails is undone alone), and its caller gets the answer
//! only after the commit that holds it: "recorded before answered" holds for every write.

use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

use crate::Error;
use crate::sql::Db;

/// The most writes one commit holds.
const MAX_BATCH: usize = 512;

/// A write: it runs on the writer's connection inside the batch's transaction (or not at all,
/// given `None`, when the transaction could not begin), and returns what to do once the
/// batch is committed (or not).
type Job = Box<dyn FnOnce(Option<&mut dyn Db>) -> Finish + Send>;

/// Delivers a write's result once its batch's fate is known: `Ok(())` committed, or the error
/// that prevented the commit.
type Finish = Box<dyn FnOnce(Result<(), Error>) + Send>;

/// The writer thread and its queue.
#[derive(Debug)]
pub(crate) struct Writer {
    queue: Option<SyncSender<Job>>,
    thread: Option<JoinHandle<()>>,
}

impl Writer {
    /// Starts the writer on the connection `connect` opens, on the writer's own thread (a
    /// PostgreSQL client must live outside any async runtime); returns once it is open.
    pub(crate) fn start<C: Db + 'static>(
        connect: impl FnOnce() -> Result<C, Error> + Send + 'static,
    ) -> Result<Self, Error> {
        let (queue, jobs) = sync_channel::<Job>(4 * MAX_BATCH);
        let (opened, open) = std::sync::mpsc::channel::<Result<(), Error>>();
        let thread = std::thread::Builder::new()
            .name("websrm-registry-writer".into())
            .spawn(move || match connect() {
                Ok(mut conn) => {
                    let _ = opened.send(Ok(()));
                    run(&mut conn, jobs);
                }
                Err(e) => {
                    let _ = opened.send(Err(e));
                }
            })
            .map_err(|e| Error::Database {
                message: format!("cannot start the registry's writer: {e}"),
            })?;
        open.recv().map_err(|_| Error::Database {
            message: "the registry's writer stopped while opening".into(),
        })??;
        Ok(Self {
            queue: Some(queue),
            thread: Some(thread),
        })
    }

    /// Runs `f` on the write connection, in the next batch, and returns its result once the
    /// batch is committed.
    pub(crate) fn write<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut dyn Db) -> Result<T, Error> + Send + 'static,
    ) -> Result<T, Error> {
        let (reply, answer) = std::sync::mpsc::channel::<Result<T, Error>>();
        let job: Job = Box::new(move |conn: Option<&mut dyn Db>| {
            let result = conn.map(|conn| in_savepoint(conn, f));
            Box::new(move |committed: Result<(), Error>| {
                let _ = reply.send(committed.and_then(|()| {
                    result.unwrap_or_else(|| {
                        Err(Error::Database {
                            message: "the write did not run".into(),
                        })
                    })
                }));
            })
        });
        let gone = || Error::Database {
            message: "the registry's writer has stopped".into(),
        };
        self.queue
            .as_ref()
            .ok_or_else(gone)?
            .send(job)
            .map_err(|_| gone())?;
        answer.recv().map_err(|_| gone())?
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

fn in_savepoint<T>(
    conn: &mut dyn Db,
    f: impl FnOnce(&mut dyn Db) -> Result<T, Error>,
) -> Result<T, Error> {
    conn.batch("SAVEPOINT write")?;
    match f(conn) {
        Ok(value) => {
            conn.batch("RELEASE write")?;
            Ok(value)
        }
        Err(e) => {
            // Undo this write alone; the batch's others stand.
            conn.batch("ROLLBACK TO write")?;
            conn.batch("RELEASE write")?;
            Err(e)
        }
    }
}

fn run(conn: &mut dyn Db, jobs: Receiver<Job>) {
    while let Ok(first) = jobs.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        if let Err(e) = conn.begin_write() {
            // The transaction may have begun before the failure (a lock not granted).
            let _ = conn.batch("ROLLBACK");
            for job in batch {
                job(None)(Err(e.clone()));
            }
            continue;
        }
        let finishes: Vec<Finish> = batch.into_iter().map(|job| job(Some(&mut *conn))).collect();
        let committed = conn.batch("COMMIT");
        if committed.is_err() {
            let _ = conn.batch("ROLLBACK");
        }
        for finish in finishes {
            finish(committed.clone());
        }
    }
}
