//! What `cargo xtask` installs when it is missing: Debian packages, the browser test's
//! axe-core, pkilint.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Result, bail};

use crate::clients;

/// Whether a command is on the PATH.
pub(crate) fn present(cmd: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {cmd}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// What the tests use beside Rust that a minimal machine may lack: the `openssl` command line
/// (which checks websrm's certificates and CRLs independently), Python's `venv` (pkilint's and
/// the generated Python client's environments) and a C++ compiler (libFuzzer, built by
/// cargo-fuzz). Installed from Debian when missing on a Debian machine run as root, otherwise
/// named with the command that installs them.
pub(crate) fn ensure_basics() -> Result<()> {
    let mut missing = Vec::new();
    if !present("openssl") {
        missing.push("openssl");
    }
    let venv = ["python3", "python"].into_iter().any(|p| {
        Command::new(p)
            .args(["-m", "venv", "--help"])
            .output()
            .is_ok_and(|o| o.status.success())
    });
    if !venv {
        missing.extend(["python3", "python3-venv"]);
    }
    if !(present("c++") || present("g++") || present("clang++")) {
        missing.push("g++");
    }
    if missing.is_empty() {
        return Ok(());
    }
    apt_install(&missing, "the tests' independent checks and tools")
}

/// The online-services test drives headless Chromium over WebDriver and checks every page with
/// axe-core: install Debian's `chromium` and `chromium-driver` when they are missing and this is
/// a Debian machine run as root (as CI is), otherwise say what to install; then axe-core at the
/// version `tests/browser/package-lock.json` pins.
pub(crate) fn ensure_browser(root: &Path) -> Result<()> {
    if !(present("chromium") && present("chromedriver")) {
        apt_install(&["chromium", "chromium-driver"], "the browser test")?;
    }
    let browser = root.join("tests/browser");
    if !browser.join("node_modules/axe-core/axe.min.js").exists() {
        clients::ensure_node("the browser test's axe-core")?;
        clients::npm_ci(&browser, "the browser test")?;
    }
    Ok(())
}

/// Whether xtask runs as root (as CI does).
pub(crate) fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.trim_ascii() == b"0")
}

/// Installs Debian `packages` that `purpose` needs, when this is a Debian machine run as root;
/// otherwise says what to install.
pub(crate) fn apt_install(packages: &[&str], purpose: &str) -> Result<()> {
    let list = packages.join(" ");
    if !(is_root() && present("apt-get")) {
        bail!("{purpose} needs {list} (Debian: apt-get install {list})");
    }
    println!("xtask: installing {list} (Debian packages) for {purpose}");
    let mut install = vec!["install", "-y", "-qq"];
    install.extend_from_slice(packages);
    for args in [&["update", "-qq"][..], &install[..]] {
        let status = Command::new("apt-get")
            .args(args)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status()?;
        if !status.success() {
            bail!("apt-get {} failed ({status})", args.join(" "));
        }
    }
    Ok(())
}

/// The independent PKI linter the profile test runs on what the authority issues.
const PKILINT: &str = "pkilint==0.13.3";

/// Where the linter's virtual environment lives (the profile test looks there too).
pub(crate) fn pkilint_dir(root: &Path) -> PathBuf {
    root.join("target").join("pkilint")
}

/// Installs pkilint from PyPI in a virtual environment under `target/` when it is missing.
pub(crate) fn ensure_pkilint(root: &Path) -> Result<()> {
    let dir = pkilint_dir(root);
    let marker = dir.join(format!("{PKILINT}.installed"));
    if marker.exists() && dir.join("bin").join("lint_pkix_cert").exists() {
        return Ok(());
    }
    println!(
        "xtask: installing {PKILINT} in {} for the profile test",
        dir.display()
    );
    let python = ["python3", "python"]
        .into_iter()
        .find(|p| {
            Command::new(p)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success())
        })
        .ok_or_else(|| anyhow::anyhow!("the profile test needs Python 3 (python3) for pkilint"))?;
    let status = Command::new(python)
        .args(["-m", "venv", "--clear"])
        .arg(&dir)
        .status()?;
    if !status.success() {
        bail!("python3 -m venv {} failed ({status})", dir.display());
    }
    let status = Command::new(dir.join("bin").join("pip"))
        .args(["install", "--quiet", "--disable-pip-version-check", PKILINT])
        .status()?;
    if !status.success() {
        bail!("pip install {PKILINT} failed ({status})");
    }
    std::fs::write(&marker, "")?;
    Ok(())
}
