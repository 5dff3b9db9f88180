//! The DEV test data of the protocol's published test cases, and a test SRS product.
//!
//! Every value is listed in `docs/AUTHORITY.md`.

use time::OffsetDateTime;
use websrm_domain::{Environment, Sector, VersionState};
use websrm_store::NewAudit;
use websrm_store::registry::{NewOperator, Product};

use crate::Error;
use crate::service::Authority;

/// One operator of the test data, with its authorization codes.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct SeedOperator {
    /// CN.
    pub identification_number: &'static str,
    /// Legal name.
    pub legal_name: &'static str,
    /// QST number (none for the server administrator).
    pub qst: Option<&'static str>,
    /// GST number.
    pub gst: Option<&'static str>,
    /// File numbers and their sectors.
    pub files: &'static [(&'static str, Sector)],
    /// Authorization codes and their sectors (for a server administrator, the sector each
    /// FOB code administers).
    pub codes: &'static [(&'static str, Sector)],
}

/// The operators of the published test data.
pub const OPERATORS: [SeedOperator; 3] = [
    SeedOperator {
        identification_number: "5678912340",
        legal_name: "Michel Untel enr.",
        qst: Some("5678912340TQ0001"),
        gst: Some("567891234RT0001"),
        files: &[
            ("ER0001", Sector::Restaurant),
            ("TR0001", Sector::Transport),
        ],
        codes: &[
            ("D8T8-W8W8", Sector::Restaurant),
            ("58T8-W8W8", Sector::Transport),
        ],
    },
    SeedOperator {
        identification_number: "1234567890",
        legal_name: "Express Taxe",
        qst: Some("1234567890TQ0001"),
        gst: Some("123456789RT0001"),
        // The published data gives Express Taxe both files but no legible code: the codes are
        // this authority's.
        files: &[
            ("ER0001", Sector::Restaurant),
            ("TR0001", Sector::Transport),
        ],
        codes: &[
            ("W7V7-K8W9", Sector::Restaurant),
            ("X7V7-K8W9", Sector::Transport),
        ],
    },
    SeedOperator {
        identification_number: "3601837200",
        legal_name: "Administrateur du serveur",
        qst: None,
        gst: None,
        files: &[],
        // One server code per sector administered: B8T8-W8W8 for RBC, A8T8-W8W8 for TRP.
        codes: &[
            ("B8T8-W8W8", Sector::Restaurant),
            ("A8T8-W8W8", Sector::Transport),
        ],
    },
];

/// The test product: IDPARTN, IDSEV, IDVERSI, CODCERTIF, VERSI, VERSIPARN.
pub const PRODUCT: [&str; 6] = [
    "0000000000000001",
    "0000000000000002",
    "0000000000000003",
    "FOB201999999",
    "1.0.0",
    "0",
];

fn parse<T: std::str::FromStr>(text: &str) -> Result<T, Error> {
    text.parse()
        .map_err(|_| Error::Invalid(format!("invalid seed value {text}")))
}

/// Registers the test data, if it is not there yet; codes are active at once.
pub fn seed_test_data(authority: &Authority, now: OffsetDateTime) -> Result<(), Error> {
    let registry = authority.registry();
    for op in OPERATORS {
        let number = parse(op.identification_number)?;
        if registry.operator_by_identification(&number)?.is_some() {
            continue;
        }
        let mut new = NewOperator::new(number, op.legal_name);
        new.qst_number = op.qst.map(parse).transpose()?;
        new.gst_number = op.gst.map(parse).transpose()?;
        new.file_numbers = op
            .files
            .iter()
            .map(|(f, s)| Ok((parse(f)?, *s)))
            .collect::<Result<_, Error>>()?;
        let id = registry.add_operator(
            &new,
            now,
            NewAudit::new(
                now,
                "seed",
                "add-operator",
                op.identification_number,
                op.legal_name,
            ),
        )?;
        for (code, sector) in op.codes {
            let audit = NewAudit::new(
                now,
                "seed",
                "add-code",
                op.identification_number,
                sector.as_str(),
            );
            if op.files.is_empty() {
                // A server administrator (no QST number, no file): its codes are FOB codes,
                // one per sector it administers.
                registry.add_server_code(id, &parse(code)?, *sector, now, now, audit)?;
            } else {
                registry.add_authorization_code(id, &parse(code)?, *sector, now, now, audit)?;
            }
        }
    }
    for &environment in authority.product_environments() {
        let [partner, srs, version_id, code, version, parent] = PRODUCT;
        let (partner, srs, version_id) = (parse(partner)?, parse(srs)?, parse(version_id)?);
        if registry
            .find_product(environment, partner, srs, version_id)?
            .is_none()
        {
            let product = Product::new(
                environment,
                partner,
                srs,
                version_id,
                parse(code)?,
                parse(version)?,
                parse(parent)?,
                // Ready for an ESSAI run in the conformity environments (ESSAI is closed to a
                // certified version, 072E); usable by operators in production.
                if environment == Environment::Prod {
                    VersionState::Certified
                } else {
                    VersionState::Registered
                },
            );
            registry.add_product(
                &product,
                NewAudit::new(
                    now,
                    "seed",
                    "add-product",
                    srs.to_string(),
                    environment.as_str(),
                ),
            )?;
        }
    }
    Ok(())
}
