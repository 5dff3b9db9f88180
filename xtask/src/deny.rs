//! The dependency policy (`deny.toml`), checked with cargo-deny: advisories, licences, bans and
//! sources. The advisory database comes from the snapshot in `../shared/advisory-db` when there
//! is one (machines that cannot fetch it), and is fetched as usual otherwise.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::{cargo_path, present};

/// The cargo-deny release the policy is written for.
const CARGO_DENY: &str = "cargo-deny@0.20.2";

/// Where cargo-deny opens the default database (`https://github.com/RustSec/advisory-db`) under
/// `db-path`: its name and a hash of the URL, as cargo-deny computes it.
const DEFAULT_DB_DIR: &str = "advisory-db-3157b0e258782691";

pub(crate) fn check(root: &Path) -> Result<()> {
    ensure_installed()?;
    let snapshot = root.join("..").join("shared").join("advisory-db");
    let mut args = vec!["deny"];
    if snapshot.join("crates").is_dir() {
        lay_snapshot(root, &snapshot)?;
        args.push("--offline");
    }
    args.extend(["--locked", "check"]);
    println!("xtask: running cargo {}", args.join(" "));
    let status = Command::new(cargo_path())
        .args(&args)
        .current_dir(root)
        .status()?;
    if !status.success() {
        bail!("cargo deny check failed ({status}): see deny.toml for the policy");
    }
    Ok(())
}

fn ensure_installed() -> Result<()> {
    if present("cargo-deny") {
        return Ok(());
    }
    println!("xtask: installing {CARGO_DENY} (cargo install --locked)");
    let status = Command::new(cargo_path())
        .args(["install", "--locked", CARGO_DENY])
        .status()?;
    if !status.success() {
        bail!("cargo install {CARGO_DENY} failed ({status})");
    }
    Ok(())
}

/// Makes the snapshot the git repository cargo-deny opens without fetching, committed at the
/// snapshot's date so that its age is its own.
fn lay_snapshot(root: &Path, snapshot: &Path) -> Result<()> {
    let db = root
        .join("target")
        .join("advisory-dbs")
        .join(DEFAULT_DB_DIR);
    let marker = db.join(".websrm-snapshot");
    let stamp = std::fs::read_to_string(snapshot.join("SNAPSHOT.md")).unwrap_or_default();
    if std::fs::read_to_string(&marker).is_ok_and(|m| m == stamp) {
        return Ok(());
    }
    println!(
        "xtask: using the advisory database snapshot in {}",
        snapshot.display()
    );
    if db.exists() {
        std::fs::remove_dir_all(&db).with_context(|| format!("removing {}", db.display()))?;
    }
    copy_dir(snapshot, &db)?;
    // "taken at commit … (YYYY-MM-DD)": the snapshot's date.
    let date = stamp
        .split('(')
        .nth(1)
        .and_then(|d| d.get(..10))
        .filter(|d| d.len() == 10 && d.as_bytes()[4] == b'-')
        .map(|d| format!("{d}T00:00:00Z"));
    let git = |args: &[&str]| -> Result<()> {
        let mut command = Command::new("git");
        command
            .args([
                "-c",
                "user.name=websrm xtask",
                "-c",
                "user.email=xtask@localhost",
            ])
            .args(args)
            .current_dir(&db);
        if let Some(date) = &date {
            command
                .env("GIT_COMMITTER_DATE", date)
                .env("GIT_AUTHOR_DATE", date);
        }
        let out = command.output().context("running git")?;
        if !out.status.success() {
            bail!(
                "git {} failed: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(())
    };
    git(&["init", "-q", "-b", "main"])?;
    git(&["add", "-A"])?;
    git(&["commit", "-q", "-m", "advisory database snapshot"])?;
    std::fs::write(&marker, stamp)?;
    Ok(())
}

fn copy_dir(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            if entry.file_name() == ".git" {
                continue;
            }
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target)
                .with_context(|| format!("copying {}", entry.path().display()))?;
        }
    }
    Ok(())
}
