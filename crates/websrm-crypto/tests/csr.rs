//! The CSR an SRS sends, checked by OpenSSL as well as by our own validation.

mod common;

use common::*;
use websrm_crypto::{Csr, PrivateKey, validate_csr};
use websrm_domain::published::MICHEL_UNTEL;

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

/// Writes an OpenSSL configuration whose `string_mask` chooses the directory string types, and
/// makes a P-256 CSR with `subject` (UTF-8 input) under it.
fn openssl_csr_with_mask(dir: &std::path::Path, mask: &str, subject: &str) -> String {
    std::fs::write(
        dir.join("req.cnf"),
        format!("[req]\nstring_mask = {mask}\ndistinguished_name = dn\n[dn]\n"),
    )
    .unwrap();
    openssl_ok(
        dir,
        &[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
            "key.pem",
        ],
    );
    openssl_ok(
        dir,
        &[
            "req",
            "-new",
            "-config",
            "req.cnf",
            "-utf8",
            "-key",
            "key.pem",
            "-subj",
            subject,
            "-addext",
            "keyUsage=digitalSignature,nonRepudiation",
            "-sha256",
            "-out",
            "csr.pem",
        ],
    );
    std::fs::read_to_string(dir.join("csr.pem")).unwrap()
}

const ACCENTED_SUBJECT: &str = "/CN=5678912340/O=RBC-D8T8-W8W8/SN=Café & Bar @ l'Île_!/OU=5678912340TQ0001/GN=ER0001/L=-05:00/ST=QC/C=CA";

/// Windows CryptoAPI and .NET write BMPString for a value PrintableString cannot hold; the
/// nickname is read as its text, and the rules apply to that text.
#[test]
fn bmpstring_values_are_read_as_their_text() {
    let dir = tempfile::tempdir().unwrap();
    let wire = openssl_csr_with_mask(dir.path(), "MASK:0x800", ACCENTED_SUBJECT);
    let asn1 = openssl_ok(dir.path(), &["asn1parse", "-in", "csr.pem"]);
    assert!(
        asn1.contains("BMPSTRING"),
        "OpenSSL wrote BMPString:\n{asn1}"
    );
    assert!(!asn1.contains("UTF8STRING"), "{asn1}");
    let validated = validate_csr(&wire).expect("a BMPString subject is a valid subject");
    assert_eq!(
        validated.subject.nickname().as_str(),
        "Café & Bar @ l'Île_!"
    );
    assert_eq!(
        validated.subject.identification_number().as_str(),
        MICHEL_UNTEL.identification_number
    );
    // The issued certificate's nickname is the decoded text.
    let now = time::OffsetDateTime::now_utc();
    let ca = websrm_crypto::CertificateAuthority::generate(websrm_domain::Environment::Dev, now)
        .unwrap();
    let issued = ca.issue(&validated, now).unwrap();
    let info = websrm_crypto::inspect_certificate(&issued.der).unwrap();
    assert_eq!(
        info.subject
            .map(|s| s.nickname().as_str().to_owned())
            .as_deref(),
        Some("Café & Bar @ l'Île_!")
    );
}

/// OpenSSL's `default` mask writes PrintableString where it can and TeletexString for Latin-1:
/// TeletexString is read as Latin-1.
#[test]
fn teletex_and_printable_values_are_read_as_their_text() {
    let dir = tempfile::tempdir().unwrap();
    let wire = openssl_csr_with_mask(
        dir.path(),
        "default",
        "/CN=5678912340/O=RBC-D8T8-W8W8/SN=Caisse du café/OU=5678912340TQ0001/GN=ER0001/L=-05:00/ST=QC/C=CA",
    );
    let asn1 = openssl_ok(dir.path(), &["asn1parse", "-in", "csr.pem"]);
    assert!(
        asn1.contains("T61STRING") && asn1.contains("PRINTABLESTRING"),
        "{asn1}"
    );
    let validated = validate_csr(&wire).expect("a T61String subject is a valid subject");
    assert_eq!(validated.subject.nickname().as_str(), "Caisse du café");
}

/// rcgen writes each directory string type on request: BMPString, TeletexString, IA5String,
/// UniversalString, PrintableString.
#[test]
fn every_directory_string_type_from_an_independent_encoder() {
    use rcgen::string::{BmpString, Ia5String, PrintableString, TeletexString, UniversalString};
    use rcgen::{CertificateParams, DistinguishedName, DnType, DnValue, KeyPair};
    let nickname_values: Vec<(DnValue, &str)> = vec![
        (
            DnValue::BmpString(BmpString::try_from("Café & Bar!").unwrap()),
            "Café & Bar!",
        ),
        (
            DnValue::UniversalString(UniversalString::try_from("Crème brûlée").unwrap()),
            "Crème brûlée",
        ),
        (
            DnValue::Ia5String(Ia5String::try_from("Bar @ 1_!").unwrap()),
            "Bar @ 1_!",
        ),
        (
            DnValue::TeletexString(TeletexString::try_from("Caisse du bar").unwrap()),
            "Caisse du bar",
        ),
    ];
    for (value, text) in nickname_values {
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let mut dn = DistinguishedName::new();
        dn.push(
            DnType::CommonName,
            DnValue::PrintableString(
                PrintableString::try_from(MICHEL_UNTEL.identification_number).unwrap(),
            ),
        );
        dn.push(
            DnType::OrganizationName,
            DnValue::BmpString(BmpString::try_from("RBC-D8T8-W8W8").unwrap()),
        );
        dn.push(DnType::from_oid(&[2, 5, 4, 4]), value);
        dn.push(
            DnType::OrganizationalUnitName,
            DnValue::Ia5String(Ia5String::try_from("5678912340TQ0001").unwrap()),
        );
        dn.push(
            DnType::from_oid(&[2, 5, 4, 42]),
            DnValue::TeletexString(TeletexString::try_from("ER0001").unwrap()),
        );
        dn.push(DnType::LocalityName, "-05:00");
        dn.push(
            DnType::StateOrProvinceName,
            DnValue::PrintableString(PrintableString::try_from("QC").unwrap()),
        );
        dn.push(
            DnType::CountryName,
            DnValue::PrintableString(PrintableString::try_from("CA").unwrap()),
        );
        let mut params = CertificateParams::default();
        params.distinguished_name = dn;
        params.custom_extensions = vec![key_usage(true)];
        let der = params.serialize_request(&key).unwrap().der().to_vec();
        let validated = websrm_crypto::validate_csr_der(Csr::from_der(der))
            .unwrap_or_else(|f| panic!("{text}: {f:?}"));
        assert_eq!(validated.subject.nickname().as_str(), text);
    }
}

/// A value that is not text in its declared type (odd-length BMPString, invalid UTF-8, a
/// non-ASCII PrintableString) is refused with the attribute's finding, not read as something.
#[test]
fn a_malformed_string_value_is_invalid() {
    use rcgen::{CertificateParams, KeyPair};
    let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let mut params = CertificateParams::default();
    params.distinguished_name = rcgen::DistinguishedName::new();
    for (oid, value) in srs_attributes() {
        params
            .distinguished_name
            .push(rcgen::DnType::from_oid(&oid), value.as_str());
    }
    params.custom_extensions = vec![key_usage(true)];
    let mut der = params.serialize_request(&key).unwrap().der().to_vec();
    // Turn the nickname's UTF8String tag (0x0C) into BMPString (0x1E) with an odd length: the
    // signature no longer verifies either, so only the decoding of the subject is looked at.
    let nickname = b"Caisse du caf";
    let at = der
        .windows(nickname.len())
        .position(|w| w == nickname)
        .unwrap();
    assert_eq!(der[at - 2], 0x0C);
    der[at - 2] = 0x1E;
    let findings = websrm_crypto::validate_csr_der(Csr::from_der(der)).unwrap_err();
    assert!(
        findings
            .iter()
            .any(|f| f.error_id().to_string() == "JW00B999420E"
                || f.error_id().to_string() == "JW00B999610E"),
        "{findings:?}"
    );
}
