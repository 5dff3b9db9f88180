//! A writer killed with SIGKILL in the middle of its writes leaves a database that opens,
//! passes SQLite's integrity check, and holds only whole records.

#![allow(clippy::print_stdout)] // The child process reports its commits on standard output.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};

use time::OffsetDateTime;
use websrm_crypto::{
    CertificateAuthority, Csr, KeyEncryptionKey, PrivateKey, SealedKey, inspect_certificate,
    validate_csr,
};
use websrm_domain::published::MICHEL_UNTEL;
use websrm_domain::{Environment, Sector, Subject};
use websrm_registry::{NewAudit, NewCertificate, NewOperator, Registry};
use websrm_store::device::{CertificateMaterial, SlotKey};
use websrm_store::{DeviceStore, FileKeyProtector, KeyProtector};

const CHILD: &str = "WEBSRM_CRASH_WRITER";

/// Not a test: the entry of the writer process the tests below start and kill. It runs only
/// when started by them (with the variable set); `--ignored` alone makes it fail loudly.
#[test]
#[ignore = "the child process of the crash tests; started by them"]
fn crash_writer_child() {
    let spec = std::env::var(CHILD)
        .expect("started by the crash tests, with WEBSRM_CRASH_WRITER=KIND:PATH");
    let (kind, path) = spec.split_once(':').unwrap();
    write_forever(kind, Path::new(path));
}

/// Runs the writer until it reports `commits` commits plus a random few milliseconds, then kills
/// it. Returns the last commit it reported.
fn run_and_kill(kind: &str, path: &Path, commits: u64, extra_ms: u64) -> u64 {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--ignored",
            "--exact",
            "crash_writer_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, format!("{kind}:{}", path.display()))
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut last = 0;
    while last < commits {
        let line = lines.next().expect("the writer runs").unwrap();
        if let Some(n) = line.strip_prefix("committed ") {
            last = n.parse().unwrap();
        }
    }
    std::thread::sleep(std::time::Duration::from_millis(extra_ms));
    child.kill().unwrap(); // SIGKILL on Unix
    child.wait().unwrap();
    // Anything reported after the kill decision was also committed.
    lines
        .map_while(Result::ok)
        .filter_map(|l| l.strip_prefix("committed ")?.parse().ok())
        .fold(last, u64::max)
}

#[test]
fn registry_killed_mid_batch_keeps_whole_batches_only() {
    for (round, extra) in [3u64, 11, 29].into_iter().enumerate() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("authority.db");
        let reported = run_and_kill("registry", &path, 3 + round as u64, extra);
        let reg = Registry::open(&path).unwrap();
        reg.integrity_check().unwrap();
        let count = reg.certificate_count().unwrap();
        assert_eq!(
            count % 50,
            0,
            "round {round}: {count} certificates is not a whole number of batches"
        );
        assert!(
            count / 50 >= reported,
            "round {round}: a reported commit was lost ({count} < {reported} batches)"
        );
        // Every certificate has its event, and the audit log (operator + one per certificate) is whole.
        assert_eq!(reg.verify_audit_chain().unwrap(), count + 1);
        let raw = rusqlite::Connection::open(&path).unwrap();
        let events: i64 = raw
            .query_row("SELECT count(*) FROM certificate_events", [], |r| r.get(0))
            .unwrap();
        assert_eq!(events.unsigned_abs(), count);
    }
}

#[test]
fn device_store_killed_mid_replacement_keeps_matching_pairs() {
    for (round, extra) in [2u64, 7, 17].into_iter().enumerate() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("device.db");
        let reported = run_and_kill("device", &path, 2 + round as u64, extra);
        let store = DeviceStore::open(&path).unwrap();
        store.integrity_check().unwrap();
        let kek = KeyEncryptionKey::from_bytes(
            *FileKeyProtector::beside(&path)
                .key_encryption_key()
                .unwrap(),
        );
        let slots = store.slots().unwrap();
        assert!(
            slots.len() as u64 >= reported,
            "round {round}: a reported slot was lost"
        );
        for slot in &slots {
            let key = PrivateKey::open(
                &SealedKey::from_bytes(slot.sealed_key.clone()),
                &kek,
                &slot.key.to_string(),
            )
            .expect("every slot's key opens");
            let info = inspect_certificate(&slot.material.certificate_der).unwrap();
            assert!(
                info.matches_key(&key),
                "round {round}: slot {} holds a certificate without its key",
                slot.key
            );
            assert_eq!(info.serial, slot.material.serial);
        }
        // A request cut off between begin and complete is still pending, with its key: recoverable.
        for pending in store.pending().unwrap() {
            let sealed = pending
                .sealed_key
                .expect("enrolments and replacements keep their new key");
            PrivateKey::open(
                &SealedKey::from_bytes(sealed),
                &kek,
                &pending.slot.to_string(),
            )
            .unwrap();
        }
        assert_eq!(
            store.device_id().unwrap(),
            Some("7654-0955-8558".parse().unwrap())
        );
    }
}

fn subject() -> Subject {
    MICHEL_UNTEL
        .srs_subject(Sector::Restaurant, "Caisse du bar".parse().unwrap())
        .unwrap()
}

/// The child: writes without end, printing `committed N` after each commit.
fn write_forever(kind: &str, path: &Path) -> ! {
    let now = OffsetDateTime::now_utc();
    let ca = CertificateAuthority::generate(Environment::Dev, now).unwrap();
    let mut out = std::io::stdout();
    let issue = |key: &PrivateKey| {
        let validated = validate_csr(&Csr::build(&subject(), key).unwrap().to_wire()).unwrap();
        ca.issue(&validated, now).unwrap()
    };
    match kind {
        "registry" => {
            let reg = Registry::open(path).unwrap();
            let op = reg
                .add_operator(
                    &NewOperator::new(MICHEL_UNTEL.id(), "Michel"),
                    now,
                    NewAudit::new(now, "t", "op", "x", ""),
                )
                .unwrap();
            let key = PrivateKey::generate().unwrap();
            for n in 1.. {
                let batch: Vec<NewCertificate> = (0..50)
                    .map(|_| {
                        let c = issue(&key);
                        NewCertificate::new(
                            c.serial,
                            c.thumbprint,
                            Environment::Dev,
                            op,
                            None,
                            "Caisse du bar".parse().unwrap(),
                            "CN=5678912340".into(),
                            c.validity,
                            c.der,
                            "enrolment",
                        )
                    })
                    .collect();
                reg.record_issued_batch(&batch, now).unwrap();
                writeln!(out, "committed {n}").unwrap();
                out.flush().unwrap();
            }
        }
        "device" => {
            let kek = KeyEncryptionKey::from_bytes(
                *FileKeyProtector::beside(path).key_encryption_key().unwrap(),
            );
            let mut store = DeviceStore::open(path).unwrap();
            for n in 1.. {
                let slot = SlotKey {
                    environment: Environment::Dev,
                    operator: MICHEL_UNTEL.id(),
                    installation: format!("pos-{n}"),
                };
                for step in 0..3 {
                    let key = PrivateKey::generate().unwrap();
                    let sealed = key.seal(&kek, &slot.to_string()).unwrap();
                    let csr = Csr::build(&subject(), &key).unwrap();
                    let nickname = "Caisse du bar".parse().unwrap();
                    let c = issue(&key);
                    let material = CertificateMaterial::new(
                        c.der,
                        "PSI".into(),
                        c.serial,
                        c.thumbprint,
                        c.validity,
                    );
                    if step == 0 {
                        let p = store
                            .begin_enrolment(&slot, &nickname, sealed.as_bytes(), csr.der(), now)
                            .unwrap();
                        store
                            .complete_enrolment(
                                p,
                                &material,
                                Some("7654-0955-8558".parse().unwrap()),
                                now,
                            )
                            .unwrap();
                    } else {
                        let p = store
                            .begin_replacement(&slot, &nickname, sealed.as_bytes(), csr.der(), now)
                            .unwrap();
                        store.complete_replacement(p, &material, now).unwrap();
                    }
                }
                writeln!(out, "committed {n}").unwrap();
                out.flush().unwrap();
            }
        }
        other => panic!("unknown kind {other}"),
    }
    unreachable!("the loops above never end")
}
