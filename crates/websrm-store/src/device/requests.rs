//! Requests written down before they leave the device, and their outcome.

use super::*;

impl DeviceStore {
    /// Writes down an enrolment (`AJO`) before it is sent: the new key (sealed) and the CSR.
    pub fn begin_enrolment(
        &mut self,
        slot: &SlotKey,
        nickname: &Nickname,
        sealed_key: &[u8],
        csr_der: &[u8],
        at: OffsetDateTime,
    ) -> Result<PendingId, Error> {
        let tx = db::write_tx(&mut self.conn)?;
        if slot_row(&tx, slot)?.is_some() {
            return Err(Error::SlotOccupied { slot: slot.clone() });
        }
        let id = insert_pending(
            &tx,
            slot,
            "enrol",
            Some(nickname),
            Some(sealed_key),
            Some(csr_der),
            None,
            at,
        )?;
        tx.commit()?;
        Ok(id)
    }

    /// Writes down a replacement (`REM`) of the slot's certificate before it is sent.
    pub fn begin_replacement(
        &mut self,
        slot: &SlotKey,
        nickname: &Nickname,
        sealed_key: &[u8],
        csr_der: &[u8],
        at: OffsetDateTime,
    ) -> Result<PendingId, Error> {
        let tx = db::write_tx(&mut self.conn)?;
        let current =
            slot_row(&tx, slot)?.ok_or_else(|| Error::SlotNotFound { slot: slot.clone() })?;
        let serial = current.material.serial;
        let id = insert_pending(
            &tx,
            slot,
            "replace",
            Some(nickname),
            Some(sealed_key),
            Some(csr_der),
            Some(serial),
            at,
        )?;
        tx.commit()?;
        Ok(id)
    }

    /// Writes down a deletion (`SUP`) of the slot's certificate before it is sent.
    pub fn begin_deletion(
        &mut self,
        slot: &SlotKey,
        at: OffsetDateTime,
    ) -> Result<PendingId, Error> {
        let tx = db::write_tx(&mut self.conn)?;
        let current =
            slot_row(&tx, slot)?.ok_or_else(|| Error::SlotNotFound { slot: slot.clone() })?;
        let id = insert_pending(
            &tx,
            slot,
            "delete",
            None,
            None,
            None,
            Some(current.material.serial),
            at,
        )?;
        tx.commit()?;
        Ok(id)
    }

    /// The requests written down and not yet completed or abandoned, oldest first.
    pub fn pending(&self) -> Result<Vec<PendingRequest>, Error> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT id, environment, operator, installation, kind, nickname, sealed_key, csr, serial, created_at \
             FROM pending ORDER BY id",
        )?;
        let rows = stmt.query_map([], |r| Ok(pending_from_row(r)))?;
        rows.map(|r| r?).collect()
    }

    /// Completes an enrolment: the slot receives the certificate and the pending key in one
    /// transaction, and the device identifier the authority assigned (if any) is recorded.
    pub fn complete_enrolment(
        &mut self,
        pending_id: PendingId,
        material: &CertificateMaterial,
        assigned: Option<DeviceId>,
        at: OffsetDateTime,
    ) -> Result<(), Error> {
        let tx = db::write_tx(&mut self.conn)?;
        let pending = pending_by_id(&tx, pending_id, "enrol")?;
        let PendingKind::Enrol { nickname } = &pending.kind else {
            return Err(Error::PendingNotFound {
                id: pending_id,
                kind: "enrol",
            });
        };
        if let Some(id) = assigned
            && set_device_id(&tx, id, "assigned", at)?
        {
            history(&tx, at, None, &HistoryEvent::DeviceIdAssigned(id))?;
        }
        let key = pending.sealed_key.as_deref().unwrap_or_default();
        write_slot(&tx, &pending.slot, nickname, material, key, at)?;
        tx.execute_cached("DELETE FROM pending WHERE id = ?1", [pending_id.0])?;
        history(
            &tx,
            at,
            Some(&pending.slot),
            &HistoryEvent::Enrolled {
                serial: material.serial,
            },
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Completes a replacement: the slot's certificate and key become the new ones in one
    /// transaction, so that it always holds a complete, matching pair.
    pub fn complete_replacement(
        &mut self,
        pending_id: PendingId,
        material: &CertificateMaterial,
        at: OffsetDateTime,
    ) -> Result<(), Error> {
        let tx = db::write_tx(&mut self.conn)?;
        let pending = pending_by_id(&tx, pending_id, "replace")?;
        let PendingKind::Replace {
            serial: old,
            nickname,
        } = &pending.kind
        else {
            return Err(Error::PendingNotFound {
                id: pending_id,
                kind: "replace",
            });
        };
        let key = pending.sealed_key.as_deref().unwrap_or_default();
        write_slot(&tx, &pending.slot, nickname, material, key, at)?;
        tx.execute_cached("DELETE FROM pending WHERE id = ?1", [pending_id.0])?;
        history(
            &tx,
            at,
            Some(&pending.slot),
            &HistoryEvent::Replaced {
                old: *old,
                new: material.serial,
            },
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Completes a deletion: key and certificate are removed together; the history keeps a
    /// tombstone.
    pub fn complete_deletion(
        &mut self,
        pending_id: PendingId,
        at: OffsetDateTime,
    ) -> Result<(), Error> {
        let tx = db::write_tx(&mut self.conn)?;
        let pending = pending_by_id(&tx, pending_id, "delete")?;
        let PendingKind::Delete { serial } = pending.kind else {
            return Err(Error::PendingNotFound {
                id: pending_id,
                kind: "delete",
            });
        };
        delete_slot(&tx, &pending.slot)?;
        tx.execute_cached("DELETE FROM pending WHERE id = ?1", [pending_id.0])?;
        history(
            &tx,
            at,
            Some(&pending.slot),
            &HistoryEvent::Deleted { serial },
        )?;
        tx.commit()?;
        Ok(())
    }

    /// Abandons a pending request (its new key, never used, is discarded with it).
    pub fn abandon(
        &mut self,
        pending_id: PendingId,
        reason: &str,
        at: OffsetDateTime,
    ) -> Result<(), Error> {
        let tx = db::write_tx(&mut self.conn)?;
        let kind: Option<(String, String, String, String)> = optional(tx.query_row_cached(
            "SELECT kind, environment, operator, installation FROM pending WHERE id = ?1",
            [pending_id.0],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
        ))?;
        let Some((kind, environment, operator, installation)) = kind else {
            return Err(Error::PendingNotFound {
                id: pending_id,
                kind: "any",
            });
        };
        let slot = slot_key("pending", &environment, &operator, installation)?;
        tx.execute_cached("DELETE FROM pending WHERE id = ?1", [pending_id.0])?;
        history(
            &tx,
            at,
            Some(&slot),
            &HistoryEvent::Abandoned {
                kind,
                reason: reason.to_owned(),
            },
        )?;
        tx.commit()?;
        Ok(())
    }
}

#[allow(clippy::too_many_arguments)] // One column each; a struct would only rename them.
pub(super) fn insert_pending(
    conn: &Connection,
    slot: &SlotKey,
    kind: &str,
    nickname: Option<&Nickname>,
    sealed_key: Option<&[u8]>,
    csr: Option<&[u8]>,
    serial: Option<SerialNumber>,
    at: OffsetDateTime,
) -> Result<PendingId, Error> {
    let existing: Option<i64> = optional(conn.query_row_cached(
        "SELECT id FROM pending WHERE environment = ?1 AND operator = ?2 AND installation = ?3",
        params![
            slot.environment.as_str(),
            slot.operator.as_str(),
            slot.installation
        ],
        |r| r.get(0),
    ))?;
    if let Some(pending) = existing {
        return Err(Error::PendingExists {
            slot: slot.clone(),
            pending: PendingId(pending),
        });
    }
    conn.execute_cached(
        "INSERT INTO pending (environment, operator, installation, kind, nickname, sealed_key, csr, serial, created_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        params![
            slot.environment.as_str(),
            slot.operator.as_str(),
            slot.installation,
            kind,
            nickname.map(Nickname::as_str),
            sealed_key,
            csr,
            serial.map(|s| s.to_string()),
            to_unix(at)
        ],
    )?;
    let id = PendingId(conn.last_insert_rowid());
    history(
        conn,
        at,
        Some(slot),
        &HistoryEvent::RequestPrepared {
            kind: kind.to_owned(),
        },
    )?;
    Ok(id)
}

pub(super) fn pending_by_id(
    conn: &Connection,
    id: PendingId,
    kind: &'static str,
) -> Result<PendingRequest, Error> {
    let row = optional(conn.query_row_cached(
        "SELECT id, environment, operator, installation, kind, nickname, sealed_key, csr, serial, created_at \
         FROM pending WHERE id = ?1",
        [id.0],
        |r| Ok(pending_from_row(r)),
    ))?;
    row.ok_or(Error::PendingNotFound { id, kind })?
}

pub(super) fn pending_from_row(r: &Row<'_>) -> Result<PendingRequest, Error> {
    let slot = slot_key(
        "pending",
        &r.get::<_, String>(1)?,
        &r.get::<_, String>(2)?,
        r.get(3)?,
    )?;
    let kind: String = r.get(4)?;
    let nickname: Option<String> = r.get(5)?;
    let serial: Option<String> = r.get(8)?;
    let nickname = || -> Result<Nickname, Error> {
        parse(
            "pending",
            "nickname",
            nickname.as_deref().unwrap_or_default(),
        )
    };
    let serial = || -> Result<SerialNumber, Error> {
        parse("pending", "serial", serial.as_deref().unwrap_or_default())
    };
    let kind = match kind.as_str() {
        "enrol" => PendingKind::Enrol {
            nickname: nickname()?,
        },
        "replace" => PendingKind::Replace {
            serial: serial()?,
            nickname: nickname()?,
        },
        "delete" => PendingKind::Delete { serial: serial()? },
        _ => {
            return Err(Error::Corrupt {
                table: "pending",
                column: "kind",
                value: kind,
            });
        }
    };
    Ok(PendingRequest {
        id: PendingId(r.get(0)?),
        slot,
        kind,
        sealed_key: r.get(6)?,
        csr_der: r.get(7)?,
        created_at: from_unix("pending", "created_at", r.get(9)?)?,
    })
}
