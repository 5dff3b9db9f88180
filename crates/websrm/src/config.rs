//! Configuring an SRS once: environment, product identity, authority, store and protector.

use std::path::PathBuf;
use std::sync::Arc;

use time::{Duration, OffsetDateTime};
use websrm_domain::{Clock, Environment, TestCase, WarningPolicy};
use websrm_protocol::client::{Endpoints, Trust};
use websrm_protocol::headers::ProductIdentity;
use websrm_store::KeyProtector;

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
}

/// Which authority the SRS talks to.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthorityAddress {
    /// Revenu Québec's WEB-SRM for the environment, trusted through the public CAs.
    Official,
    /// Another authority (a local websrm authority), by its two base URLs and its TLS root.
    Local {
        /// `https://HOST:PORT` of the enrolment host.
        enrolment: String,
        /// `https://HOST:PORT` of the API host.
        api: String,
        /// The TLS roots to trust, PEM (one or more certificates).
        trust_pem: String,
    },
}

/// How an SRS is set up. Build it with [`Config::new`] and the `with_*` methods.
#[derive(Clone)]
pub struct Config {
    pub(crate) environment: Environment,
    pub(crate) product: ProductIdentity,
    pub(crate) store: PathBuf,
    pub(crate) authority: AuthorityAddress,
    pub(crate) protector: Option<Arc<dyn KeyProtector>>,
    pub(crate) installation: String,
    pub(crate) warning: WarningPolicy,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) test_case: TestCase,
    pub(crate) crl: Option<(String, String)>,
    pub(crate) timeout: Option<std::time::Duration>,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("environment", &self.environment)
            .field("store", &self.store)
            .field("authority", &self.authority)
            .field("installation", &self.installation)
            .finish_non_exhaustive()
    }
}

impl Config {
    /// An SRS of `product` in `environment`, keeping its data in the SQLite file `store`; it
    /// talks to Revenu Québec's WEB-SRM and keeps its key-encryption key in `<store>.kek`.
    pub fn new(
        environment: Environment,
        product: ProductIdentity,
        store: impl Into<PathBuf>,
    ) -> Self {
        Self {
            environment,
            product,
            store: store.into(),
            authority: AuthorityAddress::Official,
            protector: None,
            installation: "main".into(),
            warning: WarningPolicy::default(),
            clock: Arc::new(SystemClock),
            test_case: TestCase::PRODUCTION,
            crl: None,
            timeout: None,
        }
    }

    /// Waits this long for the authority's answer before taking its absence as a communication
    /// failure (a transaction then goes offline). Never under the protocol's minimum: 10 s in
    /// DEV and ESSAI, 5 s in production; 10 s by default.
    pub fn with_timeout(mut self, timeout: std::time::Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Checks revocations against the CRL at `url`, verified with the authority's CA
    /// certificate `ca_pem` (a local websrm authority publishes it at `/crl` on its enrolment
    /// host, and its CA in `ca.pem`).
    pub fn with_crl(mut self, url: impl Into<String>, ca_pem: impl Into<String>) -> Self {
        self.crl = Some((url.into(), ca_pem.into()));
        self
    }

    /// Sends `CASESSAI` = `test_case` (certification test cases in ESSAI, or simulating one in
    /// DEV); the default is `000.000`, as in production.
    pub fn with_test_case(mut self, test_case: TestCase) -> Self {
        self.test_case = test_case;
        self
    }

    /// Talks to another authority.
    pub fn with_authority(mut self, authority: AuthorityAddress) -> Self {
        self.authority = authority;
        self
    }

    /// Gets the key-encryption key from `protector` (an OS key store, a TPM) instead of a file.
    pub fn with_key_protector(mut self, protector: Arc<dyn KeyProtector>) -> Self {
        self.protector = Some(protector);
        self
    }

    /// Names this SRS installation on the device (default `main`); two SRSs on one device, or a
    /// back-office SRS, each use their own name and keep their own certificates.
    pub fn with_installation(mut self, installation: impl Into<String>) -> Self {
        self.installation = installation.into();
        self
    }

    /// Warns this many days before expiry (default 90).
    pub fn with_warning_days(mut self, days: i64) -> Self {
        self.warning = WarningPolicy {
            window: Duration::days(days),
        };
        self
    }

    /// Reads the time from `clock` (tests, simulations).
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    pub(crate) fn endpoints_and_trust(&self) -> Result<(Endpoints, Trust), crate::Error> {
        Ok(match &self.authority {
            AuthorityAddress::Official => {
                (Endpoints::official(self.environment), Trust::PublicRoots)
            }
            AuthorityAddress::Local {
                enrolment,
                api,
                trust_pem,
            } => {
                // Every certificate of the PEM is a root trusted (one per host, if they differ).
                let roots = match websrm_crypto::pem::decode_all("CERTIFICATE", trust_pem)? {
                    none if none.is_empty() => {
                        vec![websrm_crypto::pem::decode("CERTIFICATE", trust_pem)?]
                    }
                    roots => roots,
                };
                (Endpoints::local(enrolment, api), Trust::Anchors(roots))
            }
        })
    }
}
