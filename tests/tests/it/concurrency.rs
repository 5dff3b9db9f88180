//! The registry's rules hold when requests race: the writer commits many requests together,
//! and each rule is decided inside the write that records it.

use std::collections::HashSet;

use serde_json::{Value, json};
use websrm_domain::Environment;
use websrm_tests::websrm_crypto::{Csr, PrivateKey};
use websrm_tests::websrm_registry::Credential;
use websrm_tests::{Served, websrm_crypto, websrm_domain};

use crate::support::*;
use websrm_tests::websrm_domain::published::MICHEL_UNTEL;

async fn many(s: &Served, requests: Vec<(Vec<(String, String)>, String)>) -> Vec<(u16, Value)> {
    let url = format!("{}/enrolement", s.enrolment_base);
    let mut tasks = Vec::new();
    for (headers, body) in requests {
        // One client (one connection) each: the requests really race.
        let client = plain_client(s, None);
        let url = url.clone();
        tasks.push(tokio::spawn(async move {
            post(&client, &url, &headers, &body).await
        }));
    }
    let mut out = Vec::new();
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

fn ajo(csr: &str) -> String {
    json!({ "reqCertif": { "modif": "AJO", "csr": csr } }).to_string()
}

fn certificate_of(answer: &Value) -> String {
    answer["retourCertif"]["certif"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copies_of_one_request_racing_give_one_certificate() {
    let s = Served::start(Environment::Dev);
    let key = PrivateKey::generate().unwrap();
    let csr = Csr::build(&michel("Caisse du bar"), &key)
        .unwrap()
        .to_wire();
    let answers = many(
        &s,
        (0..8)
            .map(|_| (header_pairs("0000-0000-0000"), ajo(&csr)))
            .collect(),
    )
    .await;
    for (status, answer) in &answers {
        assert_eq!(*status, 201, "{answer}");
    }
    let certificates: HashSet<String> = answers.iter().map(|(_, a)| certificate_of(a)).collect();
    assert_eq!(
        certificates.len(),
        1,
        "one certificate for the eight copies"
    );
    let devices: HashSet<&str> = answers
        .iter()
        .map(|(_, a)| a["retourCertif"]["idApprl"].as_str().unwrap())
        .collect();
    assert_eq!(devices.len(), 1, "and one device identifier");
    let registry = s.authority.registry();
    let operator = registry
        .operator_by_identification(&MICHEL_UNTEL.id())
        .unwrap()
        .unwrap();
    assert_eq!(
        registry
            .certificates_of_operator(operator.id)
            .unwrap()
            .len(),
        1
    );
    registry.verify_audit_chain().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn device_identifiers_are_never_issued_twice_when_enrolments_race() {
    let s = Served::start(Environment::Dev);
    let requests = (0..24)
        .map(|i| {
            let csr = Csr::build(
                &michel(&format!("Caisse numéro {i:02}")),
                &PrivateKey::generate().unwrap(),
            )
            .unwrap()
            .to_wire();
            (header_pairs("0000-0000-0000"), ajo(&csr))
        })
        .collect();
    let answers = many(&s, requests).await;
    let mut devices = HashSet::new();
    for (status, answer) in &answers {
        assert_eq!(*status, 201, "{answer}");
        assert!(
            devices.insert(
                answer["retourCertif"]["idApprl"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            ),
            "a device identifier issued twice"
        );
    }
    assert_eq!(devices.len(), 24);
    assert_eq!(s.authority.registry().certificate_count().unwrap(), 24);
    s.authority.registry().verify_audit_chain().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_failures_are_all_counted_by_the_lockout() {
    let s = Served::start(Environment::Dev);
    // Wrong authorization codes for a known operator, all at once.
    let wrong = websrm_domain::Subject::Srs(
        websrm_domain::SrsSubject::new(websrm_domain::SrsSubjectFields {
            identification_number: MICHEL_UNTEL.id(),
            sector: websrm_domain::Sector::Restaurant,
            authorization_code: "A1A1-A1A1".parse().unwrap(),
            nickname: "Caisse du bar".parse().unwrap(),
            qst_number: "5678912340TQ0001".parse().unwrap(),
            file_number: "ER0001".parse().unwrap(),
            utc_offset: websrm_domain::UtcOffset::EASTERN,
        })
        .unwrap(),
    );
    let requests = (0..5)
        .map(|_| {
            let csr = Csr::build(&wrong, &PrivateKey::generate().unwrap())
                .unwrap()
                .to_wire();
            (header_pairs("0000-0000-0000"), ajo(&csr))
        })
        .collect();
    for (status, answer) in many(&s, requests).await {
        assert_eq!(
            (status, errors(&answer)[0].0.as_str()),
            (400, "JW00B999514E")
        );
    }
    let registry = s.authority.registry();
    let operator = registry
        .operator_by_identification(&MICHEL_UNTEL.id())
        .unwrap()
        .unwrap();
    let state = registry
        .attempt_state(operator.id, Credential::AuthorizationCode)
        .unwrap();
    assert_eq!(state.failures, 5, "every racing failure counted");
    assert!(
        state.locked_until.is_some(),
        "five failures lock the operator out"
    );
    // Locked: even the right code is refused now.
    let csr = Csr::build(&michel("Caisse du bar"), &PrivateKey::generate().unwrap())
        .unwrap()
        .to_wire();
    let (status, answer) = many(&s, vec![(header_pairs("0000-0000-0000"), ajo(&csr))])
        .await
        .remove(0);
    assert_eq!(
        (status, errors(&answer)[0].0.as_str()),
        (400, "JW00B999514E")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_production_nickname_stays_unique_when_two_enrolments_race() {
    let s = Served::start(Environment::Prod);
    let mut headers = header_pairs("0000-0000-0000");
    for (name, value) in &mut headers {
        match name.as_str() {
            "ENVIRN" => *value = "PROD".into(),
            "CODCERTIF" => *value = "FOB201999999".into(),
            _ => {}
        }
    }
    let requests = (0..6)
        .map(|_| {
            let csr = Csr::build(&michel("Caisse du bar"), &PrivateKey::generate().unwrap())
                .unwrap()
                .to_wire();
            (headers.clone(), ajo(&csr))
        })
        .collect();
    let answers = many(&s, requests).await;
    let issued = answers.iter().filter(|(status, _)| *status == 201).count();
    assert_eq!(issued, 1, "{answers:?}");
    for (status, answer) in &answers {
        if *status != 201 {
            assert_eq!(errors(answer)[0].0, "JW00B999602E", "{answer}");
        }
    }
    let _ = websrm_crypto::pem::decode;
}
