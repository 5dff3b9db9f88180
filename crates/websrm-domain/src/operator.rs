//! Who requests a certificate: sector, authorization code, identification, tax and file numbers.

use std::fmt;
use std::str::FromStr;

use crate::error::{Kind, ParseError};
use crate::macros::{code_enum, shaped_text};
use crate::shape;

code_enum! {
    /// The activity sector written before the authorization code in a CSR's O attribute.
    pub enum Sector : Kind::Sector, "RBC, TRP or FOB" {
        /// Restaurants, bars and food trucks.
        Restaurant => "RBC",
        /// Remunerated passenger transportation.
        Transport => "TRP",
        /// A remote-server administrator.
        Server => "FOB",
    }
}

impl Sector {
    /// Whether this is the sector of a remote-server administrator (`FOB`), whose certificate
    /// subject has no OU and no GN.
    pub const fn is_server(self) -> bool {
        matches!(self, Self::Server)
    }
}

/// An authorization code (`X9X9-X9X9`): the confidential proof of identity an operator or a
/// server administrator enters to obtain a certificate.
///
/// `Debug` never shows the code; `Display` writes it, for the places the protocol needs it
/// (the CSR's O attribute and the `SIGNATRANSM` input). Letters are kept in upper case.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct AuthorizationCode(String);

impl AuthorizationCode {
    /// The code itself. Use it only where the protocol requires it; never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl FromStr for AuthorizationCode {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        shape::check(Kind::AuthorizationCode, s, "X9X9-X9X9")?;
        Ok(Self(s.to_ascii_uppercase()))
    }
}

impl fmt::Display for AuthorizationCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for AuthorizationCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AuthorizationCode(<redacted>)")
    }
}

shaped_text! {
    /// The authority's 10-digit identification number of a person (the CSR's CN).
    pub struct IdentificationNumber : Kind::IdentificationNumber, "9999999999";
}

shaped_text! {
    /// A QST registration number (`NOTVQ`, `9999999999TQ9999`).
    #[doc(alias = "NOTVQ")]
    pub struct QstNumber : Kind::QstNumber, "9999999999TQ9999";
}

impl QstNumber {
    /// The identification number the QST number starts with: an operator's CN must equal it.
    pub fn identification_number(&self) -> IdentificationNumber {
        IdentificationNumber(self.0[..10].to_owned())
    }
}

shaped_text! {
    /// A GST registration number (`NOTPS`, `999999999RT9999`).
    #[doc(alias = "NOTPS")]
    pub struct GstNumber : Kind::GstNumber, "999999999RT9999";
}

shaped_text! {
    /// A mandatory-billing file number (`noDossFO`, `AA9999`, e.g. `ER0001`): the CSR's GN.
    #[doc(alias = "noDossFO")]
    pub struct FileNumber : Kind::FileNumber, "AA9999";
}
