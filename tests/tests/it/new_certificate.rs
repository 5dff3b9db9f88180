//! The SRS never dead-ends: after a revocation, an expiry, or a deletion at the authority, the
//! operator obtains a new certificate for the same slot, on the same device identifier, and the
//! history keeps the one that ended. Revocation is known from the CRL named in the certificate
//! before any request fails.

use std::sync::Arc;

use time::{Duration, OffsetDateTime};
use websrm_tests::nick;
use websrm_tests::websrm::domain::{Environment, Health, RevocationChannel, RevocationReason};
use websrm_tests::websrm::{
    AuthorityAddress, BillingGuard, Config, Confirmation, DeviceIdAnswer, EndState, Error,
    HistoryEvent, OperatorEnrolment, Srs,
};
use websrm_tests::websrm_crypto::{Preceding, TransactionSignatureInput, inspect_certificate, pem};
use websrm_tests::websrm_domain::published::MICHEL_UNTEL;
use websrm_tests::websrm_domain::{CertificateState, DeviceId, GstNumber, QstNumber, SerialNumber};
use websrm_tests::{Served, TestClock, test_product};

/// An SRS configured with the authority's address and trust only: no CRL configured, so that
/// the CRL comes from the certificate itself.
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

fn input() -> (GstNumber, QstNumber) {
    (
        "567891234RT0001".parse().unwrap(),
        "5678912340TQ0001".parse().unwrap(),
    )
}

/// The new certificate is in force at the authority, on the same device, signs what it
/// verifies, and the history holds the ended one with its final state.
fn check_new_certificate(
    s: &Served,
    srs: &Srs,
    old_serial: SerialNumber,
    device: DeviceId,
    state: EndState,
    at: OffsetDateTime,
) {
    let views = srs.certificates(at).unwrap();
    assert_eq!(views.len(), 1, "one slot, one certificate");
    let view = &views[0];
    assert_ne!(view.serial, old_serial, "a new certificate");
    assert!(view.health.is_usable(), "{:?}", view.health);
    assert_eq!(srs.device_id().unwrap(), Some(device), "the same device");
    let record = s
        .authority
        .registry()
        .certificate_by_serial(view.serial)
        .unwrap()
        .unwrap();
    assert_eq!(
        (record.state, record.device),
        (CertificateState::Active, Some(device))
    );
    let retired = srs.history().unwrap().into_iter().any(|h| {
        matches!(h.event, HistoryEvent::Retired { serial, state: s } if serial == old_serial && s == state)
    });
    assert!(
        retired,
        "the history keeps the ended certificate as {state:?}"
    );
    // The new key is the new certificate's: it signs what the certificate verifies.
    let (gst, qst) = input();
    let input = TransactionSignatureInput {
        no_trans: "1",
        dat_trans: "20261130120000",
        tps: "+000000000.50",
        tvq: "+000000000.99",
        apres_tax: "+000000011.49",
        no_tps: &gst,
        no_tvq: &qst,
        mod_impr: "FAC",
        mod_trans: "OPE",
        preced: Preceding::First,
    };
    let signature = srs.sign_transaction(&MICHEL_UNTEL.id(), &input).unwrap();
    inspect_certificate(&record.der)
        .unwrap()
        .public_key
        .unwrap()
        .verify(input.to_text().as_bytes(), &signature)
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoked_by_an_agent_seen_on_the_crl_then_a_new_certificate() {
    let s = Served::start(Environment::Dev);
    let dir = tempfile::tempdir().unwrap();
    let srs = Srs::open(config(&s, &dir.path().join("pos.db"))).unwrap();
    let first = srs
        .enrol(&michel("Caisse du bar"), Some(DeviceIdAnswer::RequestNew))
        .await
        .unwrap();
    let device = srs.device_id().unwrap().unwrap();
    let info = inspect_certificate(
        &s.authority
            .registry()
            .certificate_by_serial(first.serial)
            .unwrap()
            .unwrap()
            .der,
    )
    .unwrap();
    assert_eq!(info.crl_urls, [format!("{}/crl", s.enrolment_base)]);
    assert_eq!(info.ca_issuers, [format!("{}/ca", s.enrolment_base)]);
    let check = srs.refresh_revocations().await.unwrap();
    assert_eq!(
        (
            check.newly_revoked.len(),
            check.consulted.len(),
            check.without_crl.len()
        ),
        (0, 1, 0),
        "{check:?}"
    );

    // An agent revokes it (stolen tablet): the SRS learns it from the CRL its certificate
    // names, before any request fails, and refuses bills.
    s.authority
        .revocation()
        .revoke(
            first.serial,
            RevocationReason::KeyCompromise,
            RevocationChannel::CustomerService,
            "agent:A42",
            "stolen tablet",
        )
        .unwrap();
    // A CRL is kept until its next update; a new process fetches it anew.
    drop(srs);
    let srs = Srs::open(config(&s, &dir.path().join("pos.db"))).unwrap();
    let check = srs.refresh_revocations().await.unwrap();
    assert_eq!(check.newly_revoked, ["Caisse du bar"]);
    let now = OffsetDateTime::now_utc();
    assert_eq!(srs.certificates(now).unwrap()[0].health, Health::Revoked);
    assert!(matches!(
        srs.billing_guard(&MICHEL_UNTEL.id(), now).unwrap(),
        BillingGuard::Blocked { .. }
    ));
    // Replace and delete say what to do instead; a second enrolment is what works.
    let Err(Error::Unusable { notice, .. }) = srs
        .replace(&nick("Caisse du bar"), Confirmation::Confirmed)
        .await
    else {
        panic!("a revoked certificate is not replaced")
    };
    assert!(notice.english.contains("revoked on") && notice.english.contains("enrol"));
    let new = srs.enrol(&michel("Caisse du bar"), None).await.unwrap();
    assert_ne!(new.serial, first.serial);
    check_new_certificate(&s, &srs, first.serial, device, EndState::Revoked, now);
    assert!(srs.billing_guard(&MICHEL_UNTEL.id(), now).unwrap() == BillingGuard::Allowed);
    // A slot in force still refuses a second enrolment.
    assert!(matches!(
        srs.enrol(&michel("Caisse du bar"), None).await,
        Err(Error::AlreadyEnrolled(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_then_a_new_certificate() {
    let s = Served::start(Environment::Dev);
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(TestClock::new(OffsetDateTime::now_utc()));
    let srs = Srs::open(config(&s, &dir.path().join("pos.db")).with_clock(clock.clone())).unwrap();
    let first = srs
        .enrol(&michel("Caisse du bar"), Some(DeviceIdAnswer::RequestNew))
        .await
        .unwrap();
    let device = srs.device_id().unwrap().unwrap();

    // Five years and a day later, on both sides.
    let later = first.validity.not_after() + Duration::days(1);
    clock.set(later);
    s.clock.set(later);
    assert_eq!(srs.certificates(later).unwrap()[0].health, Health::Expired);
    let Err(Error::Unusable { health, notice, .. }) = srs
        .delete(&nick("Caisse du bar"), Confirmation::Confirmed)
        .await
    else {
        panic!("an expired certificate is not presented")
    };
    assert_eq!(health, Health::Expired);
    assert!(
        notice.english.contains("expired on") && notice.french.contains("a expiré le"),
        "{notice:?}"
    );
    srs.enrol(&michel("Caisse du bar"), None).await.unwrap();
    check_new_certificate(&s, &srs, first.serial, device, EndState::Expired, later);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleted_at_the_authority_while_the_srs_still_holds_it_then_a_new_certificate() {
    let s = Served::start(Environment::Dev);
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("pos.db");
    let srs = Srs::open(config(&s, &store)).unwrap();
    let first = srs
        .enrol(&michel("Caisse du bar"), Some(DeviceIdAnswer::RequestNew))
        .await
        .unwrap();
    let device = srs.device_id().unwrap().unwrap();
    drop(srs);
    // A backup of the device taken now still holds the certificate after it is deleted.
    let backup = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, backup.path().join(path.file_name().unwrap())).unwrap();
    }
    Srs::open(config(&s, &store))
        .unwrap()
        .delete(&nick("Caisse du bar"), Confirmation::Confirmed)
        .await
        .unwrap();

    // The restored device presents it: the authority answers 011E (a deleted certificate no
    // longer authenticates), the SRS marks it refused and blocks bills.
    let restored = Srs::open(config(&s, &backup.path().join("pos.db"))).unwrap();
    let Err(Error::Refused { errors, .. }) = restored
        .replace(&nick("Caisse du bar"), Confirmation::Confirmed)
        .await
    else {
        panic!("a deleted certificate is refused")
    };
    assert_eq!(errors[0].id.to_string(), "JW00B999011E");
    assert_eq!(
        errors[0].english().as_deref(),
        Some(
            format!(
                "The certificate {} used for authentication is revoked.",
                first.serial
            )
            .as_str()
        ),
        "the English text carries the value, not a placeholder"
    );
    let now = OffsetDateTime::now_utc();
    assert_eq!(
        restored.certificates(now).unwrap()[0].health,
        Health::Refused
    );
    assert!(matches!(
        restored.billing_guard(&MICHEL_UNTEL.id(), now).unwrap(),
        BillingGuard::Blocked { .. }
    ));
    let Err(Error::Unusable { notice, .. }) = restored
        .delete(&nick("Caisse du bar"), Confirmation::Confirmed)
        .await
    else {
        panic!("a refused certificate is not presented again")
    };
    assert!(
        notice.english.contains("refused by the authority on"),
        "{notice:?}"
    );
    restored
        .enrol(&michel("Caisse du bar"), None)
        .await
        .unwrap();
    check_new_certificate(&s, &restored, first.serial, device, EndState::Refused, now);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ended_certificate_is_removed_locally_with_confirmation_and_never_one_in_force() {
    let s = Served::start(Environment::Dev);
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(TestClock::new(OffsetDateTime::now_utc()));
    let srs = Srs::open(config(&s, &dir.path().join("pos.db")).with_clock(clock.clone())).unwrap();
    let first = srs
        .enrol(&michel("Caisse du bar"), Some(DeviceIdAnswer::RequestNew))
        .await
        .unwrap();
    assert!(matches!(
        srs.remove_ended(&nick("Caisse du bar"), Confirmation::Confirmed),
        Err(Error::InForce(_))
    ));
    clock.set(first.validity.not_after() + Duration::seconds(1));
    assert!(matches!(
        srs.remove_ended(&nick("Caisse du bar"), Confirmation::NotConfirmed),
        Err(Error::NotConfirmed)
    ));
    let audit_before = s.authority.registry().audit_entries(0).unwrap().len();
    srs.remove_ended(&nick("Caisse du bar"), Confirmation::Confirmed)
        .unwrap();
    assert_eq!(
        s.authority.registry().audit_entries(0).unwrap().len(),
        audit_before,
        "no request reached the authority"
    );
    assert!(srs.certificates(clock_now(&clock)).unwrap().is_empty());
    assert!(
        srs.device_id().unwrap().is_some(),
        "the device keeps its identifier"
    );
    assert!(srs.history().unwrap().into_iter().any(|h| matches!(
        h.event,
        HistoryEvent::Retired { serial, state: EndState::Expired } if serial == first.serial
    )));
}

fn clock_now(clock: &TestClock) -> OffsetDateTime {
    use websrm_tests::websrm_domain::Clock;
    clock.now()
}
