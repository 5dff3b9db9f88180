//! Request context: environment, test case, initiating device, device and product identifiers.

use std::fmt;
use std::str::FromStr;

use crate::error::{CharClass, Kind, ParseError};
use crate::macros::{code_enum, hex16_id, shaped_text};
use crate::shape;

code_enum! {
    /// The WEB-SRM environment a request is for (`ENVIRN`).
    ///
    /// Certificates are environment-specific: DEV and ESSAI share the conformity authority,
    /// PROD has its own, and a certificate of one is refused by the other.
    #[doc(alias = "ENVIRN")]
    pub enum Environment : Kind::Environment, "DEV, ESSAI or PROD" {
        /// Development: test cases in any order.
        Dev => "DEV",
        /// Certification test cases, in the prescribed order.
        Essai => "ESSAI",
        /// Production: operators only.
        Prod => "PROD",
    }
}

impl Environment {
    /// Whether this is a conformity environment (DEV or ESSAI), served by the `cnfr.` hosts.
    pub const fn is_conformity(self) -> bool {
        matches!(self, Self::Dev | Self::Essai)
    }
}

code_enum! {
    /// The kind of device that initiated a request (`APPRLINIT`).
    #[doc(alias = "APPRLINIT")]
    pub enum InitiatingDevice : Kind::InitiatingDevice, "SEV or SRV" {
        /// A sales recording system on the operator's device.
        Srs => "SEV",
        /// A remote server.
        Server => "SRV",
    }
}

/// A test case and step (`CASESSAI`, `999.999`); `000.000` means "as in production".
#[doc(alias = "CASESSAI")]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TestCase {
    case: u16,
    step: u16,
}

impl TestCase {
    /// `000.000`: no test case, the request behaves as in production.
    pub const PRODUCTION: Self = Self { case: 0, step: 0 };

    /// The test case `case.step`; `None` if either part exceeds 999.
    pub const fn new(case: u16, step: u16) -> Option<Self> {
        if case > 999 || step > 999 {
            None
        } else {
            Some(Self { case, step })
        }
    }

    /// Whether this is `000.000`.
    pub const fn is_production(self) -> bool {
        self.case == 0 && self.step == 0
    }

    /// The test case number (the part before the dot).
    pub const fn case(self) -> u16 {
        self.case
    }

    /// The step within the test case (the part after the dot).
    pub const fn step(self) -> u16 {
        self.step
    }
}

impl FromStr for TestCase {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        shape::check(Kind::TestCase, s, "999.999")?;
        let (case, step) = s.split_at(3);
        // Each part is three checked digits, so it fits in a u16.
        Ok(Self {
            case: shape::digits_value(case) as u16,
            step: shape::digits_value(step) as u16,
        })
    }
}

impl fmt::Display for TestCase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:03}.{:03}", self.case, self.step)
    }
}

/// A device identifier assigned by the authority (`IDAPPRL`, `9999-9999-9999`).
///
/// It identifies a physical device (or a terminal connected to an SRS) for life.
/// `0000-0000-0000` is not a device identifier: it says that none is assigned yet, and is
/// represented by [`DeviceIdState::Unassigned`]. Parsing it as a `DeviceId` fails with
/// [`ParseError::UnassignedDeviceId`].
#[doc(alias = "IDAPPRL")]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DeviceId(u64);

impl DeviceId {
    /// The largest value: `9999-9999-9999`.
    pub const MAX: u64 = 999_999_999_999;

    /// The identifier from its 12 digits read as a number; `None` for zero or a value above
    /// [`DeviceId::MAX`].
    pub const fn from_u64(value: u64) -> Option<Self> {
        if value == 0 || value > Self::MAX {
            None
        } else {
            Some(Self(value))
        }
    }

    /// The 12 digits read as a number.
    pub const fn as_u64(self) -> u64 {
        self.0
    }
}

impl FromStr for DeviceId {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.parse::<DeviceIdState>()? {
            DeviceIdState::Assigned(id) => Ok(id),
            DeviceIdState::Unassigned => Err(ParseError::UnassignedDeviceId),
        }
    }
}

impl fmt::Display for DeviceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.0;
        write!(
            f,
            "{:04}-{:04}-{:04}",
            n / 100_000_000,
            n / 10_000 % 10_000,
            n % 10_000
        )
    }
}

/// What an SRS sends as `IDAPPRL`: the device identifier it holds, or `0000-0000-0000` when the
/// device has none yet (only allowed when requesting a certificate on the enrolment URL).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeviceIdState {
    /// No identifier assigned yet: `0000-0000-0000`.
    Unassigned,
    /// An identifier the authority assigned.
    Assigned(DeviceId),
}

impl DeviceIdState {
    /// The wire form of [`DeviceIdState::Unassigned`].
    pub const UNASSIGNED: &'static str = "0000-0000-0000";

    /// The assigned identifier, if any.
    pub const fn assigned(self) -> Option<DeviceId> {
        match self {
            Self::Assigned(id) => Some(id),
            Self::Unassigned => None,
        }
    }
}

impl From<DeviceId> for DeviceIdState {
    fn from(id: DeviceId) -> Self {
        Self::Assigned(id)
    }
}

impl FromStr for DeviceIdState {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        shape::check(Kind::DeviceId, s, "9999-9999-9999")?;
        match shape::digits_value(s) {
            0 => Ok(Self::Unassigned),
            n => Ok(Self::Assigned(DeviceId(n))),
        }
    }
}

impl fmt::Display for DeviceIdState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unassigned => f.write_str(Self::UNASSIGNED),
            Self::Assigned(id) => id.fmt(f),
        }
    }
}

hex16_id! {
    /// The SRS developer's partner identifier (`IDPARTN`, 16 hex digits).
    #[doc(alias = "IDPARTN")]
    pub struct PartnerId : Kind::PartnerId;
}

hex16_id! {
    /// The SRS product identifier (`IDSEV`, 16 hex digits).
    #[doc(alias = "IDSEV")]
    pub struct SrsId : Kind::SrsId;
}

hex16_id! {
    /// The SRS version identifier (`IDVERSI`, 16 hex digits) generated by the authority.
    #[doc(alias = "IDVERSI")]
    pub struct VersionId : Kind::VersionId;
}

impl VersionId {
    /// `0000000000000000`: a new version not yet registered with the authority (not allowed in
    /// ESSAI).
    pub const UNREGISTERED: Self = Self(0);

    /// Whether this is [`VersionId::UNREGISTERED`].
    pub const fn is_unregistered(self) -> bool {
        self.0 == 0
    }
}

shaped_text! {
    /// The certification code of a certified SRS version (`CODCERTIF`, 3 letters and 9 digits,
    /// e.g. `FOB201999999`).
    #[doc(alias = "CODCERTIF")]
    pub struct CertificationCode : Kind::CertificationCode, "AAA999999999";
}

impl CertificationCode {
    /// The three-letter prefix (a sector, or `FOB`).
    pub fn prefix(&self) -> &str {
        &self.0[..3]
    }

    /// The nine digits.
    pub fn digits(&self) -> &str {
        &self.0[3..]
    }

    /// Whether the nine digits are `201999999`, the conformity test value.
    pub fn is_test_code(&self) -> bool {
        self.digits() == "201999999"
    }

    /// Whether the nine digits are all zero: a follow-on version not certified yet.
    pub fn is_uncertified(&self) -> bool {
        self.digits() == "000000000"
    }
}

/// A software version (`VERSI`, `VERSIPARN`): 1 to 20 letters, digits or dots.
#[doc(alias = "VERSI")]
#[doc(alias = "VERSIPARN")]
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SoftwareVersion(String);

impl SoftwareVersion {
    /// The version as written on the wire.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether this is `0`, the parent version of a first certified version.
    pub fn is_initial(&self) -> bool {
        self.0 == "0"
    }
}

impl FromStr for SoftwareVersion {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        shape::check_chars(
            Kind::SoftwareVersion,
            s,
            (1, 20),
            CharClass::VersionChar,
            |c| c.is_ascii_alphanumeric() || c == '.',
        )?;
        Ok(Self(s.to_owned()))
    }
}

impl fmt::Display for SoftwareVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
