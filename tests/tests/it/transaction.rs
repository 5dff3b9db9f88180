//! The minimal `/transaction` service: the certificate rules of transmissions.

use serde_json::{Value, json};
use websrm_tests::Served;
use websrm_tests::websrm::domain::{
    DeviceIdState, Environment, RevocationChannel, RevocationReason,
};
use websrm_tests::websrm_crypto::{
    Preceding, Signature, TransactionSignatureInput, signatransm_input,
};

use crate::support::*;

fn transaction(held: &Held, no: &str) -> (Value, Signature) {
    let gst = "567891234RT0001".parse().unwrap();
    let qst = "5678912340TQ0001".parse().unwrap();
    let input = TransactionSignatureInput {
        no_trans: no,
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
    let actu = held.key.sign(input.to_text().as_bytes()).unwrap();
    let body = json!({
        "noTrans": no, "datTrans": "20261126150000", "TPS": "+0000000000.13", "TVQ": "+0000000000.26",
        "apresTax": "+0000000002.39", "noTPS": "567891234RT0001", "noTVQ": "5678912340TQ0001",
        "modImpr": "FAC", "modTrans": "CMP", "emprCertifSEV": held.info.thumbprint.to_string(),
        "signa": { "actu": actu.to_base64(), "preced": Preceding::First.to_string(), "datActu": "20261126150000" }
    });
    (body, actu)
}

fn headers_for(held: &Held, device: &str, actus: &[Signature]) -> Vec<(String, String)> {
    let signature = held
        .key
        .sign(
            signatransm_input(
                &"D8T8-W8W8".parse().unwrap(),
                device.parse().unwrap(),
                actus,
            )
            .as_bytes(),
        )
        .unwrap();
    let mut h = header_pairs(device);
    h.push(("NOTPS".into(), "567891234RT0001".into()));
    h.push(("NOTVQ".into(), "5678912340TQ0001".into()));
    h.push(("SIGNATRANSM".into(), signature.to_base64()));
    h.push(("EMPRCERTIFTRANSM".into(), held.info.thumbprint.to_string()));
    h
}

fn replace(mut h: Vec<(String, String)>, name: &str, value: Option<&str>) -> Vec<(String, String)> {
    h.retain(|(n, _)| n != name);
    if let Some(v) = value {
        h.push((name.into(), v.into()));
    }
    h
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transmissions_follow_the_certificate_rules() {
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
    let url = format!("{}/transaction", s.api_base);
    let mtls = plain_client(&s, Some(a.identity()));

    let (t1, actu1) = transaction(&a, "0000000001");
    let (t2, actu2) = transaction(&a, "0000000002");
    let body = json!({ "reqTrans": { "transLot": [t1], "transActu": t2 } }).to_string();
    let good = headers_for(&a, &device, &[actu1, actu2]);
    let (status, answer) = post(&mtls, &url, &good, &body).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["retourTrans"]["jsonVersi"], "01.00");
    let psi = answer["retourTrans"]["retourTransActu"]["psiNoTrans"]
        .as_str()
        .unwrap();
    assert!(
        psi.len() == 19 && psi.split('-').all(|p| p.len() == 4),
        "psiNoTrans is XXXX-XXXX-XXXX-XXXX: {psi}"
    );
    let lot = &answer["retourTrans"]["retourTransLot"];
    assert_eq!(lot["noLot"].as_str().map(str::len), Some(10), "{answer}");
    assert_eq!(lot["datLot"].as_str().map(str::len), Some(14), "{answer}");
    assert!(lot.get("listErr").is_none() && answer["retourTrans"].get("listErr").is_none());
    assert_eq!(
        answer["retourTrans"]["retourTransActu"]["noTrans"],
        "0000000002"
    );
    assert_eq!(
        answer["retourTrans"]["retourTransActu"]["psiDatTrans"]
            .as_str()
            .unwrap()
            .len(),
        14
    );

    // Errors are where the protocol's sample client reads them: retourTransActu.listErr.
    let first = |body: &Value| {
        assert!(body["retourTrans"].get("listErr").is_none(), "{body}");
        errors(&json!({ "retourCertif": body["retourTrans"]["retourTransActu"] }))
            .first()
            .cloned()
            .unwrap_or_default()
    };
    let other = b.info.thumbprint.to_string();
    type Case<'a> = (&'a str, Vec<(String, String)>, &'a str, &'a str);
    let cases: Vec<Case<'_>> = vec![
        (
            "no EMPRCERTIFTRANSM",
            replace(good.clone(), "EMPRCERTIFTRANSM", None),
            "JW00B999508E",
            "94",
        ),
        (
            "SIGNATRANSM of 87 characters",
            replace(good.clone(), "SIGNATRANSM", Some(&"A".repeat(87))),
            "JW00B999451E",
            "94",
        ),
        (
            "EMPRCERTIFTRANSM of 39 characters",
            replace(good.clone(), "EMPRCERTIFTRANSM", Some(&"A".repeat(39))),
            "JW00B999452E",
            "94",
        ),
        (
            "EMPRCERTIFTRANSM of another certificate",
            replace(good.clone(), "EMPRCERTIFTRANSM", Some(&other)),
            "JW00B999050E",
            "94",
        ),
        (
            "NOTVQ of another operator",
            replace(good.clone(), "NOTVQ", Some("1234567890TQ0001")),
            "JW00B999522E",
            "14",
        ),
        (
            "SIGNATRANSM that does not verify",
            headers_for(&a, &device, &[actu2, actu1]),
            "JW00B999451E",
            "94",
        ),
    ];
    for (what, h, id, code) in cases {
        let (status, answer) = post(&mtls, &url, &h, &body).await;
        assert_eq!(status, 400, "{what}: {answer}");
        assert_eq!(
            first(&answer),
            (id.to_owned(), code.to_owned()),
            "{what}: {answer}"
        );
    }

    // A transaction signed with a certificate that has since been revoked: 469E.
    let (tb, actub) = transaction(&b, "0000000003");
    s.authority
        .revoke(
            b.info.serial,
            RevocationReason::KeyCompromise,
            RevocationChannel::OnlineServices,
            "operator:5678912340",
            "",
        )
        .unwrap();
    let body_b = json!({ "reqTrans": { "transActu": tb } }).to_string();
    let (status, answer) = post(&mtls, &url, &headers_for(&a, &device, &[actub]), &body_b).await;
    assert_eq!(
        (status, first(&answer)),
        (400, ("JW00B999469E".to_owned(), "16".to_owned())),
        "{answer}"
    );

    // The transmitting certificate itself revoked: 011E.
    s.authority
        .revoke(
            a.info.serial,
            RevocationReason::CessationOfOperation,
            RevocationChannel::CustomerService,
            "agent:A1",
            "",
        )
        .unwrap();
    let (status, answer) = post(&mtls, &url, &good, &body).await;
    assert_eq!(
        (status, first(&answer)),
        (400, ("JW00B999011E".to_owned(), "12".to_owned())),
        "{answer}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_answer_in_retour_trans_lot_and_the_structure_has_its_own_ids() {
    let s = Served::start(Environment::Dev);
    let c = client(&s, Environment::Dev);
    let (a, answer) = enrol(
        &c,
        &headers(Environment::Dev, Some(DeviceIdState::Unassigned)),
        &michel("Caisse du bar"),
    )
    .await;
    let device = answer.device_id.unwrap().to_string();
    let url = format!("{}/transaction", s.api_base);
    let mtls = plain_client(&s, Some(a.identity()));

    // A batch alone: retourTransLot, no retourTransActu.
    let (t1, actu1) = transaction(&a, "0000000011");
    let (t2, actu2) = transaction(&a, "0000000012");
    let body = json!({ "reqTrans": { "transLot": [t1, t2] } }).to_string();
    let (status, answer) = post(
        &mtls,
        &url,
        &headers_for(&a, &device, &[actu1, actu2]),
        &body,
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert!(
        answer["retourTrans"].get("retourTransActu").is_none(),
        "{answer}"
    );
    assert_eq!(
        answer["retourTrans"]["retourTransLot"]["noLot"]
            .as_str()
            .map(str::len),
        Some(10)
    );

    // A batch transaction signed with no certificate on record: its error, with its noTrans,
    // in retourTransLot.listErr (the conformity environments say it; production does not).
    let (mut t3, actu3) = transaction(&a, "0000000013");
    t3["emprCertifSEV"] = json!("0123456789ABCDEF0123456789ABCDEF01234567");
    let (t4, actu4) = transaction(&a, "0000000014");
    let body = json!({ "reqTrans": { "transActu": t4, "transLot": [t3] } }).to_string();
    let (status, answer) = post(
        &mtls,
        &url,
        &headers_for(&a, &device, &[actu3, actu4]),
        &body,
    )
    .await;
    assert_eq!(status, 400, "{answer}");
    let actu = &answer["retourTrans"]["retourTransActu"];
    assert_eq!(
        actu["noTrans"], "0000000014",
        "the current transaction was received: {answer}"
    );
    let lot_errors = &answer["retourTrans"]["retourTransLot"]["listErr"];
    assert_eq!(lot_errors[0]["noTrans"], "0000000013", "{answer}");
    assert_eq!(lot_errors[0]["id"], "JW00B999469E", "{answer}");
    assert_eq!(lot_errors[0]["codRetour"], "16", "{answer}");

    // The structure: reqTrans empty (317E), missing (315E), another field (314E), an unknown
    // field inside it (300E). Each error names the service and the field.
    let good = headers_for(&a, &device, &[]);
    for (body, id, mess) in [
        (json!({ "reqTrans": {} }).to_string(), "JW00B999317E", None),
        (
            json!({}).to_string(),
            "JW00B999315E",
            Some("Le champ suivant est absent : transaction/reqTrans."),
        ),
        (
            json!({ "reqTrans": { "transLot": [] }, "reqCertif": {} }).to_string(),
            "JW00B999314E",
            Some(
                "Le champ suivant est inconnu ou n'est pas au bon endroit : transaction/reqCertif.",
            ),
        ),
        (
            json!({ "reqTrans": { "transActus": {} } }).to_string(),
            "JW00B999300E",
            Some(
                "Un nom de champ sous-jacent est inconnu ou n'est pas au bon endroit : reqTrans/transActus.",
            ),
        ),
    ] {
        let (status, answer) = post(&mtls, &url, &good, &body).await;
        assert_eq!(status, 400, "{body}: {answer}");
        let list = &answer["retourTrans"]["retourTransActu"]["listErr"];
        assert_eq!(list[0]["id"], id, "{body}: {answer}");
        assert_eq!(list[0]["codRetour"], "95", "{body}: {answer}");
        assert_eq!(list[1]["id"], "JW00B999999E", "the companion: {answer}");
        if let Some(mess) = mess {
            assert_eq!(list[0]["mess"], mess);
        }
    }
}
