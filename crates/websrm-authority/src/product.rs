//! The software a request names, against the products the registry holds: one reading for a
//! request's headers (SW-73.A's codRetour 94 ids) and for a transaction's `SEV` block (its 96
//! ids), so that the two cannot drift apart.

use websrm_domain::{
    CertificationCode, Environment, PartnerId, SoftwareVersion, SrsId, VersionId, VersionState,
};
use websrm_protocol::headers::CertificateHeaders;
use websrm_protocol::transaction::SoftwareBlock;
use websrm_registry::{Product, Registry};

/// The identifiers of a product version as a request gives them.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Software<'a> {
    pub(crate) partner_id: PartnerId,
    pub(crate) srs_id: SrsId,
    pub(crate) version_id: VersionId,
    pub(crate) code: &'a CertificationCode,
    pub(crate) version: &'a SoftwareVersion,
    pub(crate) parent_version: &'a SoftwareVersion,
}

impl<'a> From<&'a CertificateHeaders> for Software<'a> {
    fn from(h: &'a CertificateHeaders) -> Self {
        Self {
            partner_id: h.partner_id,
            srs_id: h.srs_id,
            version_id: h.version_id,
            code: &h.certification_code,
            version: &h.version,
            parent_version: &h.parent_version,
        }
    }
}

impl<'a> From<&'a SoftwareBlock> for Software<'a> {
    fn from(s: &'a SoftwareBlock) -> Self {
        Self {
            partner_id: s.partner_id,
            srs_id: s.srs_id,
            version_id: s.version_id,
            code: &s.certification_code,
            version: &s.version,
            parent_version: &s.parent_version,
        }
    }
}

/// What is wrong with the software a request names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fault {
    /// No developer has this identifier (003E, 053E).
    PartnerUnknown,
    /// The developer is not registered for DEV and ESSAI (063E, 064E).
    PartnerNotRegistered,
    /// The developer has no SRS with this identifier here (001E, 051E).
    SrsUnknown,
    /// A version identifier of zeros in ESSAI (048E, 054E).
    ZeroVersionInEssai,
    /// A version identifier of zeros with a certification code other than a sector's (or
    /// `FOB`'s) followed by nine zeros (518E, 524E).
    ZeroVersionCode,
    /// A version identifier of zeros while no version of the SRS is certified (041E, 040E).
    NoCertifiedVersion,
    /// In DEV or ESSAI, a version not registered (or withdrawn) (002E, 052E).
    VersionUnknown,
    /// In production, a version not certified (060E, 062E).
    MustBeCertified,
    /// A certification code not valid for the version in the environment (025E/000E,
    /// 055E/056E).
    CodeInvalid,
    /// A version string no version of the SRS has (442E, 058E).
    VersionStringUnknown,
    /// The version strings of another version (042E, 038E).
    VersionsMismatch,
    /// In ESSAI, a version awaiting certification (065E, 066E).
    AwaitingCertification,
}

impl Fault {
    /// The number of the error a transaction's `SEV` block gets.
    pub(crate) fn software_block_error(self, environment: Environment) -> u16 {
        let production = environment == Environment::Prod;
        match self {
            Self::PartnerUnknown => 53,
            Self::PartnerNotRegistered => 64,
            Self::SrsUnknown => 51,
            Self::ZeroVersionInEssai => 54,
            Self::ZeroVersionCode => 524,
            Self::NoCertifiedVersion => 40,
            Self::VersionUnknown => 52,
            Self::MustBeCertified => 62,
            Self::CodeInvalid if production => 56,
            Self::CodeInvalid => 55,
            Self::VersionStringUnknown => 58,
            Self::VersionsMismatch => 38,
            Self::AwaitingCertification => 66,
        }
    }
}

/// The software found.
#[derive(Debug)]
pub(crate) enum Found {
    /// A new version not registered (`IDVERSI` zeros), accepted after a certified one.
    Unregistered,
    /// This registered version.
    Version(Product),
}

/// Reads `software` against the registry's products in `environment`. `first_certification`
/// (a remote server's `VERSI` and `VERSIPARN` `0` in DEV or ESSAI) waives the version strings.
pub(crate) fn examine(
    registry: &Registry,
    environment: Environment,
    software: Software<'_>,
    first_certification: bool,
) -> Result<Result<Found, Fault>, websrm_registry::Error> {
    let conformity = environment.is_conformity();
    match registry.partner(software.partner_id)? {
        None => return Ok(Err(Fault::PartnerUnknown)),
        Some(p) if conformity && !p.registered => return Ok(Err(Fault::PartnerNotRegistered)),
        Some(_) => {}
    }
    let versions = registry.products_of(environment, software.partner_id, software.srs_id)?;
    if versions.is_empty() {
        return Ok(Err(Fault::SrsUnknown));
    }
    let code = software.code;
    let sector_prefix = matches!(code.prefix(), "RBC" | "TRP" | "FOB");
    if software.version_id.is_unregistered() {
        let fault = if environment == Environment::Essai {
            Some(Fault::ZeroVersionInEssai)
        } else if !(sector_prefix && code.is_uncertified()) {
            Some(Fault::ZeroVersionCode)
        } else if !versions.iter().any(Product::is_certified) {
            Some(Fault::NoCertifiedVersion)
        } else {
            None
        };
        return Ok(fault.map_or(Ok(Found::Unregistered), Err));
    }
    let Some(product) = versions.iter().find(|p| {
        p.identity.version_id == software.version_id && p.state != VersionState::Withdrawn
    }) else {
        return Ok(Err(if conformity {
            Fault::VersionUnknown
        } else {
            Fault::MustBeCertified
        }));
    };
    let code_ok = *code == product.identity.certification_code
        || match environment {
            Environment::Dev => sector_prefix && (code.is_test_code() || code.is_uncertified()),
            Environment::Essai => sector_prefix && code.is_test_code(),
            _ => false,
        };
    if !code_ok {
        return Ok(Err(Fault::CodeInvalid));
    }
    if !first_certification {
        if *software.version != product.identity.version {
            // A version string no version of this SRS has is not recognized; one of another
            // version does not designate this one.
            return Ok(Err(
                if versions.iter().any(|p| {
                    p.identity.version == *software.version && p.state != VersionState::Withdrawn
                }) {
                    Fault::VersionsMismatch
                } else {
                    Fault::VersionStringUnknown
                },
            ));
        }
        if *software.parent_version != product.identity.parent_version {
            return Ok(Err(Fault::VersionsMismatch));
        }
    }
    if environment == Environment::Prod && !product.is_certified() {
        return Ok(Err(Fault::MustBeCertified));
    }
    if environment == Environment::Essai && product.state == VersionState::AwaitingCertification {
        return Ok(Err(Fault::AwaitingCertification));
    }
    Ok(Ok(Found::Version(product.clone())))
}
