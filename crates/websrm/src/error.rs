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
    #[error("communication error: {cause}; the request will be completed by the next recovery")]
    Communication {
        /// Why: the client's error.
        cause: websrm_domain::Source,
    },
    /// The authority could not be reached; nothing was sent and nothing was kept.
    #[error("the authority cannot be reached: {cause}")]
    Unreachable {
        /// Why: the client's error.
        cause: websrm_domain::Source,
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
    /// The operation replaces or deletes a certificate, or removes a user, and the user has not
    /// confirmed it.
    #[error(
        "replacing or deleting a certificate, or removing a user, must be confirmed by the user"
    )]
    NotConfirmed,
    /// No certificate of this device has this nickname.
    #[error("no certificate named {0} on this device")]
    NotFound(String),
    /// The slot already holds a certificate in force: replace it instead.
    #[error("{0} already has a certificate in force; replace it instead")]
    AlreadyEnrolled(String),
    /// The certificate is still in force: delete it at the authority ([`crate::Srs::delete`])
    /// rather than only removing it from the device.
    #[error("the certificate {0} is still in force; delete it instead")]
    InForce(String),
    /// A value entered is invalid.
    #[error(transparent)]
    Invalid(#[from] ParseError),
    /// A transaction the authority would refuse: what it would answer, with the same ids.
    #[error("the authority would refuse this transaction: {}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Transaction(Vec<websrm_protocol::transaction::Finding>),
    /// An idempotency key is empty, longer than 255 characters, or not visible ASCII.
    #[error("an idempotency key is 1 to 255 visible ASCII characters")]
    InvalidIdempotencyKey,
    /// The idempotency key was used before for another request: a retry must send the same
    /// request again, and a new request needs a new key.
    #[error("the idempotency key {0} was used for another request")]
    IdempotencyConflict(crate::IdempotencyKey),
    /// The subject's values are inconsistent (e.g. the identification number is not the start of
    /// the QST number).
    #[error("the certificate's details are inconsistent: {0:?}")]
    Subject(SubjectFinding),
    /// The certificate cannot be used for this (expired, revoked, refused by the authority, not
    /// valid yet); the notice says what to do instead, in French and English: for a
    /// certificate that has ended, obtain a new one with [`crate::Srs::enrol`].
    #[error("{}", .notice.english)]
    Unusable {
        /// The certificate's nickname.
        nickname: String,
        /// Its health.
        health: websrm_domain::Health,
        /// What to tell the user.
        notice: crate::Notice,
    },
    /// The sealed key of a slot cannot be opened on this device (another key-encryption key, a
    /// damaged store): a local failure, and nothing was sent.
    #[error("the key of {slot} cannot be opened on this device")]
    SealedKey {
        /// The slot.
        slot: String,
        /// Why.
        #[source]
        source: websrm_crypto::Error,
    },
    /// The key-encryption key is missing although the store holds sealed keys (the key file was
    /// lost or the database copied without it): nothing can be opened.
    #[error("the key-encryption key is missing but the store holds sealed keys: {0}")]
    KeyMissing(String),
    /// The authority answered with something that is not a certificate for the request.
    #[error("the authority's answer cannot be used: {0}")]
    BadAnswer(String),
    /// Something on this device failed beneath websrm (a QR code that cannot hold its URL, a
    /// body that cannot be written as JSON, the clock's arithmetic): a local failure, and
    /// nothing was sent.
    #[error("{what}: {cause}")]
    Local {
        /// What was being done.
        what: &'static str,
        /// The lower error.
        cause: websrm_domain::Source,
    },
    /// The blocking front could not start its runtime (a local failure).
    #[error("cannot start the network runtime: {0}")]
    Runtime(websrm_domain::Source),
    /// The local store failed.
    #[error("device store")]
    Store(#[source] websrm_store::Error),
    /// A cryptographic operation failed.
    #[error("cryptography")]
    Crypto(#[from] websrm_crypto::Error),
}

impl From<websrm_store::Error> for Error {
    fn from(e: websrm_store::Error) -> Self {
        match e {
            websrm_store::Error::DeviceIdConflict { existing, offered } => {
                Self::DeviceIdConflict { existing, offered }
            }
            other => Self::Store(other),
        }
    }
}
