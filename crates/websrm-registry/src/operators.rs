//! Operators, their authorization codes and lockout counters (the passwords and sessions of the
//! online services and the console's agents are in `sessions.rs`, settings and bindings in
//! `settings.rs`).

use time::OffsetDateTime;
use websrm_domain::{AuthorizationCode, GstNumber, IdentificationNumber, QstNumber, Sector};

use websrm_domain::Source;

use super::{
    AttemptState, AuthorizationCodeRecord, Credential, NewOperator, Operator, OperatorId, Registry,
    Reservation,
};
use crate::Error;
use crate::audit::{self, NewAudit};
use crate::sql::{Db, Row, Value, vals};
use websrm_sqlite::{from_unix, parse, to_unix};

impl Registry {
    /// Registers an operator.
    pub fn add_operator(
        &self,
        operator: &NewOperator,
        at: OffsetDateTime,
        audit: NewAudit,
    ) -> Result<OperatorId, Error> {
        let operator = operator.to_owned();
        self.write(move |tx| {
            if tx
                .row(
                    "SELECT id FROM operators WHERE identification_number = ?1",
                    vals![operator.identification_number.as_str()],
                )?
                .is_some()
            {
                return Err(Error::OperatorExists(operator.identification_number));
            }
            let id = tx
                .row(
                    "INSERT INTO operators (identification_number, legal_name, qst_number, gst_number, created_at) \
                     VALUES (?1, ?2, ?3, ?4, ?5) RETURNING id",
                    vals![
                        operator.identification_number.as_str(),
                        &operator.legal_name,
                        operator.qst_number.as_ref().map(QstNumber::as_str),
                        operator.gst_number.as_ref().map(GstNumber::as_str),
                        to_unix(at)
                    ],
                )?
                .ok_or_else(|| Error::Database {
                    cause: Source::text("the new operator has no row id"),
                })?
                .int(0)?;
            for (file, sector) in &operator.file_numbers {
                tx.execute(
                    "INSERT INTO file_numbers (operator_id, file_number, sector) VALUES (?1, ?2, ?3)",
                    vals![id, file.as_str(), sector.as_str()],
                )?;
            }
            audit::append(tx, &audit)?;
            Ok(OperatorId(id))
        })
    }

    /// The operator with this identification number.
    pub fn operator_by_identification(
        &self,
        number: &IdentificationNumber,
    ) -> Result<Option<Operator>, Error> {
        let number = number.clone();
        self.read(move |db| operator_where(db, "identification_number", vals![number.as_str()]))
    }

    /// The operators whose QST number is `qst`, and whose GST number is `gst` (at most one
    /// of each, since each number is one operator's): what the authority needs to tell an
    /// unknown tax number from numbers of two operators.
    pub fn operators_by_tax_numbers(
        &self,
        qst: &QstNumber,
        gst: &GstNumber,
    ) -> Result<(Option<Operator>, Option<Operator>), Error> {
        let (qst, gst) = (qst.as_str().to_owned(), gst.as_str().to_owned());
        self.read(move |db| {
            Ok((
                operator_where(db, "qst_number", vals![&qst])?,
                operator_where(db, "gst_number", vals![&gst])?,
            ))
        })
    }

    /// The operator with this row id.
    pub fn operator(&self, id: OperatorId) -> Result<Operator, Error> {
        self.read(move |db| operator_row(db, id))
    }

    /// Every operator, by identification number.
    pub fn operators(&self) -> Result<Vec<Operator>, Error> {
        self.read(|db| {
            let ids = db.query(
                "SELECT id FROM operators ORDER BY identification_number",
                &[],
            )?;
            ids.iter()
                .map(|r| operator_row(db, OperatorId(r.int(0)?)))
                .collect()
        })
    }

    /// Disables the operator at `at` (`Some`) or enables it again (`None`); whether that
    /// changed anything.
    pub fn set_operator_disabled(
        &self,
        operator: OperatorId,
        at: Option<OffsetDateTime>,
        audit: NewAudit,
    ) -> Result<bool, Error> {
        self.write(move |tx| {
            let changed = match at {
                Some(at) => tx.execute(
                    "UPDATE operators SET disabled_at = ?1 WHERE id = ?2 AND disabled_at IS NULL",
                    vals![to_unix(at), operator.0],
                )?,
                None => tx.execute(
                    "UPDATE operators SET disabled_at = NULL WHERE id = ?1 AND disabled_at IS NOT NULL",
                    vals![operator.0],
                )?,
            };
            if changed == 0 {
                // Unknown, or already so.
                operator_row(tx, operator)?;
                return Ok(false);
            }
            audit::append(tx, &audit)?;
            Ok(true)
        })
    }

    /// The operator's authorization codes, newest first.
    pub fn authorization_codes_of(
        &self,
        operator: OperatorId,
    ) -> Result<Vec<AuthorizationCodeRecord>, Error> {
        self.read(move |db| {
            db.query(
                &format!("{CODE_SELECT} WHERE operator_id = ?1 ORDER BY created_at DESC, id DESC"),
                vals![operator.0],
            )?
            .iter()
            .map(code_from_row)
            .collect()
        })
    }

    /// Records a new authorization code for the operator; it supersedes the operator's previous
    /// codes for the same sector.
    pub fn add_authorization_code(
        &self,
        operator: OperatorId,
        code: &AuthorizationCode,
        sector: Sector,
        activated_at: OffsetDateTime,
        at: OffsetDateTime,
        audit: NewAudit,
    ) -> Result<(), Error> {
        self.add_code(operator, code, sector, None, activated_at, at, audit)
    }

    /// Records a server administrator's authorization code (sector `FOB`) for the servers of
    /// `administers` (RBC or TRP): it supersedes the administrator's earlier code for that
    /// sector only, so that an administrator of both sectors holds one code for each.
    pub fn add_server_code(
        &self,
        operator: OperatorId,
        code: &AuthorizationCode,
        administers: Sector,
        activated_at: OffsetDateTime,
        at: OffsetDateTime,
        audit: NewAudit,
    ) -> Result<(), Error> {
        self.add_code(
            operator,
            code,
            Sector::Server,
            Some(administers),
            activated_at,
            at,
            audit,
        )
    }

    #[allow(clippy::too_many_arguments)] // One column each, and the audit entry.
    fn add_code(
        &self,
        operator: OperatorId,
        code: &AuthorizationCode,
        sector: Sector,
        scope: Option<Sector>,
        activated_at: OffsetDateTime,
        at: OffsetDateTime,
        audit: NewAudit,
    ) -> Result<(), Error> {
        let code = self.code_digest(code);
        self.write(move |tx| {
            operator_row(tx, operator)?;
            if tx
                .row(
                    "SELECT id FROM authorization_codes WHERE code = ?1",
                    vals![&code],
                )?
                .is_some()
            {
                return Err(Error::AuthorizationCodeExists);
            }
            let scope = scope.map(Sector::as_str);
            tx.execute(
                "UPDATE authorization_codes SET superseded_at = ?3 \
                 WHERE operator_id = ?1 AND sector = ?2 AND scope IS NOT DISTINCT FROM ?4 AND superseded_at IS NULL",
                vals![operator.0, sector.as_str(), to_unix(at), scope],
            )?;
            tx.execute(
                "INSERT INTO authorization_codes (operator_id, code, sector, activated_at, created_at, scope) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                vals![
                    operator.0,
                    &code,
                    sector.as_str(),
                    to_unix(activated_at),
                    to_unix(at),
                    scope
                ],
            )?;
            audit::append(tx, &audit)?;
            Ok(())
        })
    }

    /// The record of an authorization code, whoever it belongs to.
    pub fn find_authorization_code(
        &self,
        code: &AuthorizationCode,
    ) -> Result<Option<AuthorizationCodeRecord>, Error> {
        let code = self.code_digest(code);
        self.read(move |db| {
            db.row(&format!("{CODE_SELECT} WHERE code = ?1"), vals![&code])?
                .map(|r| code_from_row(&r))
                .transpose()
        })
    }

    /// Keeps authorization codes as digests under `key` (derived from the authority folder's
    /// key-encryption key) from now on: the authority only ever compares codes, so reading the
    /// registry reveals none. Codes an earlier version kept as text are turned into digests in
    /// the same write; returns how many.
    pub fn key_authorization_codes(&self, key: [u8; 32], at: OffsetDateTime) -> Result<u64, Error> {
        *self
            .code_key
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) =
            Some(zeroize::Zeroizing::new(key));
        let key = zeroize::Zeroizing::new(key);
        self.write(move |tx| {
            let plain = tx.query(
                "SELECT id, code FROM authorization_codes WHERE code NOT LIKE 'k1:%'",
                &[],
            )?;
            for row in &plain {
                tx.execute(
                    "UPDATE authorization_codes SET code = ?2 WHERE id = ?1",
                    vals![row.int(0)?, keyed_digest(&key, &row.text(1)?)],
                )?;
            }
            if !plain.is_empty() {
                audit::append(
                    tx,
                    &NewAudit::new(
                        at,
                        "registry",
                        "authorization-codes-keyed",
                        "-",
                        format!("{} codes kept as text are now digests", plain.len()),
                    ),
                )?;
            }
            Ok(plain.len() as u64)
        })
    }

    /// What the registry keeps of `code`: its keyed digest (`k1:` and HMAC-SHA-256 in hex) once
    /// the authority gave the key, else (a registry opened alone, as in tests) the code itself.
    fn code_digest(&self, code: &AuthorizationCode) -> String {
        let key = self
            .code_key
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match key.as_ref() {
            Some(key) => keyed_digest(key, code.expose()),
            None => code.expose().to_owned(),
        }
    }

    /// The operator's failed attempts at `credential`.
    pub fn attempt_state(
        &self,
        operator: OperatorId,
        credential: Credential,
    ) -> Result<AttemptState, Error> {
        self.read(move |db| attempt_state(db, operator, credential))
    }

    /// Counts a failed attempt at `credential`, in one write so that racing failures are all
    /// counted: within `window` of the first failure the count grows, else it starts again at 1;
    /// reaching `max_failures` locks the credential out for `lockout`, with an audit entry.
    /// Returns the new state.
    pub fn count_failure(
        &self,
        operator: OperatorId,
        credential: Credential,
        at: OffsetDateTime,
        policy: (u32, time::Duration, time::Duration),
        audit: NewAudit,
    ) -> Result<AttemptState, Error> {
        self.write(move |tx| count(tx, operator, credential, at, policy, &audit))
    }

    /// Reserves an attempt at `credential` before it is verified, deciding and counting in one
    /// write: a locked credential is [`Reservation::Locked`] and nothing is counted; otherwise the
    /// attempt is counted as a failure now (locking the credential if it reaches `max_failures`),
    /// and [`clear_attempts`](Self::clear_attempts) gives it back if it succeeds. However many
    /// attempts race, at most `max_failures` in a window are ever verified.
    pub fn reserve_attempt(
        &self,
        operator: OperatorId,
        credential: Credential,
        at: OffsetDateTime,
        policy: (u32, time::Duration, time::Duration),
        audit: NewAudit,
    ) -> Result<Reservation, Error> {
        self.write(move |tx| {
            let state = attempt_state(tx, operator, credential)?;
            if let Some(until) = state.locked_until.filter(|until| *until > at) {
                return Ok(Reservation::Locked(until));
            }
            count(tx, operator, credential, at, policy, &audit).map(Reservation::Granted)
        })
    }

    /// Clears the failed attempts at `credential` (a success, or an administrator's unlock),
    /// with the audit entry of the decision.
    pub fn clear_attempts(
        &self,
        operator: OperatorId,
        credential: Credential,
        audit: Option<NewAudit>,
    ) -> Result<(), Error> {
        self.set_attempt_state(operator, credential, AttemptState::default(), audit)
    }

    /// Clears the failed attempts at `credential` after a success, in one write that first
    /// checks the lockout: a credential locked meanwhile (by failures racing this success) stays
    /// locked, and `false` says so.
    pub fn clear_attempts_unless_locked(
        &self,
        operator: OperatorId,
        credential: Credential,
        at: OffsetDateTime,
        audit: Option<NewAudit>,
    ) -> Result<bool, Error> {
        let (n, first, until) = credential.columns();
        self.write(move |tx| {
            if locked_until(tx, operator, credential, at)?.is_some() {
                return Ok(false);
            }
            tx.execute(
                &format!(
                    "UPDATE operators SET {n} = 0, {first} = NULL, {until} = NULL WHERE id = ?1"
                ),
                vals![operator.0],
            )?;
            if let Some(audit) = audit {
                audit::append(tx, &audit)?;
            }
            Ok(true)
        })
    }

    /// Stores the operator's failed-attempt state at `credential`, with the audit entry of the
    /// decision.
    pub fn set_attempt_state(
        &self,
        operator: OperatorId,
        credential: Credential,
        state: AttemptState,
        audit: Option<NewAudit>,
    ) -> Result<(), Error> {
        let (n, first, until) = credential.columns();
        self.write(move |tx| {
            let n = tx.execute(
                &format!("UPDATE operators SET {n} = ?2, {first} = ?3, {until} = ?4 WHERE id = ?1"),
                vals![
                    operator.0,
                    state.failures,
                    state.first_failure_at.map(to_unix),
                    state.locked_until.map(to_unix)
                ],
            )?;
            if n == 0 {
                return Err(Error::OperatorNotFound(operator));
            }
            if let Some(audit) = audit {
                audit::append(tx, &audit)?;
            }
            Ok(())
        })
    }
}

pub(super) fn operator_row(db: &mut dyn Db, id: OperatorId) -> Result<Operator, Error> {
    operator_where(db, "id", vals![id.0])?.ok_or(Error::OperatorNotFound(id))
}

/// The operator whose `column` is `value` (the first registered, for a column that is not
/// unique), with its file numbers: two statements.
fn operator_where(
    db: &mut dyn Db,
    column: &'static str,
    value: &[Value],
) -> Result<Option<Operator>, Error> {
    let Some(row) = db.row(
        &format!(
            "SELECT id, identification_number, legal_name, qst_number, gst_number, created_at, disabled_at \
             FROM operators WHERE {column} = ?1 ORDER BY id LIMIT 1"
        ),
        value,
    )?
    else {
        return Ok(None);
    };
    let id = OperatorId(row.int(0)?);
    let files = db
        .query(
            "SELECT file_number, sector FROM file_numbers WHERE operator_id = ?1 ORDER BY file_number",
            vals![id.0],
        )?
        .iter()
        .map(|r| {
            Ok((
                parse("file_numbers", "file_number", &r.text(0)?)?,
                parse("file_numbers", "sector", &r.text(1)?)?,
            ))
        })
        .collect::<Result<Vec<_>, Error>>()?;
    Ok(Some(Operator {
        id,
        identification_number: parse("operators", "identification_number", &row.text(1)?)?,
        legal_name: row.text(2)?,
        qst_number: row
            .opt_text(3)?
            .map(|q| parse("operators", "qst_number", &q))
            .transpose()?,
        gst_number: row
            .opt_text(4)?
            .map(|g| parse("operators", "gst_number", &g))
            .transpose()?,
        file_numbers: files,
        created_at: from_unix("operators", "created_at", row.int(5)?)?,
        disabled_at: row
            .opt_int(6)?
            .map(|t| from_unix("operators", "disabled_at", t))
            .transpose()?,
    }))
}

const CODE_SELECT: &str =
    "SELECT operator_id, sector, activated_at, superseded_at FROM authorization_codes";

fn code_from_row(r: &Row) -> Result<AuthorizationCodeRecord, Error> {
    Ok(AuthorizationCodeRecord {
        operator: OperatorId(r.int(0)?),
        sector: parse("authorization_codes", "sector", &r.text(1)?)?,
        activated_at: from_unix("authorization_codes", "activated_at", r.int(2)?)?,
        superseded_at: r
            .opt_int(3)?
            .map(|t| from_unix("authorization_codes", "superseded_at", t))
            .transpose()?,
    })
}

/// Whose failed attempts: an operator's at one of its credentials, or an agent's password.
#[derive(Debug, Clone)]
pub(super) enum Attempter {
    Operator(OperatorId, Credential),
    Agent(String),
}

impl Attempter {
    /// The table, its key column and value, and the columns holding the count, window start
    /// and lockout end.
    pub(super) fn place(
        &self,
    ) -> (
        &'static str,
        &'static str,
        Value,
        (&'static str, &'static str, &'static str),
    ) {
        match self {
            Self::Operator(id, credential) => {
                ("operators", "id", Value::from(id.0), credential.columns())
            }
            Self::Agent(id) => (
                "agents",
                "agent_id",
                Value::from(id.as_str()),
                ("failed_attempts", "first_failure_at", "locked_until"),
            ),
        }
    }

    fn not_found(&self) -> Error {
        match self {
            Self::Operator(id, _) => Error::OperatorNotFound(*id),
            Self::Agent(id) => Error::AgentNotFound(id.clone()),
        }
    }
}

fn count(
    tx: &mut dyn Db,
    operator: OperatorId,
    credential: Credential,
    at: OffsetDateTime,
    policy: (u32, time::Duration, time::Duration),
    audit: &NewAudit,
) -> Result<AttemptState, Error> {
    count_of(
        tx,
        &Attempter::Operator(operator, credential),
        at,
        policy,
        audit,
    )
}

pub(super) fn count_of(
    tx: &mut dyn Db,
    who: &Attempter,
    at: OffsetDateTime,
    (max_failures, window, lockout): (u32, time::Duration, time::Duration),
    audit: &NewAudit,
) -> Result<AttemptState, Error> {
    let state = state_of(tx, who)?;
    let in_window = state.first_failure_at.is_some_and(|t| at - t < window);
    let (failures, first) = if in_window {
        (state.failures + 1, state.first_failure_at)
    } else {
        (1, Some(at))
    };
    let locked_until = (failures >= max_failures).then_some(at + lockout);
    let (table, key, id, (n, first_at, until)) = who.place();
    tx.execute(
        &format!("UPDATE {table} SET {n} = ?2, {first_at} = ?3, {until} = ?4 WHERE {key} = ?1"),
        vals![id, failures, first.map(to_unix), locked_until.map(to_unix)],
    )?;
    if let Some(until) = locked_until {
        let audit = NewAudit {
            detail: format!("locked until {until}"),
            ..audit.clone()
        };
        audit::append(tx, &audit)?;
    }
    Ok(AttemptState::new(failures, first, locked_until))
}

/// The credential's lockout end, when it is later than `at`.
pub(super) fn locked_until(
    db: &mut dyn Db,
    operator: OperatorId,
    credential: Credential,
    at: OffsetDateTime,
) -> Result<Option<OffsetDateTime>, Error> {
    Ok(attempt_state(db, operator, credential)?
        .locked_until
        .filter(|until| *until > at))
}

fn attempt_state(
    db: &mut dyn Db,
    operator: OperatorId,
    credential: Credential,
) -> Result<AttemptState, Error> {
    state_of(db, &Attempter::Operator(operator, credential))
}

pub(super) fn state_of(db: &mut dyn Db, who: &Attempter) -> Result<AttemptState, Error> {
    let (table, key, id, (n, first, until)) = who.place();
    let row = db
        .row(
            &format!("SELECT {n}, {first}, {until} FROM {table} WHERE {key} = ?1"),
            &[id],
        )?
        .ok_or_else(|| who.not_found())?;
    Ok(AttemptState {
        failures: u32::try_from(row.int(0)?).map_err(|_| Error::Corrupt {
            table,
            column: n,
            value: format!("{:?}", row.0.first()),
        })?,
        first_failure_at: row
            .opt_int(1)?
            .map(|t| from_unix(table, first, t))
            .transpose()?,
        locked_until: row
            .opt_int(2)?
            .map(|t| from_unix(table, until, t))
            .transpose()?,
    })
}

/// `k1:` and the HMAC-SHA-256 of `code` (as typed, in capitals) under `key`, in hex.
fn keyed_digest(key: &[u8; 32], code: &str) -> String {
    use hmac::Mac as _;
    let Ok(mut mac) = hmac::Hmac::<sha2::Sha256>::new_from_slice(key) else {
        unreachable!("HMAC takes keys of any length")
    };
    mac.update(b"websrm authorization code v1\0");
    mac.update(code.as_bytes());
    let digest: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("k1:{digest}")
}
