//! The checks of a request: headers, product, subject and authorization code, lockout.

use websrm_protocol::headers::HeaderProblem;

use super::*;
use websrm_protocol::request::Fault;

/// The services of the protocol, each at its URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Service {
    /// `/enrolement` and `/certificats`.
    Certificates,
    /// `/utilisateur`.
    Users,
    /// `/transaction`.
    Transactions,
    /// `/document`.
    Documents,
}

impl Service {
    /// The service a test case belongs to (SW-77 §2.2: the certificate cases 001, 500 and
    /// 501; the user cases 002, 502 and 570; the document cases 1xx and 6xx; the transaction
    /// cases the others).
    pub(crate) fn of_test_case(tc: TestCase) -> Self {
        match tc.case() {
            1 | 500 | 501 => Self::Certificates,
            2 | 502 | 570 => Self::Users,
            100..=199 | 600..=699 => Self::Documents,
            _ => Self::Transactions,
        }
    }
}

/// The error of a defective header (SW-73 table 21, SW-73.A), with the values of its message.
pub(crate) fn header_fault(p: &HeaderProblem, environment: Environment) -> Fault {
    let conformity = environment.is_conformity();
    let value = match &p.kind {
        HeaderProblemKind::Invalid(v) => v.clone(),
        _ => String::new(),
    };
    let missing = value.is_empty();
    let code = match (&p.kind, p.header) {
        (HeaderProblemKind::Repeated, _) => E::HeaderRepeated,
        (HeaderProblemKind::NotApplicable, _) => E::HeaderNotApplicable,
        (HeaderProblemKind::Forbidden, _) => E::DeviceIdForbiddenForServer,
        (_, "ENVIRN") if conformity => E::EnvironmentNotConformity,
        (_, "ENVIRN") => E::EnvironmentNotProduction,
        (_, "CASESSAI") => E::TestCaseInvalid,
        (_, "APPRLINIT") => E::InitiatingDeviceInvalid,
        (_, "IDAPPRL") if missing => E::DeviceIdMissing,
        (_, "IDAPPRL") => E::DeviceIdUnknown,
        (_, "IDSEV") => E::SrsIdUnknown,
        (_, "IDVERSI") => E::VersionIdInvalid,
        (_, "CODCERTIF") if conformity => E::CertificationCodeConformity,
        (_, "CODCERTIF") => E::CertificationCodeProd,
        (_, "IDPARTN") => E::PartnerIdUnknown,
        (_, "VERSI") => E::VersionHeaderInvalid,
        (_, "VERSIPARN") => E::ParentVersionHeaderInvalid,
        (_, "NOTPS") => E::GstHeaderUnknown,
        (_, "NOTVQ") => E::QstHeaderUnknown,
        (_, "SIGNATRANSM") if missing => E::TransmissionSignatureMissing,
        (_, "SIGNATRANSM") => E::TransmissionSignatureInvalid,
        (_, "EMPRCERTIFTRANSM") if missing => E::TransmissionSignatureMissing,
        (_, "EMPRCERTIFTRANSM") => E::TransmissionThumbprintLength,
        _ => E::VersionHeadersMismatch,
    };
    let arg = match p.kind {
        HeaderProblemKind::Repeated | HeaderProblemKind::NotApplicable => p.header.to_owned(),
        _ => value,
    };
    (code, vec![arg, environment.to_string()])
}

impl IssuanceService<'_> {
    pub(super) fn check_headers(&self, request: &Request) -> Result<CertificateHeaders, Refusal> {
        let pairs: Vec<(&str, &str)> = request
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        let headers = CertificateHeaders::from_pairs(pairs.iter().copied())
            .map_err(|problems| Refusal(self.context.header_faults(&pairs, &problems)))?;
        self.context
            .check_context(
                headers.environment,
                headers.test_case,
                Service::Certificates,
            )
            .map_err(|f| Refusal(vec![f]))?;
        Ok(headers)
    }

    /// The subject against the registry: the CN is known and not locked out, the authorization
    /// code is theirs, active and current, the QST and file numbers are theirs.
    pub(super) fn check_subject(
        &self,
        subject: &Subject,
        now: OffsetDateTime,
    ) -> Result<Operator, Stopped> {
        let number = subject.identification_number();
        let operator = self
            .core
            .registry
            .operator_by_identification(number)
            .map_err(internal)?
            .ok_or_else(|| Refusal::one(E::IdentificationNumberUnknown, &[number.as_str()]))?;
        // A disabled operator's codes no longer belong to it.
        if operator.disabled_at.is_some() {
            return Err(Refusal::one(E::AuthorizationCodeNotOperators, &[number.as_str()]).into());
        }
        let state = self
            .core
            .registry
            .attempt_state(operator.id, Credential::AuthorizationCode)
            .map_err(internal)?;
        if state.locked_until.is_some_and(|until| until > now) {
            return Err(Refusal::one(E::AuthorizationCodeNotOperators, &[number.as_str()]).into());
        }
        let code = self
            .core
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
            self.may_wait()?;
            self.count_failure(&operator, now)?;
            return Err(Refusal::one(refusal, &[number.as_str()]).into());
        }
        if state.failures > 0 {
            self.may_wait()?;
            let audit = NewAudit::new(
                now,
                "enrolment",
                "unlock",
                number.to_string(),
                "valid authorization code",
            );
            // Cleared only if no racing failure locked the operator out meanwhile; then the
            // right code is refused like any other (a lockout is never undone by a success).
            let cleared = self
                .core
                .registry
                .clear_attempts_unless_locked(
                    operator.id,
                    Credential::AuthorizationCode,
                    now,
                    Some(audit),
                )
                .map_err(internal)?;
            if !cleared {
                return Err(
                    Refusal::one(E::AuthorizationCodeNotOperators, &[number.as_str()]).into(),
                );
            }
        }
        if let Subject::Srs(srs) = subject {
            if operator.qst_number.as_ref() != Some(srs.qst_number()) {
                return Err(Refusal::one(E::QstNumberNotOperators, &[]).into());
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
                    )
                    .into());
                }
                Some((_, sector)) if *sector != srs.sector() => {
                    return Err(Refusal::one(
                        E::FileNumberNotCodeSector,
                        &[srs.file_number().as_str()],
                    )
                    .into());
                }
                Some(_) => {}
            }
        }
        Ok(operator)
    }

    /// Counts a failure: one write in the registry, so that racing failures are all counted.
    pub(super) fn count_failure(
        &self,
        operator: &Operator,
        now: OffsetDateTime,
    ) -> Result<(), Refusal> {
        let audit = NewAudit::new(
            now,
            "enrolment",
            "lockout",
            operator.identification_number.to_string(),
            "",
        );
        self.core
            .registry
            .count_failure(
                operator.id,
                Credential::AuthorizationCode,
                now,
                {
                    let policy = self.core.lockout();
                    (policy.max_failures, policy.window, policy.lockout)
                },
                audit,
            )
            .map(drop)
            .map_err(internal)
    }
}
