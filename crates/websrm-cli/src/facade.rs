//! The facade as the CLI opens it: the options every `websrm srs` command shares (store,
//! environment, authority, product, installation, output, clock), the configuration they make,
//! the product file, and the facade's errors worded for the terminal.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use websrm::domain::{Environment, Health};
use websrm::{AuthorityAddress, Config, ProductIdentity};

/// The options every `websrm srs` command shares.
#[derive(Debug, clap::Args)]
pub(crate) struct Connection {
    /// The SRS's store (an SQLite file; its key file is kept beside it).
    #[arg(long, global = true)]
    store: Option<PathBuf>,
    /// The environment.
    #[arg(long, global = true, default_value = "DEV")]
    env: Environment,
    /// The authority's enrolment base URL (default: Revenu Québec's WEB-SRM).
    #[arg(long, global = true)]
    authority: Option<String>,
    /// The authority's API base URL.
    #[arg(long, global = true)]
    api: Option<String>,
    /// The TLS root of a local authority (its `tls-root.pem`).
    #[arg(long, global = true)]
    trust: Option<PathBuf>,
    /// The SRS installation on this device (two SRSs on one device use two names).
    #[arg(long, global = true, default_value = "main")]
    installation: String,
    /// The product identity: a file of six lines IDPARTN, IDSEV, IDVERSI, CODCERTIF, VERSI,
    /// VERSIPARN (default: the test product a local authority registers).
    #[arg(long, global = true)]
    product: Option<PathBuf>,
    /// Print JSON instead of text.
    #[arg(long, global = true)]
    json: bool,
    /// Act as if the time were this (RFC 3339): to rehearse what the SRS does after an expiry.
    #[arg(long, global = true, value_parser = parse_time)]
    now: Option<OffsetDateTime>,
}

impl Connection {
    /// The store (`--store`), which every command but `essai` needs.
    pub(crate) fn store(&self) -> Result<PathBuf> {
        self.store.clone().context("--store FILE is required")
    }

    /// The facade's configuration for `store`: environment, product, installation, authority.
    pub(crate) fn config(&self, store: PathBuf) -> Result<Config> {
        self.config_of(store, &self.installation)
    }

    /// [`config`](Self::config) for another installation of the device.
    pub(crate) fn config_of(&self, store: PathBuf, installation: &str) -> Result<Config> {
        self.configured(store, installation, self.api.as_deref())
    }

    /// The facade's configuration for `store` as while the authority cannot be reached: the
    /// same, with an API address nothing answers (a closed port on this machine).
    pub(crate) fn unreachable_config(&self, store: PathBuf) -> Result<Config> {
        self.configured(store, &self.installation, Some("https://127.0.0.1:9"))
    }

    fn configured(&self, store: PathBuf, installation: &str, api: Option<&str>) -> Result<Config> {
        let mut config = facade_config(
            self.env,
            self.product.as_deref(),
            store,
            installation,
            (self.authority.as_deref(), api, self.trust.as_deref()),
        )?;
        if let Some(now) = self.now {
            config = config.with_clock(std::sync::Arc::new(websrm::domain::FixedClock(now)));
        }
        Ok(config)
    }

    /// The environment.
    pub(crate) fn environment(&self) -> Environment {
        self.env
    }

    /// Whether to print JSON.
    pub(crate) fn json(&self) -> bool {
        self.json
    }

    /// The moment `--now` sets, if it does.
    pub(crate) fn now(&self) -> Option<OffsetDateTime> {
        self.now
    }

    /// The enrolment and API URLs of the local authority given, if any.
    pub(crate) fn local_authority(&self) -> Option<(&str, &str)> {
        Some((self.authority.as_deref()?, self.api.as_deref()?))
    }
}

/// The product identity in `file` (six lines: IDPARTN, IDSEV, IDVERSI, CODCERTIF, VERSI,
/// VERSIPARN), or the test product a local authority registers.
pub(crate) fn product(file: Option<&std::path::Path>) -> Result<ProductIdentity> {
    match file {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            product_from_lines(
                &text
                    .lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .collect::<Vec<_>>(),
            )
        }
        None => test_product(),
    }
}

/// The facade's configuration: Revenu Québec's WEB-SRM, or a local authority given by its two
/// URLs and its TLS root (all three together).
pub(crate) fn facade_config(
    env: Environment,
    product_file: Option<&std::path::Path>,
    store: PathBuf,
    installation: &str,
    (authority, api, trust): (Option<&str>, Option<&str>, Option<&std::path::Path>),
) -> Result<Config> {
    let mut config =
        Config::new(env, product(product_file)?, store).with_installation(installation);
    match (authority, api, trust) {
        (Some(enrolment), Some(api), Some(trust)) => {
            let trust_pem = std::fs::read_to_string(trust)
                .with_context(|| format!("reading {}", trust.display()))?;
            config = config.with_authority(AuthorityAddress::Local {
                enrolment: enrolment.to_owned(),
                api: api.to_owned(),
                trust_pem,
            });
        }
        (None, None, None) => {}
        _ => bail!("a local authority needs --authority, --api and --trust together"),
    }
    Ok(config)
}

fn parse_time(text: &str) -> Result<OffsetDateTime, String> {
    OffsetDateTime::parse(text, &Rfc3339).map_err(|e| format!("not RFC 3339 ({e})"))
}

/// The test product a local authority registers with `--seed-test-data`.
pub(crate) fn test_product() -> Result<ProductIdentity> {
    product_from_lines(&websrm::domain::published::TEST_PRODUCT)
}

fn product_from_lines(lines: &[&str]) -> Result<ProductIdentity> {
    let [partner, srs, version_id, code, version, parent] = lines else {
        bail!("a product file has six lines: IDPARTN, IDSEV, IDVERSI, CODCERTIF, VERSI, VERSIPARN");
    };
    Ok(ProductIdentity::new(
        partner.parse()?,
        srs.parse()?,
        version_id.parse()?,
        code.parse()?,
        version.parse()?,
        parent.parse()?,
    ))
}

/// An error with the authority's messages in French and English.
pub(crate) fn explain(e: websrm::Error) -> anyhow::Error {
    let status = crate::status_of(&e);
    let worded = |message: String| anyhow::Error::new(crate::Worded { message, status });
    if let websrm::Error::Unusable { notice, .. } = &e {
        return worded(format!("{}\n{}", notice.french, notice.english));
    }
    if let websrm::Error::Refused { errors, .. } = &e {
        let lines: Vec<String> = errors
            .iter()
            .map(|x| {
                let code = x
                    .return_code
                    .map(|c| format!(" (codRetour {c})"))
                    .unwrap_or_default();
                format!(
                    "{}{code}: {}{}",
                    x.id,
                    x.message,
                    x.english().map(|en| format!(" / {en}")).unwrap_or_default()
                )
            })
            .collect();
        return worded(format!(
            "the authority refused the request:\n  {}",
            lines.join("\n  ")
        ));
    }
    anyhow::anyhow!(e)
}

pub(crate) fn health_text(h: Health) -> String {
    match h {
        Health::Valid => "valid".into(),
        Health::ReplacementRecommended => "valid, replacement recommended (past half-life)".into(),
        Health::ExpiringSoon { days_left } => format!("expiring soon ({days_left} days left)"),
        Health::Expired => "expired".into(),
        Health::Revoked => "revoked".into(),
        Health::Refused => "refused by the authority (revoked, deleted or replaced)".into(),
        Health::NotYetValid => "not valid yet".into(),
        other => format!("{other:?}").to_lowercase(),
    }
}
