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

mod clients;
mod deny;
mod deps;
mod fuzz;
mod postgres;
mod tidy;
mod windows;

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
        Some("clients") => clients::check(&root, &args[1..])
            .map(|(passed, failed)| println!("xtask: {passed} passed, {failed} failed")),
        Some("deps") => deps::check_workspace(&root),
        Some("fmt") => cargo(&root, &["fmt", "--all"], &[]),
        Some("bench") => bench(&root, args.get(1).map(String::as_str)),
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
    if Command::new("openssl")
        .arg("version")
        .output()
        .map(|o| !o.status.success())
        .unwrap_or(true)
    {
        bail!(
            "the tests need the OpenSSL command line (`openssl`); install it, e.g. `apt-get install openssl`"
        );
    }
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
            "websrm-store",
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

/// The benchmarks: each bench target prints a Markdown table; they are gathered, with the
/// machine they ran on, into `docs/BENCHMARKS.md`.
fn bench(root: &Path, only: Option<&str>) -> Result<()> {
    const BENCHES: &[(&str, &str, &str)] = &[
        (
            "websrm-crypto",
            "crypto",
            "Signing, CSR creation and issuance, each against the raw ring/rcgen operation it builds on.",
        ),
        (
            "websrm-store",
            "registry",
            "The registry's durable issuance records (certificate, event and chained audit entry, one \
             commit each, `synchronous = FULL`) against the disk's raw `fdatasync` rate, and look-ups by \
             serial against a bare rusqlite query on the same file, at 100,000 and 1,000,000 certificates.",
        ),
        (
            "websrm-tests",
            "e2e",
            "The authority end to end: a load generator in the same run with 16 keep-alive HTTPS \
             connections sends AJO requests, each with a key and CSR made before the timed part, to an \
             authority serving on loopback in a process of its own (group commit, reads on a pool), for \
             6 s; next to the in-process ceiling (validate and issue on every core, no I/O, no HTTP). \
             Then a registry holding 1,000,000 certificates and a fresh one, served side by side and \
             sent enrolments in alternate rounds of 3 s (the disk is as noisy as the cores), then REM \
             and SUP, which present a client certificate and so open a TLS connection each, and \
             transactions over 16 mutual-TLS connections (a certificate and a device each), signed \
             before the timed part, every one checked as WEB-SRM checks it and recorded: one current \
             transaction per request, then batches of 100; the authority's resident memory \
             from /proc; two fresh authorities, one counting requests in its metrics and one not, \
             sent enrolments in alternate rounds (what the metrics cost). Last, the same enrolments with the registry on PostgreSQL (a throw-away \
             server on the same machine, `fsync` on), with one authority process and with two \
             processes sharing the database, the connections spread over both.",
        ),
        (
            "websrm-tests",
            "peer",
            "The authority against its peer, CloudFlare CFSSL's `cfssl serve` (Debian's `golang-cfssl`, \
             installed when missing), with a P-256 CA, in alternate rounds of the same run: the same load \
             generator, 16 keep-alive HTTPS connections, a fresh key and CSR in every request, each \
             server's CPU from /proc. CFSSL signs only (no database); the authority validates each \
             request as WEB-SRM does and records each certificate durably before it answers.",
        ),
        (
            "websrm-tests",
            "profile",
            "Where an enrolment's CPU goes: Linux's `perf` (Debian's `linux-perf`, installed when \
             missing) samples the authority process with its call stacks while 16 keep-alive HTTPS \
             connections enrol with fresh CSRs for 8 s; each sample is put under the kind of work \
             of the function it fell in (first table), and under the innermost stage of a request \
             its call stack passed through (second table), and each share of the process's CPU \
             is turned into microseconds with the CPU per enrolment read from /proc over the same \
             window. Found \
             this way and cut: the audit checkpoint's file, created and renamed at every commit, \
             cost the writer's thread inode allocations and a rename per batch (CPU per enrolment \
             against CFSSL's in the same run, section `peer`: 1.35 before, 1.14 to 1.30 in the \
             runs since, on a noisy machine); it is now overwritten in place. Tried and not kept: mimalloc as the allocator and \
             memory-mapped reads in SQLite, which did not lower the CPU per enrolment measurably.",
        ),
        (
            "websrm-tests",
            "transmit",
            "Transmission end to end against a local authority over TLS on loopback: one POS recording \
             (sale checked, signed into its chain, written into the outbox with one commit) and \
             transmitting its sales one after the other; eight POS at once through one agent; sales \
             recorded while the authority cannot be reached, each tried with the pending batch as the \
             guide asks, with an empty outbox and with 200,000 transactions waiting; and 10,000 \
             pending transactions flushed when the link returns, in parts of at most 256,000 bytes.",
        ),
    ];
    let selected: Vec<_> = BENCHES
        .iter()
        .filter(|(_, name, _)| only.is_none_or(|o| o == *name))
        .collect();
    if let Some(name) = only
        && selected.is_empty()
    {
        bail!("no benchmark named {name}");
    }
    let run_at = format!(
        "{} on {} CPU(s), `{}`",
        command_output("date", &["-u", "+%Y-%m-%d %H:%M UTC"]),
        std::thread::available_parallelism().map_or(1, usize::from),
        command_output("uname", &["-srm"]),
    );
    // The end-to-end benchmark measures the registry on PostgreSQL too.
    let server = postgres::Server::start()?;
    let mut sections = Vec::new();
    for (package, name, what) in selected {
        // The peer comparison is a mode of the end-to-end benchmark, which starts the authority.
        let (target, mode) = match *name {
            "peer" => {
                if !present("cfssl") {
                    apt_install(&["golang-cfssl"], "the comparison with CFSSL")?;
                }
                ("e2e", "peer")
            }
            "profile" => {
                if !present("perf") {
                    apt_install(&["linux-perf"], "the profile of the authority")?;
                }
                ("e2e", "profile")
            }
            other => (other, ""),
        };
        let args = ["bench", "--locked", "-p", package, "--bench", target];
        println!("xtask: running cargo {}", args.join(" "));
        let output = Command::new(cargo_path())
            .args(args)
            .env("WEBSRM_BENCH_ONLY", mode)
            .env(postgres::ENV, &server.url)
            .current_dir(root)
            .output()
            .context("could not run cargo bench")?;
        if !output.status.success() {
            bail!(
                "cargo {} failed:\n{}",
                args.join(" "),
                String::from_utf8_lossy(&output.stderr)
            );
        }
        let table = String::from_utf8_lossy(&output.stdout);
        println!("{table}");
        let when = if only.is_some() {
            format!("Run on its own: {run_at}.\n\n")
        } else {
            String::new()
        };
        sections.push((
            format!("## {package}: {name}\n"),
            format!("## {package}: {name}\n\n{what}\n\n{when}{table}\n"),
        ));
    }
    let path = root.join("docs/BENCHMARKS.md");
    let report = if only.is_some() {
        // One benchmark: its section is replaced (or added before the crash test's), the
        // others keep the figures of their last run.
        let mut report = std::fs::read_to_string(&path).unwrap_or_default();
        for (heading, section) in sections {
            match report.find(&heading) {
                Some(start) => {
                    let end = report[start + heading.len()..]
                        .find("\n## ")
                        .map_or(report.len(), |i| start + heading.len() + i + 1);
                    report.replace_range(start..end, &section);
                }
                None => {
                    let at = report
                        .find("## websrm-tests: crash under load")
                        .unwrap_or(report.len());
                    report.insert_str(at, &section);
                }
            }
        }
        report
    } else {
        let mut report = String::from(BENCHMARKS_HEADER);
        report.push_str(&format!("Last run: {run_at}.\n\n"));
        for (_, section) in sections {
            report.push_str(&section);
        }
        report.push_str(&crash_under_load(root)?);
        report
    };
    std::fs::write(&path, report).context("writing docs/BENCHMARKS.md")?;
    println!("xtask: wrote docs/BENCHMARKS.md");
    Ok(())
}

/// The longer run of the crash test under load: 20 kills instead of the 5 of `cargo xtask ci`.
fn crash_under_load(root: &Path) -> Result<String> {
    const KILLS: &str = "20";
    let report = std::env::temp_dir().join(format!("websrm-crash-report-{}", std::process::id()));
    let _ = std::fs::remove_file(&report);
    let (_, failed) = cargo_test(
        root,
        &[
            "test",
            "--locked",
            "-p",
            "websrm-tests",
            "--test",
            "it",
            "--",
            "--exact",
            "crash_load::clients_enrol_while_the_authority_is_killed_and_nothing_is_lost",
        ],
        &[
            ("WEBSRM_CRASH_KILLS", KILLS),
            ("WEBSRM_CRASH_REPORT", &report.display().to_string()),
        ],
    )?;
    if failed != 0 {
        bail!("the crash test under load failed");
    }
    let table = std::fs::read_to_string(&report).context("the crash test wrote no report")?;
    let _ = std::fs::remove_file(&report);
    Ok(format!(
        "## websrm-tests: crash under load\n\n\
         Four clients enrol continuously over HTTPS, each sending the same request again until it \
         is answered, as an SRS does, while the authority process is killed with SIGKILL {KILLS} \
         times, 400 ms apart, and restarted on the same folder; then the registry is opened and \
         checked (`crash_load` in the integration tests, which `cargo xtask ci` runs with 5 kills).\n\n\
         {table}\n"
    ))
}

const BENCHMARKS_HEADER: &str = "# Benchmarks

Written by `cargo xtask bench`; do not edit by hand.

Each benchmark measures an operation of websrm next to the raw library operation it is built on,
alternately in the same run (crypto: 5 rounds of 0.7 s each after a warm-up; registry: 3 rounds of
1.5 s each), and reports the medians and the median of the per-round ratios.
The machines are shared and noisy: absolute rates vary by ±25 % between runs, so read the ratios.
For scale, on the 2-core reference machine ring signs about 30,000 times and rcgen issues about
7,000 certificates per second on one core.

Targets, as ratios to the baseline measured in the same run:
- a WEB-SRM signature costs no more than the raw ECDSA signature plus Base64 (≥ 0.90);
- a new key and WEB-SRM CSR, with its hand-built extensions and the key parsed twice (P1363 and
  DER signing), keeps at least half of rcgen's rate (≥ 0.50);
- validating a CSR (proof of possession, key, hash, key usage, every subject rule) and issuing
  keeps at least half of rcgen's parse-verify-sign rate (≥ 0.50);
- a durable issuance record (three rows and an audit hash, one commit) keeps at least half of the
  disk's raw fsync rate (≥ 0.50): one commit needs about two syncs in WAL mode;
- recording a sale offline with 200,000 transactions waiting in the outbox keeps at least half
  the rate of an empty outbox (≥ 0.50);
- a look-up by serial through the registry (parsing every column into domain types) keeps at
  least half of a bare query's rate (≥ 0.50), at 100,000 and at 1,000,000 certificates;
- end to end over HTTPS, enrolments (full validation, a durable registry) reach twice the rate
  of CFSSL's `cfssl serve` signing CSRs with no database, driven by the same load generator in
  alternate rounds of the same run (≥ 2.00, section `peer`; not met: the section says how far);
  with 1,000,000 certificates recorded, within 20 % of an empty registry (≥ 0.80); the
  authority's resident memory stays flat. The in-process figures (the ceiling, the service
  alone) and the CPU budget of an enrolment (section `profile`) are the breakdown, not targets.

The durable issuance record is measured one write at a time, as before group commit: it shows a
single write's cost. Under concurrent load the registry's writer commits many writes per fsync
(see the end-to-end figures).

";

fn command_output(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}

/// Whether a command is on the PATH.
pub(crate) fn present(cmd: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {cmd}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// The online-services test drives headless Chromium over WebDriver and checks every page with
/// axe-core: install Debian's `chromium` and `chromium-driver` when they are missing and this is
/// a Debian machine run as root (as CI is), otherwise say what to install; then axe-core at the
/// version `tests/browser/package-lock.json` pins.
fn ensure_browser(root: &Path) -> Result<()> {
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
fn pkilint_dir(root: &Path) -> PathBuf {
    root.join("target").join("pkilint")
}

/// Installs pkilint from PyPI in a virtual environment under `target/` when it is missing.
fn ensure_pkilint(root: &Path) -> Result<()> {
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

/// Runs `cargo test` with `args`, passing its output through, and adds up the `test result`
/// lines; fails like [`cargo`] does.
fn cargo_test(root: &Path, args: &[&str], env: &[(&str, &str)]) -> Result<(u64, u64)> {
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

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}
