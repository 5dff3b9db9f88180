//! The `/utilisateur` and `/document` services, from a plain HTTP client with mutual TLS: each
//! request answered as the guides say, each defect with its id and `codRetour`, and what is
//! accepted recorded once in the registry.

use serde_json::{Value, json};
use websrm_tests::Served;
use websrm_tests::websrm::domain::{
    DeviceIdState, Environment, RevocationChannel, RevocationReason,
};
use websrm_tests::websrm_crypto::{Csr, PrivateKey};
use websrm_tests::websrm_protocol::document::{DocumentRequest, DocumentType};
use websrm_tests::websrm_protocol::wire::Modification;

use crate::support::*;
use websrm_tests::websrm_domain::published::MICHEL_UNTEL;

fn with(mut h: Vec<(String, String)>, name: &str, value: Option<&str>) -> Vec<(String, String)> {
    h.retain(|(n, _)| n != name);
    if let Some(v) = value {
        h.push((name.into(), v.into()));
    }
    h
}

/// The first error of an answer under `retour`: its id and `codRetour`.
fn first(answer: &Value, retour: &str) -> (String, String) {
    let e = &answer[retour]["listErr"][0];
    (
        e["id"].as_str().unwrap_or_default().to_owned(),
        e["codRetour"].as_str().unwrap_or_default().to_owned(),
    )
}

fn util(modif: &str, name: Option<&str>, gst: &str, qst: &str) -> String {
    let mut req = json!({ "modif": modif, "noTax": { "noTPS": gst, "noTVQ": qst } });
    if let Some(n) = name {
        req["nomUtil"] = json!(n);
    }
    json!({ "reqUtil": req }).to_string()
}

/// A defect: what it is, the headers, the body, the id and the `codRetour` expected.
type Case<'a> = (&'a str, Vec<(String, String)>, String, &'a str, &'a str);

const MICHEL: (&str, &str) = ("567891234RT0001", "5678912340TQ0001");
const EXPRESS: (&str, &str) = ("123456789RT0001", "1234567890TQ0001");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_accounts_are_declared_removed_and_validated() {
    let s = Served::start(Environment::Dev);
    let c = client(&s, Environment::Dev);
    let (a, answer) = enrol(
        &c,
        &headers(Environment::Dev, Some(DeviceIdState::Unassigned)),
        &michel("Caisse du bar"),
    )
    .await;
    let device = answer.device_id.unwrap();
    let url = format!("{}/utilisateur", s.api_base);
    let mtls = plain_client(&s, Some(a.identity()));
    let h = header_pairs(&device.to_string());
    let users = || {
        let registry = s.authority.registry();
        let operator = registry
            .certificate_by_thumbprint(a.info.thumbprint)
            .unwrap()
            .unwrap()
            .operator;
        registry
            .users_of(Environment::Dev, operator, device)
            .unwrap()
    };

    // AJO, again (a retransmission), a second user, SUP.
    let body = util("AJO", Some("Michel Untel"), MICHEL.0, MICHEL.1);
    for _ in 0..2 {
        let (status, answer) = post(&mtls, &url, &h, &body).await;
        assert_eq!(status, 200, "{answer}");
        assert_eq!(answer["retourUtil"]["jsonVersi"], "01.00");
        assert_eq!(
            answer["retourUtil"]["noTax"],
            json!({"noTPS": "VAL", "noTVQ": "VAL"})
        );
        assert!(answer["retourUtil"].get("casEssai").is_none(), "{answer}");
    }
    let body = util("AJO", Some("John Smith"), MICHEL.0, MICHEL.1);
    assert_eq!(post(&mtls, &url, &h, &body).await.0, 200);
    assert_eq!(users(), ["John Smith", "Michel Untel"]);
    let body = util("SUP", Some("Michel Untel"), MICHEL.0, MICHEL.1);
    assert_eq!(post(&mtls, &url, &h, &body).await.0, 200);
    assert_eq!(users(), ["John Smith"]);

    // Another operator's numbers, or numbers no operator has: INV, and nothing declared.
    for (gst, qst) in [EXPRESS, ("111111111RT0001", "1111111111TQ0001")] {
        let body = util("AJO", Some("Joe Bleau"), gst, qst);
        let (status, answer) = post(&mtls, &url, &h, &body).await;
        assert_eq!(status, 200, "{answer}");
        assert_eq!(
            answer["retourUtil"]["noTax"],
            json!({"noTPS": "INV", "noTVQ": "INV"})
        );
    }
    assert_eq!(users(), ["John Smith"]);

    // A test case of the user cases names the next step.
    let (status, answer) = post(
        &mtls,
        &url,
        &with(h.clone(), "CASESSAI", Some("002.001")),
        &util("AJO", Some("Michel Untel"), MICHEL.0, MICHEL.1),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["retourUtil"]["casEssai"], "002.002");

    // One defect at a time.
    let good = util("AJO", Some("Michel Untel"), MICHEL.0, MICHEL.1);
    let cases: Vec<Case<'_>> = vec![
        (
            "numbers of two operators",
            h.clone(),
            util("AJO", Some("Michel Untel"), MICHEL.0, EXPRESS.1),
            "043E",
            "16",
        ),
        (
            "VAL from an SRS",
            h.clone(),
            util("VAL", None, MICHEL.0, MICHEL.1),
            "530E",
            "16",
        ),
        (
            "AJO without nomUtil",
            h.clone(),
            util("AJO", None, MICHEL.0, MICHEL.1),
            "318E",
            "95",
        ),
        (
            "VAL with nomUtil",
            h.clone(),
            util("VAL", Some("Michel Untel"), MICHEL.0, MICHEL.1),
            "319E",
            "95",
        ),
        (
            "an unknown modif",
            h.clone(),
            util("MOD", Some("Michel Untel"), MICHEL.0, MICHEL.1),
            "434E",
            "96",
        ),
        (
            "a name of 65 characters",
            h.clone(),
            util("AJO", Some(&"M".repeat(65)), MICHEL.0, MICHEL.1),
            "407E",
            "16",
        ),
        (
            "noTax missing",
            h.clone(),
            json!({"reqUtil": {"modif": "AJO", "nomUtil": "Michel Untel"}}).to_string(),
            "304E",
            "95",
        ),
        (
            "a tax number sent twice",
            h.clone(),
            good.replacen("\"noTPS\"", "\"noTPS\":\"567891234RT0001\",\"noTPS\"", 1),
            "306E",
            "95",
        ),
        (
            "a field of another service",
            h.clone(),
            json!({"reqTrans": {}}).to_string(),
            "314E",
            "95",
        ),
        (
            "a test case of the transactions",
            with(h.clone(), "CASESSAI", Some("003.001")),
            good.clone(),
            "015E",
            "94",
        ),
        (
            "IDAPPRL zeros",
            with(h.clone(), "IDAPPRL", Some("0000-0000-0000")),
            good.clone(),
            "047E",
            "94",
        ),
        (
            "APPRLINIT missing",
            with(h.clone(), "APPRLINIT", None),
            good.clone(),
            "460E",
            "94",
        ),
        (
            "VERSI of no version",
            with(h.clone(), "VERSI", Some("9.9")),
            good.clone(),
            "442E",
            "94",
        ),
    ];
    for (what, h, body, id, code) in cases {
        let (status, answer) = post(&mtls, &url, &h, &body).await;
        assert_eq!(status, 400, "{what}: {answer}");
        assert_eq!(
            first(&answer, "retourUtil"),
            (format!("JW00B999{id}"), code.to_owned()),
            "{what}: {answer}"
        );
    }

    // A remote server validates (VAL, no IDAPPRL); it may not declare accounts.
    let (server, _) = enrol(&c, &headers(Environment::Dev, None), &server_admin()).await;
    let srv = plain_client(&s, Some(server.identity()));
    let mut h_srv = with(with(h.clone(), "IDAPPRL", None), "APPRLINIT", Some("SRV"));
    h_srv = with(h_srv, "CASESSAI", Some("570.001"));
    let (status, answer) = post(&srv, &url, &h_srv, &util("VAL", None, MICHEL.0, MICHEL.1)).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        answer["retourUtil"]["noTax"],
        json!({"noTPS": "VAL", "noTVQ": "VAL"})
    );
    assert_eq!(answer["retourUtil"]["casEssai"], "570.002");
    let (status, answer) = post(
        &srv,
        &url,
        &h_srv,
        &util("VAL", None, "111111111RT0001", "1111111111TQ0001"),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        answer["retourUtil"]["noTax"],
        json!({"noTPS": "INV", "noTVQ": "INV"})
    );
    let (status, answer) = post(&srv, &url, &h_srv, &good).await;
    assert_eq!(
        (status, first(&answer, "retourUtil")),
        (400, ("JW00B999434E".to_owned(), "96".to_owned())),
        "{answer}"
    );
    let (status, answer) = post(
        &srv,
        &url,
        &with(h_srv.clone(), "IDAPPRL", Some(&device.to_string())),
        &util("VAL", None, MICHEL.0, MICHEL.1),
    )
    .await;
    assert_eq!(
        (status, first(&answer, "retourUtil")),
        (400, ("JW00B999061E".to_owned(), "94".to_owned())),
        "{answer}"
    );

    // A revoked certificate: 011E.
    s.authority
        .revocation()
        .revoke(
            a.info.serial,
            RevocationReason::KeyCompromise,
            RevocationChannel::OnlineServices,
            "operator:5678912340",
            "",
        )
        .unwrap();
    let (status, answer) = post(&mtls, &url, &h, &good).await;
    assert_eq!(
        (status, first(&answer, "retourUtil")),
        (400, ("JW00B999011E".to_owned(), "12".to_owned())),
        "{answer}"
    );
    assert_eq!(users(), ["John Smith", "Michel Untel"]);
}

/// The values of Michel Untel's user report of `device`, produced at `report_at`.
fn report_values<'a>(device: &'a str, report_at: &'a str) -> [(&'static str, &'a str); 24] {
    [
        ("RT", MICHEL.0),
        ("TQ", MICHEL.1),
        ("UT", "Michel Untel"),
        ("NO", "100016"),
        ("MT", "+000000015.00"),
        ("DF", "20261203125939"),
        ("AN", "2026"),
        ("SN", "16"),
        ("SV", "3"),
        ("SS", "+000000020.00"),
        ("SF", "+000000001.00"),
        ("SP", "+000000002.00"),
        ("ST", "+000000023.00"),
        ("SA", "-000000004.00"),
        ("SD", "+000000019.00"),
        ("TS", "A"),
        ("SR", device),
        ("CM", "Tous"),
        ("IA", device),
        ("IS", "0000000000000002"),
        ("VR", "1.0.0"),
        ("DC", "20261203080000"),
        ("DR", report_at),
        ("AD", "123-456, rue Principale, Montréal, H2Y1C6"),
    ]
}

/// A user report of `device`, produced at `report_at`, signed with `held`'s key.
fn report(held: &Held, device: &str, report_at: &str) -> DocumentRequest {
    let doc = DocumentRequest::new(DocumentType::UserReport, report_values(device, report_at));
    let signature = held.key.sign(doc.signature_input().as_bytes()).unwrap();
    doc.signed(&signature, held.info.thumbprint)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn documents_are_verified_numbered_and_recorded_once() {
    let s = Served::start(Environment::Dev);
    let c = client(&s, Environment::Dev);
    let (a, answer) = enrol(
        &c,
        &headers(Environment::Dev, Some(DeviceIdState::Unassigned)),
        &michel("Caisse du bar"),
    )
    .await;
    let device = answer.device_id.unwrap().to_string();
    let (b, _) = enrol(
        &c,
        &headers(
            Environment::Dev,
            Some(answer.device_id.map(DeviceIdState::Assigned).unwrap()),
        ),
        &michel("Caisse terrasse"),
    )
    .await;
    let (e, _) = enrol(
        &c,
        &headers(Environment::Dev, Some(DeviceIdState::Unassigned)),
        &express_taxe("Caisse express"),
    )
    .await;
    let url = format!("{}/document", s.api_base);
    let mtls = plain_client(&s, Some(a.identity()));
    let mut h = header_pairs(&device);
    h.push(("NOTPS".into(), MICHEL.0.into()));
    h.push(("NOTVQ".into(), MICHEL.1.into()));
    let count = || {
        s.authority
            .registry()
            .document_count(Environment::Dev)
            .unwrap()
    };

    // A report, sent twice (its answer lost): one record, one number.
    let body = report(&a, &device, "20261203130000").to_body().to_string();
    let (status, answer) = post(&mtls, &url, &h, &body).await;
    assert_eq!(status, 200, "{answer}");
    let no_doc = answer["retourDoc"]["noDoc"].as_str().unwrap().to_owned();
    assert!(no_doc.len() == 10 && no_doc.bytes().all(|b| b.is_ascii_digit()));
    let (status, again) = post(&mtls, &url, &h, &body).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["retourDoc"]["noDoc"], no_doc.as_str());
    assert_eq!(count(), 1);
    // The next report is another document; one signed with the other certificate of the same
    // operator on the same device too.
    let body = report(&b, &device, "20261203140000").to_body().to_string();
    let (status, answer) = post(&mtls, &url, &h, &body).await;
    assert_eq!(status, 200, "{answer}");
    assert_ne!(answer["retourDoc"]["noDoc"], no_doc.as_str());
    assert_eq!(count(), 2);

    // A habitual third-party declaration.
    let hab = websrm::essai::sample_document(
        "HAB",
        device.parse().unwrap(),
        time::OffsetDateTime::now_utc(),
    )
    .unwrap();
    let signature = a.key.sign(hab.signature_input().as_bytes()).unwrap();
    let hab = hab.signed(&signature, a.info.thumbprint);
    let (status, answer) = post(&mtls, &url, &h, &hab.to_body().to_string()).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(count(), 3);

    // One defect at a time.
    let good = report(&a, &device, "20261203150000");
    let forged = {
        let doc = good.clone();
        let signature = e.key.sign(doc.signature_input().as_bytes()).unwrap();
        doc.signed(&signature, a.info.thumbprint)
    };
    let other_numbers = {
        let mut doc = good.to_body();
        let text = doc["reqDoc"]["doc"]
            .as_str()
            .unwrap()
            .replace(&format!("RT={}", MICHEL.0), &format!("RT={}", EXPRESS.0));
        doc["reqDoc"]["doc"] = json!(text);
        doc.to_string()
    };
    let cases: Vec<Case<'_>> = vec![
        (
            "SI made with another key",
            h.clone(),
            forged.to_body().to_string(),
            "417E",
            "96",
        ),
        (
            "EM of another operator's certificate",
            h.clone(),
            report(&e, &device, "20261203150000").to_body().to_string(),
            "540E",
            "16",
        ),
        (
            "EM of no certificate",
            h.clone(),
            {
                let doc = good.clone();
                let signature = a.key.sign(doc.signature_input().as_bytes()).unwrap();
                doc.signed(
                    &signature,
                    "0123456789ABCDEF0123456789ABCDEF01234567".parse().unwrap(),
                )
                .to_body()
                .to_string()
            },
            "540E",
            "16",
        ),
        (
            "the report's GST number not the header's",
            h.clone(),
            other_numbers,
            "043E",
            "16",
        ),
        (
            "an unknown typDoc",
            h.clone(),
            json!({"reqDoc": {"typDoc": "RAP", "doc": good.doc()}}).to_string(),
            "453E",
            "96",
        ),
        (
            "doc missing",
            h.clone(),
            json!({"reqDoc": {"typDoc": "RUT"}}).to_string(),
            "304E",
            "95",
        ),
        (
            "a parameter missing",
            h.clone(),
            json!({"reqDoc": {"typDoc": "RUT", "doc": good.doc().replace(";CM=Tous", "")}})
                .to_string(),
            "305E",
            "95",
        ),
        (
            "a parameter twice",
            h.clone(),
            json!({"reqDoc": {"typDoc": "RUT", "doc": format!("{};CM=Tous", good.doc())}})
                .to_string(),
            "306E",
            "95",
        ),
        (
            "an amount of another form",
            h.clone(),
            json!({"reqDoc": {"typDoc": "RUT", "doc": good.doc().replace("MT=+000000015.00", "MT=15.00")}})
                .to_string(),
            "411E",
            "96",
        ),
        (
            "a value ending with a space",
            h.clone(),
            json!({"reqDoc": {"typDoc": "RUT", "doc": good.doc().replace("UT=Michel Untel", "UT=Michel Untel ")}})
                .to_string(),
            "468E",
            "16",
        ),
        (
            "NOTVQ missing",
            with(h.clone(), "NOTVQ", None),
            good.to_body().to_string(),
            "007E",
            "14",
        ),
        (
            "NOTVQ of another operator than the certificate's",
            with(
                with(h.clone(), "NOTVQ", Some(EXPRESS.1)),
                "NOTPS",
                Some(EXPRESS.0),
            ),
            good.to_body().to_string(),
            "522E",
            "14",
        ),
        (
            "a test case of the transactions",
            with(h.clone(), "CASESSAI", Some("003.001")),
            good.to_body().to_string(),
            "015E",
            "94",
        ),
        (
            "APPRLINIT SRV",
            with(h.clone(), "APPRLINIT", Some("SRV")),
            good.to_body().to_string(),
            "460E",
            "94",
        ),
    ];
    for (what, h, body, id, code) in cases {
        let (status, answer) = post(&mtls, &url, &h, &body).await;
        assert_eq!(status, 400, "{what}: {answer}");
        assert_eq!(
            first(&answer, "retourDoc"),
            (format!("JW00B999{id}"), code.to_owned()),
            "{what}: {answer}"
        );
        assert!(
            answer["retourDoc"].get("noDoc").is_none(),
            "{what}: {answer}"
        );
    }
    assert_eq!(count(), 3, "nothing refused is recorded");

    // A document case names the next step.
    let (status, answer) = post(
        &mtls,
        &url,
        &with(h.clone(), "CASESSAI", Some("103.001")),
        &good.to_body().to_string(),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["retourDoc"]["casEssai"], "103.002");

    // Signed with a certificate since revoked: 469E.
    s.authority
        .revocation()
        .revoke(
            b.info.serial,
            RevocationReason::KeyCompromise,
            RevocationChannel::OnlineServices,
            "operator:5678912340",
            "",
        )
        .unwrap();
    let body = report(&b, &device, "20261203160000").to_body().to_string();
    let (status, answer) = post(&mtls, &url, &h, &body).await;
    assert_eq!(
        (status, first(&answer, "retourDoc")),
        (400, ("JW00B999469E".to_owned(), "16".to_owned())),
        "{answer}"
    );

    // A report produced just before its certificate was replaced is accepted after; one
    // produced with the old key after the replacement is 469E.
    let local = |minutes: i64| {
        use websrm_tests::websrm_domain::Clock;
        let at = (s.clock.now() + time::Duration::minutes(minutes))
            .to_offset(time::UtcOffset::from_hms(-5, 0, 0).unwrap());
        format!(
            "{:04}{:02}{:02}{:02}{:02}{:02}",
            at.year(),
            u8::from(at.month()),
            at.day(),
            at.hour(),
            at.minute(),
            at.second()
        )
    };
    let before = report(&a, &device, &local(-1)).to_body().to_string();
    let after = report(&a, &device, &local(2)).to_body().to_string();
    let key = PrivateKey::generate().unwrap();
    let csr = Csr::build(&michel("Caisse du bar"), &key)
        .unwrap()
        .to_wire();
    let replaced = c
        .send(
            &headers(
                Environment::Dev,
                Some(DeviceIdState::Assigned(device.parse().unwrap())),
            ),
            &Modification::Replace {
                csr,
                serial: a.info.serial,
            },
            Some(a.identity()),
        )
        .await
        .unwrap();
    let new = held(key, &replaced);
    let mtls = plain_client(&s, Some(new.identity()));
    let (status, answer) = post(&mtls, &url, &h, &before).await;
    assert_eq!(status, 200, "{answer}");
    let (status, answer) = post(&mtls, &url, &h, &after).await;
    assert_eq!(
        (status, first(&answer, "retourDoc")),
        (400, ("JW00B999469E".to_owned(), "16".to_owned())),
        "{answer}"
    );
}

/// The facade's user and document services against the authority: a user declared and
/// removed with the operator's certificate, another operator's numbers found invalid, a user
/// report signed and numbered, a document refused with its id, and a removal that needs the
/// user's confirmation.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_facade_declares_users_and_sends_documents() {
    use websrm_tests::websrm::{Confirmation, DeviceIdAnswer, Error, Srs};
    let s = Served::start(Environment::Dev);
    let dir = tempfile::tempdir().unwrap();
    let srs = Srs::open(s.srs_config(&dir.path().join("pos.db"))).unwrap();
    srs.enrol(
        &websrm_tests::michel_enrolment("Caisse du bar"),
        Some(DeviceIdAnswer::RequestNew),
    )
    .await
    .unwrap();
    let michel = MICHEL_UNTEL.id();
    let gst: websrm::domain::GstNumber = MICHEL.0.parse().unwrap();
    let qst: websrm::domain::QstNumber = MICHEL.1.parse().unwrap();

    let answer = srs
        .add_user(&michel, "Michel Untel", gst.clone(), qst.clone())
        .await
        .unwrap();
    assert!(answer.valid());
    let other = srs
        .add_user(
            &michel,
            "Joe Bleau",
            EXPRESS.0.parse().unwrap(),
            EXPRESS.1.parse().unwrap(),
        )
        .await
        .unwrap();
    assert!(!other.gst_valid && !other.qst_valid);
    let device = srs.device_id().unwrap().unwrap();
    let registry = s.authority.registry();
    let operator = registry
        .operator_by_identification(&michel)
        .unwrap()
        .unwrap()
        .id;
    assert_eq!(
        registry
            .users_of(Environment::Dev, operator, device)
            .unwrap(),
        ["Michel Untel"]
    );
    assert!(matches!(
        srs.remove_user(
            &michel,
            "Michel Untel",
            gst.clone(),
            qst.clone(),
            Confirmation::NotConfirmed
        )
        .await,
        Err(Error::NotConfirmed)
    ));
    srs.remove_user(
        &michel,
        "Michel Untel",
        gst.clone(),
        qst.clone(),
        Confirmation::Confirmed,
    )
    .await
    .unwrap();
    assert!(
        registry
            .users_of(Environment::Dev, operator, device)
            .unwrap()
            .is_empty()
    );

    // A user report, signed by the facade with the certificate's key.
    let device = device.to_string();
    let values = report_values(&device, "20261203130000");
    let report = DocumentRequest::new(DocumentType::UserReport, values);
    let number = srs
        .send_document(&michel, gst.clone(), qst.clone(), report)
        .await
        .unwrap();
    assert_eq!(number.len(), 10, "{number}");
    assert!(number.bytes().all(|b| b.is_ascii_digit()));
    assert_eq!(registry.document_count(Environment::Dev).unwrap(), 1);
    // The report of another operator's QST number: refused with its id, nothing recorded.
    let foreign = DocumentRequest::new(
        DocumentType::UserReport,
        values.map(|(k, v)| if k == "TQ" { (k, EXPRESS.1) } else { (k, v) }),
    );
    let Err(Error::Refused { errors, .. }) = srs.send_document(&michel, gst, qst, foreign).await
    else {
        panic!("another operator's report is refused");
    };
    assert!(!errors.is_empty(), "{errors:?}");
    assert_eq!(registry.document_count(Environment::Dev).unwrap(), 1);
}
