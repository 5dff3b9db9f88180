//! Faults on purpose: the facade against an authority that loses answers, answers late, answers
//! as a firewall would, or refuses connections.

use std::time::Duration;

use time::OffsetDateTime;
use websrm_tests::nick;
use websrm_tests::websrm::domain::{CertificateState, Environment};
use websrm_tests::websrm::{Confirmation, DeviceIdAnswer, Srs};
use websrm_tests::websrm_authority::faults::Faults;
use websrm_tests::websrm_domain::published::MICHEL_UNTEL;
use websrm_tests::{Served, michel_enrolment};

/// What an SRS does once the network is healthy again: finish what it kept (recovery), or, if it
/// kept nothing (the request was refused or never processed), do it again.
async fn settle<F, Fut>(srs: &Srs, again: F)
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = ()>,
{
    let report = srs.recover().await.unwrap();
    assert_eq!(report.still_pending, 0, "{report:?}");
    if report.completed == 0 {
        again().await;
    }
}

/// For each fault, certain to strike: the facade's enrolment, replacement and deletion fail as
/// the SRS sees them, then, the network healthy again, the SRS ends in the state the authority
/// records, with never a second certificate for one request; every fault is in the audit log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_every_fault_the_srs_ends_as_the_authority_records_with_no_duplicate() {
    // Side by side: a late answer takes longer than the SRS's 10 s minimum wait.
    let runs: Vec<_> = [
        "lost-answer=1",
        "late-answer=1:11s",
        "server-error=1",
        "not-json=1",
        "refuse=1",
    ]
    .into_iter()
    .map(|spec| tokio::spawn(one_fault(spec)))
    .collect();
    for run in runs {
        run.await.unwrap();
    }
}

async fn one_fault(spec: &'static str) {
    {
        let faults: Faults = spec.parse().unwrap();
        let s = Served::start(Environment::Dev);
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("pos.db");
        // The SRS gives up after 10 s (the protocol's minimum in DEV): a late answer (11 s)
        // arrives after it.
        let srs = Srs::open(s.srs_config(&store).with_timeout(Duration::from_secs(10))).unwrap();
        let registry = s.authority.registry();
        let operator = registry
            .operator_by_identification(&MICHEL_UNTEL.id())
            .unwrap()
            .unwrap();
        let now = OffsetDateTime::now_utc;
        let enrolment = michel_enrolment("Caisse du bar");

        // Enrolment.
        s.authority.set_faults(faults);
        let failed = srs
            .enrol(&enrolment, Some(DeviceIdAnswer::RequestNew))
            .await;
        assert!(failed.is_err(), "{spec}: {failed:?}");
        s.authority.set_faults(Faults::none());
        settle(&srs, || async {
            srs.enrol(&enrolment, Some(DeviceIdAnswer::RequestNew))
                .await
                .unwrap();
        })
        .await;
        let issued = registry.certificates_of_operator(operator.id).unwrap();
        assert_eq!(issued.len(), 1, "{spec}: one certificate, not two");
        let held = srs.certificates(now()).unwrap();
        assert_eq!(held.len(), 1, "{spec}");
        assert_eq!(held[0].serial, issued[0].serial, "{spec}");
        assert_eq!(srs.device_id().unwrap(), issued[0].device, "{spec}");

        // Replacement.
        s.authority.set_faults(faults);
        let failed = srs
            .replace(&nick("Caisse du bar"), Confirmation::Confirmed)
            .await;
        assert!(failed.is_err(), "{spec}: {failed:?}");
        s.authority.set_faults(Faults::none());
        settle(&srs, || async {
            srs.replace(&nick("Caisse du bar"), Confirmation::Confirmed)
                .await
                .unwrap();
        })
        .await;
        let issued = registry.certificates_of_operator(operator.id).unwrap();
        assert_eq!(issued.len(), 2, "{spec}: the replacement once");
        let active: Vec<_> = issued
            .iter()
            .filter(|c| c.state == CertificateState::Active)
            .collect();
        assert_eq!(active.len(), 1, "{spec}");
        assert_eq!(srs.certificates(now()).unwrap()[0].serial, active[0].serial);

        // Deletion.
        s.authority.set_faults(faults);
        let failed = srs
            .delete(&nick("Caisse du bar"), Confirmation::Confirmed)
            .await;
        assert!(failed.is_err(), "{spec}: {failed:?}");
        s.authority.set_faults(Faults::none());
        settle(&srs, || async {
            srs.delete(&nick("Caisse du bar"), Confirmation::Confirmed)
                .await
                .unwrap();
        })
        .await;
        assert!(srs.certificates(now()).unwrap().is_empty(), "{spec}");
        assert_eq!(
            registry
                .certificate_by_serial(active[0].serial)
                .unwrap()
                .unwrap()
                .state,
            CertificateState::Deleted,
            "{spec}"
        );
        let faulted = s
            .authority
            .admin()
            .audit_since(None)
            .unwrap()
            .iter()
            .filter(|e| e.entry.action == "fault")
            .count();
        assert!(
            faulted >= 3,
            "{spec}: each fault is in the audit log ({faulted})"
        );
    }
}
