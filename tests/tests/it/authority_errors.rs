//! One case per error id the authority emits for certificate requests: each request has exactly
//! one defect, and the answer carries that id and its codRetour first.

use rcgen::{CertificateParams, CustomExtension, DistinguishedName, DnType, KeyPair};
use serde_json::json;
use time::OffsetDateTime;
use websrm_tests::websrm_crypto::{Csr, PrivateKey};
use websrm_tests::websrm_domain::{
    DeviceIdState, Environment, ProductIdentity, Sector, Subject, VersionState,
};
use websrm_tests::websrm_registry::NewAudit;
use websrm_tests::websrm_registry::Product;
use websrm_tests::{Served, test_product, websrm_crypto};

use crate::support::*;
use websrm_tests::websrm_domain::published::MICHEL_UNTEL;

fn csr_for(subject: &Subject) -> String {
    Csr::build(subject, &PrivateKey::generate().unwrap())
        .unwrap()
        .to_wire()
}

/// A CSR made by rcgen with exactly these attributes, and key usage with or without
/// non-repudiation.
fn rcgen_csr(attrs: &[(&[u64], &str)], non_repudiation: bool) -> String {
    let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    for (oid, value) in attrs {
        dn.push(DnType::from_oid(oid), *value);
    }
    params.distinguished_name = dn;
    let ku = if non_repudiation {
        vec![0x03, 0x02, 0x06, 0xC0]
    } else {
        vec![0x03, 0x02, 0x07, 0x80]
    };
    params.custom_extensions = vec![CustomExtension::from_oid_content(&[2, 5, 29, 15], ku)];
    Csr::from_der(params.serialize_request(&key).unwrap().der().to_vec()).to_wire()
}

const MICHEL: [(&[u64], &str); 8] = [
    (&[2, 5, 4, 3], MICHEL_UNTEL.identification_number),
    (&[2, 5, 4, 10], "RBC-D8T8-W8W8"),
    (&[2, 5, 4, 4], "Caisse du bar"),
    (&[2, 5, 4, 11], "5678912340TQ0001"),
    (&[2, 5, 4, 42], "ER0001"),
    (&[2, 5, 4, 7], "-05:00"),
    (&[2, 5, 4, 8], "QC"),
    (&[2, 5, 4, 6], "CA"),
];

fn michel_with(index: usize, value: &'static str) -> Vec<(&'static [u64], &'static str)> {
    let mut attrs = MICHEL.to_vec();
    attrs[index].1 = value;
    attrs
}

fn ajo(csr: &str) -> String {
    json!({ "reqCertif": { "modif": "AJO", "csr": csr } }).to_string()
}

fn with_header(
    mut headers: Vec<(String, String)>,
    name: &str,
    value: Option<&str>,
) -> Vec<(String, String)> {
    headers.retain(|(n, _)| n != name);
    if let Some(v) = value {
        headers.push((name.to_owned(), v.to_owned()));
    }
    headers
}

struct Case {
    what: &'static str,
    api: bool,
    headers: Vec<(String, String)>,
    body: String,
    id: &'static str,
    code: &'static str,
}

fn case(
    what: &'static str,
    headers: Vec<(String, String)>,
    body: String,
    id: &'static str,
    code: &'static str,
) -> Case {
    Case {
        what,
        api: false,
        headers,
        body,
        id,
        code,
    }
}

async fn run(s: &Served, api_client: &reqwest::Client, cases: Vec<Case>) {
    let anonymous = plain_client(s, None);
    for c in cases {
        let (client, url) = if c.api {
            (api_client, format!("{}/certificats", s.api_base))
        } else {
            (&anonymous, format!("{}/enrolement", s.enrolment_base))
        };
        let (status, body) = post(client, &url, &c.headers, &c.body).await;
        assert_eq!(status, 400, "{}: {body}", c.what);
        let errors = errors(&body);
        assert_eq!(
            errors.first().map(|(i, r)| (i.as_str(), r.as_str())),
            Some((c.id, c.code)),
            "{}: {body}",
            c.what
        );
        // Errors caused by the software (codRetour 9x) are followed by the companion message.
        if c.code.starts_with('9') {
            assert_eq!(
                errors.last().map(|(i, _)| i.as_str()),
                Some("JW00B999999E"),
                "{}: {body}",
                c.what
            );
        }
        assert!(
            !errors.iter().any(|(i, _)| i == "JW00B999100E"),
            "{}: an unexpected error",
            c.what
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_error_of_the_conformity_service() {
    let s = Served::start(Environment::Dev);
    let now = OffsetDateTime::now_utc();
    // A certificate in force, for the API cases.
    let c = client(&s, Environment::Dev);
    let (held, answer) = enrol(
        &c,
        &headers(Environment::Dev, Some(DeviceIdState::Unassigned)),
        &michel("Caisse principale"),
    )
    .await;
    let device = answer.device_id.unwrap().to_string();
    let api_client = plain_client(&s, Some(held.identity()));
    let serial = held.info.serial.to_string();
    let h = || header_pairs(&device);
    let zeros = || header_pairs("0000-0000-0000");
    let good = csr_for(&michel("Caisse du bar"));
    let rem = |csr: Option<&str>, no_serie: Option<&str>| {
        let mut r = serde_json::Map::new();
        r.insert("modif".into(), json!("REM"));
        if let Some(c) = csr {
            r.insert("csr".into(), json!(c));
        }
        if let Some(n) = no_serie {
            r.insert("noSerie".into(), json!(n));
        }
        json!({ "reqCertif": r }).to_string()
    };
    let api = |what, headers, body, id, code| Case {
        what,
        api: true,
        headers,
        body,
        id,
        code,
    };

    let mut cases = vec![
        // The body and the routing of the URL.
        case(
            "not JSON",
            zeros(),
            "{not json".into(),
            "JW00B999200E",
            "91",
        ),
        // The structure errors of the reference's error guide: 314E a field not the
        // service's, 315E the service's field missing, 316E repeated, 300E and 306E inside it.
        case("no reqCertif", zeros(), "{}".into(), "JW00B999315E", "95"),
        case(
            "two reqCertif",
            zeros(),
            r#"{"reqCertif":{"modif":"AJO","csr":"x"},"reqCertif":{"modif":"AJO","csr":"x"}}"#
                .to_owned(),
            "JW00B999316E",
            "95",
        ),
        case(
            "another top-level field",
            zeros(),
            r#"{"reqCertif":{"modif":"AJO","csr":"x"},"autre":1}"#.to_owned(),
            "JW00B999314E",
            "95",
        ),
        case(
            "a field reqCertif does not hold",
            zeros(),
            json!({"reqCertif": {"modif": "AJO", "csr": good, "codAutori": "D8T8-W8W8"}})
                .to_string(),
            "JW00B999300E",
            "95",
        ),
        case(
            "modif twice",
            zeros(),
            format!(
                r#"{{"reqCertif":{{"modif":"AJO","modif":"AJO","csr":{}}}}}"#,
                serde_json::to_string(&good).unwrap()
            ),
            "JW00B999306E",
            "95",
        ),
        case(
            "no modif",
            zeros(),
            json!({"reqCertif": {"csr": good}}).to_string(),
            "JW00B999304E",
            "95",
        ),
        case(
            "REM on enrolement",
            zeros(),
            rem(Some(&good), Some(&serial)),
            "JW00B999321E",
            "96",
        ),
        case(
            "noSerie on enrolement",
            zeros(),
            json!({"reqCertif": {"modif": "AJO", "csr": good, "noSerie": serial}}).to_string(),
            "JW00B999309E",
            "95",
        ),
        case(
            "no csr on enrolement",
            zeros(),
            json!({"reqCertif": {"modif": "AJO"}}).to_string(),
            "JW00B999320E",
            "95",
        ),
        api("AJO on certificats", h(), ajo(&good), "JW00B999323E", "96"),
        api(
            "no noSerie on certificats",
            h(),
            rem(Some(&good), None),
            "JW00B999322E",
            "95",
        ),
        api(
            "REM without csr",
            h(),
            rem(None, Some(&serial)),
            "JW00B999310E",
            "95",
        ),
        api(
            "SUP with csr",
            h(),
            json!({"reqCertif": {"modif": "SUP", "csr": good, "noSerie": serial}}).to_string(),
            "JW00B999311E",
            "95",
        ),
        api(
            "noSerie with colons",
            h(),
            rem(Some(&good), Some("12:34:56")),
            "JW00B999436E",
            "96",
        ),
        api(
            "zero IDAPPRL on certificats",
            zeros(),
            rem(Some(&good), Some(&serial)),
            "JW00B999047E",
            "94",
        ),
        // The headers.
        case(
            "repeated header",
            {
                let mut v = zeros();
                v.push(("ENVIRN".into(), "DEV".into()));
                v
            },
            ajo(&good),
            "JW00B999313E",
            "94",
        ),
        case(
            "header of another version",
            {
                let mut v = zeros();
                v.push(("CODAUTORSEV".into(), "D8T8-W8W8".into()));
                v
            },
            ajo(&good),
            "JW00B999328E",
            "94",
        ),
        case(
            "APPRLINIT invalid",
            with_header(zeros(), "APPRLINIT", Some("POS")),
            ajo(&good),
            "JW00B999460E",
            "94",
        ),
        case(
            "ENVIRN of production",
            with_header(zeros(), "ENVIRN", Some("PROD")),
            ajo(&good),
            "JW00B999012E",
            "94",
        ),
        case(
            "ENVIRN missing",
            with_header(zeros(), "ENVIRN", None),
            ajo(&good),
            "JW00B999012E",
            "94",
        ),
        case(
            "CASESSAI malformed",
            with_header(zeros(), "CASESSAI", Some("1.1")),
            ajo(&good),
            "JW00B999425E",
            "94",
        ),
        case(
            "CASESSAI of another request type",
            with_header(zeros(), "CASESSAI", Some("002.001")),
            ajo(&good),
            "JW00B999015E",
            "94",
        ),
        case(
            "IDAPPRL malformed",
            with_header(zeros(), "IDAPPRL", Some("12")),
            ajo(&good),
            "JW00B999047E",
            "94",
        ),
        case(
            "IDAPPRL missing for an SRS",
            with_header(zeros(), "IDAPPRL", None),
            ajo(&good),
            "JW00B999401E",
            "94",
        ),
        case(
            "IDAPPRL unknown",
            header_pairs("1111-2222-3333"),
            ajo(&good),
            "JW00B999047E",
            "94",
        ),
        case(
            "IDAPPRL on a server's request",
            with_header(zeros(), "APPRLINIT", Some("SRV")),
            ajo(&good),
            "JW00B999061E",
            "94",
        ),
        case(
            "IDSEV missing",
            with_header(zeros(), "IDSEV", None),
            ajo(&good),
            "JW00B999001E",
            "94",
        ),
        case(
            "IDVERSI invalid",
            with_header(zeros(), "IDVERSI", Some("xyz")),
            ajo(&good),
            "JW00B999329E",
            "94",
        ),
        case(
            "CODCERTIF invalid",
            with_header(zeros(), "CODCERTIF", Some("12345")),
            ajo(&good),
            "JW00B999025E",
            "94",
        ),
        case(
            "CODCERTIF not valid in DEV",
            with_header(zeros(), "CODCERTIF", Some("ABC123456789")),
            ajo(&good),
            "JW00B999025E",
            "94",
        ),
        case(
            "IDPARTN missing",
            with_header(zeros(), "IDPARTN", None),
            ajo(&good),
            "JW00B999003E",
            "94",
        ),
        case(
            "VERSI malformed",
            with_header(zeros(), "VERSI", Some("1.0.0 beta")),
            ajo(&good),
            "JW00B999440E",
            "94",
        ),
        case(
            "VERSIPARN missing",
            with_header(zeros(), "VERSIPARN", None),
            ajo(&good),
            "JW00B999444E",
            "94",
        ),
        case(
            "VERSIPARN of another version",
            with_header(zeros(), "VERSIPARN", Some("0.9")),
            ajo(&good),
            "JW00B999042E",
            "94",
        ),
        case(
            "VERSI no version has",
            with_header(zeros(), "VERSI", Some("9.9")),
            ajo(&good),
            "JW00B999442E",
            "94",
        ),
        case(
            "unknown SRS of a known partner",
            with_header(zeros(), "IDSEV", Some("00000000000000FF")),
            ajo(&good),
            "JW00B999001E",
            "94",
        ),
        case(
            "unknown partner",
            with_header(zeros(), "IDPARTN", Some("00000000000000FF")),
            ajo(&good),
            "JW00B999003E",
            "94",
        ),
        case(
            "unknown version of a known SRS",
            with_header(zeros(), "IDVERSI", Some("00000000000000FF")),
            ajo(&good),
            "JW00B999002E",
            "94",
        ),
        case(
            "zero IDVERSI with a test code",
            with_header(zeros(), "IDVERSI", Some("0000000000000000")),
            ajo(&good),
            "JW00B999518E",
            "94",
        ),
        // The CSR.
        case(
            "csr not Base64",
            zeros(),
            ajo("-----BEGIN CERTIFICATE REQUEST-----\n%%%\n-----END CERTIFICATE REQUEST-----"),
            "JW00B999421E",
            "96",
        ),
        case(
            "nickname too short",
            zeros(),
            ajo(&rcgen_csr(&michel_with(2, "Court"), true)),
            "JW00B999420E",
            "16",
        ),
        case(
            "O without sector",
            zeros(),
            ajo(&rcgen_csr(&michel_with(1, "D8T8-W8W8"), true)),
            "JW00B999429E",
            "16",
        ),
        case(
            "L of the Pacific",
            zeros(),
            ajo(&rcgen_csr(&michel_with(5, "-08:00"), true)),
            "JW00B999437E",
            "96",
        ),
        case(
            "ST not QC",
            zeros(),
            ajo(&rcgen_csr(&michel_with(6, "ON"), true)),
            "JW00B999432E",
            "16",
        ),
        case(
            "C not CA",
            zeros(),
            ajo(&rcgen_csr(&michel_with(7, "FR"), true)),
            "JW00B999433E",
            "16",
        ),
        case(
            "no non-repudiation",
            zeros(),
            ajo(&rcgen_csr(&MICHEL, false)),
            "JW00B999609E",
            "96",
        ),
        case(
            "CN not the QST's",
            zeros(),
            ajo(&rcgen_csr(&michel_with(3, "1234567890TQ0001"), true)),
            "JW00B999616E",
            "16",
        ),
        // The subject against the registry.
        case(
            "unknown CN",
            zeros(),
            ajo(&csr_for(&srs(
                "9999999999",
                "D8T8-W8W8",
                "9999999999TQ0001",
                "ER0001",
                "Caisse du bar",
            ))),
            "JW00B999470E",
            "16",
        ),
        case(
            "another operator's code",
            zeros(),
            ajo(&csr_for(&srs(
                MICHEL_UNTEL.identification_number,
                "W7V7-K8W9",
                "5678912340TQ0001",
                "ER0001",
                "Caisse du bar",
            ))),
            "JW00B999514E",
            "14",
        ),
        case(
            "QST not the operator's",
            zeros(),
            ajo(&csr_for(&srs(
                MICHEL_UNTEL.identification_number,
                "D8T8-W8W8",
                "5678912340TQ0002",
                "ER0001",
                "Caisse du bar",
            ))),
            "JW00B999430E",
            "16",
        ),
        case(
            "file number not the operator's",
            zeros(),
            ajo(&csr_for(&srs(
                MICHEL_UNTEL.identification_number,
                "D8T8-W8W8",
                "5678912340TQ0001",
                "ER0002",
                "Caisse du bar",
            ))),
            "JW00B999615E",
            "16",
        ),
        case(
            "file number of another sector",
            zeros(),
            ajo(&csr_for(&srs(
                MICHEL_UNTEL.identification_number,
                "D8T8-W8W8",
                "5678912340TQ0001",
                "TR0001",
                "Caisse du bar",
            ))),
            "JW00B999614E",
            "16",
        ),
    ];
    run(&s, &api_client, std::mem::take(&mut cases)).await;

    let p = test_product();
    // An unregistered version (IDVERSI zeros) of an SRS none of whose versions is certified
    // (041E).
    let never_certified = Product::new(
        Environment::Dev,
        ProductIdentity::new(
            p.partner_id,
            "0000000000000005".parse().unwrap(),
            "0000000000000006".parse().unwrap(),
            p.certification_code.clone(),
            "0.9".parse().unwrap(),
            "0".parse().unwrap(),
        ),
        VersionState::Registered,
    );
    s.authority
        .registry()
        .add_product(
            &never_certified,
            NewAudit::new(now, "test", "product", "x", ""),
        )
        .unwrap();
    run(
        &s,
        &api_client,
        vec![case(
            "an unregistered version of an SRS never certified",
            with_header(
                with_header(
                    with_header(zeros(), "IDSEV", Some("0000000000000005")),
                    "IDVERSI",
                    Some("0000000000000000"),
                ),
                "CODCERTIF",
                Some("FOB000000000"),
            ),
            ajo(&good),
            "JW00B999041E",
            "94",
        )],
    )
    .await;

    // A superseded code (069E), after the operator received a new one.
    let registry = s.authority.registry();
    let op = registry
        .operator_by_identification(&"1234567890".parse().unwrap())
        .unwrap()
        .unwrap();
    registry
        .add_authorization_code(
            op.id,
            &"Z1Z1-Z1Z1".parse().unwrap(),
            Sector::Restaurant,
            now,
            now,
            NewAudit::new(now, "test", "code", "1234567890", ""),
        )
        .unwrap();
    run(
        &s,
        &api_client,
        vec![case(
            "superseded code",
            zeros(),
            ajo(&csr_for(&express_taxe("Caisse Express Taxe"))),
            "JW00B999069E",
            "14",
        )],
    )
    .await;

    // Repeated wrong codes lock the identification number out, even for the right code.
    for _ in 0..5 {
        let wrong = csr_for(&srs(
            MICHEL_UNTEL.identification_number,
            "A0A0-A0A0",
            "5678912340TQ0001",
            "ER0001",
            "Caisse du bar",
        ));
        run(
            &s,
            &api_client,
            vec![case(
                "wrong code",
                zeros(),
                ajo(&wrong),
                "JW00B999514E",
                "14",
            )],
        )
        .await;
    }
    run(
        &s,
        &api_client,
        vec![case(
            "locked out",
            zeros(),
            ajo(&good),
            "JW00B999514E",
            "14",
        )],
    )
    .await;
    registry.verify_audit_chain().unwrap();
    let refusals = registry
        .audit_entries(1)
        .unwrap()
        .into_iter()
        .filter(|e| e.entry.action == "refuse")
        .count();
    assert!(
        refusals >= 50,
        "every refusal is in the audit log ({refusals})"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_errors_of_essai() {
    let s = Served::start(Environment::Essai);
    let unused = plain_client(&s, None);
    let good = csr_for(&michel("Certificat A"));
    let essai = || {
        with_header(
            with_header(header_pairs("0000-0000-0000"), "ENVIRN", Some("ESSAI")),
            "CASESSAI",
            Some("001.001"),
        )
    };
    run(
        &s,
        &unused,
        vec![
            case(
                "CASESSAI 000.000 in ESSAI",
                with_header(essai(), "CASESSAI", Some("000.000")),
                ajo(&good),
                "JW00B999510E",
                "94",
            ),
            case(
                "zero IDVERSI in ESSAI",
                with_header(essai(), "IDVERSI", Some("0000000000000000")),
                ajo(&good),
                "JW00B999048E",
                "94",
            ),
        ],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_errors_of_production() {
    let s = Served::start(Environment::Prod);
    let now = OffsetDateTime::now_utc();
    let unused = plain_client(&s, None);
    let prod = || with_header(header_pairs("0000-0000-0000"), "ENVIRN", Some("PROD"));
    // The first certificate named "Caisse du bar" is issued; a second one is refused.
    let (status, body) = post(
        &plain_client(&s, None),
        &format!("{}/enrolement", s.enrolment_base),
        &prod(),
        &ajo(&csr_for(&michel("Caisse du bar"))),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    // An uncertified version of the product.
    let p = test_product();
    let uncertified = Product::new(
        Environment::Prod,
        ProductIdentity::new(
            p.partner_id,
            p.srs_id,
            "0000000000000004".parse().unwrap(),
            p.certification_code.clone(),
            "1.1.0".parse().unwrap(),
            "1.0.0".parse().unwrap(),
        ),
        VersionState::Registered,
    );
    s.authority
        .registry()
        .add_product(&uncertified, NewAudit::new(now, "test", "product", "x", ""))
        .unwrap();
    let good = csr_for(&michel("Caisse terrasse"));
    run(
        &s,
        &unused,
        vec![
            case(
                "ENVIRN DEV on production",
                with_header(prod(), "ENVIRN", Some("DEV")),
                ajo(&good),
                "JW00B999037E",
                "94",
            ),
            case(
                "CASESSAI in PROD",
                with_header(prod(), "CASESSAI", Some("001.001")),
                ajo(&good),
                "JW00B999509E",
                "94",
            ),
            case(
                "CODCERTIF not the product's",
                with_header(prod(), "CODCERTIF", Some("RBC000000000")),
                ajo(&good),
                "JW00B999000E",
                "94",
            ),
            case(
                "uncertified version",
                with_header(
                    with_header(
                        with_header(prod(), "IDVERSI", Some("0000000000000004")),
                        "VERSI",
                        Some("1.1.0"),
                    ),
                    "VERSIPARN",
                    Some("1.0.0"),
                ),
                ajo(&good),
                "JW00B999060E",
                "94",
            ),
            case(
                "a remote server with an uncertified version",
                with_header(
                    with_header(
                        with_header(
                            with_header(
                                with_header(prod(), "IDAPPRL", None),
                                "APPRLINIT",
                                Some("SRV"),
                            ),
                            "IDVERSI",
                            Some("0000000000000004"),
                        ),
                        "VERSI",
                        Some("1.1.0"),
                    ),
                    "VERSIPARN",
                    Some("1.0.0"),
                ),
                ajo(&csr_for(&server_admin())),
                "JW00B999520E",
                "94",
            ),
            case(
                "nickname in force",
                prod(),
                ajo(&csr_for(&michel("Caisse du bar"))),
                "JW00B999602E",
                "16",
            ),
        ],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_level_refusals() {
    let s = Served::start(Environment::Dev);
    let c = plain_client(&s, None);
    let url = format!("{}/enrolement", s.enrolment_base);
    // A body announced over 256 KB is refused before it is read: the server answers after the
    // head and a few bytes (a client sending the whole body may see the connection closed first).
    assert_eq!(
        raw_exchange(
            &s,
            "POST /enrolement HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
             Content-Length: 300000\r\n\r\n{"
        )
        .await,
        413
    );
    // WEB-SRM requires Content-Length: a chunked body (which could grow without bound) is refused
    // with 411 before any of it is read.
    let head = format!(
        "POST /enrolement HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\nxxxx",
        400 * 1024
    );
    assert_eq!(raw_exchange(&s, &head).await, 411);
    assert_eq!(
        raw_exchange(&s, "POST /enrolement HTTP/1.1\r\nHost: x\r\n\r\n").await,
        411
    );
    let response = c.get(&url).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 405);
    // CONTENT-TYPE must be application/json (charset aside): 415 otherwise, before the body is
    // read (the API host's services, with a client certificate, in the transaction tests).
    for content_type in [None, Some("text/plain"), Some("application/jsonx")] {
        let mut request = c.post(&url).body("{}");
        if let Some(t) = content_type {
            request = request.header("Content-Type", t);
        }
        let status = request.send().await.unwrap().status().as_u16();
        assert_eq!(status, 415, "{content_type:?}");
    }
    let response = c
        .post(&url)
        .header("Content-Type", "Application/JSON; charset=utf-8")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.status().as_u16(),
        400,
        "the media type's case and charset aside"
    );
    let response = c
        .post(format!("{}/autre", s.enrolment_base))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 404);
    // The enrolment host does not serve the certificates path.
    let response = c
        .post(format!("{}/certificats", s.enrolment_base))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 404);
}

/// Writes `request` over TLS to the enrolment host and returns the status of the answer.
async fn raw_exchange(s: &Served, request: &str) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let config =
        websrm_crypto::tls::client_config(std::slice::from_ref(&s.tls_root), None).unwrap();
    let addr = s.enrolment_base.trim_start_matches("https://").to_owned();
    let tcp = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let name = websrm_crypto::rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let mut tls = tokio_rustls::TlsConnector::from(config)
        .connect(name, tcp)
        .await
        .unwrap();
    // The server may answer and close before taking everything: a failed write is fine.
    let _ = tls.write_all(request.as_bytes()).await;
    let _ = tls.flush().await;
    let mut answer = vec![0u8; 64];
    let n = tokio::time::timeout(std::time::Duration::from_secs(10), tls.read(&mut answer))
        .await
        .unwrap_or(Ok(0))
        .unwrap_or(0);
    answer.truncate(n);
    let text = String::from_utf8_lossy(&answer);
    text.split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or(0)
}

/// Values are compared without regard to case, as the reference says unless stated: `modif`,
/// ST and C in lower case are accepted; field names are exact. The structure errors name the
/// service and the field, as the reference's messages do.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn values_in_any_case_and_structure_messages_with_their_values() {
    let s = Served::start(Environment::Dev);
    let anonymous = plain_client(&s, None);
    let url = format!("{}/enrolement", s.enrolment_base);
    // Every value in lower case, from an independent encoder.
    let lower: Vec<(&[u64], &str)> = MICHEL
        .iter()
        .map(|(oid, v)| {
            (
                *oid,
                match *v {
                    "RBC-D8T8-W8W8" => "rbc-d8t8-w8w8",
                    "5678912340TQ0001" => "5678912340tq0001",
                    "ER0001" => "er0001",
                    "QC" => "qc",
                    "CA" => "ca",
                    other => other,
                },
            )
        })
        .collect();
    let csr = rcgen_csr(&lower, true);
    let body = json!({ "reqCertif": { "modif": "ajo", "csr": csr } }).to_string();
    let (status, answer) = post(&anonymous, &url, &header_pairs("0000-0000-0000"), &body).await;
    assert_eq!(status, 201, "values in lower case: {answer}");

    let (status, answer) = post(&anonymous, &url, &header_pairs("0000-0000-0000"), "{}").await;
    assert_eq!(status, 400);
    assert_eq!(
        answer["retourCertif"]["listErr"][0]["mess"],
        "Le champ suivant est absent : enrolement/reqCertif."
    );
    let (_, answer) = post(
        &anonymous,
        &url,
        &header_pairs("0000-0000-0000"),
        r#"{"reqcertif":{"modif":"AJO"}}"#,
    )
    .await;
    assert_eq!(
        (
            answer["retourCertif"]["listErr"][0]["id"].as_str(),
            answer["retourCertif"]["listErr"][0]["mess"].as_str()
        ),
        (
            Some("JW00B999314E"),
            Some(
                "Le champ suivant est inconnu ou n'est pas au bon endroit : enrolement/reqcertif."
            )
        ),
        "field names are exact"
    );
}

/// Each state of a product version and of its developer, through the certificate service: in
/// DEV, a certified version takes only `CASESSAI` `000.000` (072E), a version awaiting
/// certification is served, a withdrawn one designates nothing (002E), and an unregistered
/// developer is refused (063E); in ESSAI, a version awaiting certification (065E) and a
/// certified one (072E) are refused. Products are registered as an administrator does, through
/// the authority's own calls.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_state_of_a_product_has_its_id() {
    use websrm_tests::websrm_authority::ProductRegistration;
    let s = Served::start(Environment::Dev);
    let p = test_product();
    let register = |partner: &str, srs: &str, version_id: &str, version: &str, state| {
        let mut r = ProductRegistration::new(
            partner.parse().unwrap(),
            srs.parse().unwrap(),
            p.certification_code.clone(),
            version.parse().unwrap(),
            "1.0.0".parse().unwrap(),
        );
        r.version_id = Some(version_id.parse().unwrap());
        r.state = state;
        let added = s.authority.admin().register_product(r, "test").unwrap();
        assert_eq!(added.len(), 2, "registered for DEV and ESSAI");
    };
    let srs = p.srs_id.to_string();
    let partner = p.partner_id.to_string();
    register(
        &partner,
        &srs,
        "0000000000000011",
        "1.1.0",
        VersionState::Certified,
    );
    register(
        &partner,
        &srs,
        "0000000000000012",
        "1.2.0",
        VersionState::AwaitingCertification,
    );
    register(
        &partner,
        &srs,
        "0000000000000013",
        "1.3.0",
        VersionState::Withdrawn,
    );
    register(
        "00000000000000AB",
        "00000000000000CD",
        "0000000000000014",
        "2.0",
        VersionState::Registered,
    );
    s.authority
        .admin()
        .set_partner(
            "00000000000000AB".parse().unwrap(),
            "Caisses AB",
            false,
            "test",
        )
        .unwrap();
    let version = |h: Vec<(String, String)>, id: &str, versi: &str| {
        with_header(
            with_header(with_header(h, "IDVERSI", Some(id)), "VERSI", Some(versi)),
            "VERSIPARN",
            Some("1.0.0"),
        )
    };
    let dev = |id: &str, versi: &str| version(header_pairs("0000-0000-0000"), id, versi);
    let essai = |id: &str, versi: &str| {
        with_header(
            with_header(dev(id, versi), "ENVIRN", Some("ESSAI")),
            "CASESSAI",
            Some("001.001"),
        )
    };
    let good = csr_for(&michel("Certificat A"));
    let unused = plain_client(&s, None);
    run(
        &s,
        &unused,
        vec![
            case(
                "DEV, a certified version with a test case",
                with_header(
                    dev("0000000000000011", "1.1.0"),
                    "CASESSAI",
                    Some("001.001"),
                ),
                ajo(&good),
                "JW00B999072E",
                "94",
            ),
            case(
                "DEV, a withdrawn version",
                dev("0000000000000013", "1.3.0"),
                ajo(&good),
                "JW00B999002E",
                "94",
            ),
            case(
                "DEV, a developer not registered",
                with_header(
                    dev("0000000000000014", "2.0"),
                    "IDSEV",
                    Some("00000000000000CD"),
                )
                .into_iter()
                .map(|(n, v)| {
                    if n == "IDPARTN" {
                        (n, "00000000000000AB".to_owned())
                    } else {
                        (n, v)
                    }
                })
                .collect(),
                ajo(&good),
                "JW00B999063E",
                "94",
            ),
            case(
                "ESSAI, a version awaiting certification",
                essai("0000000000000012", "1.2.0"),
                ajo(&good),
                "JW00B999065E",
                "94",
            ),
            case(
                "ESSAI, a certified version",
                essai("0000000000000011", "1.1.0"),
                ajo(&good),
                "JW00B999072E",
                "94",
            ),
        ],
    )
    .await;
    // What DEV serves: a certified version without a test case, a version awaiting
    // certification with one.
    let anonymous = plain_client(&s, None);
    let url = format!("{}/enrolement", s.enrolment_base);
    for (what, headers, nickname) in [
        (
            "certified, 000.000",
            dev("0000000000000011", "1.1.0"),
            "Caisse un",
        ),
        (
            "awaiting certification, a test case",
            with_header(
                dev("0000000000000012", "1.2.0"),
                "CASESSAI",
                Some("001.001"),
            ),
            "Caisse deux",
        ),
    ] {
        let (status, body) = post(
            &anonymous,
            &url,
            &headers,
            &ajo(&csr_for(&michel(nickname))),
        )
        .await;
        assert_eq!(status, 201, "{what}: {body}");
    }
    // Once certified, the version that was awaiting certification is closed to ESSAI (072E).
    s.authority
        .admin()
        .set_version_state(
            p.partner_id,
            p.srs_id,
            "0000000000000012".parse().unwrap(),
            VersionState::Certified,
            "test",
        )
        .unwrap();
    run(
        &s,
        &unused,
        vec![case(
            "ESSAI, the version now certified",
            essai("0000000000000012", "1.2.0"),
            ajo(&good),
            "JW00B999072E",
            "94",
        )],
    )
    .await;
    let audit = s.authority.admin().audit_since(None).unwrap();
    for action in ["add-product", "set-partner", "set-version-state"] {
        assert!(
            audit.iter().any(|e| e.entry.action == action),
            "{action} is in the audit log"
        );
    }
}
