//! The `/transaction` service: the certificate rules of transmissions, batches oldest first under
//! `SIGNATRANSM`, and each transaction's content read as WEB-SRM reads it.

use serde_json::{Value, json};
use websrm_tests::websrm::domain::{
    DeviceIdState, Environment, RevocationChannel, RevocationReason,
};
use websrm_tests::websrm_authority::records::VersionState;
use websrm_tests::websrm_crypto::{Signature, signatransm_input};
use websrm_tests::{Served, test_product};

use crate::support::*;
use websrm_tests::websrm_domain::published::MICHEL_UNTEL;

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
                held.info.subject.as_ref().unwrap().authorization_code(),
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
    // A minute later, so that a second record would get other times.
    {
        use websrm_tests::websrm_domain::Clock;
        s.clock.set(s.clock.now() + time::Duration::minutes(1));
    }
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
        .revocation()
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
        .revocation()
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
/// (SEV: 053E, 051E, 052E, 524E, 055E, 058E, 038E), its signer's operator (540E) and file
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
            with("NOTVQ", Some(MICHEL_UNTEL.identification_number)),
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
            "053E",
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
    // Every service of the API host requires CONTENT-TYPE application/json (415).
    for path in ["transaction", "utilisateur", "document", "certificats"] {
        let mut request = mtls
            .post(format!("{}/{path}", s.api_base))
            .header("Content-Type", "text/plain")
            .body(json!({ "reqTrans": { "transActu": t } }).to_string());
        for (name, value) in &good {
            request = request.header(name.as_str(), value.as_str());
        }
        let status = request.send().await.unwrap().status().as_u16();
        assert_eq!(status, 415, "/{path}");
    }
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
    // Eastern standard time, as the example sales' `utc` says, `minutes` from the authority's
    // clock.
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
    // Two sales recorded offline just before the replacement, signed with the certificate in
    // force then.
    let (t1, a1) = full_transaction(&old, "0000000061", &local(-2));
    let (t2, a2) = full_transaction(&old, "0000000062", &local(-1));
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
    let (t3, a3) = full_transaction(&new, "0000000063", &local(0));
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

    // Signed with the old key two minutes after the replacement: 469E.
    let (late, actu) = full_transaction(&old, "0000000064", &local(2));
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

/// One defect of a transaction: what it is, the changes to a valid one (a JSON pointer and the
/// value to put there, or `None` to remove the field), the `CASESSAI` to send (the sums are
/// checked with a test case), and the id and `codRetour` expected.
type Defect<'a> = (
    &'a str,
    Vec<(&'a str, Option<Value>)>,
    &'a str,
    &'a str,
    &'a str,
);

/// Every id of SW-73.A's transaction ranges that the content of one transaction can produce, from
/// a plain HTTP client, each with the `codRetour` the guide gives it: the first error of the
/// answer, with the transaction's `noTrans`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_content_id_of_a_transaction_from_a_plain_client() {
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
    let (good, actu) = transaction(&a, "0000000070");
    let h = headers_for(&a, &device, std::slice::from_ref(&actu));
    let reference =
        json!({"noTrans": "0000000069", "datTrans": "20261126150900", "avantTax": "+000000012.00"});
    let transport = |descr: &str| -> Vec<(&'static str, Option<Value>)> {
        vec![
            ("/sectActi", Some(json!({"abrvt": "TRP"}))),
            ("/nomUtil", Some(json!("Michel Untel"))),
            (
                "/items",
                Some(
                    json!([{"qte": "+00001.00", "descr": descr, "prix": "+000000012.00", "tax": "FP", "acti": "TRP"}]),
                ),
            ),
        ]
    };
    let address = |field: &str, value: &str| {
        let mut adr = json!({"typAdr": "EXP", "noCiviq": "100", "rue": "Rue Principale", "vil": "Montréal", "cp": "H2X1Y4"});
        adr[field] = json!(value);
        Some(json!({"noTvqClint": "1234567890TQ0001", "adr": [adr]}))
    };
    let item = |descr: &str, prix: &str, tax: &str, acti: &str| json!({"qte": "+00001.00", "descr": descr, "prix": prix, "tax": tax, "acti": acti});
    let poutine = item("Poutine", "+000000012.00", "FP", "RES");
    let zero = "+000000000.00";
    let defects: Vec<Defect<'_>> = vec![
        (
            "an unknown sector",
            vec![("/sectActi/abrvt", Some(json!("XYZ")))],
            "000.000",
            "405E",
            "96",
        ),
        (
            "an empty business name",
            vec![("/nomMandt", Some(json!("")))],
            "000.000",
            "407E",
            "16",
        ),
        (
            "a quantity of another form",
            vec![("/items/0/qte", Some(json!("1")))],
            "000.000",
            "409E",
            "96",
        ),
        (
            "a one-letter description",
            vec![("/items/0/descr", Some(json!("P")))],
            "000.000",
            "410E",
            "16",
        ),
        (
            "an unknown tax",
            vec![("/items/0/tax", Some(json!("GST")))],
            "000.000",
            "412E",
            "96",
        ),
        (
            "a short preced",
            vec![("/signa/preced", Some(json!("court")))],
            "000.000",
            "417E",
            "96",
        ),
        (
            "a utc of another zone",
            vec![("/utc", Some(json!("-06:00N")))],
            "000.000",
            "423E",
            "96",
        ),
        (
            "a versi with a dash",
            vec![("/SEV/versi", Some(json!("1.0.0-rc")))],
            "000.000",
            "441E",
            "96",
        ),
        (
            "an empty versiParn",
            vec![("/SEV/versiParn", Some(json!("")))],
            "000.000",
            "443E",
            "96",
        ),
        (
            "a transport item out of the list",
            transport("Poutine"),
            "000.000",
            "445E",
            "96",
        ),
        (
            "an unknown commerElectr",
            vec![("/commerElectr", Some(json!("X")))],
            "000.000",
            "447E",
            "96",
        ),
        (
            "a postal code of another form",
            vec![("/docAdr/docCp", Some(json!("123456")))],
            "000.000",
            "448E",
            "16",
        ),
        (
            "a civic number of 17 characters",
            vec![("/docAdr/docNoCiviq", Some(json!("1".repeat(17))))],
            "000.000",
            "449E",
            "16",
        ),
        (
            "an instalment of another form",
            vec![
                ("/mont/versActu", Some(json!("5"))),
                ("/mont/versAnt", Some(json!(zero))),
                ("/mont/sold", Some(json!("+000000008.80"))),
            ],
            "000.000",
            "450E",
            "96",
        ),
        (
            "a transport activity in a restaurant",
            vec![("/items/0/acti", Some(json!("TRP")))],
            "000.000",
            "454E",
            "96",
        ),
        (
            "an unknown service type",
            vec![("/sectActi/typServ", Some(json!("XXX")))],
            "000.000",
            "455E",
            "96",
        ),
        (
            "a table number of one character",
            vec![("/sectActi/noTabl", Some(json!("1")))],
            "000.000",
            "456E",
            "96",
        ),
        (
            "no customers",
            vec![("/sectActi/nbClint", Some(json!("000")))],
            "000.000",
            "458E",
            "96",
        ),
        (
            "an unknown relation",
            vec![("/relaCommer", Some(json!("B2X")))],
            "000.000",
            "461E",
            "96",
        ),
        (
            "an unknown address type",
            vec![("/clint", address("typAdr", "XXX"))],
            "000.000",
            "462E",
            "96",
        ),
        (
            "a customer QST number of another form",
            vec![("/clint", Some(json!({"noTvqClint": "123"})))],
            "000.000",
            "463E",
            "16",
        ),
        (
            "a phone number of 3 digits",
            vec![("/clint", Some(json!({"tel1": "123"})))],
            "000.000",
            "464E",
            "16",
        ),
        (
            "an e-mail without @",
            vec![("/clint", Some(json!({"courl": "michel.exemple.com"})))],
            "000.000",
            "465E",
            "16",
        ),
        (
            "no file number",
            vec![("/noDossFO", None)],
            "000.000",
            "466E",
            "16",
        ),
        (
            "a one-letter street",
            vec![("/clint", address("rue", "R"))],
            "000.000",
            "467E",
            "16",
        ),
        (
            "a name ending with a space",
            vec![("/nomMandt", Some(json!("Resto ")))],
            "000.000",
            "468E",
            "16",
        ),
        (
            "an address postal code of 4 digits",
            vec![("/clint", address("cp", "1234"))],
            "000.000",
            "471E",
            "16",
        ),
        (
            "two identical references",
            vec![("/refs", Some(json!([reference, reference])))],
            "000.000",
            "503E",
            "96",
        ),
        (
            "a closing receipt without payment",
            vec![("/modPai", Some(json!("SOB")))],
            "000.000",
            "505E",
            "96",
        ),
        (
            "Autre without a precision",
            transport("Autre"),
            "000.000",
            "507E",
            "16",
        ),
        (
            "a total that is not the sum",
            vec![("/mont/apresTax", Some(json!("+000000013.81")))],
            "003.001",
            "523E",
            "96",
        ),
        (
            "left without paying, paid by card",
            vec![
                ("/modImpr", Some(json!("PSP"))),
                ("/formImpr", Some(json!("NON"))),
            ],
            "000.000",
            "528E",
            "96",
        ),
        (
            "a tip without a user",
            vec![("/mont/pourb", Some(json!("+000000002.00")))],
            "000.000",
            "529E",
            "16",
        ),
        (
            "one instalment field alone",
            vec![("/mont/versActu", Some(json!("+000000013.80")))],
            "000.000",
            "532E",
            "16",
        ),
        (
            "an earlier instalment without a reference",
            vec![
                ("/mont/versActu", Some(json!("+000000006.80"))),
                ("/mont/versAnt", Some(json!("+000000007.00"))),
                ("/mont/sold", Some(json!(zero))),
            ],
            "000.000",
            "534E",
            "96",
        ),
        (
            "instalments that do not add up",
            vec![
                ("/mont/versActu", Some(json!("+000000006.80"))),
                ("/mont/versAnt", Some(json!(zero))),
                ("/mont/sold", Some(json!("+000000001.00"))),
            ],
            "003.001",
            "535E",
            "96",
        ),
        (
            "a restaurant sale without its service type",
            vec![("/sectActi/typServ", None)],
            "000.000",
            "537E",
            "96",
        ),
        (
            "an adjustment without the amount due",
            vec![("/mont/ajus", Some(json!("-000000000.01")))],
            "000.000",
            "538E",
            "96",
        ),
        (
            "a priced precision without a quantity",
            vec![(
                "/items/0/preci",
                Some(
                    json!([{"descr": "Extra fromage", "prix": "+000000001.00", "tax": "FP", "acti": "RES"}]),
                ),
            )],
            "000.000",
            "541E",
            "16",
        ),
        (
            "a priced precision without a tax",
            vec![(
                "/items/0/preci",
                Some(
                    json!([{"descr": "Extra fromage", "qte": "+00001.00", "prix": "+000000001.00", "acti": "RES"}]),
                ),
            )],
            "000.000",
            "542E",
            "16",
        ),
        (
            "a service charge taxed F",
            vec![(
                "/items",
                Some(json!([
                    poutine,
                    item("Frais de service", "+000000001.00", "F", "RES")
                ])),
            )],
            "000.000",
            "543E",
            "96",
        ),
        (
            "a habitual third party without its customer block",
            vec![("/items/0/acti", Some(json!("HAB")))],
            "000.000",
            "545E",
            "16",
        ),
        (
            "nothing due, paid by card",
            vec![
                ("/mont/ajus", Some(json!("-000000013.80"))),
                ("/mont/mtdu", Some(json!(zero))),
            ],
            "000.000",
            "546E",
            "16",
        ),
        (
            "an amount due that is not the sum",
            vec![
                ("/mont/ajus", Some(json!("-000000000.01"))),
                ("/mont/mtdu", Some(json!("+000000013.00"))),
            ],
            "003.001",
            "547E",
            "96",
        ),
        (
            "cash on an online sale",
            vec![
                ("/commerElectr", Some(json!("O"))),
                ("/modPai", Some(json!("ARG"))),
            ],
            "000.000",
            "548E",
            "16",
        ),
        (
            "a cancelled addition with an adjustment",
            vec![
                ("/items", Some(json!([item("Poutine", zero, "SOB", "SOB")]))),
                (
                    "/mont",
                    Some(
                        json!({"avantTax": zero, "TPS": zero, "TVQ": zero, "apresTax": zero, "ajus": zero, "mtdu": zero}),
                    ),
                ),
                ("/modPai", Some(json!("AUC"))),
                ("/refs", Some(json!([reference]))),
            ],
            "000.000",
            "549E",
            "96",
        ),
        (
            "a priced item of no activity",
            vec![("/items/0/acti", Some(json!("SOB")))],
            "000.000",
            "550E",
            "16",
        ),
        (
            "a cancellation without its reason",
            vec![(
                "/items",
                Some(json!([
                    poutine,
                    item("Annulation", "-000000012.00", "FP", "RES")
                ])),
            )],
            "000.000",
            "551E",
            "16",
        ),
        (
            "a supplementary tax without its item",
            vec![("/items/0/tax", Some(json!("FPS")))],
            "000.000",
            "554E",
            "16",
        ),
        (
            "a leaf given children",
            vec![("/noTrans", Some(json!({"a": "1"})))],
            "000.000",
            "308E",
            "95",
        ),
    ];
    let mut wrong = Vec::new();
    for (what, changes, test_case, id, code) in &defects {
        let mut t = good.clone();
        for (pointer, value) in changes {
            let (parent, key) = pointer.rsplit_once('/').unwrap();
            let target = t.pointer_mut(parent).unwrap();
            match (target, value) {
                (Value::Object(map), Some(v)) => {
                    map.insert(key.to_owned(), v.clone());
                }
                (Value::Object(map), None) => {
                    map.remove(key);
                }
                (Value::Array(list), Some(v)) => list[key.parse::<usize>().unwrap()] = v.clone(),
                (other, _) => panic!("{what}: {pointer} in {other}"),
            }
        }
        let body = json!({ "reqTrans": { "transActu": t } }).to_string();
        let headers = replace(h.clone(), "CASESSAI", Some(test_case));
        let (status, answer) = post(&mtls, &url, &headers, &body).await;
        let first = &answer["retourTrans"]["retourTransActu"]["listErr"][0];
        let got = (
            first["id"].as_str().unwrap_or_default().to_owned(),
            first["codRetour"].as_str().unwrap_or_default().to_owned(),
        );
        if status != 400 || got != (format!("JW00B999{id}"), (*code).to_owned()) {
            wrong.push(format!(
                "{what}: expected {id} [{code}], got {status} {answer}"
            ));
        } else if *id != "308E" {
            assert_eq!(first["noTrans"], "0000000070", "{what}: {answer}");
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    // A body that is not JSON: 200E, codRetour 91 (resend as a new transaction).
    let (status, answer) = post(&mtls, &url, &h, "{\"reqTrans\": ").await;
    assert_eq!(status, 400);
    let first = &answer["retourTrans"]["retourTransActu"]["listErr"][0];
    assert_eq!(
        (first["id"].as_str(), first["codRetour"].as_str()),
        (Some("JW00B999200E"), Some("91"))
    );
    // A field repeated inside the transaction (a map-based parser would keep one): 306E.
    let body = json!({ "reqTrans": { "transActu": good } })
        .to_string()
        .replacen("\"mont\":{", "\"mont\":{\"TPS\":\"+000000000.01\",", 1);
    let (status, answer) = post(&mtls, &url, &h, &body).await;
    assert_eq!(status, 400, "{body}");
    let first = &answer["retourTrans"]["retourTransActu"]["listErr"][0];
    assert_eq!(
        (first["id"].as_str(), first["codRetour"].as_str()),
        (Some("JW00B999306E"), Some("95")),
        "{answer}"
    );
    assert!(
        first["mess"]
            .as_str()
            .unwrap()
            .contains("transActu/mont/TPS"),
        "{answer}"
    );
}

/// Each example document of docs/examples/transactions (an addition, a closing receipt, a
/// reproduction and a credit note in a restaurant; a closing receipt in transportation), signed
/// by a certificate of its sector's file, is accepted and recorded; the examples are what a POS
/// writes, so these are the documents a vendor starts from.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_example_document_is_accepted() {
    use websrm_tests::websrm_domain::Sector;
    use websrm_tests::websrm_protocol::transaction::{Checks, read_sale};
    let s = Served::start(Environment::Dev);
    let c = client(&s, Environment::Dev);
    let (restaurant, answer) = enrol(
        &c,
        &headers(Environment::Dev, Some(DeviceIdState::Unassigned)),
        &michel("Caisse du bar"),
    )
    .await;
    let device_id = answer.device_id.unwrap();
    let taxi = MICHEL_UNTEL
        .srs_subject(Sector::Transport, "Taxi Michel".parse().unwrap())
        .unwrap();
    let (transport, _) = enrol(
        &c,
        &headers(Environment::Dev, Some(DeviceIdState::Assigned(device_id))),
        &taxi,
    )
    .await;
    let device = device_id.to_string();
    let url = format!("{}/transaction", s.api_base);
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/examples/transactions");
    let mut names: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    names.sort();
    assert_eq!(names.len(), 5, "{names:?}");
    for path in names {
        let example: Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let sale = read_sale(&example, Checks::default().with_sums()).unwrap();
        let held = if example["sectActi"]["abrvt"] == "TRP" {
            &transport
        } else {
            &restaurant
        };
        let (t, actu) = websrm_tests::signed_transaction(&held.key, held.info.thumbprint, sale);
        let body = json!({ "reqTrans": { "transActu": t } }).to_string();
        // With a test case, so that the sums are checked too.
        let h = replace(
            headers_for(held, &device, &[actu]),
            "CASESSAI",
            Some("003.001"),
        );
        let mtls = plain_client(&s, Some(held.identity()));
        let (status, answer) = post(&mtls, &url, &h, &body).await;
        assert_eq!(status, 200, "{}: {answer}", path.display());
        assert!(
            answer["retourTrans"]["retourTransActu"]["psiNoTrans"].is_string(),
            "{answer}"
        );
    }
    assert_eq!(
        s.authority
            .registry()
            .transaction_count(Environment::Dev)
            .unwrap(),
        5
    );
}

/// What depends on the environment: in production, a version must be certified (060E in the
/// headers, 062E in SEV), the codes and partners are production's (056E, 053E), no test case
/// (509E), and a batch's errors are not returned; in ESSAI, a test case is required (510E), an
/// unregistered version is refused (048E, 054E), so are a version awaiting certification (066E)
/// and a developer not registered (064E), and a batch's errors are returned.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn production_and_essai_have_their_own_rules() {
    for environment in [Environment::Prod, Environment::Essai] {
        let s = Served::start(environment);
        let c = client(&s, environment);
        // In ESSAI, the certificate of the run's step 001.001, then a step whose transaction
        // is a closing receipt (029.001), put back before each request: a refused step sends
        // the run back to the start of its block.
        let essai = environment == Environment::Essai;
        if essai {
            essai_at(&s, "001.001");
        }
        let (a, answer) = enrol(
            &c,
            &headers(environment, Some(DeviceIdState::Unassigned)),
            &michel(if essai {
                "Certificat A"
            } else {
                "Caisse du bar"
            }),
        )
        .await;
        let device = answer.device_id.unwrap().to_string();
        let url = format!("{}/transaction", s.api_base);
        let mtls = plain_client(&s, Some(a.identity()));
        let (good, actu) = transaction(&a, "0000000080");
        let mut h = replace(
            headers_for(&a, &device, std::slice::from_ref(&actu)),
            "ENVIRN",
            Some(environment.as_str()),
        );
        if essai {
            h = replace(h, "CASESSAI", Some("029.001"));
        }
        let body_of = |t: &Value| json!({ "reqTrans": { "transActu": t } }).to_string();
        let with_sev = |field: &str, value: &str| {
            let mut t = good.clone();
            t["SEV"][field] = json!(value);
            if field == "idVersi" && value == "0000000000000000" {
                t["SEV"]["codCertif"] = json!("FOB000000000");
            }
            body_of(&t)
        };
        let zeros = replace(
            replace(h.clone(), "IDVERSI", Some("0000000000000000")),
            "CODCERTIF",
            Some("FOB000000000"),
        );
        // A version awaiting certification, and a developer not registered for DEV and ESSAI.
        if environment == Environment::Essai {
            use websrm_tests::websrm_authority::ProductRegistration;
            let p = test_product();
            for (partner, srs, id, versi, state) in [
                (
                    p.partner_id,
                    p.srs_id,
                    "0000000000000012",
                    "1.2.0",
                    VersionState::AwaitingCertification,
                ),
                (
                    "00000000000000AB".parse().unwrap(),
                    "00000000000000CD".parse().unwrap(),
                    "0000000000000014",
                    "2.0",
                    VersionState::Registered,
                ),
            ] {
                let mut r = ProductRegistration::new(
                    partner,
                    srs,
                    p.certification_code.clone(),
                    versi.parse().unwrap(),
                    "1.0.0".parse().unwrap(),
                );
                r.version_id = Some(id.parse().unwrap());
                r.state = state;
                s.authority.admin().register_product(r, "test").unwrap();
            }
            s.authority
                .admin()
                .set_partner("00000000000000AB".parse().unwrap(), "", false, "test")
                .unwrap();
        }
        let with_software = |fields: &[(&str, &str)]| {
            let mut t = good.clone();
            for (field, value) in fields {
                t["SEV"][*field] = json!(value);
            }
            t["SEV"]["versiParn"] = json!("1.0.0");
            body_of(&t)
        };
        type Case<'a> = (&'a str, Vec<(String, String)>, String, &'a str, &'a str);
        let cases: Vec<Case<'_>> = if environment == Environment::Prod {
            vec![
                (
                    "a version not registered",
                    replace(h.clone(), "IDVERSI", Some("00000000000000FF")),
                    body_of(&good),
                    "060E",
                    "94",
                ),
                (
                    "a test case",
                    replace(h.clone(), "CASESSAI", Some("003.001")),
                    body_of(&good),
                    "509E",
                    "94",
                ),
                (
                    "SEV of a version not registered",
                    h.clone(),
                    with_sev("idVersi", "00000000000000FF"),
                    "062E",
                    "96",
                ),
                (
                    "SEV with a test code",
                    h.clone(),
                    with_sev("codCertif", "RBC201999999"),
                    "056E",
                    "96",
                ),
                (
                    "SEV of an unknown partner",
                    h.clone(),
                    with_sev("idPartn", "00000000000000FF"),
                    "053E",
                    "96",
                ),
            ]
        } else {
            vec![
                (
                    "no test case",
                    replace(h.clone(), "CASESSAI", Some("000.000")),
                    body_of(&good),
                    "510E",
                    "94",
                ),
                (
                    "an unregistered version",
                    zeros,
                    body_of(&good),
                    "048E",
                    "94",
                ),
                (
                    "SEV of an unregistered version",
                    h.clone(),
                    with_sev("idVersi", "0000000000000000"),
                    "054E",
                    "96",
                ),
                (
                    "SEV of a version awaiting certification",
                    h.clone(),
                    with_software(&[("idVersi", "0000000000000012"), ("versi", "1.2.0")]),
                    "066E",
                    "96",
                ),
                (
                    "SEV of a developer not registered",
                    h.clone(),
                    with_software(&[
                        ("idPartn", "00000000000000AB"),
                        ("idSEV", "00000000000000CD"),
                        ("idVersi", "0000000000000014"),
                        ("versi", "2.0"),
                    ]),
                    "064E",
                    "96",
                ),
            ]
        };
        for (what, h, body, id, code) in cases {
            if essai {
                essai_at(&s, "029.001");
            }
            let (status, answer) = post(&mtls, &url, &h, &body).await;
            assert_eq!(status, 400, "{environment} {what}: {answer}");
            let first = &answer["retourTrans"]["retourTransActu"]["listErr"][0];
            assert_eq!(
                (first["id"].as_str(), first["codRetour"].as_str()),
                (Some(format!("JW00B999{id}").as_str()), Some(code)),
                "{environment} {what}: {answer}"
            );
        }
        // A batch with a defective transaction and a good current one: the batch is received;
        // its error is returned in ESSAI only.
        let (mut bad, bad_actu) = transaction(&a, "0000000079");
        bad["typTrans"] = json!("RRPR");
        let body = json!({ "reqTrans": { "transActu": good, "transLot": [bad] } }).to_string();
        let both = replace(
            headers_for(&a, &device, &[bad_actu, actu]),
            "ENVIRN",
            Some(environment.as_str()),
        );
        let both = if essai {
            essai_at(&s, "029.001");
            replace(both, "CASESSAI", Some("029.001"))
        } else {
            both
        };
        let (status, answer) = post(&mtls, &url, &both, &body).await;
        let lot = &answer["retourTrans"]["retourTransLot"];
        assert!(lot["noLot"].is_string(), "{environment}: {answer}");
        assert!(
            answer["retourTrans"]["retourTransActu"]["psiNoTrans"].is_string(),
            "{environment}: {answer}"
        );
        if environment == Environment::Prod {
            assert_eq!(status, 200, "{answer}");
            assert!(lot.get("listErr").is_none(), "{answer}");
        } else {
            assert_eq!(status, 400, "{answer}");
            assert_eq!(lot["listErr"][0]["id"], "JW00B999413E", "{answer}");
            assert_eq!(lot["listErr"][0]["noTrans"], "0000000079", "{answer}");
        }
    }
}

/// An operator not registered for the GST sends `000000000RT0000` (SW-73 annexe B): its
/// transactions and its users are accepted with it; an operator with a GST number is not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_without_gst_sends_the_zero_gst_number() {
    use websrm_tests::websrm_authority::OperatorRegistration;
    use websrm_tests::websrm_domain::Sector;
    let s = Served::start(Environment::Dev);
    let mut operator =
        OperatorRegistration::new("3333333333".parse().unwrap(), "Casse-croûte sans TPS");
    operator.qst_number = Some("3333333333TQ0001".parse().unwrap());
    operator.file_numbers = vec![("ER0002".parse().unwrap(), Sector::Restaurant)];
    let issued = s
        .authority
        .admin()
        .register_operator(operator, Sector::Restaurant, "test")
        .unwrap();
    let c = client(&s, Environment::Dev);
    let subject = srs(
        "3333333333",
        issued.code.expose(),
        "3333333333TQ0001",
        "ER0002",
        "Caisse du comptoir",
    );
    let (a, answer) = enrol(
        &c,
        &headers(Environment::Dev, Some(DeviceIdState::Unassigned)),
        &subject,
    )
    .await;
    let device = answer.device_id.unwrap().to_string();
    let mtls = plain_client(&s, Some(a.identity()));
    let (mut t, actu) = transaction(&a, "0000000090");
    t["noTax"] = json!({"noTPS": "000000000RT0000", "noTVQ": "3333333333TQ0001"});
    t["noDossFO"] = json!("ER0002");
    let h = replace(
        replace(
            headers_for(&a, &device, &[actu]),
            "NOTPS",
            Some("000000000RT0000"),
        ),
        "NOTVQ",
        Some("3333333333TQ0001"),
    );
    let url = format!("{}/transaction", s.api_base);
    let body = json!({ "reqTrans": { "transActu": t } }).to_string();
    let (status, answer) = post(&mtls, &url, &h, &body).await;
    assert_eq!(status, 200, "{answer}");
    // Its user accounts too.
    let user = json!({"reqUtil": {"modif": "AJO", "nomUtil": "Léa Comptoir", "noTax": {"noTPS": "000000000RT0000", "noTVQ": "3333333333TQ0001"}}});
    let (status, answer) = post(
        &mtls,
        &format!("{}/utilisateur", s.api_base),
        &header_pairs(&device),
        &user.to_string(),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        answer["retourUtil"]["noTax"],
        json!({"noTPS": "VAL", "noTVQ": "VAL"})
    );

    // An operator registered for the GST cannot use the zero number.
    let (m, answer) = enrol(
        &c,
        &headers(Environment::Dev, Some(DeviceIdState::Unassigned)),
        &michel("Caisse du bar"),
    )
    .await;
    let device = answer.device_id.unwrap().to_string();
    let (t, actu) = transaction(&m, "0000000091");
    let h = replace(
        headers_for(&m, &device, &[actu]),
        "NOTPS",
        Some("000000000RT0000"),
    );
    let body = json!({ "reqTrans": { "transActu": t } }).to_string();
    let (status, answer) = post(&plain_client(&s, Some(m.identity())), &url, &h, &body).await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(
        answer["retourTrans"]["retourTransActu"]["listErr"][0]["id"], "JW00B999008E",
        "{answer}"
    );
}

/// In ESSAI, a transaction is examined as its step of the run: values the step does not
/// prescribe are refused with 435E before anything is recorded, and the transaction block
/// starts over; the step's own values pass and the answer names the next step.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn essai_examines_a_transaction_as_its_step() {
    let s = Served::start(Environment::Essai);
    let c = client(&s, Environment::Essai);
    essai_at(&s, "001.001");
    let (a, answer) = enrol(
        &c,
        &headers(Environment::Essai, Some(DeviceIdState::Unassigned)),
        &michel("Certificat A"),
    )
    .await;
    assert_eq!(answer.next_test_case.unwrap().to_string(), "001.002");
    let device = answer.device_id.unwrap().to_string();
    let url = format!("{}/transaction", s.api_base);
    let mtls = plain_client(&s, Some(a.identity()));
    let (receipt, actu) = transaction(&a, "0000000080");
    let body = json!({ "reqTrans": { "transActu": receipt } }).to_string();
    let h = |tc: &str| {
        replace(
            replace(
                headers_for(&a, &device, std::slice::from_ref(&actu)),
                "ENVIRN",
                Some("ESSAI"),
            ),
            "CASESSAI",
            Some(tc),
        )
    };

    // 003.001 asks for an addition paid later (ADDI, SOB): a closing receipt is refused.
    essai_at(&s, "003.001");
    let (status, answer) = post(&mtls, &url, &h("003.001"), &body).await;
    assert_eq!(status, 400, "{answer}");
    let errors = answer["retourTrans"]["retourTransActu"]["listErr"]
        .as_array()
        .unwrap();
    assert_eq!(errors[0]["id"], "JW00B999435E", "{answer}");
    assert_eq!(errors[0]["codRetour"], "93");
    assert_eq!(errors[0]["noTrans"], "0000000080");
    let mess = errors[0]["mess"].as_str().unwrap();
    assert!(
        mess.contains("typTrans") && mess.contains("RFER ≠ ADDI"),
        "{answer}"
    );
    assert_eq!(answer["retourTrans"]["casEssai"], "003.001");
    assert_eq!(
        s.authority
            .registry()
            .transaction_count(Environment::Essai)
            .unwrap(),
        0
    );

    // Step 029.001 is a closing receipt: accepted, recorded, and 030.001 comes next.
    essai_at(&s, "029.001");
    let (status, answer) = post(&mtls, &url, &h("029.001"), &body).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["retourTrans"]["casEssai"], "030.001");
    assert_eq!(
        s.authority
            .registry()
            .transaction_count(Environment::Essai)
            .unwrap(),
        1
    );

    // The print-medium digit must be the medium's: paper is 0.
    let (status, answer) = post(&mtls, &url, &h("030.201"), &body).await;
    assert_eq!(status, 400, "{answer}");
    let mess = answer["retourTrans"]["retourTransActu"]["listErr"][0]["mess"]
        .as_str()
        .unwrap();
    assert!(
        mess.contains("CASESSAI") && mess.contains("030.001"),
        "{answer}"
    );
}
