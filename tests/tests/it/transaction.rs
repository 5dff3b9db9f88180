//! The `/transaction` service: the certificate rules of transmissions, batches oldest first under
//! `SIGNATRANSM`, and each transaction's content read as WEB-SRM reads it.

use serde_json::{Value, json};
use websrm_tests::Served;
use websrm_tests::websrm::domain::{
    DeviceIdState, Environment, RevocationChannel, RevocationReason,
};
use websrm_tests::websrm_crypto::{Signature, signatransm_input};

use crate::support::*;

/// A whole transaction numbered `no`, recorded `no` minutes after 15:00 on 2026-11-26 (so that
/// higher numbers are newer).
fn transaction(held: &Held, no: &str) -> (Value, Signature) {
    let minute: u32 = no.parse::<u32>().unwrap() % 60;
    full_transaction(held, no, &format!("2026112615{minute:02}00"))
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

    // The same request again (its answer lost): nothing is recorded twice, and the current
    // transaction gets its first numbers back.
    let count = |s: &Served| {
        s.authority
            .registry()
            .transaction_count(Environment::Dev)
            .unwrap()
    };
    assert_eq!(count(&s), 2);
    let (status, again) = post(&mtls, &url, &good, &body).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(
        again["retourTrans"]["retourTransActu"]["psiNoTrans"].as_str(),
        Some(psi),
        "{again}"
    );
    assert_eq!(
        again["retourTrans"]["retourTransActu"]["psiDatTrans"],
        answer["retourTrans"]["retourTransActu"]["psiDatTrans"]
    );
    // The batch too: the same noLot and datLot.
    assert_eq!(
        again["retourTrans"]["retourTransLot"], answer["retourTrans"]["retourTransLot"],
        "{again}"
    );
    assert_eq!(count(&s), 2);

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
            "NOTVQ and NOTPS of two operators",
            replace(good.clone(), "NOTVQ", Some("1234567890TQ0001")),
            "JW00B999034E",
            "14",
        ),
        (
            "NOTVQ and NOTPS of another operator than the certificate's",
            replace(
                replace(good.clone(), "NOTVQ", Some("1234567890TQ0001")),
                "NOTPS",
                Some("123456789RT0001"),
            ),
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
    // The batch newest first; SIGNATRANSM over it oldest first.
    let body = json!({ "reqTrans": { "transLot": [t2, t1] } }).to_string();
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

    // A batch transaction signed with no certificate on record, so not one of the operator's
    // (540E): its error, with its noTrans, in retourTransLot.listErr (the conformity
    // environments say it; production does not).
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
    assert_eq!(lot_errors[0]["id"], "JW00B999540E", "{answer}");
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

/// Each single defect in a transaction's content is answered with the id and `codRetour` the
/// guide gives it, in `retourTransActu.listErr` with the transaction's `noTrans`; a batch of
/// three older transactions, newest first, with `SIGNATRANSM` over them oldest first then the
/// current one, is accepted; a batched transaction newer than the current one is 527E.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_content_of_transactions_is_read_as_web_srm_reads_it() {
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

    let (good, actu) = transaction(&a, "0000000030");
    let cases: &[(&str, &str, Option<Value>, &str, &str)] = &[
        (
            "an impossible date",
            "/datTrans",
            Some(json!("20260231120000")),
            "JW00B999408E",
            "96",
        ),
        (
            "an 11-character noTrans",
            "/noTrans",
            Some(json!("00000000031")),
            "JW00B999406E",
            "96",
        ),
        (
            "TPS as 0.25",
            "/mont/TPS",
            Some(json!("0.25")),
            "JW00B999411E",
            "96",
        ),
        (
            "an unknown typTrans",
            "/typTrans",
            Some(json!("RRPR")),
            "JW00B999413E",
            "96",
        ),
        (
            "an unknown modPai",
            "/modPai",
            Some(json!("VIS")),
            "JW00B999414E",
            "96",
        ),
        (
            "an unknown modImpr",
            "/modImpr",
            Some(json!("PDF")),
            "JW00B999415E",
            "96",
        ),
        (
            "an unknown modTrans",
            "/modTrans",
            Some(json!("CMP")),
            "JW00B999416E",
            "96",
        ),
        (
            "an unknown formImpr",
            "/formImpr",
            Some(json!("FAX")),
            "JW00B999427E",
            "96",
        ),
        (
            "an unknown field",
            "/remarque",
            Some(json!("x")),
            "JW00B999300E",
            "95",
        ),
        ("mont missing", "/mont", None, "JW00B999305E", "95"),
        (
            "emprCertifSEV missing",
            "/emprCertifSEV",
            None,
            "JW00B999422E",
            "96",
        ),
        (
            "an addition paid by card",
            "/typTrans",
            Some(json!("ADDI")),
            "JW00B999504E",
            "96",
        ),
        (
            "a self-reference",
            "/refs",
            Some(
                json!([{"noTrans": "0000000030", "datTrans": "20261126153000", "avantTax": "+000000012.00"}]),
            ),
            "JW00B999502E",
            "96",
        ),
    ];
    for (what, pointer, value, id, code) in cases {
        let mut t = good.clone();
        let (parent, key) = pointer.rsplit_once('/').unwrap();
        let target = t.pointer_mut(parent).unwrap().as_object_mut().unwrap();
        match value {
            Some(v) => target.insert(key.to_owned(), v.clone()),
            None => target.remove(key),
        };
        let body = json!({ "reqTrans": { "transActu": t } }).to_string();
        let (status, answer) = post(
            &mtls,
            &url,
            &headers_for(&a, &device, std::slice::from_ref(&actu)),
            &body,
        )
        .await;
        assert_eq!(status, 400, "{what}: {answer}");
        let actu_answer = &answer["retourTrans"]["retourTransActu"];
        let list = &actu_answer["listErr"];
        assert_eq!(
            (list[0]["id"].as_str(), list[0]["codRetour"].as_str()),
            (Some(*id), Some(*code)),
            "{what}: {answer}"
        );
        assert!(actu_answer.get("psiNoTrans").is_none(), "{what}: {answer}");
        if *pointer != "/noTrans" {
            assert_eq!(list[0]["noTrans"], "0000000030", "{what}: {answer}");
            assert_eq!(actu_answer["noTrans"], "0000000030", "{what}: {answer}");
        }
    }

    // Three older transactions, newest first, then the current one.
    let (t1, a1) = transaction(&a, "0000000031");
    let (t2, a2) = transaction(&a, "0000000032");
    let (t3, a3) = transaction(&a, "0000000033");
    let (t4, a4) = transaction(&a, "0000000034");
    let body = json!({ "reqTrans": { "transActu": t4, "transLot": [t3, t2, t1] } }).to_string();
    let oldest_first = [a1, a2, a3, a4];
    let (status, answer) = post(&mtls, &url, &headers_for(&a, &device, &oldest_first), &body).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        answer["retourTrans"]["retourTransActu"]["noTrans"],
        "0000000034"
    );
    // Signed newest first instead, the batch is refused.
    let [a1, a2, a3, a4] = oldest_first;
    let newest_first = [a3, a2, a1, a4];
    let (status, answer) = post(&mtls, &url, &headers_for(&a, &device, &newest_first), &body).await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(
        answer["retourTrans"]["retourTransActu"]["listErr"][0]["id"],
        "JW00B999451E"
    );
    // A batched transaction newer than the current one.
    let (t5, a5) = transaction(&a, "0000000035");
    let (t6, a6) = transaction(&a, "0000000031");
    let body = json!({ "reqTrans": { "transActu": t6, "transLot": [t5] } }).to_string();
    let (status, answer) = post(&mtls, &url, &headers_for(&a, &device, &[a5, a6]), &body).await;
    assert_eq!(status, 400, "{answer}");
    let lot = &answer["retourTrans"]["retourTransLot"]["listErr"];
    assert_eq!(
        (lot[0]["id"].as_str(), lot[0]["noTrans"].as_str()),
        (Some("JW00B999527E"), Some("0000000035")),
        "{answer}"
    );
    assert!(
        answer["retourTrans"]["retourTransActu"]["psiNoTrans"].is_string(),
        "the current one is received: {answer}"
    );
    // A batched transaction later than its reception (beyond 5 minutes): 526E, its time shown
    // with its utc.
    let (t7, a7) = full_transaction(&a, "0000000040", "20991231120000");
    let body = json!({ "reqTrans": { "transLot": [t7] } }).to_string();
    let (status, answer) = post(&mtls, &url, &headers_for(&a, &device, &[a7]), &body).await;
    assert_eq!(status, 400, "{answer}");
    let lot = &answer["retourTrans"]["retourTransLot"]["listErr"];
    assert_eq!(
        (lot[0]["id"].as_str(), lot[0]["codRetour"].as_str()),
        (Some("JW00B999526E"), Some("16")),
        "{answer}"
    );
    assert!(
        lot[0]["mess"]
            .as_str()
            .unwrap()
            .contains("20991231120000-05:00N"),
        "{answer}"
    );
}

/// Every header of SW-73 table 21, one defect at a time, from a plain HTTP client: each gets
/// the id and `codRetour` the guide gives it, in `retourTransActu.listErr` with the current
/// transaction's `noTrans`, and nothing is recorded. Then the transaction's own numbers
/// against the registry: its tax numbers (070E, 071E, 043E), the software that produced it
/// (SEV: 064E, 051E, 052E, 524E, 055E, 058E, 038E), its signer's operator (540E) and file
/// (556E), and the header's QST number against it (536E).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_context_defect_of_a_transmission_has_its_id() {
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
    let (t, actu) = transaction(&a, "0000000050");
    let body = json!({ "reqTrans": { "transActu": t } }).to_string();
    let good = headers_for(&a, &device, std::slice::from_ref(&actu));
    let with = |name: &str, value: Option<&str>| replace(good.clone(), name, value);
    let twice = |name: &str| {
        let mut h = good.clone();
        let value = h.iter().find(|(n, _)| n == name).unwrap().1.clone();
        h.push((name.to_owned(), value));
        h
    };
    type Case<'a> = (&'a str, Vec<(String, String)>, &'a str, &'a str);
    let cases: Vec<Case<'_>> = vec![
        (
            "ENVIRN of production",
            with("ENVIRN", Some("PROD")),
            "012E",
            "94",
        ),
        ("ENVIRN missing", with("ENVIRN", None), "012E", "94"),
        ("ENVIRN sent twice", twice("ENVIRN"), "313E", "94"),
        ("NOTVQ sent twice", twice("NOTVQ"), "313E", "94"),
        ("SIGNATRANSM sent twice", twice("SIGNATRANSM"), "313E", "94"),
        (
            "a header of another version",
            {
                let mut h = good.clone();
                h.push(("SIGNASERVR".into(), "x".into()));
                h
            },
            "328E",
            "94",
        ),
        (
            "CASESSAI malformed",
            with("CASESSAI", Some("3.1")),
            "425E",
            "94",
        ),
        ("CASESSAI missing", with("CASESSAI", None), "425E", "94"),
        (
            "CASESSAI of the certificate cases",
            with("CASESSAI", Some("001.004")),
            "015E",
            "94",
        ),
        (
            "CASESSAI of the user cases",
            with("CASESSAI", Some("002.001")),
            "015E",
            "94",
        ),
        ("NOTPS missing", with("NOTPS", None), "008E", "14"),
        (
            "NOTPS of no operator",
            with("NOTPS", Some("999999999RT9999")),
            "008E",
            "14",
        ),
        (
            "NOTVQ malformed",
            with("NOTVQ", Some("5678912340")),
            "007E",
            "14",
        ),
        (
            "NOTVQ of no operator",
            with("NOTVQ", Some("9999999999TQ9999")),
            "007E",
            "14",
        ),
        (
            "APPRLINIT SRV on a transaction",
            with("APPRLINIT", Some("SRV")),
            "460E",
            "94",
        ),
        ("APPRLINIT missing", with("APPRLINIT", None), "460E", "94"),
        ("IDAPPRL missing", with("IDAPPRL", None), "401E", "94"),
        (
            "IDAPPRL zeros outside the enrolment",
            with("IDAPPRL", Some("0000-0000-0000")),
            "047E",
            "94",
        ),
        (
            "IDAPPRL never issued",
            with("IDAPPRL", Some("1111-2222-3333")),
            "047E",
            "94",
        ),
        ("IDSEV missing", with("IDSEV", None), "001E", "94"),
        (
            "IDSEV unknown",
            with("IDSEV", Some("00000000000000FF")),
            "001E",
            "94",
        ),
        (
            "IDVERSI malformed",
            with("IDVERSI", Some("xyz")),
            "329E",
            "94",
        ),
        (
            "IDVERSI of no version",
            with("IDVERSI", Some("00000000000000FF")),
            "002E",
            "94",
        ),
        (
            "CODCERTIF not valid in DEV",
            with("CODCERTIF", Some("ABC123456789")),
            "025E",
            "94",
        ),
        (
            "IDVERSI zeros with a certification code",
            with("IDVERSI", Some("0000000000000000")),
            "518E",
            "94",
        ),
        (
            "IDPARTN unknown",
            with("IDPARTN", Some("00000000000000FF")),
            "003E",
            "94",
        ),
        (
            "VERSI malformed",
            with("VERSI", Some("1.0.0-rc")),
            "440E",
            "94",
        ),
        (
            "VERSI of no version",
            with("VERSI", Some("9.9")),
            "442E",
            "94",
        ),
        ("VERSIPARN missing", with("VERSIPARN", None), "444E", "94"),
        (
            "VERSIPARN not the version's",
            with("VERSIPARN", Some("0.9")),
            "042E",
            "94",
        ),
        (
            "SIGNATRANSM missing",
            with("SIGNATRANSM", None),
            "508E",
            "94",
        ),
        (
            "SIGNATRANSM not Base64",
            with("SIGNATRANSM", Some(&"*".repeat(88))),
            "451E",
            "94",
        ),
        (
            "EMPRCERTIFTRANSM of 41 characters",
            with("EMPRCERTIFTRANSM", Some(&"A".repeat(41))),
            "452E",
            "94",
        ),
    ];
    let before = s
        .authority
        .registry()
        .transaction_count(Environment::Dev)
        .unwrap();
    for (what, h, id, code) in &cases {
        let (status, answer) = post(&mtls, &url, h, &body).await;
        assert_eq!(status, 400, "{what}: {answer}");
        let actu_answer = &answer["retourTrans"]["retourTransActu"];
        let first = &actu_answer["listErr"][0];
        assert_eq!(
            (first["id"].as_str(), first["codRetour"].as_str()),
            (Some(format!("JW00B999{id}").as_str()), Some(*code)),
            "{what}: {answer}"
        );
        assert_eq!(actu_answer["noTrans"], "0000000050", "{what}: {answer}");
        assert_eq!(first["noTrans"], "0000000050", "{what}: {answer}");
        assert!(answer["retourTrans"].get("casEssai").is_none(), "{answer}");
    }
    assert_eq!(
        s.authority
            .registry()
            .transaction_count(Environment::Dev)
            .unwrap(),
        before,
        "nothing refused is recorded"
    );
    // Several defects at once: all of them, in the table's order.
    let mut h = with("ENVIRN", Some("PROD"));
    h = replace(h, "VERSI", Some("1 0"));
    h = replace(h, "NOTPS", None);
    let (_, answer) = post(&mtls, &url, &h, &body).await;
    let ids: Vec<&str> = answer["retourTrans"]["retourTransActu"]["listErr"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            "JW00B999012E",
            "JW00B999008E",
            "JW00B999440E",
            "JW00B999999E"
        ],
        "{answer}"
    );
    // A header value with a space around it is not trimmed (the HTTP layer drops the spaces
    // around a field value, RFC 9110 §5.5; inside, one is kept and refused).
    let (_, answer) = post(&mtls, &url, &with("VERSI", Some("1.0 .0")), &body).await;
    assert_eq!(
        answer["retourTrans"]["retourTransActu"]["listErr"][0]["id"],
        "JW00B999440E"
    );

    // The transaction's numbers against the registry, one defect at a time.
    let (e, _) = enrol(
        &c,
        &headers(Environment::Dev, Some(DeviceIdState::Unassigned)),
        &express_taxe("Caisse express"),
    )
    .await;
    let content: Vec<(&str, &str, Value, &str, &str)> = vec![
        (
            "noTVQ of no operator",
            "/noTax/noTVQ",
            json!("9999999999TQ9999"),
            "070E",
            "16",
        ),
        (
            "noTPS of no operator",
            "/noTax/noTPS",
            json!("999999999RT9999"),
            "071E",
            "16",
        ),
        (
            "noTPS of another operator",
            "/noTax/noTPS",
            json!("123456789RT0001"),
            "043E",
            "16",
        ),
        (
            "noTax of another operator than the signer",
            "/noTax",
            json!({"noTPS": "123456789RT0001", "noTVQ": "1234567890TQ0001"}),
            "540E",
            "16",
        ),
        (
            "emprCertifSEV of no certificate",
            "/emprCertifSEV",
            json!("0123456789ABCDEF0123456789ABCDEF01234567"),
            "540E",
            "16",
        ),
        (
            "noDossFO not the certificate's",
            "/noDossFO",
            json!("ER0002"),
            "556E",
            "16",
        ),
        (
            "idPartn unknown",
            "/SEV/idPartn",
            json!("00000000000000FF"),
            "064E",
            "96",
        ),
        (
            "idSEV unknown",
            "/SEV/idSEV",
            json!("00000000000000FF"),
            "051E",
            "96",
        ),
        (
            "idVersi of no version",
            "/SEV/idVersi",
            json!("00000000000000FF"),
            "052E",
            "96",
        ),
        (
            "idVersi zeros with a certification code",
            "/SEV/idVersi",
            json!("0000000000000000"),
            "524E",
            "96",
        ),
        (
            "codCertif not valid in DEV",
            "/SEV/codCertif",
            json!("ABC201999999"),
            "055E",
            "96",
        ),
        (
            "versi of no version",
            "/SEV/versi",
            json!("9.9"),
            "058E",
            "96",
        ),
        (
            "versiParn not the version's",
            "/SEV/versiParn",
            json!("0.9"),
            "038E",
            "96",
        ),
    ];
    for (what, pointer, value, id, code) in content {
        let mut t = t.clone();
        *t.pointer_mut(pointer).unwrap() = value;
        let body = json!({ "reqTrans": { "transActu": t } }).to_string();
        let (status, answer) = post(&mtls, &url, &good, &body).await;
        assert_eq!(status, 400, "{what}: {answer}");
        let first = &answer["retourTrans"]["retourTransActu"]["listErr"][0];
        assert_eq!(
            (first["id"].as_str(), first["codRetour"].as_str()),
            (Some(format!("JW00B999{id}").as_str()), Some(code)),
            "{what}: {answer}"
        );
        assert_eq!(first["noTrans"], "0000000050", "{what}: {answer}");
    }
    // A transaction of Express Taxe's SRS sent with Michel Untel's headers: 536E.
    let mut other = t.clone();
    other["noTax"] = json!({"noTPS": "123456789RT0001", "noTVQ": "1234567890TQ0001"});
    other["emprCertifSEV"] = json!(e.info.thumbprint.to_string());
    let body = json!({ "reqTrans": { "transActu": other } }).to_string();
    let (status, answer) = post(&mtls, &url, &good, &body).await;
    assert_eq!(status, 400, "{answer}");
    let first = &answer["retourTrans"]["retourTransActu"]["listErr"][0];
    assert_eq!(
        (first["id"].as_str(), first["codRetour"].as_str()),
        (Some("JW00B999536E"), Some("14")),
        "{answer}"
    );
    // And the good request is taken.
    let (status, answer) = post(
        &mtls,
        &url,
        &good,
        &json!({ "reqTrans": { "transActu": t } }).to_string(),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
}

/// Transactions signed offline with a certificate that was replaced before they could be sent
/// are the SRS's own: the batch is accepted under the new certificate. One signed with the old
/// key after the replacement is 469E.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_signed_before_a_replacement_is_accepted_after_it() {
    use websrm_tests::websrm_crypto::{Csr, PrivateKey};
    use websrm_tests::websrm_protocol::wire::Modification;
    let s = Served::start(Environment::Dev);
    let c = client(&s, Environment::Dev);
    let (old, answer) = enrol(
        &c,
        &headers(Environment::Dev, Some(DeviceIdState::Unassigned)),
        &michel("Caisse du bar"),
    )
    .await;
    let device_id = answer.device_id.unwrap();
    let device = device_id.to_string();
    // Two sales recorded offline, signed with the certificate in force.
    let (t1, a1) = transaction(&old, "0000000061");
    let (t2, a2) = transaction(&old, "0000000062");
    // Then the certificate is replaced.
    let key = PrivateKey::generate().unwrap();
    let csr = Csr::build(&michel("Caisse du bar"), &key)
        .unwrap()
        .to_wire();
    let replaced = c
        .send(
            &headers(Environment::Dev, Some(DeviceIdState::Assigned(device_id))),
            &Modification::Replace {
                csr,
                serial: old.info.serial,
            },
            Some(old.identity()),
        )
        .await
        .expect("the replacement succeeds");
    let new = held(key, &replaced);
    let url = format!("{}/transaction", s.api_base);
    let mtls = plain_client(&s, Some(new.identity()));
    // The batch, and a current transaction of the new certificate.
    let (t3, a3) = transaction(&new, "0000000063");
    let body = json!({ "reqTrans": { "transActu": t3, "transLot": [t2, t1] } }).to_string();
    let (status, answer) = post(
        &mtls,
        &url,
        &headers_for(&new, &device, &[a1, a2, a3]),
        &body,
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert!(
        answer["retourTrans"]["retourTransLot"]
            .get("listErr")
            .is_none()
    );

    // Signed with the old key after the replacement (tomorrow): 469E.
    let tomorrow = time::OffsetDateTime::now_utc() + time::Duration::days(1);
    let date = format!(
        "{:04}{:02}{:02}120000",
        tomorrow.year(),
        u8::from(tomorrow.month()),
        tomorrow.day()
    );
    let (late, actu) = full_transaction(&old, "0000000064", &date);
    let body = json!({ "reqTrans": { "transActu": late } }).to_string();
    let (status, answer) = post(&mtls, &url, &headers_for(&new, &device, &[actu]), &body).await;
    assert_eq!(status, 400, "{answer}");
    let first = &answer["retourTrans"]["retourTransActu"]["listErr"][0];
    assert_eq!(
        (first["id"].as_str(), first["codRetour"].as_str()),
        (Some("JW00B999469E"), Some("16")),
        "{answer}"
    );
    // The old certificate itself no longer authenticates.
    let (status, answer) = post(
        &plain_client(&s, Some(old.identity())),
        &url,
        &headers_for(&old, &device, &[]),
        &json!({ "reqTrans": { "transLot": [] } }).to_string(),
    )
    .await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(
        answer["retourTrans"]["retourTransActu"]["listErr"][0]["id"],
        "JW00B999011E"
    );
}
