//! The facade's views as JSON (feature `serde`): one shape for every program that shows them,
//! so that the agent's API and the CLI's `--json` cannot diverge: certificates
//! ([`CertificateView::to_json`]), transmissions ([`Transmission::to_json`]), deliveries and the
//! outbox. With the feature `openapi`, each has its OpenAPI schema, under the agent's names.

use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;
use websrm_domain::Health;

use crate::{
    AuthorityError, BACK_OFFICE_INSTALLATION, CertificateView, Delivery, Outbox, Outcome, Resend,
    SERVER_INSTALLATION, Transmission,
};

/// A certificate's health.
///
/// `valid`; `replacement_recommended` (replace it soon); `expiring_soon` (`days_left` says
/// when; replace it now); `not_yet_valid`; `expired`; `revoked`; `refused` (the authority no
/// longer accepts it: revoked, deleted or replaced elsewhere); `deleted`; `replaced`;
/// `unusable` (another reason it cannot be used).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum HealthName {
    /// In force.
    Valid,
    /// In force; replace it soon.
    ReplacementRecommended,
    /// In force for `days_left` days: replace it now.
    ExpiringSoon,
    /// Not yet in force.
    NotYetValid,
    /// Expired.
    Expired,
    /// Revoked.
    Revoked,
    /// The authority no longer accepts it.
    Refused,
    /// Deleted.
    Deleted,
    /// Replaced.
    Replaced,
    /// Cannot be used for another reason.
    Unusable,
}

impl HealthName {
    /// The name of `health`, and the days left when it is expiring soon.
    pub fn of(health: Health) -> (Self, Option<i64>) {
        match health {
            Health::Valid => (Self::Valid, None),
            Health::ReplacementRecommended => (Self::ReplacementRecommended, None),
            Health::ExpiringSoon { days_left } => (Self::ExpiringSoon, Some(days_left)),
            Health::NotYetValid => (Self::NotYetValid, None),
            Health::Expired => (Self::Expired, None),
            Health::Revoked => (Self::Revoked, None),
            Health::Refused => (Self::Refused, None),
            Health::Deleted => (Self::Deleted, None),
            Health::Replaced => (Self::Replaced, None),
            _ => (Self::Unusable, None),
        }
    }
}

/// An SRS installation on this device: `main` (the agent's own), `back_office` (a back-office
/// SRS), `server` (a remote server's administrator), `other` (another one, named in `slot`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Installation {
    /// The agent's own installation.
    #[default]
    Main,
    /// A back-office SRS on the same device.
    BackOffice,
    /// A remote server's administrator.
    Server,
    /// Another installation.
    Other,
}

impl Installation {
    /// The facade's name of the installation, where `main` is the program's own (`other` has
    /// none).
    pub fn name(self, main: &str) -> Option<&str> {
        match self {
            Self::Main => Some(main),
            Self::BackOffice => Some(BACK_OFFICE_INSTALLATION),
            Self::Server => Some(SERVER_INSTALLATION),
            Self::Other => None,
        }
    }

    /// The installation named `name`, where `main` is the program's own.
    pub fn of(name: &str, main: &str) -> Self {
        if name == main {
            Self::Main
        } else if name == BACK_OFFICE_INSTALLATION {
            Self::BackOffice
        } else if name == SERVER_INSTALLATION {
            Self::Server
        } else {
            Self::Other
        }
    }
}

/// A certificate of this device, with its health.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = CertificateBody))]
#[non_exhaustive]
pub struct CertificateJson {
    /// The nickname (SN).
    pub nickname: String,
    /// The slot: environment, operator, installation.
    pub slot: String,
    /// The installation the certificate belongs to.
    pub installation: Installation,
    /// The serial number (`noSerie`).
    pub serial: String,
    /// The thumbprint (`EMPRCERTIFTRANSM`, `emprCertifSEV`).
    pub thumbprint: String,
    /// Valid from.
    #[cfg_attr(feature = "openapi", schema(format = DateTime))]
    pub not_before: String,
    /// Valid until.
    #[cfg_attr(feature = "openapi", schema(format = DateTime))]
    pub not_after: String,
    /// Its health.
    pub health: HealthName,
    /// Days left, when expiring soon.
    pub days_left: Option<i64>,
    /// Whether it may be used to produce bills and transmit now.
    pub usable: bool,
    /// What to show the user, in French.
    pub warning_fr: Option<String>,
    /// The same in English.
    pub warning_en: Option<String>,
}

impl CertificateView {
    /// The view as JSON, where `main` is the name of the program's own installation.
    pub fn to_json(&self, main: &str) -> CertificateJson {
        let (health, days_left) = HealthName::of(self.health);
        CertificateJson {
            nickname: self.nickname.to_string(),
            slot: self.slot.to_string(),
            installation: Installation::of(&self.slot.installation, main),
            serial: self.serial.to_string(),
            thumbprint: self.thumbprint.to_string(),
            not_before: self
                .validity
                .not_before()
                .format(&Rfc3339)
                .unwrap_or_default(),
            not_after: self
                .validity
                .not_after()
                .format(&Rfc3339)
                .unwrap_or_default(),
            health,
            days_left,
            usable: self.health.is_usable(),
            warning_fr: self.warning.as_ref().map(|w| w.french.clone()),
            warning_en: self.warning.as_ref().map(|w| w.english.clone()),
        }
    }
}

/// One error of the authority.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = AuthorityErrorBody))]
pub struct AuthorityErrorJson {
    /// `JW00B999nnnE`.
    #[cfg_attr(
        feature = "openapi",
        schema(pattern = r"^JW00B999[0-9]{3}E$", example = "JW00B999514E")
    )]
    pub id: String,
    /// `codRetour`, when the error has one: two digits, the first the cause, the second what
    /// to do (see docs/PROTOCOL.md).
    #[serde(rename = "codRetour")]
    #[cfg_attr(feature = "openapi", schema(pattern = r"^[0-9]{2}$", example = "14"))]
    pub cod_retour: Option<String>,
    /// The authority's message (French).
    pub message_fr: String,
    /// The same in English, from the catalogue.
    pub message_en: Option<String>,
}

impl AuthorityErrorJson {
    /// `error` as JSON, its English from the catalogue.
    pub fn of(error: &AuthorityError) -> Self {
        Self {
            id: error.id.to_string(),
            cod_retour: error.return_code.map(|c| c.to_string()),
            message_fr: error.message.clone(),
            message_en: error.english().or_else(|| {
                websrm_protocol::transaction::english_message(error.id).map(str::to_owned)
            }),
        }
    }

    /// Each of `errors` as JSON.
    pub fn all(errors: &[AuthorityError]) -> Vec<Self> {
        errors.iter().map(Self::of).collect()
    }
}

/// What happened to a transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum TransmissionOutcome {
    /// Received: print `psiNoTrans` and `psiDatTrans`.
    Transmitted,
    /// No answer: kept in the outbox; print the mention.
    Offline,
    /// Received later in a batch (`noLot`, `datLot`).
    Batched,
    /// Refused: show the errors; `resend` says what to do.
    Refused,
}

/// What to do with a refused transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ResendAdvice {
    /// It stays in the outbox and goes unchanged with the next request (`codRetour` `x0`).
    Unchanged,
    /// Not received: record it again as a new transaction (`x1`, `x5`).
    AsNewTransaction,
    /// Received and refused: never send it again; offer the correction (`x2`, `x3`, `x4`,
    /// `x6`).
    Never,
}

impl ResendAdvice {
    /// The advice for `resend`.
    pub fn of(resend: Resend) -> Self {
        match resend {
            Resend::Unchanged => Self::Unchanged,
            Resend::AsNewTransaction => Self::AsNewTransaction,
            _ => Self::Never,
        }
    }
}

/// One batch the authority received.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = BatchBody))]
pub struct BatchJson {
    /// `noLot`.
    #[serde(rename = "noLot")]
    pub no_lot: String,
    /// `datLot`.
    #[serde(rename = "datLot")]
    pub dat_lot: String,
}

/// What one or more requests did with the pending transactions.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = DeliveryBody))]
pub struct DeliveryJson {
    /// Requests sent.
    pub requests: usize,
    /// Pending transactions received.
    pub sent: usize,
    /// Pending transactions refused.
    pub refused: usize,
    /// Each batch's numbers.
    pub batches: Vec<BatchJson>,
    /// The errors of requests refused as a whole.
    pub errors: Vec<AuthorityErrorJson>,
    /// The communication failure that stopped the delivery, if any.
    pub offline: Option<String>,
}

impl Delivery {
    /// The delivery as JSON.
    pub fn to_json(&self) -> DeliveryJson {
        DeliveryJson {
            requests: self.requests,
            sent: self.sent,
            refused: self.refused,
            batches: self
                .batches
                .iter()
                .map(|(no, at)| BatchJson {
                    no_lot: no.clone(),
                    dat_lot: at.clone(),
                })
                .collect(),
            errors: AuthorityErrorJson::all(&self.errors),
            offline: self.offline.clone(),
        }
    }
}

/// A mention of the bill.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = MentionBody))]
pub struct MentionJson {
    /// Table 43's order: 1 and 2 above the first row of `=`, the others between the rows.
    pub order: u8,
    /// The exact text.
    pub text: String,
}

/// A transaction recorded and sent (or kept): what the POS prints and does.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = TransmittedBody))]
pub struct TransmissionJson {
    /// What happened to it.
    pub outcome: TransmissionOutcome,
    /// `noTrans`.
    #[serde(rename = "noTrans")]
    pub no_trans: String,
    /// Its place in the outbox.
    pub outbox_id: i64,
    /// The device identifier to print (the terminal's for a terminal).
    pub device_id: String,
    /// `psiNoTrans`, when received at once.
    #[serde(rename = "psiNoTrans")]
    pub psi_no_trans: Option<String>,
    /// `psiDatTrans`, when received at once.
    #[serde(rename = "psiDatTrans")]
    pub psi_dat_trans: Option<String>,
    /// `noLot`, when received later in a batch.
    #[serde(rename = "noLot")]
    pub no_lot: Option<String>,
    /// The mention the bill bears where `psiNoTrans` would be (`PROBLÈME DE COMMUNICATION`).
    pub mention: Option<String>,
    /// Every mention the bill bears, in SW-73 table 43's order (the place in its sequence,
    /// `FACTURE RÉVISÉE` and the like, is the POS's to add).
    pub mentions: Vec<MentionJson>,
    /// The URL the bill's QR code encodes (and an electronic bill's "Consulter la transaction
    /// en ligne" link).
    pub qr_url: String,
    /// Why it is kept, when offline.
    pub reason: Option<String>,
    /// The authority's errors, when refused.
    pub errors: Vec<AuthorityErrorJson>,
    /// What to do with it, when refused.
    pub resend: Option<ResendAdvice>,
    /// What happened to the pending transactions that went with it.
    pub batch: DeliveryJson,
    /// The transaction as signed and recorded (the wire's JSON).
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub transaction: serde_json::Value,
}

impl Transmission {
    /// The transmission as JSON.
    pub fn to_json(&self) -> TransmissionJson {
        let mut body = TransmissionJson {
            outcome: TransmissionOutcome::Offline,
            no_trans: self.transaction.sale.number.to_string(),
            outbox_id: self.outbox_id,
            device_id: self.device_id.to_string(),
            psi_no_trans: None,
            psi_dat_trans: None,
            no_lot: None,
            mention: self.outcome.mention().map(str::to_owned),
            mentions: self
                .mentions
                .iter()
                .map(|m| MentionJson {
                    order: m.order,
                    text: m.text.clone(),
                })
                .collect(),
            qr_url: self.qr_url.clone(),
            reason: None,
            errors: Vec::new(),
            resend: None,
            batch: self.batch.to_json(),
            transaction: self.transaction.to_json(),
        };
        match &self.outcome {
            Outcome::Transmitted {
                psi_no_trans,
                psi_dat_trans,
            } => {
                body.outcome = TransmissionOutcome::Transmitted;
                body.psi_no_trans = Some(psi_no_trans.clone());
                body.psi_dat_trans = Some(psi_dat_trans.clone());
            }
            Outcome::Batched { no_lot, .. } => {
                body.outcome = TransmissionOutcome::Batched;
                body.no_lot = Some(no_lot.clone());
            }
            Outcome::Refused { errors, resend } => {
                body.outcome = TransmissionOutcome::Refused;
                body.errors = AuthorityErrorJson::all(errors);
                body.resend = Some(ResendAdvice::of(*resend));
            }
            Outcome::Offline { reason } => body.reason = Some(reason.clone()),
        }
        body
    }
}

/// A transaction waiting to be sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = PendingBody))]
pub struct PendingJson {
    /// Its place in the outbox.
    pub outbox_id: i64,
    /// `noTrans`.
    #[serde(rename = "noTrans")]
    pub no_trans: String,
    /// The device it started on.
    pub device_id: String,
    /// The operator whose certificate signed it.
    pub identification_number: String,
    /// When it was recorded (RFC 3339).
    pub recorded_at: String,
    /// How many requests carried it.
    pub attempts: u32,
}

/// Offline mode, while it lasts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = OfflineBody))]
pub struct OfflineJson {
    /// Since when (RFC 3339).
    pub since: String,
    /// The communication failure that started it.
    pub reason: String,
}

/// The outbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(as = OutboxBody))]
pub struct OutboxJson {
    /// Transactions waiting to be sent.
    pub pending: u64,
    /// How long the oldest has waited, in seconds.
    pub oldest_age_seconds: Option<i64>,
    /// Offline mode, if on.
    pub offline: Option<OfflineJson>,
    /// The pending transactions, oldest first (at most `limit`).
    pub transactions: Vec<PendingJson>,
    /// What a flush just did, for `POST /v1/outbox/flush`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flushed: Option<DeliveryJson>,
}

impl Outbox {
    /// The outbox as JSON, with what a flush just did.
    pub fn to_json(&self, flushed: Option<&Delivery>) -> OutboxJson {
        let rfc3339 = |t: time::OffsetDateTime| t.format(&Rfc3339).unwrap_or_default();
        OutboxJson {
            pending: self.pending,
            oldest_age_seconds: self.oldest_age.map(|a| a.whole_seconds()),
            offline: self.offline.as_ref().map(|off| OfflineJson {
                since: rfc3339(off.since),
                reason: off.reason.clone(),
            }),
            transactions: self
                .entries
                .iter()
                .map(|e| PendingJson {
                    outbox_id: e.id,
                    no_trans: e.no_trans.clone(),
                    device_id: e.device.to_string(),
                    identification_number: e.slot.operator.to_string(),
                    recorded_at: rfc3339(e.recorded_at),
                    attempts: e.attempts,
                })
                .collect(),
            flushed: flushed.map(Delivery::to_json),
        }
    }
}
