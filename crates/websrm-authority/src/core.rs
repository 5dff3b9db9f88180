//! What the authority's parts share: the environment it serves, its registry, its clock, and
//! the policies every part reads (the lockout, the activation delay of new authorization codes),
//! given in code over the registry's settings over the defaults. Each part holds a reference to
//! it; none holds another part's state.

use std::sync::Arc;

use time::{Duration, OffsetDateTime};
use websrm_domain::{Clock, DeviceId, Environment};
use websrm_registry::{Operator, Registry};

use crate::revocation::OperatorFile;
use crate::{Error, LockoutPolicy};

/// The registry's settings.
pub(crate) const CODE_ACTIVATION: &str = "code activation minutes";
pub(crate) const LOCKOUT: &str = "lockout (failures/window minutes/lockout minutes)";

/// The shared core of the authority.
pub(crate) struct Core {
    /// The environment asked for at start-up.
    pub(crate) environment: Environment,
    pub(crate) registry: Registry,
    clock: Arc<dyn Clock>,
    /// The lockout policy given in code (tests), over the registry's setting.
    pub(crate) lockout: Option<LockoutPolicy>,
    /// How long after issuance a new authorization code becomes active, given in code (tests),
    /// over the registry's setting.
    pub(crate) code_activation_delay: Option<Duration>,
}

impl Core {
    pub(crate) fn new(environment: Environment, registry: Registry, clock: Arc<dyn Clock>) -> Self {
        Self {
            environment,
            registry,
            clock,
            lockout: None,
            code_activation_delay: None,
        }
    }

    /// The current time of the authority's clock.
    pub(crate) fn now(&self) -> OffsetDateTime {
        self.clock.now()
    }

    /// The environments whose products the authority keeps: DEV and ESSAI on the conformity
    /// service, PROD on the production service.
    pub(crate) fn product_environments(&self) -> &'static [Environment] {
        if self.environment.is_conformity() {
            &[Environment::Dev, Environment::Essai]
        } else {
            &[Environment::Prod]
        }
    }

    /// The lockout policy, the same for enrolment and the online services: the one given in
    /// code, else the registry's, else the default.
    pub(crate) fn lockout(&self) -> LockoutPolicy {
        self.lockout.unwrap_or_else(|| self.lockout_setting())
    }

    /// How long after issuance an authorization code becomes active: the delay given in code,
    /// else the registry's setting, else none.
    pub(crate) fn code_activation_delay(&self) -> Duration {
        self.code_activation_delay.unwrap_or_else(|| {
            Duration::minutes(i64::from(self.setting_number(CODE_ACTIVATION).unwrap_or(0)))
        })
    }

    /// The registry's lockout policy, or the default.
    fn lockout_setting(&self) -> LockoutPolicy {
        let recorded = self.registry.setting(LOCKOUT).ok().flatten();
        let parsed = recorded.as_deref().and_then(|v| {
            let mut parts = v.split('/').map(|p| p.parse::<u32>().ok());
            let (Some(Some(n)), Some(Some(window)), Some(Some(lockout))) =
                (parts.next(), parts.next(), parts.next())
            else {
                return None;
            };
            Some(LockoutPolicy {
                max_failures: n,
                window: Duration::minutes(i64::from(window)),
                lockout: Duration::minutes(i64::from(lockout)),
            })
        });
        parsed.unwrap_or_default()
    }

    fn setting_number(&self, name: &str) -> Option<u32> {
        self.registry.setting(name).ok().flatten()?.parse().ok()
    }

    /// The operator's file: its certificates, newest first, and its devices.
    pub(crate) fn operator_file(&self, operator: Operator) -> Result<OperatorFile, Error> {
        let certificates = self.registry.certificates_of_operator(operator.id)?;
        let mut devices: Vec<DeviceId> = certificates.iter().filter_map(|c| c.device).collect();
        devices.sort();
        devices.dedup();
        Ok(OperatorFile {
            operator,
            certificates,
            devices,
        })
    }
}
