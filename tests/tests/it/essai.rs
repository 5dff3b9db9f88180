//! The ESSAI examiner over HTTPS: a product's certification run in the guide's order, each
//! answer naming the next step (`casEssai`), steps out of order (014E) and cases the product
//! does not run (013E) refused, a value that is not the step's refused (435E) with its block
//! started over, the run kept across a restart, and every exchange kept as evidence.

use serde_json::{Value, json};
use websrm_tests::Served;
use websrm_tests::websrm::domain::{
    CertificateState, Environment, ProductMode, Sector, ServerSubject, Subject,
};
use websrm_tests::websrm_crypto::tls::ClientIdentity;
use websrm_tests::websrm_crypto::{Csr, PrivateKey, inspect_certificate, pem};
use websrm_tests::websrm_registry::ProductKey;

use crate::support::*;
use websrm_tests::websrm_domain::published::MICHEL_UNTEL;

fn set(mut h: Vec<(String, String)>, name: &str, value: Option<&str>) -> Vec<(String, String)> {
    h.retain(|(n, _)| n != name);
    if let Some(v) = value {
        h.push((name.into(), v.into()));
    }
    h
}

/// ESSAI headers of the seeded product for step `tc`: from device `device`, or from the remote
/// server (`APPRLINIT` `SRV`, no `IDAPPRL`) when `None`.
fn essai(tc: &str, device: Option<&str>) -> Vec<(String, String)> {
    let h = set(header_pairs(device.unwrap_or("")), "ENVIRN", Some("ESSAI"));
    let h = set(h, "CASESSAI", Some(tc));
    match device {
        Some(_) => h,
        None => set(set(h, "APPRLINIT", Some("SRV")), "IDAPPRL", None),
    }
}

fn ajo(subject: &Subject) -> (PrivateKey, String) {
    let key = PrivateKey::generate().unwrap();
    let csr = Csr::build(subject, &key).unwrap().to_wire();
    (
        key,
        json!({"reqCertif": {"modif": "AJO", "csr": csr}}).to_string(),
    )
}

fn server(nickname: &str) -> Subject {
    Subject::Server(ServerSubject::new(
        "3601837200".parse().unwrap(),
        "B8T8-W8W8".parse().unwrap(),
        nickname.parse().unwrap(),
        "-05:00".parse().unwrap(),
    ))
}

/// `casEssai` and the ids of the errors of a certificate answer.
fn outcome(answer: &Value) -> (Option<&str>, Vec<String>) {
    (
        answer["retourCertif"]["casEssai"].as_str(),
        errors(answer).into_iter().map(|(id, _)| id).collect(),
    )
}

/// Step 001.001 of the seeded product's run, passed: the key, the certificate (DER) and the
/// device identifier it came with.
async fn certificate_a(s: &Served) -> (PrivateKey, Vec<u8>, String) {
    essai_at(s, "001.001");
    let (key, body) = ajo(&michel("Certificat A"));
    let url = format!("{}/enrolement", s.enrolment_base);
    let (status, answer) = post(
        &plain_client(s, None),
        &url,
        &essai("001.001", Some("0000-0000-0000")),
        &body,
    )
    .await;
    assert_eq!(status, 201, "{answer}");
    let der = pem::decode(
        "CERTIFICATE",
        answer["retourCertif"]["certif"].as_str().unwrap(),
    )
    .unwrap();
    let device = answer["retourCertif"]["idApprl"]
        .as_str()
        .unwrap()
        .to_owned();
    (key, der, device)
}

fn seeded_key() -> ProductKey {
    let p = websrm_tests::test_product();
    ProductKey::new(p.partner_id, p.srs_id, p.version_id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_goes_in_order_restarts_its_block_after_a_failure_and_survives_a_restart() {
    let s = Served::start(Environment::Essai);
    let anonymous = plain_client(&s, None);
    let enrol_url = format!("{}/enrolement", s.enrolment_base);
    let api_url = format!("{}/certificats", s.api_base);

    // The seeded product runs both modes: its run starts with the server's certificate. A step
    // before the run started is out of order, and the answer names the first step.
    let (_, body) = ajo(&michel("Certificat A"));
    let (status, answer) = post(
        &anonymous,
        &enrol_url,
        &essai("001.001", Some("0000-0000-0000")),
        &body,
    )
    .await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(
        outcome(&answer),
        (
            Some("500.001"),
            vec!["JW00B999014E".to_owned(), "JW00B999999E".to_owned()]
        )
    );

    // 500.001: the server's certificate.
    let (key, body) = ajo(&server("Certificat du serveur"));
    let (status, answer) = post(&anonymous, &enrol_url, &essai("500.001", None), &body).await;
    assert_eq!(status, 201, "{answer}");
    assert_eq!(outcome(&answer).0, Some("500.002"));
    let first = pem::decode(
        "CERTIFICATE",
        answer["retourCertif"]["certif"].as_str().unwrap(),
    )
    .unwrap();
    let info = inspect_certificate(&first).unwrap();

    // A step ahead: refused, the run stays at 500.002.
    let sup =
        json!({"reqCertif": {"modif": "SUP", "noSerie": info.serial.to_string()}}).to_string();
    let mtls = plain_client(
        &s,
        Some(ClientIdentity {
            chain: vec![first.clone()],
            key: &key,
        }),
    );
    let (status, answer) = post(&mtls, &api_url, &essai("500.003", None), &sup).await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(outcome(&answer).0, Some("500.002"));
    assert_eq!(outcome(&answer).1[0], "JW00B999014E");

    // 500.002 with another nickname than the step's: 435E naming the value, nothing replaced,
    // and the certificate block starts over.
    let other = PrivateKey::generate().unwrap();
    let csr = Csr::build(&server("Un autre nom"), &other)
        .unwrap()
        .to_wire();
    let rem =
        json!({"reqCertif": {"modif": "REM", "csr": csr, "noSerie": info.serial.to_string()}})
            .to_string();
    let (status, answer) = post(&mtls, &api_url, &essai("500.002", None), &rem).await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(outcome(&answer).0, Some("500.001"));
    assert_eq!(outcome(&answer).1[0], "JW00B999435E");
    let message = answer["retourCertif"]["listErr"][0]["mess"]
        .as_str()
        .unwrap();
    assert!(
        message.contains("SN")
            && message.contains("Certificat du serveur")
            && message.contains("Un autre nom"),
        "{message}"
    );
    let record = s
        .authority
        .registry()
        .certificate_by_thumbprint(info.thumbprint)
        .unwrap()
        .unwrap();
    assert_eq!(record.state, CertificateState::Active);

    // The run is in the registry: after a restart, 500.002 is still out of order.
    let s = s.restart();
    let session = s.authority.essai().session(&seeded_key()).unwrap().unwrap();
    assert_eq!(
        (session.run, session.expected.to_string().as_str()),
        (1, "500.001")
    );
    let (_, body) = ajo(&server("Certificat du serveur"));
    let (status, answer) = post(
        &plain_client(&s, None),
        &enrol_url,
        &essai("500.004", None),
        &body,
    )
    .await;
    assert_eq!(
        (status, outcome(&answer).0),
        (400, Some("500.001")),
        "{answer}"
    );

    // Sending the first step again starts a new run.
    let (status, answer) = post(
        &plain_client(&s, None),
        &enrol_url,
        &essai("500.001", None),
        &body,
    )
    .await;
    assert_eq!(
        (status, outcome(&answer).0),
        (201, Some("500.002")),
        "{answer}"
    );
    let registry = s.authority.registry();
    let session = registry.essai_session(&seeded_key()).unwrap().unwrap();
    assert_eq!(session.run, 2);

    // The evidence: every exchange of the first run, with its verdict and the step named next.
    let first_run = registry.essai_exchanges(&seeded_key(), Some(1)).unwrap();
    let seen: Vec<(String, &str, String)> = first_run
        .iter()
        .map(|e| {
            (
                e.test_case.to_string(),
                e.verdict.as_str(),
                e.next.to_string(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("500.001".to_owned(), "passed", "500.002".to_owned()),
            ("500.003".to_owned(), "out-of-order", "500.002".to_owned()),
            ("500.002".to_owned(), "failed", "500.001".to_owned()),
            ("500.004".to_owned(), "out-of-order", "500.001".to_owned()),
        ]
    );
    let kept: Value = serde_json::from_str(&first_run[0].request).unwrap();
    assert_eq!(kept["headers"]["CASESSAI"], "500.001");
    assert_eq!(kept["body"]["reqCertif"]["modif"], "AJO");
    assert!(first_run[0].answer.contains("\"casEssai\":\"500.002\""));
    assert_eq!(
        registry.essai_exchanges(&seeded_key(), None).unwrap().len(),
        1
    );
    registry.verify_audit_chain().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_srs_mode_restaurant_product_runs_001_and_no_server_case() {
    use websrm_tests::websrm_authority::ProductRegistration;
    let s = Served::start(Environment::Essai);
    let p = websrm_tests::test_product();
    let mut r = ProductRegistration::new(
        p.partner_id,
        p.srs_id,
        p.certification_code.clone(),
        "2.1.0".parse().unwrap(),
        "1.0.0".parse().unwrap(),
    );
    r.version_id = Some("0000000000000021".parse().unwrap());
    r.mode = ProductMode::Srs;
    r.sectors = vec![Sector::Restaurant];
    s.authority.admin().register_product(r, "test").unwrap();
    let version = |h: Vec<(String, String)>| {
        set(
            set(
                set(h, "IDVERSI", Some("0000000000000021")),
                "VERSI",
                Some("2.1.0"),
            ),
            "VERSIPARN",
            Some("1.0.0"),
        )
    };
    let anonymous = plain_client(&s, None);
    let url = format!("{}/enrolement", s.enrolment_base);

    // The server's cases are not this product's (013E); its run starts with 001.001.
    let (_, body) = ajo(&server("Certificat du serveur"));
    let (status, answer) = post(&anonymous, &url, &version(essai("500.001", None)), &body).await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(
        outcome(&answer),
        (
            Some("001.001"),
            vec!["JW00B999013E".to_owned(), "JW00B999999E".to_owned()]
        )
    );

    // A transportation code where the product serves restaurants: 435E on O.
    let trp = MICHEL_UNTEL
        .srs_subject(Sector::Transport, "Certificat A".parse().unwrap())
        .unwrap();
    let (_, body) = ajo(&trp);
    let h = version(essai("001.001", Some("0000-0000-0000")));
    let (status, answer) = post(&anonymous, &url, &h, &body).await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(outcome(&answer).1[0], "JW00B999435E", "{answer}");
    assert!(
        answer["retourCertif"]["listErr"][0]["mess"]
            .as_str()
            .unwrap()
            .contains("RBC-…")
    );

    let (_, body) = ajo(&michel("Certificat A"));
    let (status, answer) = post(&anonymous, &url, &h, &body).await;
    assert_eq!(status, 201, "{answer}");
    assert_eq!(outcome(&answer).0, Some("001.002"));
    // The other version's run has not started.
    assert!(
        s.authority
            .essai()
            .session(&seeded_key())
            .unwrap()
            .is_none()
    );
}

/// A failed step sends its block back to the block's first step, in every block.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_step_sends_each_block_back_to_its_first_step() {
    let s = Served::start(Environment::Essai);
    let (key, der, device) = certificate_a(&s).await;
    let mtls = plain_client(
        &s,
        Some(ClientIdentity {
            chain: vec![der],
            key: &key,
        }),
    );
    let h = |tc: &str| essai(tc, Some(&device));
    let casessai =
        |answer: &Value, retour: &str| answer[retour]["casEssai"].as_str().map(str::to_owned);
    let first_error = |answer: &Value, list: &Value| {
        (
            list[0]["id"].as_str().map(str::to_owned),
            list[0]["mess"].as_str().unwrap_or_default().to_owned(),
            answer.to_string(),
        )
    };

    // Users: 002.003 re-creates Michel Untel; John Smith is another step's.
    essai_at(&s, "002.003");
    let user = |name: &str| {
        json!({"reqUtil": {"modif": "AJO", "nomUtil": name,
            "noTax": {"noTPS": "567891234RT0001", "noTVQ": "5678912340TQ0001"}}})
        .to_string()
    };
    let users_url = format!("{}/utilisateur", s.api_base);
    let (status, answer) = post(&mtls, &users_url, &h("002.003"), &user("John Smith")).await;
    assert_eq!(status, 400, "{answer}");
    let (id, mess, all) = first_error(&answer, &answer["retourUtil"]["listErr"]);
    assert_eq!(id.as_deref(), Some("JW00B999435E"), "{all}");
    assert!(
        mess.contains("nomUtil") && mess.contains("John Smith ≠ Michel Untel"),
        "{all}"
    );
    assert_eq!(casessai(&answer, "retourUtil").as_deref(), Some("002.001"));
    // The block's first step, as prescribed, passes.
    let (status, answer) = post(&mtls, &users_url, &h("002.001"), &user("Michel Untel")).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(casessai(&answer, "retourUtil").as_deref(), Some("002.002"));

    // Transactions: 003.002 reproduces an addition; a closing receipt is not that.
    essai_at(&s, "003.002");
    let receipt = json!({"reqTrans": {"transActu": {"noTrans": "0000000001", "typTrans": "RFER",
        "modImpr": "FAC", "formImpr": "PAP"}}})
    .to_string();
    let (status, answer) = post(
        &mtls,
        &format!("{}/transaction", s.api_base),
        &h("003.002"),
        &receipt,
    )
    .await;
    assert_eq!(status, 400, "{answer}");
    let list = &answer["retourTrans"]["retourTransActu"]["listErr"];
    let fields: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["mess"].as_str())
        .collect();
    assert!(
        fields[0].contains("typTrans") && fields[1].contains("modImpr"),
        "{answer}"
    );
    assert_eq!(list[0]["noTrans"], "0000000001");
    assert_eq!(casessai(&answer, "retourTrans").as_deref(), Some("003.001"));

    // Documents: 103.002 is a user report (RUT), not a declaration (HAB); the product serves
    // both sectors, so the block starts at the transportation step 103.001.
    essai_at(&s, "103.002");
    let hab = json!({"reqDoc": {"typDoc": "HAB", "doc": "{}"}}).to_string();
    let (status, answer) = post(
        &mtls,
        &format!("{}/document", s.api_base),
        &h("103.002"),
        &hab,
    )
    .await;
    assert_eq!(status, 400, "{answer}");
    let (id, mess, all) = first_error(&answer, &answer["retourDoc"]["listErr"]);
    assert_eq!(id.as_deref(), Some("JW00B999435E"), "{all}");
    assert!(
        mess.contains("typDoc") && mess.contains("HAB ≠ RUT"),
        "{all}"
    );
    assert_eq!(casessai(&answer, "retourDoc").as_deref(), Some("103.001"));

    // A user step sent to the transaction service: the service's own refusal (its headers
    // first, then 015E), no 435E, and the users block starts over.
    essai_at(&s, "002.004");
    let (status, answer) = post(
        &mtls,
        &format!("{}/transaction", s.api_base),
        &h("002.004"),
        &receipt,
    )
    .await;
    assert_eq!(status, 400, "{answer}");
    let ids: Vec<&str> = answer["retourTrans"]["retourTransActu"]["listErr"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["id"].as_str())
        .collect();
    assert!(
        !ids.is_empty() && !ids.contains(&"JW00B999435E"),
        "{answer}"
    );
    assert_eq!(casessai(&answer, "retourTrans").as_deref(), Some("002.001"));

    // Every refusal is in the audit log, and the chain holds.
    s.authority.registry().verify_audit_chain().unwrap();
}

/// Every transaction case of a run, in both modes: a step of it with one of its prescribed
/// values changed is refused with 435E naming that value, and its block starts over.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_transaction_case_refuses_a_value_its_step_does_not_prescribe() {
    use websrm_tests::websrm_authority::cases::{self, Expect, Want};
    let s = Served::start(Environment::Essai);
    let (key, der, device) = certificate_a(&s).await;
    let mtls = plain_client(
        &s,
        Some(ClientIdentity {
            chain: vec![der],
            key: &key,
        }),
    );
    let transaction_url = format!("{}/transaction", s.api_base);

    let plan = cases::plan(ProductMode::Both, &[Sector::Restaurant, Sector::Transport]);
    let mut examined = Vec::new();
    for case in plan.cases() {
        let steps: Vec<_> = plan.steps().iter().filter(|st| st.case() == case).collect();
        let Expect::Transaction(_) = steps[0].expect() else {
            continue;
        };
        // The first step of the case that prescribes a field, else its first step.
        let step = steps
            .iter()
            .find(|st| matches!(st.expect(), Expect::Transaction(w) if w.iter().any(|w| matches!(w, Want::Field(..)))))
            .unwrap_or(&steps[0]);
        let Expect::Transaction(wants) = step.expect() else {
            unreachable!("a transaction case's steps are transactions")
        };
        // A transaction with every prescribed value, then one of them changed.
        let mut transaction = json!({"noTrans": "0000000001", "formImpr": "PAP"});
        let mut batch = Vec::new();
        let mut current = true;
        for want in wants {
            match want {
                Want::Field(path, values) => {
                    let mut at = &mut transaction;
                    let parts: Vec<&str> = path.split('.').collect();
                    for part in &parts[..parts.len() - 1] {
                        at = &mut at[*part];
                    }
                    at[parts[parts.len() - 1]] = json!(values[0]);
                }
                Want::Present(path) => {
                    let parts: Vec<&str> = path.split('.').collect();
                    let mut at = &mut transaction;
                    for part in &parts[..parts.len() - 1] {
                        at = &mut at[*part];
                    }
                    at[parts[parts.len() - 1]] = json!("+000000001.00");
                }
                Want::References => {
                    transaction["refs"] = json!([{"noTrans": "0000000000"}]);
                }
                Want::Batch {
                    current: c,
                    at_least,
                } => {
                    current = *c;
                    batch = vec![
                        json!({"noTrans": "0000000002", "formImpr": "PAP"});
                        usize::from(*at_least)
                    ];
                }
                _ => {}
            }
        }
        let (field, wrong) = match wants.iter().find(|w| matches!(w, Want::Field(..))) {
            Some(Want::Field(path, _)) => {
                let parts: Vec<&str> = path.split('.').collect();
                let mut at = &mut transaction;
                for part in &parts[..parts.len() - 1] {
                    at = &mut at[*part];
                }
                at[parts[parts.len() - 1]] = json!("XXX");
                ((*path).to_owned(), "XXX")
            }
            _ => {
                // Only a batch or references: leave the batch out, or the references.
                if batch.is_empty() {
                    transaction.as_object_mut().unwrap().remove("refs");
                    ("refs".to_owned(), "∅")
                } else {
                    batch.clear();
                    ("transLot".to_owned(), "0")
                }
            }
        };
        let mut req = serde_json::Map::new();
        if current {
            req.insert("transActu".into(), transaction.clone());
        }
        if !batch.is_empty() {
            req.insert("transLot".into(), json!(batch));
        }
        if !current && batch.is_empty() {
            req.insert("transLot".into(), json!([transaction]));
        }
        let body = json!({"reqTrans": req}).to_string();
        let tc = step.test_case().to_string();
        essai_at(&s, &tc);
        let (status, answer) =
            post(&mtls, &transaction_url, &essai(&tc, Some(&device)), &body).await;
        assert_eq!(status, 400, "{tc}: {answer}");
        let list = &answer["retourTrans"]["retourTransActu"]["listErr"];
        let mess = list[0]["mess"].as_str().unwrap_or_default();
        assert_eq!(list[0]["id"], "JW00B999435E", "{tc}: {answer}");
        assert!(
            mess.contains(&field) && mess.contains(wrong),
            "{tc}: {field} {wrong}: {answer}"
        );
        let block_start = plan
            .steps()
            .iter()
            .find(|st| st.block() == step.block())
            .unwrap()
            .test_case()
            .to_string();
        assert_eq!(
            answer["retourTrans"]["casEssai"],
            json!(block_start),
            "{tc}"
        );
        examined.push(case);
    }
    // 32 cases in each mode, and 512.
    assert_eq!(examined.len(), 65, "{examined:?}");
    assert_eq!(
        s.authority
            .registry()
            .transaction_count(Environment::Essai)
            .unwrap(),
        0
    );
}
