//! The SRS: enrolment, replacement, deletion, recovery, status, billing guard and signatures.
//!
//! `lifecycle.rs`: enrolment, replacement, deletion and recovery; `revocation.rs`: the CRL
//! check; `signatures.rs`: certificates' health, the billing guard and transaction signatures;
//! `terminals.rs`: terminals, history and reset; `sales.rs`: typed sales signed;
//! `transmit.rs`: the outbox, transmission and offline mode; `relay.rs`: the remote server of
//! the server mode, which transmits what its devices signed.

use std::sync::Mutex;

use time::OffsetDateTime;
use websrm_crypto::tls::ClientIdentity;
use websrm_crypto::{
    Csr, KeyEncryptionKey, PrivateKey, SealedKey, Signature, TransactionSignatureInput,
    inspect_certificate, pem, signatransm_input,
};
use websrm_domain::{
    AuthorizationCode, CertificateState, DeviceId, DeviceIdState, FileNumber, Health,
    IdentificationNumber, InitiatingDevice, Nickname, QstNumber, Sector, SerialNumber,
    ServerSubject, Source, SrsSubject, SrsSubjectFields, Subject, TestCase, Thumbprint, UtcOffset,
    Validity,
};
use websrm_protocol::catalogue::ErrorCode;
use websrm_protocol::client::{CertificateClient, ClientError};
use websrm_protocol::headers::CertificateHeaders;
use websrm_protocol::wire::{CertificateAnswer, IssuedCertificate, Modification};
use websrm_store::device::{
    CertificateMaterial, EndState, Extension, PendingKind, PendingRequest, Slot, SlotKey,
    SlotStatus,
};
use websrm_store::{DeviceStore, FileKeyProtector, KeyProtector};

use crate::notices::{BillingGuard, INVALID_CERTIFICATE_MENTIONS, Notice, warning};
use crate::{Config, Error};

mod answers;
mod documents;
mod lifecycle;
mod relay;
mod revocation;
mod sales;
mod signatures;
mod terminals;
mod transmit;
mod users;

pub use answers::{ANSWERS_KEPT, IdempotencyKey, request_digest};
pub use signatures::{CertificatePem, Origin, SignedTransaction, TransactionData};
#[cfg(feature = "qr-image")]
pub use transmit::qr_svg;
pub use transmit::{
    COMMUNICATION_PROBLEM, Delivery, MAX_REQUEST_BYTES, Outbox, Outcome, Resend, Transmission,
};
pub use users::TaxNumbersAnswer;
pub use websrm_store::device::RememberedAnswer;

/// The answer to "do you already have an identifier for this device?", asked before a first
/// request when the device has none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DeviceIdAnswer {
    /// Yes: this is it (it is recorded first, and used).
    IHaveOne(DeviceId),
    /// No: the authority assigns one with the certificate.
    RequestNew,
}

/// What an operator enters to obtain a certificate for an SRS.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct OperatorEnrolment {
    /// The identification number (CN).
    pub identification_number: IdentificationNumber,
    /// The authorization code.
    pub authorization_code: AuthorizationCode,
    /// The sector (RBC or TRP).
    pub sector: Sector,
    /// The QST number.
    pub qst_number: QstNumber,
    /// The mandatory-billing file number.
    pub file_number: FileNumber,
    /// The certificate's nickname, to find it later in the online services.
    pub nickname: Nickname,
    /// `-05:00`, or `-04:00` in the Îles-de-la-Madeleine.
    pub utc_offset: UtcOffset,
}

impl OperatorEnrolment {
    /// The values an operator enters, already parsed.
    pub fn new(
        identification_number: IdentificationNumber,
        authorization_code: AuthorizationCode,
        sector: Sector,
        qst_number: QstNumber,
        file_number: FileNumber,
        nickname: Nickname,
        utc_offset: UtcOffset,
    ) -> Self {
        Self {
            identification_number,
            authorization_code,
            sector,
            qst_number,
            file_number,
            nickname,
            utc_offset,
        }
    }

    /// The values an operator enters, read from text.
    pub fn parse(
        identification_number: &str,
        authorization_code: &str,
        sector: &str,
        qst_number: &str,
        file_number: &str,
        nickname: &str,
        utc_offset: &str,
    ) -> Result<Self, Error> {
        Ok(Self {
            identification_number: identification_number.parse()?,
            authorization_code: authorization_code.parse()?,
            sector: sector.parse()?,
            qst_number: qst_number.parse()?,
            file_number: file_number.parse()?,
            nickname: nickname.parse()?,
            utc_offset: utc_offset.parse()?,
        })
    }

    fn subject(&self) -> Result<Subject, Error> {
        SrsSubject::new(SrsSubjectFields {
            identification_number: self.identification_number.clone(),
            sector: self.sector,
            authorization_code: self.authorization_code.clone(),
            nickname: self.nickname.clone(),
            qst_number: self.qst_number.clone(),
            file_number: self.file_number.clone(),
            utc_offset: self.utc_offset,
        })
        .map(Subject::Srs)
        .map_err(Error::Subject)
    }
}

/// A certificate of this device, with its health at a moment.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CertificateView {
    /// The slot: environment, operator and installation.
    pub slot: SlotKey,
    /// The nickname.
    pub nickname: Nickname,
    /// The serial number (`noSerie`).
    pub serial: SerialNumber,
    /// The thumbprint.
    pub thumbprint: Thumbprint,
    /// The validity.
    pub validity: Validity,
    /// The health at the moment asked for.
    pub health: Health,
    /// What to show the user, if anything.
    pub warning: Option<Notice>,
}

/// What a replacement changes in the current certificate's details; everything else is kept.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Changes {
    /// A new authorization code (the operator received one that superseded the old).
    pub authorization_code: Option<AuthorizationCode>,
    /// A new nickname.
    pub nickname: Option<Nickname>,
    /// A new UTC offset.
    pub utc_offset: Option<UtcOffset>,
}

impl Changes {
    /// No change.
    pub fn none() -> Self {
        Self::default()
    }

    /// A new authorization code.
    pub fn authorization_code(mut self, code: AuthorizationCode) -> Self {
        self.authorization_code = Some(code);
        self
    }

    /// A new nickname.
    pub fn nickname(mut self, nickname: Nickname) -> Self {
        self.nickname = Some(nickname);
        self
    }

    fn apply(&self, current: &Subject) -> Result<Subject, Error> {
        let code = self
            .authorization_code
            .clone()
            .unwrap_or_else(|| current.authorization_code().clone());
        let nickname = self
            .nickname
            .clone()
            .unwrap_or_else(|| current.nickname().clone());
        let offset = self.utc_offset.unwrap_or_else(|| current.utc_offset());
        match current {
            Subject::Srs(srs) => SrsSubject::new(SrsSubjectFields {
                identification_number: srs.identification_number().clone(),
                sector: srs.sector(),
                authorization_code: code,
                nickname,
                qst_number: srs.qst_number().clone(),
                file_number: srs.file_number().clone(),
                utc_offset: offset,
            })
            .map(Subject::Srs)
            .map_err(Error::Subject),
            Subject::Server(server) => Ok(Subject::Server(ServerSubject::new(
                server.identification_number().clone(),
                code,
                nickname,
                offset,
            ))),
        }
    }
}

/// The user's confirmation of a replacement or deletion, which the protocol requires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Confirmation {
    /// The user confirmed.
    Confirmed,
    /// The user has not confirmed.
    NotConfirmed,
}

/// What a recovery did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RecoveryReport {
    /// Requests completed with the authority's answer.
    pub completed: usize,
    /// Requests the authority refused; abandoned, their key discarded.
    pub abandoned: usize,
    /// Requests still pending (the authority is unreachable).
    pub still_pending: usize,
}

/// What a revocation check found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RevocationCheck {
    /// Nicknames of the certificates newly found revoked (now marked so on the device).
    pub newly_revoked: Vec<String>,
    /// The CRLs consulted (their URLs).
    pub consulted: Vec<String>,
    /// Nicknames of certificates for which no CRL is known: no CRL distribution point in the
    /// certificate and none configured. Their revocation is learned only from the authority's
    /// answers (`JW00B999011E`).
    pub without_crl: Vec<String>,
}

/// An SRS's certificate side: one per process, for one store file.
pub struct Srs {
    config: Config,
    store: Mutex<DeviceStore>,
    kek: KeyEncryptionKey,
    client: CertificateClient,
    /// Verified CRLs by URL, until their next update.
    crls: Mutex<std::collections::HashMap<String, websrm_crypto::CrlInfo>>,
    /// Issuer certificates fetched from the caIssuers address, by URL.
    issuers: Mutex<std::collections::HashMap<String, Vec<u8>>>,
    /// The `CASESSAI` sent with the next request; the authority's `casEssai` moves it on.
    test_case: Mutex<TestCase>,
    /// Held while transmitting: one call to `/transaction` at a time, so that no pending
    /// transaction goes in two requests at once.
    delivery: tokio::sync::Mutex<()>,
    /// The outbox entries whose own calls are waiting for their turn to send them: another
    /// call's batch leaves them to be sent as the current transactions they are.
    in_hand: Mutex<std::collections::HashSet<i64>>,
}

/// How a certificate on the device ended, if it did.
#[derive(Debug, Clone, Copy)]
struct Ended {
    state: EndState,
    since: OffsetDateTime,
}

impl std::fmt::Debug for Srs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Srs")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Srs {
    /// Opens the SRS's store (creating it on first use) and prepares the client.
    pub fn open(config: Config) -> Result<Self, Error> {
        let store = DeviceStore::open(&config.store)?;
        let protector: Box<dyn KeyProtector> = match &config.protector {
            Some(p) => Box::new(ProtectorRef(p.clone())),
            None => {
                let file = FileKeyProtector::beside(&config.store);
                // A missing key file would be replaced by a new key that opens nothing: refuse.
                if !file.path().exists()
                    && (!store.slots()?.is_empty() || !store.pending()?.is_empty())
                {
                    return Err(Error::KeyMissing(file.path().display().to_string()));
                }
                Box::new(file)
            }
        };
        let kek = KeyEncryptionKey::from_bytes(*protector.key_encryption_key()?);
        let (endpoints, trust) = config.endpoints_and_trust()?;
        let mut client = CertificateClient::new(endpoints, trust, config.environment);
        if let Some(timeout) = config.timeout {
            client = client.with_timeout(timeout);
        }
        let test_case = Mutex::new(config.test_case);
        Ok(Self {
            config,
            store: Mutex::new(store),
            kek,
            client,
            crls: Mutex::default(),
            issuers: Mutex::default(),
            test_case,
            delivery: tokio::sync::Mutex::new(()),
            in_hand: Mutex::new(std::collections::HashSet::new()),
        })
    }

    /// The name of this SRS installation on the device (`main` unless configured).
    pub fn installation(&self) -> &str {
        &self.config.installation
    }

    /// The `CASESSAI` the next request carries: the configured one
    /// ([`Config::with_test_case`]) at first, then the `casEssai` of each answer, so that the
    /// steps of a certification case follow one another as the authority directs.
    pub fn test_case(&self) -> TestCase {
        *lock(&self.test_case)
    }

    /// The certification step this device's next request is for, described for the tester
    /// (what to do in the point of sale, in French and English, and the document to keep);
    /// `None` outside a certification run (`000.000`).
    pub fn essai(&self) -> Option<crate::essai::Assignment> {
        crate::essai::assignment(self.test_case())
    }

    /// Sends `CASESSAI` = `test_case` with the next request (to start a case again at its
    /// first step, or to run a chosen step).
    pub fn set_test_case(&self, test_case: TestCase) {
        *lock(&self.test_case) = test_case;
    }

    /// Moves to the step the authority named in its answer, if any.
    fn follow(&self, answer: &CertificateAnswer) {
        if let Some(next) = answer.next_test_case {
            self.set_test_case(next);
        }
    }

    fn store(&self) -> std::sync::MutexGuard<'_, DeviceStore> {
        // Every store change is one transaction, so a panic elsewhere cannot leave it half done.
        self.store
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(crate) fn now(&self) -> OffsetDateTime {
        self.config.clock.now()
    }

    /// The device identifier, to show in the SRS and give to authorized staff who ask for it.
    pub fn device_id(&self) -> Result<Option<DeviceId>, Error> {
        Ok(self.store().device_id()?)
    }

    /// Records the identifier the user already has for this device (before a first request).
    pub fn enter_device_id(&self, id: DeviceId) -> Result<(), Error> {
        Ok(self.store().enter_device_id(id, self.now())?)
    }

    fn slot_key(&self, operator: &IdentificationNumber) -> SlotKey {
        SlotKey {
            environment: self.config.environment,
            operator: operator.clone(),
            installation: self.config.installation.clone(),
        }
    }

    fn headers(&self, device: Option<DeviceIdState>) -> CertificateHeaders {
        let initiating = if device.is_some() {
            InitiatingDevice::Srs
        } else {
            InitiatingDevice::Server
        };
        CertificateHeaders::new(
            self.config.environment,
            self.test_case(),
            initiating,
            device,
            &self.config.product,
        )
    }
}

fn client_error(e: ClientError) -> Error {
    match e {
        ClientError::Refused { errors, .. } => Error::Refused {
            retransmittable: retransmittable(&errors),
            errors,
        },
        ClientError::Communication { cause } => Error::Communication { cause },
        other => Error::Unreachable {
            cause: Source::new(other),
        },
    }
}

/// Whether sending the same request again may succeed: every error that has a `codRetour` is
/// retransmittable (the companion message, which has none, says nothing either way).
fn retransmittable(errors: &[websrm_protocol::wire::AuthorityError]) -> bool {
    let mut coded = errors.iter().filter(|e| e.return_code.is_some()).peekable();
    coded.peek().is_some() && coded.all(websrm_protocol::wire::AuthorityError::is_retransmittable)
}

/// Whether a pending request is for a server administrator's certificate: its identification
/// number has no QST number and the store does not know the difference, so the facade keeps
/// server slots under the installation name [`SERVER_INSTALLATION`].
fn is_server_slot(request: &PendingRequest) -> bool {
    request.slot.installation == SERVER_INSTALLATION
}

/// The installation name under which a server administrator's certificate is kept.
pub const SERVER_INSTALLATION: &str = "server";

/// The installation name of a back-office SRS beside the point of sale on the same device.
pub const BACK_OFFICE_INSTALLATION: &str = "back-office";

/// What to tell the user about a certificate that has ended, in French and English.
fn ended_notice(nickname: &str, ended: Ended) -> Notice {
    let date = ended.since.date();
    let (french, english) = match ended.state {
        EndState::Revoked => (
            format!("a été révoqué le {date}"),
            format!("was revoked on {date}"),
        ),
        EndState::Refused => (
            format!("a été refusé par l'autorité le {date} (révoqué, supprimé ou remplacé)"),
            format!("was refused by the authority on {date} (revoked, deleted or replaced)"),
        ),
        _ => (format!("a expiré le {date}"), format!("expired on {date}")),
    };
    Notice {
        french: format!(
            "Le certificat « {nickname} » {french} ; obtenez-en un nouveau avec « enrol » (une nouvelle demande avec le code d'autorisation)."
        ),
        english: format!(
            "Certificate \"{nickname}\" {english}; obtain a new one with `enrol` (a new request with the authorization code)."
        ),
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

struct ProtectorRef(std::sync::Arc<dyn KeyProtector>);

impl KeyProtector for ProtectorRef {
    fn key_encryption_key(&self) -> Result<websrm_store::Zeroizing<[u8; 32]>, websrm_store::Error> {
        self.0.key_encryption_key()
    }
}
