//! Project automation, run as `cargo xtask <command>`.
//!
//! - `ci`: everything CI checks, in order, stopping at the first failure:
//!   `fmt --check`, clippy (`-D warnings`), every test, the registry's suite and the integration
//!   tests again on a throw-away PostgreSQL server (with the two-process test), the agent's
//!   generated TypeScript and Python clients (`clients`), docs (warnings denied), `deps`, the
//!   README's vendor snippet against the facade's compiled example, the Windows build, `deny`,
//!   and a short pass of every fuzz target.
//! - `deps`: checks the workspace's dependency arrows against `docs/ARCHITECTURE.md`.
//! - `fmt`: formats the workspace.
//! - `bench`: runs the benchmarks and writes their results into `docs/BENCHMARKS.md`.
//! - `deny`: the dependency policy of `deny.toml` (cargo-deny), with the advisory snapshot in
//!   `../shared/advisory-db` when there is one.
//! - `fuzz [--target NAME] [--secs N]`: runs the fuzz targets of `fuzz/` (cargo-fuzz, libFuzzer,
//!   on the stable toolchain), each for N seconds (default 20).
//! - `windows`: clippy for `x86_64-pc-windows-gnu` and `websrm.exe` cross-built with MinGW-w64
//!   (the target and the linker installed when missing); then, under Wine (Debian's `wine64`,
//!   installed when missing and installable), the access-list tests, `websrm.exe demo` and the
//!   agent walkthrough against `websrm.exe` (said so, and skipped, when Wine cannot be had).
//! - `clients [--no-build]`: lints the agent's OpenAPI document, generates a TypeScript client
//!   (openapi-typescript, openapi-fetch) and a Python one (openapi-python-client) from it and runs
//!   the walkthrough of `docs/AGENT.md` with each against a fresh agent and a local authority
//!   (`--no-build`: with `target/debug/websrm` as it is).
//! - `test-postgres`: the PostgreSQL pass of `ci` alone (a throw-away server, installed from
//!   Debian's `postgresql` package when missing).

// xtask talks to the developer on the terminal.
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod api;
mod bench;
mod clients;
mod codemap;
mod deny;
mod deps;
mod fuzz;
mod install;
mod postgres;
mod runner;
mod tidy;
mod windows;

pub(crate) use install::{
    apt_install, ensure_basics, ensure_browser, ensure_pkilint, is_root, present,
};
pub(crate) use runner::{cargo, cargo_path, cargo_test};

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Result, bail};

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
        Some("clients") => clients::check(&root, &args[1..])
            .map(|(passed, failed)| println!("xtask: {passed} passed, {failed} failed")),
        Some("deps") => deps::check_workspace(&root).and_then(|()| codemap::check_workspace(&root)),
        Some("fmt") => cargo(&root, &["fmt", "--all"], &[]),
        Some("bench") => bench::bench(&root, args.get(1).map(String::as_str)),
        Some("deny") => deny::check(&root),
        Some("fuzz") => fuzz::run(&root, &args[1..]),
        Some("test-postgres") => postgres_tests(&root).map(|_| ()),
        Some("windows") => windows::check(&root),
        _ => bail!(
            "usage: cargo xtask <ci|clients [--no-build]|deps|fmt|bench [NAME]|deny|fuzz [--target NAME] [--secs N]|test-postgres|windows>"
        ),
    }
}

fn ci(root: &Path) -> Result<()> {
    // The tests check what websrm produces with an independent implementation: OpenSSL's
    // command line (installed with Debian, Ubuntu and macOS).
    ensure_basics()?;
    ensure_browser(root)?;
    ensure_pkilint(root)?;
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
    // The tests that need PostgreSQL run in the PostgreSQL pass below.
    let (mut passed, mut failed) = cargo_test(
        root,
        &[
            "test",
            "--workspace",
            "--locked",
            "--",
            "--skip",
            "scale_out::",
            "--skip",
            "the_registry_on_postgresql",
        ],
        &[],
    )?;
    let (p, f) = postgres_tests(root)?;
    passed += p;
    failed += f;
    // The agent's API through the clients other languages generate from its document.
    let (p, f) = clients::check(root, &[])?;
    passed += p;
    failed += f;
    cargo(
        root,
        &["doc", "--workspace", "--no-deps", "--locked"],
        &[("RUSTDOCFLAGS", "-D warnings")],
    )?;
    deps::check_workspace(root)?;
    codemap::check_workspace(root)?;
    tidy::check(root)?;
    windows::check(root)?;
    deny::check(root)?;
    fuzz::smoke(root)?;
    println!("xtask: ci passed");
    // The plain closing line: every test of the workspace, added up.
    println!("xtask: {passed} passed, {failed} failed");
    Ok(())
}

/// The registry's suite and the integration tests on a throw-away PostgreSQL server, so that
/// the two engines cannot drift apart, with the two-process test and the command line's.
fn postgres_tests(root: &Path) -> Result<(u64, u64)> {
    let server = postgres::Server::start()?;
    let tls_root = server.tls_root.display().to_string();
    let bin = server.bin.display().to_string();
    let env = [
        (postgres::ENV, server.url.as_str()),
        (postgres::TLS_ROOT_ENV, tls_root.as_str()),
        (postgres::BIN_ENV, bin.as_str()),
    ];
    let (mut passed, mut failed) = (0, 0);
    for args in [
        &[
            "test",
            "--locked",
            "-p",
            "websrm-registry",
            "--features",
            "postgres",
            "--test",
            "registry",
        ][..],
        &["test", "--locked", "-p", "websrm-tests", "--test", "it"][..],
        &[
            "test",
            "--locked",
            "-p",
            "websrm-cli",
            "--test",
            "cli",
            "the_registry_on_postgresql",
        ][..],
    ] {
        let (p, f) = cargo_test(root, args, &env)?;
        passed += p;
        failed += f;
    }
    Ok((passed, failed))
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}
