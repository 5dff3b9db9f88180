//! The certificate side of WEB-SRM for sales recording systems (SRS), in one crate: keys and
//! CSRs, enrolment, replacement and deletion, the device identifier, a secure local store, expiry
//! warnings, the billing guard and transaction signatures, wire-compatible with Revenu Québec's
//! WEB-SRM.
//!
//! # Guide
//!
//! Configure once, open, and ask for a certificate with what the operator enters (this example
//! is also the README's):
//!
//! ```no_run
//! use websrm::{Config, DeviceIdAnswer, OperatorEnrolment, ProductIdentity, Srs};
//! use websrm::domain::Environment;
//!
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! // The vendor's product identity, from "Mon dossier pour les partenaires".
//! let product = ProductIdentity::new(
//!     "0000000000000001".parse()?, "0000000000000002".parse()?, "0000000000000003".parse()?,
//!     "FOB201999999".parse()?, "1.0.0".parse()?, "0".parse()?,
//! );
//! let srs = Srs::open(Config::new(Environment::Dev, product, "/var/lib/pos/websrm.db"))?;
//! srs.recover().await?; // finish anything a crash interrupted
//!
//! // Before a first request, the user says whether they already have a device identifier.
//! let answer = if srs.device_id()?.is_none() { Some(DeviceIdAnswer::RequestNew) } else { None };
//! let request = OperatorEnrolment::parse(
//!     "5678912340", "D8T8-W8W8", "RBC", "5678912340TQ0001", "ER0001", "Caisse du bar", "-05:00",
//! )?;
//! let certificate = srs.enrol(&request, answer).await?;
//! println!("device {:?}, certificate {} valid until {}",
//!     srs.device_id()?, certificate.serial, certificate.validity.not_after());
//!
//! // Every day: warn before expiry, and block billing when the certificate cannot be used.
//! for c in srs.certificates(time::OffsetDateTime::now_utc())? {
//!     if let Some(warning) = c.warning { println!("{}", warning.french); }
//! }
//! # Ok(()) }
//! ```
//!
//! Errors of the authority come back as [`Error::Refused`] with each error's id, `codRetour` and
//! message, and are also written to the device's history. A request whose answer was lost is
//! kept and finished by [`Srs::recover`]: no key or certificate is ever orphaned, and the same
//! certificate is not requested twice.
//!
//! The API is async (tokio); [`blocking::Srs`] offers the same calls for SRSs that are not. Everything the device stores is in one SQLite file; private keys in
//! it are sealed with a key-encryption key that a [`KeyProtector`] supplies (by default a file
//! beside the database, readable by its owner only).
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod blocking;
mod config;
mod error;
pub mod essai;
mod notices;
mod srs;
#[cfg(feature = "serde")]
pub mod views;

pub use config::{AuthorityAddress, Config, SystemClock};
pub use error::Error;
pub use notices::{BillingGuard, INVALID_CERTIFICATE_MENTIONS, Notice, warning};
#[cfg(feature = "qr-image")]
pub use srs::qr_svg;
pub use srs::{
    ANSWERS_KEPT, BACK_OFFICE_INSTALLATION, COMMUNICATION_PROBLEM, CertificatePem, CertificateView,
    Changes, Confirmation, Delivery, DeviceIdAnswer, IdempotencyKey, MAX_REQUEST_BYTES,
    OperatorEnrolment, Origin, Outbox, Outcome, RecoveryReport, RememberedAnswer, Resend,
    RevocationCheck, SERVER_INSTALLATION, SignedTransaction, Srs, TaxNumbersAnswer,
    TransactionData, Transmission, request_digest,
};
pub use websrm_crypto::{Preceding, Signature, TransactionSignatureInput};

/// The domain types a vendor names: identifiers and numbers, the CSR subject, the certificate's
/// lifecycle and health, error ids and `codRetour`, the clock, and the published test data. Each
/// is named here rather than the whole of `websrm-domain` re-exported, so that what the facade
/// promises is this list (the domain crate's shape checker and raw subject attributes are not in
/// it).
pub mod domain {
    pub use websrm_domain::published;
    pub use websrm_domain::time;
    pub use websrm_domain::{
        AuthorizationCode, CertificateState, CertificationCode, CharClass, Clock, DeviceId,
        DeviceIdState, Environment, ErrorId, FileNumber, FixedClock, GstNumber, Health,
        IdentificationNumber, InitiatingDevice, Kind, Nickname, Origin, ParseError, PartnerId,
        ProductMode, QstNumber, ReturnCode, RevocationChannel, RevocationReason, Sector,
        SerialNumber, ServerSubject, SoftwareVersion, Source, SrsId, SrsSubject, SrsSubjectFields,
        Subject, SubjectFinding, TestCase, Thumbprint, UtcOffset, VALIDITY_YEARS, Validity,
        VersionId, WarningPolicy,
    };
}

/// Every WEB-SRM error id explained: messages, `codRetour`, who can fix it, what to do next.
/// Documents: the user report and the habitual third party's declaration, as
/// [`Srs::send_document`] signs and sends them.
pub use websrm_protocol::document;
pub use websrm_protocol::explain;
pub use websrm_protocol::headers::ProductIdentity;
pub use websrm_protocol::transaction;
pub use websrm_protocol::wire::AuthorityError;
pub use websrm_store::device::{
    EndState, HistoryEntry, HistoryEvent, Offline, OutboxEntry, OutboxState, Receipt, SlotKey,
    Terminal,
};
pub use websrm_store::{FileKeyProtector, KeyProtector, Zeroizing};

/// Kills the process with SIGKILL at the named point when `WEBSRM_CRASH_AT` names it (as
/// `NAME`, or `NAME:N` for its N-th passage), for the crash-recovery tests (feature `test-util`).
#[cfg(feature = "test-util")]
#[doc(hidden)]
pub fn crash_point(name: &str) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static PASSAGES: AtomicUsize = AtomicUsize::new(0);
    let Ok(spec) = std::env::var("WEBSRM_CRASH_AT") else {
        return;
    };
    let (point, nth) = match spec.split_once(':') {
        Some((p, n)) => (p.to_owned(), n.parse().unwrap_or(1)),
        None => (spec, 1),
    };
    if point == name && PASSAGES.fetch_add(1, Ordering::SeqCst) + 1 == nth {
        let _ = std::process::Command::new("kill")
            .args(["-9", &std::process::id().to_string()])
            .status();
        std::thread::sleep(std::time::Duration::from_secs(60));
    }
}
