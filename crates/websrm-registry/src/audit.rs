//! The authority's append-only audit log, each entry chained to the previous one so that
//! altering, removing or reordering entries is detectable.
//!
//! Two chains follow each other. The first (v1, before the registry knew a key) links entries
//! by SHA-256: it catches accidents, but anyone who holds the database and reads this code can
//! recompute it. From the entry that marks the change (`audit-chain-keyed`) on, each entry is
//! linked by HMAC-SHA-256 under a key derived from the authority folder's key-encryption key
//! (v2): holding the database is no longer enough to rewrite it. The head is also anchored
//! outside the database: after each commit that appended entries, the writer writes the last
//! one's position and MAC into a checkpoint file in the folder, so that cutting entries off the
//! end is caught too. With several processes on one PostgreSQL registry each keeps its own
//! checkpoint; verification accepts any checkpoint whose entry the chain holds at its position.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError, RwLock};

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use websrm_domain::ErrorId;
use zeroize::Zeroizing;

use websrm_domain::Source;

use crate::Error;
use crate::sql::{Db, vals};
use websrm_sqlite::{from_unix, parse, to_unix};

/// An entry to append.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct NewAudit {
    /// When the decision was made.
    pub at: OffsetDateTime,
    /// Who acted: a request's channel (`enrolment`, `api`), an agent (`agent:ID`), the operator
    /// (`operator:NUMBER`) or the system.
    pub actor: String,
    /// What was decided: `issue`, `refuse`, `replace`, `delete`, `revoke`, `lookup`, …
    pub action: String,
    /// What it was about: a serial number, an identification number, a device identifier.
    pub subject: String,
    /// The error id of a refusal.
    pub error_id: Option<ErrorId>,
    /// Free text.
    pub detail: String,
}

impl NewAudit {
    /// An entry without an error id.
    pub fn new(
        at: OffsetDateTime,
        actor: impl Into<String>,
        action: impl Into<String>,
        subject: impl Into<String>,
        detail: impl Into<String>,
    ) -> Self {
        Self {
            at,
            actor: actor.into(),
            action: action.into(),
            subject: subject.into(),
            error_id: None,
            detail: detail.into(),
        }
    }

    /// The same entry with the error id of a refusal.
    pub fn with_error(mut self, id: ErrorId) -> Self {
        self.error_id = Some(id);
        self
    }

    /// The same entry about another subject.
    pub fn subject(mut self, subject: impl Into<String>) -> Self {
        self.subject = subject.into();
        self
    }
}

/// An entry of the audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AuditEntry {
    /// Its position, from 1.
    pub seq: i64,
    /// The entry's content.
    pub entry: NewAudit,
    /// The link to the previous entry: SHA-256 (v1) or HMAC-SHA-256 under the folder's key
    /// (v2) of the previous link and this entry's content.
    pub hash: [u8; 32],
    /// Whether the link is keyed (v2).
    pub keyed: bool,
}

const GENESIS: [u8; 32] = [0; 32];

/// The action of the entry from which the chain is keyed.
pub(crate) const KEYED_FROM: &str = "audit-chain-keyed";

/// Entries read at once by verification and export.
const PAGE: i64 = 1_000;

fn content(prev: &[u8; 32], seq: i64, e: &NewAudit, mut update: impl FnMut(&[u8])) {
    update(prev);
    update(&seq.to_be_bytes());
    update(&to_unix(e.at).to_be_bytes());
    let error_id = e.error_id.map(|id| id.to_string()).unwrap_or_default();
    for field in [
        e.actor.as_str(),
        &e.action,
        &e.subject,
        &error_id,
        &e.detail,
    ] {
        update(&(field.len() as u64).to_be_bytes());
        update(field.as_bytes());
    }
}

fn hash(prev: &[u8; 32], seq: i64, e: &NewAudit) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"websrm audit v1");
    content(prev, seq, e, |bytes| h.update(bytes));
    h.finalize().into()
}

fn mac(key: &[u8; 32], prev: &[u8; 32], seq: i64, e: &NewAudit) -> [u8; 32] {
    // HMAC takes a key of any length.
    let Ok(mut m) = Hmac::<Sha256>::new_from_slice(key) else {
        unreachable!("HMAC takes keys of any length")
    };
    m.update(b"websrm audit v2");
    content(prev, seq, e, |bytes| m.update(bytes));
    m.finalize().into_bytes().into()
}

/// What the registry knows of its audit chain: the key (once the authority gave it), where the
/// checkpoint goes, and the head this process appended.
#[derive(Default)]
pub(crate) struct AuditChain {
    key: RwLock<Option<Zeroizing<[u8; 32]>>>,
    checkpoint: RwLock<Option<PathBuf>>,
    /// The last entry appended in the batch being written (not yet committed).
    staged: Mutex<Option<Head>>,
    /// The last entry this process appended and saw committed.
    committed: Mutex<Option<Head>>,
    /// The checkpoint file once this process has written it, kept open to be overwritten in
    /// place by each commit (used by the writer's thread only).
    file: Mutex<Option<std::fs::File>>,
    /// The chain's last entry in the transaction in progress, once a write of its batch has
    /// appended one: the next appends of the batch link to it without reading it back (no
    /// other writer can append while the batch's transaction holds the write lock). Forgotten
    /// when the batch ends.
    tx_head: Mutex<Option<TxHead>>,
}

/// An entry's position, link, and whether it is keyed.
type TxHead = (i64, [u8; 32], bool);

/// What a write may change in the chain's state, put back if the write is undone.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Mark {
    staged: Option<Head>,
    tx_head: Option<TxHead>,
}

impl std::fmt::Debug for AuditChain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditChain").finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl AuditChain {
    /// Sets the key and the checkpoint's file; returns the head that file names (the last
    /// entry this process's folder saw committed), which the chain must still hold.
    pub(crate) fn set_key(&self, key: [u8; 32], checkpoint: Option<PathBuf>) -> Option<Head> {
        *self.key.write().unwrap_or_else(PoisonError::into_inner) = Some(Zeroizing::new(key));
        let head = checkpoint.as_deref().and_then(read_checkpoint_or_warn);
        *self
            .checkpoint
            .write()
            .unwrap_or_else(PoisonError::into_inner) = checkpoint;
        *lock(&self.file) = None;
        *lock(&self.committed) = head;
        *lock(&self.staged) = head;
        head
    }

    /// The last entry this process saw committed (or its checkpoint named at start).
    fn committed(&self) -> Option<Head> {
        *lock(&self.committed)
    }

    fn key(&self) -> Option<Zeroizing<[u8; 32]>> {
        self.key
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn checkpoint_path(&self) -> Option<PathBuf> {
        self.checkpoint
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The head staged so far in the current batch, to put back if a write is undone.
    pub(crate) fn mark(&self) -> Mark {
        Mark {
            staged: *lock(&self.staged),
            tx_head: *lock(&self.tx_head),
        }
    }

    /// Puts back what a write undone (its savepoint rolled back to) had appended.
    pub(crate) fn undo_to(&self, mark: Mark) {
        *lock(&self.staged) = mark.staged;
        *lock(&self.tx_head) = mark.tx_head;
    }

    /// An entry appended in the batch's transaction.
    fn appended(&self, seq: i64, link: [u8; 32], keyed: bool) {
        *lock(&self.staged) = Some((seq, link));
        *lock(&self.tx_head) = Some((seq, link, keyed));
    }

    fn tx_head(&self) -> Option<TxHead> {
        *lock(&self.tx_head)
    }

    /// After a batch: committed, its last entry is written into the checkpoint (before any of
    /// the batch's callers is answered); rolled back, what it staged is forgotten.
    pub(crate) fn after_commit(&self, committed: bool) {
        *lock(&self.tx_head) = None;
        let staged = *lock(&self.staged);
        let mut last = lock(&self.committed);
        if !committed {
            *lock(&self.staged) = *last;
            return;
        }
        let Some((seq, link)) = staged else { return };
        if last.is_some_and(|(done, _)| done >= seq) {
            return;
        }
        *last = Some((seq, link));
        if let Some(path) = self.checkpoint_path()
            && let Err(e) = write_checkpoint(&path, &mut lock(&self.file), seq, &link)
        {
            // The log itself is committed; verification will find the checkpoint behind it.
            tracing_free_warning(&path, &e);
        }
    }
}

/// The store has no logger: a checkpoint that could not be written is reported on standard
/// error, once per failure, and caught by the next verification as a checkpoint behind the log.
fn tracing_free_warning(path: &Path, e: &std::io::Error) {
    #[allow(clippy::print_stderr)]
    {
        eprintln!(
            "websrm: could not write the audit checkpoint {}: {e}",
            path.display()
        );
    }
}

/// The checkpoint's record, padded with line ends to this length so that each one overwrites
/// the last whole.
const CHECKPOINT_LEN: usize = 128;

/// The checkpoint file: `websrm audit checkpoint`, then the position and the link (hex), padded
/// with line ends to [`CHECKPOINT_LEN`]. Created under a temporary name and renamed, so that it
/// is always whole, it is then kept open and its record overwritten in place at each commit:
/// one write, where creating and renaming a file at every commit cost the writer's thread a
/// tenth of its time. A file removed or renamed over meanwhile (by another process of the
/// folder) is opened again by its name.
fn write_checkpoint(
    path: &Path,
    open: &mut Option<std::fs::File>,
    seq: i64,
    link: &[u8; 32],
) -> std::io::Result<()> {
    use std::io::{Seek as _, SeekFrom, Write as _};
    let mut record = format!("websrm audit checkpoint\n{seq} {}\n", hex(link)).into_bytes();
    record.resize(CHECKPOINT_LEN.max(record.len()), b'\n');
    let file = match open.take().filter(still_named) {
        Some(file) => file,
        None => match std::fs::OpenOptions::new().write(true).open(path) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return create_checkpoint(path, &record);
            }
            Err(e) => return Err(e),
        },
    };
    (&file).seek(SeekFrom::Start(0))?;
    (&file).write_all(&record)?;
    *open = Some(file);
    Ok(())
}

/// Writes the first checkpoint whole: under a temporary name, then renamed.
fn create_checkpoint(path: &Path, record: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    // A name of this process's own: the processes of an authority that share one folder (one
    // machine) each write the checkpoint of their own head.
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(".{}.tmp", std::process::id()));
    let tmp = PathBuf::from(tmp);
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(&tmp)?;
    file.write_all(record)?;
    drop(file);
    std::fs::rename(&tmp, path)
}

/// Whether the kept checkpoint file is still the folder's (not removed nor renamed over).
#[cfg(unix)]
fn still_named(file: &std::fs::File) -> bool {
    use std::os::unix::fs::MetadataExt as _;
    file.metadata().is_ok_and(|m| m.nlink() > 0)
}

/// Elsewhere the file is opened again by its name at each commit.
#[cfg(not(unix))]
fn still_named(_: &std::fs::File) -> bool {
    false
}

/// The checkpoint, or none when there is none or it cannot be read: a checkpoint damaged by a
/// power cut (it is not synced, to keep one flush per commit) is reported and set aside; the
/// next commit writes it again.
fn read_checkpoint_or_warn(path: &Path) -> Option<Head> {
    match read_checkpoint(path) {
        Ok(head) => head,
        Err(e) => {
            #[allow(clippy::print_stderr)]
            {
                eprintln!("websrm: the audit checkpoint is set aside: {e}");
            }
            None
        }
    }
}

fn read_checkpoint(path: &Path) -> Result<Option<Head>, Error> {
    let text = match read_stable(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(Error::Io {
                action: "reading",
                path: path.display().to_string(),
                cause: Source::new(e),
            });
        }
    };
    let corrupt = || Error::Corrupt {
        table: "audit checkpoint",
        column: "head",
        value: text.clone(),
    };
    let mut lines = text.lines();
    if lines.next() != Some("websrm audit checkpoint") {
        return Err(corrupt());
    }
    let (seq, link) = lines
        .next()
        .and_then(|l| l.split_once(' '))
        .ok_or_else(corrupt)?;
    let seq: i64 = seq.parse().map_err(|_| corrupt())?;
    let link = unhex(link).ok_or_else(corrupt)?;
    Ok(Some((seq, link)))
}

/// The file's text, read until two reads agree: the record is overwritten in place, and a read
/// that met a write half done would otherwise see half of each.
fn read_stable(path: &Path) -> std::io::Result<String> {
    let mut last = std::fs::read_to_string(path)?;
    for _ in 0..8 {
        let again = std::fs::read_to_string(path)?;
        if again == last {
            break;
        }
        last = again;
    }
    Ok(last)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex(text: &str) -> Option<[u8; 32]> {
    if text.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

/// Appends `e` after the last entry: keyed when the registry knows its key. On PostgreSQL the
/// caller holds the registry's write lock (every write transaction takes it first), so two
/// processes never read the same last entry: the chain has one head.
pub(crate) fn append(db: &mut dyn Db, e: &NewAudit) -> Result<AuditEntry, Error> {
    let (seq, prev, prev_keyed) = match db.audit_chain().and_then(AuditChain::tx_head) {
        // Appended earlier in this transaction.
        Some((seq, link, keyed)) => (seq + 1, link, keyed),
        None => match db.row(
            "SELECT seq, hash, keyed FROM audit_log ORDER BY seq DESC LIMIT 1",
            &[],
        )? {
            Some(row) => {
                let seq = row.int(0)?;
                (seq + 1, to_hash(seq, &row.blob(1)?)?, row.int(2)? != 0)
            }
            None => (1, GENESIS, false),
        },
    };
    let key = db.audit_chain().and_then(AuditChain::key);
    // Never below an entry already seen committed: the log was cut since (entries deleted by
    // someone who dropped the guard), and writing there would hide it behind a new checkpoint.
    if let Some((seen, _)) = db.audit_chain().and_then(AuditChain::committed)
        && seq <= seen
    {
        return Err(Error::AuditTruncated {
            last: seq - 1,
            checkpoint: seen,
        });
    }
    let (link, keyed) = match &key {
        Some(key) => (mac(key, &prev, seq, e), true),
        // A keyed chain is never continued without its key.
        None if prev_keyed => return Err(Error::AuditKeyRequired),
        None => (hash(&prev, seq, e), false),
    };
    db.execute(
        "INSERT INTO audit_log (seq, at, actor, action, subject, error_id, detail, prev_hash, hash, keyed) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        vals![
            seq,
            to_unix(e.at),
            &e.actor,
            &e.action,
            &e.subject,
            e.error_id.map(|id| id.to_string()),
            &e.detail,
            prev.as_slice(),
            link.as_slice(),
            i64::from(keyed)
        ],
    )?;
    if let Some(chain) = db.audit_chain() {
        chain.appended(seq, link, keyed);
    }
    Ok(AuditEntry {
        seq,
        entry: e.clone(),
        hash: link,
        keyed,
    })
}

/// Keys the chain from now on: unless an entry is keyed already, the unkeyed chain so far is
/// verified, then the marking entry is appended under the key. Runs in a write, so that
/// processes starting together mark the chain once.
pub(crate) fn key_chain(
    db: &mut dyn Db,
    checkpoint: Option<Head>,
    at: OffsetDateTime,
) -> Result<(), Error> {
    // The entry the checkpoint names must still be there, as it was: a log cut or rewritten
    // while the authority was stopped is refused before anything is added to it.
    if let Some((seq, link)) = checkpoint {
        match db.row("SELECT hash FROM audit_log WHERE seq = ?1", vals![seq])? {
            Some(row) if to_hash(seq, &row.blob(0)?)? == link => {}
            // Rewritten: the first entry that does not verify is the one to name.
            Some(_) => {
                let key = db.audit_chain().and_then(AuditChain::key);
                verify_pages(db, key.as_deref(), None)?;
                return Err(Error::AuditChainBroken { seq });
            }
            None => {
                let last = db.count("SELECT coalesce(max(seq), 0) FROM audit_log", &[])?;
                return Err(Error::AuditTruncated {
                    last,
                    checkpoint: seq,
                });
            }
        }
    }
    let keyed = db.count("SELECT count(*) FROM audit_log WHERE keyed = 1", &[])?;
    if keyed > 0 {
        return Ok(());
    }
    let before = verify_pages(db, None, None)?;
    append(
        db,
        &NewAudit::new(
            at,
            "registry",
            KEYED_FROM,
            "-",
            format!(
                "the chain is keyed from this entry; {before} entries before it are linked by SHA-256"
            ),
        ),
    )?;
    Ok(())
}

fn to_hash(seq: i64, bytes: &[u8]) -> Result<[u8; 32], Error> {
    bytes
        .try_into()
        .map_err(|_| Error::AuditChainBroken { seq })
}

type RawRow = (
    i64,
    i64,
    String,
    String,
    String,
    Option<String>,
    String,
    Vec<u8>,
    Vec<u8>,
    i64,
);

/// At most `PAGE` entries from `from`, at or after `since`.
fn page(db: &mut dyn Db, from: i64, since: Option<OffsetDateTime>) -> Result<Vec<RawRow>, Error> {
    db.query(
        "SELECT seq, at, actor, action, subject, error_id, detail, prev_hash, hash, keyed \
         FROM audit_log WHERE seq >= ?1 AND at >= ?2 ORDER BY seq LIMIT ?3",
        vals![from, since.map_or(i64::MIN, to_unix), PAGE],
    )?
    .into_iter()
    .map(|r| {
        Ok((
            r.int(0)?,
            r.int(1)?,
            r.text(2)?,
            r.text(3)?,
            r.text(4)?,
            r.opt_text(5)?,
            r.text(6)?,
            r.blob(7)?,
            r.blob(8)?,
            r.int(9)?,
        ))
    })
    .collect()
}

fn entry(row: RawRow) -> Result<(AuditEntry, [u8; 32]), Error> {
    let (seq, at, actor, action, subject, error_id, detail, prev, hash, keyed) = row;
    let entry = NewAudit {
        at: from_unix("audit_log", "at", at)?,
        actor,
        action,
        subject,
        error_id: error_id
            .map(|e| parse("audit_log", "error_id", &e))
            .transpose()?,
        detail,
    };
    Ok((
        AuditEntry {
            seq,
            entry,
            hash: to_hash(seq, &hash)?,
            keyed: keyed != 0,
        },
        to_hash(seq, &prev)?,
    ))
}

/// The entries from `from` (1 is the first) at or after `since`, a page at a time, to `each`.
pub(crate) fn for_each(
    read: &dyn Fn(i64) -> Result<Vec<AuditEntry>, Error>,
    mut each: impl FnMut(AuditEntry) -> Result<(), Error>,
    from: i64,
) -> Result<(), Error> {
    let mut next = from;
    loop {
        let entries = read(next)?;
        let Some(last) = entries.last().map(|e| e.seq) else {
            return Ok(());
        };
        for e in entries {
            each(e)?;
        }
        next = last + 1;
    }
}

/// One page of entries from `from`, at or after `since`.
pub(crate) fn entries(
    db: &mut dyn Db,
    from: i64,
    since: Option<OffsetDateTime>,
) -> Result<Vec<AuditEntry>, Error> {
    page(db, from, since)?
        .into_iter()
        .map(|r| entry(r).map(|(e, _)| e))
        .collect()
}

/// Where verification has got to.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Progress {
    prev: [u8; 32],
    expected: i64,
    keyed_seen: bool,
    checkpoint_seen: bool,
}

impl Progress {
    pub(crate) fn start() -> Self {
        Self {
            prev: GENESIS,
            expected: 1,
            keyed_seen: false,
            checkpoint_seen: false,
        }
    }
}

/// Verifies one page of entries from `progress`; returns how many it held (0 at the end).
pub(crate) fn verify_page(
    db: &mut dyn Db,
    key: Option<&[u8; 32]>,
    checkpoint: Option<Head>,
    progress: &mut Progress,
) -> Result<usize, Error> {
    let rows = page(db, progress.expected, None)?;
    let count = rows.len();
    for row in rows {
        let seq = row.0;
        let broken = Error::AuditChainBroken { seq };
        let (entry, stored_prev) = entry(row).map_err(|_| broken.clone())?;
        if seq != progress.expected || stored_prev != progress.prev {
            return Err(broken);
        }
        let link = if entry.keyed {
            let key = key.ok_or(Error::AuditKeyRequired)?;
            progress.keyed_seen = true;
            mac(key, &progress.prev, seq, &entry.entry)
        } else if progress.keyed_seen {
            // An unkeyed entry after the chain was keyed: forged by whoever had no key.
            return Err(broken);
        } else {
            hash(&progress.prev, seq, &entry.entry)
        };
        if link != entry.hash {
            return Err(broken);
        }
        if let Some((at, expected)) = checkpoint
            && at == seq
        {
            if expected != link {
                return Err(broken);
            }
            progress.checkpoint_seen = true;
        }
        progress.prev = link;
        progress.expected += 1;
    }
    Ok(count)
}

/// Verifies the whole chain a page at a time on `db`; how many entries it holds.
fn verify_pages(
    db: &mut dyn Db,
    key: Option<&[u8; 32]>,
    checkpoint: Option<Head>,
) -> Result<u64, Error> {
    let mut progress = Progress::start();
    while verify_page(db, key, checkpoint, &mut progress)? > 0 {}
    finish(&progress, checkpoint)
}

/// The end of verification: the checkpoint's entry must have been met.
pub(crate) fn finish(progress: &Progress, checkpoint: Option<Head>) -> Result<u64, Error> {
    let entries = progress.expected - 1;
    if let Some((at, _)) = checkpoint
        && !progress.checkpoint_seen
    {
        return Err(Error::AuditTruncated {
            last: entries,
            checkpoint: at,
        });
    }
    Ok(entries.unsigned_abs())
}

/// An entry's position and link, as a checkpoint records them.
pub(crate) type Head = (i64, [u8; 32]);

/// The audit chain's key.
pub(crate) type Key = Zeroizing<[u8; 32]>;

/// The key and checkpoint verification uses.
pub(crate) fn verification(chain: &AuditChain) -> Result<(Option<Key>, Option<Head>), Error> {
    let checkpoint = chain
        .checkpoint_path()
        .as_deref()
        .and_then(read_checkpoint_or_warn);
    Ok((chain.key(), checkpoint))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_checkpoint_reads_back_what_was_written_and_a_damaged_one_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.checkpoint");
        assert_eq!(read_checkpoint(&path).unwrap(), None);
        let mut open = None;
        write_checkpoint(&path, &mut open, 42, &[7; 32]).unwrap();
        assert_eq!(read_checkpoint(&path).unwrap(), Some((42, [7; 32])));
        // Overwritten in place, a shorter position leaves nothing of the longer one.
        write_checkpoint(&path, &mut open, 100_000, &[8; 32]).unwrap();
        write_checkpoint(&path, &mut open, 99, &[9; 32]).unwrap();
        assert_eq!(read_checkpoint(&path).unwrap(), Some((99, [9; 32])));
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 128);
        // Removed while kept open, it is created again.
        std::fs::remove_file(&path).unwrap();
        write_checkpoint(&path, &mut open, 100, &[1; 32]).unwrap();
        assert_eq!(read_checkpoint(&path).unwrap(), Some((100, [1; 32])));
        // Renamed over by another process, the new file is the one written.
        std::fs::write(dir.path().join("other"), "websrm audit checkpoint\n7 x\n").unwrap();
        std::fs::rename(dir.path().join("other"), &path).unwrap();
        write_checkpoint(&path, &mut open, 101, &[2; 32]).unwrap();
        assert_eq!(read_checkpoint(&path).unwrap(), Some((101, [2; 32])));
        // Two processes of one folder write the same file in turn, each its own head, without
        // replacing it under the other.
        let mut other = None;
        write_checkpoint(&path, &mut other, 102, &[3; 32]).unwrap();
        #[cfg(unix)]
        let inode = {
            use std::os::unix::fs::MetadataExt as _;
            || std::fs::metadata(&path).unwrap().ino()
        };
        #[cfg(unix)]
        let first = inode();
        for seq in 103..110 {
            let turn = if seq % 2 == 0 { &mut open } else { &mut other };
            write_checkpoint(&path, turn, seq, &[4; 32]).unwrap();
            assert_eq!(read_checkpoint(&path).unwrap(), Some((seq, [4; 32])));
        }
        #[cfg(unix)]
        assert_eq!(inode(), first);
        std::fs::write(&path, "websrm audit checkpoint\n42 zz\n").unwrap();
        assert!(matches!(read_checkpoint(&path), Err(Error::Corrupt { .. })));
    }
}
