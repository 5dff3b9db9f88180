//! The certificate service, a part of the authority (`IssuanceService`): answering certificate
//! requests, validation in the order the protocol implies, then issuance, replacement or
//! deletion, every decision written to the audit log. Also the types every part shares: the
//! request and its answer, the clocks, the lockout policy.
//!
//! `process.rs`: the order of the checks, issuance, replacement, deletion and repeated requests;
//! `checks.rs`: the certificate headers, the subject and authorization code, the lockout;
//! `answers.rs`: answers, and refusals as error ids. The checks every service shares (headers
//! against the environment, the product) are the context's (`context.rs`).

use time::{Duration, OffsetDateTime};
use websrm_crypto::{
    CertificateAuthority, CsrFinding, ValidatedCsr, inspect_certificate, validate_csr,
};
use websrm_domain::{
    CertificateState, Clock, DeviceIdState, Environment, SerialNumber, Subject, TestCase,
};
use websrm_protocol::catalogue::ErrorCode as E;
use websrm_protocol::headers::{CertificateHeaders, HeaderProblemKind};
use websrm_protocol::wire::{CertificateResponseBody, JSON_VERSION, RetourCertif, WireError};
use websrm_registry::NewAudit;
use websrm_registry::{Credential, NewCertificate, Operator};

mod answers;
mod checks;
mod process;

pub(crate) use answers::{internal, next_test_case};
use answers::{refusal_response, subject_hint};
pub(crate) use checks::{Service, header_fault};

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
    pub(crate) fn one(code: E, args: &[&str]) -> Self {
        Self(vec![(code, args.iter().map(|s| (*s).to_owned()).collect())])
    }
}

/// The certificate service (`/enrolement`, `/certificats`): a part of the authority over the
/// shared core, the context checks, the issuing CA and its `certifPSI`, and the publication
/// addresses written into each certificate.
#[derive(Clone, Copy)]
pub(crate) struct IssuanceService<'a> {
    pub(crate) core: &'a crate::core::Core,
    pub(crate) context: crate::context::Context<'a>,
    pub(crate) issuance: &'a Issuance,
    pub(crate) publisher: &'a crate::revocation::CrlPublisher,
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
    /// The issuing roots (the newest last) and the `certifPSI` returned with each certificate.
    pub(crate) fn new(
        ca: CertificateAuthority,
        earlier: Vec<CertificateAuthority>,
        certif_psi_pem: String,
    ) -> Self {
        Self {
            ca,
            earlier,
            certif_psi_pem,
        }
    }

    /// The root that issues: the newest.
    pub(crate) fn current(&self) -> &CertificateAuthority {
        &self.ca
    }

    /// The generation of the root that issues: 1, and one more at each `rotate ca`.
    pub(crate) fn generation(&self) -> u32 {
        u32::try_from(self.earlier.len() + 1).unwrap_or(u32::MAX)
    }

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

impl IssuanceService<'_> {
    /// The certificate service's answer to `request` (`/enrolement`, `/certificats`): issued,
    /// replaced or deleted, or refused, each decision in the audit log before it is returned.
    pub(crate) fn answer(&self, request: &Request) -> Response {
        let now = self.core.now();
        let actor = match request.endpoint {
            Endpoint::Enrolment => "enrolment",
            _ => "api",
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
