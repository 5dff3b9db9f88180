//! `websrm authority --config authority.toml`: the authority's settings in a file, each
//! overridden by its flag or its `WEBSRM_*` variable (docs/AUTHORITY.md, "A config file").

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

/// The file: every key optional; an unknown key is refused rather than ignored.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FileConfig {
    /// `--dir`.
    pub(crate) dir: Option<PathBuf>,
    /// `--env`: DEV, ESSAI or PROD.
    pub(crate) env: Option<String>,
    /// `--database` (`WEBSRM_DATABASE`).
    pub(crate) database: Option<String>,
    /// `--code-activation-minutes`.
    pub(crate) code_activation_minutes: Option<u32>,
    /// `--clock-offset`.
    pub(crate) clock_offset: Option<String>,
    /// `serve`'s settings.
    #[serde(default)]
    pub(crate) serve: ServeConfig,
}

/// `serve`'s part of the file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ServeConfig {
    pub(crate) listen: Option<SocketAddr>,
    pub(crate) api_listen: Option<SocketAddr>,
    pub(crate) admin_listen: Option<SocketAddr>,
    pub(crate) public_url: Option<String>,
    pub(crate) public_api_url: Option<String>,
    pub(crate) tls_cert: Option<PathBuf>,
    pub(crate) tls_key: Option<PathBuf>,
    pub(crate) faults: Option<String>,
    pub(crate) seed_test_data: Option<bool>,
}

impl FileConfig {
    /// The file at `path`.
    pub(crate) fn read(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading the config file {}", path.display()))?;
        toml::from_str(&text).with_context(|| format!("the config file {}", path.display()))
    }

    /// As TOML, the database shown without its password.
    pub(crate) fn show(&self) -> Result<String> {
        let mut shown = self.clone();
        shown.database = self.database.as_deref().map(|d| {
            d.parse::<websrm_authority::Database>()
                .map_or_else(|e| match e {}, |d| d.to_string())
        });
        Ok(toml::to_string(&shown)?)
    }
}
