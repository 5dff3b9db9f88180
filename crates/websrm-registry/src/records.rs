//! What the registry holds and returns: operators, codes, products, partners, devices,
//! certificates and their events, and the writer's counts.

use time::OffsetDateTime;
use websrm_domain::{
    CertificateState, DeviceId, Environment, FileNumber, GstNumber, IdentificationNumber, Nickname,
    PartnerId, ProductIdentity, ProductMode, QstNumber, Sector, SerialNumber, Thumbprint, Validity,
    VersionState,
};

/// An operator's row id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OperatorId(pub i64);

impl std::fmt::Display for OperatorId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// An operator (or a server administrator) to register.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct NewOperator {
    /// The identification number (the CSR's CN).
    pub identification_number: IdentificationNumber,
    /// The legal name.
    pub legal_name: String,
    /// The QST number; `None` for a server administrator.
    pub qst_number: Option<QstNumber>,
    /// The GST number.
    pub gst_number: Option<GstNumber>,
    /// The mandatory-billing file numbers with their sector.
    pub file_numbers: Vec<(FileNumber, Sector)>,
}

impl NewOperator {
    /// An operator with no tax or file numbers yet.
    pub fn new(identification_number: IdentificationNumber, legal_name: impl Into<String>) -> Self {
        Self {
            identification_number,
            legal_name: legal_name.into(),
            qst_number: None,
            gst_number: None,
            file_numbers: Vec::new(),
        }
    }
}

/// A registered operator.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Operator {
    /// The row id.
    pub id: OperatorId,
    /// The identification number.
    pub identification_number: IdentificationNumber,
    /// The legal name.
    pub legal_name: String,
    /// The QST number.
    pub qst_number: Option<QstNumber>,
    /// The GST number.
    pub gst_number: Option<GstNumber>,
    /// The file numbers with their sector.
    pub file_numbers: Vec<(FileNumber, Sector)>,
    /// When registered.
    pub created_at: OffsetDateTime,
    /// When the authority disabled it: its authorization codes and its password for the
    /// online services no longer work (its certificates are not revoked by that).
    pub disabled_at: Option<OffsetDateTime>,
}

/// An authorization code on record.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AuthorizationCodeRecord {
    /// Whose code it is.
    pub operator: OperatorId,
    /// The sector it was issued for.
    pub sector: Sector,
    /// When it becomes usable (up to 90 minutes after issuance at Revenu Québec).
    pub activated_at: OffsetDateTime,
    /// When a newer code superseded it.
    pub superseded_at: Option<OffsetDateTime>,
}

/// A secret an operator proves, each with its own count of failures and its own lockout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Credential {
    /// Authorization codes, presented in the subject of a certificate request.
    AuthorizationCode,
    /// The password of the online services.
    Password,
}

impl Credential {
    /// The columns holding its count, window start and lockout end.
    pub(crate) fn columns(self) -> (&'static str, &'static str, &'static str) {
        match self {
            Self::AuthorizationCode => ("failed_attempts", "first_failure_at", "locked_until"),
            Self::Password => (
                "password_failed_attempts",
                "password_first_failure_at",
                "password_locked_until",
            ),
        }
    }
}

/// What [`Registry::reserve_attempt`](super::Registry::reserve_attempt) decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Reservation {
    /// The attempt may be verified; it is already counted as a failure (and the state it left
    /// is given), until [`Registry::clear_attempts`](super::Registry::clear_attempts) gives it back on success.
    Granted(AttemptState),
    /// The credential is locked out until then; nothing was counted.
    Locked(OffsetDateTime),
}

/// Failed authorization attempts of an operator, for lockout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct AttemptState {
    /// Failures counted in the current window.
    pub failures: u32,
    /// When the current window started.
    pub first_failure_at: Option<OffsetDateTime>,
    /// Until when the operator is locked out.
    pub locked_until: Option<OffsetDateTime>,
}

impl AttemptState {
    /// A state with these values.
    pub fn new(
        failures: u32,
        first_failure_at: Option<OffsetDateTime>,
        locked_until: Option<OffsetDateTime>,
    ) -> Self {
        Self {
            failures,
            first_failure_at,
            locked_until,
        }
    }
}

/// What the registry's writer has done (see [`Registry::writer_stats`](super::Registry::writer_stats)).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct WriterStats {
    /// Batches (transactions) run.
    pub batches: u64,
    /// Writes they held: `writes / batches` is the mean batch size.
    pub writes: u64,
    /// Batches that did not commit.
    pub failed_batches: u64,
    /// Time from each batch's start to its commit, summed.
    pub busy: std::time::Duration,
    /// Calls made on the write connection: statements, and transaction control (a write's
    /// savepoint released and the next set count once). On PostgreSQL each is a round trip.
    pub round_trips: u64,
    /// Calls made on the read connections, each a round trip on PostgreSQL.
    pub read_round_trips: u64,
}

/// A version of an SRS product, registered for an environment.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Product {
    /// The environment.
    pub environment: Environment,
    /// The identity its SRS sends (`IDPARTN`, `IDSEV`, `IDVERSI`, `CODCERTIF`, `VERSI`,
    /// `VERSIPARN`).
    pub identity: ProductIdentity,
    /// Where this version stands (registered, awaiting certification, certified, withdrawn).
    pub state: VersionState,
    /// The modes the product is registered with.
    pub mode: ProductMode,
    /// The sectors it serves (`RBC`, `TRP`), in order, without repeats.
    pub sectors: Vec<Sector>,
}

impl Product {
    /// A product version, registered for both modes and every SRS sector until
    /// [`Product::with_mode`] and [`Product::with_sectors`] say otherwise.
    pub fn new(environment: Environment, identity: ProductIdentity, state: VersionState) -> Self {
        Self {
            environment,
            identity,
            state,
            mode: ProductMode::Both,
            sectors: vec![Sector::Restaurant, Sector::Transport],
        }
    }

    /// The same version with these modes.
    #[must_use]
    pub fn with_mode(mut self, mode: ProductMode) -> Self {
        self.mode = mode;
        self
    }

    /// The same version serving these sectors (sorted, repeats dropped).
    #[must_use]
    pub fn with_sectors(mut self, sectors: impl IntoIterator<Item = Sector>) -> Self {
        let mut sectors: Vec<Sector> = sectors.into_iter().collect();
        sectors.sort_unstable();
        sectors.dedup();
        self.sectors = sectors;
        self
    }

    /// Whether operators may use this version in production.
    pub fn is_certified(&self) -> bool {
        self.state.is_certified()
    }
}

/// A developer (partner) whose products the authority registers.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Partner {
    /// `IDPARTN`.
    pub partner_id: PartnerId,
    /// The developer's name, as given when registering it (may be empty).
    pub name: String,
    /// Whether the developer is registered for the conformity environments: DEV and ESSAI refuse
    /// an unregistered developer's requests (063E, 064E); production still serves its certified
    /// versions.
    pub registered: bool,
}

/// A device identifier the authority issued.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeviceRecord {
    /// The identifier.
    pub device_id: DeviceId,
    /// When issued.
    pub issued_at: OffsetDateTime,
    /// The operator whose request obtained it.
    pub operator: Option<OperatorId>,
    /// For a terminal, the device it is attached to.
    pub host: Option<DeviceId>,
}

/// A certificate to record as issued.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct NewCertificate {
    /// The serial number.
    pub serial: SerialNumber,
    /// The thumbprint.
    pub thumbprint: Thumbprint,
    /// The environment.
    pub environment: Environment,
    /// The operator.
    pub operator: OperatorId,
    /// The device, for an SRS certificate.
    pub device: Option<DeviceId>,
    /// The nickname (SN).
    pub nickname: Nickname,
    /// The subject, as text.
    pub subject: String,
    /// The validity.
    pub validity: Validity,
    /// The DER.
    pub der: Vec<u8>,
    /// Who issued it (the request's channel or an agent).
    pub actor: String,
    /// The identifier of the certified public key (hex SHA-1), to recognise a retransmitted
    /// request for the same key.
    pub key_id: Option<String>,
    /// For a terminal's first enrolment, the host device that asked for it: the new device
    /// identifier is recorded as that host's terminal.
    pub host: Option<DeviceId>,
}

impl NewCertificate {
    /// The same record, for a terminal of the device `host`.
    pub fn with_host(mut self, host: Option<DeviceId>) -> Self {
        self.host = host;
        self
    }

    /// The same record with the identifier of its public key.
    pub fn with_key_id(mut self, key_id: &[u8]) -> Self {
        self.key_id = Some(key_id.iter().map(|b| format!("{b:02X}")).collect());
        self
    }

    /// A certificate record.
    #[allow(clippy::too_many_arguments)] // One field each; all are required.
    pub fn new(
        serial: SerialNumber,
        thumbprint: Thumbprint,
        environment: Environment,
        operator: OperatorId,
        device: Option<DeviceId>,
        nickname: Nickname,
        subject: String,
        validity: Validity,
        der: Vec<u8>,
        actor: impl Into<String>,
    ) -> Self {
        Self {
            serial,
            thumbprint,
            environment,
            operator,
            device,
            nickname,
            subject,
            validity,
            der,
            actor: actor.into(),
            key_id: None,
            host: None,
        }
    }
}

/// A certificate on record.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CertificateRecord {
    /// The serial number.
    pub serial: SerialNumber,
    /// The thumbprint.
    pub thumbprint: Thumbprint,
    /// The environment.
    pub environment: Environment,
    /// The operator.
    pub operator: OperatorId,
    /// The device.
    pub device: Option<DeviceId>,
    /// The nickname.
    pub nickname: Nickname,
    /// The subject, as text.
    pub subject: String,
    /// The validity.
    pub validity: Validity,
    /// The DER.
    pub der: Vec<u8>,
    /// The recorded state (expiry follows from the validity).
    pub state: CertificateState,
    /// When issued.
    pub issued_at: OffsetDateTime,
    /// The certificate that replaced it.
    pub replaced_by: Option<SerialNumber>,
    /// When it was replaced, deleted or revoked.
    pub ended_at: Option<OffsetDateTime>,
    /// Who replaced, deleted or revoked it.
    pub ended_by: Option<String>,
}

/// A transition of a certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CertificateEvent {
    /// When.
    pub at: OffsetDateTime,
    /// `issued`, `replaced`, `deleted` or `revoked`.
    pub event: String,
    /// Who.
    pub actor: String,
    /// Details (the replacing serial, the revocation reason and channel).
    pub detail: String,
}
