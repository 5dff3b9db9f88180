//! A certificate request answered on an async runtime's thread, its record's commit awaited
//! (`Authority::answer_awaiting`, what the HTTPS edge calls first): its answer is `handle`'s,
//! recorded and audited before it is returned; and when it hands a request back to `handle`
//! (`None`), nothing of that request was written. On PostgreSQL every request is handed back.

use serde_json::{Value, json};
use websrm_tests::websrm_authority::{Endpoint, Request};
use websrm_tests::websrm_crypto::{Csr, PrivateKey};
use websrm_tests::websrm_domain::published::MICHEL_UNTEL;
use websrm_tests::websrm_domain::{Environment, Subject};
use websrm_tests::websrm_registry::Credential;
use websrm_tests::{Served, websrm_crypto};

use crate::support::*;

fn enrolment(headers: Vec<(String, String)>, subject: &Subject) -> Request {
    let csr = Csr::build(subject, &PrivateKey::generate().unwrap())
        .unwrap()
        .to_wire();
    let body = json!({ "reqCertif": { "modif": "AJO", "csr": csr } }).to_string();
    Request::new(Endpoint::Enrolment, headers, body.into_bytes(), None)
}

/// The audit log's actions, in order.
fn actions(s: &Served) -> Vec<String> {
    s.authority
        .registry()
        .audit_entries(1)
        .unwrap()
        .into_iter()
        .map(|e| e.entry.action)
        .collect()
}

fn on_sqlite(s: &Served) -> bool {
    s.database.is_none()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_enrolment_is_answered_on_the_async_thread_once_recorded() {
    let s = Served::start(Environment::Dev);
    let request = enrolment(header_pairs("0000-0000-0000"), &michel("Caisse du bar"));
    let Some(response) = s.authority.answer_awaiting(&request).await else {
        assert!(
            !on_sqlite(&s),
            "an enrolment on SQLite is answered where it arrives"
        );
        return;
    };
    assert_eq!(response.status, 201);
    let answer: Value = serde_json::from_slice(&response.body).unwrap();
    let pem = answer["retourCertif"]["certif"].as_str().unwrap();
    let der = websrm_crypto::pem::decode("CERTIFICATE", pem).unwrap();
    let serial = websrm_crypto::inspect_certificate(&der).unwrap().serial;
    // Recorded before it was returned: in the registry, with its device and its audit entry.
    let record = s
        .authority
        .registry()
        .certificate_by_serial(serial)
        .unwrap()
        .expect("the certificate answered is recorded");
    assert_eq!(
        record.device.map(|d| d.to_string()).as_deref(),
        answer["retourCertif"]["idApprl"].as_str()
    );
    assert_eq!(actions(&s).last().map(String::as_str), Some("issue"));
    s.authority.registry().verify_audit_chain().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusal_is_answered_there_too_its_audit_entry_first() {
    let s = Served::start(Environment::Dev);
    // A name the registry does not know: 040E, with no write but the refusal's audit entry.
    let request = enrolment(
        header_pairs("0000-0000-0000"),
        &srs(
            "9999999999",
            "W7V7-K8W9",
            "9999999999TQ0001",
            "ER0001",
            "Caisse du bar",
        ),
    );
    let Some(response) = s.authority.answer_awaiting(&request).await else {
        assert!(!on_sqlite(&s));
        return;
    };
    assert_eq!(response.status, 400);
    assert_eq!(actions(&s).last().map(String::as_str), Some("refuse"));
    // The same request through `handle` is refused alike.
    let authority = s.authority.clone();
    let again = tokio::task::spawn_blocking(move || authority.handle(&request))
        .await
        .unwrap();
    assert_eq!((again.status, again.body), (response.status, response.body));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_authorization_code_is_handed_back_with_nothing_written() {
    let s = Served::start(Environment::Dev);
    let registry = s.authority.registry();
    let operator = registry
        .operator_by_identification(&MICHEL_UNTEL.id())
        .unwrap()
        .unwrap();
    let before = actions(&s);
    let wrong = srs(
        MICHEL_UNTEL.identification_number,
        "A1B2-C3D4",
        "5678912340TQ0001",
        "ER0001",
        "Caisse du bar",
    );
    let request = enrolment(header_pairs("0000-0000-0000"), &wrong);
    // Counting the failure is a write the answer waits for: handed back, nothing written.
    assert!(s.authority.answer_awaiting(&request).await.is_none());
    assert_eq!(actions(&s), before);
    let state = registry
        .attempt_state(operator.id, Credential::AuthorizationCode)
        .unwrap();
    assert_eq!(state.failures, 0);
    // `handle`, on a thread that may wait, counts it and refuses.
    let authority = s.authority.clone();
    let response = tokio::task::spawn_blocking(move || authority.handle(&request))
        .await
        .unwrap();
    assert_eq!(response.status, 400);
    let state = registry
        .attempt_state(operator.id, Credential::AuthorizationCode)
        .unwrap();
    assert_eq!(state.failures, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn essai_steps_and_other_services_are_handed_back_untouched() {
    let s = Served::start(Environment::Dev);
    let before = actions(&s);
    let mut essai = header_pairs("0000-0000-0000");
    for (name, value) in &mut essai {
        if name == "ENVIRN" {
            *value = "ESSAI".into();
        }
    }
    let request = enrolment(essai, &michel("Caisse du bar"));
    assert!(s.authority.answer_awaiting(&request).await.is_none());
    let transaction = Request::new(
        Endpoint::Transaction,
        header_pairs("0000-0000-0000"),
        b"{}".to_vec(),
        None,
    );
    assert!(s.authority.answer_awaiting(&transaction).await.is_none());
    assert_eq!(actions(&s), before);
}
