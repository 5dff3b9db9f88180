//! The error returned when text does not parse into a domain value.

use std::fmt;

/// Which domain value a [`ParseError`] is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Kind {
    /// [`crate::Environment`] (`ENVIRN`).
    Environment,
    /// [`crate::TestCase`] (`CASESSAI`).
    TestCase,
    /// [`crate::InitiatingDevice`] (`APPRLINIT`).
    InitiatingDevice,
    /// [`crate::DeviceId`] (`IDAPPRL`).
    DeviceId,
    /// [`crate::PartnerId`] (`IDPARTN`).
    PartnerId,
    /// [`crate::SrsId`] (`IDSEV`).
    SrsId,
    /// [`crate::VersionId`] (`IDVERSI`).
    VersionId,
    /// [`crate::CertificationCode`] (`CODCERTIF`).
    CertificationCode,
    /// [`crate::SoftwareVersion`] (`VERSI`, `VERSIPARN`).
    SoftwareVersion,
    /// [`crate::Sector`].
    Sector,
    /// [`crate::AuthorizationCode`].
    AuthorizationCode,
    /// [`crate::IdentificationNumber`].
    IdentificationNumber,
    /// [`crate::QstNumber`] (`NOTVQ`).
    QstNumber,
    /// [`crate::GstNumber`] (`NOTPS`).
    GstNumber,
    /// [`crate::FileNumber`] (`noDossFO`).
    FileNumber,
    /// [`crate::Nickname`] (the certificate's SN).
    Nickname,
    /// [`crate::UtcOffset`] (the certificate's L).
    UtcOffset,
    /// [`crate::SerialNumber`] (`noSerie`).
    SerialNumber,
    /// [`crate::Thumbprint`] (`EMPRCERTIFTRANSM`).
    Thumbprint,
    /// [`crate::ErrorId`] (`JW00B999nnnE`).
    ErrorId,
    /// [`crate::ReturnCode`] (`codRetour`).
    ReturnCode,
    /// [`crate::RevocationReason`].
    RevocationReason,
    /// [`crate::RevocationChannel`].
    RevocationChannel,
    /// The organisation attribute (O) of a certificate subject.
    Organization,
    /// [`crate::VersionState`].
    VersionState,
    /// [`crate::ProductMode`].
    ProductMode,
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Environment => "environment (ENVIRN)",
            Self::TestCase => "test case (CASESSAI)",
            Self::InitiatingDevice => "initiating device (APPRLINIT)",
            Self::DeviceId => "device identifier (IDAPPRL)",
            Self::PartnerId => "partner identifier (IDPARTN)",
            Self::SrsId => "SRS identifier (IDSEV)",
            Self::VersionId => "version identifier (IDVERSI)",
            Self::CertificationCode => "certification code (CODCERTIF)",
            Self::SoftwareVersion => "software version (VERSI)",
            Self::Sector => "sector",
            Self::AuthorizationCode => "authorization code",
            Self::IdentificationNumber => "identification number",
            Self::QstNumber => "QST number",
            Self::GstNumber => "GST number",
            Self::FileNumber => "mandatory-billing file number",
            Self::Nickname => "certificate nickname (SN)",
            Self::UtcOffset => "UTC offset",
            Self::SerialNumber => "certificate serial number (noSerie)",
            Self::Thumbprint => "certificate thumbprint",
            Self::ErrorId => "error id",
            Self::ReturnCode => "return code (codRetour)",
            Self::RevocationReason => "revocation reason",
            Self::RevocationChannel => "revocation channel",
            Self::Organization => "organisation (O)",
            Self::VersionState => "version state",
            Self::ProductMode => "product mode",
        })
    }
}

/// What a character at a given position had to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CharClass {
    /// An ASCII digit `0`–`9`.
    Digit,
    /// An ASCII letter.
    Letter,
    /// An ASCII letter or digit.
    Alphanumeric,
    /// A hexadecimal digit.
    Hex,
    /// Exactly this character (compared without regard to ASCII case).
    Literal(char),
    /// A letter, digit or `.`.
    VersionChar,
    /// A character of the WEB-SRM text alphabet.
    WebSrmText,
}

impl fmt::Display for CharClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Digit => f.write_str("a digit"),
            Self::Letter => f.write_str("a letter"),
            Self::Alphanumeric => f.write_str("a letter or a digit"),
            Self::Hex => f.write_str("a hexadecimal digit"),
            Self::Literal(c) => write!(f, "{c:?}"),
            Self::VersionChar => f.write_str("a letter, a digit or '.'"),
            Self::WebSrmText => f.write_str(
                "a letter, a digit, a space, an accented Latin-1 letter or one of @:!#$%&'()*+,-.=?_|~",
            ),
        }
    }
}

/// Text that does not parse into a domain value.
///
/// Every variant names the [`Kind`] of value and says precisely what was wrong. None of them
/// repeats the rejected text itself when it may be a secret (an authorization code).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// The text has the wrong number of characters.
    #[error("{kind} must have {} characters, found {found}", Self::expected_len(*min, *max))]
    Length {
        /// The value being parsed.
        kind: Kind,
        /// The fewest characters allowed.
        min: usize,
        /// The most characters allowed.
        max: usize,
        /// How many characters the text had.
        found: usize,
    },
    /// A character is not of the expected class.
    #[error("{kind} has an invalid character at position {position}: expected {expected}")]
    Character {
        /// The value being parsed.
        kind: Kind,
        /// The 1-based position of the offending character.
        position: usize,
        /// What the character had to be.
        expected: CharClass,
    },
    /// The text starts or ends with a space.
    #[error("{kind} must not start or end with a space")]
    Padding {
        /// The value being parsed.
        kind: Kind,
    },
    /// The text is not one of a closed set of values.
    #[error("{kind} must be one of {allowed}, found {found:?}")]
    NotOneOf {
        /// The value being parsed.
        kind: Kind,
        /// The allowed values, for display.
        allowed: &'static str,
        /// The rejected text.
        found: String,
    },
    /// `0000-0000-0000` where an assigned device identifier is required.
    #[error(
        "0000-0000-0000 means that no device identifier is assigned yet; an assigned one is required here"
    )]
    UnassignedDeviceId,
    /// The text has the right shape but a value out of range.
    #[error("{kind} is out of range: {reason}")]
    OutOfRange {
        /// The value being parsed.
        kind: Kind,
        /// Why the value is out of range.
        reason: &'static str,
    },
}

impl ParseError {
    fn expected_len(min: usize, max: usize) -> String {
        if min == max {
            format!("exactly {min}")
        } else {
            format!("{min} to {max}")
        }
    }

    /// The kind of value the error is about, if it is about a single kind.
    pub fn kind(&self) -> Kind {
        match self {
            Self::Length { kind, .. }
            | Self::Character { kind, .. }
            | Self::Padding { kind }
            | Self::NotOneOf { kind, .. }
            | Self::OutOfRange { kind, .. } => *kind,
            Self::UnassignedDeviceId => Kind::DeviceId,
        }
    }
}
