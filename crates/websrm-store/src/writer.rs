//! Group commit: one writer thread owns the registry's write connection and commits whatever
//! is queued as one transaction, so that one fsync serves many requests. Each write runs in a
//! savepoint of its own (a write that fails is undone alone), and its caller gets the answer
//! only after the commit that holds it: "recorded before answered" holds for every write.

use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::thread::JoinHandle;

use rusqlite::Connection;

use crate::Error;

/// The most writes one commit holds.
const MAX_BATCH: usize = 512;

/// A write: it runs on the writer's connection inside the batch's transaction (or not at all,
/// given `None`, when the transaction could not begin), and returns what to do once the
/// batch is committed (or not).
type Job = Box<dyn FnOnce(Option<&Connection>) -> Finish + Send>;

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
    /// Starts the writer on `conn`.
    pub(crate) fn start(conn: Connection) -> Result<Self, Error> {
        let (queue, jobs) = sync_channel::<Job>(4 * MAX_BATCH);
        let thread = std::thread::Builder::new()
            .name("websrm-registry-writer".into())
            .spawn(move || run(conn, jobs))
            .map_err(|e| Error::Database {
                message: format!("cannot start the registry's writer: {e}"),
            })?;
        Ok(Self {
            queue: Some(queue),
            thread: Some(thread),
        })
    }

    /// Runs `f` on the write connection, in the next batch, and returns its result once the
    /// batch is committed.
    pub(crate) fn write<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, Error> + Send + 'static,
    ) -> Result<T, Error> {
        let (reply, answer) = std::sync::mpsc::channel::<Result<T, Error>>();
        let job: Job = Box::new(move |conn: Option<&Connection>| {
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
    conn: &Connection,
    f: impl FnOnce(&Connection) -> Result<T, Error>,
) -> Result<T, Error> {
    // Cached statements: a savepoint costs no parsing.
    let run = |sql: &str| -> Result<(), Error> {
        conn.prepare_cached(sql)?.execute([])?;
        Ok(())
    };
    run("SAVEPOINT write")?;
    match f(conn) {
        Ok(value) => {
            run("RELEASE write")?;
            Ok(value)
        }
        Err(e) => {
            // Undo this write alone; the batch's others stand.
            run("ROLLBACK TO write")?;
            run("RELEASE write")?;
            Err(e)
        }
    }
}

fn run(conn: Connection, jobs: Receiver<Job>) {
    while let Ok(first) = jobs.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
            let e = Error::from(e);
            for job in batch {
                job(None)(Err(e.clone()));
            }
            continue;
        }
        let finishes: Vec<Finish> = batch.into_iter().map(|job| job(Some(&conn))).collect();
        let committed = conn.execute_batch("COMMIT").map_err(Error::from);
        if committed.is_err() {
            let _ = conn.execute_batch("ROLLBACK");
        }
        for finish in finishes {
            finish(committed.clone());
        }
    }
}
