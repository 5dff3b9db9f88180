//! Passwords and sessions of the online services and of the customer-service console, and the
//! console's agents.

use time::OffsetDateTime;

use super::operators::{Attempter, count_of, state_of};
use super::{OperatorId, Registry, Reservation};
use crate::Error;
use crate::audit::{self, NewAudit};
use crate::sql::vals;
use websrm_sqlite::{from_unix, to_unix};

impl Registry {
    /// Sets the operator's password for the online services (its hash; the registry never sees
    /// the password). The operator's sessions end in the same write: whoever signed in with the
    /// old password is signed out.
    pub fn set_operator_password_hash(
        &self,
        operator: OperatorId,
        hash: &str,
        audit: NewAudit,
    ) -> Result<(), Error> {
        let hash = hash.to_owned();
        self.write(move |tx| {
            let n = tx.execute(
                "UPDATE operators SET password_hash = ?2 WHERE id = ?1",
                vals![operator.0, hash],
            )?;
            if n == 0 {
                return Err(Error::OperatorNotFound(operator));
            }
            tx.execute(
                "DELETE FROM portal_sessions WHERE operator_id = ?1",
                vals![operator.0],
            )?;
            audit::append(tx, &audit)?;
            Ok(())
        })
    }

    /// Opens a session of the online services for `operator`, under the hash of its token;
    /// expired sessions are removed at the same time.
    pub fn open_portal_session(
        &self,
        token_hash: &str,
        operator: OperatorId,
        csrf: &str,
        expires: OffsetDateTime,
        at: OffsetDateTime,
    ) -> Result<(), Error> {
        let (token_hash, csrf) = (token_hash.to_owned(), csrf.to_owned());
        self.write(move |tx| {
            tx.execute(
                "DELETE FROM portal_sessions WHERE expires_at <= ?1",
                vals![to_unix(at)],
            )?;
            tx.execute(
                "INSERT INTO portal_sessions (token_hash, operator_id, csrf, expires_at) VALUES (?1, ?2, ?3, ?4)",
                vals![token_hash, operator.0, csrf, to_unix(expires)],
            )?;
            Ok(())
        })
    }

    /// The session under `token_hash`, if it exists and has not expired at `at`: its operator,
    /// CSRF token and expiry.
    pub fn portal_session(
        &self,
        token_hash: &str,
        at: OffsetDateTime,
    ) -> Result<Option<(OperatorId, String, OffsetDateTime)>, Error> {
        let token_hash = token_hash.to_owned();
        self.read(move |db| {
            db.row(
                "SELECT operator_id, csrf, expires_at FROM portal_sessions WHERE token_hash = ?1 AND expires_at > ?2",
                vals![&token_hash, to_unix(at)],
            )?
            .map(|r| {
                Ok((
                    OperatorId(r.int(0)?),
                    r.text(1)?,
                    from_unix("portal_sessions", "expires_at", r.int(2)?)?,
                ))
            })
            .transpose()
        })
    }

    /// Keeps a message (French, English) to show once on the session's next page.
    pub fn set_portal_flash(
        &self,
        token_hash: &str,
        french: &str,
        english: &str,
    ) -> Result<(), Error> {
        self.set_flash("portal_sessions", token_hash, french, english)
    }

    /// Keeps the message of the session under `token_hash` in `table`.
    fn set_flash(
        &self,
        table: &'static str,
        token_hash: &str,
        french: &str,
        english: &str,
    ) -> Result<(), Error> {
        let (token_hash, french, english) =
            (token_hash.to_owned(), french.to_owned(), english.to_owned());
        self.write(move |tx| {
            tx.execute(
                &format!("UPDATE {table} SET flash_fr = ?2, flash_en = ?3 WHERE token_hash = ?1"),
                vals![token_hash, french, english],
            )?;
            Ok(())
        })
    }

    /// Takes the session's message, if any: it is shown once.
    pub fn take_portal_flash(&self, token_hash: &str) -> Result<Option<(String, String)>, Error> {
        self.take_flash("portal_sessions", token_hash)
    }

    /// Ends a session.
    pub fn close_portal_session(&self, token_hash: &str) -> Result<(), Error> {
        self.close_session("portal_sessions", token_hash)
    }

    /// Takes the message of the session under `token_hash` in `table`: it is shown once.
    fn take_flash(
        &self,
        table: &'static str,
        token_hash: &str,
    ) -> Result<Option<(String, String)>, Error> {
        let token_hash = token_hash.to_owned();
        self.write(move |tx| {
            let flash = tx
                .row(
                    &format!("SELECT flash_fr, flash_en FROM {table} WHERE token_hash = ?1"),
                    vals![&token_hash],
                )?
                .map(|r| Ok::<_, Error>((r.opt_text(0)?, r.opt_text(1)?)))
                .transpose()?;
            tx.execute(
                &format!(
                    "UPDATE {table} SET flash_fr = NULL, flash_en = NULL WHERE token_hash = ?1"
                ),
                vals![&token_hash],
            )?;
            Ok(match flash {
                Some((Some(fr), Some(en))) => Some((fr, en)),
                _ => None,
            })
        })
    }

    /// Ends the session under `token_hash` in `table`.
    fn close_session(&self, table: &'static str, token_hash: &str) -> Result<(), Error> {
        let token_hash = token_hash.to_owned();
        self.write(move |tx| {
            tx.execute(
                &format!("DELETE FROM {table} WHERE token_hash = ?1"),
                vals![token_hash],
            )?;
            Ok(())
        })
    }

    /// The hash of the operator's password, if one is set.
    pub fn operator_password_hash(&self, operator: OperatorId) -> Result<Option<String>, Error> {
        self.read(move |db| {
            Ok(db
                .row(
                    "SELECT password_hash FROM operators WHERE id = ?1",
                    vals![operator.0],
                )?
                .map(|r| r.opt_text(0))
                .transpose()?
                .flatten())
        })
    }

    /// Registers a customer-service agent with the hash of its password.
    pub fn add_agent(
        &self,
        agent_id: &str,
        hash: &str,
        at: OffsetDateTime,
        audit: NewAudit,
    ) -> Result<(), Error> {
        let agent_id = agent_id.to_owned();
        let hash = hash.to_owned();
        self.write(move |tx| {
            let inserted = tx.execute(
                "INSERT INTO agents (agent_id, password_hash, created_at) VALUES (?1, ?2, ?3) \
                 ON CONFLICT DO NOTHING",
                vals![&agent_id, hash, to_unix(at)],
            )?;
            if inserted == 0 {
                return Err(Error::AgentExists(agent_id));
            }
            audit::append(tx, &audit)?;
            Ok(())
        })
    }

    /// The hash of an agent's password, if the agent exists.
    pub fn agent_password_hash(&self, agent_id: &str) -> Result<Option<String>, Error> {
        let agent_id = agent_id.to_owned();
        self.read(move |db| {
            db.row(
                "SELECT password_hash FROM agents WHERE agent_id = ?1",
                vals![&agent_id],
            )?
            .map(|r| r.text(0))
            .transpose()
        })
    }

    /// Reserves an agent's sign-in attempt before its password is verified, as
    /// [`reserve_attempt`](Self::reserve_attempt) does for an operator's: a locked agent is
    /// [`Reservation::Locked`], otherwise the attempt is counted now and given back by
    /// [`clear_agent_attempts_unless_locked`](Self::clear_agent_attempts_unless_locked).
    pub fn reserve_agent_attempt(
        &self,
        agent_id: &str,
        at: OffsetDateTime,
        policy: (u32, time::Duration, time::Duration),
        audit: NewAudit,
    ) -> Result<Reservation, Error> {
        let who = Attempter::Agent(agent_id.to_owned());
        self.write(move |tx| {
            let state = state_of(tx, &who)?;
            if let Some(until) = state.locked_until.filter(|until| *until > at) {
                return Ok(Reservation::Locked(until));
            }
            count_of(tx, &who, at, policy, &audit).map(Reservation::Granted)
        })
    }

    /// Clears an agent's failed attempts after a success, unless failures racing it locked the
    /// agent out meanwhile (`false`); `lifted`, the audit entry of a lockout this very attempt
    /// set (it reached the limit with the right password), clears that lockout too.
    pub fn clear_agent_attempts_unless_locked(
        &self,
        agent_id: &str,
        at: OffsetDateTime,
        lifted: Option<NewAudit>,
    ) -> Result<bool, Error> {
        let who = Attempter::Agent(agent_id.to_owned());
        self.write(move |tx| {
            let locked = state_of(tx, &who)?
                .locked_until
                .is_some_and(|until| until > at);
            if locked && lifted.is_none() {
                return Ok(false);
            }
            let (table, key, id, (n, first, until)) = who.place();
            tx.execute(
                &format!(
                    "UPDATE {table} SET {n} = 0, {first} = NULL, {until} = NULL WHERE {key} = ?1"
                ),
                &[id],
            )?;
            if let Some(audit) = &lifted {
                audit::append(tx, audit)?;
            }
            Ok(true)
        })
    }

    /// Opens a session of the customer-service console for `agent_id`, under the hash of its
    /// token; expired sessions are removed at the same time.
    pub fn open_agent_session(
        &self,
        token_hash: &str,
        agent_id: &str,
        csrf: &str,
        expires: OffsetDateTime,
        at: OffsetDateTime,
    ) -> Result<(), Error> {
        let (token_hash, agent_id, csrf) =
            (token_hash.to_owned(), agent_id.to_owned(), csrf.to_owned());
        self.write(move |tx| {
            tx.execute(
                "DELETE FROM agent_sessions WHERE expires_at <= ?1",
                vals![to_unix(at)],
            )?;
            tx.execute(
                "INSERT INTO agent_sessions (token_hash, agent_id, csrf, expires_at) VALUES (?1, ?2, ?3, ?4)",
                vals![token_hash, agent_id, csrf, to_unix(expires)],
            )?;
            Ok(())
        })
    }

    /// The console session under `token_hash`, if it exists and has not expired at `at`.
    pub fn agent_session(
        &self,
        token_hash: &str,
        at: OffsetDateTime,
    ) -> Result<Option<AgentSession>, Error> {
        let token_hash = token_hash.to_owned();
        self.read(move |db| {
            db.row(
                "SELECT agent_id, csrf, operator_id FROM agent_sessions WHERE token_hash = ?1 AND expires_at > ?2",
                vals![&token_hash, to_unix(at)],
            )?
            .map(|r| {
                Ok(AgentSession {
                    agent_id: r.text(0)?,
                    csrf: r.text(1)?,
                    operator: r.opt_int(2)?.map(OperatorId),
                })
            })
            .transpose()
        })
    }

    /// Sets the operator whose identity the session's agent has just verified, or none.
    pub fn set_agent_session_operator(
        &self,
        token_hash: &str,
        operator: Option<OperatorId>,
    ) -> Result<(), Error> {
        let token_hash = token_hash.to_owned();
        self.write(move |tx| {
            tx.execute(
                "UPDATE agent_sessions SET operator_id = ?2 WHERE token_hash = ?1",
                vals![&token_hash, operator.map(|o| o.0)],
            )?;
            Ok(())
        })
    }

    /// Keeps a message (French, English) to show once on the console session's next page.
    pub fn set_agent_flash(
        &self,
        token_hash: &str,
        french: &str,
        english: &str,
    ) -> Result<(), Error> {
        self.set_flash("agent_sessions", token_hash, french, english)
    }

    /// Takes the console session's message, if any: it is shown once.
    pub fn take_agent_flash(&self, token_hash: &str) -> Result<Option<(String, String)>, Error> {
        self.take_flash("agent_sessions", token_hash)
    }

    /// Ends a console session.
    pub fn close_agent_session(&self, token_hash: &str) -> Result<(), Error> {
        self.close_session("agent_sessions", token_hash)
    }
}

/// A session of the customer-service console, as [`Registry::agent_session`] finds it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AgentSession {
    /// The agent signed in.
    pub agent_id: String,
    /// The session's CSRF token.
    pub csrf: String,
    /// The operator whose identity the agent verified last in this session.
    pub operator: Option<OperatorId>,
}
