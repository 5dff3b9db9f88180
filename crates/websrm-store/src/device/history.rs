//! The history of everything that happened on the device.

use super::*;

impl DeviceStore {
    /// The whole history, oldest first.
    pub fn history(&self) -> Result<Vec<HistoryEntry>, Error> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT at, environment, operator, installation, event, serial, other_serial, device_id, error_id, \
             return_code, detail FROM history ORDER BY id",
        )?;
        let rows = stmt.query_map([], |r| Ok(history_from_row(r)))?;
        rows.map(|r| r?).collect()
    }
}

pub(super) fn history(
    conn: &Connection,
    at: OffsetDateTime,
    slot: Option<&SlotKey>,
    event: &HistoryEvent,
) -> Result<(), Error> {
    let (name, serial, other, device, error_id, code, detail): (
        &str,
        _,
        _,
        _,
        _,
        _,
        Option<String>,
    ) = match event {
        HistoryEvent::DeviceIdAssigned(id) => (
            "device-id-assigned",
            None,
            None,
            Some(*id),
            None,
            None,
            None,
        ),
        HistoryEvent::DeviceIdEntered(id) => {
            ("device-id-entered", None, None, Some(*id), None, None, None)
        }
        HistoryEvent::RequestPrepared { kind } => (
            "request-prepared",
            None,
            None,
            None,
            None,
            None,
            Some(kind.clone()),
        ),
        HistoryEvent::Enrolled { serial } => {
            ("enrolled", Some(*serial), None, None, None, None, None)
        }
        HistoryEvent::Replaced { old, new } => {
            ("replaced", Some(*old), Some(*new), None, None, None, None)
        }
        HistoryEvent::Deleted { serial } => {
            ("deleted", Some(*serial), None, None, None, None, None)
        }
        HistoryEvent::RevokedSeen { serial } => {
            ("revoked-seen", Some(*serial), None, None, None, None, None)
        }
        HistoryEvent::RefusedSeen { serial } => {
            ("refused-seen", Some(*serial), None, None, None, None, None)
        }
        HistoryEvent::Retired { serial, state } => (
            "retired",
            Some(*serial),
            None,
            None,
            None,
            None,
            Some(state.as_str().to_owned()),
        ),
        HistoryEvent::AuthorityError {
            error_id,
            return_code,
            message,
        } => (
            "authority-error",
            None,
            None,
            None,
            Some(*error_id),
            *return_code,
            Some(message.clone()),
        ),
        HistoryEvent::Abandoned { kind, reason } => (
            "abandoned",
            None,
            None,
            None,
            None,
            None,
            Some(format!("{kind}: {reason}")),
        ),
        HistoryEvent::InstallationReset { serial } => {
            ("installation-reset", *serial, None, None, None, None, None)
        }
        HistoryEvent::OfflineStarted { reason } => (
            "offline-started",
            None,
            None,
            None,
            None,
            None,
            Some(reason.clone()),
        ),
        HistoryEvent::OfflineEnded { since } => (
            "offline-ended",
            None,
            None,
            None,
            None,
            None,
            Some(to_unix(*since).to_string()),
        ),
    };
    conn.execute_cached(
        "INSERT INTO history (at, environment, operator, installation, event, serial, other_serial, device_id, error_id, \
         return_code, detail) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
        params![
            to_unix(at),
            slot.map(|s| s.environment.as_str()),
            slot.map(|s| s.operator.to_string()),
            slot.map(|s| s.installation.clone()),
            name,
            serial.map(|s: SerialNumber| s.to_string()),
            other.map(|s: SerialNumber| s.to_string()),
            device.map(|d: DeviceId| d.to_string()),
            error_id.map(|e: ErrorId| e.to_string()),
            code.map(|c: ReturnCode| c.to_string()),
            detail
        ],
    )?;
    Ok(())
}

fn history_from_row(r: &Row<'_>) -> Result<HistoryEntry, Error> {
    let environment: Option<String> = r.get(1)?;
    let slot = match environment {
        Some(env) => Some(slot_key(
            "history",
            &env,
            &r.get::<_, String>(2)?,
            r.get(3)?,
        )?),
        None => None,
    };
    let text = |i: usize| -> Result<String, Error> {
        Ok(r.get::<_, Option<String>>(i)?.unwrap_or_default())
    };
    let serial =
        |i: usize| -> Result<SerialNumber, Error> { parse("history", "serial", &text(i)?) };
    let event: String = r.get(4)?;
    let event = match event.as_str() {
        "device-id-assigned" => {
            HistoryEvent::DeviceIdAssigned(parse("history", "device_id", &text(7)?)?)
        }
        "device-id-entered" => {
            HistoryEvent::DeviceIdEntered(parse("history", "device_id", &text(7)?)?)
        }
        "request-prepared" => HistoryEvent::RequestPrepared { kind: text(10)? },
        "enrolled" => HistoryEvent::Enrolled { serial: serial(5)? },
        "replaced" => HistoryEvent::Replaced {
            old: serial(5)?,
            new: serial(6)?,
        },
        "deleted" => HistoryEvent::Deleted { serial: serial(5)? },
        "revoked-seen" => HistoryEvent::RevokedSeen { serial: serial(5)? },
        "refused-seen" => HistoryEvent::RefusedSeen { serial: serial(5)? },
        "retired" => {
            let state = text(10)?;
            HistoryEvent::Retired {
                serial: serial(5)?,
                state: EndState::parse(&state).ok_or(Error::Corrupt {
                    table: "history",
                    column: "detail",
                    value: state,
                })?,
            }
        }
        "authority-error" => HistoryEvent::AuthorityError {
            error_id: parse("history", "error_id", &text(8)?)?,
            return_code: r
                .get::<_, Option<String>>(9)?
                .map(|c| parse("history", "return_code", &c))
                .transpose()?,
            message: text(10)?,
        },
        "abandoned" => {
            let detail = text(10)?;
            let (kind, reason) = detail.split_once(": ").unwrap_or((&detail, ""));
            HistoryEvent::Abandoned {
                kind: kind.to_owned(),
                reason: reason.to_owned(),
            }
        }
        "installation-reset" => HistoryEvent::InstallationReset {
            serial: r
                .get::<_, Option<String>>(5)?
                .map(|s| parse("history", "serial", &s))
                .transpose()?,
        },
        "offline-started" => HistoryEvent::OfflineStarted { reason: text(10)? },
        "offline-ended" => {
            let since = text(10)?;
            HistoryEvent::OfflineEnded {
                since: from_unix(
                    "history",
                    "detail",
                    since.parse().map_err(|_| Error::Corrupt {
                        table: "history",
                        column: "detail",
                        value: since.clone(),
                    })?,
                )?,
            }
        }
        _ => {
            return Err(Error::Corrupt {
                table: "history",
                column: "event",
                value: event,
            });
        }
    };
    Ok(HistoryEntry {
        at: from_unix("history", "at", r.get(0)?)?,
        slot,
        event,
    })
}
