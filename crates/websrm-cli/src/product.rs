//! `websrm authority product …`: the SRS products the authority knows, each version in its state.

use anyhow::{Context, Result};
use clap::Subcommand;
use serde_json::json;
use websrm::domain::{
    CertificationCode, PartnerId, ProductMode, Sector, SoftwareVersion, SrsId, VersionId,
};
use websrm_authority::records::{Product, VersionState};
use websrm_authority::{Authority, ProductRegistration};

/// The product commands.
#[derive(Debug, Subcommand)]
pub(crate) enum ProductCommand {
    /// Register a version of an SRS product (for DEV and ESSAI, or for PROD) and print it.
    Add {
        /// `IDPARTN`: the developer.
        #[arg(long)]
        partner: PartnerId,
        /// `IDSEV`: the SRS.
        #[arg(long)]
        srs: SrsId,
        /// `IDVERSI`; generated when omitted, as Revenu Québec does.
        #[arg(long)]
        version_id: Option<VersionId>,
        /// `CODCERTIF`: the certification code (a certified version's own, or FOB201999999
        /// before certification).
        #[arg(long)]
        code: CertificationCode,
        /// `VERSI`.
        #[arg(long)]
        version: SoftwareVersion,
        /// `VERSIPARN`.
        #[arg(long, default_value = "0")]
        parent: SoftwareVersion,
        /// The modes the product runs in: srs, server or both.
        #[arg(long, default_value = "both")]
        mode: ProductMode,
        /// A sector it serves, RBC or TRP (repeatable; both when omitted).
        #[arg(long = "sector")]
        sectors: Vec<Sector>,
        /// registered, awaiting-certification, certified or withdrawn.
        #[arg(long, default_value = "registered")]
        state: VersionState,
        /// Print the versions registered as JSON.
        #[arg(long)]
        json: bool,
    },
    /// List every version of every product.
    List {
        /// As JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show the versions of one SRS and its developer.
    Show {
        /// `IDPARTN`.
        #[arg(long)]
        partner: PartnerId,
        /// `IDSEV`.
        #[arg(long)]
        srs: SrsId,
        /// As JSON.
        #[arg(long)]
        json: bool,
    },
    /// Move a version to another state: registered, awaiting-certification, certified or
    /// withdrawn.
    SetState {
        /// `IDPARTN`.
        #[arg(long)]
        partner: PartnerId,
        /// `IDSEV`.
        #[arg(long)]
        srs: SrsId,
        /// `IDVERSI`.
        #[arg(long)]
        version_id: VersionId,
        /// The new state.
        state: VersionState,
    },
    /// Name a developer, and register it for DEV and ESSAI or withdraw that registration
    /// (its requests there are then refused with 063E).
    Partner {
        /// `IDPARTN`.
        #[arg(long)]
        partner: PartnerId,
        /// The developer's name.
        #[arg(long, default_value = "")]
        name: String,
        /// Whether it is registered for DEV and ESSAI: yes or no.
        #[arg(long, action = clap::ArgAction::Set, value_parser = clap::builder::BoolishValueParser::new())]
        registered: bool,
    },
}

pub(crate) fn run(authority: &Authority, command: ProductCommand) -> Result<()> {
    match command {
        ProductCommand::Add {
            partner,
            srs,
            version_id,
            code,
            version,
            parent,
            mode,
            sectors,
            state,
            json,
        } => {
            let mut registration = ProductRegistration::new(partner, srs, code, version, parent);
            registration.version_id = version_id;
            registration.mode = mode;
            registration.state = state;
            if !sectors.is_empty() {
                registration.sectors = sectors;
            }
            let added = authority
                .admin()
                .register_product(registration, "cli")
                .context("registering the product version")?;
            print_versions(&added, json)?;
        }
        ProductCommand::List { json } => print_versions(&authority.admin().products()?, json)?,
        ProductCommand::Show { partner, srs, json } => {
            let versions: Vec<Product> = authority
                .admin()
                .products()?
                .into_iter()
                .filter(|p| p.identity.partner_id == partner && p.identity.srs_id == srs)
                .collect();
            if versions.is_empty() {
                anyhow::bail!("no version of SRS {srs} of partner {partner} is registered");
            }
            let developer = authority
                .admin()
                .partners()?
                .into_iter()
                .find(|p| p.partner_id == partner);
            let (name, registered) =
                developer.map_or((String::new(), false), |p| (p.name, p.registered));
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&json!({
                        "partner": { "id": partner.to_string(), "name": name, "registered": registered },
                        "srs": srs.to_string(),
                        "versions": versions_json(&versions),
                    }))?
                );
            } else {
                println!(
                    "partner {partner}{}: {}",
                    if name.is_empty() {
                        String::new()
                    } else {
                        format!(" ({name})")
                    },
                    if registered {
                        "registered for DEV and ESSAI"
                    } else {
                        "not registered for DEV and ESSAI (063E)"
                    }
                );
                print_versions(&versions, false)?;
            }
        }
        ProductCommand::SetState {
            partner,
            srs,
            version_id,
            state,
        } => {
            authority
                .admin()
                .set_version_state(partner, srs, version_id, state, "cli")?;
            println!("version {version_id} of SRS {srs} is now {state}");
        }
        ProductCommand::Partner {
            partner,
            name,
            registered,
        } => {
            authority
                .admin()
                .set_partner(partner, &name, registered, "cli")?;
            println!(
                "partner {partner} {}",
                if registered {
                    "is registered for DEV and ESSAI"
                } else {
                    "is no longer registered for DEV and ESSAI"
                }
            );
        }
    }
    Ok(())
}

/// The versions, one line (or one JSON object) per version with the environments it is
/// registered for.
fn print_versions(products: &[Product], json: bool) -> Result<()> {
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&versions_json(products))?
        );
        return Ok(());
    }
    println!(
        "{:<16}  {:<16}  {:<16}  {:<10}  {:<10}  {:<13}  {:<22}  {:<6}  {:<7}  ENVIRONMENTS",
        "IDPARTN",
        "IDSEV",
        "IDVERSI",
        "VERSI",
        "VERSIPARN",
        "CODCERTIF",
        "STATE",
        "MODE",
        "SECTORS"
    );
    for (p, environments) in grouped(products) {
        println!(
            "{:<16}  {:<16}  {:<16}  {:<10}  {:<10}  {:<13}  {:<22}  {:<6}  {:<7}  {}",
            p.identity.partner_id.to_string(),
            p.identity.srs_id.to_string(),
            p.identity.version_id.to_string(),
            p.identity.version.as_str(),
            p.identity.parent_version.as_str(),
            p.identity.certification_code.as_str(),
            p.state.as_str(),
            p.mode.as_str(),
            sectors(p),
            environments.join(",")
        );
    }
    Ok(())
}

fn versions_json(products: &[Product]) -> serde_json::Value {
    grouped(products)
        .into_iter()
        .map(|(p, environments)| {
            json!({
                "partner_id": p.identity.partner_id.to_string(),
                "srs_id": p.identity.srs_id.to_string(),
                "version_id": p.identity.version_id.to_string(),
                "version": p.identity.version.as_str(),
                "parent_version": p.identity.parent_version.as_str(),
                "certification_code": p.identity.certification_code.as_str(),
                "state": p.state.as_str(),
                "mode": p.mode.as_str(),
                "sectors": p.sectors.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
                "environments": environments,
            })
        })
        .collect()
}

/// Each version once, with the environments it is registered for (the registry lists them
/// by version, then environment).
fn grouped(products: &[Product]) -> Vec<(&Product, Vec<&'static str>)> {
    let mut out: Vec<(&Product, Vec<&'static str>)> = Vec::new();
    for p in products {
        match out.last_mut() {
            Some((last, environments))
                if last.identity.partner_id == p.identity.partner_id
                    && last.identity.srs_id == p.identity.srs_id
                    && last.identity.version_id == p.identity.version_id =>
            {
                environments.push(p.environment.as_str());
            }
            _ => out.push((p, vec![p.environment.as_str()])),
        }
    }
    out
}

fn sectors(p: &Product) -> String {
    p.sectors
        .iter()
        .map(|s| s.as_str())
        .collect::<Vec<_>>()
        .join(",")
}
