//! Answers remembered by idempotency key: a request that carried a key, retried after its answer
//! was lost, gets the first answer again instead of a second effect. A signature's answer is
//! written in the same transaction as its link, so that no crash can separate them.

use super::*;

/// An answer remembered under an idempotency key.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RememberedAnswer {
    /// The operation the key was first used for (e.g. `POST /v1/signatures`).
    pub operation: String,
    /// A digest of the request the key was first used with.
    pub digest: String,
    /// The answer's status.
    pub status: u16,
    /// The answer's body.
    pub body: String,
    /// When it was remembered.
    pub created_at: OffsetDateTime,
}

impl RememberedAnswer {
    /// An answer to remember now.
    pub fn new(
        operation: impl Into<String>,
        digest: impl Into<String>,
        status: u16,
        body: impl Into<String>,
        created_at: OffsetDateTime,
    ) -> Self {
        Self {
            operation: operation.into(),
            digest: digest.into(),
            status,
            body: body.into(),
            created_at,
        }
    }
}

/// What [`DeviceStore::extend_chain_once`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Extension {
    /// The chain was extended and the answer remembered with the link.
    Extended(ChainLink),
    /// The key had been used before: nothing was signed, and this is what was remembered.
    Remembered(RememberedAnswer),
}

impl DeviceStore {
    /// The answer remembered under `key`, if any.
    pub fn remembered_answer(&self, key: &str) -> Result<Option<RememberedAnswer>, Error> {
        read(&self.conn, key)
    }

    /// Remembers `answer` under `key`. A key already used keeps its first answer; `Ok(false)`
    /// says so.
    pub fn remember_answer(&mut self, key: &str, answer: &RememberedAnswer) -> Result<bool, Error> {
        let tx = db::write_tx(&mut self.conn)?;
        let inserted = insert(&tx, key, answer)?;
        tx.commit()?;
        Ok(inserted)
    }

    /// Forgets the answers remembered before `before`; returns how many.
    pub fn forget_answers_before(&mut self, before: OffsetDateTime) -> Result<usize, Error> {
        let tx = db::write_tx(&mut self.conn)?;
        let n = tx.execute_cached(
            "DELETE FROM answers WHERE created_at < ?1",
            params![to_unix(before)],
        )?;
        tx.commit()?;
        Ok(n)
    }

    /// [`extend_chain`](Self::extend_chain) once per idempotency key, in one transaction: if
    /// `key` was used before, nothing is signed and the remembered answer is returned; otherwise
    /// the link is added and `answer` (which `render` makes from the link) is remembered with
    /// it, so that a crash after the commit still finds it.
    pub fn extend_chain_once(
        &mut self,
        chain: &ChainKey,
        key: &str,
        sign: impl FnOnce(Option<&str>) -> Result<String, Error>,
        render: impl FnOnce(&ChainLink) -> RememberedAnswer,
    ) -> Result<Extension, Error> {
        let tx = db::write_tx(&mut self.conn)?;
        if let Some(answer) = read(&tx, key)? {
            return Ok(Extension::Remembered(answer));
        }
        let link = identity::extend_in(&tx, chain, sign)?;
        insert(&tx, key, &render(&link))?;
        tx.commit()?;
        Ok(Extension::Extended(link))
    }
}

pub(super) fn read(conn: &Connection, key: &str) -> Result<Option<RememberedAnswer>, Error> {
    let row: Option<(String, String, i64, String, i64)> = optional(conn.query_row_cached(
        "SELECT operation, digest, status, body, created_at FROM answers WHERE key = ?1",
        params![key],
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
    ))?;
    row.map(|(operation, digest, status, body, at)| {
        Ok(RememberedAnswer {
            operation,
            digest,
            status: u16::try_from(status).unwrap_or(500),
            body,
            created_at: from_unix("answers", "created_at", at)?,
        })
    })
    .transpose()
}

pub(super) fn insert(
    conn: &Connection,
    key: &str,
    answer: &RememberedAnswer,
) -> Result<bool, Error> {
    let n = conn.execute_cached(
        "INSERT INTO answers (key, operation, digest, status, body, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6) \
         ON CONFLICT (key) DO NOTHING",
        params![
            key,
            answer.operation,
            answer.digest,
            i64::from(answer.status),
            answer.body,
            to_unix(answer.created_at)
        ],
    )?;
    Ok(n == 1)
}
