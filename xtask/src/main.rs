//! Project automation, run as `cargo xtask <command>`.
//!
//! - `ci`: everything CI checks, in order, stopping at the first failure:
//!   `fmt --check`, clippy (`-D warnings`), every test, docs (warnings denied), `deps`.
//! - `deps`: checks the workspace's dependency arrows against `docs/ARCHITECTURE.md`.
//! - `fmt`: formats the workspace.

// xtask talks to the developer on the terminal.
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod deps;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

use anyhow::{Context, Result, bail};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("xtask: error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &[String]) -> Result<()> {
    let root = workspace_root();
    match args.first().map(String::as_str) {
        Some("ci") => ci(&root),
        Some("deps") => deps::check_workspace(&root),
        Some("fmt") => cargo(&root, &["fmt", "--all"], &[]),
        _ => bail!("usage: cargo xtask <ci|deps|fmt>"),
    }
}

fn ci(root: &Path) -> Result<()> {
    cargo(root, &["fmt", "--all", "--check"], &[])?;
    cargo(
        root,
        &[
            "clippy",
            "--workspace",
            "--all-targets",
            "--locked",
            "--",
            "-D",
            "warnings",
        ],
        &[],
    )?;
    cargo(root, &["test", "--workspace", "--locked"], &[])?;
    cargo(
        root,
        &["doc", "--workspace", "--no-deps", "--locked"],
        &[("RUSTDOCFLAGS", "-D warnings")],
    )?;
    deps::check_workspace(root)?;
    println!("xtask: ci passed");
    Ok(())
}

/// Runs cargo (the one that runs xtask) with `args`, printing the command before it runs and
/// again if it fails.
pub(crate) fn cargo(root: &Path, args: &[&str], env: &[(&str, &str)]) -> Result<()> {
    let shown = format!(
        "{}cargo {}",
        env.iter()
            .map(|(k, v)| format!("{k}={v:?} "))
            .collect::<String>(),
        args.join(" ")
    );
    println!("xtask: running {shown}");
    let status = Command::new(cargo_path())
        .args(args)
        .envs(env.iter().copied())
        .current_dir(root)
        .status()
        .with_context(|| format!("could not start {shown}"))?;
    if !status.success() {
        bail!("command failed ({status}): {shown}");
    }
    Ok(())
}

pub(crate) fn cargo_path() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned())
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}
