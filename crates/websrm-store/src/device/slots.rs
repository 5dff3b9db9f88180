//! The certificate slots: one per operator and SRS installation.

use super::*;

impl DeviceStore {
    /// The slot, if it holds a certificate.
    pub fn slot(&self, key: &SlotKey) -> Result<Option<Slot>, Error> {
        slot_row(&self.conn, key)
    }

    /// Every slot of the device.
    pub fn slots(&self) -> Result<Vec<Slot>, Error> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "{SLOT_SELECT} ORDER BY environment, operator, installation"
        ))?;
        let rows = stmt.query_map([], |r| Ok(slot_from_row(r)))?;
        rows.map(|r| r?).collect()
    }

    /// Records that the authority reported the slot's certificate revoked (on its CRL).
    pub fn mark_revoked(&mut self, key: &SlotKey, at: OffsetDateTime) -> Result<(), Error> {
        self.mark(key, SlotStatus::Revoked, at)
    }

    /// Records that the authority refused the slot's certificate (`JW00B999011E`). A certificate
    /// already known revoked stays so.
    pub fn mark_refused(&mut self, key: &SlotKey, at: OffsetDateTime) -> Result<(), Error> {
        self.mark(key, SlotStatus::Refused, at)
    }

    fn mark(&mut self, key: &SlotKey, status: SlotStatus, at: OffsetDateTime) -> Result<(), Error> {
        let tx = db::write_tx(&mut self.conn)?;
        let slot = slot_row(&tx, key)?.ok_or_else(|| Error::SlotNotFound { slot: key.clone() })?;
        if slot.status == status || slot.status == SlotStatus::Revoked {
            return Ok(());
        }
        tx.execute_cached(
            "UPDATE slots SET status = ?5, updated_at = ?4 \
             WHERE environment = ?1 AND operator = ?2 AND installation = ?3",
            params![
                key.environment.as_str(),
                key.operator.as_str(),
                key.installation,
                to_unix(at),
                status.as_str()
            ],
        )?;
        let serial = slot.material.serial;
        let event = match status {
            SlotStatus::Refused => HistoryEvent::RefusedSeen { serial },
            _ => HistoryEvent::RevokedSeen { serial },
        };
        history(&tx, at, Some(key), &event)?;
        tx.commit()?;
        Ok(())
    }

    /// Removes an ended certificate (expired, revoked or refused) and its key from the slot, in
    /// one transaction with its history entry, so that a new certificate can be obtained for it.
    /// `serial` must be the slot's certificate: a slot that changed meanwhile is left alone.
    pub fn retire(
        &mut self,
        key: &SlotKey,
        serial: SerialNumber,
        state: EndState,
        at: OffsetDateTime,
    ) -> Result<(), Error> {
        let tx = db::write_tx(&mut self.conn)?;
        let slot = slot_row(&tx, key)?.ok_or_else(|| Error::SlotNotFound { slot: key.clone() })?;
        if slot.material.serial != serial {
            return Err(Error::CertificateNotInSlot {
                slot: key.clone(),
                serial,
            });
        }
        delete_slot(&tx, key)?;
        history(&tx, at, Some(key), &HistoryEvent::Retired { serial, state })?;
        tx.commit()?;
        Ok(())
    }

    /// Records an error the authority returned, for support and audits.
    pub fn record_authority_error(
        &mut self,
        slot: Option<&SlotKey>,
        error_id: ErrorId,
        return_code: Option<ReturnCode>,
        message: &str,
        at: OffsetDateTime,
    ) -> Result<(), Error> {
        let event = HistoryEvent::AuthorityError {
            error_id,
            return_code,
            message: message.to_owned(),
        };
        history(&self.conn, at, slot, &event)
    }

    /// Resets an SRS installation's own data: its slots and pending requests are removed from the
    /// device. The device identifier stays.
    pub fn reset_installation(
        &mut self,
        installation: &str,
        at: OffsetDateTime,
    ) -> Result<usize, Error> {
        let tx = db::write_tx(&mut self.conn)?;
        let slots: Vec<Slot> = {
            let mut stmt = tx.prepare_cached(&format!("{SLOT_SELECT} WHERE installation = ?1"))?;
            let rows = stmt.query_map([installation], |r| Ok(slot_from_row(r)))?;
            rows.map(|r| r?).collect::<Result<_, _>>()?
        };
        for slot in &slots {
            history(
                &tx,
                at,
                Some(&slot.key),
                &HistoryEvent::InstallationReset {
                    serial: Some(slot.material.serial),
                },
            )?;
        }
        tx.execute_cached("DELETE FROM slots WHERE installation = ?1", [installation])?;
        tx.execute_cached(
            "DELETE FROM pending WHERE installation = ?1",
            [installation],
        )?;
        tx.commit()?;
        Ok(slots.len())
    }
}

pub(super) const SLOT_SELECT: &str = "SELECT environment, operator, installation, nickname, certificate, certif_psi, sealed_key, \
    serial, thumbprint, not_before, not_after, status, updated_at FROM slots";

pub(super) fn slot_row(conn: &Connection, key: &SlotKey) -> Result<Option<Slot>, Error> {
    let row = optional(conn.query_row_cached(
        &format!("{SLOT_SELECT} WHERE environment = ?1 AND operator = ?2 AND installation = ?3"),
        params![
            key.environment.as_str(),
            key.operator.as_str(),
            key.installation
        ],
        |r| Ok(slot_from_row(r)),
    ))?;
    row.transpose()
}

pub(super) fn slot_from_row(r: &Row<'_>) -> Result<Slot, Error> {
    let key = slot_key(
        "slots",
        &r.get::<_, String>(0)?,
        &r.get::<_, String>(1)?,
        r.get(2)?,
    )?;
    let validity = Validity::new(
        from_unix("slots", "not_before", r.get(9)?)?,
        from_unix("slots", "not_after", r.get(10)?)?,
    )
    .ok_or_else(|| Error::Corrupt {
        table: "slots",
        column: "not_after",
        value: "before not_before".into(),
    })?;
    let status: String = r.get(11)?;
    Ok(Slot {
        key,
        nickname: parse("slots", "nickname", &r.get::<_, String>(3)?)?,
        material: CertificateMaterial {
            certificate_der: r.get(4)?,
            certif_psi_pem: r.get(5)?,
            serial: parse("slots", "serial", &r.get::<_, String>(7)?)?,
            thumbprint: parse("slots", "thumbprint", &r.get::<_, String>(8)?)?,
            validity,
        },
        sealed_key: r.get(6)?,
        status: match status.as_str() {
            "active" => SlotStatus::Active,
            "revoked" => SlotStatus::Revoked,
            "refused" => SlotStatus::Refused,
            _ => {
                return Err(Error::Corrupt {
                    table: "slots",
                    column: "status",
                    value: status,
                });
            }
        },
        updated_at: from_unix("slots", "updated_at", r.get(12)?)?,
    })
}

pub(super) fn slot_key(
    table: &'static str,
    environment: &str,
    operator: &str,
    installation: String,
) -> Result<SlotKey, Error> {
    Ok(SlotKey {
        environment: parse(table, "environment", environment)?,
        operator: parse(table, "operator", operator)?,
        installation,
    })
}

pub(super) fn write_slot(
    conn: &Connection,
    key: &SlotKey,
    nickname: &Nickname,
    m: &CertificateMaterial,
    sealed_key: &[u8],
    at: OffsetDateTime,
) -> Result<(), Error> {
    conn.execute_cached(
        "INSERT INTO slots (environment, operator, installation, nickname, certificate, certif_psi, sealed_key, serial, \
         thumbprint, not_before, not_after, status, updated_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, 'active', ?12) \
         ON CONFLICT (environment, operator, installation) DO UPDATE SET nickname = excluded.nickname, \
         certificate = excluded.certificate, certif_psi = excluded.certif_psi, sealed_key = excluded.sealed_key, \
         serial = excluded.serial, thumbprint = excluded.thumbprint, not_before = excluded.not_before, \
         not_after = excluded.not_after, status = 'active', updated_at = excluded.updated_at",
        params![
            key.environment.as_str(),
            key.operator.as_str(),
            key.installation,
            nickname.as_str(),
            m.certificate_der,
            m.certif_psi_pem,
            sealed_key,
            m.serial.to_string(),
            m.thumbprint.to_string(),
            to_unix(m.validity.not_before()),
            to_unix(m.validity.not_after()),
            to_unix(at)
        ],
    )?;
    Ok(())
}

pub(super) fn delete_slot(conn: &Connection, key: &SlotKey) -> Result<(), Error> {
    let n = conn.execute_cached(
        "DELETE FROM slots WHERE environment = ?1 AND operator = ?2 AND installation = ?3",
        params![
            key.environment.as_str(),
            key.operator.as_str(),
            key.installation
        ],
    )?;
    if n == 0 {
        return Err(Error::SlotNotFound { slot: key.clone() });
    }
    Ok(())
}
