//! Crash safety under load: clients enrol continuously while the authority process is killed
//! with SIGKILL and restarted on the same folder. Afterwards every certificate a client
//! received is in the registry, once; the file passes SQLite's integrity check; the audit chain
//! verifies; no device identifier was issued twice.
//!
//! `WEBSRM_CRASH_KILLS` sets how many times the authority is killed (default 5, as `cargo xtask
//! ci` runs it; `cargo xtask bench` runs it with 20). With `WEBSRM_CRASH_REPORT` naming a file,
//! the test writes there what it found, as a Markdown table.

use std::collections::{HashMap, HashSet};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;
use websrm_tests::websrm_crypto;
use websrm_tests::websrm_crypto::{Csr, PrivateKey, inspect_certificate, pem};
use websrm_tests::{websrm_authority, websrm_domain};

use crate::support::*;
use websrm_tests::websrm_domain::published::MICHEL_UNTEL;

const CHILD: &str = "WEBSRM_LOAD_AUTHORITY";

/// Not a test: the authority process the crash test starts and kills. It runs only when started
/// by it (with the variable set).
#[test]
#[ignore = "the child process of the crash-under-load test; started by it"]
fn load_authority_child() {
    let spec = std::env::var(CHILD).expect("started by the crash test");
    let [dir, enrolment, api, database] = spec.split('|').collect::<Vec<_>>()[..] else {
        panic!("bad spec")
    };
    let database = Some(database).filter(|d| !d.is_empty());
    websrm_tests::run_authority_process(dir.as_ref(), database, enrolment, api, |_, _| {
        std::fs::write(std::path::Path::new(dir).join("ready"), "").unwrap();
    });
}

pub(crate) fn free_port() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().to_string()
}

/// Starts the authority process on the folder `dir`, its registry in the folder or in
/// `database` (PostgreSQL).
pub(crate) fn start(
    dir: &std::path::Path,
    enrolment: &str,
    api: &str,
    database: Option<&str>,
) -> Child {
    let _ = std::fs::remove_file(dir.join("ready"));
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--ignored",
            "--exact",
            "crash_load::load_authority_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(
            CHILD,
            format!(
                "{}|{enrolment}|{api}|{}",
                dir.display(),
                database.unwrap_or_default()
            ),
        )
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    for _ in 0..400 {
        if dir.join("ready").exists() {
            return child;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("the authority did not start");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_enrol_while_the_authority_is_killed_and_nothing_is_lost() {
    let kills: usize = std::env::var("WEBSRM_CRASH_KILLS")
        .ok()
        .and_then(|k| k.parse().ok())
        .unwrap_or(5);
    let dir = tempfile::tempdir().unwrap();
    // On PostgreSQL when the run names a server (the PostgreSQL pass of `cargo xtask ci`): the
    // same kills, with the registry's writes on the server.
    let database = websrm_tests::fresh_postgres_database("websrm_crash");
    let (enrolment, api) = (free_port(), free_port());
    let mut child = start(dir.path(), &enrolment, &api, database.as_deref());
    let tls_root = pem::decode(
        "CERTIFICATE",
        &std::fs::read_to_string(dir.path().join("tls-root.pem")).unwrap(),
    )
    .unwrap();

    // What the clients received: the certificate's serial for each key.
    let received: Arc<Mutex<HashMap<Vec<u8>, String>>> = Arc::default();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let url = format!("https://{enrolment}/enrolement");
    let mut clients = Vec::new();
    for _ in 0..4 {
        let received = received.clone();
        let stop = stop.clone();
        let url = url.clone();
        let tls_root = tls_root.clone();
        clients.push(tokio::spawn(async move {
            let config = websrm_crypto::tls::client_config(&[tls_root], None).unwrap();
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let key = PrivateKey::generate().unwrap();
                let csr = Csr::build(&michel("Caisse en charge"), &key)
                    .unwrap()
                    .to_wire();
                let body = json!({ "reqCertif": { "modif": "AJO", "csr": csr } }).to_string();
                // As an SRS recovers: the same request (same key) until it is answered.
                loop {
                    let client = reqwest::Client::builder()
                        .use_preconfigured_tls((*config).clone())
                        .http1_only()
                        .timeout(Duration::from_secs(5))
                        .build()
                        .unwrap();
                    let mut request = client
                        .post(&url)
                        .header("Content-Type", "application/json")
                        .body(body.clone());
                    for (name, value) in header_pairs("0000-0000-0000") {
                        request = request.header(name, value);
                    }
                    let answer = match request.send().await {
                        Ok(response) if response.status().as_u16() == 201 => {
                            response.json::<serde_json::Value>().await.ok()
                        }
                        _ => None,
                    };
                    if let Some(answer) = answer {
                        let certif = answer["retourCertif"]["certif"].as_str().unwrap();
                        let der = pem::decode("CERTIFICATE", certif).unwrap();
                        let serial = inspect_certificate(&der).unwrap().serial.to_string();
                        received
                            .lock()
                            .unwrap()
                            .insert(key.public_key().key_identifier().to_vec(), serial);
                        break;
                    }
                    if stop.load(std::sync::atomic::Ordering::Relaxed) {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        }));
    }

    for _ in 0..kills {
        tokio::time::sleep(Duration::from_millis(400)).await;
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        child = start(dir.path(), &enrolment, &api, database.as_deref());
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for c in clients {
        c.await.unwrap();
    }
    child.kill().unwrap();
    child.wait().unwrap();

    let received = received.lock().unwrap().clone();
    assert!(
        received.len() >= kills,
        "clients kept enrolling: {}",
        received.len()
    );
    // Opened with the authority's folder, which holds the audit chain's key.
    let registry = websrm_authority::AuthorityFiles::open_or_create_with(
        dir.path(),
        database
            .clone()
            .map(websrm_authority::Database::Postgres)
            .as_ref(),
        websrm_domain::Environment::Dev,
        time::OffsetDateTime::now_utc(),
    )
    .unwrap()
    .registry;
    registry.integrity_check().unwrap();
    registry.verify_audit_chain().unwrap();
    let operator = registry
        .operator_by_identification(&MICHEL_UNTEL.id())
        .unwrap()
        .unwrap();
    let recorded = registry.certificates_of_operator(operator.id).unwrap();
    let serials: HashSet<String> = recorded.iter().map(|c| c.serial.to_string()).collect();
    for serial in received.values() {
        assert!(
            serials.contains(serial),
            "certificate {serial} was answered but not recorded"
        );
    }
    let mut keys = HashSet::new();
    let mut devices = HashSet::new();
    for c in &recorded {
        let key = inspect_certificate(&c.der)
            .unwrap()
            .public_key
            .unwrap()
            .key_identifier()
            .to_vec();
        assert!(keys.insert(key), "two certificates for one key");
        if let Some(d) = c.device {
            assert!(devices.insert(d), "device identifier {d} issued twice");
        }
    }
    if let Some(report) = std::env::var_os("WEBSRM_CRASH_REPORT") {
        // Counted again for the report, though the assertions above already hold them at zero.
        let missing = received.values().filter(|s| !serials.contains(*s)).count();
        let twice_keys = recorded.len() - keys.len();
        let twice_devices = recorded.iter().filter(|c| c.device.is_some()).count() - devices.len();
        let audit = registry.verify_audit_chain().unwrap();
        std::fs::write(
            report,
            format!(
                "| measure | value |\n|---|---:|\n\
                 | authority processes killed with SIGKILL, then restarted on the same folder | {kills} |\n\
                 | certificates answered to the clients | {} |\n\
                 | of them missing from the registry | {missing} |\n\
                 | certificates recorded (more than answered when a process was killed between its commit and its answer) | {} |\n\
                 | keys with two certificates; device identifiers issued twice | {twice_keys}; {twice_devices} |\n\
                 | SQLite integrity check; audit chain | ok; {audit} entries verified |\n",
                received.len(),
                recorded.len()
            ),
        )
        .unwrap();
    }
}
