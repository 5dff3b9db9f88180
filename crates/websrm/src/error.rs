//! The facade's error.

use websrm_domain::{DeviceId, ParseError, SubjectFinding};
use websrm_protocol::wire::AuthorityError;

/// What went wrong, in terms an SRS can show and act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The authority refused the request; each error has its id, `codRetour` and message, and
    /// is recorded in the device history. Show them to the user.
    #[error("the authority refused the request: {}", .errors.iter().map(|e| format!("{} ({})", e.id, e.message)).collect::<Vec<_>>().join("; "))]
    Refused {
        /// The errors, in the authority's order.
        errors: Vec<AuthorityError>,
        /// Whether sending the same request again may succeed (every error retransmittable);
        /// the request is then kept and [`crate::Srs::recover`] sends it again.
        retransmittable: bool,
    },
    /// The request may have reached the authority but no valid answer came back. It is kept, and
    /// [`crate::Srs::recover`] finishes it; nothing is lost and nothing is requested twice.
    #[error("communication error: {reason}; the request will be completed by the next recovery")]
    Communication {
        /// Why.
        reason: String,
    },
    /// The authority could not be reached; nothing was sent and nothing was kept.
    #[error("the authority cannot be reached: {reason}")]
    Unreachable {
        /// Why.
        reason: String,
    },
    /// This device has no identifier yet: ask the user whether they already have one for it
    /// ("Avez-vous un identifiant pour cet appareil?") and pass the answer.
    #[error("the device has no identifier yet: ask the user whether they already have one")]
    DeviceIdQuestion,
    /// Another identifier is already recorded for this device.
    #[error("this device already has the identifier {existing}; {offered} was refused")]
    DeviceIdConflict {
        /// The identifier on record.
        existing: DeviceId,
        /// The identifier offered.
        offered: DeviceId,
    },
    /// The operation replaces or deletes a certificate and the user has not confirmed it.
    #[error("replacing or deleting a certificate must be confirmed by the user")]
    NotConfirmed,
    /// No certificate of this device has this nickname.
    #[error("no certificate named {0} on this device")]
    NotFound(String),
    /// The slot already holds a certificate: replace it instead.
    #[error("{0} already has a certificate; replace it instead")]
    AlreadyEnrolled(String),
    /// A value entered is invalid.
    #[error(transparent)]
    Invalid(#[from] ParseError),
    /// The subject's values are inconsistent (e.g. the identification number is not the start of
    /// the QST number).
    #[error("the certificate's details are inconsistent: {0:?}")]
    Subject(SubjectFinding),
    /// The certificate cannot be used now (expired, revoked, not valid yet): replace it or obtain a
    /// new one.
    #[error("the certificate {nickname} cannot be used ({health:?})")]
    Unusable {
        /// The certificate's nickname.
        nickname: String,
        /// Its health.
        health: websrm_domain::Health,
    },
    /// The key-encryption key is missing although the store holds sealed keys (the key file was
    /// lost or the database copied without it): nothing can be opened.
    #[error("the key-encryption key is missing but the store holds sealed keys: {0}")]
    KeyMissing(String),
    /// The authority answered with something that is not a certificate for the request.
    #[error("the authority's answer cannot be used: {0}")]
    BadAnswer(String),
    /// The local store failed.
    #[error("device store: {0}")]
    Store(String),
    /// A cryptographic operation failed.
    #[error("cryptography: {0}")]
    Crypto(String),
}

impl From<websrm_store::Error> for Error {
    fn from(e: websrm_store::Error) -> Self {
        match e {
            websrm_store::Error::DeviceIdConflict { existing, offered } => {
                Self::DeviceIdConflict { existing, offered }
            }
            other => Self::Store(other.to_string()),
        }
    }
}

impl From<websrm_crypto::Error> for Error {
    fn from(e: websrm_crypto::Error) -> Self {
        Self::Crypto(e.to_string())
    }
}
