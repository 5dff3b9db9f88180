//! The facade's views as JSON (feature `serde`): one shape for every program that shows them,
//! so that the agent's API (`GET /v1/certificates`) and the CLI's `--json` cannot diverge. With
//! the feature `openapi`, each has its OpenAPI schema.

use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;
use websrm_domain::Health;

use crate::{BACK_OFFICE_INSTALLATION, CertificateView, SERVER_INSTALLATION};

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
