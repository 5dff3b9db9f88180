//! The device identifier, the terminals of a host, and the signature chains.

use super::*;

impl DeviceStore {
    /// The device identifier, if the device has one.
    pub fn device_id(&self) -> Result<Option<DeviceId>, Error> {
        let text = optional(
            self.conn
                .query_row_cached("SELECT device_id FROM device", [], |r| {
                    r.get::<_, String>(0)
                }),
        )?;
        text.map(|t| parse("device", "device_id", &t)).transpose()
    }

    /// Records the identifier the user already has for this device, before a first enrolment.
    /// Entering the one on record again is accepted; a different one is refused.
    pub fn enter_device_id(&mut self, id: DeviceId, at: OffsetDateTime) -> Result<(), Error> {
        let tx = db::write_tx(&mut self.conn)?;
        if set_device_id(&tx, id, "entered", at)? {
            history(&tx, at, None, &HistoryEvent::DeviceIdEntered(id))?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Forgets an identifier the user entered by hand, when the authority does not know it
    /// (`JW00B999047E`) and no certificate of this device was obtained with it. An identifier the
    /// authority assigned, or one certificates were obtained with, is never forgotten.
    pub fn forget_entered_device_id(&mut self, at: OffsetDateTime) -> Result<bool, Error> {
        let tx = db::write_tx(&mut self.conn)?;
        let slots: i64 = tx.query_row_cached("SELECT count(*) FROM slots", [], |r| r.get(0))?;
        let entered = optional(tx.query_row_cached(
            "SELECT device_id FROM device WHERE source = 'entered'",
            [],
            |r| r.get::<_, String>(0),
        ))?;
        let Some(text) = entered.filter(|_| slots == 0) else {
            return Ok(false);
        };
        tx.execute_cached("DELETE FROM device WHERE source = 'entered'", [])?;
        let id: DeviceId = parse("device", "device_id", &text)?;
        history(
            &tx,
            at,
            None,
            &HistoryEvent::Abandoned {
                kind: "device-id".into(),
                reason: format!("{id} is unknown to the authority"),
            },
        )?;
        tx.commit()?;
        Ok(true)
    }

    /// Records a terminal attached to this device. Its identifier is kept for life: a label or
    /// identifier already on record is refused.
    pub fn add_terminal(
        &mut self,
        label: &str,
        device_id: DeviceId,
        certificate_installed: bool,
        at: OffsetDateTime,
    ) -> Result<(), Error> {
        let tx = db::write_tx(&mut self.conn)?;
        let inserted = tx.execute_cached(
            "INSERT OR IGNORE INTO terminals (label, device_id, obtained_at, certificate) VALUES (?1, ?2, ?3, ?4)",
            params![label, device_id.to_string(), to_unix(at), if certificate_installed { "installed" } else { "none" }],
        )?;
        if inserted == 0 {
            return Err(Error::TerminalExists(label.to_owned()));
        }
        history(
            &tx,
            at,
            None,
            &HistoryEvent::RequestPrepared {
                kind: format!("terminal {label}: {device_id}"),
            },
        )?;
        tx.commit()?;
        Ok(())
    }

    /// The terminals attached to this device, by label.
    pub fn terminals(&self) -> Result<Vec<Terminal>, Error> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT label, device_id, obtained_at, certificate FROM terminals ORDER BY label",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)?,
                r.get::<_, String>(3)?,
            ))
        })?;
        rows.map(|r| {
            let (label, device, at, certificate) = r?;
            Ok(Terminal {
                label,
                device_id: parse("terminals", "device_id", &device)?,
                obtained_at: from_unix("terminals", "obtained_at", at)?,
                certificate_installed: certificate == "installed",
            })
        })
        .collect()
    }

    /// Adds a link to a signature chain in one transaction: `sign` receives the previous `actu`
    /// (`None` for the first) and returns the new one, which is stored before it is returned. If
    /// the process dies before the commit, nothing was handed out and the chain is unchanged; the
    /// next signature follows the last one returned.
    pub fn extend_chain(
        &mut self,
        key: &ChainKey,
        sign: impl FnOnce(Option<&str>) -> Result<String, Error>,
    ) -> Result<ChainLink, Error> {
        let tx = db::write_tx(&mut self.conn)?;
        let link = extend_in(&tx, key, sign)?;
        tx.commit()?;
        Ok(link)
    }

    /// The last `actu` of a chain and its position, if the chain has begun.
    pub fn chain_head(&self, key: &ChainKey) -> Result<Option<(String, u64)>, Error> {
        let head: Option<(String, i64)> = optional(self.conn.query_row_cached(
            "SELECT last_actu, position FROM chains WHERE environment = ?1 AND device_id = ?2 AND srs_id = ?3 AND qst = ?4",
            params![key.environment.as_str(), key.device.to_string(), key.srs_id.to_string(), key.qst.as_str()],
            |r| Ok((r.get(0)?, r.get(1)?)),
        ))?;
        Ok(head.map(|(a, p)| (a, p.unsigned_abs())))
    }
}

/// Records `id` as the device identifier; `Ok(true)` if newly recorded, `Ok(false)` if it was
/// already the one on record, an error if another one is.
pub(super) fn set_device_id(
    conn: &Connection,
    id: DeviceId,
    source: &str,
    at: OffsetDateTime,
) -> Result<bool, Error> {
    let existing = optional(
        conn.query_row_cached("SELECT device_id FROM device", [], |r| {
            r.get::<_, String>(0)
        }),
    )?;
    match existing {
        Some(text) => {
            let existing: DeviceId = parse("device", "device_id", &text)?;
            if existing == id {
                Ok(false)
            } else {
                Err(Error::DeviceIdConflict {
                    existing,
                    offered: id,
                })
            }
        }
        None => {
            conn.execute_cached(
                "INSERT INTO device (singleton, device_id, source, recorded_at) VALUES (1, ?1, ?2, ?3)",
                params![id.to_string(), source, to_unix(at)],
            )?;
            Ok(true)
        }
    }
}

/// Adds a link to a chain inside the caller's transaction.
pub(super) fn extend_in(
    tx: &Connection,
    key: &ChainKey,
    sign: impl FnOnce(Option<&str>) -> Result<String, Error>,
) -> Result<ChainLink, Error> {
    let head: Option<(String, i64)> = optional(tx.query_row_cached(
        "SELECT last_actu, position FROM chains WHERE environment = ?1 AND device_id = ?2 AND srs_id = ?3 AND qst = ?4",
        params![
            key.environment.as_str(),
            key.device.to_string(),
            key.srs_id.to_string(),
            key.qst.as_str()
        ],
        |r| Ok((r.get(0)?, r.get(1)?)),
    ))?;
    let (preced, position) = match head {
        Some((actu, position)) => (Some(actu), position + 1),
        None => (None, 1),
    };
    let actu = sign(preced.as_deref())?;
    tx.execute_cached(
        "INSERT INTO chains (environment, device_id, srs_id, qst, last_actu, position) VALUES (?1, ?2, ?3, ?4, ?5, ?6) \
         ON CONFLICT (environment, device_id, srs_id, qst) DO UPDATE SET last_actu = excluded.last_actu, position = excluded.position",
        params![key.environment.as_str(), key.device.to_string(), key.srs_id.to_string(), key.qst.as_str(), actu, position],
    )?;
    Ok(ChainLink {
        preced,
        actu,
        position: position.unsigned_abs(),
    })
}
