//! The Windows build: most Quebec restaurant tills run Windows, so `websrm.exe` (the CLI and the
//! agent) is cross-built for `x86_64-pc-windows-gnu` with MinGW-w64, installing the Rust target
//! (rustup) and the linker (Debian's `gcc-mingw-w64-x86-64`) when missing, and clippy checks the
//! Unix-only code paths have their Windows counterparts.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail};

/// The Rust target of the Windows build.
const TARGET: &str = "x86_64-pc-windows-gnu";

/// The MinGW-w64 linker the target uses.
const LINKER: &str = "x86_64-w64-mingw32-gcc";

/// Installs what is missing, runs clippy for the Windows target and builds `websrm.exe`.
pub(crate) fn check(root: &Path) -> Result<()> {
    ensure_target()?;
    if !crate::present(LINKER) {
        crate::apt_install(&["gcc-mingw-w64-x86-64"], "the Windows build")?;
    }
    crate::cargo(
        root,
        &[
            "clippy",
            "--target",
            TARGET,
            "-p",
            "websrm-cli",
            "--locked",
            "--",
            "-D",
            "warnings",
        ],
        &[],
    )?;
    crate::cargo(
        root,
        &["build", "--target", TARGET, "-p", "websrm-cli", "--locked"],
        &[],
    )?;
    let exe = root
        .join("target")
        .join(TARGET)
        .join("debug")
        .join("websrm.exe");
    let head = std::fs::read(&exe)
        .with_context(|| format!("reading {}", exe.display()))?
        .get(..2)
        .map(<[u8]>::to_vec);
    if head.as_deref() != Some(b"MZ") {
        bail!("{} is not a Windows executable", exe.display());
    }
    println!("xtask: built {}", exe.display());
    Ok(())
}

fn ensure_target() -> Result<()> {
    let installed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .context("running rustup")?;
    if String::from_utf8_lossy(&installed.stdout)
        .lines()
        .any(|l| l.trim() == TARGET)
    {
        return Ok(());
    }
    println!("xtask: installing the Rust target {TARGET} (rustup) for the Windows build");
    let status = Command::new("rustup")
        .args(["target", "add", TARGET])
        .status()
        .context("running rustup")?;
    if !status.success() {
        bail!("rustup target add {TARGET} failed ({status})");
    }
    Ok(())
}
