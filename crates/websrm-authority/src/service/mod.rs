//! Answering certificate requests: validation in the order the protocol implies, then issuance,
//! replacement or deletion, every decision written to the audit log.
//!
//! `process.rs`: the order of the checks, issuance, replacement, deletion and repeated requests;
//! `checks.rs`: headers, product and subject, lockout; `answers.rs`: bodies in and out, and
//! refusals as error ids.

use std::sync::Arc;

use time::{Duration, OffsetDateTime};
use websrm_crypto::tls::LocalTlsIdentity;
use websrm_crypto::{
    CertificateAuthority, CsrFinding, ValidatedCsr, inspect_certificate, validate_csr,
};
use websrm_domain::{
    CertificateState, Clock, DeviceIdState, Environment, InitiatingDevice, SerialNumber, Subject,
    TestCase,
};
use websrm_protocol::catalogue::ErrorCode as E;
use websrm_protocol::headers::{CertificateHeaders, HeaderProblemKind};
use websrm_protocol::wire::{CertificateResponseBody, JSON_VERSION, RetourCertif, WireError};
use websrm_registry::{Credential, NewCertificate, Operator};
use websrm_registry::{NewAudit, Registry};

use crate::AuthorityFiles;

mod answers;
mod checks;
mod process;

pub(crate) use answers::next_test_case;
use answers::{internal, refusal_response, subject_hint};
pub(crate) use checks::Service;

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }
}

/// The system clock moved by a fixed offset: an authority that lives in the future (or the
/// past), to test how SRSs meet expiry without waiting five years.
#[derive(Debug, Clone, Copy)]
pub struct OffsetClock(pub Duration);

impl OffsetClock {
    /// `+30d`, `-12h`, `1800d` (days, hours, minutes, seconds: `d`, `h`, `m`, `s`).
    pub fn parse(text: &str) -> Result<Self, crate::Error> {
        let (sign, rest) = match text.strip_prefix('-') {
            Some(rest) => (-1, rest),
            None => (1, text.strip_prefix('+').unwrap_or(text)),
        };
        let offset = crate::faults::parse_duration(rest)
            .map_err(|why| crate::Error::Invalid(format!("--clock-offset {text}: {why}")))?;
        // A century each way at most: every later date computation stays in range.
        let offset = Duration::try_from(offset)
            .ok()
            .filter(|o| *o <= Duration::days(36_525))
            .ok_or_else(|| crate::Error::Invalid(format!("--clock-offset {text}: too far")))?;
        Ok(Self(offset * sign))
    }
}

impl Clock for OffsetClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc() + self.0
    }
}

/// How failed authorization codes lock an identification number out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct LockoutPolicy {
    /// Failures that lock the operator out.
    pub max_failures: u32,
    /// The window the failures are counted in.
    pub window: Duration,
    /// How long the lockout lasts.
    pub lockout: Duration,
}

impl LockoutPolicy {
    /// `max_failures` within `window` lock out for `lockout`.
    pub fn new(max_failures: u32, window: Duration, lockout: Duration) -> Self {
        Self {
            max_failures,
            window,
            lockout,
        }
    }
}

impl Default for LockoutPolicy {
    /// Five failures within 15 minutes lock the identification number out for 15 minutes.
    fn default() -> Self {
        Self {
            max_failures: 5,
            window: Duration::minutes(15),
            lockout: Duration::minutes(15),
        }
    }
}

/// Which URL a request came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Endpoint {
    /// `/enrolement`: `AJO` only, no client certificate.
    Enrolment,
    /// `/certificats`: `REM` and `SUP`, with the client certificate of the mutual-TLS handshake.
    Certificates,
    /// `/transaction`, on the API host.
    Transaction,
    /// `/utilisateur`, on the API host.
    User,
    /// `/document`, on the API host.
    Document,
}

impl Endpoint {
    /// Its path, without the slash (the service's name in the metrics).
    pub fn path(self) -> &'static str {
        match self {
            Self::Enrolment => "enrolement",
            Self::Certificates => "certificats",
            Self::Transaction => "transaction",
            Self::User => "utilisateur",
            Self::Document => "document",
        }
    }
}

/// A certificate request as the HTTP layer received it.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Request {
    /// The URL.
    pub endpoint: Endpoint,
    /// The headers, names as received.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
    /// The client certificate of the TLS handshake (DER), on the API host.
    pub client_certificate: Option<Vec<u8>>,
}

impl Response {
    /// A response.
    pub fn new(status: u16, body: Vec<u8>) -> Self {
        Self { status, body }
    }
}

impl Request {
    /// A request.
    pub fn new(
        endpoint: Endpoint,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
        client_certificate: Option<Vec<u8>>,
    ) -> Self {
        Self {
            endpoint,
            headers,
            body,
            client_certificate,
        }
    }
}

/// The answer: an HTTP status and a JSON body.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Response {
    /// The status: 201 for an issued certificate, 200 for a deletion, 400 for a refusal.
    pub status: u16,
    /// The `retourCertif` body.
    pub body: Vec<u8>,
}

/// A refusal: the catalogue's errors and their arguments.
pub(crate) struct Refusal(pub(crate) Vec<(E, Vec<String>)>);

impl Refusal {
    fn one(code: E, args: &[&str]) -> Self {
        Self(vec![(code, args.iter().map(|s| (*s).to_owned()).collect())])
    }
}

/// The certificate authority: what its parts share (registry, clock, policy) and its parts:
/// issuance, the CRL publisher, the online services.
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

/// Issuance: the CA and the `certifPSI` returned with every certificate.
pub(crate) struct Issuance {
    /// The root that issues: the newest.
    ca: CertificateAuthority,
    /// The roots it replaced, oldest first (generation 1 first).
    earlier: Vec<CertificateAuthority>,
    certif_psi_pem: String,
}

impl Issuance {
    /// The CA's root of `generation` (1 the first), if the authority has it.
    pub(crate) fn ca_of(&self, generation: u32) -> Option<&CertificateAuthority> {
        let index = usize::try_from(generation).ok()?.checked_sub(1)?;
        match index.cmp(&self.earlier.len()) {
            std::cmp::Ordering::Less => self.earlier.get(index),
            std::cmp::Ordering::Equal => Some(&self.ca),
            std::cmp::Ordering::Greater => None,
        }
    }
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
            issuance: Issuance {
                ca: files.ca,
                earlier: files.earlier_cas,
                certif_psi_pem: files.certif_psi_pem,
            },
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

    pub(crate) fn ca(&self) -> &CertificateAuthority {
        &self.issuance.ca
    }

    pub(crate) fn publisher(&self) -> &crate::revocation::CrlPublisher {
        &self.publisher
    }

    /// The certificate (DER) of the CA's root that issues.
    pub fn ca_certificate_der(&self) -> &[u8] {
        self.issuance.ca.certificate_der()
    }

    /// The generation of the root that issues: 1, and one more at each `rotate ca`.
    pub fn ca_generation(&self) -> u32 {
        u32::try_from(self.issuance.earlier.len() + 1).unwrap_or(u32::MAX)
    }

    /// The CA's root of `generation`, if the authority has it.
    pub(crate) fn ca_of(&self, generation: u32) -> Option<&CertificateAuthority> {
        self.issuance.ca_of(generation)
    }

    /// The certificate (DER) of the CA's root of `generation`, if the authority has it.
    pub fn ca_certificate_der_of(&self, generation: u32) -> Option<&[u8]> {
        self.ca_of(generation)
            .map(CertificateAuthority::certificate_der)
    }

    /// Every root the authority trusts (DER), oldest first: those it replaced stay trusted, so
    /// that the certificates they issued work until they expire or are revoked.
    pub fn trusted_ca_certificates(&self) -> Vec<Vec<u8>> {
        self.issuance
            .earlier
            .iter()
            .chain(std::iter::once(&self.issuance.ca))
            .map(|ca| ca.certificate_der().to_vec())
            .collect()
    }

    /// Answers a request to any of the services (each endpoint its own). Every decision, issuance
    /// or refusal, is in the audit log before the answer is returned. In ESSAI, a request of a
    /// registered product's certification run is examined as a step of that run first
    /// ([`Authority::essai_status`] tells where a run stands).
    pub fn handle(&self, request: &Request) -> Response {
        if let Some(examined) = self.examine(request) {
            return examined;
        }
        self.answer(request)
    }

    /// The service's answer to `request`, without the ESSAI examiner.
    pub(crate) fn answer(&self, request: &Request) -> Response {
        let now = self.core.now();
        let actor = match request.endpoint {
            Endpoint::Enrolment => "enrolment",
            Endpoint::Certificates => "api",
            Endpoint::Transaction => return self.handle_transaction(request),
            Endpoint::User => return self.handle_user(request),
            Endpoint::Document => return self.handle_document(request),
        };
        match self.process(request, now, actor) {
            Ok(response) => response,
            Err(Refusal(errors)) => {
                let first = errors.first().map_or(E::Unexpected, |(c, _)| *c);
                let detail = errors
                    .iter()
                    .map(|(c, _)| format!("{:03}", c.number()))
                    .collect::<Vec<_>>()
                    .join(",");
                let audit = NewAudit::new(now, actor, "refuse", subject_hint(request), detail)
                    .with_error(first.id());
                if let Err(e) = self.core.registry.append_audit(audit) {
                    tracing::error!(error = %e, "could not write the audit log");
                    return refusal_response(&[(E::Unexpected, Vec::new())]);
                }
                refusal_response(&errors)
            }
        }
    }
}
