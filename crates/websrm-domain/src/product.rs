//! An SRS product: the identity its SRS sends with every request, and what the authority knows
//! of it, the state of each version and the modes it runs in.

use crate::error::Kind;
use crate::macros::code_enum;
use crate::{CertificationCode, PartnerId, SoftwareVersion, SrsId, VersionId};

/// The product identity an SRS sends with every request (`IDPARTN`, `IDSEV`, `IDVERSI`,
/// `CODCERTIF`, `VERSI`, `VERSIPARN`), and under which the authority registers a version.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProductIdentity {
    /// `IDPARTN`.
    pub partner_id: PartnerId,
    /// `IDSEV`.
    pub srs_id: SrsId,
    /// `IDVERSI`.
    pub version_id: VersionId,
    /// `CODCERTIF`.
    pub certification_code: CertificationCode,
    /// `VERSI`.
    pub version: SoftwareVersion,
    /// `VERSIPARN`.
    pub parent_version: SoftwareVersion,
}

impl ProductIdentity {
    /// A product identity.
    pub fn new(
        partner_id: PartnerId,
        srs_id: SrsId,
        version_id: VersionId,
        certification_code: CertificationCode,
        version: SoftwareVersion,
        parent_version: SoftwareVersion,
    ) -> Self {
        Self {
            partner_id,
            srs_id,
            version_id,
            certification_code,
            version,
            parent_version,
        }
    }
}

code_enum! {
    /// Where a version of an SRS stands with the authority (SW-73.A's version errors depend on it).
    pub enum VersionState : Kind::VersionState, "registered, awaiting-certification, certified or withdrawn" {
        /// Registered with the authority: usable in DEV and in an ESSAI run, not in production.
        Registered => "registered",
        /// Submitted for certification: ESSAI is closed to it while the authority examines the
        /// run (065E, 066E); DEV stays open.
        AwaitingCertification => "awaiting-certification",
        /// Certified: usable in production; ESSAI is closed to it and DEV takes it only with
        /// `CASESSAI` `000.000` (072E).
        Certified => "certified",
        /// Withdrawn by the authority: it designates no usable version any more.
        Withdrawn => "withdrawn",
    }
}

impl VersionState {
    /// Whether operators may use this version in production.
    pub const fn is_certified(self) -> bool {
        matches!(self, Self::Certified)
    }
}

code_enum! {
    /// The operating modes an SRS product is registered with (SW-77 §3.1.1): whether its
    /// requests come from the SRS on the device (`APPRLINIT` `SEV`), from a remote server (`SRV`),
    /// or both. A certification run is chosen from it.
    pub enum ProductMode : Kind::ProductMode, "srs, server or both" {
        /// The SRS on the device sends its own requests.
        Srs => "srs",
        /// A remote server sends the requests.
        Server => "server",
        /// Both.
        Both => "both",
    }
}

impl ProductMode {
    /// Whether the product sends requests from the device (`SEV`).
    pub const fn has_srs(self) -> bool {
        matches!(self, Self::Srs | Self::Both)
    }

    /// Whether the product sends requests from a remote server (`SRV`).
    pub const fn has_server(self) -> bool {
        matches!(self, Self::Server | Self::Both)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_and_modes_read_their_names_and_nothing_else() {
        for state in VersionState::ALL {
            assert_eq!(state.as_str().parse::<VersionState>().unwrap(), *state);
        }
        assert!(VersionState::Certified.is_certified());
        assert!(!VersionState::Withdrawn.is_certified());
        let err = "approved".parse::<VersionState>().unwrap_err().to_string();
        assert!(err.contains("awaiting-certification"), "{err}");
        assert_eq!("BOTH".parse::<ProductMode>().unwrap(), ProductMode::Both);
        assert!(ProductMode::Both.has_srs() && ProductMode::Both.has_server());
        assert!(!ProductMode::Server.has_srs() && !ProductMode::Srs.has_server());
        assert!("sev".parse::<ProductMode>().is_err());
    }
}
