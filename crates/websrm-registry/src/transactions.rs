//! Transactions the authority received: each recorded once, known by its `actu` (a signature no
//! other transaction has), with the batch it came in; the same transaction sent again (its
//! answer lost, then resent in a batch) keeps its first record.

use super::*;
use crate::audit::{self, AuditEntry, NewAudit};
use crate::sql::vals;

/// A transaction the authority accepted, to record.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReceivedTransaction {
    /// The environment.
    pub environment: Environment,
    /// `signa.actu`: what identifies it.
    pub actu: String,
    /// `noTrans`.
    pub no_trans: String,
    /// `datTrans` (`AAAAMMJJhhmmss`).
    pub dat_trans: String,
    /// `IDAPPRL` of the request.
    pub device_id: DeviceId,
    /// `emprCertifSEV`: the certificate that signed it.
    pub signer: Thumbprint,
    /// Whether it came in a batch (`transLot`).
    pub batched: bool,
    /// The transaction's JSON, as received.
    pub body: String,
}

impl ReceivedTransaction {
    /// A transaction to record.
    #[allow(clippy::too_many_arguments)] // What a transaction is recorded with.
    pub fn new(
        environment: Environment,
        actu: impl Into<String>,
        no_trans: impl Into<String>,
        dat_trans: impl Into<String>,
        device_id: DeviceId,
        signer: Thumbprint,
        batched: bool,
        body: impl Into<String>,
    ) -> Self {
        Self {
            environment,
            actu: actu.into(),
            no_trans: no_trans.into(),
            dat_trans: dat_trans.into(),
            device_id,
            signer,
            batched,
            body: body.into(),
        }
    }
}

/// A transaction as the registry holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RecordedTransaction {
    /// Its number in the registry, from 1: the authority's transaction number is made from it.
    pub id: i64,
    /// When it was first received.
    pub received_at: OffsetDateTime,
    /// The audit entry of the request that first brought it.
    pub audit_seq: i64,
    /// Whether this request recorded it (`false`: it had come before).
    pub new: bool,
}

impl Registry {
    /// Records the transactions of one request and its audit entry in one write. A transaction
    /// already recorded in its environment (same `actu`) is not recorded again: its first
    /// record comes back with `new` false. Returns the audit entry and each record, in order.
    pub fn record_transactions(
        &self,
        transactions: Vec<ReceivedTransaction>,
        entry: NewAudit,
    ) -> Result<(AuditEntry, Vec<RecordedTransaction>), Error> {
        self.write(move |tx| {
            let at = db::to_unix(entry.at);
            let appended = audit::append(tx, &entry)?;
            let mut recorded = Vec::with_capacity(transactions.len());
            for t in &transactions {
                let inserted = tx.execute(
                    "INSERT INTO transactions (environment, actu, no_trans, dat_trans, device_id, signer, \
                     batched, body, received_at, audit_seq) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) \
                     ON CONFLICT (environment, actu) DO NOTHING",
                    vals![
                        t.environment.as_str(),
                        &t.actu,
                        &t.no_trans,
                        &t.dat_trans,
                        t.device_id.to_string(),
                        t.signer.to_string(),
                        t.batched,
                        &t.body,
                        at,
                        appended.seq
                    ],
                )?;
                let row = tx
                    .row(
                        "SELECT id, received_at, audit_seq FROM transactions WHERE environment = ?1 AND actu = ?2",
                        vals![t.environment.as_str(), &t.actu],
                    )?
                    .ok_or_else(|| Error::Database {
                        cause: Source::text("a transaction just recorded cannot be read"),
                    })?;
                recorded.push(RecordedTransaction {
                    id: row.int(0)?,
                    received_at: db::from_unix("transactions", "received_at", row.int(1)?)?,
                    audit_seq: row.int(2)?,
                    new: inserted == 1,
                });
            }
            Ok((appended, recorded))
        })
    }

    /// How many transactions were received in `environment`.
    pub fn transaction_count(&self, environment: Environment) -> Result<u64, Error> {
        let env = environment.as_str();
        let n = self.read(move |db| {
            db.count(
                "SELECT count(*) FROM transactions WHERE environment = ?1",
                vals![env],
            )
        })?;
        Ok(n.unsigned_abs())
    }
}
