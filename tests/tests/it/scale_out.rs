//! Two authority processes on one PostgreSQL registry, each behind its own pair of ports, as a
//! load balancer would spread an SRS's requests: the published scenario across them (enrol on
//! A, replace on B, revoke through A's online services, and B answers 011E and lists the
//! certificate on its CRL), then concurrent enrolments on both, with every registry rule kept.
//!
//! Runs when `WEBSRM_TEST_POSTGRES` names a PostgreSQL server (`cargo xtask ci` starts one);
//! without it there is no PostgreSQL to test against and the test says so.

use std::collections::HashSet;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use time::OffsetDateTime;
use websrm_tests::websrm_authority;
use websrm_tests::websrm_authority::password::hash_password;
use websrm_tests::websrm_crypto;
use websrm_tests::websrm_crypto::{Csr, PrivateKey, pem, verify_crl};
use websrm_tests::websrm_domain::{CertificateState, DeviceIdState, Environment};
use websrm_tests::websrm_protocol::client::{CertificateClient, ClientError, Endpoints, Trust};
use websrm_tests::websrm_protocol::wire::Modification;
use websrm_tests::websrm_registry::{Database, NewAudit};

use crate::crash_load::free_port;
use crate::portal::{Session, csrf};
use crate::support::*;
use websrm_tests::websrm_domain::published::MICHEL_UNTEL;

const CHILD: &str = "WEBSRM_SCALE_OUT_AUTHORITY";

/// Not a test: an authority process of the scale-out test, started by it (with the variable
/// set).
#[test]
#[ignore = "a child process of the scale-out test; started by it"]
fn scale_out_authority_child() {
    let spec = std::env::var(CHILD).expect("started by the scale-out test");
    let [dir, database, enrolment, api, name] = spec.split('|').collect::<Vec<_>>()[..] else {
        panic!("bad spec")
    };
    websrm_tests::run_authority_process(dir.as_ref(), Some(database), enrolment, api, |_, _| {
        std::fs::write(std::path::Path::new(dir).join(name), "").unwrap();
    });
}

/// An authority process on the folder `dir` and the registry `database`.
struct Process {
    child: Child,
    enrolment_base: String,
    api_base: String,
}

impl Process {
    fn start(dir: &std::path::Path, database: &str, name: &str) -> Self {
        let (enrolment, api) = (free_port(), free_port());
        let child = Command::new(std::env::current_exe().unwrap())
            .args([
                "--ignored",
                "--exact",
                "scale_out::scale_out_authority_child",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(
                CHILD,
                format!("{}|{database}|{enrolment}|{api}|{name}", dir.display()),
            )
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut process = Self {
            child,
            enrolment_base: format!("https://{enrolment}"),
            api_base: format!("https://{api}"),
        };
        for _ in 0..400 {
            if dir.join(name).exists() {
                return process;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        process.stop();
        panic!("authority process {name} did not start");
    }

    fn client(&self, tls_root: &[u8]) -> CertificateClient {
        CertificateClient::new(
            Endpoints::local(&self.enrolment_base, &self.api_base),
            Trust::Anchors(vec![tls_root.to_vec()]),
            Environment::Dev,
        )
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        self.stop();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[allow(clippy::print_stderr)] // Says why nothing was tested when no server is named.
async fn two_authority_processes_share_one_postgresql_registry() {
    let Some(url) = websrm_tests::fresh_postgres_database("websrm_scale_out") else {
        eprintln!(
            "no PostgreSQL server: set {} (cargo xtask ci does)",
            websrm_tests::POSTGRES_ENV
        );
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    // The first process creates the folder's keys and the schema, and seeds the test data; the
    // second opens the same folder (as a copy of it would be on another machine).
    let mut a = Process::start(dir.path(), &url, "ready-a");
    let mut b = Process::start(dir.path(), &url, "ready-b");
    let tls_root = pem::decode(
        "CERTIFICATE",
        &std::fs::read_to_string(dir.path().join("tls-root.pem")).unwrap(),
    )
    .unwrap();
    let (on_a, on_b) = (a.client(&tls_root), b.client(&tls_root));
    // The registry as a third process of the authority sees it (with the folder, which holds
    // the audit chain's key).
    let registry = websrm_authority::AuthorityFiles::open_or_create_with(
        dir.path(),
        Some(&Database::Postgres(url.clone())),
        Environment::Dev,
        OffsetDateTime::now_utc(),
    )
    .unwrap()
    .registry;

    // Enrol on A: a certificate and a device identifier.
    let (first, answer) = enrol(
        &on_a,
        &headers(Environment::Dev, Some(DeviceIdState::Unassigned)),
        &michel("Caisse partagée"),
    )
    .await;
    let device = answer.device_id.expect("a device identifier");
    let h = headers(Environment::Dev, Some(DeviceIdState::Assigned(device)));

    // Replace on B, which never saw the first certificate.
    let key = PrivateKey::generate().unwrap();
    let csr = Csr::build(&michel("Caisse partagée"), &key)
        .unwrap()
        .to_wire();
    let answer = on_b
        .send(
            &h,
            &Modification::Replace {
                csr,
                serial: first.info.serial,
            },
            Some(first.identity()),
        )
        .await
        .expect("B replaces A's certificate");
    let second = held(key, &answer);
    assert_eq!(
        registry
            .certificate_by_serial(first.info.serial)
            .unwrap()
            .unwrap()
            .replaced_by,
        Some(second.info.serial)
    );

    // Revoke through A's online services.
    let operator = registry
        .operator_by_identification(&MICHEL_UNTEL.id())
        .unwrap()
        .unwrap();
    let now = OffsetDateTime::now_utc();
    registry
        .set_operator_password_hash(
            operator.id,
            &hash_password("michel-secret-1").unwrap(),
            NewAudit::new(
                now,
                "test",
                "set-password",
                MICHEL_UNTEL.identification_number,
                "",
            ),
        )
        .unwrap();
    // The sign-in form comes from B and is posted to A (a load balancer may do that): the
    // pre-session cookie B signed is A's too.
    let mut from_b = Session::at(&b.enrolment_base, &tls_root);
    let (_, page, _) = from_b.get("/services/connexion").await;
    let mut portal = Session::at(&a.enrolment_base, &tls_root);
    portal.cookies = from_b.cookies.clone();
    let (status, _, _) = portal
        .post(
            "/services/connexion",
            &[
                ("csrf", &csrf(&page)),
                ("identification_number", MICHEL_UNTEL.identification_number),
                ("password", "michel-secret-1"),
            ],
        )
        .await;
    assert_eq!(status, 303, "signed in on A with B's form");
    // The session is in the registry: B knows it.
    from_b.cookies = portal.cookies.clone();
    let (status, listing, _) = from_b.get("/services/certificats").await;
    assert_eq!(status, 200);
    assert!(
        listing.contains(&second.info.serial.to_string()),
        "B lists the certificate"
    );
    let (_, confirm, _) = portal
        .get(&format!("/services/revoquer?serie={}", second.info.serial))
        .await;
    let token = csrf(&confirm);
    let serial = second.info.serial.to_string();
    let (status, _, _) = portal
        .post(
            "/services/revoquer",
            &[
                ("csrf", &token),
                ("serie", &serial),
                ("reason", "keyCompromise"),
                ("confirm", "yes"),
            ],
        )
        .await;
    assert_eq!(status, 303, "revoked on A");
    assert!(matches!(
        registry
            .certificate_by_serial(second.info.serial)
            .unwrap()
            .unwrap()
            .state,
        CertificateState::Revoked { .. }
    ));

    // B refuses the revoked certificate with 011E...
    let e = on_b
        .send(
            &h,
            &Modification::Delete {
                serial: second.info.serial,
            },
            Some(second.identity()),
        )
        .await
        .unwrap_err();
    let ClientError::Refused { errors, .. } = e else {
        panic!("refused expected, got {e:?}")
    };
    assert_eq!(errors[0].id.to_string(), "JW00B999011E");
    // ... and its CRL, generated after a revocation another process made, lists it.
    let crl = plain_get(&tls_root, &format!("{}/crl", b.enrolment_base)).await;
    let ca = pem::decode(
        "CERTIFICATE",
        &std::fs::read_to_string(dir.path().join("ca.pem")).unwrap(),
    )
    .unwrap();
    let listed = verify_crl(&crl, &ca).unwrap();
    assert!(
        listed.revoked.iter().any(|(s, _)| *s == second.info.serial),
        "B's CRL lists the certificate revoked on A"
    );

    // Concurrent enrolments on both processes.
    let mut tasks = Vec::new();
    for i in 0..16 {
        let client = if i % 2 == 0 {
            on_a.clone()
        } else {
            on_b.clone()
        };
        tasks.push(tokio::spawn(async move {
            let (held, answer) = enrol(
                &client,
                &headers(Environment::Dev, Some(DeviceIdState::Unassigned)),
                &michel(&format!("Caisse {i}")),
            )
            .await;
            (
                held.info.serial,
                answer.device_id.expect("a device identifier"),
            )
        }));
    }
    let mut serials = HashSet::new();
    let mut devices = HashSet::from([device]);
    for t in tasks {
        let (serial, device) = t.await.unwrap();
        assert!(serials.insert(serial), "serial {serial} issued twice");
        assert!(
            devices.insert(device),
            "device identifier {device} issued twice"
        );
    }
    for serial in &serials {
        assert!(registry.certificate_by_serial(*serial).unwrap().is_some());
    }
    a.stop();
    b.stop();
    let entries = registry.verify_audit_chain().unwrap();
    assert!(entries > 16, "one audit chain: {entries} entries");
    registry.integrity_check().unwrap();
}

/// A GET with a client that trusts `tls_root`, returning the body.
async fn plain_get(tls_root: &[u8], url: &str) -> Vec<u8> {
    let config = websrm_crypto::tls::client_config(&[tls_root.to_vec()], None).unwrap();
    let client = reqwest::Client::builder()
        .use_preconfigured_tls(std::sync::Arc::unwrap_or_clone(config))
        .build()
        .unwrap();
    let response = client.get(url).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 200);
    response.bytes().await.unwrap().to_vec()
}

/// A process started with another folder (an empty one, so a new CA) on a registry that an
/// authority already uses is refused before it issues anything.
#[test]
fn a_second_authority_cannot_share_a_registry() {
    let Some(url) = websrm_tests::fresh_postgres_database("websrm_bound") else {
        return;
    };
    let database = Database::Postgres(url);
    let now = OffsetDateTime::now_utc();
    let first = tempfile::tempdir().unwrap();
    let files = websrm_authority::AuthorityFiles::open_or_create_with(
        first.path(),
        Some(&database),
        Environment::Dev,
        now,
    )
    .unwrap();
    drop(files);
    let other = tempfile::tempdir().unwrap();
    let e = websrm_authority::AuthorityFiles::open_or_create_with(
        other.path(),
        Some(&database),
        Environment::Dev,
        now,
    )
    .unwrap_err();
    assert!(
        e.to_string().contains("belongs to another authority"),
        "{e}"
    );
    assert!(
        !other.path().join("ca.pem").exists(),
        "nothing was created in the refused folder"
    );
    // The first folder still opens.
    websrm_authority::AuthorityFiles::open_or_create_with(
        first.path(),
        Some(&database),
        Environment::Dev,
        now,
    )
    .unwrap();
}
