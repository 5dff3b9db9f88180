//! A blocking front for SRSs that are not async: each network call runs on a runtime of its
//! own; everything else is the async [`crate::Srs`]'s, reached through `Deref`.

use std::ops::Deref;

use websrm_domain::{AuthorizationCode, DeviceId, IdentificationNumber, Nickname, UtcOffset};

use crate::{
    CertificateView, Changes, Config, Confirmation, DeviceIdAnswer, Error, OperatorEnrolment,
    RecoveryReport,
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
            .map_err(|e| Error::Unreachable {
                reason: format!("cannot start the network runtime: {e}"),
            })?;
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
        nickname: &str,
        confirmation: Confirmation,
    ) -> Result<CertificateView, Error> {
        self.runtime
            .block_on(self.inner.replace(nickname, confirmation))
    }

    /// See [`crate::Srs::replace_with`].
    pub fn replace_with(
        &self,
        nickname: &str,
        changes: &Changes,
        confirmation: Confirmation,
    ) -> Result<CertificateView, Error> {
        self.runtime
            .block_on(self.inner.replace_with(nickname, changes, confirmation))
    }

    /// See [`crate::Srs::delete`].
    pub fn delete(&self, nickname: &str, confirmation: Confirmation) -> Result<(), Error> {
        self.runtime
            .block_on(self.inner.delete(nickname, confirmation))
    }

    /// See [`crate::Srs::recover`].
    pub fn recover(&self) -> Result<RecoveryReport, Error> {
        self.runtime.block_on(self.inner.recover())
    }

    /// See [`crate::Srs::refresh_revocations`].
    pub fn refresh_revocations(&self) -> Result<Vec<String>, Error> {
        self.runtime.block_on(self.inner.refresh_revocations())
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

impl Deref for Srs {
    type Target = crate::Srs;

    fn deref(&self) -> &crate::Srs {
        &self.inner
    }
}
