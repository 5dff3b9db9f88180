//! What an SRS shows: expiry warnings and the billing guard.

use websrm_domain::Health;

/// A message to show the user, in French and English.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Notice {
    /// In French.
    pub french: String,
    /// In English.
    pub english: String,
}

/// The warning to display for a certificate's health, if any.
pub fn warning(nickname: &str, health: Health) -> Option<Notice> {
    let (french, english) = match health {
        Health::Valid => return None,
        Health::ReplacementRecommended => (
            format!(
                "Le certificat « {nickname} » a dépassé la moitié de sa durée de validité. Revenu Québec recommande de le remplacer."
            ),
            format!(
                "Certificate \"{nickname}\" is past half of its validity. Revenu Québec recommends replacing it."
            ),
        ),
        Health::ExpiringSoon { days_left } => (
            format!(
                "Le certificat « {nickname} » expire dans {days_left} jour(s). Remplacez-le : après son expiration, le SEV ne pourra plus produire de factures ni transmettre de données."
            ),
            format!(
                "Certificate \"{nickname}\" expires in {days_left} day(s). Replace it: once expired, the SRS can no longer produce bills or transmit data."
            ),
        ),
        Health::NotYetValid => (
            format!(
                "Le certificat « {nickname} » n'est pas encore valide. Vérifiez l'heure de l'appareil."
            ),
            format!("Certificate \"{nickname}\" is not valid yet. Check the device's clock."),
        ),
        Health::Expired => (
            format!(
                "Le certificat « {nickname} » est expiré. Obtenez un nouveau certificat pour produire des factures."
            ),
            format!(
                "Certificate \"{nickname}\" has expired. Obtain a new certificate to produce bills."
            ),
        ),
        Health::Revoked => (
            format!("Le certificat « {nickname} » a été révoqué. Obtenez un nouveau certificat."),
            format!("Certificate \"{nickname}\" was revoked. Obtain a new certificate."),
        ),
        Health::Refused => (
            format!(
                "Le certificat « {nickname} » a été refusé par l'autorité (révoqué, supprimé ou remplacé). Obtenez un nouveau certificat."
            ),
            format!(
                "Certificate \"{nickname}\" was refused by the authority (revoked, deleted or replaced). Obtain a new certificate."
            ),
        ),
        Health::Deleted | Health::Replaced => return None,
        _ => (
            format!("Le certificat « {nickname} » ne peut pas être utilisé."),
            format!("Certificate \"{nickname}\" cannot be used."),
        ),
    };
    Some(Notice { french, english })
}

/// The mentions a bill produced with an invalid certificate must bear, when the SRS could not
/// prevent printing it.
pub const INVALID_CERTIFICATE_MENTIONS: [&str; 2] =
    ["*** CERTIFICAT INVALIDE ***", "NE PAS REMETTRE AU CLIENT"];

/// Whether the SRS may produce bills now.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum BillingGuard {
    /// It may: the certificate is in force.
    Allowed,
    /// It may not. If a bill is printed anyway, it must bear [`INVALID_CERTIFICATE_MENTIONS`]
    /// and must not be handed to the customer.
    Blocked {
        /// Why, for the user.
        reason: Notice,
        /// The mandatory mentions.
        mentions: [&'static str; 2],
    },
}
