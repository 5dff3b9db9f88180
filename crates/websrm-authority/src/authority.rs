//! The authority as the assembly of its parts: what it is built from (its folder, environment
//! and clock), the parts it hands out over the shared core, the edge's state (faults, metrics,
//! the CA's roots it publishes), and the routing of a request to the service of its endpoint,
//! the ESSAI examiner first.

use std::sync::Arc;

use time::{Duration, OffsetDateTime};
use websrm_crypto::CertificateAuthority;
use websrm_crypto::tls::LocalTlsIdentity;
use websrm_domain::{Clock, Environment};
use websrm_registry::{Database, Registry};

use crate::service::{Endpoint, Issuance, IssuanceService, Request, Response};
use crate::{AuthorityFiles, LockoutPolicy};

/// The certificate authority: the assembly of its parts over their shared core. The server
/// routes every request into it ([`Authority::handle`]); each part is reached by its own call:
/// [`Authority::admin`], [`Authority::revocation`], [`Authority::online`], [`Authority::essai`],
/// and inside the crate the certificate service and the API host's services.
pub struct Authority {
    /// What the parts share: environment, registry, clock, policies.
    pub(crate) core: crate::core::Core,
    issuance: Issuance,
    publisher: crate::revocation::CrlPublisher,
    portal: crate::portal::Portal,
    sign_in: crate::password::SignInGate,
    /// The faults the server injects on purpose (none unless asked).
    faults: std::sync::RwLock<crate::faults::Faults>,
    metrics: crate::metrics::Metrics,
    /// The ESSAI examiner.
    pub(crate) examiner: crate::essai::Examiner,
}

impl std::fmt::Debug for Authority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authority")
            .field("environment", &self.core.environment)
            .finish_non_exhaustive()
    }
}

impl Authority {
    /// The authority of `files`, for `environment` (DEV or ESSAI: the conformity service, which
    /// accepts both; PROD: production). Returns the TLS identity of the listeners beside it.
    pub fn new(
        files: AuthorityFiles,
        environment: Environment,
        clock: Arc<dyn Clock>,
    ) -> (Self, LocalTlsIdentity) {
        let authority = Self {
            core: crate::core::Core::new(environment, files.registry, clock),
            issuance: Issuance::new(files.ca, files.earlier_cas, files.certif_psi_pem),
            examiner: crate::essai::Examiner::default(),
            publisher: crate::revocation::CrlPublisher::default(),
            portal: crate::portal::Portal::new(*files.portal_key),
            sign_in: crate::password::SignInGate::new(crate::password::SignInLimits::default()),
            faults: std::sync::RwLock::new(crate::faults::Faults::none()),
            metrics: crate::metrics::Metrics::new(),
        };
        (authority, files.tls)
    }

    /// The same authority with new authorization codes active only `delay` after they are
    /// issued (Revenu Québec allows up to 90 minutes; immediate by default).
    pub fn with_code_activation_delay(mut self, delay: Duration) -> Self {
        self.core.code_activation_delay = Some(delay);
        self
    }

    /// The same authority with another lockout policy.
    pub fn with_lockout(mut self, policy: LockoutPolicy) -> Self {
        self.core.lockout = Some(policy);
        self
    }

    /// The same authority with other bounds on the online services' sign-in.
    pub fn with_sign_in_limits(mut self, limits: crate::password::SignInLimits) -> Self {
        self.sign_in = crate::password::SignInGate::new(limits);
        self
    }

    /// The same authority counting no requests (its metrics read only what is read at scrape
    /// time): to measure what counting costs.
    #[must_use]
    pub fn without_request_metrics(mut self) -> Self {
        self.metrics = crate::metrics::Metrics::disabled();
        self
    }

    pub(crate) fn metrics(&self) -> &crate::metrics::Metrics {
        &self.metrics
    }

    /// The metrics in the Prometheus text format (what `/metrics` on the admin listener serves),
    /// reading the registry's size, certificates by state and writer, and the CRL's age, now.
    pub fn render_metrics(&self) -> String {
        let now = self.now();
        let certificates = self
            .core
            .registry
            .certificate_counts(now)
            .unwrap_or_else(|e| {
                tracing::warn!(error = %e, "certificates not counted for the metrics");
                Vec::new()
            });
        let crl_age_seconds = self
            .publisher
            .last_made(self.ca_generation())
            .map_or(0.0, |made| (now - made).as_seconds_f64().max(0.0));
        self.metrics.render(crate::metrics::Scrape {
            registry_bytes: self.core.registry.size_bytes(),
            crl_age_seconds,
            certificates,
            writer: self.core.registry.writer_stats(),
        })
    }

    /// Whether the authority can serve: the registry takes a write, and the CA signs a CRL valid
    /// for more than an hour. Each check with what it found.
    pub fn readiness(&self) -> Vec<(&'static str, Result<(), String>)> {
        let registry = self
            .core
            .registry
            .check_writable()
            .map_err(|e| e.to_string());
        let crl = self
            .revocation()
            .crl_of(self.ca_generation())
            .map(|_| ())
            .map_err(|e| e.to_string());
        vec![
            ("registry writable", registry),
            ("CA signs a fresh CRL", crl),
        ]
    }

    /// Injects `faults` into the protocol requests from now on (see [`crate::faults`]);
    /// [`Faults::none`](crate::faults::Faults::none) stops them.
    pub fn set_faults(&self, faults: crate::faults::Faults) {
        *self
            .faults
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = faults;
    }

    /// The faults injected now.
    pub fn faults(&self) -> crate::faults::Faults {
        *self
            .faults
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The most password verifications that ran at once so far.
    pub fn peak_password_verifications(&self) -> usize {
        self.sign_in.verifier.peak()
    }

    /// Publishes the CRL and the CA certificate under `base` (`https://HOST:PORT` of the
    /// enrolment host, which serves them at `/crl` and `/ca`): certificates issued from now on
    /// name these addresses, so that an SRS finds the CRL without being told where.
    pub fn publish_under(&self, base: &str) {
        self.publisher.publish_under(base);
    }

    /// Whether [`publish_under`](Self::publish_under) was called.
    pub fn is_published(&self) -> bool {
        self.publisher.links(1).crl_url.is_some()
    }

    /// The lockout policy, the same for enrolment and the online services: the one given in
    /// code, else the registry's (`authority settings`), else the default.
    pub fn lockout(&self) -> LockoutPolicy {
        self.core.lockout()
    }

    /// The registry, for tests that check what the authority recorded (feature `test-util`).
    /// Everything else goes through the authority's own calls: nothing outside it writes its
    /// registry.
    #[cfg(feature = "test-util")]
    pub fn registry(&self) -> &Registry {
        &self.core.registry
    }

    /// The registry.
    #[cfg(not(feature = "test-util"))]
    pub(crate) fn registry(&self) -> &Registry {
        &self.core.registry
    }

    /// The ESSAI examiner, and where each product's certification run stands.
    pub fn essai(&self) -> crate::essai::Essai<'_> {
        crate::essai::Essai {
            core: &self.core,
            context: self.context(),
            examiner: &self.examiner,
        }
    }

    /// The checks every service makes of a request's context.
    pub(crate) fn context(&self) -> crate::context::Context<'_> {
        crate::context::Context { core: &self.core }
    }

    /// The certificate service.
    pub(crate) fn issuance_service(&self) -> IssuanceService<'_> {
        IssuanceService {
            waits: true,
            core: &self.core,
            context: self.context(),
            issuance: &self.issuance,
            publisher: &self.publisher,
        }
    }

    /// The services of the API host.
    pub(crate) fn api(&self) -> crate::context::ApiServices<'_> {
        crate::context::ApiServices {
            core: &self.core,
            context: self.context(),
        }
    }

    /// Revocation outside the SRS, the CRLs, and customer service's look-ups.
    pub fn revocation(&self) -> crate::revocation::Revocation<'_> {
        crate::revocation::Revocation {
            core: &self.core,
            publisher: &self.publisher,
            roots: &self.issuance,
        }
    }

    /// The online services and the customer-service console in them.
    pub fn online(&self) -> crate::portal::OnlineServices<'_> {
        crate::portal::OnlineServices {
            core: &self.core,
            portal: &self.portal,
            sign_in: &self.sign_in,
            metrics: &self.metrics,
            revocation: self.revocation(),
        }
    }

    /// The administration: products and developers, operators, codes, passwords, agents,
    /// settings, the audit log and the certificate listings.
    pub fn admin(&self) -> crate::admin::Administration<'_> {
        crate::admin::Administration { core: &self.core }
    }

    /// The environments whose products this authority keeps: DEV and ESSAI on the conformity
    /// service, PROD on the production service.
    pub fn product_environments(&self) -> &'static [Environment] {
        self.core.product_environments()
    }

    /// How long after issuance an authorization code becomes active: none in DEV and ESSAI
    /// unless set with [`Authority::with_code_activation_delay`] or in the registry
    /// (`authority settings`); Revenu Québec allows up to 90 minutes.
    pub fn code_activation_delay(&self) -> Duration {
        self.core.code_activation_delay()
    }

    /// The environment asked for at start-up.
    pub fn environment(&self) -> Environment {
        self.core.environment
    }

    /// The current time of the authority's clock.
    pub fn now(&self) -> OffsetDateTime {
        self.core.now()
    }

    /// The certificate (DER) of the CA's root that issues.
    pub fn ca_certificate_der(&self) -> &[u8] {
        self.issuance.current().certificate_der()
    }

    /// The generation of the root that issues: 1, and one more at each `rotate ca`.
    pub fn ca_generation(&self) -> u32 {
        self.issuance.generation()
    }

    /// The certificate (DER) of the CA's root of `generation`, if the authority has it.
    pub fn ca_certificate_der_of(&self, generation: u32) -> Option<&[u8]> {
        self.issuance
            .ca_of(generation)
            .map(CertificateAuthority::certificate_der)
    }

    /// Every root the authority trusts (DER), oldest first: those it replaced stay trusted, so
    /// that the certificates they issued work until they expire or are revoked.
    pub fn trusted_ca_certificates(&self) -> Vec<Vec<u8>> {
        (1..=self.issuance.generation())
            .filter_map(|g| self.issuance.ca_of(g))
            .map(|ca| ca.certificate_der().to_vec())
            .collect()
    }

    /// Answers a request to any of the services (each endpoint its own). Every decision, issuance
    /// or refusal, is in the audit log before the answer is returned. In ESSAI, a request of a
    /// registered product's certification run is examined as a step of that run first
    /// ([`Essai::status`](crate::Essai::status) tells where a run stands).
    pub fn handle(&self, request: &Request) -> Response {
        if let Some(examined) = self.essai().examine(request, |r| self.answer(r)) {
            return examined;
        }
        self.answer(request)
    }

    /// The same answer as [`handle`](Self::handle), given on an async runtime's thread without
    /// parking a thread on the registry's commit: the checks and issuance run on the calling
    /// thread and the record's commit is awaited, so that one request costs no hand-off to
    /// another thread and back. `None` when the request is to be given to `handle` on a thread
    /// that may wait instead: any service but the certificates', the registry's reads being
    /// another thread's (PostgreSQL), an ESSAI step, a step that writes before the record (a
    /// failed authorization code counted, a repeated request audited), or a record that lost a
    /// race with another copy of the request. Nothing is written before it says so.
    pub async fn answer_awaiting(&self, request: &Request) -> Option<Response> {
        let certificates = matches!(
            request.endpoint,
            Endpoint::Enrolment | Endpoint::Certificates
        );
        if !certificates
            || !matches!(self.core.registry.database(), Database::Sqlite(_))
            || self.essai().may_examine(request)
        {
            return None;
        }
        IssuanceService {
            waits: false,
            ..self.issuance_service()
        }
        .answer_awaiting(request)
        .await
    }

    /// The service's answer to `request`, without the ESSAI examiner.
    pub(crate) fn answer(&self, request: &Request) -> Response {
        match request.endpoint {
            Endpoint::Enrolment | Endpoint::Certificates => self.issuance_service().answer(request),
            Endpoint::Transaction => self.api().handle_transaction(request),
            Endpoint::User => self.api().handle_user(request),
            Endpoint::Document => self.api().handle_document(request),
        }
    }
}
