//! The certificate service, a part of the authority (`IssuanceService`): answering certificate
//! requests, validation in the order the protocol implies, then issuance, replacement or
//! deletion, every decision written to the audit log. Also the types every part shares: the
//! request and its answer, the clocks, the lockout policy.
//!
//! `process.rs`: the order of the checks, issuance, replacement, deletion and repeated requests;
//! `checks.rs`: the certificate headers, the subject and authorization code, the lockout;
//! `answers.rs`: answers, and refusals as error ids. The checks every service shares (headers
//! against the environment, the product) are the context's (`context.rs`).

use std::future::Future;

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

/// Why the certificate service stopped before its answer.
pub(crate) enum Stopped {
    /// The request is refused.
    Refused(Refusal),
    /// A step would wait for a write's commit on a thread that must not wait (an async
    /// runtime's): the request is to be answered on one that may, from the start. Nothing was
    /// written.
    MustWait,
}

impl From<Refusal> for Stopped {
    fn from(refusal: Refusal) -> Self {
        Self::Refused(refusal)
    }
}

/// What the certificate service makes of a request, before any wait.
pub(crate) enum Answer {
    /// The answer.
    Ready(Response),
    /// The record is in the registry's next batch: the answer follows its commit.
    Recording(Box<dyn Finish>),
}

/// A record queued for the registry's next batch, and what its commit (or failure) answers.
pub(crate) trait Finish: Send {
    /// Blocks the calling thread until the commit.
    fn wait(self: Box<Self>) -> After;
    /// Awaits the commit (no thread is parked on it).
    fn finish(self: Box<Self>) -> Finished;
}

/// A commit awaited, and what it answers.
pub(crate) type Finished = std::pin::Pin<Box<dyn Future<Output = After> + Send>>;

/// What a commit answers.
pub(crate) enum After {
    /// The answer.
    Answer(Response),
    /// A refusal (audited before it is answered).
    Refused(Refusal),
    /// The record lost a race with another copy of the request (or a lockout): the request is
    /// answered again, from the start, and finds what the other recorded.
    Again,
}

/// A pending record and what its result answers.
struct Then<T, F> {
    pending: websrm_registry::Pending<T>,
    then: F,
}

impl<T, F> Finish for Then<T, F>
where
    T: Send + 'static,
    F: FnOnce(Result<T, websrm_registry::Error>) -> After + Send + 'static,
{
    fn wait(self: Box<Self>) -> After {
        let this = *self;
        (this.then)(this.pending.wait())
    }

    fn finish(self: Box<Self>) -> Finished {
        let this = *self;
        Box::pin(async move { (this.then)(this.pending.await) })
    }
}

/// `pending`'s result, once committed, answered by `then`.
pub(crate) fn recording<T, F>(pending: websrm_registry::Pending<T>, then: F) -> Answer
where
    T: Send + 'static,
    F: FnOnce(Result<T, websrm_registry::Error>) -> After + Send + 'static,
{
    Answer::Recording(Box::new(Then { pending, then }))
}

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
    /// Whether the thread may wait for a write's commit. On an async runtime's thread it may
    /// not: a step that would is [`Stopped::MustWait`], and the final record is awaited.
    pub(crate) waits: bool,
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
    /// replaced or deleted, or refused, each decision in the audit log before it is returned. The
    /// thread waits for the commits.
    pub(crate) fn answer(&self, request: &Request) -> Response {
        self.answer_waiting(request, false)
    }

    fn answer_waiting(&self, request: &Request, again: bool) -> Response {
        let (now, actor) = (self.core.now(), actor(request));
        let after = match self.process(request, now, actor) {
            Ok(Answer::Ready(response)) => return response,
            Ok(Answer::Recording(record)) => record.wait(),
            Err(Stopped::Refused(refusal)) => After::Refused(refusal),
            Err(Stopped::MustWait) => After::Refused(internal("a step could not wait")),
        };
        match after {
            After::Answer(response) => response,
            After::Refused(refusal) => self.refused(request, now, actor, refusal),
            After::Again if !again => self.answer_waiting(request, true),
            After::Again => self.refused(request, now, actor, internal("the record lost twice")),
        }
    }

    /// A refusal, audited before it is answered.
    fn refused(
        &self,
        request: &Request,
        now: OffsetDateTime,
        actor: &str,
        refusal: Refusal,
    ) -> Response {
        let audit = refusal_audit(request, now, actor, &refusal.0);
        audited(self.core.registry.append_audit(audit), &refusal.0)
    }

    /// The same answer on an async runtime's thread: the checks and issuance run on it, the
    /// commit of the record (or of a refusal's audit entry) is awaited, and no thread is parked
    /// on it. `None` when the request is to be answered by [`answer`](Self::answer) on a thread
    /// that may wait: a step on the way waits for a write of its own (a failed authorization
    /// code counted, a repeated request audited), or the record lost a race.
    pub(crate) async fn answer_awaiting(&self, request: &Request) -> Option<Response> {
        debug_assert!(!self.waits);
        let (now, actor) = (self.core.now(), actor(request));
        let after = match self.process(request, now, actor) {
            Ok(Answer::Ready(response)) => return Some(response),
            Ok(Answer::Recording(record)) => record.finish().await,
            Err(Stopped::Refused(refusal)) => After::Refused(refusal),
            Err(Stopped::MustWait) => return None,
        };
        match after {
            After::Answer(response) => Some(response),
            After::Refused(Refusal(errors)) => {
                let audit = refusal_audit(request, now, actor, &errors);
                Some(audited(
                    self.core.registry.append_audit_later(audit).await,
                    &errors,
                ))
            }
            After::Again => None,
        }
    }

    /// Stops a step that would wait for a write's commit where none may.
    pub(super) fn may_wait(&self) -> Result<(), Stopped> {
        if self.waits {
            Ok(())
        } else {
            Err(Stopped::MustWait)
        }
    }
}

/// Who the audit log names for a request.
fn actor(request: &Request) -> &'static str {
    match request.endpoint {
        Endpoint::Enrolment => "enrolment",
        _ => "api",
    }
}

/// The answer to a refusal once its audit entry is written, or 999E if it could not be.
fn audited(
    written: Result<websrm_registry::AuditEntry, websrm_registry::Error>,
    errors: &[(E, Vec<String>)],
) -> Response {
    match written {
        Ok(_) => refusal_response(errors),
        Err(e) => {
            tracing::error!(error = %e, "could not write the audit log");
            refusal_response(&[(E::Unexpected, Vec::new())])
        }
    }
}

/// The audit entry of a refusal.
fn refusal_audit(
    request: &Request,
    now: OffsetDateTime,
    actor: &str,
    errors: &[(E, Vec<String>)],
) -> NewAudit {
    let first = errors.first().map_or(E::Unexpected, |(c, _)| *c);
    let detail = errors
        .iter()
        .map(|(c, _)| format!("{:03}", c.number()))
        .collect::<Vec<_>>()
        .join(",");
    NewAudit::new(now, actor, "refuse", subject_hint(request), detail).with_error(first.id())
}
