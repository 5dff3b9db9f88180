//! Administering the authority: operators, authorization codes, passwords, agents, the audit
//! log. Every call writes its own audit entry; nothing outside the authority writes its
//! registry.

use time::{Duration, OffsetDateTime};
use websrm_domain::{
    AuthorizationCode, CertificationCode, IdentificationNumber, PartnerId, ProductIdentity,
    ProductMode, Sector, SerialNumber, SoftwareVersion, SrsId, VersionId, VersionState,
};
use websrm_registry::{AuditEntry, NewAudit};
use websrm_registry::{
    AuthorizationCodeRecord, CertificateRecord, Operator, OperatorId, Partner, Product,
};

use crate::core::{CODE_ACTIVATION, Core, LOCKOUT};
use crate::password::{generate_password, hash_password};
use crate::{Error, LockoutPolicy};

/// The authority's administration: products and developers, operators and their codes and
/// passwords, agents, settings, and the audit log and certificate listings it reads. What the
/// command line calls (`websrm authority …`), through [`crate::Authority::admin`].
#[derive(Clone, Copy)]
pub struct Administration<'a> {
    pub(crate) core: &'a Core,
}

impl std::fmt::Debug for Administration<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Administration")
            .field("environment", &self.core.environment)
            .finish_non_exhaustive()
    }
}

/// An operator to register: the registry's own record of a new operator, so that the two
/// cannot drift.
pub use websrm_registry::NewOperator as OperatorRegistration;

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

/// Which certificates a listing takes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CertificateFilter {
    /// Only those in this state.
    pub state: Option<StateFilter>,
    /// Only those in force that expire within this time from now.
    pub expiring_within: Option<Duration>,
}

impl CertificateFilter {
    /// Certificates in `state` (any when `None`), expiring within `expiring_within` (any when
    /// `None`).
    pub fn new(state: Option<StateFilter>, expiring_within: Option<Duration>) -> Self {
        Self {
            state,
            expiring_within,
        }
    }
}

/// A certificate's state as a listing filters on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StateFilter {
    /// In force and not expired.
    Active,
    /// Past its validity without having been ended.
    Expired,
    /// Replaced by another.
    Replaced,
    /// Deleted by its SRS.
    Deleted,
    /// Revoked.
    Revoked,
}

impl std::str::FromStr for StateFilter {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        Ok(match s {
            "active" => Self::Active,
            "expired" => Self::Expired,
            "replaced" => Self::Replaced,
            "deleted" => Self::Deleted,
            "revoked" => Self::Revoked,
            _ => {
                return Err(Error::Invalid(format!(
                    "{s} is not a state: active, expired, replaced, deleted or revoked"
                )));
            }
        })
    }
}

/// A version of an SRS product to register, as the authority's developer records give it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProductRegistration {
    /// `IDPARTN`.
    pub partner_id: PartnerId,
    /// `IDSEV`.
    pub srs_id: SrsId,
    /// `IDVERSI`; a new random one when `None`, as the authority generates it.
    pub version_id: Option<VersionId>,
    /// `CODCERTIF`.
    pub certification_code: CertificationCode,
    /// `VERSI`.
    pub version: SoftwareVersion,
    /// `VERSIPARN`.
    pub parent_version: SoftwareVersion,
    /// Its state.
    pub state: VersionState,
    /// The modes the product runs in.
    pub mode: ProductMode,
    /// The sectors it serves.
    pub sectors: Vec<Sector>,
}

impl ProductRegistration {
    /// A version registered (not yet certified), for both modes and both SRS sectors, with a
    /// generated `IDVERSI`.
    pub fn new(
        partner_id: PartnerId,
        srs_id: SrsId,
        certification_code: CertificationCode,
        version: SoftwareVersion,
        parent_version: SoftwareVersion,
    ) -> Self {
        Self {
            partner_id,
            srs_id,
            version_id: None,
            certification_code,
            version,
            parent_version,
            state: VersionState::Registered,
            mode: ProductMode::Both,
            sectors: vec![Sector::Restaurant, Sector::Transport],
        }
    }
}

impl Administration<'_> {
    /// Registers a version of an SRS product for each of [`crate::Authority::product_environments`],
    /// all or none; the versions registered.
    pub fn register_product(
        &self,
        registration: ProductRegistration,
        actor: &str,
    ) -> Result<Vec<Product>, Error> {
        if registration.sectors.is_empty() || registration.sectors.contains(&Sector::Server) {
            return Err(Error::Invalid(
                "a product serves one or more SRS sectors: RBC, TRP".to_owned(),
            ));
        }
        let version_id = match registration.version_id {
            Some(id) if id.is_unregistered() => {
                return Err(Error::Invalid(
                    "IDVERSI 0000000000000000 is what an SRS sends for a version not registered; \
                     a registered version has its own"
                        .to_owned(),
                ));
            }
            Some(id) => id,
            None => self.new_version_id()?,
        };
        let products: Vec<Product> = self
            .core
            .product_environments()
            .iter()
            .map(|&environment| {
                Product::new(
                    environment,
                    ProductIdentity::new(
                        registration.partner_id,
                        registration.srs_id,
                        version_id,
                        registration.certification_code.clone(),
                        registration.version.clone(),
                        registration.parent_version.clone(),
                    ),
                    registration.state,
                )
                .with_mode(registration.mode)
                .with_sectors(registration.sectors.iter().copied())
            })
            .collect();
        let audit = NewAudit::new(
            self.core.now(),
            actor,
            "add-product",
            format!(
                "{}/{}/{version_id}",
                registration.partner_id, registration.srs_id
            ),
            format!(
                "VERSI {} VERSIPARN {} CODCERTIF {} {} {}",
                registration.version,
                registration.parent_version,
                registration.certification_code,
                registration.state,
                registration.mode
            ),
        );
        self.core.registry.add_products(&products, audit)?;
        Ok(products)
    }

    /// Moves a product version to `state` (in every environment it is registered for).
    pub fn set_version_state(
        &self,
        partner_id: PartnerId,
        srs_id: SrsId,
        version_id: VersionId,
        state: VersionState,
        actor: &str,
    ) -> Result<(), Error> {
        let audit = NewAudit::new(
            self.core.now(),
            actor,
            "set-version-state",
            format!("{partner_id}/{srs_id}/{version_id}"),
            state.as_str(),
        );
        self.core
            .registry
            .set_version_state(partner_id, srs_id, version_id, state, audit)?;
        Ok(())
    }

    /// Names a developer and registers it for DEV and ESSAI, or not (063E, 064E).
    pub fn set_partner(
        &self,
        partner_id: PartnerId,
        name: &str,
        registered: bool,
        actor: &str,
    ) -> Result<(), Error> {
        let mut partner = self.core.registry.partner(partner_id)?.ok_or_else(|| {
            Error::NotFound(format!("no product of partner {partner_id} is registered"))
        })?;
        if !name.is_empty() {
            name.clone_into(&mut partner.name);
        }
        partner.registered = registered;
        let audit = NewAudit::new(
            self.core.now(),
            actor,
            "set-partner",
            partner_id.to_string(),
            if registered {
                "registered"
            } else {
                "unregistered"
            },
        );
        self.core.registry.set_partner(&partner, audit)?;
        Ok(())
    }

    /// Every product version, by partner, SRS, version and environment.
    pub fn products(&self) -> Result<Vec<Product>, Error> {
        Ok(self.core.registry.products()?)
    }

    /// Every developer.
    pub fn partners(&self) -> Result<Vec<Partner>, Error> {
        Ok(self.core.registry.partners()?)
    }

    /// A random `IDVERSI` no version has.
    fn new_version_id(&self) -> Result<VersionId, Error> {
        let taken: std::collections::HashSet<VersionId> = self
            .products()?
            .into_iter()
            .map(|p| p.identity.version_id)
            .collect();
        loop {
            let mut random = [0u8; 8];
            getrandom::fill(&mut random).map_err(|e| Error::Failed {
                what: "the random generator failed".into(),
                cause: websrm_domain::Source::new(e),
            })?;
            let text: String = random.iter().map(|b| format!("{b:02X}")).collect();
            let id: VersionId = text.parse().map_err(|e| Error::Failed {
                what: format!("generated IDVERSI {text}"),
                cause: websrm_domain::Source::new(e),
            })?;
            if !id.is_unregistered() && !taken.contains(&id) {
                return Ok(id);
            }
        }
    }

    /// Sets how many minutes after issuance a new authorization code becomes active (at most
    /// 90, as Revenu Québec allows), in the registry: every command and process of the
    /// authority honours it. Whether it changed.
    pub fn set_code_activation_minutes(&self, minutes: u32, actor: &str) -> Result<bool, Error> {
        if minutes > 90 {
            return Err(Error::Invalid(format!(
                "a code becomes active within 90 minutes at most, not {minutes}"
            )));
        }
        self.set_setting(CODE_ACTIVATION, &minutes.to_string(), actor)
    }

    /// Sets the lockout policy (failures within a window lock out for a time), in the registry:
    /// enrolment and the online services of every process honour it. Whether it changed.
    pub fn set_lockout_policy(&self, policy: LockoutPolicy, actor: &str) -> Result<bool, Error> {
        if policy.max_failures == 0
            || policy.window <= Duration::ZERO
            || policy.lockout <= Duration::ZERO
        {
            return Err(Error::Invalid(
                "a lockout needs at least one failure, a window and a duration".into(),
            ));
        }
        let value = format!(
            "{}/{}/{}",
            policy.max_failures,
            policy.window.whole_minutes(),
            policy.lockout.whole_minutes()
        );
        self.set_setting(LOCKOUT, &value, actor)
    }

    fn set_setting(&self, name: &str, value: &str, actor: &str) -> Result<bool, Error> {
        let audit = NewAudit::new(self.core.now(), actor, "set-setting", name, value);
        Ok(self.core.registry.set_setting(name, value, audit)?)
    }

    /// Registers an operator and issues its first authorization code for `sector`.
    pub fn register_operator(
        &self,
        operator: OperatorRegistration,
        sector: Sector,
        actor: &str,
    ) -> Result<IssuedCode, Error> {
        let now = self.core.now();
        let audit = NewAudit::new(
            now,
            actor,
            "add-operator",
            operator.identification_number.as_str(),
            operator.legal_name.clone(),
        );
        let id = self.core.registry.add_operator(&operator, now, audit)?;
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
            self.core.now(),
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
            self.core.now(),
            actor,
            "set-password",
            identification_number.as_str(),
            "online services",
        );
        self.core.registry.set_operator_password_hash(
            operator.id,
            &hash_password(&password)?,
            audit,
        )?;
        Ok(password)
    }

    /// Registers a customer-service agent; returns its new random password, to send.
    pub fn register_agent(&self, agent_id: &str, actor: &str) -> Result<String, Error> {
        let password = generate_password()?;
        let now = self.core.now();
        let audit = NewAudit::new(now, actor, "add-agent", agent_id, "");
        self.core
            .registry
            .add_agent(agent_id, &hash_password(&password)?, now, audit)?;
        Ok(password)
    }

    /// The operator with this id.
    pub fn operator(&self, id: OperatorId) -> Result<Operator, Error> {
        Ok(self.core.registry.operator(id)?)
    }

    /// Every registered operator, by identification number.
    pub fn operators(&self) -> Result<Vec<Operator>, Error> {
        Ok(self.core.registry.operators()?)
    }

    /// The record of a certificate, with its state and who ended it.
    pub fn certificate(&self, serial: SerialNumber) -> Result<Option<CertificateRecord>, Error> {
        Ok(self.core.registry.certificate_by_serial(serial)?)
    }

    /// Verifies the audit log's hash chain; the number of entries, or the first altered one.
    pub fn verify_audit(&self) -> Result<u64, Error> {
        Ok(self.core.registry.verify_audit_chain()?)
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
        // The registry's walk stops at the first error its callback returns: a stop asked for
        // is one, told from a failure by the flag.
        let mut stopped = false;
        let walked = self
            .core
            .registry
            .for_each_audit_entry(1, since, |e| match each(e) {
                std::ops::ControlFlow::Continue(()) => Ok(()),
                std::ops::ControlFlow::Break(()) => {
                    stopped = true;
                    Err(websrm_registry::Error::Database {
                        cause: websrm_domain::Source::text("the walk was stopped"),
                    })
                }
            });
        match walked {
            Err(_) if stopped => Ok(()),
            other => Ok(other?),
        }
    }

    /// The operator with this identification number, with its certificates, devices and
    /// authorization codes (their sectors and dates, never the codes): what an administrator
    /// looks at. Not audited, unlike an agent's look-up: the administrator holds the registry.
    pub fn operator_details(
        &self,
        number: &IdentificationNumber,
    ) -> Result<
        (
            crate::revocation::OperatorFile,
            Vec<AuthorizationCodeRecord>,
        ),
        Error,
    > {
        let operator = self.operator_by_number(number)?;
        let codes = self.core.registry.authorization_codes_of(operator.id)?;
        Ok((self.core.operator_file(operator)?, codes))
    }

    /// Disables the operator (`true`) or enables it again: a disabled operator's authorization
    /// codes are refused (514E, as any code not its own) and it cannot sign in to the online
    /// services; its certificates stay as they are (revoke them to end them). Whether that
    /// changed anything.
    pub fn set_operator_disabled(
        &self,
        number: &IdentificationNumber,
        disabled: bool,
        reason: &str,
        actor: &str,
    ) -> Result<bool, Error> {
        let operator = self.operator_by_number(number)?;
        let now = self.core.now();
        let audit = NewAudit::new(
            now,
            actor,
            if disabled {
                "disable-operator"
            } else {
                "enable-operator"
            },
            number.as_str(),
            reason,
        );
        Ok(self
            .core
            .registry
            .set_operator_disabled(operator.id, disabled.then_some(now), audit)?)
    }

    /// Calls `f` on each certificate matching `filter`, by expiry (soonest first), a page at a
    /// time: any number of certificates in bounded memory. `f` may stop the walk.
    pub fn each_certificate(
        &self,
        filter: &CertificateFilter,
        mut f: impl FnMut(&CertificateRecord) -> std::ops::ControlFlow<()>,
    ) -> Result<(), Error> {
        const PAGE: u32 = 500;
        let now = self.core.now();
        // "active" and "expired" are both `active` in the registry, on either side of now.
        let (status, mut from, mut until) = match filter.state {
            None => (None, None, None),
            Some(StateFilter::Active) => (Some("active"), Some(now), None),
            Some(StateFilter::Expired) => (Some("active"), None, Some(now)),
            Some(StateFilter::Replaced) => (Some("replaced"), None, None),
            Some(StateFilter::Deleted) => (Some("deleted"), None, None),
            Some(StateFilter::Revoked) => (Some("revoked"), None, None),
        };
        if let Some(within) = filter.expiring_within {
            from = Some(from.map_or(now, |f| f.max(now)));
            let end = now
                .checked_add(within)
                .unwrap_or(now + Duration::days(36_525));
            until = Some(until.map_or(end, |u| u.min(end)));
        }
        let mut after = None;
        loop {
            let page = self
                .core
                .registry
                .certificates_by_expiry(status, from, until, after, PAGE)?;
            for c in &page {
                if f(c).is_break() {
                    return Ok(());
                }
            }
            match page.last() {
                Some(last) if page.len() == PAGE as usize => {
                    after = Some((last.validity.not_after(), last.serial));
                }
                _ => return Ok(()),
            }
        }
    }

    fn operator_by_number(&self, number: &IdentificationNumber) -> Result<Operator, Error> {
        self.core
            .registry
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
        getrandom::fill(&mut random).map_err(|e| Error::Failed {
            what: "the random generator failed".into(),
            cause: websrm_domain::Source::new(e),
        })?;
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
        let code: AuthorizationCode = text.parse().map_err(|e| Error::Failed {
            what: "a generated code".into(),
            cause: websrm_domain::Source::new(e),
        })?;
        let active_from = now + self.core.code_activation_delay();
        let audit = NewAudit::new(
            now,
            actor,
            "add-code",
            number.as_str(),
            format!("{sector}, active from {active_from}"),
        );
        self.core.registry.add_authorization_code(
            operator,
            &code,
            sector,
            active_from,
            now,
            audit,
        )?;
        Ok(IssuedCode {
            code,
            sector,
            active_from,
        })
    }
}
