//! The registry's durable issuance-record rate and its look-up rate at 100,000 and 1,000,000
//! certificates, each next to the raw ceiling measured in the same run: `fdatasync` of a 4 KiB
//! append for durable writes, and a bare rusqlite point query on the same file for look-ups.
//!
//! Run with `cargo xtask bench`, which writes the table into `docs/BENCHMARKS.md`.

#![allow(clippy::print_stdout)] // A benchmark reports on standard output.

use std::fs::OpenOptions;
use std::hint::black_box;
use std::io::Write;
use std::time::{Duration, Instant};

use time::OffsetDateTime;
use websrm_domain::published::MICHEL_UNTEL;
use websrm_domain::{Environment, SerialNumber, Thumbprint, Validity};
use websrm_registry::{NewAudit, Registry};
use websrm_registry::{NewCertificate, NewOperator, OperatorId};

const ROUNDS: usize = 3;
const ROUND_TIME: Duration = Duration::from_millis(1500);

fn random<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    getrandom::fill(&mut b).unwrap();
    b
}

fn cert(op: OperatorId, now: OffsetDateTime) -> NewCertificate {
    let mut serial = random::<20>();
    serial[0] = 0x10 + serial[0] % 0x70;
    let mut der = vec![0u8; 700];
    getrandom::fill(&mut der).unwrap();
    NewCertificate::new(
        SerialNumber::from_bytes(serial),
        Thumbprint::from_bytes(random::<20>()),
        Environment::Dev,
        op,
        None,
        "Caisse du bar".parse().unwrap(),
        "CN=5678912340,O=RBC-D8T8-W8W8".into(),
        Validity::five_years_from(now),
        der,
        "enrolment",
    )
}

fn rate(op: &mut dyn FnMut()) -> f64 {
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < ROUND_TIME {
        op();
        n += 1;
    }
    n as f64 / start.elapsed().as_secs_f64()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn compare(raw: &mut dyn FnMut(), ours: &mut dyn FnMut()) -> (f64, f64, f64) {
    let (mut r, mut o, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        let a = rate(raw);
        let b = rate(ours);
        r.push(a);
        o.push(b);
        ratios.push(b / a);
    }
    (median(r), median(o), median(ratios))
}

fn main() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("authority.db");
    let now = OffsetDateTime::now_utc();
    let reg = Registry::open(&path).unwrap();
    let op = reg
        .add_operator(
            &NewOperator::new(MICHEL_UNTEL.id(), "Michel Untel enr."),
            now,
            NewAudit::new(now, "bench", "op", "x", ""),
        )
        .unwrap();
    let mut serials = Vec::new();
    let mut rows = Vec::new();
    let fill_start = Instant::now();
    for target in [100_000usize, 1_000_000] {
        while serials.len() < target {
            let batch: Vec<NewCertificate> = (0..1000).map(|_| cert(op, now)).collect();
            serials.extend(batch.iter().map(|c| c.serial));
            reg.record_issued_batch(&batch, now).unwrap();
        }
        let fill_secs = fill_start.elapsed().as_secs_f64();

        // Durable writes: one issuance record (certificate, event, audit entry) per commit.
        let mut sink = OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.path().join("fsync.bin"))
            .unwrap();
        let page = [0x5Au8; 4096];
        let (raw, ours, ratio) = compare(
            &mut || {
                sink.write_all(&page).unwrap();
                sink.sync_data().unwrap();
            },
            &mut || {
                let c = cert(op, now);
                reg.record_issued(
                    &c,
                    false,
                    now,
                    NewAudit::new(now, "enrolment", "issue", c.serial.to_string(), ""),
                )
                .unwrap();
            },
        );
        rows.push((
            format!("durable issuance record, {}k certificates", target / 1000),
            "4 KiB append + fdatasync",
            raw,
            ours,
            ratio,
            0.5,
        ));

        // Look-ups by serial, as every REM, SUP and mutual-TLS request does.
        let raw_conn = rusqlite::Connection::open(&path).unwrap();
        let mut stmt = raw_conn
            .prepare("SELECT serial, thumbprint, status, not_before, not_after, der FROM certificates WHERE serial = ?1")
            .unwrap();
        let mut i = 0usize;
        let mut next = || {
            i = (i + 7919) % serials.len();
            serials[i]
        };
        let mut j = 0usize;
        let mut next2 = || {
            j = (j + 104_729) % serials.len();
            serials[j]
        };
        let (raw, ours, ratio) = compare(
            &mut || {
                let s = next().to_string();
                let v: Vec<u8> = stmt.query_row([s], |r| r.get(5)).unwrap();
                black_box(v);
            },
            &mut || {
                black_box(reg.certificate_by_serial(next2()).unwrap().unwrap());
            },
        );
        rows.push((
            format!("look-up by serial, {}k certificates", target / 1000),
            "bare rusqlite point query, same file",
            raw,
            ours,
            ratio,
            0.5,
        ));
        let size = std::fs::metadata(&path).unwrap().len()
            + std::fs::metadata(dir.path().join("authority.db-wal")).map_or(0, |m| m.len());
        rows.push((
            format!(
                "filled to {}k in {fill_secs:.0} s; files {:.0} MiB",
                target / 1000,
                size as f64 / 1048576.0
            ),
            "",
            0.0,
            0.0,
            0.0,
            0.0,
        ));
    }
    println!(
        "| operation | baseline (same run) | baseline ops/s | websrm ops/s | websrm / baseline | target | met |"
    );
    println!("|---|---|---:|---:|---:|---:|---|");
    for (op, base, raw, ours, ratio, target) in rows {
        if base.is_empty() {
            println!("| {op} | | | | | | |");
            continue;
        }
        let met = if ratio >= target { "yes" } else { "**no**" };
        println!("| {op} | {base} | {raw:.0} | {ours:.0} | {ratio:.2} | ≥ {target:.2} | {met} |");
    }
}
