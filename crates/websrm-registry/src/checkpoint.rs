//! WAL checkpoints mostly off the writer's path. In WAL mode every commit appends pages to the
//! log; a checkpoint copies them back into the database file and syncs it. SQLite's automatic
//! checkpoint runs on the connection that committed, here the writer thread that every write
//! waits for: in a large registry the copy is a thousand scattered pages and a sync, and every
//! batch stalls behind it.
//!
//! Here the copying is done by a checkpointer thread with a connection of its own: each time the
//! log has grown by [`CHECKPOINT_AT`] frames, the writer's commit hook wakes it, and it copies
//! the log into the database (`PASSIVE`: it never blocks the writer or a reader) while the
//! writer goes on committing. Copied frames stay in the log file until SQLite can start it again
//! from the beginning, which needs the whole log copied when a write begins: so once the log
//! passes [`RESTART_AT`] frames, the writer copies the few frames left itself, once, and the log
//! starts over. The writer thus waits for one sync per [`RESTART_AT`] frames instead of a full
//! checkpoint per thousand. Past [`WRITER_CHECKPOINTS_AT`] frames (a checkpointer falling
//! behind) the writer checkpoints at every commit, as it does if the checkpointer has stopped.
//!
//! A checkpoint never changes what a committed transaction holds, and SQLite recovers the same
//! data from the log after a crash at any point of one.

use std::ffi::c_int;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::thread::JoinHandle;

use rusqlite::Connection;
use rusqlite::wal::CheckpointMode;

use websrm_domain::Source;

use crate::Error;

/// Log frames (pages) by which the log grows between two checkpoints: SQLite's own default for
/// its automatic checkpoint.
const CHECKPOINT_AT: c_int = 1000;

/// Log frames from which the writer finishes the copy itself, so that the log starts over
/// (32 MiB of log with 4 KiB pages).
const RESTART_AT: c_int = 8000;

/// Log frames from which the writer checkpoints at every commit, the checkpointer running or
/// not (128 MiB of log with 4 KiB pages).
const WRITER_CHECKPOINTS_AT: c_int = 32_000;

/// Whether the checkpointer is copying, shared with the writer's hook.
const IDLE: u8 = 0;
const RUNNING: u8 = 1;

/// The writer's side: the hook that starts checkpoints, and restarts the log.
#[derive(Debug)]
pub(crate) struct Wake {
    wake: SyncSender<()>,
    state: Arc<AtomicU8>,
}

/// The checkpointer's side, before its thread starts.
#[derive(Debug)]
pub(crate) struct Woken {
    woken: Receiver<()>,
    state: Arc<AtomicU8>,
}

/// The checkpointer thread.
#[derive(Debug)]
pub(crate) struct Checkpointer {
    thread: Option<JoinHandle<()>>,
}

/// The two ends.
pub(crate) fn pair() -> (Wake, Woken) {
    let (wake, woken) = sync_channel(1);
    let state = Arc::new(AtomicU8::new(IDLE));
    (
        Wake {
            wake,
            state: state.clone(),
        },
        Woken { woken, state },
    )
}

impl Wake {
    /// Installs the hook on `writer`, in place of SQLite's automatic checkpoint. When the
    /// connection closes, the hook is dropped and the checkpointer ends.
    pub(crate) fn install(self, writer: &mut Connection) -> Result<(), Error> {
        let Self { wake, state } = self;
        // The log's size at which the next checkpoint starts.
        let mut next = CHECKPOINT_AT;
        writer.wal_hook(Some(
            move |wal: &mut rusqlite::hooks::Wal, frames: c_int| {
                // Never an error from here: SQLite would report it as the commit's, though the
                // commit stands. A checkpoint that cannot finish is tried again at a next commit.
                if frames < next - CHECKPOINT_AT {
                    // The log started over.
                    next = CHECKPOINT_AT;
                }
                let running = state.load(Ordering::Acquire) == RUNNING;
                if frames >= WRITER_CHECKPOINTS_AT || (frames >= RESTART_AT && !running) {
                    let _ = wal.checkpoint_v2(CheckpointMode::PASSIVE);
                    next = CHECKPOINT_AT;
                } else if frames >= next && !running {
                    next = frames + CHECKPOINT_AT;
                    state.store(RUNNING, Ordering::Release);
                    if let Err(TrySendError::Disconnected(())) = wake.try_send(()) {
                        state.store(IDLE, Ordering::Release);
                        let _ = wal.checkpoint_v2(CheckpointMode::PASSIVE);
                    }
                }
                Ok(())
            },
        ))?;
        Ok(())
    }
}

impl Checkpointer {
    /// Starts the thread on a connection of its own to `path`, which the writer has created.
    pub(crate) fn start(path: &Path, woken: Woken) -> Result<Self, Error> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        conn.execute_batch("PRAGMA synchronous = FULL;")?;
        let Woken { woken, state } = woken;
        let thread = std::thread::Builder::new()
            .name("websrm-registry-checkpoint".into())
            .spawn(move || {
                while woken.recv().is_ok() {
                    // A checkpoint that cannot finish (a reader on an old snapshot) is
                    // harmless: the next one goes on from where it stopped.
                    let _ = conn.wal_checkpoint_v2(None::<&str>, CheckpointMode::PASSIVE);
                    state.store(IDLE, Ordering::Release);
                }
            })
            .map_err(|e| Error::Database {
                cause: Source::text(format!("cannot start the registry's checkpointer: {e}")),
            })?;
        Ok(Self {
            thread: Some(thread),
        })
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        // The writer's connection is closed first (its hook holds the other end of the
        // channel), which ends the loop.
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
