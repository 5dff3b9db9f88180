//! The outbox: every transaction written with its signature link, in one store transaction,
//! before anything is sent; what the authority answered for it; and whether the SRS is in
//! offline mode. A pending transaction is never altered (it goes again exactly as signed) and
//! never purged.

use super::*;

/// Where a transaction of the outbox stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum OutboxState {
    /// Not yet received by the authority: it goes with the next request.
    Pending,
    /// Received: the authority's number for it (or for its batch) is in the receipt.
    Sent,
    /// Refused: it is not sent again.
    Refused,
}

impl OutboxState {
    fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Sent => "sent",
            Self::Refused => "refused",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "pending" => Self::Pending,
            "sent" => Self::Sent,
            "refused" => Self::Refused,
            _ => return None,
        })
    }
}

/// The proof that the authority received a transaction: `psiNoTrans` and `psiDatTrans` for a
/// current transaction, `noLot` and `datLot` for a batched one.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Receipt {
    /// `psiNoTrans`, or `noLot` for a batch.
    pub number: String,
    /// `psiDatTrans`, or `datLot` for a batch (`AAAAMMJJhhmmss`, Québec time).
    pub date: String,
    /// Whether it came in a batch.
    pub batch: bool,
}

impl Receipt {
    /// A receipt.
    pub fn new(number: impl Into<String>, date: impl Into<String>, batch: bool) -> Self {
        Self {
            number: number.into(),
            date: date.into(),
            batch,
        }
    }
}

/// A transaction to write into the outbox, made from its signature link.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct NewTransaction {
    /// `noTrans`.
    pub no_trans: String,
    /// `noTPS` (the request's `NOTPS` header).
    pub gst: String,
    /// The signed transaction's JSON, exactly as it goes on the wire.
    pub body: String,
}

impl NewTransaction {
    /// A transaction to write.
    pub fn new(
        no_trans: impl Into<String>,
        gst: impl Into<String>,
        body: impl Into<String>,
    ) -> Self {
        Self {
            no_trans: no_trans.into(),
            gst: gst.into(),
            body: body.into(),
        }
    }
}

/// A transaction of the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct OutboxEntry {
    /// Its place in the outbox: recording order.
    pub id: i64,
    /// The certificate slot whose key signed it.
    pub slot: SlotKey,
    /// The device it started on (`IDAPPRL`).
    pub device: DeviceId,
    /// `noTrans`.
    pub no_trans: String,
    /// `noTPS`.
    pub gst: String,
    /// `actu`.
    pub actu: String,
    /// The signed transaction's JSON.
    pub body: String,
    /// When it was recorded.
    pub recorded_at: OffsetDateTime,
    /// How many requests carried it.
    pub attempts: u32,
    /// Where it stands.
    pub state: OutboxState,
    /// The authority's receipt, once sent.
    pub receipt: Option<Receipt>,
    /// The authority's errors (its `listErr` entries as JSON), once refused.
    pub errors: Option<String>,
}

/// How many transactions are pending, and since when.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct OutboxSummary {
    /// Pending transactions.
    pub pending: u64,
    /// When the oldest pending one was recorded.
    pub oldest: Option<OffsetDateTime>,
}

/// What the authority's answer means for one transaction of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Settlement {
    /// Received.
    Sent(Receipt),
    /// Refused; not sent again.
    Refused {
        /// The errors, as JSON.
        errors: String,
    },
    /// Not received (a communication failure, or an error that asks for the same transaction
    /// again): it stays pending.
    Kept,
}

/// Whether communication with the authority works, as the last transmission showed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Link {
    /// An answer came back: offline mode ends if it was on.
    Up,
    /// No answer: offline mode starts if it was off.
    Down {
        /// Why.
        reason: String,
    },
}

/// Offline mode, while it lasts.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Offline {
    /// When it started.
    pub since: OffsetDateTime,
    /// The failure that started it.
    pub reason: String,
}

const COLUMNS: &str = "id, environment, operator, installation, device_id, no_trans, gst, actu, body, \
    recorded_at, attempts, state, receipt_number, receipt_date, receipt_batch, errors";

impl DeviceStore {
    /// Adds a link to `chain` and writes the transaction it signs into the outbox, in one store
    /// transaction: `sign` receives the previous `actu` and returns the new one; `build` makes
    /// the transaction from the link. A crash before the commit leaves neither; after it, both.
    pub fn record_transaction(
        &mut self,
        chain: &ChainKey,
        slot: &SlotKey,
        at: OffsetDateTime,
        sign: impl FnOnce(Option<&str>) -> Result<String, Error>,
        build: impl FnOnce(&ChainLink) -> Result<NewTransaction, Error>,
    ) -> Result<(ChainLink, OutboxEntry), Error> {
        let tx = db::write_tx(&mut self.conn)?;
        let recorded = record_in(&tx, chain, slot, at, sign, build)?;
        tx.commit()?;
        Ok(recorded)
    }

    /// [`record_transaction`](Self::record_transaction) once per idempotency key: if `key` was
    /// used before, nothing is signed or written and the remembered answer is returned;
    /// otherwise the answer `render` makes from the new entry is remembered in the same store
    /// transaction as the link and the entry.
    #[allow(clippy::too_many_arguments)] // record_transaction's, and the key's two.
    pub fn record_transaction_once(
        &mut self,
        chain: &ChainKey,
        slot: &SlotKey,
        at: OffsetDateTime,
        key: &str,
        sign: impl FnOnce(Option<&str>) -> Result<String, Error>,
        build: impl FnOnce(&ChainLink) -> Result<NewTransaction, Error>,
        render: impl FnOnce(&OutboxEntry) -> RememberedAnswer,
    ) -> Result<Recording, Error> {
        let tx = db::write_tx(&mut self.conn)?;
        if let Some(answer) = answers::read(&tx, key)? {
            return Ok(Recording::Remembered(answer));
        }
        let (link, entry) = record_in(&tx, chain, slot, at, sign, build)?;
        answers::insert(&tx, key, &render(&entry))?;
        tx.commit()?;
        Ok(Recording::Recorded(link, Box::new(entry)))
    }

    /// Writes a transaction that another device signed into the outbox, under `slot` (the
    /// certificate that transmits it: a remote server's) and `device` (the one that signed it,
    /// `IDAPPRL`), in one store transaction. The same `actu` handed over again is not written
    /// twice: the entry already there is returned, with `false`.
    pub fn relay_transaction(
        &mut self,
        slot: &SlotKey,
        device: DeviceId,
        at: OffsetDateTime,
        actu: &str,
        new: NewTransaction,
    ) -> Result<(OutboxEntry, bool), Error> {
        let tx = db::write_tx(&mut self.conn)?;
        let known = optional(tx.query_row_cached(
            &format!("SELECT {COLUMNS} FROM outbox WHERE environment = ?1 AND actu = ?2"),
            params![slot.environment.as_str(), actu],
            |r| Ok(entry_from_row(r)),
        ))?
        .transpose()?;
        if let Some(entry) = known {
            return Ok((entry, false));
        }
        let entry = insert_entry(&tx, slot, device, at, actu, new)?;
        tx.commit()?;
        Ok((entry, true))
    }

    /// The transaction `id` of the outbox.
    pub fn outbox_entry(&self, id: i64) -> Result<Option<OutboxEntry>, Error> {
        optional(self.conn.query_row_cached(
            &format!("SELECT {COLUMNS} FROM outbox WHERE id = ?1"),
            params![id],
            |r| Ok(entry_from_row(r)),
        ))?
        .transpose()
    }

    /// The certificate slots and devices (`IDAPPRL`) that have pending transactions in
    /// `environment`, each pair once.
    pub fn pending_groups(
        &self,
        environment: Environment,
    ) -> Result<Vec<(SlotKey, DeviceId)>, Error> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT DISTINCT operator, installation, device_id FROM outbox WHERE state = 'pending' \
             AND environment = ?1 ORDER BY operator, installation, device_id",
        )?;
        let rows = stmt.query_map(params![environment.as_str()], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
            ))
        })?;
        rows.map(|r| {
            let (operator, installation, device) = r?;
            Ok((
                slot_key("outbox", environment.as_str(), &operator, installation)?,
                parse("outbox", "device_id", &device)?,
            ))
        })
        .collect()
    }

    /// The oldest pending transactions of `slot` started on `device`, recorded after `after`
    /// (an outbox id) and before `current` (the one they go with, if any: a batch is older
    /// than the transaction that carries it), oldest first, as many as fit in `max_bytes` of
    /// transaction JSON (always at least one if any is pending).
    pub fn pending_part(
        &self,
        slot: &SlotKey,
        device: DeviceId,
        after: i64,
        current: Option<i64>,
        max_bytes: usize,
    ) -> Result<Vec<OutboxEntry>, Error> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM outbox WHERE state = 'pending' AND environment = ?1 AND operator = ?2 \
             AND installation = ?3 AND device_id = ?4 AND id > ?5 AND id < ?6 ORDER BY id"
        ))?;
        let mut rows = stmt.query(params![
            slot.environment.as_str(),
            slot.operator.as_str(),
            slot.installation,
            device.to_string(),
            after,
            current.unwrap_or(i64::MAX)
        ])?;
        let mut part = Vec::new();
        let mut used = 0;
        while let Some(row) = rows.next()? {
            let entry = entry_from_row(row)?;
            // Each transaction takes its JSON and a comma in the array.
            let size = entry.body.len() + 1;
            if !part.is_empty() && used + size > max_bytes {
                break;
            }
            used += size;
            part.push(entry);
        }
        Ok(part)
    }

    /// The pending transactions of the whole device, oldest first, at most `limit`.
    pub fn pending_transactions(&self, limit: usize) -> Result<Vec<OutboxEntry>, Error> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {COLUMNS} FROM outbox WHERE state = 'pending' ORDER BY id LIMIT ?1"
        ))?;
        let rows = stmt.query_map(params![i64::try_from(limit).unwrap_or(i64::MAX)], |r| {
            Ok(entry_from_row(r))
        })?;
        rows.map(|r| r?).collect()
    }

    /// How many transactions of the device are pending, and the oldest one's recording time.
    pub fn outbox_summary(&self) -> Result<OutboxSummary, Error> {
        let (count, oldest): (i64, Option<i64>) = self.conn.query_row_cached(
            "SELECT COUNT(*), MIN(recorded_at) FROM outbox WHERE state = 'pending'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        Ok(OutboxSummary {
            pending: count.unsigned_abs(),
            oldest: oldest
                .map(|t| from_unix("outbox", "recorded_at", t))
                .transpose()?,
        })
    }

    /// Offline mode in `environment`, if it is on.
    pub fn offline(&self, environment: Environment) -> Result<Option<Offline>, Error> {
        optional(self.conn.query_row_cached(
            "SELECT since, reason FROM offline WHERE environment = ?1",
            params![environment.as_str()],
            |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)),
        ))?
        .map(|(since, reason)| {
            Ok(Offline {
                since: from_unix("offline", "since", since)?,
                reason,
            })
        })
        .transpose()
    }

    /// Writes what one request's answer (or its absence) means, in one store transaction: each
    /// transaction's settlement (each one counted as attempted), and offline mode started or
    /// ended per `link`, in the history with its moment.
    pub fn settle(
        &mut self,
        slot: &SlotKey,
        outcomes: &[(i64, Settlement)],
        link: &Link,
        at: OffsetDateTime,
    ) -> Result<(), Error> {
        let tx = db::write_tx(&mut self.conn)?;
        // The transactions kept pending (a whole batch, when the authority cannot be reached)
        // are counted in one statement: a long outbox costs one index walk, not one per row.
        let kept: Vec<i64> = outcomes
            .iter()
            .filter(|(_, s)| matches!(s, Settlement::Kept))
            .map(|(id, _)| *id)
            .collect();
        if !kept.is_empty() {
            let ids = format!(
                "[{}]",
                kept.iter()
                    .map(i64::to_string)
                    .collect::<Vec<_>>()
                    .join(",")
            );
            tx.execute_cached(
                "UPDATE outbox SET attempts = attempts + 1 WHERE state = 'pending' \
                 AND id IN (SELECT value FROM json_each(?1))",
                params![ids],
            )?;
        }
        for (id, settlement) in outcomes {
            let (state, receipt, errors) = match settlement {
                Settlement::Sent(r) => (OutboxState::Sent, Some(r), None),
                Settlement::Refused { errors } => (OutboxState::Refused, None, Some(errors)),
                Settlement::Kept => continue,
            };
            // Only a pending transaction changes: a receipt is never overwritten.
            tx.execute_cached(
                "UPDATE outbox SET attempts = attempts + 1, state = ?2, receipt_number = ?3, receipt_date = ?4, \
                 receipt_batch = ?5, errors = ?6, answered_at = ?7 WHERE id = ?1 AND state = 'pending'",
                params![
                    id,
                    state.as_str(),
                    receipt.map(|r| r.number.clone()),
                    receipt.map(|r| r.date.clone()),
                    receipt.map(|r| r.batch),
                    errors,
                    (state != OutboxState::Pending).then(|| to_unix(at))
                ],
            )?;
        }
        let environment = slot.environment.as_str();
        let was_offline: Option<i64> = optional(tx.query_row_cached(
            "SELECT since FROM offline WHERE environment = ?1",
            params![environment],
            |r| r.get(0),
        ))?;
        match (link, was_offline) {
            (Link::Down { reason }, None) => {
                tx.execute_cached(
                    "INSERT INTO offline (environment, since, reason) VALUES (?1, ?2, ?3)",
                    params![environment, to_unix(at), reason],
                )?;
                history(
                    &tx,
                    at,
                    Some(slot),
                    &HistoryEvent::OfflineStarted {
                        reason: reason.clone(),
                    },
                )?;
            }
            (Link::Up, Some(since)) => {
                tx.execute_cached(
                    "DELETE FROM offline WHERE environment = ?1",
                    params![environment],
                )?;
                history(
                    &tx,
                    at,
                    Some(slot),
                    &HistoryEvent::OfflineEnded {
                        since: from_unix("offline", "since", since)?,
                    },
                )?;
            }
            _ => {}
        }
        tx.commit()?;
        Ok(())
    }
}

/// What [`DeviceStore::record_transaction_once`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Recording {
    /// The transaction was signed and written, and the answer remembered with it.
    Recorded(ChainLink, Box<OutboxEntry>),
    /// The key had been used before: this is what was remembered.
    Remembered(RememberedAnswer),
}

fn record_in(
    tx: &Connection,
    chain: &ChainKey,
    slot: &SlotKey,
    at: OffsetDateTime,
    sign: impl FnOnce(Option<&str>) -> Result<String, Error>,
    build: impl FnOnce(&ChainLink) -> Result<NewTransaction, Error>,
) -> Result<(ChainLink, OutboxEntry), Error> {
    let link = identity::extend_in(tx, chain, sign)?;
    let new = build(&link)?;
    let entry = insert_entry(tx, slot, chain.device, at, &link.actu, new)?;
    Ok((link, entry))
}

fn insert_entry(
    tx: &Connection,
    slot: &SlotKey,
    device: DeviceId,
    at: OffsetDateTime,
    actu: &str,
    new: NewTransaction,
) -> Result<OutboxEntry, Error> {
    tx.execute_cached(
        "INSERT INTO outbox (environment, operator, installation, device_id, no_trans, gst, actu, body, size, \
         recorded_at, attempts, state) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 0, 'pending')",
        params![
            slot.environment.as_str(),
            slot.operator.as_str(),
            slot.installation,
            device.to_string(),
            new.no_trans,
            new.gst,
            actu,
            new.body,
            i64::try_from(new.body.len()).unwrap_or(i64::MAX),
            to_unix(at)
        ],
    )?;
    Ok(OutboxEntry {
        id: tx.last_insert_rowid(),
        slot: slot.clone(),
        device,
        no_trans: new.no_trans,
        gst: new.gst,
        actu: actu.to_owned(),
        body: new.body,
        recorded_at: at,
        attempts: 0,
        state: OutboxState::Pending,
        receipt: None,
        errors: None,
    })
}

fn entry_from_row(r: &Row<'_>) -> Result<OutboxEntry, Error> {
    let state: String = r.get(11)?;
    let receipt = match (
        r.get::<_, Option<String>>(12)?,
        r.get::<_, Option<String>>(13)?,
    ) {
        (Some(number), Some(date)) => Some(Receipt {
            number,
            date,
            batch: r.get::<_, Option<bool>>(14)?.unwrap_or(false),
        }),
        _ => None,
    };
    Ok(OutboxEntry {
        id: r.get(0)?,
        slot: slot_key(
            "outbox",
            &r.get::<_, String>(1)?,
            &r.get::<_, String>(2)?,
            r.get(3)?,
        )?,
        device: parse("outbox", "device_id", &r.get::<_, String>(4)?)?,
        no_trans: r.get(5)?,
        gst: r.get(6)?,
        actu: r.get(7)?,
        body: r.get(8)?,
        recorded_at: from_unix("outbox", "recorded_at", r.get(9)?)?,
        attempts: u32::try_from(r.get::<_, i64>(10)?).unwrap_or(u32::MAX),
        state: OutboxState::parse(&state).ok_or(Error::Corrupt {
            table: "outbox",
            column: "state",
            value: state,
        })?,
        receipt,
        errors: r.get(15)?,
    })
}
