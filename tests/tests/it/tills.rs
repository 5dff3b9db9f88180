//! Several tills of one device transmitting at once through one SRS: each sale goes once, as
//! its own request's current transaction, never in another till's batch nor twice.

use std::sync::Arc;

use time::{Duration, OffsetDateTime};
use websrm_tests::websrm::domain::{Environment, IdentificationNumber};
use websrm_tests::websrm::transaction::Checks;
use websrm_tests::websrm::{DeviceIdAnswer, Origin, Outcome, Srs};
use websrm_tests::websrm_domain::published::MICHEL_UNTEL;
use websrm_tests::{Served, example_sale, michel_enrolment};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_tills_at_once_send_each_sale_once_as_its_own() {
    let s = Served::start(Environment::Dev);
    let dir = tempfile::tempdir().unwrap();
    let srs = Arc::new(Srs::open(s.srs_config(&dir.path().join("pos.db"))).unwrap());
    srs.enrol(
        &michel_enrolment("Caisse du bar"),
        Some(DeviceIdAnswer::RequestNew),
    )
    .await
    .unwrap();
    let start = OffsetDateTime::now_utc() - Duration::minutes(10);
    let operator: IdentificationNumber = MICHEL_UNTEL.id();
    let tills: Vec<_> = (0..8u64)
        .map(|till| {
            let (srs, operator) = (srs.clone(), operator.clone());
            tokio::spawn(async move {
                let mut sent = Vec::new();
                for i in 0..5 {
                    let n = 1 + till * 5 + i;
                    let sale = example_sale(start, n, n as i64);
                    let t = srs
                        .transmit(
                            &Origin::Host,
                            &operator,
                            sale,
                            Checks::default().with_sums(),
                        )
                        .await
                        .unwrap();
                    sent.push(t);
                }
                sent
            })
        })
        .collect();
    let mut requests = 0;
    let mut batched = 0;
    for till in tills {
        for t in till.await.unwrap() {
            assert!(
                matches!(t.outcome, Outcome::Transmitted { .. }),
                "{:?}",
                t.outcome
            );
            requests += t.batch.requests;
            batched += t.batch.sent + t.batch.refused;
        }
    }
    assert_eq!(
        (requests, batched),
        (40, 0),
        "one request per sale, no batch"
    );
    assert_eq!(
        s.authority
            .registry()
            .transaction_count(Environment::Dev)
            .unwrap(),
        40
    );
    assert_eq!(srs.outbox(10).unwrap().pending, 0);
}
