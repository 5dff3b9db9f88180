use serde_json::json;

use super::*;
use websrm_domain::published::MICHEL_UNTEL;

const RBC: &[Sector] = &[Sector::Restaurant];
const TRP: &[Sector] = &[Sector::Transport];

fn names(plan: &Plan) -> Vec<String> {
    plan.steps()
        .iter()
        .map(|s| s.test_case().to_string())
        .collect()
}

#[test]
fn each_mode_and_sector_has_its_run_in_the_guides_order() {
    // SRS mode, restaurants: 001 (eight steps) then 002 without its transportation step.
    let srs = plan(ProductMode::Srs, RBC);
    let all = names(&srs);
    assert_eq!(all[0], "001.001");
    assert_eq!(&all[7..9], ["001.008", "002.001"]);
    assert!(!all.contains(&"002.005".to_owned()), "002.005 is TRP only");
    assert!(!all.iter().any(|s| s.starts_with('5') || s.starts_with('6')));
    assert!(all.contains(&"103.006".to_owned()) && !all.contains(&"103.001".to_owned()));
    assert_eq!(all.last().unwrap(), "105.001");

    // Server mode, transportation: 500, 501 without step 08, 570, 502 with step 05, no
    // restaurant cases, and 512.
    let server = plan(ProductMode::Server, TRP);
    let all = names(&server);
    assert_eq!(server.first().test_case().to_string(), "500.001");
    assert_eq!(
        server.cases()[..4],
        [500, 501, 570, 502],
        "{:?}",
        server.cases()
    );
    assert!(!all.contains(&"501.008".to_owned()));
    assert!(all.contains(&"502.005".to_owned()) && all.contains(&"512.001".to_owned()));
    let restaurant_only = [
        519, 520, 521, 522, 524, 526, 532, 533, 534, 535, 536, 537, 605,
    ];
    assert!(
        !server
            .cases()
            .iter()
            .any(|c| *c < 500 || restaurant_only.contains(c))
    );
    assert!(all.contains(&"507.001".to_owned()) && !all.contains(&"507.002".to_owned()));

    // Both modes: 500 first, then each block's SRS cases before its server cases.
    let both = plan(ProductMode::Both, &[Sector::Restaurant, Sector::Transport]);
    let cases = both.cases();
    let at = |c: u16| cases.iter().position(|x| *x == c).unwrap();
    assert_eq!(cases[0], 500);
    assert!(at(1) < at(501) && at(501) < at(2));
    assert!(at(2) < at(570) && at(570) < at(502) && at(502) < at(3));
    assert!(at(37) < at(503) && at(537) < at(103) && at(105) < at(603));
    // Every step of both sectors is there once.
    let all = names(&both);
    let mut unique = all.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), all.len());
    assert!(all.contains(&"001.008".to_owned()) && all.contains(&"002.005".to_owned()));
}

#[test]
fn a_failure_sends_the_run_back_to_its_block_and_the_end_is_999() {
    let run = plan(ProductMode::Srs, RBC);
    let step = |tc: &str| run.find(tc.parse().unwrap()).unwrap();
    assert_eq!(
        run.restart(step("001.005")).test_case().to_string(),
        "001.001"
    );
    assert_eq!(
        run.restart(step("002.004")).test_case().to_string(),
        "002.001"
    );
    assert_eq!(
        run.restart(step("010.013")).test_case().to_string(),
        "003.001"
    );
    assert_eq!(
        run.restart(step("105.001")).test_case().to_string(),
        "103.006"
    );
    assert_eq!(
        run.next(step("001.008")).unwrap().test_case().to_string(),
        "002.001"
    );
    // Case 010 starts at step 08; 009 has no step 04.
    assert_eq!(
        run.next(step("009.003")).unwrap().test_case().to_string(),
        "009.005"
    );
    assert_eq!(
        run.next(step("009.009")).unwrap().test_case().to_string(),
        "010.008"
    );
    assert!(run.next(step("105.001")).is_none());
    assert_eq!(FINISHED.to_string(), "999.999");
    // The print-medium digit does not change which step is named.
    assert_eq!(run.find("011.201".parse().unwrap()), Some(step("011.001")));
    assert!(run.find("500.001".parse().unwrap()).is_none());
    assert_eq!(step_of("511.002".parse().unwrap()).unwrap().number(), 2);
}

fn headers(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
        .collect()
}

fn subject(sn: &str, o: &str, cn: &str) -> Vec<(&'static str, String)> {
    vec![("SN", sn.into()), ("O", o.into()), ("CN", cn.into())]
}

#[test]
fn certificate_steps_check_request_device_and_subject() {
    let run = plan(ProductMode::Both, RBC);
    let step = |tc: &str| run.find(tc.parse().unwrap()).unwrap();
    let body = json!({"reqCertif": {"modif": "AJO", "csr": "…"}});
    let h = headers(&[("APPRLINIT", "SEV"), ("IDAPPRL", "0000-0000-0000")]);
    let good = subject(
        "Certificat A",
        "RBC-D8T8-W8W8",
        MICHEL_UNTEL.identification_number,
    );
    let observed = |tc: &str, h, b, s| {
        Observed::new(RequestKind::Enrolment, tc.parse().unwrap(), h, b, RBC).with_subject(s)
    };
    assert_eq!(
        step("001.001").examine(&observed("001.001", &h, &body, &good)),
        []
    );

    // Another nickname, a server's code, a device that has its identifier already.
    let wrong = subject(
        "Certificat B",
        "FOB-B8T8-W8W8",
        MICHEL_UNTEL.identification_number,
    );
    let found = step("001.001").examine(&observed("001.001", &h, &body, &wrong));
    let fields: Vec<&str> = found.iter().map(|d| d.field.as_str()).collect();
    assert_eq!(fields, ["SN", "O"]);
    assert_eq!(
        found[0].to_string(),
        "SN: Certificat A expected, Certificat B found"
    );
    let known = headers(&[("APPRLINIT", "SEV"), ("IDAPPRL", "7654-0955-8558")]);
    let found = step("001.001").examine(&observed("001.001", &known, &body, &good));
    assert_eq!(found[0].field, "IDAPPRL");

    // The server mode's SRS certificates: the administrator's, "avec serveur".
    let server = subject("Certificat A avec serveur", "FOB-B8T8-W8W8", "3601837200");
    assert_eq!(
        step("501.001").examine(&observed("501.001", &h, &body, &server)),
        []
    );
    // 001.007: a server-mode request.
    let srv = headers(&[("APPRLINIT", "SRV")]);
    let d = subject("Certificat D", "FOB-B8T8-W8W8", "3601837200");
    assert_eq!(
        step("001.007").examine(&observed("001.007", &srv, &body, &d)),
        []
    );
    let found = step("001.007").examine(&observed("001.007", &h, &body, &d));
    assert_eq!(found[0].field, "APPRLINIT");

    // A replacement sent where a deletion is expected; a medium digit on a certificate.
    let rem = json!({"reqCertif": {"modif": "REM", "csr": "…", "noSerie": "00"}});
    let known_device = headers(&[("APPRLINIT", "SEV"), ("IDAPPRL", "7654-0955-8558")]);
    let o = Observed::new(
        RequestKind::Certificates,
        "001.203".parse().unwrap(),
        &known_device,
        &rem,
        RBC,
    );
    let found: Vec<String> = step("001.003")
        .examine(&o)
        .iter()
        .map(|d| d.field.clone())
        .collect();
    assert_eq!(found, ["modif", "CASESSAI"]);
}

#[test]
fn user_steps_check_the_modification_the_name_and_the_numbers() {
    let run = plan(ProductMode::Server, TRP);
    let step = |tc: &str| run.find(tc.parse().unwrap()).unwrap();
    let h = headers(&[("APPRLINIT", "SEV")]);
    let body = |modif: &str, name: &str| {
        json!({"reqUtil": {"modif": modif, "nomUtil": name,
            "noTax": {"noTPS": "567891234RT0001", "noTVQ": "5678912340TQ0001"}}})
    };
    let o = |tc: &str, h, b| Observed::new(RequestKind::User, tc.parse().unwrap(), h, b, TRP);
    let b = body("AJO", "Michel Untel");
    assert_eq!(step("502.001").examine(&o("502.001", &h, &b)), []);
    let b = body("AJO", "John Smith");
    assert_eq!(
        step("502.003").examine(&o("502.003", &h, &b))[0].field,
        "nomUtil"
    );
    let b = body("SUP", "Michel Untel");
    assert_eq!(
        step("502.003").examine(&o("502.003", &h, &b))[0].field,
        "modif"
    );
    // 570: a server's validation.
    let srv = headers(&[("APPRLINIT", "SRV")]);
    let val = json!({"reqUtil": {"modif": "VAL",
        "noTax": {"noTPS": "567891234RT0001", "noTVQ": "5678912340TQ0001"}}});
    assert_eq!(step("570.001").examine(&o("570.001", &srv, &val)), []);
    let other = json!({"reqUtil": {"modif": "VAL",
        "noTax": {"noTPS": "123456789RT0001", "noTVQ": "1234567890TQ0001"}}});
    assert_eq!(
        step("570.001").examine(&o("570.001", &srv, &other)).len(),
        2
    );
}

#[test]
fn transaction_steps_check_their_values_the_batch_and_the_medium() {
    let run = plan(ProductMode::Srs, RBC);
    let step = |tc: &str| run.find(tc.parse().unwrap()).unwrap();
    let h = headers(&[]);
    let tx = |typ: &str, imp: &str, pai: &str, form: &str| {
        json!({"typTrans": typ, "modImpr": imp, "modPai": pai, "formImpr": form,
            "modTrans": "OPE", "sectActi": {"abrvt": "RBC", "typServ": "TBL"}})
    };
    let o = |tc: &str, b| Observed::new(RequestKind::Transaction, tc.parse().unwrap(), &h, b, RBC);

    let body = json!({"reqTrans": {"transActu": tx("ADDI", "FAC", "SOB", "PAP")}});
    assert_eq!(step("003.001").examine(&o("003.001", &body)), []);
    let found = step("003.002").examine(&o("003.002", &body));
    assert_eq!(found[0].to_string(), "modImpr: RPR expected, FAC found");
    // Electronic: the digit is 2.
    let ele = json!({"reqTrans": {"transActu": tx("ADDI", "FAC", "SOB", "ELE")}});
    assert_eq!(step("003.001").examine(&o("003.201", &ele)), []);
    let found = step("003.001").examine(&o("003.001", &ele));
    assert_eq!(
        found[0].to_string(),
        "CASESSAI: 003.201 expected, 003.001 found"
    );
    // A receipt must refer to its addition.
    let receipt = json!({"reqTrans": {"transActu": tx("RFER", "FAC", "ARG", "PAP")}});
    assert_eq!(
        step("003.003").examine(&o("003.003", &receipt))[0].field,
        "refs"
    );
    // Offline: a batch with the current transaction; 009.005 the batch alone.
    assert_eq!(
        step("009.001").examine(&o("009.001", &receipt))[0].field,
        "transLot"
    );
    let batch = json!({"reqTrans": {"transLot": [tx("RFER", "FAC", "ARG", "PAP"),
        tx("RFER", "FAC", "ARG", "PAP"), tx("RFER", "FAC", "ARG", "PAP")]}});
    assert_eq!(step("009.005").examine(&o("009.005", &batch)), []);
    let with_current = json!({"reqTrans": {
        "transActu": tx("RFER", "FAC", "ARG", "PAP"),
        "transLot": batch["reqTrans"]["transLot"],
    }});
    assert_eq!(
        step("009.005").examine(&o("009.005", &with_current))[0].field,
        "transActu"
    );
    // Training mode; a counter service.
    assert_eq!(
        step("008.001").examine(&o("008.001", &receipt))[0].field,
        "modTrans"
    );
    let found = step("003.011").examine(&o("003.011", &body));
    assert_eq!(
        found[0].to_string(),
        "sectActi.typServ: CMP expected, TBL found"
    );
}

#[test]
fn every_step_has_both_languages_and_one_kind_of_request_per_block() {
    let run = plan(ProductMode::Both, &[Sector::Restaurant, Sector::Transport]);
    for s in run.steps() {
        let (case_en, en) = s.english();
        let (case_fr, fr) = s.french();
        assert!(!case_en.is_empty() && !en.is_empty() && !case_fr.is_empty() && !fr.is_empty());
        let kind = match s.expect() {
            Expect::Certificate { .. } => Block::Certificates,
            Expect::User { .. } => Block::Users,
            Expect::Transaction(_) => Block::Transactions,
            Expect::Document(_) => Block::Documents,
        };
        assert_eq!(kind, s.block(), "{}", s.test_case());
    }
    assert!(run.steps().len() > 250, "{}", run.steps().len());
}
