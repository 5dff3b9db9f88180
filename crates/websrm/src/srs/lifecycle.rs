//! Enrolment (again after a certificate ended), replacement, deletion, recovery.

use super::*;

impl Srs {
    /// Obtains a certificate for an operator's SRS. If the device has no identifier yet, the
    /// user's answer to "do you already have one?" is required ([`Error::DeviceIdQuestion`]).
    pub async fn enrol(
        &self,
        request: &OperatorEnrolment,
        answer: Option<DeviceIdAnswer>,
    ) -> Result<CertificateView, Error> {
        let subject = request.subject()?;
        let device = self.device_for_request(answer)?;
        self.enrol_subject(subject, Some(device)).await
    }

    /// Obtains the certificate of a remote-server administrator (sector `FOB`, no device
    /// identifier sent).
    pub async fn enrol_server(
        &self,
        identification_number: IdentificationNumber,
        authorization_code: AuthorizationCode,
        nickname: Nickname,
        utc_offset: UtcOffset,
    ) -> Result<CertificateView, Error> {
        let subject = Subject::Server(ServerSubject::new(
            identification_number,
            authorization_code,
            nickname,
            utc_offset,
        ));
        self.enrol_subject(subject, None).await
    }

    /// Obtains a certificate for this device in the server mode (the test-case document's case
    /// 501): the remote server administrator's subject (sector `FOB`, no QST or file number),
    /// sent from the device with its identifier (`APPRLINIT` `SEV`), and kept under this
    /// installation. If the device has no identifier yet, the user's answer is required, as
    /// for [`Srs::enrol`].
    pub async fn enrol_in_server_mode(
        &self,
        identification_number: IdentificationNumber,
        authorization_code: AuthorizationCode,
        nickname: Nickname,
        utc_offset: UtcOffset,
        answer: Option<DeviceIdAnswer>,
    ) -> Result<CertificateView, Error> {
        let device = self.device_for_request(answer)?;
        let subject = ServerSubject::new(
            identification_number,
            authorization_code,
            nickname,
            utc_offset,
        );
        self.enrol_subject(Subject::Server(subject), Some(device))
            .await
    }

    pub(super) fn device_for_request(
        &self,
        answer: Option<DeviceIdAnswer>,
    ) -> Result<DeviceIdState, Error> {
        if let Some(id) = self.device_id()? {
            return Ok(DeviceIdState::Assigned(id));
        }
        match answer {
            None => Err(Error::DeviceIdQuestion),
            Some(DeviceIdAnswer::RequestNew) => Ok(DeviceIdState::Unassigned),
            Some(DeviceIdAnswer::IHaveOne(id)) => {
                self.enter_device_id(id)?;
                Ok(DeviceIdState::Assigned(id))
            }
        }
    }

    pub(super) async fn enrol_subject(
        &self,
        subject: Subject,
        device: Option<DeviceIdState>,
    ) -> Result<CertificateView, Error> {
        let mut slot = self.slot_key(subject.identification_number());
        // What the remote server requests (no device) is kept as the server's.
        if device.is_none() {
            slot.installation = SERVER_INSTALLATION.to_owned();
        }
        self.recover().await?;
        let current = self.store().slot(&slot)?;
        if let Some(current) = current {
            // A certificate in force is replaced, not enrolled again; one that has ended
            // (expired, revoked, refused by the authority) goes to the history with its key
            // discarded, and the slot takes a new certificate. The device identifier stays.
            let Some(ended) = self.ended(&current, self.now()) else {
                return Err(Error::AlreadyEnrolled(slot.to_string()));
            };
            self.store()
                .retire(&slot, current.material.serial, ended.state, self.now())?;
        }
        let key = PrivateKey::generate()?;
        let sealed = key.seal(&self.kek, &slot.to_string())?;
        let csr = Csr::build(&subject, &key)?;
        let pending = self.store().begin_enrolment(
            &slot,
            subject.nickname(),
            sealed.as_bytes(),
            csr.der(),
            self.now(),
        )?;
        let answer = self
            .client
            .send(
                &self.headers(device),
                &Modification::Add { csr: csr.to_wire() },
                None,
            )
            .await;
        let request = self.pending_request(pending, "enrol")?;
        self.finish(&request, answer, &key).await?;
        self.view(&slot)
    }

    /// Replaces the certificate named `nickname` with a new one for the same details (a new key;
    /// the current certificate's subject pre-fills the request). The user must confirm.
    pub async fn replace(
        &self,
        nickname: &Nickname,
        confirmation: Confirmation,
    ) -> Result<CertificateView, Error> {
        self.replace_with(nickname, &Changes::default(), confirmation)
            .await
    }

    /// Replaces the certificate named `nickname`, its details pre-filled from the current
    /// certificate and changed where `changes` says (a new authorization code after the old one
    /// was superseded, another nickname, another UTC offset). The user must confirm.
    pub async fn replace_with(
        &self,
        nickname: &Nickname,
        changes: &Changes,
        confirmation: Confirmation,
    ) -> Result<CertificateView, Error> {
        if confirmation != Confirmation::Confirmed {
            return Err(Error::NotConfirmed);
        }
        self.recover().await?;
        let slot = self.slot_by_nickname(nickname)?;
        self.refuse_if_ended(&slot)?;
        let info = inspect_certificate(&slot.material.certificate_der)?;
        let current = info.subject.ok_or_else(|| {
            Error::BadAnswer("the current certificate has no WEB-SRM subject".into())
        })?;
        let subject = changes.apply(&current)?;
        let key = PrivateKey::generate()?;
        let sealed = key.seal(&self.kek, &slot.key.to_string())?;
        let csr = Csr::build(&subject, &key)?;
        let pending = self.store().begin_replacement(
            &slot.key,
            subject.nickname(),
            sealed.as_bytes(),
            csr.der(),
            self.now(),
        )?;
        let request = self.pending_request(pending, "replace")?;
        let answer = self.send_pending(&request, &slot).await?;
        self.finish(&request, answer, &key).await?;
        self.view(&slot.key)
    }

    /// Deletes the certificate named `nickname` at the authority, then its key and certificate
    /// on the device. The user must confirm.
    pub async fn delete(
        &self,
        nickname: &Nickname,
        confirmation: Confirmation,
    ) -> Result<(), Error> {
        if confirmation != Confirmation::Confirmed {
            return Err(Error::NotConfirmed);
        }
        self.recover().await?;
        let slot = self.slot_by_nickname(nickname)?;
        self.refuse_if_ended(&slot)?;
        let pending = self.store().begin_deletion(&slot.key, self.now())?;
        let request = self.pending_request(pending, "delete")?;
        let answer = self.send_pending(&request, &slot).await?;
        let key = self.open_key(&slot.sealed_key, &slot.key)?;
        self.finish(&request, answer, &key).await
    }

    /// Removes from the device a certificate that has ended (expired, revoked, or refused by
    /// the authority), with its key, without asking the authority, which would refuse a
    /// deletion presented with it. The history keeps it with its final state; the device
    /// identifier stays. The user must confirm. A certificate still in force is deleted with
    /// [`Srs::delete`] instead.
    pub fn remove_ended(
        &self,
        nickname: &Nickname,
        confirmation: Confirmation,
    ) -> Result<(), Error> {
        if confirmation != Confirmation::Confirmed {
            return Err(Error::NotConfirmed);
        }
        let slot = self.slot_by_nickname(nickname)?;
        let Some(ended) = self.ended(&slot, self.now()) else {
            return Err(Error::InForce(nickname.to_string()));
        };
        Ok(self
            .store()
            .retire(&slot.key, slot.material.serial, ended.state, self.now())?)
    }

    /// How the slot's certificate ended at `at`, if it did.
    pub(super) fn ended(&self, slot: &Slot, at: OffsetDateTime) -> Option<Ended> {
        match slot.status {
            SlotStatus::Revoked => Some(Ended {
                state: EndState::Revoked,
                since: slot.updated_at,
            }),
            SlotStatus::Refused => Some(Ended {
                state: EndState::Refused,
                since: slot.updated_at,
            }),
            _ if at > slot.material.validity.not_after() => Some(Ended {
                state: EndState::Expired,
                since: slot.material.validity.not_after(),
            }),
            _ => None,
        }
    }

    /// [`Error::Unusable`] for a certificate that has ended: the authority would refuse a
    /// replacement or deletion presented with it, so say what to do instead.
    pub(super) fn refuse_if_ended(&self, slot: &Slot) -> Result<(), Error> {
        let now = self.now();
        match self.ended(slot, now) {
            None => Ok(()),
            Some(ended) => Err(Error::Unusable {
                nickname: slot.nickname.to_string(),
                health: self.view_of(slot.clone(), now).health,
                notice: ended_notice(slot.nickname.as_str(), ended),
            }),
        }
    }

    /// Finishes requests a crash or a lost answer left pending: each is sent again as it was
    /// (same key, same CSR), so the authority answers with what it already issued rather than
    /// a second certificate; refused ones are abandoned and their key discarded.
    pub async fn recover(&self) -> Result<RecoveryReport, Error> {
        let mut report = RecoveryReport::default();
        let pending = self.store().pending()?;
        for request in pending {
            let outcome = match &request.kind {
                PendingKind::Enrol { .. } => {
                    let key = self.open_key(
                        request.sealed_key.as_deref().unwrap_or_default(),
                        &request.slot,
                    )?;
                    let csr = Csr::from_der(request.csr_der.clone().unwrap_or_default()).to_wire();
                    let device = self
                        .device_id()?
                        .map_or(DeviceIdState::Unassigned, DeviceIdState::Assigned);
                    let device = (!is_server_slot(&request)).then_some(device);
                    let answer = self
                        .client
                        .send(&self.headers(device), &Modification::Add { csr }, None)
                        .await;
                    self.finish(&request, answer, &key).await
                }
                PendingKind::Replace { .. } | PendingKind::Delete { .. } => {
                    let Some(slot) = self.store().slot(&request.slot)? else {
                        self.store().abandon(
                            request.id,
                            "the certificate is no longer on the device",
                            self.now(),
                        )?;
                        report.abandoned += 1;
                        continue;
                    };
                    let answer = match self.send_pending(&request, &slot).await {
                        Ok(answer) => answer,
                        Err(e) => return Err(e),
                    };
                    let key = match &request.kind {
                        PendingKind::Replace { .. } => self.open_key(
                            request.sealed_key.as_deref().unwrap_or_default(),
                            &request.slot,
                        )?,
                        _ => self.open_key(&slot.sealed_key, &slot.key)?,
                    };
                    self.finish(&request, answer, &key).await
                }
                _ => Ok(()),
            };
            match outcome {
                Ok(()) => report.completed += 1,
                Err(Error::Communication { .. } | Error::Unreachable { .. }) => {
                    report.still_pending += 1
                }
                Err(Error::Refused {
                    retransmittable: true,
                    ..
                }) => report.still_pending += 1,
                Err(Error::Refused { .. } | Error::BadAnswer(_)) => report.abandoned += 1,
                Err(other) => return Err(other),
            }
        }
        Ok(report)
    }

    /// The request written down as `id` (a `kind` request) before it leaves the device.
    fn pending_request(
        &self,
        id: websrm_store::device::PendingId,
        kind: &'static str,
    ) -> Result<PendingRequest, Error> {
        let request = self.store().pending()?.into_iter().find(|p| p.id == id);
        Ok(request.ok_or(websrm_store::Error::PendingNotFound { id, kind })?)
    }

    /// Sends a pending REM or SUP, authenticating with the slot's current certificate. A key
    /// that cannot be opened is a local failure ([`Error::SealedKey`]): nothing is sent.
    pub(super) async fn send_pending(
        &self,
        request: &PendingRequest,
        slot: &Slot,
    ) -> Result<Result<CertificateAnswer, ClientError>, Error> {
        let current_key = self.open_key(&slot.sealed_key, &slot.key)?;
        let identity = ClientIdentity {
            chain: vec![slot.material.certificate_der.clone()],
            key: &current_key,
        };
        let device = self.device_id().ok().flatten().map(DeviceIdState::Assigned);
        let device = (!is_server_slot(request)).then_some(device).flatten();
        let modification = match &request.kind {
            PendingKind::Replace { serial, .. } => Modification::Replace {
                csr: Csr::from_der(request.csr_der.clone().unwrap_or_default()).to_wire(),
                serial: *serial,
            },
            PendingKind::Delete { serial } => Modification::Delete { serial: *serial },
            _ => {
                return Ok(Err(ClientError::Configuration {
                    cause: Source::text("not a request on a held certificate"),
                }));
            }
        };
        Ok(self
            .client
            .send(&self.headers(device), &modification, Some(identity))
            .await)
    }

    /// Applies an answer to a pending request: stores the certificate (checked against the key)
    /// with the device identifier, or records the refusal and abandons the request.
    pub(super) async fn finish(
        &self,
        request: &PendingRequest,
        answer: Result<CertificateAnswer, ClientError>,
        key: &PrivateKey,
    ) -> Result<(), Error> {
        #[cfg(feature = "test-util")]
        crate::crash_point("after-send");
        let now = self.now();
        let answer = match answer {
            Ok(answer) => answer,
            Err(ClientError::Refused {
                errors,
                next_test_case,
            }) => {
                // In a certification run, the step the authority sends the run back to.
                if let Some(next) = next_test_case {
                    self.set_test_case(next);
                }
                let retransmittable = retransmittable(&errors);
                {
                    let mut store = self.store();
                    for e in &errors {
                        store.record_authority_error(
                            Some(&request.slot),
                            e.id,
                            e.return_code,
                            &e.message,
                            now,
                        )?;
                    }
                    let refused = errors
                        .iter()
                        .any(|e| e.id == ErrorCode::CertificateRevoked.id());
                    if errors
                        .iter()
                        .any(|e| e.id == ErrorCode::DeviceIdUnknown.id())
                        && matches!(request.kind, PendingKind::Enrol { .. })
                    {
                        // An identifier the user entered that the authority does not know: let
                        // them enter it again, or ask for a new one.
                        store.forget_entered_device_id(now)?;
                    }
                    let deleting = matches!(request.kind, PendingKind::Delete { .. });
                    if refused && deleting {
                        // The certificate no longer authenticates: a deletion the authority
                        // refuses with 011E has nothing left to delete there (it was deleted,
                        // perhaps by this very request before its answer was lost, or revoked
                        // or replaced). The slot is emptied, and the history says so.
                        store.complete_deletion(request.id, now)?;
                        return Ok(());
                    }
                    if refused && store.slot(&request.slot)?.is_some() {
                        store.mark_refused(&request.slot, now)?;
                    }
                    if !retransmittable {
                        store.abandon(request.id, "refused by the authority", now)?;
                    }
                }
                return Err(Error::Refused {
                    errors,
                    retransmittable,
                });
            }
            Err(ClientError::NotSent { cause }) => {
                // Nothing reached the authority: the request and its unused key go.
                self.store()
                    .abandon(request.id, &format!("not sent: {cause}"), now)?;
                return Err(Error::Unreachable { cause });
            }
            Err(ClientError::Communication { cause }) => {
                return Err(Error::Communication { cause });
            }
            Err(other) => {
                return Err(Error::Unreachable {
                    cause: Source::new(other),
                });
            }
        };
        self.follow(&answer);
        if let PendingKind::Delete { .. } = request.kind {
            self.store().complete_deletion(request.id, now)?;
            return Ok(());
        }
        let IssuedCertificate { der, info, .. } = answer
            .certificate()
            .ok_or_else(|| Error::BadAnswer("no certificate".into()))??;
        if !info.matches_key(key) {
            self.store().abandon(
                request.id,
                "the certificate returned is not for this key",
                now,
            )?;
            return Err(Error::BadAnswer(
                "the certificate returned is not for the key of the request".into(),
            ));
        }
        let material = CertificateMaterial::new(
            der,
            answer.certif_psi_pem.clone().unwrap_or_default(),
            info.serial,
            info.thumbprint,
            info.validity,
        );
        let mut store = self.store();
        match request.kind {
            PendingKind::Replace { .. } => {
                store.complete_replacement(request.id, &material, now)?
            }
            _ => store.complete_enrolment(request.id, &material, answer.device_id, now)?,
        }
        Ok(())
    }

    pub(super) fn open_key(&self, sealed: &[u8], slot: &SlotKey) -> Result<PrivateKey, Error> {
        PrivateKey::open(
            &SealedKey::from_bytes(sealed.to_vec()),
            &self.kek,
            &slot.to_string(),
        )
        .map_err(|source| Error::SealedKey {
            slot: slot.to_string(),
            source,
        })
    }

    pub(super) fn slot_by_nickname(&self, nickname: &Nickname) -> Result<Slot, Error> {
        let slots = self.store().slots()?;
        slots
            .into_iter()
            .find(|s| &s.nickname == nickname && s.key.environment == self.config.environment)
            .ok_or_else(|| Error::NotFound(nickname.to_string()))
    }

    pub(super) fn view(&self, key: &SlotKey) -> Result<CertificateView, Error> {
        let slot = self
            .store()
            .slot(key)?
            .ok_or_else(|| Error::NotFound(key.to_string()))?;
        Ok(self.view_of(slot, self.now()))
    }

    pub(super) fn view_of(&self, slot: Slot, at: OffsetDateTime) -> CertificateView {
        let state = match slot.status {
            SlotStatus::Revoked => CertificateState::Revoked {
                reason: websrm_domain::RevocationReason::Unspecified,
                channel: websrm_domain::RevocationChannel::OnlineServices,
            },
            _ => CertificateState::Active,
        };
        let health = match slot.status {
            SlotStatus::Refused => Health::Refused,
            _ => Health::classify(state, &slot.material.validity, at, self.config.warning),
        };
        CertificateView {
            warning: warning(slot.nickname.as_str(), health),
            slot: slot.key,
            nickname: slot.nickname,
            serial: slot.material.serial,
            thumbprint: slot.material.thumbprint,
            validity: slot.material.validity,
            health,
        }
    }
}
