//! The checks of a request: headers, product, subject and authorization code, lockout.

use super::*;

impl Authority {
    pub(super) fn check_headers(&self, request: &Request) -> Result<CertificateHeaders, Refusal> {
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
                .issuance
                .expected
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if expected.get(&(headers.partner_id, headers.srs_id)) != Some(&tc) {
                return Err(Refusal::one(E::TestCaseOutOfOrder, &[&tc.to_string()]));
            }
        }
        Ok(headers)
    }

    pub(super) fn check_product(&self, h: &CertificateHeaders) -> Result<(), Refusal> {
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
    pub(super) fn check_product_ids(&self, h: &CertificateHeaders) -> Result<(), Refusal> {
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
    pub(super) fn check_subject(
        &self,
        subject: &Subject,
        now: OffsetDateTime,
    ) -> Result<Operator, Refusal> {
        let number = subject.identification_number();
        let operator = self
            .registry
            .operator_by_identification(number)
            .map_err(internal)?
            .ok_or_else(|| Refusal::one(E::IdentificationNumberUnknown, &[number.as_str()]))?;
        let state = self
            .registry
            .attempt_state(operator.id, Credential::AuthorizationCode)
            .map_err(internal)?;
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
            // Cleared only if no racing failure locked the operator out meanwhile; then the
            // right code is refused like any other (a lockout is never undone by a success).
            let cleared = self
                .registry
                .clear_attempts_unless_locked(
                    operator.id,
                    Credential::AuthorizationCode,
                    now,
                    Some(audit),
                )
                .map_err(internal)?;
            if !cleared {
                return Err(Refusal::one(
                    E::AuthorizationCodeNotOperators,
                    &[number.as_str()],
                ));
            }
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
        self.registry
            .count_failure(
                operator.id,
                Credential::AuthorizationCode,
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
