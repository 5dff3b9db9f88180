//! `cargo xtask bench`: the benchmarks, each printing a Markdown table, gathered with the
//! machine they ran on into `docs/BENCHMARKS.md`; and the crash-under-load check.

use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::{apt_install, cargo_path, cargo_test, postgres, present};

/// The benchmarks: each bench target prints a Markdown table; they are gathered, with the
/// machine they ran on, into `docs/BENCHMARKS.md`.
pub(crate) fn bench(root: &Path, only: Option<&str>) -> Result<()> {
    const BENCHES: &[(&str, &str, &str)] = &[
        (
            "websrm-crypto",
            "crypto",
            "Signing, CSR creation and issuance, each against the raw ring/rcgen operation it builds on.",
        ),
        (
            "websrm-registry",
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
             processes sharing the database, the connections spread over both. Tried on PostgreSQL \
             and not kept: a record's writes (certificate, event, audit entry, and the savepoint \
             set with them) sent as one simple query with their values written in, which cut the \
             writer's round trips per enrolment from 7.5 to 4.4 but the rate from 1,259 to 828 \
             enrolments/s in the same session: the server then parses and plans every statement, \
             and on these two cores its CPU, not the round trips, is what runs out.",
        ),
        (
            "websrm-tests",
            "peer",
            "The authority against its peer, CloudFlare CFSSL's `cfssl serve` (Debian's `golang-cfssl`, \
             installed when missing), with a P-256 CA, in alternate rounds of the same run: the same load \
             generator, 16 keep-alive HTTPS connections, a fresh key and CSR in every request, each \
             server's CPU from /proc, and the load generator's. CFSSL signs only (no database); the \
             authority validates each request as WEB-SRM does and records each certificate durably \
             before it answers. From the same run: the authority's CPU per request that twice \
             CFSSL's rate would leave on these cores (both runs keep the cores busy), next to what \
             validating a CSR and issuing its certificate alone take per enrolment (the in-process ceiling).",
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
pub(crate) fn crash_under_load(root: &Path) -> Result<String> {
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

pub(crate) fn command_output(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}
