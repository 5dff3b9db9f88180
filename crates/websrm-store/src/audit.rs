//! The authority's append-only audit log, each entry chained to the previous one by SHA-256 so
//! that altering, removing or reordering entries is detectable.

use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use websrm_domain::ErrorId;

use crate::Error;
use crate::db::{from_unix, parse, to_unix};
use crate::sql::{Db, vals};

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
    /// SHA-256 of the previous entry's hash and this entry's content.
    pub hash: [u8; 32],
}

const GENESIS: [u8; 32] = [0; 32];

fn hash(prev: &[u8; 32], seq: i64, e: &NewAudit) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"websrm audit v1");
    h.update(prev);
    h.update(seq.to_be_bytes());
    h.update(to_unix(e.at).to_be_bytes());
    let error_id = e.error_id.map(|id| id.to_string()).unwrap_or_default();
    for field in [
        e.actor.as_str(),
        &e.action,
        &e.subject,
        &error_id,
        &e.detail,
    ] {
        h.update((field.len() as u64).to_be_bytes());
        h.update(field.as_bytes());
    }
    h.finalize().into()
}

/// Appends `e` after the last entry. On PostgreSQL the caller holds the registry's write lock
/// (every write transaction takes it first), so two processes never read the same last entry:
/// the chain has one head.
pub(crate) fn append(db: &mut dyn Db, e: &NewAudit) -> Result<AuditEntry, Error> {
    let last = db.row(
        "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1",
        &[],
    )?;
    let (seq, prev) = match last {
        Some(row) => {
            let seq = row.int(0)?;
            (seq + 1, to_hash(seq, &row.blob(1)?)?)
        }
        None => (1, GENESIS),
    };
    let hash = hash(&prev, seq, e);
    db.execute(
        "INSERT INTO audit_log (seq, at, actor, action, subject, error_id, detail, prev_hash, hash) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        vals![
            seq,
            to_unix(e.at),
            &e.actor,
            &e.action,
            &e.subject,
            e.error_id.map(|id| id.to_string()),
            &e.detail,
            prev.as_slice(),
            hash.as_slice()
        ],
    )?;
    Ok(AuditEntry {
        seq,
        entry: e.clone(),
        hash,
    })
}

fn to_hash(seq: i64, bytes: &[u8]) -> Result<[u8; 32], Error> {
    bytes
        .try_into()
        .map_err(|_| Error::AuditChainBroken { seq })
}

type Row = (
    i64,
    i64,
    String,
    String,
    String,
    Option<String>,
    String,
    Vec<u8>,
    Vec<u8>,
);

fn rows(db: &mut dyn Db, from: i64) -> Result<Vec<Row>, Error> {
    db.query(
        "SELECT seq, at, actor, action, subject, error_id, detail, prev_hash, hash FROM audit_log \
         WHERE seq >= ?1 ORDER BY seq",
        vals![from],
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
        ))
    })
    .collect()
}

fn entry(row: Row) -> Result<(AuditEntry, [u8; 32]), Error> {
    let (seq, at, actor, action, subject, error_id, detail, prev, hash) = row;
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
        },
        to_hash(seq, &prev)?,
    ))
}

pub(crate) fn entries(db: &mut dyn Db, from: i64) -> Result<Vec<AuditEntry>, Error> {
    rows(db, from)?
        .into_iter()
        .map(|r| entry(r).map(|(e, _)| e))
        .collect()
}

pub(crate) fn verify(db: &mut dyn Db) -> Result<u64, Error> {
    let mut prev = GENESIS;
    let mut expected_seq = 1;
    for row in rows(db, 1)? {
        let seq = row.0;
        let (entry, stored_prev) = entry(row).map_err(|_| Error::AuditChainBroken { seq })?;
        if seq != expected_seq
            || stored_prev != prev
            || hash(&prev, seq, &entry.entry) != entry.hash
        {
            return Err(Error::AuditChainBroken { seq });
        }
        prev = entry.hash;
        expected_seq += 1;
    }
    Ok((expected_seq - 1) as u64)
}
