//! Revocation outside the SRS (customer service by phone, online services), the CRL, and the
//! credentials of agents and operators.

use std::sync::{Mutex, RwLock};

use argon2::Argon2;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use time::{Duration, OffsetDateTime};
use websrm_crypto::{CertificateAuthority, PublicationLinks, RevokedEntry};
use websrm_domain::{CertificateState, RevocationChannel, RevocationReason, SerialNumber};
use websrm_store::NewAudit;
use websrm_store::registry::CertificateRecord;

use crate::{Authority, Error};

/// How long a CRL is valid (its next update).
pub const CRL_VALIDITY: Duration = Duration::hours(24);

/// The CRL publisher: where the CRL and the CA certificate are published (written into every
/// certificate issued), and the CRL last generated, kept until the registry's revocations
/// change (made by this process or another) or its next update nears.
#[derive(Debug, Default)]
pub(crate) struct CrlPublisher {
    links: RwLock<PublicationLinks>,
    last: Mutex<Option<(usize, OffsetDateTime, Vec<u8>)>>,
}

impl CrlPublisher {
    /// Publishes under `base` from now on.
    pub(crate) fn publish_under(&self, base: &str) {
        *self
            .links
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = PublicationLinks::under(base);
    }

    /// Where the CRL and the CA are published, for a certificate about to be issued.
    pub(crate) fn links(&self) -> PublicationLinks {
        self.links
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Forgets the CRL last generated (after a revocation).
    pub(crate) fn invalidate(&self) {
        self.last
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
    }

    /// The CRL of `ca` listing `revoked` at `now`: the one last generated while the count of
    /// revoked certificates is the same and its next update is more than an hour away, else a
    /// new one.
    pub(crate) fn crl(
        &self,
        ca: &CertificateAuthority,
        revoked: &[CertificateRecord],
        now: OffsetDateTime,
    ) -> Result<Vec<u8>, Error> {
        let mut last = self
            .last
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((count, next_update, der)) = last.as_ref()
            && *count == revoked.len()
            && now + Duration::hours(1) < *next_update
        {
            return Ok(der.clone());
        }
        let entries: Vec<RevokedEntry> = revoked
            .iter()
            .filter_map(|r| match r.state {
                CertificateState::Revoked { reason, .. } => Some(RevokedEntry::new(
                    r.serial,
                    r.ended_at.unwrap_or(now),
                    reason,
                )),
                _ => None,
            })
            .collect();
        let next_update = now + CRL_VALIDITY;
        let number = u64::try_from(now.unix_timestamp()).unwrap_or(0);
        let der = ca.issue_crl(&entries, number, now, next_update)?;
        *last = Some((revoked.len(), next_update, der.clone()));
        Ok(der)
    }
}

/// Hashes a password with argon2id and a random salt (PHC string).
pub fn hash_password(password: &str) -> Result<String, Error> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| Error::Invalid(format!("hashing the password: {e}")))
}

/// The hash an unknown identification number is checked against, so that signing in with one
/// costs what signing in with a known one does (argon2id with the same parameters).
pub(crate) fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| hash_password("websrm: no operator has this password").unwrap_or_default())
}

/// Whether `password` matches the PHC string `hash`.
pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|h| {
        Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

/// A random password of 20 letters and digits (about 119 bits).
pub fn generate_password() -> Result<String, Error> {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
    let mut bytes = [0u8; 20];
    getrandom::fill(&mut bytes).map_err(|e| Error::Invalid(format!("random generator: {e}")))?;
    Ok(bytes
        .iter()
        .map(|b| char::from(ALPHABET[usize::from(*b) % ALPHABET.len()]))
        .collect())
}

impl Authority {
    /// Revokes a certificate in force, with the reason and the channel the request came through;
    /// `actor` is the agent (`agent:ID`) or the operator (`operator:NUMBER`), `note` free text.
    pub fn revoke(
        &self,
        serial: SerialNumber,
        reason: RevocationReason,
        channel: RevocationChannel,
        actor: &str,
        note: &str,
    ) -> Result<CertificateRecord, Error> {
        let now = self.now();
        let record = self
            .registry()
            .certificate_by_serial(serial)?
            .ok_or_else(|| Error::NotFound(format!("no certificate {serial}")))?;
        if record.state != CertificateState::Active {
            return Err(Error::Invalid(format!(
                "certificate {serial} is not in force ({:?})",
                record.state
            )));
        }
        let audit = NewAudit::new(
            now,
            actor,
            "revoke",
            serial.to_string(),
            format!("{reason} via {channel}: {note}"),
        );
        self.registry()
            .record_revocation(serial, reason, channel, now, actor, audit)?;
        self.publisher().invalidate();
        Ok(self
            .registry()
            .certificate_by_serial(serial)?
            .unwrap_or(record))
    }

    /// The CRL of this authority's CA (DER): every revoked certificate of its environments with
    /// its reason, regenerated after a revocation and before its next update.
    pub fn crl(&self) -> Result<Vec<u8>, Error> {
        let revoked = self.registry().revoked(self.environment())?;
        self.publisher().crl(self.ca(), &revoked, self.now())
    }

    /// Checks an agent's credentials; every attempt goes to the audit log.
    pub fn authenticate_agent(&self, agent_id: &str, password: &str) -> Result<(), Error> {
        let now = self.now();
        let ok = self
            .registry()
            .agent_password_hash(agent_id)?
            .is_some_and(|h| verify_password(password, &h));
        let action = if ok {
            "agent-sign-in"
        } else {
            "agent-sign-in-refused"
        };
        self.registry().append_audit(NewAudit::new(
            now,
            format!("agent:{agent_id}"),
            action,
            agent_id,
            "",
        ))?;
        if ok {
            Ok(())
        } else {
            Err(Error::Invalid("unknown agent or wrong password".into()))
        }
    }
}

/// What an agent sees of an operator after verifying the caller's identity.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct OperatorFile {
    /// The operator.
    pub operator: websrm_store::registry::Operator,
    /// Its certificates, newest first.
    pub certificates: Vec<CertificateRecord>,
    /// The device identifiers issued for its requests.
    pub devices: Vec<websrm_domain::DeviceId>,
}

impl Authority {
    /// The certificate in force named `nickname` of the operator whose identity the agent
    /// verified with its three numbers (identification, QST, file): the agent's way to revoke
    /// by name, with the same identity check as [`Authority::agent_find_operator`].
    pub fn agent_find_certificate(
        &self,
        agent_id: &str,
        number: &websrm_domain::IdentificationNumber,
        qst: &websrm_domain::QstNumber,
        file: &websrm_domain::FileNumber,
        nickname: &str,
    ) -> Result<CertificateRecord, Error> {
        let found = self.agent_find_operator(agent_id, number, qst, file)?;
        found
            .certificates
            .into_iter()
            .find(|c| c.nickname.as_str() == nickname && c.state == CertificateState::Active)
            .ok_or_else(|| {
                Error::NotFound(format!(
                    "{number} has no certificate in force named {nickname:?}"
                ))
            })
    }

    /// Customer service: finds an operator after verifying the caller's identity (identification
    /// number, QST number and file number must all match). The check and its outcome are in the
    /// audit log with the agent's id.
    pub fn agent_find_operator(
        &self,
        agent_id: &str,
        number: &websrm_domain::IdentificationNumber,
        qst: &websrm_domain::QstNumber,
        file: &websrm_domain::FileNumber,
    ) -> Result<OperatorFile, Error> {
        let now = self.now();
        let actor = format!("agent:{agent_id}");
        let operator = self.registry().operator_by_identification(number)?;
        let verified = operator.as_ref().filter(|op| {
            op.qst_number.as_ref() == Some(qst) && op.file_numbers.iter().any(|(f, _)| f == file)
        });
        let Some(operator) = verified.cloned() else {
            self.registry().append_audit(NewAudit::new(
                now,
                &actor,
                "identity-check-failed",
                number.as_str(),
                format!("QST {qst}, file {file}"),
            ))?;
            return Err(Error::Invalid(
                "the identity could not be verified: the numbers do not match an operator".into(),
            ));
        };
        self.registry().append_audit(NewAudit::new(
            now,
            &actor,
            "identity-check",
            number.as_str(),
            format!("QST {qst}, file {file}"),
        ))?;
        let certificates = self.registry().certificates_of_operator(operator.id)?;
        let mut devices: Vec<websrm_domain::DeviceId> =
            certificates.iter().filter_map(|c| c.device).collect();
        devices.sort();
        devices.dedup();
        Ok(OperatorFile {
            operator,
            certificates,
            devices,
        })
    }

    /// Customer service: looks up a device identifier (an operator may be asked for it). The
    /// look-up is in the audit log with the agent's id.
    pub fn agent_device(
        &self,
        agent_id: &str,
        device: websrm_domain::DeviceId,
    ) -> Result<(websrm_store::registry::DeviceRecord, Vec<CertificateRecord>), Error> {
        let now = self.now();
        self.registry().append_audit(NewAudit::new(
            now,
            format!("agent:{agent_id}"),
            "device-lookup",
            device.to_string(),
            "",
        ))?;
        let record = self
            .registry()
            .device(device)?
            .ok_or_else(|| Error::NotFound(format!("no device {device}")))?;
        let certificates = self.registry().certificates_of_device(device)?;
        Ok((record, certificates))
    }
}
