//! What the `utilisateur` and `document` services record: the user accounts an SRS declares on
//! a device (added, removed, and added again), and the documents it sends (user reports,
//! habitual third-party declarations), each once by its signature, so that a request sent again
//! after a lost answer gets the same document number.

use super::*;
use crate::audit::{self, AuditEntry, NewAudit};
use crate::sql::vals;

/// A change to a user account (`utilisateur` `AJO` or `SUP`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct UserChange {
    /// The environment.
    pub environment: Environment,
    /// The operator whose account it is.
    pub operator: OperatorId,
    /// The device (`IDAPPRL`) the account is declared on.
    pub device_id: DeviceId,
    /// `nomUtil`.
    pub name: String,
    /// `true` to add (`AJO`), `false` to remove (`SUP`).
    pub add: bool,
}

impl UserChange {
    /// A change to record.
    pub fn new(
        environment: Environment,
        operator: OperatorId,
        device_id: DeviceId,
        name: impl Into<String>,
        add: bool,
    ) -> Self {
        Self {
            environment,
            operator,
            device_id,
            name: name.into(),
            add,
        }
    }
}

/// A document to record (`document` `RUT` or `HAB`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReceivedDocument {
    /// The environment.
    pub environment: Environment,
    /// `typDoc`: `RUT` or `HAB`.
    pub kind: String,
    /// `SI`: what identifies it.
    pub signature: String,
    /// `IDAPPRL` of the request.
    pub device_id: DeviceId,
    /// The operator who sent it.
    pub operator: OperatorId,
    /// `doc`, as received.
    pub doc: String,
}

impl ReceivedDocument {
    /// A document to record.
    pub fn new(
        environment: Environment,
        kind: impl Into<String>,
        signature: impl Into<String>,
        device_id: DeviceId,
        operator: OperatorId,
        doc: impl Into<String>,
    ) -> Self {
        Self {
            environment,
            kind: kind.into(),
            signature: signature.into(),
            device_id,
            operator,
            doc: doc.into(),
        }
    }
}

/// A document as the registry holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct RecordedDocument {
    /// Its number in the registry, from 1: the authority's `noDoc`.
    pub id: i64,
    /// Whether this request recorded it (`false`: it had come before).
    pub new: bool,
}

impl Registry {
    /// Records a user account added or removed, with its audit entry, in one write. Adding an
    /// account the device already has, or removing one it does not, changes nothing (a request
    /// sent again after a lost answer). Returns whether anything changed.
    pub fn record_user_change(&self, change: UserChange, entry: NewAudit) -> Result<bool, Error> {
        self.write(move |tx| {
            let at = db::to_unix(entry.at);
            let appended = audit::append(tx, &entry)?;
            let changed = if change.add {
                tx.execute(
                    "INSERT INTO users (environment, operator_id, device_id, name, added_at, audit_seq) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6) \
                     ON CONFLICT (environment, operator_id, device_id, name) WHERE removed_at IS NULL DO NOTHING",
                    vals![
                        change.environment.as_str(),
                        change.operator.0,
                        change.device_id.to_string(),
                        &change.name,
                        at,
                        appended.seq
                    ],
                )?
            } else {
                tx.execute(
                    "UPDATE users SET removed_at = ?5 WHERE environment = ?1 AND operator_id = ?2 \
                     AND device_id = ?3 AND name = ?4 AND removed_at IS NULL",
                    vals![
                        change.environment.as_str(),
                        change.operator.0,
                        change.device_id.to_string(),
                        &change.name,
                        at
                    ],
                )?
            };
            Ok(changed > 0)
        })
    }

    /// The user accounts in force on `device` for `operator`, by name.
    pub fn users_of(
        &self,
        environment: Environment,
        operator: OperatorId,
        device_id: DeviceId,
    ) -> Result<Vec<String>, Error> {
        let (env, device) = (environment.as_str(), device_id.to_string());
        self.read(move |db| {
            db.query(
                "SELECT name FROM users WHERE environment = ?1 AND operator_id = ?2 \
                 AND device_id = ?3 AND removed_at IS NULL ORDER BY name",
                vals![env, operator.0, &device],
            )?
            .iter()
            .map(|r| r.text(0))
            .collect()
        })
    }

    /// Records a document and its audit entry in one write; one already recorded in its
    /// environment (same signature) keeps its first record and number.
    pub fn record_document(
        &self,
        document: ReceivedDocument,
        entry: NewAudit,
    ) -> Result<(AuditEntry, RecordedDocument), Error> {
        self.write(move |tx| {
            let at = db::to_unix(entry.at);
            let appended = audit::append(tx, &entry)?;
            let inserted = tx.execute(
                "INSERT INTO documents (environment, kind, signature, device_id, operator_id, doc, \
                 received_at, audit_seq) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) \
                 ON CONFLICT (environment, signature) DO NOTHING",
                vals![
                    document.environment.as_str(),
                    &document.kind,
                    &document.signature,
                    document.device_id.to_string(),
                    document.operator.0,
                    &document.doc,
                    at,
                    appended.seq
                ],
            )?;
            let id = tx
                .row(
                    "SELECT id FROM documents WHERE environment = ?1 AND signature = ?2",
                    vals![document.environment.as_str(), &document.signature],
                )?
                .ok_or_else(|| Error::Database {
                    cause: Source::text("a document just recorded cannot be read"),
                })?
                .int(0)?;
            Ok((
                appended,
                RecordedDocument {
                    id,
                    new: inserted == 1,
                },
            ))
        })
    }

    /// How many documents were received in `environment`.
    pub fn document_count(&self, environment: Environment) -> Result<u64, Error> {
        let env = environment.as_str();
        let n = self.read(move |db| {
            db.count(
                "SELECT count(*) FROM documents WHERE environment = ?1",
                vals![env],
            )
        })?;
        Ok(n.unsigned_abs())
    }
}
