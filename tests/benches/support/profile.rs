//! The CPU budget of an enrolment: Linux's sampling profiler (`perf`, Debian's `linux-perf`)
//! attached to the authority process while the end-to-end load runs, each sample put under the
//! concern of the function it fell in, and each concern's share turned into microseconds with
//! the process's CPU per request read from `/proc` over the same window.
//!
//! Two tables. By stage: each sample's call stack (unwound from the release build's unwind
//! tables, `--call-graph dwarf`) is put under the innermost stage of a request it passed through
//! (the registry, issuance, validation, JSON, TLS, HTTP...), so that time spent in `malloc` on
//! behalf of validation counts as validation. By kind of work: the innermost function alone,
//! whoever called it: time in `memmove` counts as copies, a futex wait as scheduling.
//!
//! `WEBSRM_PERF_DATA=FILE` keeps the samples in FILE, for `perf report` or a flame graph.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use websrm_crypto::PrivateKey;

use super::peer::cpu_seconds;
use super::{Served, enrolments_across};

/// How long the profiled load runs, and how often perf samples (per second, per thread).
const WINDOW: Duration = Duration::from_secs(8);
const FREQUENCY: &str = "299";

/// The stages of a request, by a pattern of the functions that run them; in a call stack, the
/// innermost function that matches one names the sample's stage.
const STAGES: &[(&str, &[&str])] = &[
    (
        "registry: reads, on the request's thread",
        &["websrm_registry::", "websrm_sqlite::"],
    ),
    (
        "issuance: building and signing the certificate",
        &[
            "CertificateAuthority>::issue",
            "CertificateAuthority::issue",
        ],
    ),
    (
        "validation: headers, CSR, subject, product, operator",
        &[
            "websrm_crypto::validate",
            "service::checks",
            "websrm_authority::structure",
            "websrm_authority::product",
            "Csr::from_wire",
        ],
    ),
    (
        "the answer: its JSON and PEM",
        &["service::answers", "pem::encode"],
    ),
    ("JSON (serde_json)", &["serde_json"]),
    ("the service, other", &["websrm_authority::service"]),
    (
        "metrics and tracing",
        &["websrm_authority::metrics", "prometheus", "tracing"],
    ),
    ("TLS (rustls)", &["rustls"]),
    (
        "HTTP and routing (hyper, axum, tower, the server's layers)",
        &[
            "hyper::",
            "axum",
            "tower",
            "http::",
            "websrm_authority::server",
            "websrm_authority::deadline",
        ],
    ),
    ("async runtime (tokio)", &["tokio::"]),
];

/// Kernel functions of waiting and waking: a thread handing a request to another.
const WAITS: &[&str] = &[
    "futex",
    "schedule",
    "epoll_wait",
    "try_to_wake_up",
    "finish_task_switch",
    "_raw_spin_unlock_irq",
];

/// The concerns, in the order they are listed, and the patterns of the functions that belong to
/// them (the first concern whose pattern a function's name contains takes it).
const USER: &[(&str, &[&str])] = &[
    (
        "TLS records (rustls, AES-GCM)",
        &["rustls", "aes", "gcm", "ghash", "chacha", "poly1305"],
    ),
    (
        "signatures and hashes (P-256, SHA)",
        &[
            "nistz256",
            "p256",
            "ecdsa",
            "sha1",
            "sha2",
            "sha256",
            "sha512",
            "ring_core",
            "ring::",
            "limbs",
            "digest",
        ],
    ),
    (
        "X.509 and DER (x509-parser, rcgen)",
        &[
            "x509",
            "asn1",
            "der_parser",
            "der::",
            "yasna",
            "rcgen",
            "oid",
        ],
    ),
    (
        "SQLite (statements, pages, log)",
        &[
            "sqlite3", "pcache", "wal", "btree", "pager", "vdbe", "rusqlite", "unixShm",
            "balance_", "Vdbe", "Btree", "Pager",
        ],
    ),
    (
        "allocation (malloc, free)",
        &[
            "malloc",
            "free",
            "realloc",
            "_int_",
            "unlink_chunk",
            "calloc",
            "tcache",
            "__rust_alloc",
            "__rust_dealloc",
            "alloc::alloc",
            "RawVec",
        ],
    ),
    (
        "copies and comparisons (memmove, memcmp)",
        &["memmove", "memcpy", "memset", "memcmp", "strlen", "memchr"],
    ),
    ("JSON (serde_json)", &["serde_json", "serde"]),
    (
        "HTTP and routing (hyper, axum, tower, http)",
        &["hyper", "axum", "tower", "http::", "httparse", "matchit"],
    ),
    (
        "async runtime and thread hand-offs (tokio, locks, channels)",
        &[
            "tokio", "mpsc", "mpmc", "Mutex", "Condvar", "futex", "parking", "syscall", "pthread",
            "thread", "waker", "Waker", "Arc",
        ],
    ),
    ("tracing and metrics", &["tracing", "prometheus", "metrics"]),
    ("formatting (core::fmt)", &["fmt", "format"]),
    ("websrm (checks, registry records, answers)", &["websrm"]),
];

const KERNEL: &[(&str, &[&str])] = &[
    (
        "kernel: scheduling and wake-ups",
        &[
            "schedule",
            "switch",
            "futex",
            "wake",
            "_raw_spin_unlock_irq",
            "enqueue",
            "dequeue",
            "update_curr",
            "pick_next",
            "idle",
            "select_task",
            "ttwu",
            "psi_",
            "hrtimer",
            "tick",
        ],
    ),
    (
        "kernel: loopback network",
        &[
            "tcp", "ip_", "ipv", "skb", "sock", "net", "__dev", "loopback", "inet", "napi",
            "softirq", "sk_", "epoll", "ep_", "poll",
        ],
    ),
    (
        "kernel: files and fsync",
        &[
            "ext4",
            "filemap",
            "folio",
            "blk",
            "bio",
            "virtio",
            "iowrite",
            "fsync",
            "jbd",
            "page_cache",
            "writeback",
            "mpage",
            "xas_",
            "block",
            "buffer",
            "inode",
            "dentry",
            "rename",
            "path_",
            "lookup",
            "vfs_",
            "generic_perform_write",
            "iomap",
        ],
    ),
    (
        "kernel: page faults and memory",
        &[
            "clear_page",
            "page_fault",
            "handle_mm",
            "anonymous",
            "mmap",
            "munmap",
            "lru",
            "alloc_pages",
            "free_pages",
            "zap",
            "kmem",
            "memcg",
            "folio_",
        ],
    ),
];

/// The concern a sampled function belongs to.
fn concern(kernel: bool, symbol: &str) -> &'static str {
    if symbol.starts_with("0x") {
        return "unresolved";
    }
    let table = if kernel { KERNEL } else { USER };
    table
        .iter()
        .find(|(_, patterns)| patterns.iter().any(|p| symbol.contains(p)))
        .map_or(
            if kernel {
                "kernel: other (system calls, copies to and from user space)"
            } else {
                "other"
            },
            |(name, _)| name,
        )
}

/// Whether `perf` is here and may attach to a process of this user.
fn perf_usable() -> bool {
    Command::new("perf")
        .args(["record", "-q", "-o", "/dev/null", "--", "true"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The budget's tables, or a line saying why there is none.
pub(crate) fn budget(
    runtime: &tokio::runtime::Runtime,
    make_csrs: impl Fn(usize) -> Vec<(PrivateKey, String)>,
) {
    if !perf_usable() {
        println!(
            "`perf` is not installed or may not attach here (`apt-get install linux-perf`; \
             `kernel.perf_event_paranoid` at 2 or less): no budget."
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let served = Served::start(dir.path());
    let mut csrs = make_csrs(40_000);
    runtime.block_on(enrolments_across(
        &[&served],
        csrs.split_off(csrs.len() - 2_000),
        Duration::from_secs(1),
    ));
    let pid = served.child.id();
    let data = dir.path().join("perf.data");
    let mut perf = Command::new("perf")
        .args([
            "record",
            "-q",
            "-F",
            FREQUENCY,
            "--call-graph",
            "dwarf,16384",
            "-p",
            &pid.to_string(),
            "-o",
        ])
        .arg(&data)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("perf record starts");
    // perf attaches within a moment; the window is measured from then.
    std::thread::sleep(Duration::from_millis(300));
    let (cpu, start) = (cpu_seconds(pid), Instant::now());
    let load = runtime.block_on(enrolments_across(&[&served], csrs, WINDOW));
    let (cpu, time) = (cpu_seconds(pid) - cpu, start.elapsed().as_secs_f64());
    let _ = Command::new("kill")
        .args(["-INT", &perf.id().to_string()])
        .status();
    let _ = perf.wait();
    let requests = load.rate * time;
    let per_request = cpu / requests.max(1.0) * 1e6;
    // The samples themselves, for `perf report` or a flame graph, when asked for.
    if let Some(keep) = std::env::var_os("WEBSRM_PERF_DATA") {
        std::fs::copy(&data, &keep).expect("the samples are copied where WEBSRM_PERF_DATA says");
    }
    let samples = report(&data);
    let total: f64 = samples.iter().map(|(_, _, share)| share).sum();
    let mut by_concern: BTreeMap<&str, f64> = BTreeMap::new();
    for (kernel, symbol, share) in &samples {
        *by_concern.entry(concern(*kernel, symbol)).or_default() += share;
    }
    let mut rows: Vec<(&str, f64)> = by_concern.into_iter().collect();
    rows.sort_by(|a, b| b.1.total_cmp(&a.1));

    println!(
        "{:.0} enrolments/s over {time:.1} s; the authority used {:.0} % of one core, {per_request:.0} µs of CPU per enrolment.",
        load.rate,
        cpu / time * 100.0
    );
    println!();
    println!("| concern | share of the authority's CPU | µs per enrolment |");
    println!("|---|---:|---:|");
    for (name, share) in &rows {
        println!(
            "| {name} | {:.1} % | {:.0} |",
            share / total * 100.0,
            share / total * per_request
        );
    }
    println!("| total | 100 % | {per_request:.0} |");
    println!();
    println!("The same samples by stage, from their call stacks:");
    println!();
    let stages = stages(&data);
    let counted: usize = stages.values().sum();
    let mut stages: Vec<(&str, usize)> = stages.into_iter().collect();
    stages.sort_by_key(|s| std::cmp::Reverse(s.1));
    println!("| stage | share of the authority's CPU | µs per enrolment |");
    println!("|---|---:|---:|");
    for (name, n) in &stages {
        let share = *n as f64 / counted.max(1) as f64;
        println!(
            "| {name} | {:.1} % | {:.0} |",
            share * 100.0,
            share * per_request
        );
    }
    println!("| total ({counted} samples) | 100 % | {per_request:.0} |");
    println!();
    println!("The functions where most samples fell:");
    println!();
    println!("| function | concern | share |");
    println!("|---|---|---:|");
    for (kernel, symbol, share) in samples.iter().take(20) {
        let shown: String = symbol.chars().take(70).collect();
        println!(
            "| `{}` | {} | {:.1} % |",
            shown.replace('|', "\\|"),
            concern(*kernel, symbol),
            share / total * 100.0
        );
    }
}

/// The samples by stage, from `perf script`'s call stacks.
fn stages(data: &Path) -> BTreeMap<&'static str, usize> {
    let out = Command::new("perf")
        .args(["script", "-F", "comm,ip,sym", "-i"])
        .arg(data)
        .stderr(Stdio::null())
        .output()
        .expect("perf script runs");
    let text = String::from_utf8_lossy(&out.stdout);
    let mut counts = BTreeMap::new();
    for sample in text.split("\n\n") {
        let mut lines = sample.lines().filter(|l| !l.trim().is_empty());
        let Some(comm) = lines.next() else { continue };
        let frames: Vec<&str> = lines
            .filter_map(|l| {
                l.trim()
                    .split_once(char::is_whitespace)
                    .map(|(_, f)| f.trim())
            })
            .collect();
        if frames.is_empty() {
            continue;
        }
        *counts.entry(stage(comm.trim(), &frames)).or_default() += 1;
    }
    counts
}

/// The stage of one sample: its thread, and its frames from the innermost out.
fn stage(comm: &str, frames: &[&str]) -> &'static str {
    let any = |patterns: &[&str]| {
        frames
            .iter()
            .any(|f| patterns.iter().any(|p| f.contains(p)))
    };
    let waiting = frames
        .iter()
        .take(12)
        .any(|f| WAITS.iter().any(|w| f.contains(w)));
    if comm.starts_with("websrm-registry") {
        // The registry's writer (and its checkpointer): one thread for every request.
        return if any(&["fsync", "fdatasync"]) {
            "registry: the writer's commits (fsync)"
        } else if any(&["after_commit"]) {
            "registry: the writer's audit checkpoint"
        } else if waiting || any(&["SyncWaker", "mpmc::", "mpsc::"]) {
            "registry: the writer waiting and waking its callers"
        } else if any(&["wal_checkpoint", "Checkpointer", "checkpoint::"]) {
            "registry: WAL checkpoints"
        } else {
            "registry: the writer's statements and log writes"
        };
    }
    if waiting {
        return "thread hand-offs: waiting and waking (kernel)";
    }
    frames
        .iter()
        .find_map(|f| {
            STAGES
                .iter()
                .find(|(_, patterns)| patterns.iter().any(|p| f.contains(p)))
                .map(|(name, _)| *name)
        })
        .unwrap_or("rest: unattributed (the kernel's network and system calls, libc)")
}

/// The samples by function: (in the kernel, name, share in %), largest first.
fn report(data: &Path) -> Vec<(bool, String, f64)> {
    let out = Command::new("perf")
        .args([
            "report",
            "--stdio",
            "-q",
            "--no-children",
            "-g",
            "none",
            "--percent-limit",
            "0",
            "--sort",
            "sym",
            "-i",
        ])
        .arg(data)
        .output()
        .expect("perf report runs");
    let text = String::from_utf8_lossy(&out.stdout);
    let mut rows: Vec<(bool, String, f64)> = text
        .lines()
        .filter_map(|line| {
            // "    12.34%  [k] finish_task_switch.isra.0"
            let line = line.trim();
            let (share, rest) = line.split_once('%')?;
            let share: f64 = share.trim().parse().ok()?;
            let rest = rest.trim();
            let (kind, symbol) = rest.split_once(' ')?;
            Some((kind == "[k]", symbol.trim().to_owned(), share))
        })
        .collect();
    rows.sort_by(|a, b| b.2.total_cmp(&a.2));
    rows
}
