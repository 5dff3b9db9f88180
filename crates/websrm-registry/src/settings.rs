//! The registry's settings, bindings (what the registry is bound to: its CA, its keys) and
//! counters.

use super::Registry;
use crate::Error;
use crate::audit::{self, NewAudit};
use crate::sql::vals;

impl Registry {
    /// What the registry is bound to under `name`, if anything.
    pub fn binding(&self, name: &str) -> Result<Option<String>, Error> {
        let name = name.to_owned();
        self.read(move |db| {
            db.row("SELECT value FROM authority WHERE name = ?1", vals![&name])?
                .map(|r| r.text(0))
                .transpose()
        })
    }

    /// The authority's setting `name`, if set (every process and command of the authority reads
    /// the same).
    pub fn setting(&self, name: &str) -> Result<Option<String>, Error> {
        self.binding(&format!("setting: {name}"))
    }

    /// Sets the authority's setting `name` to `value`, audited; whether it changed.
    pub fn set_setting(&self, name: &str, value: &str, audit: NewAudit) -> Result<bool, Error> {
        let (name, value) = (format!("setting: {name}"), value.to_owned());
        self.write(move |tx| {
            let recorded = tx
                .row("SELECT value FROM authority WHERE name = ?1", vals![&name])?
                .map(|r| r.text(0))
                .transpose()?;
            if recorded.as_deref() == Some(value.as_str()) {
                return Ok(false);
            }
            tx.execute(
                "INSERT INTO authority (name, value) VALUES (?1, ?2) \
                 ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                vals![&name, &value],
            )?;
            audit::append(tx, &audit)?;
            Ok(true)
        })
    }

    /// The next value of the counter `name`, in one write: one more than the last value it
    /// gave, and at least `floor`. Every process sharing the registry gets a value no other got.
    pub fn next_counter(&self, name: &str, floor: u64) -> Result<u64, Error> {
        let name = format!("counter: {name}");
        self.write(move |tx| {
            let last = tx
                .row("SELECT value FROM authority WHERE name = ?1", vals![&name])?
                .map(|r| r.text(0))
                .transpose()?;
            let last = last
                .map(|v| {
                    v.parse::<u64>().map_err(|_| Error::Corrupt {
                        table: "authority",
                        column: "value",
                        value: v,
                    })
                })
                .transpose()?;
            let next = last.map_or(floor, |l| (l + 1).max(floor));
            tx.execute(
                "INSERT INTO authority (name, value) VALUES (?1, ?2) \
                 ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                vals![&name, next.to_string()],
            )?;
            Ok(next)
        })
    }

    /// Binds the registry to `value` under `name` (the authority's CA, say) on first use, in one
    /// write: afterwards, presenting another value is refused ([`Error::BoundElsewhere`]), so
    /// that two authorities can never share one registry, whichever process starts first.
    pub fn bind(&self, name: &str, value: &str, audit: NewAudit) -> Result<(), Error> {
        let (name, value) = (name.to_owned(), value.to_owned());
        self.write(move |tx| {
            let recorded = tx
                .row("SELECT value FROM authority WHERE name = ?1", vals![&name])?
                .map(|r| r.text(0))
                .transpose()?;
            match recorded {
                Some(recorded) if recorded == value => Ok(()),
                Some(recorded) => Err(Error::BoundElsewhere {
                    name,
                    recorded,
                    presented: value,
                }),
                None => {
                    tx.execute(
                        "INSERT INTO authority (name, value) VALUES (?1, ?2)",
                        vals![&name, &value],
                    )?;
                    audit::append(tx, &audit)?;
                    Ok(())
                }
            }
        })
    }

    /// Moves the binding `name` to `value` in one write, if it records one of `from` (the values
    /// it may be moved from: the roots a rotation replaced, say) or `value` already; otherwise
    /// [`Error::BoundElsewhere`]. The move is audited; staying put is not.
    pub fn rebind(
        &self,
        name: &str,
        from: &[String],
        value: &str,
        audit: NewAudit,
    ) -> Result<(), Error> {
        let (name, value, from) = (name.to_owned(), value.to_owned(), from.to_vec());
        self.write(move |tx| {
            let recorded = tx
                .row("SELECT value FROM authority WHERE name = ?1", vals![&name])?
                .map(|r| r.text(0))
                .transpose()?;
            match recorded {
                Some(recorded) if recorded == value => Ok(()),
                Some(recorded) if from.contains(&recorded) => {
                    tx.execute(
                        "UPDATE authority SET value = ?2 WHERE name = ?1",
                        vals![&name, &value],
                    )?;
                    audit::append(tx, &audit)?;
                    Ok(())
                }
                Some(recorded) => Err(Error::BoundElsewhere {
                    name: name.clone(),
                    recorded,
                    presented: value.clone(),
                }),
                None => {
                    tx.execute(
                        "INSERT INTO authority (name, value) VALUES (?1, ?2)",
                        vals![&name, &value],
                    )?;
                    audit::append(tx, &audit)?;
                    Ok(())
                }
            }
        })
    }
}
