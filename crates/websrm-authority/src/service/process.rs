//! Validation in the protocol's order, then issuance, replacement or deletion, and repeated requests.

use super::*;
use answers::{findings_refusal, registry_refusal, subject_text, success};
use websrm_protocol::request::{CertificateRequest, CertificateService};
use websrm_protocol::wire::Modification;

impl IssuanceService<'_> {
    pub(super) fn process(
        &self,
        request: &Request,
        now: OffsetDateTime,
        actor: &'static str,
    ) -> Result<Answer, Stopped> {
        // 1. The body: JSON, one reqCertif, its fields, and the routing rules of the URL.
        let service = match request.endpoint {
            Endpoint::Enrolment => CertificateService::Enrolment,
            _ => CertificateService::Certificates,
        };
        let body =
            CertificateRequest::read(&request.body, service).map_err(|f| Refusal(vec![f]))?;
        let (csr, serial) = match &body.modification {
            Modification::Add { csr } => (Some(csr.as_str()), None),
            Modification::Replace { csr, serial } => (Some(csr.as_str()), Some(*serial)),
            Modification::Delete { serial } => (None, Some(*serial)),
        };
        let replacing = matches!(body.modification, Modification::Replace { .. });

        // 2. The headers.
        let headers = self.check_headers(request)?;
        if request.endpoint == Endpoint::Certificates
            && headers.device == Some(DeviceIdState::Unassigned)
        {
            return Err(Refusal::one(E::DeviceIdUnknown, &["0000-0000-0000"]).into());
        }
        if let Some(DeviceIdState::Assigned(id)) = headers.device
            && self.core.registry.device(id).map_err(internal)?.is_none()
        {
            return Err(Refusal::one(E::DeviceIdUnknown, &[&id.to_string()]).into());
        }

        // 3. The product.
        self.context.check_product(&headers)?;

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
                    .core
                    .registry
                    .certificate_by_thumbprint(info.thumbprint)
                    .map_err(internal)?;
                let record = record.ok_or_else(|| {
                    Refusal::one(E::CertificateRevoked, &[&info.serial.to_string()])
                })?;
                if record.serial != serial {
                    return Err(Refusal::one(E::SerialInvalid, &[&serial.to_string()]).into());
                }
                match (record.state, replacing) {
                    (CertificateState::Active, _) => Some(record),
                    (CertificateState::Replaced, true) if record.replaced_by.is_some() => {
                        retransmitted_replacement = record.replaced_by;
                        Some(record)
                    }
                    _ => {
                        return Err(Refusal::one(
                            E::CertificateRevoked,
                            &[&record.serial.to_string()],
                        )
                        .into());
                    }
                }
            }
            _ => None,
        };

        if let Modification::Delete { .. } = body.modification {
            let Some(current) = current else {
                return Err(Refusal::one(E::SerialMissing, &[]).into());
            };
            let audit = NewAudit::new(now, actor, "delete", current.serial.to_string(), "SUP");
            let retour = RetourCertif {
                json_versi: Some(JSON_VERSION.into()),
                cas_essai: self.next_case(&headers),
                certif: Some("SUP".into()),
                ..RetourCertif::default()
            };
            let pending =
                self.core
                    .registry
                    .record_deletion_later(current.serial, now, actor, audit);
            return Ok(recording(pending, move |deleted| match deleted {
                Ok(()) => After::Answer(success(200, retour)),
                Err(e) => After::Refused(internal(e)),
            }));
        }

        // 5. The CSR and its subject against the registry.
        let csr_text = csr.unwrap_or_default();
        let validated = validate_csr(csr_text).map_err(findings_refusal)?;
        let operator = self.check_subject(&validated.subject, now)?;
        let nickname = validated.subject.nickname().clone();
        if let Some(answer) =
            self.retransmission(&validated, &operator, &headers, retransmitted_replacement)?
        {
            return Ok(Answer::Ready(answer));
        }
        if retransmitted_replacement.is_some() {
            // The certificate was replaced by another request than this one.
            return Err(Refusal::one(
                E::CertificateRevoked,
                &[&serial.map(|s| s.to_string()).unwrap_or_default()],
            )
            .into());
        }
        if headers.environment == Environment::Prod
            && self
                .core
                .registry
                .nickname_in_force(operator.id, headers.environment, &nickname, now)
                .map_err(internal)?
            && current.as_ref().is_none_or(|c| c.nickname != nickname)
        {
            return Err(Refusal::one(E::NicknameInUse, &[nickname.as_str()]).into());
        }

        // 6. Issue, and record before answering.
        let links = self.publisher.links(self.issuance.generation());
        let issued = self
            .issuance
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
        // Recorded before answered: the answer follows the record's commit. A record that lost
        // a race with another copy of this request (its key or certificate taken meanwhile), or
        // with a lockout, is answered again from the start, and finds what the other recorded.
        let number = operator.identification_number.to_string();
        let lost = move |e: websrm_registry::Error| match e {
            websrm_registry::Error::CertificateNotActive(_)
            | websrm_registry::Error::KeyInUse(_) => After::Again,
            websrm_registry::Error::LockedOut { .. } => {
                After::Refused(Refusal::one(E::AuthorizationCodeNotOperators, &[&number]))
            }
            e => After::Refused(registry_refusal(e)),
        };
        let mut retour = RetourCertif {
            json_versi: Some(JSON_VERSION.into()),
            cas_essai: self.next_case(&headers),
            id_apprl: None,
            certif_psi: Some(self.issuance.certif_psi_pem.clone()),
            certif: Some(issued.to_pem()),
            list_err: None,
        };
        Ok(match &current {
            Some(c) => {
                let audit = NewAudit::new(
                    now,
                    actor,
                    "replace",
                    issued.serial.to_string(),
                    format!("replaces {}", c.serial),
                );
                let pending = self
                    .core
                    .registry
                    .record_replacement_later(c.serial, &record, now, audit);
                recording(pending, move |replaced| match replaced {
                    Ok(()) => After::Answer(success(201, retour)),
                    Err(e) => lost(e),
                })
            }
            None => {
                let audit = NewAudit::new(
                    now,
                    actor,
                    "issue",
                    issued.serial.to_string(),
                    operator.identification_number.to_string(),
                );
                let pending = self
                    .core
                    .registry
                    .record_issued_later(&record, new_device, now, audit);
                recording(pending, move |issued| match issued {
                    Ok(assigned) => {
                        retour.id_apprl = assigned.map(|d| d.to_string());
                        After::Answer(success(201, retour))
                    }
                    Err(e) => lost(e),
                })
            }
        })
    }

    /// The device of the certificate presented in the handshake, if one was and it is in force: a
    /// host asking for its terminal's identifier.
    pub(super) fn presenting_device(&self, request: &Request) -> Option<websrm_domain::DeviceId> {
        let info = inspect_certificate(request.client_certificate.as_deref()?).ok()?;
        let record = self
            .core
            .registry
            .certificate_by_thumbprint(info.thumbprint)
            .ok()??;
        (record.state == CertificateState::Active)
            .then_some(record.device)
            .flatten()
    }

    /// `casEssai` of an answer outside an ESSAI run: the same case's next step (DEV).
    pub(super) fn next_case(&self, headers: &CertificateHeaders) -> Option<String> {
        next_test_case(headers.test_case)
    }

    /// The answer to a request repeated after its answer was lost: the certificate already issued
    /// for the same key (AJO), or the replacement already made with it (REM).
    pub(super) fn retransmission(
        &self,
        csr: &ValidatedCsr,
        operator: &Operator,
        headers: &CertificateHeaders,
        replaced_by: Option<SerialNumber>,
    ) -> Result<Option<Response>, Stopped> {
        let key_id = csr.public_key.key_identifier();
        let existing = match replaced_by {
            Some(serial) => self
                .core
                .registry
                .certificate_by_serial(serial)
                .map_err(internal)?,
            None => self
                .core
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
        // Handed out again: audited like its first issuance, before it is answered.
        self.may_wait()?;
        self.core
            .registry
            .append_audit(NewAudit::new(
                self.core.now(),
                if replaced_by.is_some() {
                    "api"
                } else {
                    "enrolment"
                },
                "retransmit",
                existing.serial.to_string(),
                if replaced_by.is_some() {
                    "a repeated replacement request: the certificate it made, again"
                } else {
                    "a repeated request: the certificate issued for its key, again"
                },
            ))
            .map_err(internal)?;
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
            certif_psi: Some(self.issuance.certif_psi_pem.clone()),
            certif: Some(websrm_crypto::pem::encode("CERTIFICATE", &existing.der)),
            list_err: None,
        };
        Ok(Some(success(201, retour)))
    }
}
