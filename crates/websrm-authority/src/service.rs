//! Answering certificate requests: validation in the order the protocol implies, then issuance,
//! replacement or deletion, every decision written to the audit log.

use std::sync::Arc;

use serde_json::Value;
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
use websrm_store::registry::{AttemptState, NewCertificate, Operator};
use websrm_store::{NewAudit, Registry};

use crate::AuthorityFiles;

/// The system clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
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
struct Refusal(Vec<(E, Vec<String>)>);

impl Refusal {
    fn one(code: E, args: &[&str]) -> Self {
        Self(vec![(code, args.iter().map(|s| (*s).to_owned()).collect())])
    }
}

/// The certificate authority: registry, CA, clock and policy.
pub struct Authority {
    environment: Environment,
    registry: Registry,
    ca: CertificateAuthority,
    certif_psi_pem: String,
    clock: Arc<dyn Clock>,
    lockout: LockoutPolicy,
    crl: crate::revocation::CrlCache,
    portal: crate::portal::Portal,
    /// ESSAI: the next step expected of each product's test case.
    expected: std::sync::Mutex<
        std::collections::HashMap<(websrm_domain::PartnerId, websrm_domain::SrsId), TestCase>,
    >,
    /// Where the CRL and the CA certificate are published, written into issued certificates.
    links: std::sync::RwLock<websrm_crypto::PublicationLinks>,
    /// How long after issuance a new authorization code becomes active.
    pub(crate) code_activation_delay: Duration,
}

impl std::fmt::Debug for Authority {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authority")
            .field("environment", &self.environment)
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
            environment,
            registry: files.registry,
            ca: files.ca,
            certif_psi_pem: files.certif_psi_pem,
            clock,
            lockout: LockoutPolicy::default(),
            crl: crate::revocation::CrlCache::default(),
            portal: crate::portal::Portal::new(*files.portal_key),
            expected: std::sync::Mutex::default(),
            links: std::sync::RwLock::default(),
            code_activation_delay: Duration::ZERO,
        };
        (authority, files.tls)
    }

    /// The same authority with new authorization codes active only `delay` after they are
    /// issued (Revenu Québec allows up to 90 minutes; immediate by default).
    pub fn with_code_activation_delay(mut self, delay: Duration) -> Self {
        self.code_activation_delay = delay;
        self
    }

    /// The same authority with another lockout policy.
    pub fn with_lockout(mut self, policy: LockoutPolicy) -> Self {
        self.lockout = policy;
        self
    }

    /// Publishes the CRL and the CA certificate under `base` (`https://HOST:PORT` of the
    /// enrolment host, which serves them at `/crl` and `/ca`): certificates issued from now on
    /// name these addresses, so that an SRS finds the CRL without being told where.
    pub fn publish_under(&self, base: &str) {
        *self
            .links
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) =
            websrm_crypto::PublicationLinks::under(base);
    }

    /// Whether [`publish_under`](Self::publish_under) was called.
    pub fn is_published(&self) -> bool {
        self.links
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .crl_url
            .is_some()
    }

    /// The lockout policy, the same for enrolment and the online services.
    pub(crate) fn lockout(&self) -> LockoutPolicy {
        self.lockout
    }

    /// The registry.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// The environment asked for at start-up.
    pub fn environment(&self) -> Environment {
        self.environment
    }

    /// The current time of the authority's clock.
    pub fn now(&self) -> OffsetDateTime {
        self.clock.now()
    }

    pub(crate) fn ca(&self) -> &CertificateAuthority {
        &self.ca
    }

    pub(crate) fn portal_state(&self) -> &crate::portal::Portal {
        &self.portal
    }

    pub(crate) fn crl_cache(&self) -> &crate::revocation::CrlCache {
        &self.crl
    }

    /// The CA's root certificate (DER).
    pub fn ca_certificate_der(&self) -> &[u8] {
        self.ca.certificate_der()
    }

    /// Answers a certificate request. Every decision, issuance or refusal, is in the audit log
    /// before the answer is returned.
    pub fn handle(&self, request: &Request) -> Response {
        let now = self.clock.now();
        let actor = match request.endpoint {
            Endpoint::Enrolment => "enrolment",
            Endpoint::Certificates => "api",
            Endpoint::Transaction => return self.handle_transaction(request),
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
                if let Err(e) = self.registry.append_audit(audit) {
                    tracing::error!(error = %e, "could not write the audit log");
                    return refusal_response(&[(E::Unexpected, Vec::new())]);
                }
                refusal_response(&errors)
            }
        }
    }

    fn process(
        &self,
        request: &Request,
        now: OffsetDateTime,
        actor: &str,
    ) -> Result<Response, Refusal> {
        // 1. The body: JSON, one reqCertif, its fields, and the routing rules of the URL.
        let service = match request.endpoint {
            Endpoint::Enrolment => "enrolement",
            _ => "certificats",
        };
        let body = parse_body(&request.body, service)?;
        let modif = body.modif.as_str();
        let modif_as_sent = body.modif_as_sent.as_str();
        match request.endpoint {
            Endpoint::Enrolment => {
                if modif != "AJO" {
                    return Err(Refusal::one(E::ModifNotAdd, &[modif_as_sent]));
                }
                if body.no_serie.is_some() {
                    return Err(Refusal::one(E::SerialForbiddenOnEnrolment, &[]));
                }
                if body.csr.is_none() {
                    return Err(Refusal::one(E::CsrMissingOnEnrolment, &[]));
                }
            }
            Endpoint::Certificates | Endpoint::Transaction => {
                if modif != "REM" && modif != "SUP" {
                    return Err(Refusal::one(E::ModifNotReplaceOrDelete, &[modif_as_sent]));
                }
                if body.no_serie.is_none() {
                    return Err(Refusal::one(E::SerialMissing, &[]));
                }
                if modif == "REM" && body.csr.is_none() {
                    return Err(Refusal::one(E::ReplaceWithoutCsr, &[]));
                }
                if modif == "SUP" && body.csr.is_some() {
                    return Err(Refusal::one(E::DeleteWithCsr, &[]));
                }
            }
        }
        let serial = match &body.no_serie {
            Some(text) => Some(
                text.parse::<SerialNumber>()
                    .map_err(|_| Refusal::one(E::SerialInvalid, &[text]))?,
            ),
            None => None,
        };

        // 2. The headers.
        let headers = self.check_headers(request)?;
        if request.endpoint == Endpoint::Certificates
            && headers.device == Some(DeviceIdState::Unassigned)
        {
            return Err(Refusal::one(E::DeviceIdUnknown, &["0000-0000-0000"]));
        }
        if let Some(DeviceIdState::Assigned(id)) = headers.device
            && self.registry.device(id).map_err(internal)?.is_none()
        {
            return Err(Refusal::one(E::DeviceIdUnknown, &[&id.to_string()]));
        }

        // 3. The product.
        self.check_product(&headers)?;

        // 4. The client certificate and noSerie (REM, SUP). A replacement repeated after its
        //    answer was lost finds its certificate replaced by the very CSR it carries: it gets
        //    the same answer again. A deleted certificate no longer authenticates (011E, like any
        //    certificate no longer in force): the SRS's recovery reads that as "deleted".
        let mut retransmitted_replacement = None;
        let current = match (request.endpoint, serial) {
            (Endpoint::Certificates, Some(serial)) => {
                let presented = request
                    .client_certificate
                    .as_deref()
                    .ok_or_else(|| Refusal::one(E::CertificateRevoked, &["-"]))?;
                let info = inspect_certificate(presented)
                    .map_err(|_| Refusal::one(E::CertificateRevoked, &["-"]))?;
                let record = self
                    .registry
                    .certificate_by_thumbprint(info.thumbprint)
                    .map_err(internal)?;
                let record = record.ok_or_else(|| {
                    Refusal::one(E::CertificateRevoked, &[&info.serial.to_string()])
                })?;
                if record.serial != serial {
                    return Err(Refusal::one(E::SerialInvalid, &[&serial.to_string()]));
                }
                match (record.state, modif) {
                    (CertificateState::Active, _) => Some(record),
                    (CertificateState::Replaced, "REM") if record.replaced_by.is_some() => {
                        retransmitted_replacement = record.replaced_by;
                        Some(record)
                    }
                    _ => {
                        return Err(Refusal::one(
                            E::CertificateRevoked,
                            &[&record.serial.to_string()],
                        ));
                    }
                }
            }
            _ => None,
        };

        if modif == "SUP" {
            let Some(current) = current else {
                return Err(Refusal::one(E::SerialMissing, &[]));
            };
            let audit = NewAudit::new(now, actor, "delete", current.serial.to_string(), "SUP");
            self.registry
                .record_deletion(current.serial, now, actor, audit)
                .map_err(internal)?;
            let retour = RetourCertif {
                json_versi: Some(JSON_VERSION.into()),
                cas_essai: self.next_case(&headers),
                certif: Some("SUP".into()),
                ..RetourCertif::default()
            };
            return Ok(success(200, retour));
        }

        // 5. The CSR and its subject against the registry.
        let csr_text = body.csr.as_deref().unwrap_or_default();
        let validated = validate_csr(csr_text).map_err(findings_refusal)?;
        let operator = self.check_subject(&validated.subject, now)?;
        let nickname = validated.subject.nickname().clone();
        if let Some(answer) =
            self.retransmission(&validated, &operator, &headers, retransmitted_replacement)?
        {
            return Ok(answer);
        }
        if retransmitted_replacement.is_some() {
            // The certificate was replaced by another request than this one.
            return Err(Refusal::one(
                E::CertificateRevoked,
                &[&serial.map(|s| s.to_string()).unwrap_or_default()],
            ));
        }
        if headers.environment == Environment::Prod
            && self
                .registry
                .nickname_in_force(operator.id, headers.environment, &nickname, now)
                .map_err(internal)?
            && current.as_ref().is_none_or(|c| c.nickname != nickname)
        {
            return Err(Refusal::one(E::NicknameInUse, &[nickname.as_str()]));
        }

        // 6. Issue, and record before answering.
        let links = self
            .links
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        let issued = self
            .ca
            .issue_linked(&validated, now, &links)
            .map_err(internal)?;
        let subject_text = subject_text(&validated);
        let (device, new_device) = match (&current, headers.device) {
            (Some(c), _) => (c.device, false),
            (None, Some(DeviceIdState::Assigned(id))) => (Some(id), false),
            (None, Some(DeviceIdState::Unassigned)) => (None, true),
            (None, None) => (None, false),
        };
        let record = NewCertificate::new(
            issued.serial,
            issued.thumbprint,
            headers.environment,
            operator.id,
            device,
            nickname,
            subject_text,
            issued.validity,
            issued.der.clone(),
            actor,
        )
        .with_key_id(&validated.public_key.key_identifier())
        .with_host(if new_device {
            self.presenting_device(request)
        } else {
            None
        });
        let assigned = match &current {
            Some(c) => {
                let audit = NewAudit::new(
                    now,
                    actor,
                    "replace",
                    issued.serial.to_string(),
                    format!("replaces {}", c.serial),
                );
                match self
                    .registry
                    .record_replacement(c.serial, &record, now, audit)
                {
                    Ok(()) => None,
                    // Another copy of this request was recorded first (they raced): its
                    // answer, as for any repetition.
                    Err(
                        websrm_store::Error::CertificateNotActive(_)
                        | websrm_store::Error::KeyInUse(_),
                    ) => {
                        let replaced_by = self
                            .registry
                            .certificate_by_serial(c.serial)
                            .map_err(internal)?
                            .and_then(|r| r.replaced_by);
                        return match self.retransmission(
                            &validated,
                            &operator,
                            &headers,
                            replaced_by,
                        )? {
                            Some(answer) => Ok(answer),
                            None => Err(Refusal::one(
                                E::CertificateRevoked,
                                &[&c.serial.to_string()],
                            )),
                        };
                    }
                    Err(e) => return Err(registry_refusal(e)),
                }
            }
            None => {
                let audit = NewAudit::new(
                    now,
                    actor,
                    "issue",
                    issued.serial.to_string(),
                    operator.identification_number.to_string(),
                );
                match self.registry.record_issued(&record, new_device, now, audit) {
                    Ok(assigned) => assigned,
                    // Another copy of this request was recorded first (they raced): its
                    // answer, as for any repetition.
                    Err(websrm_store::Error::KeyInUse(_)) => {
                        return self
                            .retransmission(&validated, &operator, &headers, None)?
                            .ok_or_else(|| internal("a certificate for this key vanished"));
                    }
                    Err(e) => return Err(registry_refusal(e)),
                }
            }
        };
        let retour = RetourCertif {
            json_versi: Some(JSON_VERSION.into()),
            cas_essai: self.next_case(&headers),
            id_apprl: assigned.map(|d| d.to_string()),
            certif_psi: Some(self.certif_psi_pem.clone()),
            certif: Some(issued.to_pem()),
            list_err: None,
        };
        Ok(success(201, retour))
    }

    /// The device of the certificate presented in the handshake, if one was and it is in force: a
    /// host asking for its terminal's identifier.
    fn presenting_device(&self, request: &Request) -> Option<websrm_domain::DeviceId> {
        let info = inspect_certificate(request.client_certificate.as_deref()?).ok()?;
        let record = self
            .registry
            .certificate_by_thumbprint(info.thumbprint)
            .ok()??;
        (record.state == CertificateState::Active)
            .then_some(record.device)
            .flatten()
    }

    /// `casEssai` of an answer: the same case's next step, which ESSAI then expects.
    fn next_case(&self, headers: &CertificateHeaders) -> Option<String> {
        let next = next_test_case(headers.test_case)?;
        if headers.environment == Environment::Essai
            && let Ok(tc) = next.parse::<TestCase>()
        {
            self.expected
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .insert((headers.partner_id, headers.srs_id), tc);
        }
        Some(next)
    }

    /// The answer to a request repeated after its answer was lost: the certificate already issued
    /// for the same key (AJO), or the replacement already made with it (REM).
    fn retransmission(
        &self,
        csr: &ValidatedCsr,
        operator: &Operator,
        headers: &CertificateHeaders,
        replaced_by: Option<SerialNumber>,
    ) -> Result<Option<Response>, Refusal> {
        let key_id = csr.public_key.key_identifier();
        let existing = match replaced_by {
            Some(serial) => self
                .registry
                .certificate_by_serial(serial)
                .map_err(internal)?,
            None => self
                .registry
                .active_certificate_for_key(operator.id, &key_id)
                .map_err(internal)?,
        };
        let Some(existing) = existing else {
            return Ok(None);
        };
        let same_key = inspect_certificate(&existing.der)
            .ok()
            .and_then(|i| i.public_key)
            .as_ref()
            == Some(&csr.public_key);
        if !same_key
            || existing.state != CertificateState::Active
            || &existing.nickname != csr.subject.nickname()
        {
            return Ok(None);
        }
        let first_enrolment =
            replaced_by.is_none() && headers.device == Some(DeviceIdState::Unassigned);
        let retour = RetourCertif {
            json_versi: Some(JSON_VERSION.into()),
            cas_essai: self.next_case(headers),
            id_apprl: if first_enrolment {
                existing.device.map(|d| d.to_string())
            } else {
                None
            },
            certif_psi: Some(self.certif_psi_pem.clone()),
            certif: Some(websrm_crypto::pem::encode("CERTIFICATE", &existing.der)),
            list_err: None,
        };
        Ok(Some(success(201, retour)))
    }

    fn check_headers(&self, request: &Request) -> Result<CertificateHeaders, Refusal> {
        let pairs: Vec<(&str, &str)> = request
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        let conformity = self.environment.is_conformity();
        let headers =
            CertificateHeaders::from_pairs(pairs.iter().copied()).map_err(|problems| {
                Refusal(
                    problems
                        .iter()
                        .map(|p| {
                            let value = match &p.kind {
                                HeaderProblemKind::Invalid(v) => v.clone(),
                                _ => "(absent)".to_owned(),
                            };
                            let code = match (&p.kind, p.header) {
                                (HeaderProblemKind::Repeated, _) => E::HeaderRepeated,
                                (HeaderProblemKind::NotApplicable, _) => E::HeaderNotApplicable,
                                (HeaderProblemKind::Forbidden, _) => E::DeviceIdForbiddenForServer,
                                (_, "ENVIRN") if conformity => E::EnvironmentNotConformity,
                                (_, "ENVIRN") => E::EnvironmentNotProduction,
                                (_, "CASESSAI") => E::TestCaseUnknown,
                                (_, "APPRLINIT") => E::HeaderNotApplicable,
                                (_, "IDAPPRL") => E::DeviceIdMissing,
                                (_, "IDSEV") => E::SrsIdUnknown,
                                (_, "IDVERSI") => E::VersionIdInvalid,
                                (_, "CODCERTIF") if conformity => E::CertificationCodeConformity,
                                (_, "CODCERTIF") => E::CertificationCodeProd,
                                (_, "IDPARTN") => E::PartnerIdUnknown,
                                _ => E::VersionHeadersMismatch,
                            };
                            let arg = if matches!(
                                p.kind,
                                HeaderProblemKind::Repeated | HeaderProblemKind::NotApplicable
                            ) || p.header == "APPRLINIT"
                            {
                                p.header.to_owned()
                            } else {
                                value
                            };
                            (code, vec![arg, self.environment.to_string()])
                        })
                        .collect(),
                )
            })?;
        // The environment must be this service's: DEV or ESSAI on the conformity service, PROD on
        // the production service.
        if headers.environment.is_conformity() != conformity {
            let code = if conformity {
                E::EnvironmentNotConformity
            } else {
                E::EnvironmentNotProduction
            };
            return Err(Refusal::one(code, &[headers.environment.as_str()]));
        }
        let tc = headers.test_case;
        match headers.environment {
            Environment::Prod if !tc.is_production() => {
                return Err(Refusal::one(E::TestCaseInProduction, &[]));
            }
            Environment::Essai if tc.is_production() => {
                return Err(Refusal::one(E::TestCaseProductionInEssai, &[]));
            }
            _ => {}
        }
        // The certificate test cases of the published scenario: 001 and 501 (SRS), 500 (server).
        if !tc.is_production() && ![1, 500, 501].contains(&tc.case()) {
            return Err(Refusal::one(
                E::TestCaseWrongRequestType,
                &[&tc.to_string()],
            ));
        }
        // In ESSAI the steps of a case come in order: after step n, step n + 1 (a case may always
        // start again at step 1).
        if headers.environment == Environment::Essai && tc.step() != 1 {
            let expected = self
                .expected
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if expected.get(&(headers.partner_id, headers.srs_id)) != Some(&tc) {
                return Err(Refusal::one(E::TestCaseOutOfOrder, &[&tc.to_string()]));
            }
        }
        Ok(headers)
    }

    fn check_product(&self, h: &CertificateHeaders) -> Result<(), Refusal> {
        let code = &h.certification_code;
        let sector_prefix = matches!(code.prefix(), "RBC" | "TRP" | "FOB");
        if h.version_id.is_unregistered() {
            if h.initiating == InitiatingDevice::Server {
                return Err(Refusal::one(E::ServerVersionNotCertified, &[]));
            }
            if h.environment == Environment::Essai {
                return Err(Refusal::one(E::VersionIdZeroInEssai, &[]));
            }
            if !(sector_prefix && code.is_uncertified()) {
                return Err(Refusal::one(E::UnregisteredVersionCode, &[]));
            }
            return self.check_product_ids(h);
        }
        let product = self
            .registry
            .find_product(h.environment, h.partner_id, h.srs_id, h.version_id)
            .map_err(internal)?;
        let Some(product) = product else {
            self.check_product_ids(h)?;
            return Err(Refusal::one(E::VersionUnknown, &[]));
        };
        let code_ok = match h.environment {
            Environment::Dev => {
                *code == product.certification_code
                    || (sector_prefix && (code.is_test_code() || code.is_uncertified()))
            }
            Environment::Essai => {
                *code == product.certification_code || (sector_prefix && code.is_test_code())
            }
            _ => *code == product.certification_code,
        };
        if !code_ok {
            let refusal = if h.environment == Environment::Prod {
                E::CertificationCodeProd
            } else {
                E::CertificationCodeConformity
            };
            return Err(Refusal::one(
                refusal,
                &[code.as_str(), h.environment.as_str()],
            ));
        }
        // A remote server names the last certified version of its SRS, and `0` before its
        // first certification (the reference's VERSI and VERSIPARN); in the conformity
        // environments, where that certification happens, `0`/`0` is accepted.
        let first_certification = h.initiating == InitiatingDevice::Server
            && h.environment.is_conformity()
            && h.version.as_str() == "0"
            && h.parent_version.as_str() == "0";
        if !first_certification
            && (h.version != product.version || h.parent_version != product.parent_version)
        {
            return Err(Refusal::one(
                E::VersionHeadersMismatch,
                &[&format!(
                    "VERSI {}, VERSIPARN {}",
                    h.version, h.parent_version
                )],
            ));
        }
        if h.environment == Environment::Prod && !product.certified {
            return Err(Refusal::one(E::VersionNotCertified, &[h.version.as_str()]));
        }
        // A remote server presents the last certified version of its SRS.
        if h.initiating == InitiatingDevice::Server && !product.certified && !first_certification {
            return Err(Refusal::one(E::ServerVersionNotCertified, &[]));
        }
        Ok(())
    }

    /// An unknown partner gets 003E, an unknown SRS of a known partner 001E.
    fn check_product_ids(&self, h: &CertificateHeaders) -> Result<(), Refusal> {
        if !self
            .registry
            .partner_known(h.environment, h.partner_id)
            .map_err(internal)?
        {
            return Err(Refusal::one(
                E::PartnerIdUnknown,
                &[&h.partner_id.to_string()],
            ));
        }
        if self
            .registry
            .products_of(h.environment, h.partner_id, h.srs_id)
            .map_err(internal)?
            .is_empty()
        {
            return Err(Refusal::one(E::SrsIdUnknown, &[&h.srs_id.to_string()]));
        }
        Ok(())
    }

    /// The subject against the registry: the CN is known and not locked out, the authorization
    /// code is theirs, active and current, the QST and file numbers are theirs.
    fn check_subject(&self, subject: &Subject, now: OffsetDateTime) -> Result<Operator, Refusal> {
        let number = subject.identification_number();
        let operator = self
            .registry
            .operator_by_identification(number)
            .map_err(internal)?
            .ok_or_else(|| Refusal::one(E::IdentificationNumberUnknown, &[number.as_str()]))?;
        let state = self.registry.attempt_state(operator.id).map_err(internal)?;
        if state.locked_until.is_some_and(|until| until > now) {
            return Err(Refusal::one(
                E::AuthorizationCodeNotOperators,
                &[number.as_str()],
            ));
        }
        let code = self
            .registry
            .find_authorization_code(subject.authorization_code())
            .map_err(internal)?;
        let code_refusal = match &code {
            None => Some(E::AuthorizationCodeNotOperators),
            Some(c) if c.operator != operator.id || c.sector != subject.sector() => {
                Some(E::AuthorizationCodeNotOperators)
            }
            Some(c) if c.superseded_at.is_some() => Some(E::AuthorizationCodeSuperseded),
            Some(c) if c.activated_at > now => Some(E::AuthorizationCodeNotOperators),
            Some(_) => None,
        };
        if let Some(refusal) = code_refusal {
            self.count_failure(&operator, now)?;
            return Err(Refusal::one(refusal, &[number.as_str()]));
        }
        if state.failures > 0 {
            let audit = NewAudit::new(
                now,
                "enrolment",
                "unlock",
                number.to_string(),
                "valid authorization code",
            );
            self.registry
                .set_attempt_state(operator.id, AttemptState::default(), Some(audit))
                .map_err(internal)?;
        }
        if let Subject::Srs(srs) = subject {
            if operator.qst_number.as_ref() != Some(srs.qst_number()) {
                return Err(Refusal::one(E::QstNumberNotOperators, &[]));
            }
            match operator
                .file_numbers
                .iter()
                .find(|(f, _)| f == srs.file_number())
            {
                None => {
                    return Err(Refusal::one(
                        E::FileNumberNotQstNumber,
                        &[srs.file_number().as_str()],
                    ));
                }
                Some((_, sector)) if *sector != srs.sector() => {
                    return Err(Refusal::one(
                        E::FileNumberNotCodeSector,
                        &[srs.file_number().as_str()],
                    ));
                }
                Some(_) => {}
            }
        }
        Ok(operator)
    }

    /// Counts a failure: one write in the registry, so that racing failures are all counted.
    fn count_failure(&self, operator: &Operator, now: OffsetDateTime) -> Result<(), Refusal> {
        let audit = NewAudit::new(
            now,
            "enrolment",
            "lockout",
            operator.identification_number.to_string(),
            "",
        );
        self.registry
            .count_failure(
                operator.id,
                now,
                (
                    self.lockout.max_failures,
                    self.lockout.window,
                    self.lockout.lockout,
                ),
                audit,
            )
            .map(drop)
            .map_err(internal)
    }
}

struct Body {
    /// `modif`, in upper case.
    modif: String,
    /// `modif` as the request wrote it, for the messages.
    modif_as_sent: String,
    csr: Option<String>,
    no_serie: Option<String>,
}

/// The top level must be exactly one `reqCertif` object (duplicated keys detected, which a
/// map-based parser would silently merge).
fn parse_body(bytes: &[u8], service: &str) -> Result<Body, Refusal> {
    let fields =
        crate::structure::request_fields(bytes, service, "reqCertif", &["modif", "csr", "noSerie"])
            .map_err(|(code, args)| Refusal(vec![(code, args)]))?;
    let text = |name: &str| -> Result<Option<String>, Refusal> {
        match fields.iter().find(|(k, _)| k == name).map(|(_, v)| v) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(Refusal::one(E::NotJson, &[])),
        }
    };
    // Values are compared without regard to case (the reference: unless stated); field names
    // are exact.
    let modif =
        text("modif")?.ok_or_else(|| Refusal::one(E::ModifMissing, &["reqCertif", "modif"]))?;
    Ok(Body {
        modif: modif.to_ascii_uppercase(),
        modif_as_sent: modif,
        csr: text("csr")?,
        no_serie: text("noSerie")?,
    })
}

fn findings_refusal(findings: Vec<CsrFinding>) -> Refusal {
    Refusal(
        findings
            .into_iter()
            .map(|f| (finding_code(f), Vec::new()))
            .collect(),
    )
}

/// The catalogue's error for a CSR finding: `CsrFinding::error_id` is the one table from
/// findings to ids, and every id it gives is in the catalogue (tested).
fn finding_code(f: CsrFinding) -> E {
    E::from_id(f.error_id()).unwrap_or_else(|| {
        tracing::error!(id = %f.error_id(), "a CSR finding's id is not in the catalogue");
        E::Unexpected
    })
}

fn registry_refusal(e: websrm_store::Error) -> Refusal {
    match e {
        websrm_store::Error::NicknameInUse(n) => Refusal::one(E::NicknameInUse, &[n.as_str()]),
        other => internal(other),
    }
}

fn internal(e: impl std::fmt::Display) -> Refusal {
    tracing::error!(error = %e, "unexpected error");
    Refusal::one(E::Unexpected, &[])
}

/// `casEssai` after `tc`: the next step of the case, and after a certificate case's last step
/// the case that follows it in the published order (the user cases after the SRS's, the SRS's
/// in server mode after the server administrator's).
pub(crate) fn next_test_case(tc: TestCase) -> Option<String> {
    if tc.is_production() {
        return None;
    }
    let next = match (tc.case(), tc.step()) {
        (1, 8) => TestCase::new(2, 1),
        (501, 8) => TestCase::new(502, 1),
        (500, 4) => TestCase::new(501, 1),
        (case, step) => TestCase::new(case, step + 1),
    };
    Some(next.unwrap_or(tc).to_string())
}

fn subject_text(csr: &ValidatedCsr) -> String {
    csr.subject
        .attributes()
        .iter()
        .map(|(a, v)| format!("{}={v}", a.short_name()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// What the audit entry of a refusal is about: the device header, if any.
fn subject_hint(request: &Request) -> String {
    request
        .headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("IDAPPRL"))
        .map_or_else(|| "-".to_owned(), |(_, v)| v.chars().take(20).collect())
}

fn success(status: u16, retour: RetourCertif) -> Response {
    let body = serde_json::to_vec(&CertificateResponseBody {
        retour_certif: retour,
    })
    .unwrap_or_default();
    Response { status, body }
}

fn refusal_response(errors: &[(E, Vec<String>)]) -> Response {
    let mut list: Vec<WireError> = errors
        .iter()
        .map(|(c, args)| {
            WireError::from_catalogue(*c, &args.iter().map(String::as_str).collect::<Vec<_>>())
        })
        .collect();
    if errors.iter().any(|(c, _)| c.entry().has_companion()) {
        list.push(WireError::from_catalogue(E::ContactRetailer, &[]));
    }
    success(
        400,
        RetourCertif {
            list_err: Some(list),
            ..RetourCertif::default()
        },
    )
}
