//! The facade against a served authority over real TLS: every flow, and recovery after a crash
//! between "request sent" and "answer stored".

use std::process::Command;

use time::{Duration, OffsetDateTime};
use websrm_tests::nick;
use websrm_tests::websrm::domain::{CertificateState, DeviceId, Environment, Health};
use websrm_tests::websrm::{
    AuthorityAddress, BillingGuard, Changes, Config, Confirmation, DeviceIdAnswer, Error,
    HistoryEvent, OperatorEnrolment, Srs,
};
use websrm_tests::websrm_crypto::{Preceding, TransactionSignatureInput, inspect_certificate, pem};
use websrm_tests::websrm_domain::published::MICHEL_UNTEL;
use websrm_tests::{Served, test_product, websrm, websrm_domain, websrm_registry};

fn config(s: &Served, store: &std::path::Path) -> Config {
    let address = AuthorityAddress::Local {
        enrolment: s.enrolment_base.clone(),
        api: s.api_base.clone(),
        trust_pem: pem::encode("CERTIFICATE", &s.tls_root),
    };
    Config::new(Environment::Dev, test_product(), store).with_authority(address)
}

fn michel(nickname: &str) -> OperatorEnrolment {
    OperatorEnrolment::parse(
        MICHEL_UNTEL.identification_number,
        "D8T8-W8W8",
        "RBC",
        "5678912340TQ0001",
        "ER0001",
        nickname,
        "-05:00",
    )
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_flow_of_the_facade() {
    let s = Served::start(Environment::Dev);
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("pos.db");
    let srs = Srs::open(config(&s, &store)).unwrap();

    // The device question comes first; an identifier the user already has is used as is.
    assert!(matches!(
        srs.enrol(&michel("Caisse du bar"), None).await,
        Err(Error::DeviceIdQuestion)
    ));
    let err = srs
        .enrol(
            &michel("Caisse du bar"),
            Some(DeviceIdAnswer::IHaveOne("1111-2222-3333".parse().unwrap())),
        )
        .await
        .unwrap_err();
    let Error::Refused {
        errors,
        retransmittable,
    } = err
    else {
        panic!("an unknown identifier is refused")
    };
    assert_eq!(
        (errors[0].id.to_string().as_str(), retransmittable),
        ("JW00B999047E", false)
    );
    // The refusal is in the device's history with its id and codRetour.
    let refused = srs.history().unwrap().into_iter().any(|h| {
        matches!(h.event, HistoryEvent::AuthorityError { error_id, return_code, .. }
            if error_id.to_string() == "JW00B999047E" && return_code.map(|c| c.to_string()).as_deref() == Some("94"))
    });
    assert!(refused, "the authority's error is recorded");
    assert_eq!(
        srs.device_id().unwrap(),
        None,
        "an identifier the authority does not know is forgotten, so the user can enter it again"
    );
    drop(srs);

    // A fresh device asks for a new identifier.
    let store = dir.path().join("pos2.db");
    let srs = Srs::open(config(&s, &store)).unwrap();
    let view = srs
        .enrol(&michel("Caisse du bar"), Some(DeviceIdAnswer::RequestNew))
        .await
        .unwrap();
    let device: DeviceId = srs.device_id().unwrap().unwrap();
    assert_eq!(view.health, Health::Valid);
    assert!(matches!(
        srs.enrol(&michel("Caisse du bar"), None).await,
        Err(Error::AlreadyEnrolled(_))
    ));

    // A back-office SRS and a second installation on the same device share the identifier.
    let back = Srs::open(config(&s, &store).with_installation("back-office")).unwrap();
    back.enrol(&michel("Back-office du resto"), None)
        .await
        .unwrap();
    assert_eq!(back.device_id().unwrap(), Some(device));
    assert_eq!(
        srs.certificates(OffsetDateTime::now_utc()).unwrap().len(),
        2
    );

    // Server administrator.
    let server = srs
        .enrol_server(
            "3601837200".parse().unwrap(),
            "B8T8-W8W8".parse().unwrap(),
            "Certificat du serveur".parse().unwrap(),
            "-05:00".parse().unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(
        s.authority
            .registry()
            .certificate_by_serial(server.serial)
            .unwrap()
            .unwrap()
            .device,
        None
    );

    // Signing with the operator's certificate.
    let operator = MICHEL_UNTEL.id();
    let gst = "567891234RT0001".parse().unwrap();
    let qst = "5678912340TQ0001".parse().unwrap();
    let input = TransactionSignatureInput {
        no_trans: "0000000001",
        dat_trans: "20261126150000",
        tps: "+0000000000.13",
        tvq: "+0000000000.26",
        apres_tax: "+0000000002.39",
        no_tps: &gst,
        no_tvq: &qst,
        mod_impr: "FAC",
        mod_trans: "CMP",
        preced: Preceding::First,
    };
    let actu = srs.sign_transaction(&operator, &input).unwrap();
    let record = s
        .authority
        .registry()
        .certificate_by_serial(view.serial)
        .unwrap()
        .unwrap();
    let public = inspect_certificate(&record.der)
        .unwrap()
        .public_key
        .unwrap();
    public.verify(input.to_text().as_bytes(), &actu).unwrap();
    let (signatransm, thumbprint) = srs
        .transmission_signature(&operator, &"D8T8-W8W8".parse().unwrap(), &[actu])
        .unwrap();
    assert_eq!(thumbprint, record.thumbprint);
    let text = format!("D8T8-W8W8{device}{}", actu.to_base64());
    public.verify(text.as_bytes(), &signatransm).unwrap();

    // Replacement and deletion need confirmation.
    assert!(matches!(
        srs.replace(&nick("Caisse du bar"), Confirmation::NotConfirmed)
            .await,
        Err(Error::NotConfirmed)
    ));
    let replaced = srs
        .replace(&nick("Caisse du bar"), Confirmation::Confirmed)
        .await
        .unwrap();
    assert_ne!(replaced.serial, view.serial);
    assert_eq!(
        s.authority
            .registry()
            .certificate_by_serial(view.serial)
            .unwrap()
            .unwrap()
            .state,
        CertificateState::Replaced
    );
    assert!(matches!(
        srs.replace(&nick("Inconnu du bar"), Confirmation::Confirmed)
            .await,
        Err(Error::NotFound(_))
    ));

    // Health and the billing guard through time.
    let v = replaced.validity;
    assert_eq!(
        srs.billing_guard(&operator, v.not_after() - Duration::days(10))
            .unwrap(),
        BillingGuard::Allowed
    );
    let BillingGuard::Blocked { mentions, .. } = srs
        .billing_guard(&operator, v.not_after() + Duration::days(1))
        .unwrap()
    else {
        panic!("blocked after expiry")
    };
    assert_eq!(
        mentions,
        ["*** CERTIFICAT INVALIDE ***", "NE PAS REMETTRE AU CLIENT"]
    );

    srs.delete(&nick("Caisse du bar"), Confirmation::Confirmed)
        .await
        .unwrap();
    assert_eq!(
        s.authority
            .registry()
            .certificate_by_serial(replaced.serial)
            .unwrap()
            .unwrap()
            .state,
        CertificateState::Deleted
    );
    assert!(matches!(
        srs.billing_guard(&operator, OffsetDateTime::now_utc())
            .unwrap(),
        BillingGuard::Blocked { .. }
    ));
    assert_eq!(srs.device_id().unwrap(), Some(device));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_without_its_key_file_is_refused_rather_than_given_a_new_key() {
    let s = Served::start(Environment::Dev);
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("pos.db");
    let srs = Srs::open(config(&s, &store)).unwrap();
    srs.enrol(&michel("Caisse du bar"), Some(DeviceIdAnswer::RequestNew))
        .await
        .unwrap();
    drop(srs);
    std::fs::remove_file(dir.path().join("pos.db.kek")).unwrap();
    assert!(matches!(
        Srs::open(config(&s, &store)),
        Err(Error::KeyMissing(_))
    ));
    assert!(
        !dir.path().join("pos.db.kek").exists(),
        "no new key was made"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_certificate_is_seen_and_blocks_billing() {
    let s = Served::start(Environment::Dev);
    let dir = tempfile::tempdir().unwrap();
    let srs = Srs::open(config(&s, &dir.path().join("pos.db"))).unwrap();
    let view = srs
        .enrol(&michel("Caisse volée"), Some(DeviceIdAnswer::RequestNew))
        .await
        .unwrap();
    let now = OffsetDateTime::now_utc();
    s.authority
        .registry()
        .record_revocation(
            view.serial,
            websrm_domain::RevocationReason::KeyCompromise,
            websrm_domain::RevocationChannel::OnlineServices,
            now,
            "operator:5678912340",
            websrm_registry::NewAudit::new(now, "operator", "revoke", view.serial.to_string(), ""),
        )
        .unwrap();
    let Err(Error::Refused { errors, .. }) = srs
        .replace(&nick("Caisse volée"), Confirmation::Confirmed)
        .await
    else {
        panic!("a revoked certificate cannot be replaced")
    };
    assert_eq!(errors[0].id.to_string(), "JW00B999011E");
    // 011E says the certificate no longer authenticates, not why: refused, until the CRL
    // tells more.
    let status = srs.certificates(OffsetDateTime::now_utc()).unwrap();
    assert_eq!(status[0].health, Health::Refused);
    assert!(matches!(
        srs.billing_guard(&MICHEL_UNTEL.id(), now).unwrap(),
        BillingGuard::Blocked { .. }
    ));
}

const CHILD: &str = "WEBSRM_FACADE_CHILD";

/// Not a test: the SRS process the crash test starts and kills. It runs only when started by
/// it (with the variable set); `--ignored` alone makes it fail loudly.
#[test]
#[ignore = "the child process of the facade crash test; started by it"]
fn facade_crash_child() {
    let spec = std::env::var(CHILD).expect("started by the crash test");
    let parts: Vec<&str> = spec.split('|').collect();
    let [store, enrolment, api, trust, action] = parts.as_slice() else {
        panic!("bad spec")
    };
    let address = AuthorityAddress::Local {
        enrolment: (*enrolment).into(),
        api: (*api).into(),
        trust_pem: std::fs::read_to_string(trust).unwrap(),
    };
    let srs =
        Srs::open(Config::new(Environment::Dev, test_product(), store).with_authority(address))
            .unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        match *action {
            "enrol" => drop(
                srs.enrol(&michel("Caisse du bar"), Some(DeviceIdAnswer::RequestNew))
                    .await,
            ),
            "delete" => drop(
                srs.delete(&nick("Caisse du bar"), Confirmation::Confirmed)
                    .await,
            ),
            _ => drop(
                srs.replace(&nick("Caisse du bar"), Confirmation::Confirmed)
                    .await,
            ),
        }
    });
    panic!("the crash point should have killed this process");
}

fn crash(s: &Served, store: &std::path::Path, action: &str) {
    let trust = s.dir.path().join("tls-root.pem");
    let spec = format!(
        "{}|{}|{}|{}|{action}",
        store.display(),
        s.enrolment_base,
        s.api_base,
        trust.display()
    );
    let status = Command::new(std::env::current_exe().unwrap())
        .args([
            "--ignored",
            "--exact",
            "facade::facade_crash_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, spec)
        .env("WEBSRM_CRASH_AT", "after-send")
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(
        status.signal(),
        Some(9),
        "the SRS was killed with SIGKILL after sending: {status:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_after_sending_is_recovered_with_exactly_one_certificate_and_its_key() {
    let s = Served::start(Environment::Dev);
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("pos.db");
    let registry = s.authority.registry();
    let operator = registry
        .operator_by_identification(&MICHEL_UNTEL.id())
        .unwrap()
        .unwrap();

    // The enrolment reached the authority, which issued; the SRS died before storing the answer.
    crash(&s, &store, "enrol");
    assert_eq!(
        registry
            .certificates_of_operator(operator.id)
            .unwrap()
            .len(),
        1
    );
    let srs = Srs::open(config(&s, &store)).unwrap();
    assert!(
        srs.certificates(OffsetDateTime::now_utc())
            .unwrap()
            .is_empty()
    );
    let report = srs.recover().await.unwrap();
    assert_eq!(
        (report.completed, report.abandoned, report.still_pending),
        (1, 0, 0)
    );
    let certs = registry.certificates_of_operator(operator.id).unwrap();
    assert_eq!(
        certs.len(),
        1,
        "the retransmission got the same certificate, not a second one"
    );
    let view = &srs.certificates(OffsetDateTime::now_utc()).unwrap()[0];
    assert_eq!(view.serial, certs[0].serial);
    assert_eq!(
        srs.device_id().unwrap(),
        certs[0].device,
        "the device identifier of the lost answer is recorded"
    );
    // Its key is the certificate's: it signs what the certificate verifies.
    let sig = srs
        .sign_transaction(&operator.identification_number, &sample_input())
        .unwrap();
    inspect_certificate(&certs[0].der)
        .unwrap()
        .public_key
        .unwrap()
        .verify(sample_input().to_text().as_bytes(), &sig)
        .unwrap();
    drop(srs);

    // The same for a replacement.
    crash(&s, &store, "replace");
    let certs = registry.certificates_of_operator(operator.id).unwrap();
    assert_eq!(certs.len(), 2);
    assert_eq!(certs[1].state, CertificateState::Replaced);
    let srs = Srs::open(config(&s, &store)).unwrap();
    assert_eq!(
        srs.certificates(OffsetDateTime::now_utc()).unwrap()[0].serial,
        certs[1].serial,
        "the old pair until recovery"
    );
    let report = srs.recover().await.unwrap();
    assert_eq!(report.completed, 1);
    assert_eq!(
        registry
            .certificates_of_operator(operator.id)
            .unwrap()
            .len(),
        2,
        "no third certificate"
    );
    let view = &srs.certificates(OffsetDateTime::now_utc()).unwrap()[0];
    assert_eq!(
        view.serial, certs[0].serial,
        "the replacement issued before the crash"
    );
    let sig = srs
        .sign_transaction(&operator.identification_number, &sample_input())
        .unwrap();
    inspect_certificate(&certs[0].der)
        .unwrap()
        .public_key
        .unwrap()
        .verify(sample_input().to_text().as_bytes(), &sig)
        .unwrap();
}

/// A deletion whose answer was lost: the authority deleted the certificate, which no longer
/// authenticates, so the repeated `SUP` gets 011E; recovery reads that as "the deletion
/// happened", empties the slot and says so in the history.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_after_sending_a_deletion_is_recovered_as_deleted() {
    let s = Served::start(Environment::Dev);
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("pos.db");
    let srs = Srs::open(config(&s, &store)).unwrap();
    let view = srs
        .enrol(&michel("Caisse du bar"), Some(DeviceIdAnswer::RequestNew))
        .await
        .unwrap();
    drop(srs);

    crash(&s, &store, "delete");
    let registry = s.authority.registry();
    assert_eq!(
        registry
            .certificate_by_serial(view.serial)
            .unwrap()
            .unwrap()
            .state,
        CertificateState::Deleted,
        "the authority deleted it before the SRS died"
    );
    let srs = Srs::open(config(&s, &store)).unwrap();
    assert_eq!(
        srs.certificates(OffsetDateTime::now_utc()).unwrap().len(),
        1,
        "the device still holds it until recovery"
    );
    let report = srs.recover().await.unwrap();
    assert_eq!(
        (report.completed, report.abandoned, report.still_pending),
        (1, 0, 0)
    );
    assert!(
        srs.certificates(OffsetDateTime::now_utc())
            .unwrap()
            .is_empty()
    );
    let history = srs.history().unwrap();
    assert!(history.iter().any(|h| matches!(
        &h.event,
        HistoryEvent::AuthorityError { error_id, .. } if error_id.to_string() == "JW00B999011E"
    )));
    assert!(history.iter().any(|h| matches!(
        h.event,
        HistoryEvent::Deleted { serial } if serial == view.serial
    )));
    assert!(srs.device_id().unwrap().is_some());
}

fn sample_input() -> TransactionSignatureInput<'static> {
    static GST: std::sync::OnceLock<websrm_domain::GstNumber> = std::sync::OnceLock::new();
    static QST: std::sync::OnceLock<websrm_domain::QstNumber> = std::sync::OnceLock::new();
    TransactionSignatureInput {
        no_trans: "0000000042",
        dat_trans: "20261126150000",
        tps: "+0000000000.13",
        tvq: "+0000000000.26",
        apres_tax: "+0000000002.39",
        no_tps: GST.get_or_init(|| "567891234RT0001".parse().unwrap()),
        no_tvq: QST.get_or_init(|| "5678912340TQ0001".parse().unwrap()),
        mod_impr: "FAC",
        mod_trans: "CMP",
        preced: Preceding::First,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replacement_with_a_new_authorization_code_after_the_old_one_was_superseded() {
    let s = Served::start(Environment::Dev);
    let dir = tempfile::tempdir().unwrap();
    let srs = Srs::open(config(&s, &dir.path().join("pos.db"))).unwrap();
    let view = srs
        .enrol(&michel("Caisse du bar"), Some(DeviceIdAnswer::RequestNew))
        .await
        .unwrap();
    // The operator receives a new code: the old one is superseded (069E).
    let registry = s.authority.registry();
    let op = registry
        .operator_by_identification(&MICHEL_UNTEL.id())
        .unwrap()
        .unwrap();
    let now = OffsetDateTime::now_utc();
    let code: websrm_domain::AuthorizationCode = "N3W0-C0D3".parse().unwrap();
    registry
        .add_authorization_code(
            op.id,
            &code,
            websrm_domain::Sector::Restaurant,
            now - Duration::hours(1),
            now,
            websrm_registry::NewAudit::new(
                now,
                "test",
                "code",
                MICHEL_UNTEL.identification_number,
                "",
            ),
        )
        .unwrap();
    let Err(Error::Refused { errors, .. }) = srs
        .replace(&nick("Caisse du bar"), Confirmation::Confirmed)
        .await
    else {
        panic!("the old code is refused")
    };
    assert_eq!(errors[0].id.to_string(), "JW00B999069E");
    // The same certificate is still there, and the new code works, with a new nickname too.
    assert_eq!(
        srs.certificates(OffsetDateTime::now_utc()).unwrap()[0].serial,
        view.serial
    );
    let changes = Changes::none()
        .authorization_code(code)
        .nickname("Caisse principale".parse().unwrap());
    let replaced = srs
        .replace_with(&nick("Caisse du bar"), &changes, Confirmation::Confirmed)
        .await
        .unwrap();
    assert_eq!(replaced.nickname.as_str(), "Caisse principale");
    assert_eq!(
        registry
            .certificate_by_serial(view.serial)
            .unwrap()
            .unwrap()
            .replaced_by,
        Some(replaced.serial)
    );
}

#[test]
fn the_blocking_front_for_srss_that_are_not_async() {
    let s = Served::start(Environment::Dev);
    let dir = tempfile::tempdir().unwrap();
    let srs = websrm::blocking::Srs::open(config(&s, &dir.path().join("pos.db"))).unwrap();
    let view = srs
        .enrol(&michel("Caisse du bar"), Some(DeviceIdAnswer::RequestNew))
        .unwrap();
    assert_eq!(
        srs.certificates(OffsetDateTime::now_utc()).unwrap()[0].serial,
        view.serial,
        "sync calls through Deref"
    );
    let replaced = srs
        .replace(&nick("Caisse du bar"), Confirmation::Confirmed)
        .unwrap();
    srs.delete(&nick("Caisse du bar"), Confirmation::Confirmed)
        .unwrap();
    let registry = s.authority.registry();
    assert_eq!(
        registry
            .certificate_by_serial(replaced.serial)
            .unwrap()
            .unwrap()
            .state,
        CertificateState::Deleted
    );
    assert_eq!(srs.recover().unwrap(), websrm::RecoveryReport::default());
}

/// A typed sale signed by the facade: refused before signing when the authority would refuse
/// it (with the same id), and otherwise the next link of its chain with `signa`,
/// `emprCertifSEV` and `SEV` filled in, read by the authority's reader as it was written, each
/// `actu` verifying with the certificate over the sale's values and the previous link.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sale_is_checked_then_signed_into_its_chain() {
    use websrm_tests::websrm::Origin;
    use websrm_tests::websrm::transaction::values::*;
    use websrm_tests::websrm::transaction::*;
    use websrm_tests::websrm_crypto::Signature;
    let s = Served::start(Environment::Dev);
    let dir = tempfile::tempdir().unwrap();
    let srs = Srs::open(config(&s, &dir.path().join("pos.db"))).unwrap();
    let view = srs
        .enrol(&michel("Caisse du bar"), Some(DeviceIdAnswer::RequestNew))
        .await
        .unwrap();
    let operator = MICHEL_UNTEL.id();
    let cents = |c| Amount::from_cents(c).unwrap();
    let sale = |no: &str, qst: &str| {
        Sale::builder(
            SectorBlock::restaurant(ServiceType::Counter, 1),
            no.parse().unwrap(),
            "Resto Chez Michel",
            "20261203120000".parse().unwrap(),
            UtcMark::EasternStandard,
            "ER0001".parse().unwrap(),
            TaxNumbers {
                gst: "567891234RT0001".parse().unwrap(),
                qst: qst.parse().unwrap(),
            },
            TransactionType::ClosingReceipt,
        )
        .item(Item::new(
            Quantity::ONE,
            "Café",
            cents(200),
            TaxCode::Fp,
            Activity::Restaurant,
        ))
        .amounts(Amounts {
            before_tax: cents(200),
            gst: cents(10),
            qst: cents(20),
            after_tax: cents(230),
            ..Amounts::default()
        })
        .payment(PaymentMode::Cash)
        .document_address(DocumentAddress {
            civic_number: "100".into(),
            postal_code: "H2X1Y4".into(),
        })
    };
    let checks = Checks::default().with_sums();

    // What the authority would refuse is not signed: an addition paid in cash (504E), the QST
    // number of another operator (540E).
    let addition = sale("0000000001", "5678912340TQ0001")
        .build(Checks::default())
        .map(|mut s| {
            s.kind = TransactionType::Addition;
            s
        })
        .unwrap();
    let Err(Error::Transaction(found)) = srs.sign_sale(&Origin::Host, &operator, addition, checks)
    else {
        panic!("an addition paid in cash is signed")
    };
    assert_eq!(found[0].id.to_string(), "JW00B999504E", "{found:?}");
    let other = sale("0000000001", "1234567890TQ0001")
        .build(checks)
        .unwrap();
    let Err(Error::Transaction(found)) = srs.sign_sale(&Origin::Host, &operator, other, checks)
    else {
        panic!("another operator's QST number is signed")
    };
    assert_eq!(found[0].id.to_string(), "JW00B999540E", "{found:?}");

    // Two sales, two links.
    let first = srs
        .sign_sale(
            &Origin::Host,
            &operator,
            sale("0000000001", "5678912340TQ0001")
                .build(checks)
                .unwrap(),
            checks,
        )
        .unwrap();
    let second = srs
        .sign_sale(
            &Origin::Host,
            &operator,
            sale("0000000002", "5678912340TQ0001")
                .build(checks)
                .unwrap(),
            checks,
        )
        .unwrap();
    assert_eq!(first.signatures.preced, SignatureText::first());
    assert_eq!(
        second.signatures.preced.as_str(),
        first.signatures.actu.as_str()
    );
    assert_eq!(first.thumbprint, view.thumbprint.to_string());
    assert_eq!(first.software.srs_id, test_product().srs_id);
    let certificate = srs
        .certificate_pem(&"Caisse du bar".parse().unwrap())
        .unwrap();
    let key = inspect_certificate(&pem::decode("CERTIFICATE", &certificate.certificate).unwrap())
        .unwrap()
        .public_key
        .unwrap();
    for t in [&first, &second] {
        assert_eq!(
            read_transaction(&t.to_json(), "transActu", checks).as_ref(),
            Ok(t),
            "the authority reads what the facade wrote"
        );
        let preced = if t.signatures.preced == SignatureText::first() {
            Preceding::First
        } else {
            Preceding::Signature(Signature::from_base64(t.signatures.preced.as_str()).unwrap())
        };
        let a = t.sale.amounts;
        let input = TransactionSignatureInput {
            no_trans: t.sale.number.as_str(),
            dat_trans: &t.sale.date.to_string(),
            tps: &a.gst.to_string(),
            tvq: &a.qst.to_string(),
            apres_tax: &a.after_tax.to_string(),
            no_tps: &t.sale.tax_numbers.gst,
            no_tvq: &t.sale.tax_numbers.qst,
            mod_impr: t.sale.print_mode.code(),
            mod_trans: t.sale.mode.code(),
            preced,
        };
        key.verify(
            input.to_text().as_bytes(),
            &Signature::from_base64(t.signatures.actu.as_str()).unwrap(),
        )
        .unwrap();
    }
}
