//! A blocking front for SRSs that are not async: each network call runs on a runtime of its
//! own. Every call of the async [`crate::Srs`] has its blocking twin here, written out, so that
//! no async method can be reached (and its future dropped unawaited) by mistake.

use time::OffsetDateTime;
use websrm_crypto::{Signature, TransactionSignatureInput};
use websrm_domain::{
    AuthorizationCode, DeviceId, IdentificationNumber, Nickname, TestCase, Thumbprint, UtcOffset,
};

use crate::{
    BillingGuard, CertificatePem, CertificateView, Changes, Config, Confirmation, DeviceIdAnswer,
    Error, IdempotencyKey, OperatorEnrolment, Origin, RecoveryReport, RememberedAnswer,
    RevocationCheck, SignedTransaction, TransactionData,
};

/// The SRS's certificate side, with blocking calls. Do not use it from inside an async runtime.
#[derive(Debug)]
pub struct Srs {
    inner: crate::Srs,
    runtime: tokio::runtime::Runtime,
}

impl Srs {
    /// Opens the SRS (see [`crate::Srs::open`]).
    pub fn open(config: Config) -> Result<Self, Error> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| Error::Runtime(websrm_domain::Source::new(e)))?;
        Ok(Self {
            inner: crate::Srs::open(config)?,
            runtime,
        })
    }

    /// See [`crate::Srs::enrol`].
    pub fn enrol(
        &self,
        request: &OperatorEnrolment,
        answer: Option<DeviceIdAnswer>,
    ) -> Result<CertificateView, Error> {
        self.runtime.block_on(self.inner.enrol(request, answer))
    }

    /// See [`crate::Srs::enrol_server`].
    pub fn enrol_server(
        &self,
        identification_number: IdentificationNumber,
        authorization_code: AuthorizationCode,
        nickname: Nickname,
        utc_offset: UtcOffset,
    ) -> Result<CertificateView, Error> {
        self.runtime.block_on(self.inner.enrol_server(
            identification_number,
            authorization_code,
            nickname,
            utc_offset,
        ))
    }

    /// See [`crate::Srs::replace`].
    pub fn replace(
        &self,
        nickname: &Nickname,
        confirmation: Confirmation,
    ) -> Result<CertificateView, Error> {
        self.runtime
            .block_on(self.inner.replace(nickname, confirmation))
    }

    /// See [`crate::Srs::replace_with`].
    pub fn replace_with(
        &self,
        nickname: &Nickname,
        changes: &Changes,
        confirmation: Confirmation,
    ) -> Result<CertificateView, Error> {
        self.runtime
            .block_on(self.inner.replace_with(nickname, changes, confirmation))
    }

    /// See [`crate::Srs::delete`].
    pub fn delete(&self, nickname: &Nickname, confirmation: Confirmation) -> Result<(), Error> {
        self.runtime
            .block_on(self.inner.delete(nickname, confirmation))
    }

    /// See [`crate::Srs::recover`].
    pub fn recover(&self) -> Result<RecoveryReport, Error> {
        self.runtime.block_on(self.inner.recover())
    }

    /// See [`crate::Srs::refresh_revocations`].
    pub fn refresh_revocations(&self) -> Result<RevocationCheck, Error> {
        self.runtime.block_on(self.inner.refresh_revocations())
    }

    /// See [`crate::Srs::remove_ended`].
    pub fn remove_ended(
        &self,
        nickname: &Nickname,
        confirmation: Confirmation,
    ) -> Result<(), Error> {
        self.inner.remove_ended(nickname, confirmation)
    }

    /// See [`crate::Srs::test_case`].
    pub fn test_case(&self) -> TestCase {
        self.inner.test_case()
    }

    /// See [`crate::Srs::set_test_case`].
    pub fn set_test_case(&self, test_case: TestCase) {
        self.inner.set_test_case(test_case);
    }

    /// See [`crate::Srs::device_id`].
    pub fn device_id(&self) -> Result<Option<DeviceId>, Error> {
        self.inner.device_id()
    }

    /// See [`crate::Srs::enter_device_id`].
    pub fn enter_device_id(&self, id: DeviceId) -> Result<(), Error> {
        self.inner.enter_device_id(id)
    }

    /// See [`crate::Srs::certificates`].
    pub fn certificates(&self, at: OffsetDateTime) -> Result<Vec<CertificateView>, Error> {
        self.inner.certificates(at)
    }

    /// See [`crate::Srs::billing_guard`].
    pub fn billing_guard(
        &self,
        operator: &IdentificationNumber,
        at: OffsetDateTime,
    ) -> Result<BillingGuard, Error> {
        self.inner.billing_guard(operator, at)
    }

    /// See [`crate::Srs::sign_transaction`].
    pub fn sign_transaction(
        &self,
        operator: &IdentificationNumber,
        input: &TransactionSignatureInput<'_>,
    ) -> Result<Signature, Error> {
        self.inner.sign_transaction(operator, input)
    }

    /// See [`crate::Srs::transmission_signature`].
    pub fn transmission_signature(
        &self,
        operator: &IdentificationNumber,
        authorization_code: &AuthorizationCode,
        actus: &[Signature],
    ) -> Result<(Signature, Thumbprint), Error> {
        self.inner
            .transmission_signature(operator, authorization_code, actus)
    }

    /// See [`crate::Srs::transmission_signature_for`].
    pub fn transmission_signature_for(
        &self,
        operator: &IdentificationNumber,
        authorization_code: &AuthorizationCode,
        device: DeviceId,
        actus: &[Signature],
    ) -> Result<(Signature, Thumbprint), Error> {
        self.inner
            .transmission_signature_for(operator, authorization_code, device, actus)
    }

    /// See [`crate::Srs::sign_in_chain`].
    pub fn sign_in_chain(
        &self,
        origin: &Origin,
        operator: &IdentificationNumber,
        data: &TransactionData,
    ) -> Result<SignedTransaction, Error> {
        self.inner.sign_in_chain(origin, operator, data)
    }

    /// See [`crate::Srs::sign_sale`].
    pub fn sign_sale(
        &self,
        origin: &Origin,
        operator: &IdentificationNumber,
        sale: crate::transaction::Sale,
        checks: crate::transaction::Checks,
    ) -> Result<crate::transaction::Transaction, Error> {
        self.inner.sign_sale(origin, operator, sale, checks)
    }

    /// See [`crate::Srs::transmit`].
    pub fn transmit(
        &self,
        origin: &Origin,
        operator: &IdentificationNumber,
        sale: crate::transaction::Sale,
        checks: crate::transaction::Checks,
    ) -> Result<crate::Transmission, Error> {
        self.runtime
            .block_on(self.inner.transmit(origin, operator, sale, checks))
    }

    /// See [`crate::Srs::transmit_once`].
    pub fn transmit_once(
        &self,
        key: &IdempotencyKey,
        origin: &Origin,
        operator: &IdentificationNumber,
        sale: crate::transaction::Sale,
        checks: crate::transaction::Checks,
    ) -> Result<crate::Transmission, Error> {
        self.runtime.block_on(
            self.inner
                .transmit_once(key, origin, operator, sale, checks),
        )
    }

    /// See [`crate::Srs::flush`].
    pub fn flush(&self) -> Result<crate::Delivery, Error> {
        self.runtime.block_on(self.inner.flush())
    }

    /// See [`crate::Srs::outbox`].
    pub fn outbox(&self, limit: usize) -> Result<crate::Outbox, Error> {
        self.inner.outbox(limit)
    }

    /// See [`crate::Srs::sign_in_chain_once`].
    pub fn sign_in_chain_once(
        &self,
        key: &IdempotencyKey,
        origin: &Origin,
        operator: &IdentificationNumber,
        data: &TransactionData,
    ) -> Result<SignedTransaction, Error> {
        self.inner.sign_in_chain_once(key, origin, operator, data)
    }

    /// See [`crate::Srs::remembered_answer`].
    pub fn remembered_answer(
        &self,
        key: &IdempotencyKey,
    ) -> Result<Option<RememberedAnswer>, Error> {
        self.inner.remembered_answer(key)
    }

    /// See [`crate::Srs::remember_answer`].
    pub fn remember_answer(
        &self,
        key: &IdempotencyKey,
        answer: &RememberedAnswer,
    ) -> Result<bool, Error> {
        self.inner.remember_answer(key, answer)
    }

    /// See [`crate::Srs::certificate_pem`].
    pub fn certificate_pem(&self, nickname: &Nickname) -> Result<CertificatePem, Error> {
        self.inner.certificate_pem(nickname)
    }

    /// See [`crate::Srs::history`].
    pub fn history(&self) -> Result<Vec<crate::HistoryEntry>, Error> {
        self.inner.history()
    }

    /// See [`crate::Srs::reset_installation`].
    pub fn reset_installation(&self) -> Result<usize, Error> {
        self.inner.reset_installation()
    }

    /// See [`crate::Srs::record_terminal`].
    pub fn record_terminal(&self, label: &str, device_id: DeviceId) -> Result<(), Error> {
        self.inner.record_terminal(label, device_id)
    }

    /// See [`crate::Srs::terminals`].
    pub fn terminals(&self) -> Result<Vec<crate::Terminal>, Error> {
        self.inner.terminals()
    }

    /// See [`crate::Srs::add_terminal`].
    pub fn add_terminal(
        &self,
        label: &str,
        operator: &IdentificationNumber,
    ) -> Result<DeviceId, Error> {
        self.runtime
            .block_on(self.inner.add_terminal(label, operator))
    }
}
