//! Administering the authority: operators, authorization codes, passwords, agents, the audit
//! log. Every call writes its own audit entry; nothing outside the authority writes its
//! registry.

use time::{Duration, OffsetDateTime};
use websrm_domain::SerialNumber;
use websrm_domain::{AuthorizationCode, IdentificationNumber, Sector};
use websrm_store::registry::{CertificateRecord, Operator, OperatorId};
use websrm_store::{AuditEntry, NewAudit};

use crate::password::{generate_password, hash_password};
use crate::{Authority, Error};

/// An operator to register: the registry's own record of a new operator, so that the two
/// cannot drift.
pub use websrm_store::registry::NewOperator as OperatorRegistration;

/// An authorization code just issued, and when it becomes active.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct IssuedCode {
    /// The code, to send to the operator.
    pub code: AuthorizationCode,
    /// The sector.
    pub sector: Sector,
    /// When the authority starts accepting it.
    pub active_from: OffsetDateTime,
}

impl Authority {
    /// How long after issuance an authorization code becomes active: none in DEV and ESSAI
    /// unless set with [`Authority::with_code_activation_delay`]; Revenu Québec allows up to 90
    /// minutes.
    pub fn code_activation_delay(&self) -> Duration {
        self.code_activation_delay
    }

    /// Registers an operator and issues its first authorization code for `sector`.
    pub fn register_operator(
        &self,
        operator: OperatorRegistration,
        sector: Sector,
        actor: &str,
    ) -> Result<IssuedCode, Error> {
        let now = self.now();
        let audit = NewAudit::new(
            now,
            actor,
            "add-operator",
            operator.identification_number.as_str(),
            operator.legal_name.clone(),
        );
        let id = self.registry().add_operator(&operator, now, audit)?;
        self.issue_code(id, &operator.identification_number, sector, actor, now)
    }

    /// Issues a new authorization code for the operator and `sector`; it supersedes the previous
    /// one of that sector.
    pub fn issue_authorization_code(
        &self,
        identification_number: &IdentificationNumber,
        sector: Sector,
        actor: &str,
    ) -> Result<IssuedCode, Error> {
        let operator = self.operator_by_number(identification_number)?;
        self.issue_code(
            operator.id,
            identification_number,
            sector,
            actor,
            self.now(),
        )
    }

    /// Gives the operator a new random password for the online services; returns it, to send.
    pub fn reset_operator_password(
        &self,
        identification_number: &IdentificationNumber,
        actor: &str,
    ) -> Result<String, Error> {
        let operator = self.operator_by_number(identification_number)?;
        let password = generate_password()?;
        let audit = NewAudit::new(
            self.now(),
            actor,
            "set-password",
            identification_number.as_str(),
            "online services",
        );
        self.registry().set_operator_password_hash(
            operator.id,
            &hash_password(&password)?,
            audit,
        )?;
        Ok(password)
    }

    /// Registers a customer-service agent; returns its new random password, to send.
    pub fn register_agent(&self, agent_id: &str, actor: &str) -> Result<String, Error> {
        let password = generate_password()?;
        let now = self.now();
        let audit = NewAudit::new(now, actor, "add-agent", agent_id, "");
        self.registry()
            .add_agent(agent_id, &hash_password(&password)?, now, audit)?;
        Ok(password)
    }

    /// The operator with this id.
    pub fn operator(&self, id: OperatorId) -> Result<Operator, Error> {
        Ok(self.registry().operator(id)?)
    }

    /// Every registered operator, by identification number.
    pub fn operators(&self) -> Result<Vec<Operator>, Error> {
        Ok(self.registry().operators()?)
    }

    /// The record of a certificate, with its state and who ended it.
    pub fn certificate(&self, serial: SerialNumber) -> Result<Option<CertificateRecord>, Error> {
        Ok(self.registry().certificate_by_serial(serial)?)
    }

    /// Verifies the audit log's hash chain; the number of entries, or the first altered one.
    pub fn verify_audit(&self) -> Result<u64, Error> {
        Ok(self.registry().verify_audit_chain()?)
    }

    /// The audit log's entries at or after `since`, in order, in memory (see
    /// [`each_audit_entry`](Self::each_audit_entry) for a log of any length).
    pub fn audit_since(&self, since: Option<OffsetDateTime>) -> Result<Vec<AuditEntry>, Error> {
        let mut all = Vec::new();
        self.each_audit_entry(since, |e| {
            all.push(e);
            std::ops::ControlFlow::Continue(())
        })?;
        Ok(all)
    }

    /// Hands `each` the audit log's entries at or after `since`, in order, read a page at a
    /// time; `each` stops the walk with [`ControlFlow::Break`](std::ops::ControlFlow::Break).
    pub fn each_audit_entry(
        &self,
        since: Option<OffsetDateTime>,
        mut each: impl FnMut(AuditEntry) -> std::ops::ControlFlow<()>,
    ) -> Result<(), Error> {
        const STOPPED: &str = "stopped";
        let walked = self
            .registry()
            .for_each_audit_entry(1, since, |e| match each(e) {
                std::ops::ControlFlow::Continue(()) => Ok(()),
                std::ops::ControlFlow::Break(()) => Err(websrm_store::Error::Database {
                    message: STOPPED.into(),
                }),
            });
        match walked {
            Err(websrm_store::Error::Database { message }) if message == STOPPED => Ok(()),
            other => Ok(other?),
        }
    }

    fn operator_by_number(&self, number: &IdentificationNumber) -> Result<Operator, Error> {
        self.registry()
            .operator_by_identification(number)?
            .ok_or_else(|| Error::NotFound(format!("no operator {number}")))
    }

    /// A random code of the shape `X9X9-X9X9`, active after the authority's activation delay.
    fn issue_code(
        &self,
        operator: OperatorId,
        number: &IdentificationNumber,
        sector: Sector,
        actor: &str,
        now: OffsetDateTime,
    ) -> Result<IssuedCode, Error> {
        const ALNUM: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ0123456789";
        let mut random = [0u8; 8];
        getrandom::fill(&mut random)
            .map_err(|e| Error::Invalid(format!("the random generator failed: {e}")))?;
        let c = |i: usize, digit: bool| {
            if digit {
                char::from(b'0' + random[i] % 10)
            } else {
                char::from(ALNUM[usize::from(random[i]) % ALNUM.len()])
            }
        };
        let text: String = (0..8)
            .map(|i| (i, c(i, i % 2 == 1)))
            .flat_map(|(i, ch)| (i == 4).then_some('-').into_iter().chain([ch]))
            .collect();
        let code: AuthorizationCode = text
            .parse()
            .map_err(|e| Error::Invalid(format!("a generated code: {e}")))?;
        let active_from = now + self.code_activation_delay;
        let audit = NewAudit::new(
            now,
            actor,
            "add-code",
            number.as_str(),
            format!("{sector}, active from {active_from}"),
        );
        self.registry()
            .add_authorization_code(operator, &code, sector, active_from, now, audit)?;
        Ok(IssuedCode {
            code,
            sector,
            active_from,
        })
    }
}
