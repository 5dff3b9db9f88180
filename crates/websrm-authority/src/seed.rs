//! The DEV test data of the protocol's published test cases, and a test SRS product, registered
//! from `websrm_domain::published`.
//!
//! Every value is listed in `docs/AUTHORITY.md`.

use time::OffsetDateTime;
use websrm_domain::published::{self, PublishedOperator};
use websrm_domain::{Environment, VersionState};
use websrm_registry::NewAudit;
use websrm_registry::{NewOperator, Product};

use crate::Authority;
use crate::Error;

/// One operator of the test data, with its authorization codes.
pub type SeedOperator = PublishedOperator;

/// The operators of the published test data.
pub const OPERATORS: [SeedOperator; 3] = published::OPERATORS;

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
        let identity = published::test_product();
        let srs = identity.srs_id;
        if registry
            .find_product(environment, identity.partner_id, srs, identity.version_id)?
            .is_none()
        {
            let product = Product::new(
                environment,
                identity,
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
