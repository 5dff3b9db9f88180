//! The model written and read back, each single defect found with its id, and the same for any
//! generated transaction.

use proptest::prelude::*;
use serde_json::{Value, json};

use super::*;

fn restaurant_sale() -> Sale {
    Sale::builder(
        SectorBlock::restaurant(ServiceType::Table, 2),
        "0000000123".parse().unwrap(),
        "Resto Chez Michel",
        "20261203121500".parse().unwrap(),
        UtcMark::EasternStandard,
        "ER0001".parse().unwrap(),
        TaxNumbers {
            gst: "567891234RT0001".parse().unwrap(),
            qst: "5678912340TQ0001".parse().unwrap(),
        },
        TransactionType::ClosingReceipt,
    )
    .item(Item::new(
        Quantity::ONE,
        "Poutine",
        Amount::from_cents(1200).unwrap(),
        TaxCode::Fp,
        Activity::Restaurant,
    ))
    .amounts(Amounts {
        before_tax: Amount::from_cents(1200).unwrap(),
        gst: Amount::from_cents(60).unwrap(),
        qst: Amount::from_cents(120).unwrap(),
        after_tax: Amount::from_cents(1380).unwrap(),
        ..Amounts::default()
    })
    .payment(PaymentMode::Credit)
    .document_address(DocumentAddress {
        civic_number: "100".into(),
        postal_code: "H2X1Y4".into(),
    })
    .build(Checks::default().with_sums())
    .unwrap()
}

fn signed(sale: Sale) -> Transaction {
    sale.signed(
        Signatures {
            made_at: "20261203121501".parse().unwrap(),
            actu: format!("{}==", "A".repeat(86)).parse().unwrap(),
            preced: SignatureText::first(),
        },
        "9a1b2c3d4e5f60718293a4b5c6d7e8f901234567",
        SoftwareBlock {
            srs_id: "0000000000001FF2".parse().unwrap(),
            version_id: "00000000000045D6".parse().unwrap(),
            certification_code: "FOB201999999".parse().unwrap(),
            partner_id: "0000000000001FFF".parse().unwrap(),
            version: "1.2.3".parse().unwrap(),
            parent_version: "1.2.2".parse().unwrap(),
        },
    )
}

#[test]
fn a_transaction_is_written_as_the_guide_shows_and_read_back() {
    let t = signed(restaurant_sale());
    let json = t.to_json();
    assert_eq!(json["mont"]["TPS"], "+000000000.60");
    assert_eq!(json["items"][0]["qte"], "+00001.00");
    assert_eq!(
        json["sectActi"],
        json!({"abrvt": "RBC", "typServ": "TBL", "nbClint": "002"})
    );
    assert_eq!(json["utc"], "-05:00N");
    assert!(json.get("refs").is_none(), "an empty array is omitted");
    assert!(json["items"][0].get("preci").is_none());
    assert!(
        json.as_object().unwrap().values().all(|v| !v.is_number()),
        "every value a string"
    );
    assert_eq!(
        read_transaction(&json, "transActu", Checks::default()),
        Ok(t.clone())
    );
    let body = request_body(Some(&t), &[]);
    let read = read_request(&body, Checks::default()).unwrap();
    assert_eq!(read.current, Some(Ok(t)));
}

/// Sets (or removes, with `None`) the value at a JSON pointer.
fn with(mut json: Value, pointer: &str, value: Option<Value>) -> Value {
    let (parent, key) = pointer.rsplit_once('/').unwrap();
    let target = json.pointer_mut(parent).unwrap();
    match (target, value) {
        (Value::Object(m), Some(v)) => {
            m.insert(key.to_owned(), v);
        }
        (Value::Object(m), None) => {
            m.remove(key);
        }
        (Value::Array(a), Some(v)) => a[key.parse::<usize>().unwrap()] = v,
        (Value::Array(a), None) => {
            a.remove(key.parse::<usize>().unwrap());
        }
        _ => panic!("{pointer}"),
    }
    json
}

/// Each single defect is found, with the id WEB-SRM answers for it, at its place.
#[test]
fn each_defect_is_found_with_its_id() {
    let good = signed(restaurant_sale()).to_json();
    let cases: &[(&str, Option<Value>, u16, &str)] = &[
        (
            "/datTrans",
            Some(json!("20260231120000")),
            408,
            "transActu/datTrans",
        ),
        (
            "/datTrans",
            Some(json!("20181231120000")),
            408,
            "transActu/datTrans",
        ),
        (
            "/noTrans",
            Some(json!("00000000001")),
            406,
            "transActu/noTrans",
        ),
        ("/noTrans", Some(json!("--")), 406, "transActu/noTrans"),
        ("/mont/TPS", Some(json!("0.25")), 411, "transActu/mont/TPS"),
        ("/mont/TPS", Some(json!(0.25)), 411, "transActu/mont/TPS"),
        ("/typTrans", Some(json!("RRPR")), 413, "transActu/typTrans"),
        ("/modPai", Some(json!("VIS")), 414, "transActu/modPai"),
        ("/modImpr", Some(json!("PDF")), 415, "transActu/modImpr"),
        ("/modTrans", Some(json!("TST")), 416, "transActu/modTrans"),
        ("/formImpr", Some(json!("FAX")), 427, "transActu/formImpr"),
        ("/utc", Some(json!("-05:00")), 423, "transActu/utc"),
        (
            "/relaCommer",
            Some(json!("C2C")),
            461,
            "transActu/relaCommer",
        ),
        (
            "/commerElectr",
            Some(json!("Y")),
            447,
            "transActu/commerElectr",
        ),
        (
            "/emprCertifSEV",
            Some(json!("abc")),
            422,
            "transActu/emprCertifSEV",
        ),
        (
            "/signa/actu",
            Some(json!("short")),
            417,
            "transActu/signa/actu",
        ),
        (
            "/sectActi/abrvt",
            Some(json!("BAR")),
            405,
            "transActu/sectActi/abrvt",
        ),
        (
            "/sectActi/typServ",
            Some(json!("DRV")),
            455,
            "transActu/sectActi/typServ",
        ),
        (
            "/sectActi/nbClint",
            Some(json!("000")),
            458,
            "transActu/sectActi/nbClint",
        ),
        (
            "/sectActi/noTabl",
            Some(json!("1")),
            456,
            "transActu/sectActi/noTabl",
        ),
        (
            "/items/0/qte",
            Some(json!("1")),
            409,
            "transActu/items[0]/qte",
        ),
        (
            "/items/0/tax",
            Some(json!("TPS")),
            412,
            "transActu/items[0]/tax",
        ),
        (
            "/items/0/descr",
            Some(json!("P")),
            410,
            "transActu/items[0]/descr",
        ),
        (
            "/items/0/acti",
            Some(json!("TRP")),
            454,
            "transActu/items[0]/acti",
        ),
        (
            "/items/0/acti",
            Some(json!("SOB")),
            550,
            "transActu/items[0]/acti",
        ),
        (
            "/nomMandt",
            Some(json!(" Resto")),
            468,
            "transActu/nomMandt",
        ),
        ("/nomMandt", Some(json!("")), 407, "transActu/nomMandt"),
        (
            "/docAdr/docCp",
            Some(json!("H2X 1Y4")),
            448,
            "transActu/docAdr/docCp",
        ),
        (
            "/noTax/noTPS",
            Some(json!("123")),
            71,
            "transActu/noTax/noTPS",
        ),
        (
            "/noTax/noTVQ",
            Some(json!("123")),
            70,
            "transActu/noTax/noTVQ",
        ),
        ("/noDossFO", None, 466, "transActu/noDossFO"),
        ("/emprCertifSEV", None, 422, "transActu/emprCertifSEV"),
        ("/mont", None, 305, "transActu/mont"),
        ("/mont/apresTax", None, 305, "transActu/mont/apresTax"),
        ("/items", Some(json!([])), 305, "transActu/items"),
        ("/extra", Some(json!("x")), 300, "transActu/extra"),
        (
            "/items/0/prix",
            Some(json!({"v": "1"})),
            308,
            "transActu/items[0]/prix",
        ),
        ("/modPai", Some(json!("SOB")), 505, "transActu/modPai"),
        ("/modImpr", Some(json!("PSP")), 528, "transActu/modPai"),
        (
            "/mont/ajus",
            Some(json!("-000000000.80")),
            538,
            "transActu/mont",
        ),
        (
            "/mont/versActu",
            Some(json!("+000000013.80")),
            532,
            "transActu/mont",
        ),
        (
            "/mont/pourb",
            Some(json!("+000000002.00")),
            529,
            "transActu/nomUtil",
        ),
        (
            "/mont/apresTax",
            Some(json!("+000000013.81")),
            523,
            "transActu/mont/apresTax",
        ),
        ("/sectActi/typServ", None, 537, "transActu/sectActi"),
        (
            "/refs",
            Some(
                json!([{"noTrans": "0000000123", "datTrans": "20261203121500", "avantTax": "+000000012.00"}]),
            ),
            502,
            "transActu/refs[0]",
        ),
    ];
    for (pointer, value, id, path) in cases {
        let bad = with(good.clone(), pointer, value.clone());
        let found = read_transaction(&bad, "transActu", Checks::default().with_sums())
            .expect_err(&format!("{pointer} = {value:?} is refused"));
        assert!(
            found
                .iter()
                .any(|f| f.id.number() == *id && f.path == *path),
            "{pointer} = {value:?}: expected {id} at {path}, found {found:?}"
        );
    }
    // Electronic commerce paid in cash.
    let bad = with(
        with(good.clone(), "/commerElectr", Some(json!("O"))),
        "/modPai",
        Some(json!("ARG")),
    );
    let found = read_transaction(&bad, "transActu", Checks::default()).unwrap_err();
    assert_eq!(found[0].id.number(), 548, "{found:?}");
    // An addition paid by card.
    let bad = with(good, "/typTrans", Some(json!("ADDI")));
    let found = read_transaction(&bad, "transActu", Checks::default()).unwrap_err();
    assert_eq!(found[0].id.number(), 504, "{found:?}");
}

#[test]
fn a_request_needs_a_transaction_and_a_batch_older_than_the_current_one() {
    let t = signed(restaurant_sale());
    let found = read_request(&json!({"reqTrans": {}}), Checks::default()).unwrap_err();
    assert_eq!(found[0].id.number(), 317);
    let found = read_request(&json!({"reqCertif": {}}), Checks::default()).unwrap_err();
    assert_eq!(
        found.iter().map(|f| f.id.number()).collect::<Vec<_>>(),
        [314, 315]
    );
    let read = read_request(
        &request_body(Some(&t), std::slice::from_ref(&t)),
        Checks::default(),
    )
    .unwrap();
    let [Err(found)] = read.batch.as_slice() else {
        panic!("{read:?}")
    };
    assert_eq!(
        (found[0].id.number(), found[0].path.as_str()),
        (527, "transLot[0]/datTrans")
    );
    let mut older = t.clone();
    older.sale.date = "20261203110000".parse().unwrap();
    let read = read_request(&request_body(Some(&t), &[older.clone()]), Checks::default()).unwrap();
    assert_eq!(read.batch, vec![Ok(older)]);
}

#[test]
fn values_keep_their_exact_forms() {
    for (text, cents) in [
        ("+000000000.00", 0),
        ("-000000012.34", -1234),
        ("+999999999.99", 99_999_999_999),
    ] {
        let a: Amount = text.parse().unwrap();
        assert_eq!((a.cents(), a.to_string().as_str()), (cents, text));
    }
    for bad in [
        "+00000000.00",
        "000000000.000",
        "+000000000,00",
        "+0000000a0.00",
        "++00000000.00",
    ] {
        assert!(bad.parse::<Amount>().is_err(), "{bad}");
    }
    assert_eq!("-00002.50".parse::<Quantity>().unwrap().hundredths(), -250);
    assert!("20240229235959".parse::<Moment>().is_ok(), "a leap day");
    assert!("20250229000000".parse::<Moment>().is_err());
    assert!("20261203246000".parse::<Moment>().is_err());
    assert!("Café du coin".parse::<TransactionNumber>().is_err());
    assert!(TextRule::NAME.accepts("Café Délice & fils"));
    assert!(!TextRule::NAME.accepts("Tab\there"));
    assert!(TextRule::DESCRIPTION.accepts("km@1,75 $ / 2"));
}

fn amount() -> impl Strategy<Value = Amount> {
    (-Amount::MAX_CENTS..=Amount::MAX_CENTS).prop_map(|c| Amount::from_cents(c).unwrap())
}

fn moment() -> impl Strategy<Value = Moment> {
    (2019i32..2100, 1u8..=12, 1u8..=28, 0u8..24, 0u8..60, 0u8..60).prop_map(
        |(y, mo, d, h, mi, s)| {
            let date =
                time::Date::from_calendar_date(y, time::Month::try_from(mo).unwrap(), d).unwrap();
            Moment::new(time::PrimitiveDateTime::new(
                date,
                time::Time::from_hms(h, mi, s).unwrap(),
            ))
            .unwrap()
        },
    )
}

fn one_of<T: Copy + std::fmt::Debug + 'static>(all: &'static [T]) -> impl Strategy<Value = T> {
    proptest::sample::select(all)
}

prop_compose! {
    fn precision()(
        quantity in proptest::option::of((-Quantity::MAX_HUNDREDTHS..=Quantity::MAX_HUNDREDTHS).prop_map(|q| Quantity::from_hundredths(q).unwrap())),
        description in "[a-z][a-zA-Zàé@:/ ]{0,20}[a-z]",
        unit_price in proptest::option::of(amount()),
        price in proptest::option::of(amount()),
        tax in proptest::option::of(one_of(TaxCode::ALL)),
        activity in one_of(Activity::ALL),
    ) -> Precision {
        Precision { quantity, description, unit_price, price, tax, activity }
    }
}

prop_compose! {
    fn item()(
        quantity in (-Quantity::MAX_HUNDREDTHS..=Quantity::MAX_HUNDREDTHS).prop_map(|q| Quantity::from_hundredths(q).unwrap()),
        description in "[A-Z][A-Za-zÀ-ÏÑ-ÖØ-Ýà-öø-ýÿ0-9 ]{0,30}[a-z]",
        unit_price in proptest::option::of(amount()),
        price in amount(),
        tax in one_of(TaxCode::ALL),
        activity in one_of(Activity::ALL),
        precisions in proptest::collection::vec(precision(), 0..3),
    ) -> Item {
        Item { quantity, description, unit_price, price, tax, activity, precisions }
    }
}

prop_compose! {
    fn transaction()(
        items in proptest::collection::vec(item(), 1..4),
        amounts in (amount(), amount(), amount(), amount(), proptest::option::of(amount()), proptest::option::of(amount()), proptest::option::of(amount()), proptest::option::of(amount())),
        date in moment(),
        refs in proptest::collection::vec((("[0-9]{1,10}"), moment(), amount()), 0..3),
        kind in one_of(TransactionType::ALL),
        payment in one_of(PaymentMode::ALL),
        print_mode in one_of(PrintMode::ALL),
        print_format in one_of(PrintFormat::ALL),
        utc in one_of(UtcMark::ALL),
        service in proptest::option::of(one_of(ServiceType::ALL)),
        customers in proptest::option::of(1u16..=999),
        user in proptest::option::of("[A-Za-z][A-Za-z ]{0,20}[a-z]"),
    ) -> Transaction {
        let mut sale = restaurant_sale();
        sale.items = items;
        sale.amounts = Amounts {
            before_tax: amounts.0, gst: amounts.1, qst: amounts.2, after_tax: amounts.3,
            adjustment: amounts.4, due: amounts.5, tip: amounts.6, balance: amounts.7,
            ..Amounts::default()
        };
        sale.date = date;
        sale.references = refs.into_iter().map(|(n, date, before_tax)| Reference { number: n.parse().unwrap(), date, before_tax }).collect();
        sale.kind = kind;
        sale.payment = payment;
        sale.print_mode = print_mode;
        sale.print_format = print_format;
        sale.utc = utc;
        sale.sector.service = service;
        sale.sector.customers = customers;
        sale.user_name = user;
        signed(sale)
    }
}

proptest! {
    /// Any transaction the model can hold is written and read back as itself, or refused only
    /// by coherence rules (never by the form of what websrm wrote).
    #[test]
    fn any_transaction_round_trips(t in transaction()) {
        let json = t.to_json();
        match read_transaction(&json, "transActu", Checks::default()) {
            Ok(read) => prop_assert_eq!(read, t),
            Err(found) => {
                for f in &found {
                    prop_assert!(f.id.number() >= 500 || f.id.number() == 454 || f.id.number() == 445, "{:?}", f);
                }
                // The form is right: the reader alone gives the transaction back.
                let mut reader = read::Reader::default();
                prop_assert_eq!(reader.transaction(&json, "transActu"), Some(t));
            }
        }
    }

    /// Whatever JSON comes, reading never panics and every refusal names an id and a place.
    #[test]
    fn reading_never_panics(pointer in proptest::sample::select(vec!["/mont/TPS", "/items/0/qte", "/datTrans", "/sectActi", "/signa", "/items"]), junk in proptest::prop_oneof![Just(json!(null)), Just(json!(1)), Just(json!([])), Just(json!({})), "\\PC{0,20}".prop_map(Value::String)]) {
        let bad = with(signed(restaurant_sale()).to_json(), pointer, Some(junk));
        if let Err(found) = read_transaction(&bad, "transActu", Checks::default()) {
            prop_assert!(!found.is_empty());
            for f in found {
                prop_assert!(f.path.starts_with("transActu"));
            }
        }
    }
}

/// The fuzzing seed of a full request (a restaurant's closing receipt now, a taxi's training
/// receipt in the batch) reads without a finding, sums included.
#[test]
fn the_full_request_seed_reads_whole() {
    let body: Value = serde_json::from_str(include_str!(
        "../../../../fuzz/seeds/request_body/transaction-restaurant.json"
    ))
    .unwrap();
    let read = read_request(&body, Checks::default().with_sums()).unwrap();
    let current = read.current.unwrap().unwrap();
    assert_eq!(current.sale.references.len(), 1);
    let [Ok(taxi)] = read.batch.as_slice() else {
        panic!("{:?}", read.batch)
    };
    assert_eq!(taxi.sale.sector, SectorBlock::transport());
    assert_eq!(taxi.sale.mode, TransmissionMode::Training);
    assert_eq!(taxi.sale.amounts.tip, Amount::from_cents(300));
}

/// A sale as a POS writes it (the example the docs and the CLI use) reads without the fields
/// the signer fills; a defect gets the id the authority would answer.
#[test]
fn a_sale_reads_without_what_the_signer_fills() {
    let example: Value = serde_json::from_str(include_str!(
        "../../../../docs/examples/transactions/restaurant-closing-receipt.json"
    ))
    .unwrap();
    assert!(example.get("signa").is_none() && example.get("SEV").is_none());
    let sale = read_sale(&example, Checks::default().with_sums()).unwrap();
    assert_eq!(sale.number.as_str(), "0000000123");
    assert_eq!(sale.references.len(), 1);
    let mut bad = example;
    bad["noTrans"] = Value::String("00000001230".into());
    let found = read_sale(&bad, Checks::default()).unwrap_err();
    assert_eq!(found[0].id.to_string(), "JW00B999406E", "{found:?}");
}

/// The QR code's plaintext has table 42's thirteen fields at their lengths (329 characters),
/// and its URL is percent-encoded on the environment's base.
#[test]
fn the_qr_code_holds_the_thirteen_fields_at_their_lengths() {
    let body: Value = serde_json::from_str(include_str!(
        "../../../../fuzz/seeds/request_body/transaction-restaurant.json"
    ))
    .unwrap();
    let read = read_request(&body, Checks::default()).unwrap();
    let t = read.current.unwrap().unwrap();
    let text = qr_plaintext(&t);
    assert_eq!(text.len(), QR_PLAINTEXT_LEN);
    assert!(text.starts_with(&t.thumbprint));
    assert_eq!(&text[40..54], t.sale.date.to_string());
    assert_eq!(&text[54..67], t.sale.amounts.gst.to_string());
    assert_eq!(
        &text[93..106],
        t.sale.amounts.after_tax.to_string(),
        "mtdu absent: apresTax again"
    );
    assert_eq!(&text[137..140], t.sale.print_mode.code());
    assert_eq!(&text[143..231], t.signatures.actu.as_str());
    assert_eq!(&text[319..], format!("{:=>10}", t.sale.number.as_str()));
    assert_eq!(
        qr_url(websrm_domain::Environment::Dev, "ab+/c=="),
        "https://cnfr.qr.mev-web.ca?f=ab%2B%2Fc%3D%3D"
    );
    assert_eq!(
        qr_url(websrm_domain::Environment::Prod, "x"),
        "https://qr.mev-web.ca?f=x"
    );
}

/// Table 43's mentions, in order, for a closing receipt and its variations.
#[test]
fn a_bill_bears_table_43s_mentions_in_order() {
    let body: Value = serde_json::from_str(include_str!(
        "../../../../fuzz/seeds/request_body/transaction-restaurant.json"
    ))
    .unwrap();
    let sale = read_request(&body, Checks::default())
        .unwrap()
        .current
        .unwrap()
        .unwrap()
        .sale;
    let texts = |sale: &Sale, context: &BillContext| -> Vec<(u8, String)> {
        mentions(sale, context)
            .into_iter()
            .map(|m| (m.order, m.text))
            .collect()
    };
    let plain = BillContext::default();
    assert_eq!(
        texts(&sale, &plain),
        [
            (1, "CARTE DE CRÉDIT".to_owned()),
            (6, "PAIEMENT REÇU".to_owned())
        ]
    );
    let mut duplicate = sale.clone();
    duplicate.print_mode = PrintMode::Duplicate;
    duplicate.mode = TransmissionMode::Training;
    let offline = BillContext {
        communication_problem: true,
        ..plain
    };
    assert_eq!(
        texts(&duplicate, &offline),
        [
            (1, "CARTE DE CRÉDIT".to_owned()),
            (3, "*** DOCUMENT DE FORMATION ***".to_owned()),
            (4, "*** COPIE DU COMMERÇANT ***".to_owned()),
            (5, "NE PAS REMETTRE AU CLIENT".to_owned()),
            (6, "PAIEMENT REÇU".to_owned()),
            (10, "PROBLÈME DE COMMUNICATION".to_owned()),
        ]
    );
    let mut revised = sale.clone();
    revised.kind = TransactionType::Addition;
    revised.payment = PaymentMode::Sob;
    let third = BillContext {
        earlier_in_sequence: Some(2),
        ..plain
    };
    assert_eq!(
        texts(&revised, &third),
        [
            (6, "FACTURE RÉVISÉE".to_owned()),
            (7, "Remplace 2 factures".to_owned())
        ]
    );
    let mut credit = sale;
    credit.amounts.after_tax = Amount::from_cents(-1380).unwrap();
    assert!(texts(&credit, &plain).contains(&(6, "NOTE DE CRÉDIT".to_owned())));
}

/// Every example of the docs (one per document type, both sectors) reads as a POS writes it,
/// sums included, and bears the mentions its type calls for.
#[test]
fn every_example_transaction_reads_whole() {
    let dir =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/examples/transactions");
    let mut read = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let value: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let sale = read_sale(&value, Checks::default().with_sums())
            .unwrap_or_else(|found| panic!("{}: {found:?}", path.display()));
        let texts: Vec<String> = mentions(&sale, &BillContext::default())
            .into_iter()
            .map(|m| m.text)
            .collect();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let expected: &[&str] = match name.as_str() {
            "restaurant-addition.json" => &[],
            "restaurant-closing-receipt.json" => &["CARTE DE CRÉDIT", "PAIEMENT REÇU"],
            "restaurant-credit-note.json" => &["CARTE DE CRÉDIT", "NOTE DE CRÉDIT"],
            "restaurant-reproduction.json" => &["CARTE DE CRÉDIT", "REPRODUCTION", "PAIEMENT REÇU"],
            "transport-closing-receipt.json" => &["CARTE DE DÉBIT", "PAIEMENT REÇU"],
            other => panic!("{other}: an example without expected mentions"),
        };
        assert_eq!(texts, expected, "{name}");
        read += 1;
    }
    assert_eq!(read, 5);
}
