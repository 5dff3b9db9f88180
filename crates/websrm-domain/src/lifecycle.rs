//! A certificate's life: validity, states, revocation and health at a given moment.
//!
//! No function here reads the system clock: the moment is always an argument, given by the
//! caller's [`Clock`].

use std::fmt;
use std::str::FromStr;

use time::{Duration, OffsetDateTime};

use crate::error::{Kind, ParseError};
use crate::macros::code_enum;

/// A source of the current time, supplied by the caller (the system clock in production, a
/// fixed or stepped clock in tests).
pub trait Clock: Send + Sync {
    /// The current time.
    fn now(&self) -> OffsetDateTime;
}

/// A clock that always answers the same instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FixedClock(pub OffsetDateTime);

impl Clock for FixedClock {
    fn now(&self) -> OffsetDateTime {
        self.0
    }
}

/// How long a WEB-SRM certificate is valid: five years from issuance.
pub const VALIDITY_YEARS: i32 = 5;

/// A certificate's validity period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Validity {
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
}

impl Validity {
    /// Five years from `issued`, on the same calendar day and time (29 February becomes
    /// 28 February when the fifth year is not a leap year). Sub-second precision is dropped,
    /// as X.509 validity has none.
    pub fn five_years_from(issued: OffsetDateTime) -> Self {
        let not_before = issued.replace_nanosecond(0).unwrap_or(issued);
        let year = not_before.year() + VALIDITY_YEARS;
        let not_after = not_before.replace_year(year).unwrap_or_else(|_| {
            // Only 29 February of a leap year fails, when the target year is not a leap year.
            not_before
                .replace_day(28)
                .and_then(|d| d.replace_year(year))
                .unwrap_or(not_before)
        });
        Self {
            not_before,
            not_after,
        }
    }

    /// A validity period read from a certificate; `None` if it ends before it starts.
    pub fn new(not_before: OffsetDateTime, not_after: OffsetDateTime) -> Option<Self> {
        (not_after > not_before).then_some(Self {
            not_before,
            not_after,
        })
    }

    /// The first instant of validity.
    pub fn not_before(&self) -> OffsetDateTime {
        self.not_before
    }

    /// The last instant of validity.
    pub fn not_after(&self) -> OffsetDateTime {
        self.not_after
    }

    /// The middle of the period, from which the authority recommends replacing the certificate.
    pub fn half_life(&self) -> OffsetDateTime {
        self.not_before + (self.not_after - self.not_before) / 2
    }

    /// Whether `at` falls within the period (both ends included).
    pub fn contains(&self, at: OffsetDateTime) -> bool {
        self.not_before <= at && at <= self.not_after
    }
}

code_enum! {
    /// Who revoked a certificate on the operator's behalf.
    pub enum RevocationChannel : Kind::RevocationChannel, "online-services or customer-service" {
        /// The operator, in the authority's online services (My Account for businesses).
        OnlineServices => "online-services",
        /// A customer-service agent, at the operator's request by phone.
        CustomerService => "customer-service",
    }
}

/// A revocation reason of RFC 5280 (`CRLReason`), with its code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RevocationReason {
    /// 0, `unspecified`.
    Unspecified,
    /// 1, `keyCompromise`: the device or its key was lost or stolen.
    KeyCompromise,
    /// 2, `cACompromise`.
    CaCompromise,
    /// 3, `affiliationChanged`.
    AffiliationChanged,
    /// 4, `superseded`.
    Superseded,
    /// 5, `cessationOfOperation`: broken equipment, or a device no longer used.
    CessationOfOperation,
    /// 6, `certificateHold`.
    CertificateHold,
    /// 8, `removeFromCRL`.
    RemoveFromCrl,
    /// 9, `privilegeWithdrawn`.
    PrivilegeWithdrawn,
    /// 10, `aACompromise`.
    AaCompromise,
}

impl RevocationReason {
    /// Every reason, in code order.
    pub const ALL: [Self; 10] = [
        Self::Unspecified,
        Self::KeyCompromise,
        Self::CaCompromise,
        Self::AffiliationChanged,
        Self::Superseded,
        Self::CessationOfOperation,
        Self::CertificateHold,
        Self::RemoveFromCrl,
        Self::PrivilegeWithdrawn,
        Self::AaCompromise,
    ];

    /// The RFC 5280 code.
    pub const fn code(self) -> u8 {
        match self {
            Self::Unspecified => 0,
            Self::KeyCompromise => 1,
            Self::CaCompromise => 2,
            Self::AffiliationChanged => 3,
            Self::Superseded => 4,
            Self::CessationOfOperation => 5,
            Self::CertificateHold => 6,
            Self::RemoveFromCrl => 8,
            Self::PrivilegeWithdrawn => 9,
            Self::AaCompromise => 10,
        }
    }

    /// The reason with this RFC 5280 code (7 is unused by RFC 5280).
    pub fn from_code(code: u8) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.code() == code)
    }

    /// The RFC 5280 name, e.g. `keyCompromise`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Unspecified => "unspecified",
            Self::KeyCompromise => "keyCompromise",
            Self::CaCompromise => "cACompromise",
            Self::AffiliationChanged => "affiliationChanged",
            Self::Superseded => "superseded",
            Self::CessationOfOperation => "cessationOfOperation",
            Self::CertificateHold => "certificateHold",
            Self::RemoveFromCrl => "removeFromCRL",
            Self::PrivilegeWithdrawn => "privilegeWithdrawn",
            Self::AaCompromise => "aACompromise",
        }
    }
}

impl FromStr for RevocationReason {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|r| r.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| ParseError::NotOneOf {
                kind: Kind::RevocationReason,
                allowed: "an RFC 5280 reason name such as keyCompromise or cessationOfOperation",
                found: s.to_owned(),
            })
    }
}

impl fmt::Display for RevocationReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The recorded state of a certificate. Expiry is not recorded: it follows from the validity
/// and the moment, see [`CertificateState::at`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CertificateState {
    /// In force.
    Active,
    /// Replaced by another certificate (`REM`).
    Replaced,
    /// Deleted by the SRS (`SUP`).
    Deleted,
    /// Revoked outside the SRS.
    Revoked {
        /// Why.
        reason: RevocationReason,
        /// Through which channel.
        channel: RevocationChannel,
    },
    /// Past the end of its validity.
    Expired,
}

impl CertificateState {
    /// The state at `at`: an active certificate past its validity is [`CertificateState::Expired`].
    pub fn at(self, validity: &Validity, at: OffsetDateTime) -> Self {
        match self {
            Self::Active if at > validity.not_after() => Self::Expired,
            other => other,
        }
    }

    /// Whether a certificate in this state may be used to transmit or to produce bills.
    pub fn is_in_force(self) -> bool {
        matches!(self, Self::Active)
    }
}

/// How long before expiry the SRS warns the operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WarningPolicy {
    /// The warning window before the end of validity.
    pub window: Duration,
}

impl WarningPolicy {
    /// The default window: 90 days.
    pub const DEFAULT_WINDOW_DAYS: i64 = 90;
}

impl Default for WarningPolicy {
    fn default() -> Self {
        Self {
            window: Duration::days(Self::DEFAULT_WINDOW_DAYS),
        }
    }
}

/// A certificate's health at a given moment: what an SRS shows and acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Health {
    /// Valid, before half-life.
    Valid,
    /// Valid and past half-life: the authority recommends replacing it.
    ReplacementRecommended,
    /// Valid and within the warning window.
    ExpiringSoon {
        /// Whole days left before expiry (0 on the last day).
        days_left: i64,
    },
    /// Not valid yet (the device clock is behind, or the certificate post-dated).
    NotYetValid,
    /// Past its validity.
    Expired,
    /// Revoked.
    Revoked,
    /// Deleted by the SRS.
    Deleted,
    /// Replaced by another certificate.
    Replaced,
    /// Refused by the authority (`JW00B999011E`): revoked, deleted or replaced, without the
    /// device knowing which.
    Refused,
}

impl Health {
    /// The health of a certificate in `state` with `validity`, at `at`.
    pub fn classify(
        state: CertificateState,
        validity: &Validity,
        at: OffsetDateTime,
        policy: WarningPolicy,
    ) -> Self {
        match state.at(validity, at) {
            CertificateState::Revoked { .. } => Self::Revoked,
            CertificateState::Deleted => Self::Deleted,
            CertificateState::Replaced => Self::Replaced,
            CertificateState::Expired => Self::Expired,
            CertificateState::Active if at < validity.not_before() => Self::NotYetValid,
            CertificateState::Active => {
                let left = validity.not_after() - at;
                if left <= policy.window {
                    Self::ExpiringSoon {
                        days_left: left.whole_days(),
                    }
                } else if at >= validity.half_life() {
                    Self::ReplacementRecommended
                } else {
                    Self::Valid
                }
            }
        }
    }

    /// Whether the certificate may still be used to transmit and to produce bills.
    pub fn is_usable(self) -> bool {
        matches!(
            self,
            Self::Valid | Self::ReplacementRecommended | Self::ExpiringSoon { .. }
        )
    }
}
