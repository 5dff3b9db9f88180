//! Values carried by certificates: nickname, UTC offset, serial number and thumbprint.

use std::fmt;
use std::str::FromStr;

use crate::error::{CharClass, Kind, ParseError};
use crate::macros::hex20_value;
use crate::shape;

/// A certificate's nickname: its SN (surname) attribute, 8 to 32 characters of the WEB-SRM
/// alphabet, not starting or ending with a space.
///
/// The operator chooses it and uses it to find the certificate in the authority's online
/// services, e.g. to revoke it; in PROD it is unique among the operator's in-force certificates.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Nickname(String);

impl Nickname {
    /// The nickname as written in the certificate.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for Nickname {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        shape::check_chars(
            Kind::Nickname,
            s,
            (8, 32),
            CharClass::WebSrmText,
            shape::is_websrm_text_char,
        )?;
        if s.starts_with(' ') || s.ends_with(' ') {
            return Err(ParseError::Padding {
                kind: Kind::Nickname,
            });
        }
        Ok(Self(s.to_owned()))
    }
}

impl fmt::Display for Nickname {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A standard UTC offset written `-HH:MM` or `+HH:MM` (the CSR's L attribute).
///
/// An SRS may only use `-05:00` or `-04:00` (the latter for the Îles-de-la-Madeleine); a server
/// administrator may use any offset: see [`UtcOffset::is_allowed_for_srs`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UtcOffset {
    minutes: i16,
}

impl UtcOffset {
    /// `-05:00`, Eastern standard time.
    pub const EASTERN: Self = Self { minutes: -300 };
    /// `-04:00`, Atlantic standard time (Îles-de-la-Madeleine).
    pub const ATLANTIC: Self = Self { minutes: -240 };

    /// The offset from a signed number of minutes; `None` beyond ±23:59.
    pub const fn from_minutes(minutes: i16) -> Option<Self> {
        if minutes.unsigned_abs() >= 24 * 60 {
            None
        } else {
            Some(Self { minutes })
        }
    }

    /// The offset in minutes, negative west of Greenwich.
    pub const fn minutes(self) -> i16 {
        self.minutes
    }

    /// Whether an SRS may use this offset (`-05:00` or `-04:00`).
    pub const fn is_allowed_for_srs(self) -> bool {
        self.minutes == Self::EASTERN.minutes || self.minutes == Self::ATLANTIC.minutes
    }
}

impl FromStr for UtcOffset {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let sign = match s.chars().next() {
            Some('+') => 1,
            _ => -1,
        };
        let pattern = if sign > 0 { "+99:99" } else { "-99:99" };
        shape::check(Kind::UtcOffset, s, pattern)?;
        let hours = shape::digits_value(&s[1..3]) as i16;
        let minutes = shape::digits_value(&s[4..6]) as i16;
        if sign < 0 && hours == 0 && minutes == 0 {
            return Err(ParseError::OutOfRange {
                kind: Kind::UtcOffset,
                reason: "a zero offset is written +00:00",
            });
        }
        if hours > 23 || minutes > 59 {
            return Err(ParseError::OutOfRange {
                kind: Kind::UtcOffset,
                reason: "hours must be at most 23 and minutes at most 59",
            });
        }
        Ok(Self {
            minutes: sign * (hours * 60 + minutes),
        })
    }
}

impl fmt::Display for UtcOffset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.minutes < 0 { '-' } else { '+' };
        let abs = self.minutes.unsigned_abs();
        write!(f, "{sign}{:02}:{:02}", abs / 60, abs % 60)
    }
}

hex20_value! {
    /// A certificate serial number (`noSerie`): 20 bytes, written as 40 hex digits without
    /// colons, compared without regard to case and written in upper case.
    #[doc(alias = "noSerie")]
    pub struct SerialNumber : Kind::SerialNumber;
}

hex20_value! {
    /// A certificate thumbprint: the SHA-1 digest of its DER encoding, as 40 hex digits
    /// (`EMPRCERTIFTRANSM`, `emprCertifSEV`).
    #[doc(alias = "EMPRCERTIFTRANSM")]
    #[doc(alias = "emprCertifSEV")]
    pub struct Thumbprint : Kind::Thumbprint;
}
