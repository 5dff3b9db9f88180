//! Revocation outside the SRS (customer service by phone, online services), the CRL, and the
//! credentials of agents and operators.

use std::collections::HashMap;
use std::sync::{Mutex, RwLock};

use time::{Duration, OffsetDateTime};
use websrm_crypto::{CertificateAuthority, PublicationLinks, RevokedEntry};
use websrm_domain::{CertificateState, RevocationChannel, RevocationReason, SerialNumber};
use websrm_registry::CertificateRecord;
use websrm_registry::NewAudit;

use crate::Error;
use crate::core::Core;
use crate::service::Issuance;

/// How long a CRL is valid (its next update).
pub const CRL_VALIDITY: Duration = Duration::hours(24);

/// The CRL publisher: where the CRLs and the CA certificates are published (written into every
/// certificate issued), and each root's CRL last generated, kept until the registry's
/// revocations change (made by this process or another) or its next update nears.
#[derive(Debug, Default)]
pub(crate) struct CrlPublisher {
    base: RwLock<Option<String>>,
    /// By CA generation, the CRL last made.
    last: Mutex<HashMap<u32, MadeCrl>>,
}

/// A CRL made: the count of revoked certificates it was made for, its next update, and the CRL.
type MadeCrl = (u64, OffsetDateTime, Vec<u8>);

impl CrlPublisher {
    /// Publishes under `base` from now on.
    pub(crate) fn publish_under(&self, base: &str) {
        *self
            .base
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(base.to_owned());
    }

    /// Where the CRL and the CA of the root `generation` are published, for a certificate it is
    /// about to issue.
    pub(crate) fn links(&self, generation: u32) -> PublicationLinks {
        self.base
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .as_deref()
            .map(|base| PublicationLinks::of_generation(base, generation))
            .unwrap_or_default()
    }

    /// Forgets the CRLs last generated (after a revocation).
    pub(crate) fn invalidate(&self) {
        self.last
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clear();
    }

    /// The CRL of the root `generation` last generated, while the count of revoked
    /// certificates is still `count` and its next update is more than an hour after `now`.
    pub(crate) fn cached(
        &self,
        generation: u32,
        count: u64,
        now: OffsetDateTime,
    ) -> Option<Vec<u8>> {
        let last = self
            .last
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        last.get(&generation)
            .filter(|(n, next_update, _)| *n == count && now + Duration::hours(1) < *next_update)
            .map(|(_, _, der)| der.clone())
    }

    /// When the CRL of the root `generation` last generated was made, if any.
    pub(crate) fn last_made(&self, generation: u32) -> Option<OffsetDateTime> {
        self.last
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&generation)
            .map(|(_, next_update, _)| *next_update - CRL_VALIDITY)
    }

    /// A new CRL of `ca` (the root `generation`) numbered `number`, listing those of `revoked`
    /// it issued, at `now`, made while `count` certificates were revoked; kept for [`cached`].
    ///
    /// [`cached`]: Self::cached
    pub(crate) fn issue(
        &self,
        (generation, ca): (u32, &CertificateAuthority),
        revoked: &[CertificateRecord],
        count: u64,
        number: u64,
        now: OffsetDateTime,
    ) -> Result<Vec<u8>, Error> {
        let entries: Vec<RevokedEntry> = revoked
            .iter()
            .filter(|r| ca.is_issuer_of(&r.der))
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
        let der = ca.issue_crl(&entries, number, now, next_update)?;
        self.last
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(generation, (count, next_update, der.clone()));
        Ok(der)
    }
}

/// The registry's counter of CRL numbers.
const CRL_NUMBER: &str = "CRL number";

/// Revocation outside the SRS, the CRLs of each root, and what customer service looks up:
/// a part of the authority over the shared core, its CRL publisher and the issuing roots (to
/// sign each root's CRL). Through [`crate::Authority::revocation`].
#[derive(Clone, Copy)]
pub struct Revocation<'a> {
    pub(crate) core: &'a Core,
    pub(crate) publisher: &'a CrlPublisher,
    pub(crate) roots: &'a Issuance,
}

impl std::fmt::Debug for Revocation<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Revocation")
            .field("environment", &self.core.environment)
            .finish_non_exhaustive()
    }
}

impl Revocation<'_> {
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
        let now = self.core.now();
        let record = self
            .core
            .registry
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
        self.core
            .registry
            .record_revocation(serial, reason, channel, now, actor, audit)?;
        self.publisher.invalidate();
        Ok(self
            .core
            .registry
            .certificate_by_serial(serial)?
            .unwrap_or(record))
    }

    /// The CRL of this authority's CA (DER): every revoked certificate of its environments with
    /// its reason, regenerated after a revocation and before its next update.
    ///
    /// The CRL last generated is served while the count of revoked certificates is unchanged
    /// (one count, not a read of every revoked row); a new one takes the registry's next CRL
    /// number, a counter that only grows, shared by every process of the authority (it starts
    /// from the Unix time of the first CRL, the numbers earlier versions used).
    pub fn crl(&self) -> Result<Vec<u8>, Error> {
        self.crl_of(1)
    }

    /// The CRL of the CA's root `generation` (1 the first, served at `/crl`; each later one at
    /// `/crl/N`): the revoked certificates that root issued. Numbered from the one counter all
    /// roots share, so that every CRL's number is greater than any made before it.
    pub fn crl_of(&self, generation: u32) -> Result<Vec<u8>, Error> {
        let ca = self
            .roots
            .ca_of(generation)
            .ok_or_else(|| Error::NotFound(format!("no CA of generation {generation}")))?;
        let now = self.core.now();
        let count = self.core.registry.revoked_count(self.core.environment)?;
        if let Some(der) = self.publisher.cached(generation, count, now) {
            return Ok(der);
        }
        let revoked = self.core.registry.revoked(self.core.environment)?;
        let number = self
            .core
            .registry
            .next_counter(CRL_NUMBER, u64::try_from(now.unix_timestamp()).unwrap_or(0))?;
        self.publisher
            .issue((generation, ca), &revoked, count, number, now)
    }

    /// Checks an agent's credentials; every attempt goes to the audit log.
    pub fn authenticate_agent(&self, agent_id: &str, password: &str) -> Result<(), Error> {
        let now = self.core.now();
        let ok = self
            .core
            .registry
            .agent_password_hash(agent_id)?
            .is_some_and(|h| crate::password::verify_password(password, &h));
        let action = if ok {
            "agent-sign-in"
        } else {
            "agent-sign-in-refused"
        };
        self.core.registry.append_audit(NewAudit::new(
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
    pub operator: websrm_registry::Operator,
    /// Its certificates, newest first.
    pub certificates: Vec<CertificateRecord>,
    /// The device identifiers issued for its requests.
    pub devices: Vec<websrm_domain::DeviceId>,
}

impl Revocation<'_> {
    /// The certificate in force named `nickname` of the operator whose identity the agent
    /// verified with its three numbers (identification, QST, file): the agent's way to revoke
    /// by name, with the same identity check as [`Revocation::agent_find_operator`].
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
        let now = self.core.now();
        let actor = format!("agent:{agent_id}");
        let operator = self.core.registry.operator_by_identification(number)?;
        let verified = operator.as_ref().filter(|op| {
            op.qst_number.as_ref() == Some(qst) && op.file_numbers.iter().any(|(f, _)| f == file)
        });
        let Some(operator) = verified.cloned() else {
            self.core.registry.append_audit(NewAudit::new(
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
        self.core.registry.append_audit(NewAudit::new(
            now,
            &actor,
            "identity-check",
            number.as_str(),
            format!("QST {qst}, file {file}"),
        ))?;
        self.core.operator_file(operator)
    }

    /// Customer service: looks up a device identifier (an operator may be asked for it). The
    /// look-up is in the audit log with the agent's id.
    pub fn agent_device(
        &self,
        agent_id: &str,
        device: websrm_domain::DeviceId,
    ) -> Result<(websrm_registry::DeviceRecord, Vec<CertificateRecord>), Error> {
        let now = self.core.now();
        self.core.registry.append_audit(NewAudit::new(
            now,
            format!("agent:{agent_id}"),
            "device-lookup",
            device.to_string(),
            "",
        ))?;
        let record = self
            .core
            .registry
            .device(device)?
            .ok_or_else(|| Error::NotFound(format!("no device {device}")))?;
        let certificates = self.core.registry.certificates_of_device(device)?;
        Ok((record, certificates))
    }
}
