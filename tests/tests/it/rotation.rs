//! Key rotation (`websrm authority rotate ca|psi|tls`): certificates enrolled before and after
//! each rotation, both used over mutual TLS, each root's CRL listing what it issued.

use time::OffsetDateTime;
use websrm_tests::websrm::domain::{
    DeviceIdState, Environment, RevocationChannel, RevocationReason,
};
use websrm_tests::websrm_authority::{self, names};
use websrm_tests::websrm_crypto::{self, pem};
use websrm_tests::websrm_protocol::wire::{CertificateAnswer, Modification};
use websrm_tests::{Served, websrm_registry};

use crate::support::*;

fn rotate_ca(s: &Served) -> websrm_authority::Rotated {
    websrm_authority::rotate_ca(
        s.dir.path(),
        s.database.as_ref(),
        Environment::Dev,
        "test",
        OffsetDateTime::now_utc(),
    )
    .unwrap()
}

/// Michel's new certificate named `nickname`, for a new device, and the answer.
async fn enrol_new(s: &Served, nickname: &str) -> (Held, CertificateAnswer) {
    enrol(
        &client(s, Environment::Dev),
        &headers(Environment::Dev, Some(DeviceIdState::Unassigned)),
        &michel(nickname),
    )
    .await
}

/// SUP with the certificate itself, over mutual TLS on the API host.
async fn delete_with(s: &Served, held: &Held) {
    let device = s
        .authority
        .registry()
        .certificate_by_serial(held.info.serial)
        .unwrap()
        .unwrap()
        .device
        .map(DeviceIdState::Assigned);
    client(s, Environment::Dev)
        .send(
            &headers(Environment::Dev, device),
            &Modification::Delete {
                serial: held.info.serial,
            },
            Some(held.identity()),
        )
        .await
        .expect("the deletion is accepted");
}

async fn get(s: &Served, path: &str) -> (u16, Vec<u8>) {
    let answer = plain_client(s, None)
        .get(format!("{}{path}", s.enrolment_base))
        .send()
        .await
        .unwrap();
    (
        answer.status().as_u16(),
        answer.bytes().await.unwrap().to_vec(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_root_issues_while_the_old_one_stays_trusted_each_with_its_crl() {
    let s = Served::start(Environment::Dev);
    let first_ca = s.ca.clone();
    let kept = enrol_new(&s, "Caisse avant 3").await.0;
    let (old_used, old_revoked) = (
        enrol_new(&s, "Caisse avant 1").await.0,
        enrol_new(&s, "Caisse avant 2").await.0,
    );

    let rotated = rotate_ca(&s);
    assert_eq!(rotated.generation, 2);
    // A process still running keeps its root until it starts again.
    assert_eq!(s.authority.ca_generation(), 1);
    let s = s.restart();
    assert_eq!(s.authority.ca_generation(), 2);
    let second_ca = s.ca.clone();
    assert_ne!(first_ca, second_ca);
    assert_eq!(
        pem::decode("CERTIFICATE", &rotated.certificate_pem).unwrap(),
        second_ca
    );
    let audit = s.authority.admin().audit_since(None).unwrap();
    assert!(audit.iter().any(|e| e.entry.action == "rotate-ca"));

    // After: the new root issues, and names its own CRL and certificate.
    let (new_used, new_revoked) = (
        enrol_new(&s, "Caisse après 1").await.0,
        enrol_new(&s, "Caisse après 2").await.0,
    );
    for held in [&new_used, &new_revoked] {
        websrm_crypto::verify_issued_by(&held.der, &second_ca).unwrap();
        assert!(websrm_crypto::verify_issued_by(&held.der, &first_ca).is_err());
        assert_eq!(held.info.crl_urls, [format!("{}/crl/2", s.enrolment_base)]);
        assert_eq!(held.info.ca_issuers, [format!("{}/ca/2", s.enrolment_base)]);
    }
    websrm_crypto::verify_issued_by(&old_used.der, &first_ca).unwrap();
    assert!(old_used.info.crl_urls[0].ends_with("/crl"));

    // Both roots' certificates work over mutual TLS on the API host.
    delete_with(&s, &old_used).await;
    delete_with(&s, &new_used).await;

    // Each root's CRL lists what it issued, signed by it, at the address its certificates name.
    for held in [&old_revoked, &new_revoked] {
        s.authority
            .revocation()
            .revoke(
                held.info.serial,
                RevocationReason::KeyCompromise,
                RevocationChannel::CustomerService,
                "agent:A42",
                "rotation test",
            )
            .unwrap();
    }
    let (status, first_crl) = get(&s, "/crl").await;
    assert_eq!(status, 200);
    let listed = websrm_crypto::verify_crl(&first_crl, &first_ca).unwrap();
    assert_eq!(
        listed.revoked,
        [(old_revoked.info.serial, RevocationReason::KeyCompromise)]
    );
    let (status, second_crl) = get(&s, "/crl/2").await;
    assert_eq!(status, 200);
    assert!(websrm_crypto::verify_crl(&second_crl, &first_ca).is_err());
    let listed = websrm_crypto::verify_crl(&second_crl, &second_ca).unwrap();
    assert_eq!(
        listed.revoked,
        [(new_revoked.info.serial, RevocationReason::KeyCompromise)]
    );
    assert_eq!(get(&s, "/ca").await, (200, first_ca.clone()));
    assert_eq!(get(&s, "/ca/2").await, (200, second_ca.clone()));
    assert_eq!(get(&s, "/ca/3").await.0, 404);
    assert_eq!(get(&s, "/crl/3").await.0, 404);

    // OpenSSL agrees: each CRL verifies with its own root only.
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, bytes: &[u8]| {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        path
    };
    let second_pem = write(
        "second.pem",
        pem::encode("CERTIFICATE", &second_ca).as_bytes(),
    );
    let crl = write("second.crl", &second_crl);
    let out = std::process::Command::new("openssl")
        .args(["crl", "-inform", "DER", "-noout", "-in"])
        .arg(&crl)
        .arg("-CAfile")
        .arg(&second_pem)
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("verify OK"),
        "{out:?}"
    );

    // A second rotation: three roots trusted, the oldest certificate still usable.
    let s = s.restart();
    assert_eq!(rotate_ca(&s).generation, 3);
    let s = s.restart();
    assert_eq!(s.authority.ca_generation(), 3);
    let (third, _) = enrol_new(&s, "Caisse après 3").await;
    websrm_crypto::verify_issued_by(&third.der, &s.ca).unwrap();
    assert_eq!(s.authority.trusted_ca_certificates().len(), 3);
    // The first root's certificate still works over mutual TLS, two rotations later.
    delete_with(&s, &kept).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotation_cut_before_the_registry_was_bound_is_finished_at_the_next_start() {
    let s = Served::start(Environment::Dev);
    let (before, _) = enrol_new(&s, "Caisse avant").await;
    let dir = s.dir.path().to_owned();
    let rotated = rotate_ca(&s);
    // The registry bound back to the first root, as if the rotation stopped before binding it.
    let first = websrm_crypto::sha256(&s.ca)
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<String>();
    let second =
        websrm_crypto::sha256(&pem::decode("CERTIFICATE", &rotated.certificate_pem).unwrap())
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect::<String>();
    s.authority
        .registry()
        .rebind(
            "CA certificate SHA-256",
            &[second],
            &first,
            websrm_registry::NewAudit::new(
                OffsetDateTime::now_utc(),
                "test",
                "bind-ca",
                &first,
                "",
            ),
        )
        .unwrap();
    let s = s.restart();
    assert_eq!(s.authority.ca_generation(), 2);
    delete_with(&s, &before).await;

    // A pointer to a generation whose root is missing is refused, and says which.
    let s = s.restart();
    std::fs::write(dir.join(names::CA_GENERATION), "4\n").unwrap();
    let refused = websrm_authority::AuthorityFiles::open_or_create_with(
        &dir,
        s.database.as_ref(),
        Environment::Dev,
        OffsetDateTime::now_utc(),
    )
    .unwrap_err();
    assert!(refused.to_string().contains("ca-3.pem"), "{refused}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_certif_psi_is_returned_from_then_on() {
    let s = Served::start(Environment::Dev);
    let (_, before) = enrol_new(&s, "Caisse avant").await;
    let rotated = websrm_authority::rotate_psi(
        s.dir.path(),
        s.database.as_ref(),
        Environment::Dev,
        "test",
        OffsetDateTime::now_utc(),
    )
    .unwrap();
    assert_eq!(rotated.generation, 2);
    let s = s.restart();
    let (held, after) = enrol_new(&s, "Caisse après").await;
    let (before, after) = (
        before.certif_psi_pem.unwrap(),
        after.certif_psi_pem.unwrap(),
    );
    assert_ne!(before, after);
    assert_eq!(after, rotated.certificate_pem);
    let psi = pem::decode("CERTIFICATE", &after).unwrap();
    websrm_crypto::verify_issued_by(&psi, &s.ca).unwrap();
    // The certificate enrolled with the new certifPSI works as any other.
    delete_with(&s, &held).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotated_tls_certificate_keeps_its_root_unless_asked() {
    let s = Served::start(Environment::Dev);
    let root = s.tls_root.clone();
    let (before, _) = enrol_new(&s, "Caisse avant").await;
    let old = websrm_authority::read_tls(s.dir.path()).unwrap();
    let renewed = websrm_authority::rotate_tls(
        s.dir.path(),
        s.database.as_ref(),
        Environment::Dev,
        &["srm.example".to_owned()],
        false,
        "test",
        OffsetDateTime::now_utc(),
    )
    .unwrap();
    assert!(!renewed.new_root);
    assert_ne!(renewed.identity.chain, old.chain);
    assert_eq!(renewed.identity.root_der, root);
    let s = s.restart();
    assert_eq!(s.tls_root, root, "clients keep trusting the same root");
    let presented = websrm_authority::read_tls(s.dir.path()).unwrap();
    assert_eq!(presented.chain, renewed.identity.chain);
    // Clients that trust the root connect; a certificate of before still works.
    delete_with(&s, &before).await;

    let renewed = websrm_authority::rotate_tls(
        s.dir.path(),
        s.database.as_ref(),
        Environment::Dev,
        &[],
        true,
        "test",
        OffsetDateTime::now_utc(),
    )
    .unwrap();
    assert!(renewed.new_root);
    let s = s.restart();
    assert_ne!(s.tls_root, root, "a new root when asked");
    enrol_new(&s, "Caisse après").await;
    let audit = s.authority.admin().audit_since(None).unwrap();
    assert_eq!(
        audit
            .iter()
            .filter(|e| e.entry.action == "rotate-tls")
            .count(),
        2
    );
}

/// An SRS using websrm follows each certificate's own CRL: the one enrolled before a rotation
/// learns of its revocation from the first root's CRL, the one enrolled after from the new one's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_srs_learns_of_its_revocation_from_its_own_roots_crl() {
    use websrm_tests::websrm::{DeviceIdAnswer, Srs};
    let s = Served::start(Environment::Dev);
    let stores = tempfile::tempdir().unwrap();
    let before = Srs::open(s.srs_config(&stores.path().join("before.db"))).unwrap();
    let old = before
        .enrol(
            &websrm_tests::michel_enrolment("Caisse avant"),
            Some(DeviceIdAnswer::RequestNew),
        )
        .await
        .unwrap();
    drop(before);
    rotate_ca(&s);
    let s = s.restart();
    let after = Srs::open(s.srs_config(&stores.path().join("after.db"))).unwrap();
    let new = after
        .enrol(
            &websrm_tests::michel_enrolment("Caisse après"),
            Some(DeviceIdAnswer::RequestNew),
        )
        .await
        .unwrap();
    drop(after);
    for serial in [old.serial, new.serial] {
        s.authority
            .revocation()
            .revoke(
                serial,
                RevocationReason::CessationOfOperation,
                RevocationChannel::OnlineServices,
                "operator:5678912340",
                "",
            )
            .unwrap();
    }
    for (store, nickname, crl) in [
        ("before.db", "Caisse avant", "/crl"),
        ("after.db", "Caisse après", "/crl/2"),
    ] {
        let srs = Srs::open(s.srs_config(&stores.path().join(store))).unwrap();
        let check = srs.refresh_revocations().await.unwrap();
        assert_eq!(check.newly_revoked, [nickname]);
        assert_eq!(check.consulted, [format!("{}{crl}", s.enrolment_base)]);
    }
}

/// A copy of the folder from before a rotation (another machine's, say) is refused by the
/// registry the rotation moved on: it would issue with a root the registry no longer belongs to.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_copy_of_the_folder_from_before_a_rotation_is_refused() {
    let s = Served::start(Environment::Dev);
    let stale = tempfile::tempdir().unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(stale.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    }
    let copy = |from: &std::path::Path, to: &std::path::Path, registry: bool| {
        for entry in std::fs::read_dir(from).unwrap() {
            let entry = entry.unwrap();
            let name = entry.file_name().into_string().unwrap();
            let of_registry = name == "authority.db" || name.starts_with("authority.db-");
            if of_registry == registry {
                std::fs::copy(entry.path(), to.join(&name)).unwrap();
            }
        }
    };
    copy(s.dir.path(), stale.path(), false);
    rotate_ca(&s);
    let database = s.database.clone();
    let live = s.dir.path().to_owned();
    let s = s.restart();
    if database.is_none() {
        // The registry is in the folder: the stale copy gets the live one, as a shared
        // database would be.
        copy(&live, stale.path(), true);
    }
    let refused = websrm_authority::AuthorityFiles::open_or_create_with(
        stale.path(),
        database.as_ref(),
        Environment::Dev,
        OffsetDateTime::now_utc(),
    )
    .unwrap_err();
    assert!(
        matches!(
            refused,
            websrm_authority::Error::Registry(websrm_registry::Error::BoundElsewhere { .. })
        ),
        "{refused}"
    );
    drop(s);
}
