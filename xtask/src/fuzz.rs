//! The fuzz targets of `fuzz/`: cargo-fuzz with libFuzzer on the stable toolchain. Stable Rust
//! has the coverage instrumentation libFuzzer needs (`-Cpasses=sancov-module`, which cargo-fuzz
//! passes) but not the sanitizers (`-Zsanitizer`), so targets are built with `--sanitizer none`:
//! they find panics, aborts, overflows (debug assertions are on) and hangs, not memory errors,
//! which the crates' `#![forbid(unsafe_code)]` leaves to their dependencies.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::{cargo_path, present};

/// The cargo-fuzz release the targets are built with.
const CARGO_FUZZ: &str = "cargo-fuzz@0.13.2";

/// Seconds per target in `cargo xtask ci`.
const SMOKE_SECS: u64 = 20;

/// `cargo xtask fuzz [--target NAME] [--secs N]`.
pub(crate) fn run(root: &Path, args: &[String]) -> Result<()> {
    let mut target = None;
    let mut secs = SMOKE_SECS;
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--target" => target = Some(args.next().context("--target NAME")?.clone()),
            "--secs" => {
                secs = args
                    .next()
                    .context("--secs N")?
                    .parse()
                    .context("--secs takes a whole number of seconds")?;
            }
            other => bail!("unknown argument {other}: cargo xtask fuzz [--target NAME] [--secs N]"),
        }
    }
    let targets = match target {
        Some(t) => vec![t],
        None => targets(root)?,
    };
    fuzz(root, &targets, secs)
}

/// Every target briefly, as part of `cargo xtask ci`.
pub(crate) fn smoke(root: &Path) -> Result<()> {
    fuzz(root, &targets(root)?, SMOKE_SECS)
}

/// The targets: the `[[bin]]` names of `fuzz/Cargo.toml`.
fn targets(root: &Path) -> Result<Vec<String>> {
    let manifest = std::fs::read_to_string(root.join("fuzz").join("Cargo.toml"))?;
    let mut names = Vec::new();
    let mut in_bin = false;
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            in_bin = line == "[[bin]]";
        } else if in_bin && let Some(name) = line.strip_prefix("name = ") {
            names.push(name.trim_matches('"').to_owned());
        }
    }
    if names.is_empty() {
        bail!("fuzz/Cargo.toml names no target");
    }
    Ok(names)
}

fn fuzz(root: &Path, targets: &[String], secs: u64) -> Result<()> {
    ensure_installed()?;
    let dir = root.join("fuzz");
    // The fuzz crate's own lock file is committed: it must be up to date.
    let status = Command::new(cargo_path())
        .args(["fetch", "--locked", "--manifest-path"])
        .arg(dir.join("Cargo.toml"))
        .status()?;
    if !status.success() {
        bail!("fuzz/Cargo.lock is not up to date ({status})");
    }
    let mut summary = Vec::new();
    for target in targets {
        let corpus = dir.join("corpus").join(target);
        let seeds = dir.join("seeds").join(target);
        std::fs::create_dir_all(&corpus)?;
        std::fs::create_dir_all(&seeds)?;
        println!("xtask: fuzzing {target} for {secs} s");
        let out = Command::new(cargo_path())
            .args([
                "fuzz",
                "run",
                "--sanitizer",
                "none",
                "--release",
                "--debug-assertions",
                target,
            ])
            .arg(&corpus)
            .arg(&seeds)
            .args([
                "--",
                &format!("-max_total_time={secs}"),
                "-print_final_stats=1",
                "-timeout=10",
                "-rss_limit_mb=2048",
            ])
            .current_dir(&dir)
            .output()
            .with_context(|| format!("running cargo fuzz run {target}"))?;
        let log = String::from_utf8_lossy(&out.stderr);
        if !out.status.success() {
            let lines: Vec<&str> = log.lines().collect();
            bail!(
                "fuzz target {target} failed ({}); the input is in fuzz/artifacts/{target}/:\n{}",
                out.status,
                lines[lines.len().saturating_sub(40)..].join("\n")
            );
        }
        let runs = stat(&log, "stat::number_of_executed_units:").unwrap_or(0);
        if runs == 0 {
            // A target that never ran (it exits at start, or libFuzzer printed no statistics)
            // has found nothing, which is not the same as passing.
            bail!("fuzz target {target} ran no input in {secs} s:\n{log}");
        }
        let coverage = last_coverage(&log).unwrap_or_default();
        let line = format!("{target}: {runs} executions in {secs} s, {coverage}, 0 crashes");
        println!("xtask: {line}");
        summary.push(line);
    }
    println!("xtask: fuzzing passed:\n  {}", summary.join("\n  "));
    Ok(())
}

fn stat(log: &str, name: &str) -> Option<u64> {
    log.lines()
        .find_map(|l| l.trim().strip_prefix(name))
        .and_then(|v| v.trim().parse().ok())
}

/// `cov: N ft: M corp: …` of libFuzzer's last status line.
fn last_coverage(log: &str) -> Option<String> {
    let line = log.lines().rev().find(|l| l.contains(" cov: "))?;
    let mut words = line.split_whitespace();
    let mut parts = Vec::new();
    while let Some(w) = words.next() {
        if matches!(w, "cov:" | "ft:" | "corp:")
            && let Some(v) = words.next()
        {
            parts.push(format!("{} {v}", w.trim_end_matches(':')));
        }
    }
    Some(parts.join(", "))
}

fn ensure_installed() -> Result<()> {
    if present("cargo-fuzz") {
        return Ok(());
    }
    println!("xtask: installing {CARGO_FUZZ} (cargo install --locked)");
    let status = Command::new(cargo_path())
        .args(["install", "--locked", CARGO_FUZZ])
        .status()?;
    if !status.success() {
        bail!("cargo install {CARGO_FUZZ} failed ({status})");
    }
    Ok(())
}
