//! The vocabulary of WEB-SRM certificates: every identifier, code and value that Revenu
//! Québec's certificate services speak of, as types that can only hold valid values.
//!
//! Parse text into these types once, at the boundary; from then on a [`DeviceId`] is a device
//! identifier and nobody checks its shape again. Every type round-trips through
//! [`FromStr`](std::str::FromStr) and [`Display`](std::fmt::Display), and a failed parse says
//! precisely what was wrong ([`ParseError`]).
//!
//! This crate does no I/O, no cryptography and reads no clock: the time is always an argument.
//!
//! ```
//! use websrm_domain::{DeviceId, DeviceIdState, QstNumber, ReturnCode};
//!
//! let id: DeviceId = "7654-0955-8558".parse()?;
//! assert_eq!(id.to_string(), "7654-0955-8558");
//! assert_eq!("0000-0000-0000".parse::<DeviceIdState>()?, DeviceIdState::Unassigned);
//!
//! let qst: QstNumber = "5678912340TQ0001".parse()?;
//! assert_eq!(qst.identification_number().as_str(), "5678912340");
//!
//! let code: ReturnCode = "95".parse()?;
//! assert!(code.is_retransmittable());
//! # Ok::<(), websrm_domain::ParseError>(())
//! ```
#![deny(missing_docs)]
#![forbid(unsafe_code)]
#![doc(test(attr(deny(warnings))))]

mod macros;

mod certificate;
mod codes;
mod error;
mod ids;
mod lifecycle;
mod operator;
mod product;
pub mod published;
mod shape;
mod source;
mod subject;

pub use certificate::{Nickname, SerialNumber, Thumbprint, UtcOffset};
pub use codes::{Cause, ErrorId, Origin, ReturnCode};
pub use error::{CharClass, Kind, ParseError};
pub use ids::{
    CertificationCode, DeviceId, DeviceIdState, Environment, InitiatingDevice, PartnerId,
    SoftwareVersion, SrsId, TestCase, VersionId,
};
pub use lifecycle::{
    CertificateState, Clock, FixedClock, Health, RevocationChannel, RevocationReason,
    VALIDITY_YEARS, Validity, WarningPolicy,
};
pub use operator::{
    AuthorizationCode, FileNumber, GstNumber, IdentificationNumber, QstNumber, Sector,
};
pub use product::{ProductIdentity, ProductMode, VersionState};
pub use shape::is_websrm_text_char;
pub use source::Source;
pub use subject::{
    Attribute, COUNTRY_CA, Organization, RawSubject, STATE_QC, ServerSubject, SrsSubject,
    SrsSubjectFields, Subject, SubjectFinding,
};
pub use time;
