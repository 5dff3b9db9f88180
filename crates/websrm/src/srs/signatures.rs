//! Certificates' health, the billing guard, and the signatures of transactions.

use super::*;

/// A certificate and the authority's `certifPSI`, as PEM: what a POS needs to show them or to
/// encrypt a bill's QR code. Never the private key.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CertificatePem {
    /// The certificate's nickname.
    pub nickname: Nickname,
    /// The certificate (PEM).
    pub certificate: String,
    /// The authority's `certifPSI` certificate given with it (PEM).
    pub certif_psi: String,
}

impl Srs {
    /// The certificate named `nickname` and its `certifPSI`, as PEM.
    pub fn certificate_pem(&self, nickname: &Nickname) -> Result<CertificatePem, Error> {
        let slot = self.slot_by_nickname(nickname)?;
        Ok(CertificatePem {
            nickname: slot.nickname,
            certificate: pem::encode("CERTIFICATE", &slot.material.certificate_der),
            certif_psi: slot.material.certif_psi_pem,
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

    pub(super) fn usable_slot(&self, operator: &IdentificationNumber) -> Result<Slot, Error> {
        self.usable_slot_at(self.slot_key(operator))
    }

    /// The slot `key`, if its certificate can be used now.
    pub(super) fn usable_slot_at(&self, key: SlotKey) -> Result<Slot, Error> {
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
        self.sign_link(origin, operator, data, None)
    }

    /// [`sign_in_chain`](Self::sign_in_chain) once per idempotency key: the first call with
    /// `key` adds the link and remembers it in the same store transaction; a call with the same
    /// key and the same values (a retry after a lost answer, even after a crash) returns that
    /// same link without adding another; the same key with other values is
    /// [`Error::IdempotencyConflict`]. Keys are remembered for at least
    /// [`ANSWERS_KEPT`](crate::ANSWERS_KEPT).
    pub fn sign_in_chain_once(
        &self,
        key: &IdempotencyKey,
        origin: &Origin,
        operator: &IdentificationNumber,
        data: &TransactionData,
    ) -> Result<SignedTransaction, Error> {
        self.sign_link(origin, operator, data, Some(key))
    }

    pub(super) fn sign_link(
        &self,
        origin: &Origin,
        operator: &IdentificationNumber,
        data: &TransactionData,
        key: Option<&IdempotencyKey>,
    ) -> Result<SignedTransaction, Error> {
        let digest = key.map(|_| signing_digest(origin, operator, data));
        // A retry is answered before anything else is checked: the certificate may have ended
        // since, and the link was handed out already.
        if let (Some(key), Some(digest)) = (key, &digest)
            && let Some(answer) = self.store().remembered_answer(key.as_str())?
        {
            return replayed(key, digest, &answer);
        }
        let plan = self.plan_link(origin, operator, None)?;
        let sign = plan.signer(data);
        let signed = |link: &websrm_store::device::ChainLink| plan.signed(link);
        let chain = plan.chain.clone();
        let (Some(key), Some(digest)) = (key, digest) else {
            let link = self.store().extend_chain(&chain, sign)?;
            return signed(&link);
        };
        let now = self.now();
        let extension = self
            .store()
            .extend_chain_once(&chain, key.as_str(), sign, |link| {
                let body = signed(link).map(|t| encode_signed(&t)).unwrap_or_default();
                RememberedAnswer::new(SIGNING, digest.clone(), 200, body, now)
            })?;
        #[cfg(feature = "test-util")]
        crate::crash_point("chain-after-commit");
        match extension {
            Extension::Extended(link) => signed(&link),
            Extension::Remembered(answer) => replayed(key, &digest, &answer),
            _ => Err(Error::BadAnswer("unknown chain extension".into())),
        }
    }

    /// What signing the next link of a chain needs: the slot in force, its key opened, the QST
    /// number (its certificate's, or in the server mode, whose certificates carry the server
    /// administrator's subject and no QST number, the sale's `sale_qst`), and the chain of
    /// `origin`.
    pub(super) fn plan_link(
        &self,
        origin: &Origin,
        operator: &IdentificationNumber,
        sale_qst: Option<&QstNumber>,
    ) -> Result<LinkPlan, Error> {
        let slot = self.usable_slot(operator)?;
        let key = self.open_key(&slot.sealed_key, &slot.key)?;
        let qst = inspect_certificate(&slot.material.certificate_der)?
            .subject
            .and_then(|s| s.qst_number().cloned())
            .or_else(|| sale_qst.cloned())
            .ok_or_else(|| {
                Error::BadAnswer(
                    "the certificate has no QST number (a server-mode certificate signs a sale, \
                     whose QST number it takes)"
                        .into(),
                )
            })?;
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
        Ok(LinkPlan {
            slot,
            key,
            qst,
            device_id,
            chain,
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

/// Everything signing the next link of a chain needs.
pub(super) struct LinkPlan {
    /// The slot whose certificate signs.
    pub(super) slot: Slot,
    /// Its key, opened.
    pub(super) key: PrivateKey,
    /// The QST number of its certificate.
    pub(super) qst: QstNumber,
    /// The device the transaction started on.
    pub(super) device_id: DeviceId,
    /// The chain.
    pub(super) chain: websrm_store::device::ChainKey,
}

impl LinkPlan {
    /// Signs `data` after the previous `actu` (`None` for the first link).
    pub(super) fn signer<'a>(
        &'a self,
        data: &'a TransactionData,
    ) -> impl FnOnce(Option<&str>) -> Result<String, websrm_store::Error> + 'a {
        move |preced: Option<&str>| {
            let preced = match preced {
                None => websrm_crypto::Preceding::First,
                Some(text) => websrm_crypto::Preceding::Signature(
                    Signature::from_base64(text)
                        .map_err(|e| websrm_store::Error::Signing(Source::new(e)))?,
                ),
            };
            let input = TransactionSignatureInput {
                no_trans: &data.no_trans,
                dat_trans: &data.dat_trans,
                tps: &data.tps,
                tvq: &data.tvq,
                apres_tax: &data.apres_tax,
                no_tps: &data.no_tps,
                no_tvq: &self.qst,
                mod_impr: &data.mod_impr,
                mod_trans: &data.mod_trans,
                preced,
            };
            let actu = self
                .key
                .sign(input.to_text().as_bytes())
                .map_err(|e| websrm_store::Error::Signing(Source::new(e)))?;
            #[cfg(feature = "test-util")]
            crate::crash_point("chain-before-commit");
            Ok(actu.to_base64())
        }
    }

    /// The link as the facade hands it out.
    pub(super) fn signed(
        &self,
        link: &websrm_store::device::ChainLink,
    ) -> Result<SignedTransaction, Error> {
        let preced = match &link.preced {
            None => websrm_crypto::Preceding::First,
            Some(text) => websrm_crypto::Preceding::Signature(Signature::from_base64(text)?),
        };
        Ok(SignedTransaction {
            device_id: self.device_id,
            actu: Signature::from_base64(&link.actu)?,
            preced,
            thumbprint: self.slot.material.thumbprint,
            position: link.position,
        })
    }
}

/// The operation a signature's remembered answer is kept under.
const SIGNING: &str = "sign_in_chain";

/// What a signature request asks, as a digest: the same key must come with the same request.
fn signing_digest(
    origin: &Origin,
    operator: &IdentificationNumber,
    data: &TransactionData,
) -> String {
    let origin = match origin {
        Origin::Host => String::new(),
        Origin::Terminal(label) => format!("terminal:{label}"),
    };
    let parts = [
        origin.as_str(),
        operator.as_str(),
        &data.no_trans,
        &data.dat_trans,
        &data.tps,
        &data.tvq,
        &data.apres_tax,
        data.no_tps.as_str(),
        &data.mod_impr,
        &data.mod_trans,
    ]
    .map(str::as_bytes);
    request_digest(&parts)
}

/// The remembered answer under `key`, if it was for the same request.
fn replayed(
    key: &IdempotencyKey,
    digest: &str,
    answer: &RememberedAnswer,
) -> Result<SignedTransaction, Error> {
    if answer.operation != SIGNING || answer.digest != digest {
        return Err(Error::IdempotencyConflict(key.clone()));
    }
    decode_signed(&answer.body)
        .ok_or_else(|| Error::BadAnswer(format!("the answer remembered under {key} is unreadable")))
}

/// A signed transaction as remembered: one value a line.
fn encode_signed(t: &SignedTransaction) -> String {
    format!(
        "{}\n{}\n{}\n{}\n{}",
        t.device_id,
        t.actu.to_base64(),
        t.preced,
        t.thumbprint,
        t.position
    )
}

fn decode_signed(text: &str) -> Option<SignedTransaction> {
    let mut lines = text.lines();
    let device_id = lines.next()?.parse().ok()?;
    let actu = Signature::from_base64(lines.next()?).ok()?;
    let preced = match lines.next()? {
        p if p == Signature::FIRST_PRECED => websrm_crypto::Preceding::First,
        p => websrm_crypto::Preceding::Signature(Signature::from_base64(p).ok()?),
    };
    let thumbprint = lines.next()?.parse().ok()?;
    let position = lines.next()?.parse().ok()?;
    Some(SignedTransaction {
        device_id,
        actu,
        preced,
        thumbprint,
        position,
    })
}
