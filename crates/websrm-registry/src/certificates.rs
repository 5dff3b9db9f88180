//! Device identifiers, certificates with every transition, and the audit log.

use time::OffsetDateTime;
use websrm_domain::{
    CertificateState, DeviceId, Environment, Nickname, RevocationChannel, RevocationReason,
    SerialNumber, Thumbprint, Validity,
};

use websrm_domain::Source;

use super::{
    CertificateEvent, CertificateRecord, Credential, DeviceRecord, NewCertificate, OperatorId,
    Registry,
};
use crate::audit::{self, AuditEntry, NewAudit};
use crate::sql::{Db, Row, vals};
use crate::{Error, Pending};
use websrm_sqlite::{from_unix, parse, to_unix};

impl Registry {
    // ----- devices -----------------------------------------------------------------------------

    /// Issues a new device identifier: random, never zero, never issued before.
    pub fn allocate_device_id(
        &self,
        operator: Option<OperatorId>,
        host: Option<DeviceId>,
        at: OffsetDateTime,
        audit: NewAudit,
    ) -> Result<DeviceId, Error> {
        self.write(move |tx| {
            let id = allocate_device_id(tx, operator, host, at)?;
            audit::append(tx, &audit.subject(id.to_string()))?;
            Ok(id)
        })
    }

    /// The record of a device identifier.
    pub fn device(&self, id: DeviceId) -> Result<Option<DeviceRecord>, Error> {
        self.read(move |db| {
            db.row(
                "SELECT device_id, issued_at, operator_id, host_device FROM devices WHERE device_id = ?1",
                vals![id.to_string()],
            )?
            .map(|r| device_from_row(&r))
            .transpose()
        })
    }

    /// The terminals whose identifiers were issued for this host device.
    pub fn terminals_of(&self, host: DeviceId) -> Result<Vec<DeviceRecord>, Error> {
        self.read(move |db| {
            db.query(
                "SELECT device_id, issued_at, operator_id, host_device FROM devices WHERE host_device = ?1 \
                 ORDER BY issued_at",
                vals![host.to_string()],
            )?
            .iter()
            .map(device_from_row)
            .collect()
        })
    }

    // ----- certificates ------------------------------------------------------------------------

    /// Whether the operator has a certificate in force in `environment` named `nickname` at `at`
    /// (active and not expired).
    pub fn nickname_in_force(
        &self,
        operator: OperatorId,
        environment: Environment,
        nickname: &Nickname,
        at: OffsetDateTime,
    ) -> Result<bool, Error> {
        let nickname = nickname.clone();
        self.read(move |db| nickname_in_force(db, operator, environment, &nickname, at, None))
    }

    /// Records an issued certificate, durably, with its event and audit entry. Called before the
    /// certificate is returned to anyone. When `new_device` is set, the device identifier is
    /// allocated in the same transaction and recorded as the certificate's device.
    ///
    /// In PROD, a nickname already used by an in-force certificate of the operator is refused.
    pub fn record_issued(
        &self,
        cert: &NewCertificate,
        new_device: bool,
        at: OffsetDateTime,
        audit: NewAudit,
    ) -> Result<Option<DeviceId>, Error> {
        self.record_issued_later(cert, new_device, at, audit).wait()
    }

    /// [`record_issued`](Self::record_issued), its commit awaited rather than waited for.
    pub fn record_issued_later(
        &self,
        cert: &NewCertificate,
        new_device: bool,
        at: OffsetDateTime,
        audit: NewAudit,
    ) -> Pending<Option<DeviceId>> {
        let cert = cert.to_owned();
        self.write_later(move |tx| {
            check_not_locked(tx, cert.operator, at)?;
            check_key(tx, &cert)?;
            check_nickname(tx, &cert, at, None)?;
            let mut cert = cert;
            let allocated = if new_device {
                let id = allocate_device_id(tx, Some(cert.operator), cert.host, at)?;
                cert.device = Some(id);
                Some(id)
            } else {
                None
            };
            insert_certificate(tx, &cert, at)?;
            audit::append(tx, &audit)?;
            Ok(allocated)
        })
    }

    /// Records many issued certificates in one transaction (imports and benchmarks), each with
    /// its event and audit entry.
    pub fn record_issued_batch(
        &self,
        certs: &[NewCertificate],
        at: OffsetDateTime,
    ) -> Result<(), Error> {
        let certs = certs.to_owned();
        self.write(move |tx| {
            for cert in &certs {
                check_nickname(tx, cert, at, None)?;
                insert_certificate(tx, cert, at)?;
                audit::append(
                    tx,
                    &NewAudit::new(
                        at,
                        cert.actor.clone(),
                        "issue",
                        cert.serial.to_string(),
                        "imported",
                    ),
                )?;
            }
            Ok(())
        })
    }

    /// Replaces a certificate in force with a new one, in one transaction: the old is marked
    /// replaced by the new, the new recorded as issued.
    pub fn record_replacement(
        &self,
        old: SerialNumber,
        new: &NewCertificate,
        at: OffsetDateTime,
        audit: NewAudit,
    ) -> Result<(), Error> {
        self.record_replacement_later(old, new, at, audit).wait()
    }

    /// [`record_replacement`](Self::record_replacement), its commit awaited rather than waited
    /// for.
    pub fn record_replacement_later(
        &self,
        old: SerialNumber,
        new: &NewCertificate,
        at: OffsetDateTime,
        audit: NewAudit,
    ) -> Pending<()> {
        let new = new.to_owned();
        self.write_later(move |tx| {
            let current = certificate_row(tx, "serial", &old.to_string())?
                .ok_or(Error::CertificateNotFound(old))?;
            if current.state != CertificateState::Active {
                return Err(Error::CertificateNotActive(old));
            }
            check_not_locked(tx, new.operator, at)?;
            // The replacement may keep the nickname of the certificate it replaces.
            check_key(tx, &new)?;
            check_nickname(tx, &new, at, Some(old))?;
            insert_certificate(tx, &new, at)?;
            tx.execute(
                "UPDATE certificates SET status = 'replaced', replaced_by = ?2, ended_at = ?3, ended_by = ?4 \
                 WHERE serial = ?1",
                vals![old.to_string(), new.serial.to_string(), to_unix(at), &new.actor],
            )?;
            event(
                tx,
                old,
                at,
                "replaced",
                &new.actor,
                &format!("replaced by {}", new.serial),
            )?;
            audit::append(tx, &audit)?;
            Ok(())
        })
    }

    /// Records a deletion at the SRS's request (`SUP`).
    pub fn record_deletion(
        &self,
        serial: SerialNumber,
        at: OffsetDateTime,
        actor: &str,
        audit: NewAudit,
    ) -> Result<(), Error> {
        self.record_deletion_later(serial, at, actor, audit).wait()
    }

    /// [`record_deletion`](Self::record_deletion), its commit awaited rather than waited for.
    pub fn record_deletion_later(
        &self,
        serial: SerialNumber,
        at: OffsetDateTime,
        actor: &str,
        audit: NewAudit,
    ) -> Pending<()> {
        self.end(serial, at, actor, "deleted", None, audit)
    }

    /// Records a revocation with its reason, the channel it came through and who did it.
    pub fn record_revocation(
        &self,
        serial: SerialNumber,
        reason: RevocationReason,
        channel: RevocationChannel,
        at: OffsetDateTime,
        actor: &str,
        audit: NewAudit,
    ) -> Result<(), Error> {
        self.end(serial, at, actor, "revoked", Some((reason, channel)), audit)
            .wait()
    }

    fn end(
        &self,
        serial: SerialNumber,
        at: OffsetDateTime,
        actor: &str,
        status: &'static str,
        revocation: Option<(RevocationReason, RevocationChannel)>,
        audit: NewAudit,
    ) -> Pending<()> {
        let actor = actor.to_owned();
        self.write_later(move |tx| {
            let current = certificate_row(tx, "serial", &serial.to_string())?
                .ok_or(Error::CertificateNotFound(serial))?;
            if current.state != CertificateState::Active {
                return Err(Error::CertificateNotActive(serial));
            }
            tx.execute(
                "UPDATE certificates SET status = ?2, ended_at = ?3, ended_by = ?4, revocation_reason = ?5, \
                 revocation_channel = ?6 WHERE serial = ?1",
                vals![
                    serial.to_string(),
                    status,
                    to_unix(at),
                    &actor,
                    revocation.map(|(r, _)| r.code()),
                    revocation.map(|(_, c)| c.as_str())
                ],
            )?;
            let detail = revocation
                .map(|(r, c)| format!("{r} via {c}"))
                .unwrap_or_default();
            event(tx, serial, at, status, &actor, &detail)?;
            audit::append(tx, &audit)?;
            Ok(())
        })
    }

    /// The certificate with this serial number.
    pub fn certificate_by_serial(
        &self,
        serial: SerialNumber,
    ) -> Result<Option<CertificateRecord>, Error> {
        self.read(move |db| certificate_row(db, "serial", &serial.to_string()))
    }

    /// The certificate with this thumbprint.
    pub fn certificate_by_thumbprint(
        &self,
        thumbprint: Thumbprint,
    ) -> Result<Option<CertificateRecord>, Error> {
        self.read(move |db| certificate_row(db, "thumbprint", &thumbprint.to_string()))
    }

    /// The operator's certificates, newest first.
    pub fn certificates_of_operator(
        &self,
        operator: OperatorId,
    ) -> Result<Vec<CertificateRecord>, Error> {
        self.read(move |db| {
            certificates_where(
                db,
                "operator_id = ?1 ORDER BY issued_at DESC, id DESC",
                vals![operator.0],
            )
        })
    }

    /// A page of certificates by expiry (`not_after`, then serial), at most `limit`, after the
    /// certificate `after` (its `not_after` and serial) when given: those with `status`
    /// (`active`, `replaced`, `deleted`, `revoked`) if given, and expiring in `[from, until)`.
    pub fn certificates_by_expiry(
        &self,
        status: Option<&'static str>,
        from: Option<OffsetDateTime>,
        until: Option<OffsetDateTime>,
        after: Option<(OffsetDateTime, SerialNumber)>,
        limit: u32,
    ) -> Result<Vec<CertificateRecord>, Error> {
        self.read(move |db| {
            let mut clause = String::from("1 = 1");
            let mut params: Vec<crate::sql::Value> = Vec::new();
            let mut bind = |clause: &mut String, sql: &str, value: crate::sql::Value| {
                params.push(value);
                clause.push_str(&sql.replace('?', &format!("?{}", params.len())));
            };
            if let Some(status) = status {
                bind(&mut clause, " AND status = ?", status.into());
            }
            if let Some(from) = from {
                bind(&mut clause, " AND not_after >= ?", to_unix(from).into());
            }
            if let Some(until) = until {
                bind(&mut clause, " AND not_after < ?", to_unix(until).into());
            }
            if let Some((at, serial)) = after {
                bind(&mut clause, " AND (not_after > ?", to_unix(at).into());
                bind(&mut clause, " OR (not_after = ?", to_unix(at).into());
                bind(&mut clause, " AND serial > ?))", serial.to_string().into());
            }
            clause.push_str(&format!(" ORDER BY not_after, serial LIMIT {limit}"));
            certificates_where(db, &clause, &params)
        })
    }

    /// The operator's certificate in force for the public key `key_id` (hex SHA-1), if any: what
    /// a retransmitted request for the same key must get again.
    pub fn active_certificate_for_key(
        &self,
        operator: OperatorId,
        key_id: &[u8],
    ) -> Result<Option<CertificateRecord>, Error> {
        let hex = key_hex(key_id);
        self.read(move |db| {
            Ok(certificates_where(
                db,
                "key_id = ?1 AND +operator_id = ?2 AND status = 'active' ORDER BY id DESC LIMIT 1",
                vals![&hex, operator.0],
            )?
            .into_iter()
            .next())
        })
    }

    /// The certificates issued for a device, newest first.
    pub fn certificates_of_device(
        &self,
        device: DeviceId,
    ) -> Result<Vec<CertificateRecord>, Error> {
        self.read(move |db| {
            certificates_where(
                db,
                "device_id = ?1 ORDER BY issued_at DESC, id DESC",
                vals![device.to_string()],
            )
        })
    }

    /// The revoked certificates of an environment's CA (both conformity environments share one),
    /// with when and why.
    pub fn revoked(&self, environment: Environment) -> Result<Vec<CertificateRecord>, Error> {
        let family: &'static [&'static str] = if environment.is_conformity() {
            &["DEV", "ESSAI"]
        } else {
            &["PROD"]
        };
        self.read(move |db| {
            let mut out = Vec::new();
            for env in family {
                out.extend(certificates_where(
                    db,
                    "environment = ?1 AND status = 'revoked' ORDER BY ended_at, id",
                    vals![*env],
                )?);
            }
            Ok(out)
        })
    }

    /// How many certificates of `environment`'s family are revoked.
    pub fn revoked_count(&self, environment: Environment) -> Result<u64, Error> {
        let family = if environment.is_conformity() {
            "environment IN ('DEV', 'ESSAI')"
        } else {
            "environment = 'PROD'"
        };
        self.read(move |db| {
            let row = db
                .row(
                    &format!(
                        "SELECT count(*) FROM certificates WHERE {family} AND status = 'revoked'"
                    ),
                    &[],
                )?
                .ok_or_else(|| Error::Database {
                    cause: Source::text("count(*) returned no row"),
                })?;
            Ok(u64::try_from(row.int(0)?).unwrap_or(0))
        })
    }

    /// The transitions of a certificate, oldest first.
    pub fn certificate_events(&self, serial: SerialNumber) -> Result<Vec<CertificateEvent>, Error> {
        self.read(move |db| {
            db.query(
                "SELECT e.at, e.event, e.actor, e.detail FROM certificate_events e \
                 JOIN certificates c ON c.id = e.certificate WHERE c.serial = ?1 ORDER BY e.id",
                vals![serial.to_string()],
            )?
            .iter()
            .map(|r| {
                Ok(CertificateEvent {
                    at: from_unix("certificate_events", "at", r.int(0)?)?,
                    event: r.text(1)?,
                    actor: r.text(2)?,
                    detail: r.text(3)?,
                })
            })
            .collect()
        })
    }

    /// How many certificates are on record.
    pub fn certificate_count(&self) -> Result<u64, Error> {
        let n = self.read(|db| db.count("SELECT count(*) FROM certificates", &[]))?;
        Ok(n.unsigned_abs())
    }

    // ----- audit -------------------------------------------------------------------------------

    /// Appends an entry to the audit log (a refusal, a look-up), durably.
    pub fn append_audit(&self, entry: NewAudit) -> Result<AuditEntry, Error> {
        self.append_audit_later(entry).wait()
    }

    /// [`append_audit`](Self::append_audit), its commit awaited rather than waited for.
    pub fn append_audit_later(&self, entry: NewAudit) -> Pending<AuditEntry> {
        self.write_later(move |tx| audit::append(tx, &entry))
    }

    /// The audit log from entry `from` (1 is the first), in order, whole in memory: for tests and
    /// small logs; [`for_each_audit_entry`](Self::for_each_audit_entry) reads it a page at a time.
    pub fn audit_entries(&self, from: i64) -> Result<Vec<AuditEntry>, Error> {
        let mut all = Vec::new();
        self.for_each_audit_entry(from, None, |e| {
            all.push(e);
            Ok(())
        })?;
        Ok(all)
    }

    /// Hands `each` the audit log's entries from `from` (1 is the first) at or after `since`, in
    /// order, reading a page of entries at a time: a log of any length is exported in bounded
    /// memory.
    pub fn for_each_audit_entry(
        &self,
        from: i64,
        since: Option<OffsetDateTime>,
        each: impl FnMut(AuditEntry) -> Result<(), Error>,
    ) -> Result<(), Error> {
        audit::for_each(
            &|next| self.read(move |db| audit::entries(db, next, since)),
            each,
            from,
        )
    }

    /// Keys the audit chain with `key` (derived from the authority folder's key-encryption key)
    /// and anchors its head in the file `checkpoint`, rewritten after every commit that appends.
    /// Unless the chain is keyed already, its unkeyed entries are verified first and the entry
    /// that marks the change is appended.
    pub fn key_audit_chain(
        &self,
        key: [u8; 32],
        checkpoint: Option<std::path::PathBuf>,
        at: OffsetDateTime,
    ) -> Result<(), Error> {
        let head = self.audit.set_key(key, checkpoint);
        self.write(move |tx| audit::key_chain(tx, head, at))
    }

    /// Verifies the audit log's chain from the first entry, a page at a time: every link (keyed
    /// ones with the registry's key), and that the log still holds the entry its checkpoint
    /// names. Returns how many entries it has.
    pub fn verify_audit_chain(&self) -> Result<u64, Error> {
        let (key, checkpoint) = audit::verification(&self.audit)?;
        let key: Option<[u8; 32]> = key.as_deref().copied();
        let mut progress = audit::Progress::start();
        loop {
            let (count, next) = self.read(move |db| {
                let mut progress = progress;
                let count = audit::verify_page(db, key.as_ref(), checkpoint, &mut progress)?;
                Ok((count, progress))
            })?;
            progress = next;
            if count == 0 {
                break;
            }
        }
        audit::finish(&progress, checkpoint)
    }
}

fn key_hex(key_id: &[u8]) -> String {
    key_id.iter().map(|b| format!("{b:02X}")).collect()
}

fn device_from_row(r: &Row) -> Result<DeviceRecord, Error> {
    Ok(DeviceRecord {
        device_id: parse("devices", "device_id", &r.text(0)?)?,
        issued_at: from_unix("devices", "issued_at", r.int(1)?)?,
        operator: r.opt_int(2)?.map(OperatorId),
        host: r
            .opt_text(3)?
            .map(|h| parse("devices", "host_device", &h))
            .transpose()?,
    })
}

fn allocate_device_id(
    db: &mut dyn Db,
    operator: Option<OperatorId>,
    host: Option<DeviceId>,
    at: OffsetDateTime,
) -> Result<DeviceId, Error> {
    for _ in 0..64 {
        let mut bytes = [0u8; 8];
        getrandom::fill(&mut bytes).map_err(|e| Error::Database {
            cause: Source::text(format!("random generator: {e}")),
        })?;
        let Some(id) = DeviceId::from_u64(u64::from_le_bytes(bytes) % (DeviceId::MAX + 1)) else {
            continue;
        };
        let inserted = db.execute(
            "INSERT INTO devices (device_id, issued_at, operator_id, host_device) VALUES (?1, ?2, ?3, ?4) \
             ON CONFLICT DO NOTHING",
            vals![
                id.to_string(),
                to_unix(at),
                operator.map(|o| o.0),
                host.map(|h| h.to_string())
            ],
        )?;
        if inserted == 1 {
            return Ok(id);
        }
    }
    Err(Error::DeviceIdExhausted)
}

fn nickname_in_force(
    db: &mut dyn Db,
    operator: OperatorId,
    environment: Environment,
    nickname: &Nickname,
    at: OffsetDateTime,
    except: Option<SerialNumber>,
) -> Result<bool, Error> {
    let n = db.count(
        "SELECT count(*) FROM certificates WHERE operator_id = ?1 AND environment = ?2 AND nickname = ?3 \
         AND status = 'active' AND not_after >= ?4 AND serial IS DISTINCT FROM ?5",
        vals![
            operator.0,
            environment.as_str(),
            nickname.as_str(),
            to_unix(at),
            except.map(|s| s.to_string())
        ],
    )?;
    Ok(n > 0)
}

/// A certificate in force for the same operator, key and nickname is the one a repeated
/// request already obtained: checked inside the write, so that two copies of a request in one
/// batch (or in two processes) give one certificate.
fn check_key(db: &mut dyn Db, cert: &NewCertificate) -> Result<(), Error> {
    let Some(key_id) = &cert.key_id else {
        return Ok(());
    };
    let existing = db.row(
        "SELECT serial FROM certificates WHERE key_id = ?2 AND +operator_id = ?1 AND +nickname = ?3 \
         AND status = 'active' LIMIT 1",
        vals![cert.operator.0, key_id, cert.nickname.as_str()],
    )?;
    match existing {
        Some(row) => Err(Error::KeyInUse(parse(
            "certificates",
            "serial",
            &row.text(0)?,
        )?)),
        None => Ok(()),
    }
}

fn check_nickname(
    db: &mut dyn Db,
    cert: &NewCertificate,
    at: OffsetDateTime,
    except: Option<SerialNumber>,
) -> Result<(), Error> {
    if cert.environment == Environment::Prod
        && nickname_in_force(
            db,
            cert.operator,
            cert.environment,
            &cert.nickname,
            at,
            except,
        )?
    {
        return Err(Error::NicknameInUse(cert.nickname.clone()));
    }
    Ok(())
}

fn insert_certificate(
    db: &mut dyn Db,
    cert: &NewCertificate,
    at: OffsetDateTime,
) -> Result<(), Error> {
    let inserted = db.execute(
        "INSERT INTO certificates (serial, thumbprint, environment, operator_id, device_id, nickname, subject, \
         not_before, not_after, der, status, issued_at, key_id) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, 'active', ?11, ?12) ON CONFLICT DO NOTHING",
        vals![
            cert.serial.to_string(),
            cert.thumbprint.to_string(),
            cert.environment.as_str(),
            cert.operator.0,
            cert.device.map(|d| d.to_string()),
            cert.nickname.as_str(),
            &cert.subject,
            to_unix(cert.validity.not_before()),
            to_unix(cert.validity.not_after()),
            &cert.der,
            to_unix(at),
            cert.key_id.as_ref()
        ],
    )?;
    if inserted == 0 {
        return Err(Error::CertificateExists(cert.serial));
    }
    event(db, cert.serial, at, "issued", &cert.actor, "")
}

fn event(
    db: &mut dyn Db,
    serial: SerialNumber,
    at: OffsetDateTime,
    event: &str,
    actor: &str,
    detail: &str,
) -> Result<(), Error> {
    db.execute(
        "INSERT INTO certificate_events (certificate, at, event, actor, detail) \
         VALUES ((SELECT id FROM certificates WHERE serial = ?1), ?2, ?3, ?4, ?5)",
        vals![serial.to_string(), to_unix(at), event, actor, detail],
    )?;
    Ok(())
}

const CERT_SELECT: &str = "SELECT serial, thumbprint, environment, operator_id, device_id, nickname, subject, not_before, \
    not_after, der, status, issued_at, replaced_by, ended_at, revocation_reason, revocation_channel, ended_by FROM certificates";

fn certificate_row(
    db: &mut dyn Db,
    column: &'static str,
    value: &str,
) -> Result<Option<CertificateRecord>, Error> {
    db.row(&format!("{CERT_SELECT} WHERE {column} = ?1"), vals![value])?
        .map(|r| certificate_from_row(&r))
        .transpose()
}

fn certificates_where(
    db: &mut dyn Db,
    clause: &str,
    params: &[crate::sql::Value],
) -> Result<Vec<CertificateRecord>, Error> {
    db.query(&format!("{CERT_SELECT} WHERE {clause}"), params)?
        .iter()
        .map(certificate_from_row)
        .collect()
}

fn certificate_from_row(r: &Row) -> Result<CertificateRecord, Error> {
    const T: &str = "certificates";
    let validity = Validity::new(
        from_unix(T, "not_before", r.int(7)?)?,
        from_unix(T, "not_after", r.int(8)?)?,
    )
    .ok_or_else(|| Error::Corrupt {
        table: T,
        column: "not_after",
        value: "before not_before".into(),
    })?;
    let status = r.text(10)?;
    let state = match status.as_str() {
        "active" => CertificateState::Active,
        "replaced" => CertificateState::Replaced,
        "deleted" => CertificateState::Deleted,
        "revoked" => {
            let code = r.opt_int(14)?;
            let channel = r.opt_text(15)?;
            CertificateState::Revoked {
                reason: code
                    .and_then(|c| u8::try_from(c).ok())
                    .and_then(RevocationReason::from_code)
                    .ok_or_else(|| Error::Corrupt {
                        table: T,
                        column: "revocation_reason",
                        value: format!("{code:?}"),
                    })?,
                channel: parse(
                    T,
                    "revocation_channel",
                    channel.as_deref().unwrap_or_default(),
                )?,
            }
        }
        _ => {
            return Err(Error::Corrupt {
                table: T,
                column: "status",
                value: status,
            });
        }
    };
    Ok(CertificateRecord {
        serial: parse(T, "serial", &r.text(0)?)?,
        thumbprint: parse(T, "thumbprint", &r.text(1)?)?,
        environment: parse(T, "environment", &r.text(2)?)?,
        operator: OperatorId(r.int(3)?),
        device: r
            .opt_text(4)?
            .map(|d| parse(T, "device_id", &d))
            .transpose()?,
        nickname: parse(T, "nickname", &r.text(5)?)?,
        subject: r.text(6)?,
        validity,
        der: r.blob(9)?,
        state,
        issued_at: from_unix(T, "issued_at", r.int(11)?)?,
        replaced_by: r
            .opt_text(12)?
            .map(|s| parse(T, "replaced_by", &s))
            .transpose()?,
        ended_at: r
            .opt_int(13)?
            .map(|t| from_unix(T, "ended_at", t))
            .transpose()?,
        ended_by: r.opt_text(16)?,
    })
}

/// Refuses a certificate for an operator whose authorization codes got locked out after the
/// request's code was checked: the lockout and the issuance are decided in the same order as
/// the writes that record them.
fn check_not_locked(
    tx: &mut dyn Db,
    operator: OperatorId,
    at: OffsetDateTime,
) -> Result<(), Error> {
    match super::operators::locked_until(tx, operator, Credential::AuthorizationCode, at)? {
        Some(until) => Err(Error::LockedOut { until }),
        None => Ok(()),
    }
}
