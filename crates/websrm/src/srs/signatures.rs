//! Certificates' health, the billing guard, and the signatures of transactions.

use super::*;

impl Srs {
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

    pub(super) fn usable_slot(&self, operator: &IdentificationNumber) -> Result<Slot, Error> {
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
