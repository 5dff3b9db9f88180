//! The CSR an SRS sends, checked by OpenSSL as well as by our own validation.

mod common;

use common::*;
use websrm_crypto::{Csr, PrivateKey, validate_csr};

fn write_csr(dir: &std::path::Path, csr: &Csr) {
    std::fs::write(
        dir.join("csr.pem"),
        websrm_crypto::pem::encode("CERTIFICATE REQUEST", csr.der()),
    )
    .unwrap();
}

#[test]
fn openssl_verifies_our_csr_and_shows_the_exact_subject_and_extensions() {
    let dir = tempfile::tempdir().unwrap();
    let key = PrivateKey::generate().unwrap();
    let csr = Csr::build(&srs_subject(), &key).unwrap();
    write_csr(dir.path(), &csr);

    let text = openssl_ok(
        dir.path(),
        &[
            "req",
            "-in",
            "csr.pem",
            "-verify",
            "-noout",
            "-text",
            "-nameopt",
            "RFC2253,sep_comma_plus_space,utf8,-esc_msb",
        ],
    );
    assert!(
        text.contains("verify OK") || text.contains("Certificate request self-signature verify OK"),
        "{text}"
    );
    // RFC 2253 prints the RDNs last to first.
    assert!(
        text.contains(
            "Subject: C=CA, ST=QC, L=-05:00, GN=ER0001, OU=5678912340TQ0001, SN=Caisse du café, O=RBC-D8T8-W8W8, CN=5678912340"
        ),
        "{text}"
    );
    assert!(
        text.contains("ASN1 OID: prime256v1") && text.contains("Public-Key: (256 bit)"),
        "{text}"
    );
    assert!(
        text.contains("Signature Algorithm: ecdsa-with-SHA256"),
        "{text}"
    );
    assert!(
        text.contains("X509v3 Basic Constraints: \n                    CA:FALSE"),
        "{text}"
    );
    assert!(
        text.contains("X509v3 Key Usage: \n                    Digital Signature, Non Repudiation"),
        "{text}"
    );
    assert!(
        text.contains("X509v3 Extended Key Usage: critical\n                    Time Stamping"),
        "{text}"
    );
    assert!(text.contains("X509v3 Subject Key Identifier"), "{text}");

    // The attribute types themselves: surname (2.5.4.4) and givenName (2.5.4.42), never
    // serialNumber (2.5.4.5); in the order CN, O, SN, OU, GN, L, ST, C.
    let asn1 = openssl_ok(dir.path(), &["asn1parse", "-in", "csr.pem"]);
    let types: Vec<&str> = asn1
        .lines()
        .filter_map(|l| l.split("OBJECT            :").nth(1))
        .map(str::trim)
        .take(8)
        .collect();
    assert_eq!(
        types,
        [
            "commonName",
            "organizationName",
            "surname",
            "organizationalUnitName",
            "givenName",
            "localityName",
            "stateOrProvinceName",
            "countryName"
        ]
    );
    assert!(!asn1.contains("serialNumber"));
}

#[test]
fn server_administrator_csr_has_no_ou_and_no_gn() {
    let dir = tempfile::tempdir().unwrap();
    let key = PrivateKey::generate().unwrap();
    let csr = Csr::build(&server_subject(), &key).unwrap();
    write_csr(dir.path(), &csr);
    let text = openssl_ok(
        dir.path(),
        &[
            "req", "-in", "csr.pem", "-verify", "-noout", "-subject", "-nameopt", "RFC2253",
        ],
    );
    assert!(
        text.contains(
            "subject=C=CA,ST=QC,L=-05:00,SN=Certificat du serveur,O=FOB-B8T8-W8W8,CN=3601837200"
        ),
        "{text}"
    );
    let validated = validate_csr(&csr.to_wire()).expect("valid");
    assert_eq!(validated.subject, server_subject());
}

#[test]
fn wire_form_is_one_line_of_base64_between_the_markers() {
    let key = PrivateKey::generate().unwrap();
    let csr = Csr::build(&srs_subject(), &key).unwrap();
    let wire = csr.to_wire();
    let lines: Vec<&str> = wire.split('\n').collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(lines[0], "-----BEGIN CERTIFICATE REQUEST-----");
    assert_eq!(lines[2], "-----END CERTIFICATE REQUEST-----");
    assert!(lines[1].len() > 64 && !lines[1].contains(' '));
    assert_eq!(Csr::from_wire(&wire).unwrap(), csr);
    // JSON escapes the line feeds as \n, which is what the protocol describes.
    assert!(!format!("{wire:?}").contains('\r'));
}

#[test]
fn ordinary_wrapped_pem_is_accepted_too() {
    let dir = tempfile::tempdir().unwrap();
    let key = PrivateKey::generate().unwrap();
    let csr = Csr::build(&srs_subject(), &key).unwrap();
    write_csr(dir.path(), &csr);
    // OpenSSL rewrites it with 64-column lines.
    let wrapped = openssl_ok(dir.path(), &["req", "-in", "csr.pem", "-outform", "PEM"]);
    assert!(wrapped.lines().count() > 4);
    assert_eq!(Csr::from_wire(&wrapped).unwrap(), csr);
    assert_eq!(Csr::from_wire(&wrapped.replace('\n', "\r\n")).unwrap(), csr);
    assert!(validate_csr(&wrapped).is_ok());
}

#[test]
fn an_openssl_made_csr_is_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let wire = openssl_csr(
        dir.path(),
        &["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"],
        "-sha256",
    );
    let validated =
        validate_csr(&wire).expect("OpenSSL's P-256/SHA-256 CSR with a valid subject is accepted");
    assert_eq!(validated.subject.nickname().as_str(), "Caisse du bar");
}
