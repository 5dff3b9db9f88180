//! Every CSR finding, each from a CSR that has exactly that defect, with its error id.

mod common;

use common::*;
use websrm_crypto::{CsrFinding, validate_csr};
use websrm_domain::SubjectFinding as S;

type Attrs = Vec<(Vec<u64>, String)>;

const CN: &[u64] = &[2, 5, 4, 3];
const O: &[u64] = &[2, 5, 4, 10];
const SN: &[u64] = &[2, 5, 4, 4];
const SERIAL_NUMBER: &[u64] = &[2, 5, 4, 5];
const OU: &[u64] = &[2, 5, 4, 11];
const GN: &[u64] = &[2, 5, 4, 42];
const L: &[u64] = &[2, 5, 4, 7];
const ST: &[u64] = &[2, 5, 4, 8];
const C: &[u64] = &[2, 5, 4, 6];

fn findings(wire: &str) -> Vec<CsrFinding> {
    validate_csr(wire).expect_err("the CSR must be rejected")
}

fn ids(findings: &[CsrFinding]) -> Vec<String> {
    findings.iter().map(|f| f.error_id().to_string()).collect()
}

#[test]
fn a_valid_independent_csr_passes() {
    let wire = rcgen_csr(&srs_attributes(), vec![key_usage(true)]);
    validate_csr(&wire).expect("valid");
}

#[test]
fn not_base64_and_not_a_csr_are_421() {
    let f = findings(
        "-----BEGIN CERTIFICATE REQUEST-----\n@@@ not base64 @@@\n-----END CERTIFICATE REQUEST-----",
    );
    assert_eq!(f, [CsrFinding::NotBase64]);
    assert_eq!(findings("MIIB"), [CsrFinding::NotBase64], "no markers");
    let f = findings(
        "-----BEGIN CERTIFICATE REQUEST-----\nAAECAwQFBgcICQ==\n-----END CERTIFICATE REQUEST-----",
    );
    assert_eq!(f, [CsrFinding::NotACsr]);
    assert_eq!(ids(&f), ["JW00B999421E"]);
}

#[test]
fn a_tampered_signature_is_421() {
    let wire = rcgen_csr(&srs_attributes(), vec![key_usage(true)]);
    let mut der = websrm_crypto::Csr::from_wire(&wire).unwrap().der().to_vec();
    // The last byte belongs to the signature's s value.
    let last = der.len() - 1;
    der[last] ^= 0x01;
    let f = findings(&websrm_crypto::Csr::from_der(der).to_wire());
    assert_eq!(f, [CsrFinding::BadSignature]);
    assert_eq!(ids(&f), ["JW00B999421E"]);
}

#[test]
fn key_algorithm_length_curve_and_hash_are_605_to_608() {
    let dir = tempfile::tempdir().unwrap();
    let p384 = openssl_csr(
        dir.path(),
        &["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384"],
        "-sha256",
    );
    assert_eq!(findings(&p384), [CsrFinding::KeyLength { bits: 384 }]);
    assert_eq!(ids(&findings(&p384)), ["JW00B999605E"]);

    let rsa = openssl_csr(
        dir.path(),
        &["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"],
        "-sha256",
    );
    assert_eq!(findings(&rsa), [CsrFinding::KeyAlgorithm]);
    assert_eq!(ids(&findings(&rsa)), ["JW00B999606E"]);

    let sha384 = openssl_csr(
        dir.path(),
        &["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"],
        "-sha384",
    );
    assert_eq!(findings(&sha384), [CsrFinding::Hash]);
    assert_eq!(ids(&findings(&sha384)), ["JW00B999607E"]);

    let k1 = openssl_csr(
        dir.path(),
        &[
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:secp256k1",
        ],
        "-sha256",
    );
    assert_eq!(findings(&k1), [CsrFinding::Curve]);
    assert_eq!(ids(&findings(&k1)), ["JW00B999608E"]);
}

#[test]
fn key_usage_without_non_repudiation_is_609() {
    let f = findings(&rcgen_csr(&srs_attributes(), vec![key_usage(false)]));
    assert_eq!(f, [CsrFinding::NonRepudiationMissing]);
    assert_eq!(ids(&f), ["JW00B999609E"]);
    let f = findings(&rcgen_csr(&srs_attributes(), vec![]));
    assert_eq!(
        f,
        [CsrFinding::NonRepudiationMissing],
        "no key usage at all"
    );
}

#[test]
fn every_subject_defect_has_its_error_id() {
    let cases: Vec<(Attrs, S, &str)> = vec![
        (
            with_attribute(SN, Some("Court")),
            S::NicknameInvalid,
            "JW00B999420E",
        ),
        (
            with_attribute(O, Some("RBC-D8T8W8W8")),
            S::OrganizationInvalid,
            "JW00B999429E",
        ),
        (
            with_attribute(OU, Some("5678912340RT0001")),
            S::QstNumberInvalid,
            "JW00B999430E",
        ),
        (
            with_attribute(ST, Some("ON")),
            S::StateInvalid,
            "JW00B999432E",
        ),
        (
            with_attribute(C, Some("US")),
            S::CountryInvalid,
            "JW00B999433E",
        ),
        (
            with_attribute(L, Some("-06:00")),
            S::SrsLocalityInvalid,
            "JW00B999437E",
        ),
        (
            with_attribute(CN, None),
            S::CommonNameMissing,
            "JW00B999470E",
        ),
        (
            with_attribute(CN, Some("ABC")),
            S::CommonNameInvalid,
            "JW00B999470E",
        ),
        (
            with_attribute(OU, None),
            S::OrganizationalUnitMissing,
            "JW00B999604E",
        ),
        (with_attribute(SN, None), S::SurnameMissing, "JW00B999610E"),
        (
            with_attribute(GN, None),
            S::GivenNameMissing,
            "JW00B999612E",
        ),
        (
            with_attribute(GN, Some("E10001")),
            S::FileNumberInvalid,
            "JW00B999615E",
        ),
        (
            with_attribute(OU, Some("1234567890TQ0001")),
            S::CommonNameNotQstPrefix,
            "JW00B999616E",
        ),
    ];
    for (attrs, finding, id) in cases {
        let f = findings(&rcgen_csr(&attrs, vec![key_usage(true)]));
        assert_eq!(f, [CsrFinding::Subject(finding)], "{finding:?}");
        assert_eq!(ids(&f), [id], "{finding:?}");
    }
}

#[test]
fn the_serial_number_attribute_is_not_a_surname() {
    // The classic mistake: "SN" mapped to serialNumber (2.5.4.5) instead of surname (2.5.4.4).
    let mut attrs = with_attribute(SN, None);
    attrs.insert(2, (SERIAL_NUMBER.to_vec(), "Caisse du café".to_owned()));
    let f = findings(&rcgen_csr(&attrs, vec![key_usage(true)]));
    assert_eq!(f, [CsrFinding::Subject(S::SurnameMissing)]);
    assert_eq!(ids(&f), ["JW00B999610E"]);
}

#[test]
fn server_subject_defects_have_their_error_ids() {
    let server: Attrs = server_subject()
        .attributes()
        .into_iter()
        .map(|(a, v)| (a.oid().to_vec(), v))
        .collect();
    let mut with_ou = server.clone();
    with_ou.insert(3, (OU.to_vec(), "3601837200TQ0001".to_owned()));
    let mut with_gn = server.clone();
    with_gn.insert(3, (GN.to_vec(), "ER0001".to_owned()));
    let mut bad_l = server.clone();
    bad_l[3].1 = "EST".to_owned();
    for (attrs, finding, id) in [
        (with_ou, S::OrganizationalUnitForbidden, "JW00B999611E"),
        (with_gn, S::GivenNameForbidden, "JW00B999613E"),
        (bad_l, S::ServerLocalityInvalid, "JW00B999431E"),
    ] {
        let f = findings(&rcgen_csr(&attrs, vec![key_usage(true)]));
        assert_eq!(f, [CsrFinding::Subject(finding)], "{finding:?}");
        assert_eq!(ids(&f), [id]);
    }
    validate_csr(&rcgen_csr(&server, vec![key_usage(true)]))
        .expect("the server subject itself is valid");
}

#[test]
fn several_defects_are_reported_together_in_order() {
    let mut attrs = with_attribute(C, Some("US"));
    attrs.retain(|(oid, _)| oid != SN);
    let f = findings(&rcgen_csr(&attrs, vec![key_usage(false)]));
    assert_eq!(
        f,
        [
            CsrFinding::NonRepudiationMissing,
            CsrFinding::Subject(S::SurnameMissing),
            CsrFinding::Subject(S::CountryInvalid)
        ]
    );
}
