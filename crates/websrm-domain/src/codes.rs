//! The authority's error identifiers (`JW00B999nnnE`) and return codes (`codRetour`).

use std::fmt;
use std::str::FromStr;

use crate::error::{Kind, ParseError};
use crate::shape;

/// A WEB-SRM error identifier, `JW00B999nnnE` (e.g. `JW00B999421E`).
///
/// The three digits `nnn` distinguish the errors; [`ErrorId::number`] returns them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ErrorId(u16);

impl ErrorId {
    /// `JW00B999999E`, the companion message ("contact your retailer") that follows many errors.
    pub const CONTACT_RETAILER: Self = Self(999);

    /// The identifier `JW00B999{number:03}E`; `None` above 999.
    pub const fn new(number: u16) -> Option<Self> {
        if number > 999 {
            None
        } else {
            Some(Self(number))
        }
    }

    /// The three distinguishing digits as a number (421 for `JW00B999421E`).
    pub const fn number(self) -> u16 {
        self.0
    }
}

impl FromStr for ErrorId {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        shape::check(Kind::ErrorId, s, "JW00B999999E")?;
        // The pattern's `999` after `B` is literal, not three free digits.
        if let Some(index) = s[5..8].find(|c| c != '9') {
            return Err(ParseError::Character {
                kind: Kind::ErrorId,
                position: 6 + index,
                expected: crate::error::CharClass::Literal('9'),
            });
        }
        // Three checked digits fit in a u16.
        Ok(Self(shape::digits_value(&s[8..11]) as u16))
    }
}

impl fmt::Display for ErrorId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "JW00B999{:03}E", self.0)
    }
}

/// What caused an error, from the first digit of a [`ReturnCode`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Cause {
    /// `0`: neither the user nor the software (an unexpected error of the authority).
    Unexpected,
    /// `1`: data the user entered.
    UserData,
    /// `9`: the SRS version or software.
    Software,
    /// A digit the protocol does not define.
    Other(u8),
}

/// Where an error comes from, from the second digit of a [`ReturnCode`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Origin {
    /// `0`: unexpected error; retransmit.
    Unexpected,
    /// `1`: the request was not understandable; retransmit.
    NotUnderstandable,
    /// `2`: the certificate or its content is invalid (expired, revoked, deleted, or not issued
    /// by the authority).
    InvalidCertificate,
    /// `3`: a value is not the expected one.
    UnexpectedValue,
    /// `4`: an HTTP header is missing or invalid.
    InvalidHeader,
    /// `5`: fields or values are missing or misplaced; retransmit.
    MissingFields,
    /// `6`: information is invalid.
    InvalidInformation,
    /// A digit the protocol does not define.
    Other(u8),
}

/// A WEB-SRM return code (`codRetour`): two digits, the cause then the origin.
#[doc(alias = "codRetour")]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ReturnCode(u8);

impl ReturnCode {
    /// The code from its two digits read as a number; `None` above 99.
    pub const fn new(value: u8) -> Option<Self> {
        if value > 99 { None } else { Some(Self(value)) }
    }

    /// The two digits read as a number (94 for `94`).
    pub const fn value(self) -> u8 {
        self.0
    }

    /// The first digit's meaning.
    pub const fn cause(self) -> Cause {
        match self.0 / 10 {
            0 => Cause::Unexpected,
            1 => Cause::UserData,
            9 => Cause::Software,
            d => Cause::Other(d),
        }
    }

    /// The second digit's meaning.
    pub const fn origin(self) -> Origin {
        match self.0 % 10 {
            0 => Origin::Unexpected,
            1 => Origin::NotUnderstandable,
            2 => Origin::InvalidCertificate,
            3 => Origin::UnexpectedValue,
            4 => Origin::InvalidHeader,
            5 => Origin::MissingFields,
            6 => Origin::InvalidInformation,
            d => Origin::Other(d),
        }
    }

    /// Whether the same request may be sent again: the second digit is `0`, `1` or `5`.
    ///
    /// For transactions, `1` and `5` require regenerating the transaction number, dates and
    /// signatures before sending again.
    pub const fn is_retransmittable(self) -> bool {
        matches!(
            self.origin(),
            Origin::Unexpected | Origin::NotUnderstandable | Origin::MissingFields
        )
    }
}

impl FromStr for ReturnCode {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        shape::check(Kind::ReturnCode, s, "99")?;
        // Two checked digits fit in a u8.
        Ok(Self(shape::digits_value(s) as u8))
    }
}

impl fmt::Display for ReturnCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}", self.0)
    }
}
