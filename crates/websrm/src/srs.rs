//! The SRS: enrolment, replacement, deletion, recovery, status, billing guard and signatures.

use std::sync::Mutex;

use time::OffsetDateTime;
use websrm_crypto::tls::ClientIdentity;
use websrm_crypto::{
    Csr, KeyEncryptionKey, PrivateKey, SealedKey, Signature, TransactionSignatureInput,
    inspect_certificate, pem, signatransm_input,
};
use websrm_domain::{
    AuthorizationCode, CertificateState, DeviceId, DeviceIdState, FileNumber, Health,
    IdentificationNumber, InitiatingDevice, Nickname, QstNumber, Sector, SerialNumber,
    ServerSubject, SrsSubject, SrsSubjectFields, Subject, TestCase, Thumbprint, UtcOffset,
    Validity,
};
use websrm_protocol::catalogue::ErrorCode;
use websrm_protocol::client::{CertificateClient, ClientError};
use websrm_protocol::headers::CertificateHeaders;
use websrm_protocol::wire::{CertificateAnswer, Modification};
use websrm_store::device::{
    CertificateMaterial, EndState, PendingKind, PendingRequest, Slot, SlotKey, SlotStatus,
};
use websrm_store::{DeviceStore, FileKeyProtector, KeyProtector};

use crate::notices::{BillingGuard, INVALID_CERTIFICATE_MENTIONS, Notice, warning};
use crate::{Config, Error};

/// The answer to "do you already have an identifier for this device?", asked before a first
/// request when the device has none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DeviceIdAnswer {
    /// Yes: this is it (it is recorded first, and used).
    IHaveOne(DeviceId),
    /// No: the authority assigns one with the certificate.
    RequestNew,
}

/// What an operator enters to obtain a certificate for an SRS.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct OperatorEnrolment {
    /// The identification number (CN).
    pub identification_number: IdentificationNumber,
    /// The authorization code.
    pub authorization_code: AuthorizationCode,
    /// The sector (RBC or TRP).
    pub sector: Sector,
    /// The QST number.
    pub qst_number: QstNumber,
    /// The mandatory-billing file number.
    pub file_number: FileNumber,
    /// The certificate's nickname, to find it later in the online services.
    pub nickname: Nickname,
    /// `-05:00`, or `-04:00` in the Îles-de-la-Madeleine.
    pub utc_offset: UtcOffset,
}

impl OperatorEnrolment {
    /// The values an operator enters, already parsed.
    pub fn new(
        identification_number: IdentificationNumber,
        authorization_code: AuthorizationCode,
        sector: Sector,
        qst_number: QstNumber,
        file_number: FileNumber,
        nickname: Nickname,
        utc_offset: UtcOffset,
    ) -> Self {
        Self {
            identification_number,
            authorization_code,
            sector,
            qst_number,
            file_number,
            nickname,
            utc_offset,
        }
    }

    /// The values an operator enters, read from text.
    pub fn parse(
        identification_number: &str,
        authorization_code: &str,
        sector: &str,
        qst_number: &str,
        file_number: &str,
        nickname: &str,
        utc_offset: &str,
    ) -> Result<Self, Error> {
        Ok(Self {
            identification_number: identification_number.parse()?,
            authorization_code: authorization_code.parse()?,
            sector: sector.parse()?,
            qst_number: qst_number.parse()?,
            file_number: file_number.parse()?,
            nickname: nickname.parse()?,
            utc_offset: utc_offset.parse()?,
        })
    }

    fn subject(&self) -> Result<Subject, Error> {
        SrsSubject::new(SrsSubjectFields {
            identification_number: self.identification_number.clone(),
            sector: self.sector,
            authorization_code: self.authorization_code.clone(),
            nickname: self.nickname.clone(),
            qst_number: self.qst_number.clone(),
            file_number: self.file_number.clone(),
            utc_offset: self.utc_offset,
        })
        .map(Subject::Srs)
        .map_err(Error::Subject)
    }
}

/// A certificate of this device, with its health at a moment.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CertificateView {
    /// The slot: environment, operator and installation.
    pub slot: SlotKey,
    /// The nickname.
    pub nickname: Nickname,
    /// The serial number (`noSerie`).
    pub serial: SerialNumber,
    /// The thumbprint.
    pub thumbprint: Thumbprint,
    /// The validity.
    pub validity: Validity,
    /// The health at the moment asked for.
    pub health: Health,
    /// What to show the user, if anything.
    pub warning: Option<Notice>,
}

/// What a replacement changes in the current certificate's details; everything else is kept.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Changes {
    /// A new authorization code (the operator received one that superseded the old).
    pub authorization_code: Option<AuthorizationCode>,
    /// A new nickname.
    pub nickname: Option<Nickname>,
    /// A new UTC offset.
    pub utc_offset: Option<UtcOffset>,
}

impl Changes {
    /// No change.
    pub fn none() -> Self {
        Self::default()
    }

    /// A new authorization code.
    pub fn authorization_code(mut self, code: AuthorizationCode) -> Self {
        self.authorization_code = Some(code);
        self
    }

    /// A new nickname.
    pub fn nickname(mut self, nickname: Nickname) -> Self {
        self.nickname = Some(nickname);
        self
    }

    fn apply(&self, current: &Subject) -> Result<Subject, Error> {
        let code = self
            .authorization_code
            .clone()
            .unwrap_or_else(|| current.authorization_code().clone());
        let nickname = self
            .nickname
            .clone()
            .unwrap_or_else(|| current.nickname().clone());
        let offset = self.utc_offset.unwrap_or_else(|| current.utc_offset());
        match current {
            Subject::Srs(srs) => SrsSubject::new(SrsSubjectFields {
                identification_number: srs.identification_number().clone(),
                sector: srs.sector(),
                authorization_code: code,
                nickname,
                qst_number: srs.qst_number().clone(),
                file_number: srs.file_number().clone(),
                utc_offset: offset,
            })
            .map(Subject::Srs)
            .map_err(Error::Subject),
            Subject::Server(server) => Ok(Subject::Server(ServerSubject::new(
                server.identification_number().clone(),
                code,
                nickname,
                offset,
            ))),
        }
    }
}

/// The user's confirmation of a replacement or deletion, which the protocol requires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Confirmation {
    /// The user confirmed.
    Confirmed,
    /// The user has not confirmed.
    NotConfirmed,
}

/// What a recovery did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RecoveryReport {
    /// Requests completed with the authority's answer.
    pub completed: usize,
    /// Requests the authority refused; abandoned, their key discarded.
    pub abandoned: usize,
    /// Requests still pending (the authority is unreachable).
    pub still_pending: usize,
}

/// What a revocation check found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RevocationCheck {
    /// Nicknames of the certificates newly found revoked (now marked so on the device).
    pub newly_revoked: Vec<String>,
    /// The CRLs consulted (their URLs).
    pub consulted: Vec<String>,
    /// Nicknames of certificates for which no CRL is known: no CRL distribution point in the
    /// certificate and none configured. Their revocation is learned only from the authority's
    /// answers (`JW00B999011E`).
    pub without_crl: Vec<String>,
}

/// An SRS's certificate side: one per process, for one store file.
pub struct Srs {
    config: Config,
    store: Mutex<DeviceStore>,
    kek: KeyEncryptionKey,
    client: CertificateClient,
    /// Verified CRLs by URL, until their next update.
    crls: Mutex<std::collections::HashMap<String, websrm_crypto::CrlInfo>>,
    /// Issuer certificates fetched from the caIssuers address, by URL.
    issuers: Mutex<std::collections::HashMap<String, Vec<u8>>>,
    /// The `CASESSAI` sent with the next request; the authority's `casEssai` moves it on.
    test_case: Mutex<TestCase>,
}

/// How a certificate on the device ended, if it did.
#[derive(Debug, Clone, Copy)]
struct Ended {
    state: EndState,
    since: OffsetDateTime,
}

impl std::fmt::Debug for Srs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Srs")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Srs {
    /// Opens the SRS's store (creating it on first use) and prepares the client.
    pub fn open(config: Config) -> Result<Self, Error> {
        let store = DeviceStore::open(&config.store)?;
        let protector: Box<dyn KeyProtector> = match &config.protector {
            Some(p) => Box::new(ProtectorRef(p.clone())),
            None => {
                let file = FileKeyProtector::beside(&config.store);
                // A missing key file would be replaced by a new key that opens nothing: refuse.
                if !file.path().exists()
                    && (!store.slots()?.is_empty() || !store.pending()?.is_empty())
                {
                    return Err(Error::KeyMissing(file.path().display().to_string()));
                }
                Box::new(file)
            }
        };
        let kek = KeyEncryptionKey::from_bytes(*protector.key_encryption_key()?);
        let (endpoints, trust) = config.endpoints_and_trust()?;
        let client = CertificateClient::new(endpoints, trust, config.environment);
        let test_case = Mutex::new(config.test_case);
        Ok(Self {
            config,
            store: Mutex::new(store),
            kek,
            client,
            crls: Mutex::default(),
            issuers: Mutex::default(),
            test_case,
        })
    }

    /// The `CASESSAI` the next request carries: the configured one
    /// ([`Config::with_test_case`]) at first, then the `casEssai` of each answer, so that the
    /// steps of a certification case follow one another as the authority directs.
    pub fn test_case(&self) -> TestCase {
        *lock(&self.test_case)
    }

    /// Sends `CASESSAI` = `test_case` with the next request (to start a case again at its
    /// first step, or to run a chosen step).
    pub fn set_test_case(&self, test_case: TestCase) {
        *lock(&self.test_case) = test_case;
    }

    /// Moves to the step the authority named in its answer, if any.
    fn follow(&self, answer: &CertificateAnswer) {
        if let Some(next) = answer.next_test_case {
            self.set_test_case(next);
        }
    }

    fn store(&self) -> std::sync::MutexGuard<'_, DeviceStore> {
        // Every store change is one transaction, so a panic elsewhere cannot leave it half done.
        self.store
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn now(&self) -> OffsetDateTime {
        self.config.clock.now()
    }

    /// The device identifier, to show in the SRS and give to authorized staff who ask for it.
    pub fn device_id(&self) -> Result<Option<DeviceId>, Error> {
        Ok(self.store().device_id()?)
    }

    /// Records the identifier the user already has for this device (before a first request).
    pub fn enter_device_id(&self, id: DeviceId) -> Result<(), Error> {
        Ok(self.store().enter_device_id(id, self.now())?)
    }

    fn slot_key(&self, operator: &IdentificationNumber) -> SlotKey {
        SlotKey {
            environment: self.config.environment,
            operator: operator.clone(),
            installation: self.config.installation.clone(),
        }
    }

    fn headers(&self, device: Option<DeviceIdState>) -> CertificateHeaders {
        let initiating = if device.is_some() {
            InitiatingDevice::Srs
        } else {
            InitiatingDevice::Server
        };
        CertificateHeaders::new(
            self.config.environment,
            self.test_case(),
            initiating,
            device,
            &self.config.product,
        )
    }

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

    fn device_for_request(&self, answer: Option<DeviceIdAnswer>) -> Result<DeviceIdState, Error> {
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

    async fn enrol_subject(
        &self,
        subject: Subject,
        device: Option<DeviceIdState>,
    ) -> Result<CertificateView, Error> {
        let mut slot = self.slot_key(subject.identification_number());
        if let Subject::Server(_) = subject {
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
        let request = self
            .store()
            .pending()?
            .into_iter()
            .find(|p| p.id == pending);
        let request = request.ok_or(websrm_store::Error::PendingNotFound {
            id: pending,
            kind: "enrol",
        })?;
        self.finish(&request, answer, &key).await?;
        self.view(&slot)
    }

    /// Replaces the certificate named `nickname` with a new one for the same details (a new key;
    /// the current certificate's subject pre-fills the request). The user must confirm.
    pub async fn replace(
        &self,
        nickname: &str,
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
        nickname: &str,
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
        let request = self
            .store()
            .pending()?
            .into_iter()
            .find(|p| p.id == pending);
        let request = request.ok_or(websrm_store::Error::PendingNotFound {
            id: pending,
            kind: "replace",
        })?;
        let answer = self.send_pending(&request, &slot).await?;
        self.finish(&request, answer, &key).await?;
        self.view(&slot.key)
    }

    /// Deletes the certificate named `nickname` at the authority, then its key and certificate
    /// on the device. The user must confirm.
    pub async fn delete(&self, nickname: &str, confirmation: Confirmation) -> Result<(), Error> {
        if confirmation != Confirmation::Confirmed {
            return Err(Error::NotConfirmed);
        }
        self.recover().await?;
        let slot = self.slot_by_nickname(nickname)?;
        self.refuse_if_ended(&slot)?;
        let pending = self.store().begin_deletion(&slot.key, self.now())?;
        let request = self
            .store()
            .pending()?
            .into_iter()
            .find(|p| p.id == pending);
        let request = request.ok_or(websrm_store::Error::PendingNotFound {
            id: pending,
            kind: "delete",
        })?;
        let answer = self.send_pending(&request, &slot).await?;
        let key = self.open_key(&slot.sealed_key, &slot.key)?;
        self.finish(&request, answer, &key).await
    }

    /// Removes from the device a certificate that has ended (expired, revoked, or refused by
    /// the authority), with its key, without asking the authority, which would refuse a
    /// deletion presented with it. The history keeps it with its final state; the device
    /// identifier stays. The user must confirm. A certificate still in force is deleted with
    /// [`Srs::delete`] instead.
    pub fn remove_ended(&self, nickname: &str, confirmation: Confirmation) -> Result<(), Error> {
        if confirmation != Confirmation::Confirmed {
            return Err(Error::NotConfirmed);
        }
        let slot = self.slot_by_nickname(nickname)?;
        let Some(ended) = self.ended(&slot, self.now()) else {
            return Err(Error::InForce(nickname.to_owned()));
        };
        Ok(self
            .store()
            .retire(&slot.key, slot.material.serial, ended.state, self.now())?)
    }

    /// How the slot's certificate ended at `at`, if it did.
    fn ended(&self, slot: &Slot, at: OffsetDateTime) -> Option<Ended> {
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
    fn refuse_if_ended(&self, slot: &Slot) -> Result<(), Error> {
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

    /// Sends a pending REM or SUP, authenticating with the slot's current certificate. A key
    /// that cannot be opened is a local failure ([`Error::SealedKey`]): nothing is sent.
    async fn send_pending(
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
                    reason: "not a request on a held certificate".into(),
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
    async fn finish(
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
            Err(ClientError::Refused(errors)) => {
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
            Err(ClientError::NotSent { reason }) => {
                // Nothing reached the authority: the request and its unused key go.
                self.store()
                    .abandon(request.id, &format!("not sent: {reason}"), now)?;
                return Err(Error::Unreachable { reason });
            }
            Err(ClientError::Communication { reason }) => {
                return Err(Error::Communication { reason });
            }
            Err(other) => {
                return Err(Error::Unreachable {
                    reason: other.to_string(),
                });
            }
        };
        self.follow(&answer);
        if let PendingKind::Delete { .. } = request.kind {
            self.store().complete_deletion(request.id, now)?;
            return Ok(());
        }
        let pem_text = answer
            .certificate_pem
            .as_deref()
            .ok_or_else(|| Error::BadAnswer("no certificate".into()))?;
        let der = pem::decode("CERTIFICATE", pem_text)?;
        let info = inspect_certificate(&der)?;
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

    fn open_key(&self, sealed: &[u8], slot: &SlotKey) -> Result<PrivateKey, Error> {
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

    fn slot_by_nickname(&self, nickname: &str) -> Result<Slot, Error> {
        let slots = self.store().slots()?;
        slots
            .into_iter()
            .find(|s| {
                s.nickname.as_str() == nickname && s.key.environment == self.config.environment
            })
            .ok_or_else(|| Error::NotFound(nickname.to_owned()))
    }

    fn view(&self, key: &SlotKey) -> Result<CertificateView, Error> {
        let slot = self
            .store()
            .slot(key)?
            .ok_or_else(|| Error::NotFound(key.to_string()))?;
        Ok(self.view_of(slot, self.now()))
    }

    fn view_of(&self, slot: Slot, at: OffsetDateTime) -> CertificateView {
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

    /// Checks this device's certificates against their authority's CRL, so that a revocation
    /// is known before the next bill rather than at the next request: every certificate the CRL
    /// lists is marked revoked (and recorded in the history), and the billing guard then
    /// refuses bills.
    ///
    /// The CRL is the one configured ([`Config::with_crl`]), or else the one named in each
    /// certificate (CRL distribution points), verified with the issuer named there (authority
    /// information access), which is accepted only if it signed the certificate. A CRL is
    /// fetched again once its next update has passed. Certificates with no CRL known are
    /// listed in [`RevocationCheck::without_crl`].
    pub async fn refresh_revocations(&self) -> Result<RevocationCheck, Error> {
        let now = self.now();
        let mut check = RevocationCheck::default();
        let slots = self.store().slots()?;
        for slot in slots {
            let Some((url, ca)) = self.crl_source(&slot).await? else {
                check.without_crl.push(slot.nickname.to_string());
                continue;
            };
            let info = self.crl_at(&url, &ca, now).await?;
            if !check.consulted.contains(&url) {
                check.consulted.push(url);
            }
            let listed = info
                .revoked
                .iter()
                .any(|(serial, _)| *serial == slot.material.serial);
            if listed && slot.status != SlotStatus::Revoked {
                self.store().mark_revoked(&slot.key, now)?;
                check.newly_revoked.push(slot.nickname.to_string());
            }
        }
        Ok(check)
    }

    /// Where the CRL of `slot`'s certificate is, and the certificate to verify it with.
    async fn crl_source(&self, slot: &Slot) -> Result<Option<(String, Vec<u8>)>, Error> {
        if let Some((url, ca_pem)) = &self.config.crl {
            return Ok(Some((url.clone(), pem::decode("CERTIFICATE", ca_pem)?)));
        }
        let info = inspect_certificate(&slot.material.certificate_der)?;
        let (Some(url), Some(issuer_url)) = (info.crl_urls.first(), info.ca_issuers.first()) else {
            return Ok(None);
        };
        let cached = lock(&self.issuers).get(issuer_url).cloned();
        let issuer = match cached {
            Some(der) => der,
            None => {
                let body = self.fetch(issuer_url).await?;
                let der = if body.starts_with(b"-----BEGIN") {
                    pem::decode("CERTIFICATE", &String::from_utf8_lossy(&body))?
                } else {
                    body
                };
                lock(&self.issuers).insert(issuer_url.clone(), der.clone());
                der
            }
        };
        // Whatever the transport, the issuer is the one whose key signed this certificate.
        if websrm_crypto::verify_issued_by(&slot.material.certificate_der, &issuer).is_err() {
            return Err(Error::BadAnswer(format!(
                "the certificate at {issuer_url} did not issue the certificate {}",
                slot.nickname
            )));
        }
        Ok(Some((url.clone(), issuer)))
    }

    /// The CRL at `url`, verified with `ca`: the cached one until its next update.
    async fn crl_at(
        &self,
        url: &str,
        ca: &[u8],
        now: OffsetDateTime,
    ) -> Result<websrm_crypto::CrlInfo, Error> {
        let cached = lock(&self.crls).get(url).cloned();
        if let Some(info) = cached
            && info.next_update.is_some_and(|next| now < next)
        {
            return Ok(info);
        }
        let der = self.fetch(url).await?;
        let info = websrm_crypto::verify_crl(&der, ca)?;
        lock(&self.crls).insert(url.to_owned(), info.clone());
        Ok(info)
    }

    async fn fetch(&self, url: &str) -> Result<Vec<u8>, Error> {
        self.client
            .fetch(url)
            .await
            .map_err(|e| Error::Communication {
                reason: e.to_string(),
            })
    }

    /// Every certificate of this device, with its health at `at`.
    pub fn certificates(&self, at: OffsetDateTime) -> Result<Vec<CertificateView>, Error> {
        let slots = self.store().slots()?;
        Ok(slots.into_iter().map(|s| self.view_of(s, at)).collect())
    }

    /// Whether this SRS may produce bills for `operator` at `at`.
    pub fn billing_guard(
        &self,
        operator: &IdentificationNumber,
        at: OffsetDateTime,
    ) -> Result<BillingGuard, Error> {
        let slot = self.store().slot(&self.slot_key(operator))?;
        let blocked = |reason: Notice| BillingGuard::Blocked {
            reason,
            mentions: INVALID_CERTIFICATE_MENTIONS,
        };
        let Some(slot) = slot else {
            return Ok(blocked(Notice {
                french: "Aucun certificat : le SEV ne peut pas produire de factures.".into(),
                english: "No certificate: the SRS cannot produce bills.".into(),
            }));
        };
        let view = self.view_of(slot, at);
        if view.health.is_usable() {
            return Ok(BillingGuard::Allowed);
        }
        let reason = view.warning.unwrap_or_else(|| Notice {
            french: "Le certificat ne peut pas être utilisé.".into(),
            english: "The certificate cannot be used.".into(),
        });
        Ok(blocked(reason))
    }

    /// Signs a transaction (`actu`) with the certificate of `operator`.
    pub fn sign_transaction(
        &self,
        operator: &IdentificationNumber,
        input: &TransactionSignatureInput<'_>,
    ) -> Result<Signature, Error> {
        let slot = self.usable_slot(operator)?;
        let key = self.open_key(&slot.sealed_key, &slot.key)?;
        Ok(key.sign(input.to_text().as_bytes())?)
    }

    /// `SIGNATRANSM` and `EMPRCERTIFTRANSM` of a request carrying `actus` (oldest first), made
    /// with the certificate of `operator`.
    pub fn transmission_signature(
        &self,
        operator: &IdentificationNumber,
        authorization_code: &AuthorizationCode,
        actus: &[Signature],
    ) -> Result<(Signature, Thumbprint), Error> {
        let slot = self.usable_slot(operator)?;
        let device = self.device_id()?.ok_or(Error::DeviceIdQuestion)?;
        let key = self.open_key(&slot.sealed_key, &slot.key)?;
        let signature =
            key.sign(signatransm_input(authorization_code, device, actus).as_bytes())?;
        Ok((signature, slot.material.thumbprint))
    }

    fn usable_slot(&self, operator: &IdentificationNumber) -> Result<Slot, Error> {
        let key = self.slot_key(operator);
        let slot = self
            .store()
            .slot(&key)?
            .ok_or_else(|| Error::NotFound(key.to_string()))?;
        let view = self.view_of(slot.clone(), self.now());
        if !view.health.is_usable() {
            let notice = match self.ended(&slot, self.now()) {
                Some(ended) => ended_notice(slot.nickname.as_str(), ended),
                None => view.warning.unwrap_or_else(|| Notice {
                    french: format!(
                        "Le certificat « {} » ne peut pas être utilisé.",
                        view.nickname
                    ),
                    english: format!("Certificate \"{}\" cannot be used.", view.nickname),
                }),
            };
            return Err(Error::Unusable {
                nickname: view.nickname.to_string(),
                health: view.health,
                notice,
            });
        }
        Ok(slot)
    }
}

/// Where a transaction started: on the host device, or on one of its terminals.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Origin {
    /// The device the SRS runs on.
    Host,
    /// The terminal with this label.
    Terminal(String),
}

/// The values of a transaction that its `actu` covers, except `noTVQ` (the operator's, from its
/// certificate) and `preced` (from the chain).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TransactionData {
    /// `noTrans`.
    pub no_trans: String,
    /// `datTrans`.
    pub dat_trans: String,
    /// `TPS`.
    pub tps: String,
    /// `TVQ`.
    pub tvq: String,
    /// `apresTax`.
    pub apres_tax: String,
    /// `noTPS`.
    pub no_tps: websrm_domain::GstNumber,
    /// `modImpr`.
    pub mod_impr: String,
    /// `modTrans`.
    pub mod_trans: String,
}

impl TransactionData {
    /// The values, as written in the transaction.
    #[allow(clippy::too_many_arguments)] // The protocol's list of signed values.
    pub fn new(
        no_trans: impl Into<String>,
        dat_trans: impl Into<String>,
        tps: impl Into<String>,
        tvq: impl Into<String>,
        apres_tax: impl Into<String>,
        no_tps: websrm_domain::GstNumber,
        mod_impr: impl Into<String>,
        mod_trans: impl Into<String>,
    ) -> Self {
        Self {
            no_trans: no_trans.into(),
            dat_trans: dat_trans.into(),
            tps: tps.into(),
            tvq: tvq.into(),
            apres_tax: apres_tax.into(),
            no_tps,
            mod_impr: mod_impr.into(),
            mod_trans: mod_trans.into(),
        }
    }
}

/// A transaction signed into its chain.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SignedTransaction {
    /// The device identifier to write in the transaction (the terminal's, for a terminal).
    pub device_id: DeviceId,
    /// `actu`.
    pub actu: Signature,
    /// `preced`.
    pub preced: websrm_crypto::Preceding,
    /// `emprCertifSEV`: the thumbprint of the certificate that signed.
    pub thumbprint: Thumbprint,
    /// The position in the chain, from 1.
    pub position: u64,
}

impl Srs {
    /// Obtains a device identifier for a terminal attached to this device (an order-taking
    /// handheld) that needs no certificate of its own: the host asks on the enrolment URL with
    /// `0000-0000-0000`, presenting its own certificate (that of `operator`) so that the authority
    /// records whose terminal it is, then deletes the certificate that came with the identifier,
    /// so that no unused certificate stays in force.
    pub async fn add_terminal(
        &self,
        label: &str,
        operator: &IdentificationNumber,
    ) -> Result<DeviceId, Error> {
        let host = self.usable_slot(operator)?;
        let host_key = self.open_key(&host.sealed_key, &host.key)?;
        let info = inspect_certificate(&host.material.certificate_der)?;
        let Some(Subject::Srs(srs)) = info.subject else {
            return Err(Error::BadAnswer(
                "the host's certificate is not an SRS certificate".into(),
            ));
        };
        let mut name: String = format!("Terminal {label}").chars().take(32).collect();
        while name.chars().count() < 8 {
            name.push('.');
        }
        let subject = SrsSubject::new(SrsSubjectFields {
            identification_number: srs.identification_number().clone(),
            sector: srs.sector(),
            authorization_code: srs.authorization_code().clone(),
            nickname: name.parse()?,
            qst_number: srs.qst_number().clone(),
            file_number: srs.file_number().clone(),
            utc_offset: srs.utc_offset(),
        })
        .map_err(Error::Subject)?;
        let key = PrivateKey::generate()?;
        let csr = Csr::build(&Subject::Srs(subject), &key)?.to_wire();
        let identity = ClientIdentity {
            chain: vec![host.material.certificate_der.clone()],
            key: &host_key,
        };
        let answer = self
            .client
            .send(
                &self.headers(Some(DeviceIdState::Unassigned)),
                &Modification::Add { csr },
                Some(identity),
            )
            .await
            .map_err(client_error)?;
        let terminal = answer
            .device_id
            .ok_or_else(|| Error::BadAnswer("no device identifier for the terminal".into()))?;
        self.store()
            .add_terminal(label, terminal, false, self.now())?;
        // The certificate that came with the identifier is not needed: delete it at once.
        let der = pem::decode(
            "CERTIFICATE",
            answer.certificate_pem.as_deref().unwrap_or_default(),
        )?;
        let serial = inspect_certificate(&der)?.serial;
        let identity = ClientIdentity {
            chain: vec![der],
            key: &key,
        };
        self.client
            .send(
                &self.headers(Some(DeviceIdState::Assigned(terminal))),
                &Modification::Delete { serial },
                Some(identity),
            )
            .await
            .map_err(client_error)?;
        Ok(terminal)
    }

    /// The device's history, oldest first: every enrolment, replacement, deletion, revocation
    /// seen and error returned by the authority, for support and audits.
    pub fn history(&self) -> Result<Vec<websrm_store::device::HistoryEntry>, Error> {
        Ok(self.store().history()?)
    }

    /// Resets this SRS installation's data (its certificates and pending requests) on the device.
    /// The device identifier and the terminals stay.
    pub fn reset_installation(&self) -> Result<usize, Error> {
        Ok(self
            .store()
            .reset_installation(&self.config.installation, self.now())?)
    }

    /// Records a terminal that obtained its own identifier and certificate (one that signs and
    /// authenticates itself).
    pub fn record_terminal(&self, label: &str, device_id: DeviceId) -> Result<(), Error> {
        Ok(self
            .store()
            .add_terminal(label, device_id, true, self.now())?)
    }

    /// The terminals attached to this device.
    pub fn terminals(&self) -> Result<Vec<websrm_store::device::Terminal>, Error> {
        Ok(self.store().terminals()?)
    }

    /// Signs a transaction started on `origin` with the certificate of `operator`, as the next
    /// link of its chain (environment, device identifier, SRS, QST number). The link is stored
    /// before it is returned: a crash never forks or loses the chain.
    pub fn sign_in_chain(
        &self,
        origin: &Origin,
        operator: &IdentificationNumber,
        data: &TransactionData,
    ) -> Result<SignedTransaction, Error> {
        let slot = self.usable_slot(operator)?;
        let key = self.open_key(&slot.sealed_key, &slot.key)?;
        let qst = inspect_certificate(&slot.material.certificate_der)?
            .subject
            .and_then(|s| s.qst_number().cloned())
            .ok_or_else(|| Error::BadAnswer("the certificate has no QST number".into()))?;
        let device_id = match origin {
            Origin::Host => self.device_id()?.ok_or(Error::DeviceIdQuestion)?,
            Origin::Terminal(label) => {
                self.terminals()?
                    .into_iter()
                    .find(|t| &t.label == label)
                    .ok_or_else(|| Error::NotFound(label.clone()))?
                    .device_id
            }
        };
        let chain = websrm_store::device::ChainKey::new(
            self.config.environment,
            device_id,
            self.config.product.srs_id,
            qst.clone(),
        );
        let link = self.store().extend_chain(&chain, |preced| {
            let preced = match preced {
                None => websrm_crypto::Preceding::First,
                Some(text) => websrm_crypto::Preceding::Signature(
                    Signature::from_base64(text)
                        .map_err(|e| websrm_store::Error::Signing(e.to_string()))?,
                ),
            };
            let input = TransactionSignatureInput {
                no_trans: &data.no_trans,
                dat_trans: &data.dat_trans,
                tps: &data.tps,
                tvq: &data.tvq,
                apres_tax: &data.apres_tax,
                no_tps: &data.no_tps,
                no_tvq: &qst,
                mod_impr: &data.mod_impr,
                mod_trans: &data.mod_trans,
                preced,
            };
            let actu = key
                .sign(input.to_text().as_bytes())
                .map_err(|e| websrm_store::Error::Signing(e.to_string()))?;
            #[cfg(feature = "test-util")]
            crate::crash_point("chain-before-commit");
            Ok(actu.to_base64())
        })?;
        let preced = match &link.preced {
            None => websrm_crypto::Preceding::First,
            Some(text) => websrm_crypto::Preceding::Signature(Signature::from_base64(text)?),
        };
        Ok(SignedTransaction {
            device_id,
            actu: Signature::from_base64(&link.actu)?,
            preced,
            thumbprint: slot.material.thumbprint,
            position: link.position,
        })
    }

    /// `SIGNATRANSM` and `EMPRCERTIFTRANSM` for a request initiated by `device` (the host or a
    /// terminal) carrying `actus` (oldest first), made with the certificate of `operator`.
    pub fn transmission_signature_for(
        &self,
        operator: &IdentificationNumber,
        authorization_code: &AuthorizationCode,
        device: DeviceId,
        actus: &[Signature],
    ) -> Result<(Signature, Thumbprint), Error> {
        let slot = self.usable_slot(operator)?;
        let key = self.open_key(&slot.sealed_key, &slot.key)?;
        let signature =
            key.sign(signatransm_input(authorization_code, device, actus).as_bytes())?;
        Ok((signature, slot.material.thumbprint))
    }
}

fn client_error(e: ClientError) -> Error {
    match e {
        ClientError::Refused(errors) => Error::Refused {
            retransmittable: retransmittable(&errors),
            errors,
        },
        ClientError::Communication { reason } => Error::Communication { reason },
        other => Error::Unreachable {
            reason: other.to_string(),
        },
    }
}

/// Whether sending the same request again may succeed: every error that has a `codRetour` is
/// retransmittable (the companion message, which has none, says nothing either way).
fn retransmittable(errors: &[websrm_protocol::wire::AuthorityError]) -> bool {
    let mut coded = errors.iter().filter(|e| e.return_code.is_some()).peekable();
    coded.peek().is_some() && coded.all(websrm_protocol::wire::AuthorityError::is_retransmittable)
}

/// Whether a pending request is for a server administrator's certificate: its identification
/// number has no QST number and the store does not know the difference, so the facade keeps
/// server slots under the installation name [`SERVER_INSTALLATION`].
fn is_server_slot(request: &PendingRequest) -> bool {
    request.slot.installation == SERVER_INSTALLATION
}

/// The installation name under which a server administrator's certificate is kept.
pub const SERVER_INSTALLATION: &str = "server";

/// What to tell the user about a certificate that has ended, in French and English.
fn ended_notice(nickname: &str, ended: Ended) -> Notice {
    let date = ended.since.date();
    let (french, english) = match ended.state {
        EndState::Revoked => (
            format!("a été révoqué le {date}"),
            format!("was revoked on {date}"),
        ),
        EndState::Refused => (
            format!("a été refusé par l'autorité le {date} (révoqué, supprimé ou remplacé)"),
            format!("was refused by the authority on {date} (revoked, deleted or replaced)"),
        ),
        _ => (format!("a expiré le {date}"), format!("expired on {date}")),
    };
    Notice {
        french: format!(
            "Le certificat « {nickname} » {french} ; obtenez-en un nouveau avec « enrol » (une nouvelle demande avec le code d'autorisation)."
        ),
        english: format!(
            "Certificate \"{nickname}\" {english}; obtain a new one with `enrol` (a new request with the authorization code)."
        ),
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

struct ProtectorRef(std::sync::Arc<dyn KeyProtector>);

impl KeyProtector for ProtectorRef {
    fn key_encryption_key(&self) -> Result<websrm_store::Zeroizing<[u8; 32]>, websrm_store::Error> {
        self.0.key_encryption_key()
    }
}
