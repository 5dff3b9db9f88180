//! Cargo as `cargo xtask` runs it: each command shown, its output passed through, and the
//! tests' `test result` lines added up.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail};

/// Runs `cargo test` with `args`, passing its output through, and adds up the `test result`
/// lines; fails like [`cargo`] does, and when no test ran at all (a filter that matches no test
/// would otherwise pass).
pub(crate) fn cargo_test(root: &Path, args: &[&str], env: &[(&str, &str)]) -> Result<(u64, u64)> {
    use std::io::{BufRead, BufReader};
    let shown = shown(args, env);
    println!("xtask: running {shown}");
    let mut child = Command::new(cargo_path())
        .args(args)
        .envs(env.iter().copied())
        .current_dir(root)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .with_context(|| format!("could not start {shown}"))?;
    let (mut passed, mut failed) = (0, 0);
    let stdout = child.stdout.take().context("no output of cargo test")?;
    for line in BufReader::new(stdout).lines() {
        let line = line?;
        println!("{line}");
        if let Some(rest) = line.strip_prefix("test result: ") {
            let count = |word: &str| -> u64 {
                rest.split(';')
                    .find_map(|part| {
                        part.trim()
                            .trim_start_matches("ok. ")
                            .trim_start_matches("FAILED. ")
                            .strip_suffix(word)
                    })
                    .and_then(|n| n.trim().parse().ok())
                    .unwrap_or(0)
            };
            passed += count(" passed");
            failed += count(" failed");
        }
    }
    let status = child.wait()?;
    if !status.success() {
        bail!("command failed ({status}): {shown}");
    }
    if passed + failed == 0 {
        bail!("no test ran: {shown} matched none");
    }
    Ok((passed, failed))
}

/// The command line of a cargo run, as printed: its environment, then `cargo` and `args`.
fn shown(args: &[&str], env: &[(&str, &str)]) -> String {
    let env: String = env.iter().map(|(k, v)| format!("{k}={v:?} ")).collect();
    format!("{env}cargo {}", args.join(" "))
}

/// Runs cargo (the one that runs xtask) with `args`, printing the command before it runs and
/// again if it fails.
pub(crate) fn cargo(root: &Path, args: &[&str], env: &[(&str, &str)]) -> Result<()> {
    let shown = shown(args, env);
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
