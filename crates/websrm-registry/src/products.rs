//! SRS products: their developers (partners) and the versions registered for each environment,
//! each in its state.

use websrm_domain::{
    Environment, PartnerId, ProductIdentity, Sector, SrsId, VersionId, VersionState,
};

use super::{Partner, Product, Registry};
use crate::Error;
use crate::audit::{self, NewAudit};
use crate::sql::{Row, vals};
use websrm_sqlite::parse;

const PRODUCT_SELECT: &str = "SELECT environment, partner_id, srs_id, version_id, certification_code, version, \
    parent_version, state, mode, sectors FROM products";

impl Registry {
    /// Registers an SRS product version for an environment, and its developer if new (registered
    /// for the conformity environments, without a name until [`Registry::set_partner`] gives one).
    pub fn add_product(&self, product: &Product, audit: NewAudit) -> Result<(), Error> {
        self.add_products(std::slice::from_ref(product), audit)
    }

    /// Registers product versions (a version for each environment, say) all at once or none:
    /// [`Error::ProductExists`] when one of them is already registered.
    pub fn add_products(&self, products: &[Product], audit: NewAudit) -> Result<(), Error> {
        let products = products.to_owned();
        self.write(move |tx| {
            for product in &products {
                tx.execute(
                    "INSERT INTO partners (partner_id, name, registered) VALUES (?1, '', 1) ON CONFLICT DO NOTHING",
                    vals![product.identity.partner_id.to_string()],
                )?;
                let inserted = tx.execute(
                    "INSERT INTO products (environment, partner_id, srs_id, version_id, certification_code, version, \
                     parent_version, state, mode, sectors) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10) \
                     ON CONFLICT DO NOTHING",
                    vals![
                        product.environment.as_str(),
                        product.identity.partner_id.to_string(),
                        product.identity.srs_id.to_string(),
                        product.identity.version_id.to_string(),
                        product.identity.certification_code.as_str(),
                        product.identity.version.as_str(),
                        product.identity.parent_version.as_str(),
                        product.state.as_str(),
                        product.mode.as_str(),
                        sectors_text(&product.sectors)
                    ],
                )?;
                if inserted == 0 {
                    return Err(Error::ProductExists);
                }
            }
            audit::append(tx, &audit)?;
            Ok(())
        })
    }

    /// Moves a version to `state` in every environment it is registered for; the number of
    /// environments. [`Error::ProductNotFound`] when it is registered for none.
    pub fn set_version_state(
        &self,
        partner_id: PartnerId,
        srs_id: SrsId,
        version_id: VersionId,
        state: VersionState,
        audit: NewAudit,
    ) -> Result<u64, Error> {
        self.write(move |tx| {
            let changed = tx.execute(
                "UPDATE products SET state = ?1 WHERE partner_id = ?2 AND srs_id = ?3 AND version_id = ?4",
                vals![
                    state.as_str(),
                    partner_id.to_string(),
                    srs_id.to_string(),
                    version_id.to_string()
                ],
            )?;
            if changed == 0 {
                return Err(Error::ProductNotFound {
                    partner_id,
                    srs_id,
                    version_id,
                });
            }
            audit::append(tx, &audit)?;
            Ok(changed)
        })
    }

    /// Names a developer and says whether it is registered for the conformity environments,
    /// adding it if new.
    pub fn set_partner(&self, partner: &Partner, audit: NewAudit) -> Result<(), Error> {
        let partner = partner.to_owned();
        self.write(move |tx| {
            tx.execute(
                "INSERT INTO partners (partner_id, name, registered) VALUES (?1, ?2, ?3) \
                 ON CONFLICT (partner_id) DO UPDATE SET name = excluded.name, registered = excluded.registered",
                vals![
                    partner.partner_id.to_string(),
                    partner.name.as_str(),
                    i64::from(partner.registered)
                ],
            )?;
            audit::append(tx, &audit)?;
            Ok(())
        })
    }

    /// The developer with this identifier, if any.
    pub fn partner(&self, partner_id: PartnerId) -> Result<Option<Partner>, Error> {
        self.read(move |db| {
            db.row(
                "SELECT partner_id, name, registered FROM partners WHERE partner_id = ?1",
                vals![partner_id.to_string()],
            )?
            .map(|r| partner_from_row(&r))
            .transpose()
        })
    }

    /// Every developer, by identifier.
    pub fn partners(&self) -> Result<Vec<Partner>, Error> {
        self.read(move |db| {
            db.query(
                "SELECT partner_id, name, registered FROM partners ORDER BY partner_id",
                vals![],
            )?
            .iter()
            .map(partner_from_row)
            .collect()
        })
    }

    /// The product version designated by these identifiers in the environment.
    pub fn find_product(
        &self,
        environment: Environment,
        partner_id: PartnerId,
        srs_id: SrsId,
        version_id: VersionId,
    ) -> Result<Option<Product>, Error> {
        self.read(move |db| {
            db.row(
                &format!(
                    "{PRODUCT_SELECT} WHERE environment = ?1 AND partner_id = ?2 AND srs_id = ?3 AND version_id = ?4"
                ),
                vals![
                    environment.as_str(),
                    partner_id.to_string(),
                    srs_id.to_string(),
                    version_id.to_string()
                ],
            )?
            .map(|r| product_from_row(&r))
            .transpose()
        })
    }

    /// Every version of products with this partner and SRS id in the environment.
    pub fn products_of(
        &self,
        environment: Environment,
        partner_id: PartnerId,
        srs_id: SrsId,
    ) -> Result<Vec<Product>, Error> {
        self.read(move |db| {
            db.query(
                &format!(
                    "{PRODUCT_SELECT} WHERE environment = ?1 AND partner_id = ?2 AND srs_id = ?3 ORDER BY version_id"
                ),
                vals![
                    environment.as_str(),
                    partner_id.to_string(),
                    srs_id.to_string()
                ],
            )?
            .iter()
            .map(product_from_row)
            .collect()
        })
    }

    /// Every product version of every environment, by partner, SRS, version and environment.
    pub fn products(&self) -> Result<Vec<Product>, Error> {
        self.read(move |db| {
            db.query(
                &format!("{PRODUCT_SELECT} ORDER BY partner_id, srs_id, version_id, environment"),
                vals![],
            )?
            .iter()
            .map(product_from_row)
            .collect()
        })
    }
}

fn sectors_text(sectors: &[Sector]) -> String {
    sectors
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

fn product_from_row(r: &Row) -> Result<Product, Error> {
    const T: &str = "products";
    let sectors = r
        .text(9)?
        .split(',')
        .filter(|s| !s.is_empty())
        .map(|s| parse(T, "sectors", s))
        .collect::<Result<Vec<Sector>, websrm_sqlite::Error>>()?;
    let identity = ProductIdentity::new(
        parse(T, "partner_id", &r.text(1)?)?,
        parse(T, "srs_id", &r.text(2)?)?,
        parse(T, "version_id", &r.text(3)?)?,
        parse(T, "certification_code", &r.text(4)?)?,
        parse(T, "version", &r.text(5)?)?,
        parse(T, "parent_version", &r.text(6)?)?,
    );
    Ok(Product::new(
        parse(T, "environment", &r.text(0)?)?,
        identity,
        parse(T, "state", &r.text(7)?)?,
    )
    .with_mode(parse(T, "mode", &r.text(8)?)?)
    .with_sectors(sectors))
}

fn partner_from_row(r: &Row) -> Result<Partner, Error> {
    Ok(Partner {
        partner_id: parse("partners", "partner_id", &r.text(0)?)?,
        name: r.text(1)?,
        registered: r.int(2)? != 0,
    })
}
