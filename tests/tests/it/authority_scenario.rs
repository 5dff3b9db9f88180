//! The published certificate scenario against a served authority over real TLS: with websrm's
//! protocol client, and with a plain HTTP client written from the protocol alone.

use serde_json::json;
use websrm_tests::websrm_crypto::{Csr, PrivateKey, verify_issued_by};
use websrm_tests::websrm_domain::{CertificateState, DeviceIdState, Environment, Validity};
use websrm_tests::websrm_protocol::client::ClientError;
use websrm_tests::websrm_protocol::wire::Modification;
use websrm_tests::{Served, websrm_crypto};

use crate::support::*;
use websrm_tests::websrm_domain::published::MICHEL_UNTEL;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_scenario_with_the_protocol_client() {
    let s = Served::start(Environment::Dev);
    let c = client(&s, Environment::Dev);
    let registry = s.authority.registry();
    let env = Environment::Dev;

    // 1. AJO with 0000-0000-0000: a certificate and a new device identifier.
    let (first, answer) = enrol(
        &c,
        &headers(env, Some(DeviceIdState::Unassigned)),
        &michel("Caisse principale"),
    )
    .await;
    let device = answer.device_id.expect("a new device identifier");
    assert!(
        answer
            .certif_psi_pem
            .as_deref()
            .is_some_and(|p| p.starts_with("-----BEGIN CERTIFICATE-----"))
    );
    assert_eq!(
        answer.next_test_case, None,
        "no test case in DEV with 000.000"
    );
    assert_eq!(first.info.subject, Some(michel("Caisse principale")));
    let validity = first.info.validity;
    assert_eq!(
        Validity::five_years_from(validity.not_before()),
        validity,
        "valid five years"
    );
    verify_issued_by(&first.der, &s.ca).unwrap();
    let record = registry
        .certificate_by_serial(first.info.serial)
        .unwrap()
        .unwrap();
    assert_eq!(
        (record.state, record.device),
        (CertificateState::Active, Some(device))
    );
    assert_eq!(
        registry.device(device).unwrap().unwrap().operator,
        Some(record.operator)
    );

    // 2. REM over mutual TLS with the current certificate.
    let key = PrivateKey::generate().unwrap();
    let csr = Csr::build(&michel("Caisse principale"), &key)
        .unwrap()
        .to_wire();
    let h = headers(env, Some(DeviceIdState::Assigned(device)));
    let answer = c
        .send(
            &h,
            &Modification::Replace {
                csr,
                serial: first.info.serial,
            },
            Some(first.identity()),
        )
        .await
        .expect("the replacement succeeds");
    assert_eq!(answer.device_id, None, "the device keeps its identifier");
    let second = held(key, &answer);
    let old = registry
        .certificate_by_serial(first.info.serial)
        .unwrap()
        .unwrap();
    assert_eq!(
        (old.state, old.replaced_by),
        (CertificateState::Replaced, Some(second.info.serial))
    );
    assert_eq!(
        registry
            .certificate_by_serial(second.info.serial)
            .unwrap()
            .unwrap()
            .device,
        Some(device)
    );

    // 3. SUP: certif = "SUP", the certificate is deleted (not revoked).
    let answer = c
        .send(
            &h,
            &Modification::Delete {
                serial: second.info.serial,
            },
            Some(second.identity()),
        )
        .await
        .expect("the deletion succeeds");
    assert_eq!(answer.certificate_pem, None);
    assert_eq!(
        registry
            .certificate_by_serial(second.info.serial)
            .unwrap()
            .unwrap()
            .state,
        CertificateState::Deleted
    );

    // 4. AJO again on the same device, with its identifier: no new identifier.
    let (third, answer) = enrol(&c, &h, &michel("Caisse principale")).await;
    assert_eq!(answer.device_id, None);
    assert_eq!(
        registry
            .certificate_by_serial(third.info.serial)
            .unwrap()
            .unwrap()
            .device,
        Some(device)
    );

    // 5. AJO on a second device.
    let (_, answer) = enrol(
        &c,
        &headers(env, Some(DeviceIdState::Unassigned)),
        &michel("Caisse terrasse"),
    )
    .await;
    let device2 = answer.device_id.expect("a second device identifier");
    assert_ne!(device2, device);

    // 6. A second operator on the first device, under the same identifier.
    let (other, answer) = enrol(&c, &h, &express_taxe("Caisse Express Taxe")).await;
    assert_eq!(answer.device_id, None);
    let rec = registry
        .certificate_by_serial(other.info.serial)
        .unwrap()
        .unwrap();
    assert_eq!(rec.device, Some(device));
    assert_ne!(rec.operator, record.operator);

    // 7. A back-office SRS on its own device.
    let (_, answer) = enrol(
        &c,
        &headers(env, Some(DeviceIdState::Unassigned)),
        &michel("Back-office du resto"),
    )
    .await;
    let device3 = answer
        .device_id
        .expect("a device identifier for the back-office");
    assert!(device3 != device && device3 != device2);

    // 8. A server administrator in SRV mode: no IDAPPRL, FOB code, no OU or GN.
    let (server, answer) = enrol(&c, &headers(env, None), &server_admin()).await;
    assert_eq!(answer.device_id, None);
    assert_eq!(server.info.subject, Some(server_admin()));
    assert_eq!(
        registry
            .certificate_by_serial(server.info.serial)
            .unwrap()
            .unwrap()
            .device,
        None
    );

    registry.verify_audit_chain().unwrap();
}

/// The same scenario from a client written from the protocol alone: hand-written JSON and
/// headers, a general-purpose HTTP client, no websrm protocol code.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plain_http_client_gets_the_same_service() {
    let s = Served::start(Environment::Dev);
    let anonymous = plain_client(&s, None);
    let enrol_url = format!("{}/enrolement", s.enrolment_base);
    let api_url = format!("{}/certificats", s.api_base);

    let key = PrivateKey::generate().unwrap();
    let csr = Csr::build(&michel("Caisse principale"), &key)
        .unwrap()
        .to_wire();
    let body = json!({ "reqCertif": { "modif": "AJO", "csr": csr } }).to_string();
    let (status, answer) = post(
        &anonymous,
        &enrol_url,
        &header_pairs("0000-0000-0000"),
        &body,
    )
    .await;
    assert_eq!(status, 201, "{answer}");
    let r = &answer["retourCertif"];
    assert_eq!(r["jsonVersi"], "01.00");
    let device = r["idApprl"].as_str().expect("idApprl").to_owned();
    assert!(
        r["certifPSI"]
            .as_str()
            .unwrap()
            .contains("BEGIN CERTIFICATE")
    );
    let first = websrm_crypto::pem::decode("CERTIFICATE", r["certif"].as_str().unwrap()).unwrap();
    let first_info = websrm_crypto::inspect_certificate(&first).unwrap();

    // REM and SUP with the certificate presented in the handshake.
    let identity = websrm_crypto::tls::ClientIdentity {
        chain: vec![first.clone()],
        key: &key,
    };
    let mtls = plain_client(&s, Some(identity));
    let key2 = PrivateKey::generate().unwrap();
    let csr2 = Csr::build(&michel("Caisse principale"), &key2)
        .unwrap()
        .to_wire();
    let body = json!({ "reqCertif": { "modif": "REM", "csr": csr2, "noSerie": first_info.serial.to_string() } }).to_string();
    let (status, answer) = post(&mtls, &api_url, &header_pairs(&device), &body).await;
    assert_eq!(status, 201, "{answer}");
    assert!(answer["retourCertif"].get("idApprl").is_none());
    let second = websrm_crypto::pem::decode(
        "CERTIFICATE",
        answer["retourCertif"]["certif"].as_str().unwrap(),
    )
    .unwrap();
    let second_info = websrm_crypto::inspect_certificate(&second).unwrap();

    let identity = websrm_crypto::tls::ClientIdentity {
        chain: vec![second],
        key: &key2,
    };
    let mtls = plain_client(&s, Some(identity));
    let body = json!({ "reqCertif": { "modif": "SUP", "noSerie": second_info.serial.to_string().to_lowercase() } }).to_string();
    let (status, answer) = post(&mtls, &api_url, &header_pairs(&device), &body).await;
    assert_eq!(
        (status, answer["retourCertif"]["certif"].as_str()),
        (200, Some("SUP")),
        "{answer}"
    );
    let registry = s.authority.registry();
    assert_eq!(
        registry
            .certificate_by_serial(second_info.serial)
            .unwrap()
            .unwrap()
            .state,
        CertificateState::Deleted
    );
}

/// A request repeated after its answer was lost gets the same answer, not a second certificate
/// or an error: AJO with the same key, REM with the same key, SUP of the deleted certificate.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retransmitted_requests_get_the_same_answer() {
    let s = Served::start(Environment::Dev);
    let c = client(&s, Environment::Dev);
    let key = PrivateKey::generate().unwrap();
    let csr = Csr::build(&michel("Caisse du bar"), &key)
        .unwrap()
        .to_wire();
    let h0 = headers(Environment::Dev, Some(DeviceIdState::Unassigned));
    let a = c
        .send(&h0, &Modification::Add { csr: csr.clone() }, None)
        .await
        .unwrap();
    let b = c.send(&h0, &Modification::Add { csr }, None).await.unwrap();
    assert_eq!(a.certificate_pem, b.certificate_pem);
    assert_eq!(a.device_id, b.device_id, "the lost idApprl comes again");
    let first = held(key, &a);
    let h = headers(
        Environment::Dev,
        Some(DeviceIdState::Assigned(a.device_id.unwrap())),
    );

    let key2 = PrivateKey::generate().unwrap();
    let csr2 = Csr::build(&michel("Caisse du bar"), &key2)
        .unwrap()
        .to_wire();
    let rem = Modification::Replace {
        csr: csr2,
        serial: first.info.serial,
    };
    let r1 = c.send(&h, &rem, Some(first.identity())).await.unwrap();
    let r2 = c.send(&h, &rem, Some(first.identity())).await.unwrap();
    assert_eq!(r1.certificate_pem, r2.certificate_pem);
    let second = held(key2, &r1);
    // Each certificate handed out again is in the audit log, like its first issuance.
    let retransmitted: Vec<String> = s
        .authority
        .registry()
        .audit_entries(1)
        .unwrap()
        .into_iter()
        .filter(|e| e.entry.action == "retransmit")
        .map(|e| e.entry.subject)
        .collect();
    assert_eq!(
        retransmitted,
        [
            first.info.serial.to_string(),
            second.info.serial.to_string()
        ]
    );

    let sup = Modification::Delete {
        serial: second.info.serial,
    };
    c.send(&h, &sup, Some(second.identity())).await.unwrap();
    // A deleted certificate no longer authenticates, like any certificate no longer in force:
    // the same SUP again gets 011E (codRetour 12), not a second "SUP".
    let again = c.send(&h, &sup, Some(second.identity())).await.unwrap_err();
    let text = format!("{again}");
    assert!(text.contains("JW00B999011E"), "{text}");
    let ClientError::Refused { errors, .. } = again else {
        panic!("refused expected: {again}")
    };
    assert_eq!(
        errors[0].return_code.map(|c| c.to_string()).as_deref(),
        Some("12")
    );

    // A different key is not a retransmission: with the old certificate replaced, it is refused.
    let key3 = PrivateKey::generate().unwrap();
    let csr3 = Csr::build(&michel("Caisse du bar"), &key3)
        .unwrap()
        .to_wire();
    let e = c
        .send(
            &h,
            &Modification::Replace {
                csr: csr3,
                serial: first.info.serial,
            },
            Some(first.identity()),
        )
        .await
        .unwrap_err();
    assert!(format!("{e}").contains("JW00B999011E"), "{e}");
    let registry = s.authority.registry();
    let op = registry
        .operator_by_identification(&MICHEL_UNTEL.id())
        .unwrap()
        .unwrap();
    assert_eq!(
        registry.certificates_of_operator(op.id).unwrap().len(),
        2,
        "two certificates in all, never a third"
    );
}

/// The published test data's two server-administrator codes (RBC and TRP) both work, and a
/// remote server's first certification names version `0` (VERSI and VERSIPARN), as the
/// reference says, in the conformity environments only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn both_server_codes_and_a_first_certification_with_version_zero() {
    use websrm_tests::websrm_domain::{
        InitiatingDevice, ServerSubject, Subject, TestCase, UtcOffset,
    };
    use websrm_tests::websrm_protocol::headers::{CertificateHeaders, ProductIdentity};
    let s = Served::start(Environment::Dev);
    let c = client(&s, Environment::Dev);
    let trp_server = Subject::Server(ServerSubject::new(
        "3601837200".parse().unwrap(),
        "A8T8-W8W8".parse().unwrap(),
        "Serveur du taxi".parse().unwrap(),
        UtcOffset::EASTERN,
    ));
    let (rbc, _) = enrol(&c, &headers(Environment::Dev, None), &server_admin()).await;
    let (trp, _) = enrol(&c, &headers(Environment::Dev, None), &trp_server).await;
    assert_ne!(rbc.info.serial, trp.info.serial);
    // Neither code superseded the other.
    enrol(&c, &headers(Environment::Dev, None), &server_admin()).await;

    let product = websrm_tests::test_product();
    let first = ProductIdentity::new(
        product.partner_id,
        product.srs_id,
        product.version_id,
        product.certification_code.clone(),
        "0".parse().unwrap(),
        "0".parse().unwrap(),
    );
    let h = CertificateHeaders::new(
        Environment::Dev,
        TestCase::PRODUCTION,
        InitiatingDevice::Server,
        None,
        &first,
    );
    let key = PrivateKey::generate().unwrap();
    let csr = Csr::build(&trp_server, &key).unwrap().to_wire();
    c.send(&h, &Modification::Add { csr }, None)
        .await
        .expect("a server's first certification with VERSI 0 and VERSIPARN 0");
    // An SRS does not name version 0: its own version is registered.
    let h = CertificateHeaders::new(
        Environment::Dev,
        TestCase::PRODUCTION,
        InitiatingDevice::Srs,
        Some(DeviceIdState::Unassigned),
        &first,
    );
    let csr = Csr::build(&michel("Caisse du bar"), &PrivateKey::generate().unwrap())
        .unwrap()
        .to_wire();
    let e = c
        .send(&h, &Modification::Add { csr }, None)
        .await
        .unwrap_err();
    assert!(format!("{e}").contains("JW00B999442E"), "{e}");
}

/// The administration API: a new operator and its code, which becomes active only after the
/// authority's activation delay (Revenu Québec allows up to 90 minutes); each call audited.
#[test]
fn a_new_authorization_code_becomes_active_after_the_delay() {
    use std::sync::Arc;
    use websrm_tests::websrm_authority::{
        Authority, AuthorityFiles, Endpoint, OperatorRegistration, Request, seed,
    };
    use websrm_tests::websrm_domain::{Sector, ServerSubject, Subject, UtcOffset};
    let dir = tempfile::tempdir().unwrap();
    let now = time::OffsetDateTime::now_utc();
    let files = AuthorityFiles::open_or_create(dir.path(), Environment::Dev, now).unwrap();
    let clock = Arc::new(websrm_tests::TestClock::new(now));
    let (authority, _) = Authority::new(files, Environment::Dev, clock.clone());
    let authority = authority.with_code_activation_delay(time::Duration::minutes(90));
    seed::seed_test_data(&authority, now).unwrap();
    let audit_before = authority.admin().audit_since(None).unwrap().len();
    let issued = authority
        .admin()
        .register_operator(
            OperatorRegistration::new("2222222226".parse().unwrap(), "Serveurs du Nord"),
            Sector::Server,
            "test",
        )
        .unwrap();
    assert_eq!(issued.active_from, now + time::Duration::minutes(90));
    assert_eq!(
        authority.admin().audit_since(None).unwrap().len(),
        audit_before + 2,
        "the operator and its code, each audited"
    );
    let subject = Subject::Server(ServerSubject::new(
        "2222222226".parse().unwrap(),
        issued.code,
        "Serveur du Nord".parse().unwrap(),
        UtcOffset::EASTERN,
    ));
    let ajo = || {
        let csr = Csr::build(&subject, &PrivateKey::generate().unwrap())
            .unwrap()
            .to_wire();
        let mut headers = header_pairs("0000-0000-0000");
        headers.retain(|(n, _)| n != "IDAPPRL");
        for (n, v) in &mut headers {
            if n == "APPRLINIT" {
                *v = "SRV".into();
            }
        }
        Request::new(
            Endpoint::Enrolment,
            headers,
            json!({ "reqCertif": { "modif": "AJO", "csr": csr } })
                .to_string()
                .into_bytes(),
            None,
        )
    };
    let refused = authority.handle(&ajo());
    assert_eq!(refused.status, 400);
    assert!(String::from_utf8_lossy(&refused.body).contains("JW00B999514E"));
    clock.set(now + time::Duration::minutes(91));
    let issued_certificate = authority.handle(&ajo());
    assert_eq!(
        issued_certificate.status,
        201,
        "{}",
        String::from_utf8_lossy(&issued_certificate.body)
    );
}

/// The registry file of one authority copied into another's folder is refused: it belongs to
/// the first one's CA.
#[test]
fn a_registry_copied_under_another_ca_is_refused() {
    use websrm_tests::websrm_authority::{AuthorityFiles, names};
    let now = time::OffsetDateTime::now_utc();
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    drop(AuthorityFiles::open_or_create(a.path(), Environment::Dev, now).unwrap());
    drop(AuthorityFiles::open_or_create(b.path(), Environment::Dev, now).unwrap());
    for file in ["authority.db", "authority.db-wal", "authority.db-shm"] {
        let _ = std::fs::remove_file(b.path().join(file));
        if a.path().join(file).exists() {
            std::fs::copy(a.path().join(file), b.path().join(file)).unwrap();
        }
    }
    let e = AuthorityFiles::open_or_create(b.path(), Environment::Dev, now).unwrap_err();
    assert!(
        e.to_string().contains("belongs to another authority"),
        "{e}"
    );
    assert!(b.path().join(names::CA).exists());
}
