//! The authority's CA: issued certificates checked by OpenSSL and by our inspection.

mod common;

use common::*;
use time::OffsetDateTime;
use time::macros::datetime;
use websrm_crypto::pem;
use websrm_crypto::{
    CertificateAuthority, Csr, KeyEncryptionKey, PrivateKey, PsiKey, inspect_certificate,
    validate_csr, verify_issued_by,
};
use websrm_domain::{Environment, Validity};

const NOW: OffsetDateTime = datetime!(2026-11-26 15:00:00 UTC);

fn issue(ca: &CertificateAuthority, key: &PrivateKey) -> websrm_crypto::IssuedCertificate {
    let validated = validate_csr(&Csr::build(&srs_subject(), key).unwrap().to_wire()).unwrap();
    ca.issue(&validated, NOW).unwrap()
}

#[test]
fn openssl_verifies_an_issued_certificate_against_its_ca_and_not_another() {
    let dir = tempfile::tempdir().unwrap();
    let ca = CertificateAuthority::generate(Environment::Essai, NOW).unwrap();
    let other = CertificateAuthority::generate(Environment::Prod, NOW).unwrap();
    let key = PrivateKey::generate().unwrap();
    let cert = issue(&ca, &key);
    std::fs::write(
        dir.path().join("ca.pem"),
        pem::encode("CERTIFICATE", ca.certificate_der()),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("other.pem"),
        pem::encode("CERTIFICATE", other.certificate_der()),
    )
    .unwrap();
    std::fs::write(dir.path().join("cert.pem"), cert.to_pem()).unwrap();

    let at = NOW.unix_timestamp() + 60;
    let out = openssl_ok(
        dir.path(),
        &[
            "verify",
            "-attime",
            &at.to_string(),
            "-CAfile",
            "ca.pem",
            "cert.pem",
        ],
    );
    assert!(out.contains("cert.pem: OK"), "{out}");
    let out = openssl(
        dir.path(),
        &[
            "verify",
            "-attime",
            &at.to_string(),
            "-CAfile",
            "other.pem",
            "cert.pem",
        ],
    );
    assert!(
        !out.status.success(),
        "a certificate must not verify against another authority"
    );

    let text = openssl_ok(
        dir.path(),
        &[
            "x509",
            "-in",
            "cert.pem",
            "-noout",
            "-text",
            "-nameopt",
            "RFC2253,utf8,-esc_msb",
        ],
    );
    assert!(
        text.contains("Issuer: C=CA,O=websrm,CN=websrm authority DEV/ESSAI"),
        "{text}"
    );
    assert!(text.contains("Subject: C=CA,ST=QC,L=-05:00,GN=ER0001,OU=5678912340TQ0001,SN=Caisse du café,O=RBC-D8T8-W8W8,CN=5678912340"), "{text}");
    assert!(
        text.contains("Not Before: Nov 26 15:00:00 2026 GMT")
            && text.contains("Not After : Nov 26 15:00:00 2031 GMT"),
        "{text}"
    );
    assert!(text.contains("CA:FALSE"), "{text}");
    assert!(
        text.contains("Digital Signature, Non Repudiation"),
        "{text}"
    );
    assert!(
        text.contains("TLS Web Client Authentication, Time Stamping"),
        "{text}"
    );
    assert!(text.contains("X509v3 Authority Key Identifier"), "{text}");

    // OpenSSL's thumbprint is ours.
    let fp = openssl_ok(
        dir.path(),
        &["x509", "-in", "cert.pem", "-noout", "-fingerprint", "-sha1"],
    );
    let fp = fp.trim().rsplit('=').next().unwrap().replace(':', "");
    assert_eq!(fp, cert.thumbprint.to_string());
    // And its serial.
    let serial = openssl_ok(
        dir.path(),
        &["x509", "-in", "cert.pem", "-noout", "-serial"],
    );
    assert_eq!(serial.trim(), format!("serial={}", cert.serial));
}

#[test]
fn inspection_reads_back_what_was_issued() {
    let ca = CertificateAuthority::generate(Environment::Dev, NOW).unwrap();
    let key = PrivateKey::generate().unwrap();
    let cert = issue(&ca, &key);
    let info = inspect_certificate(&cert.der).unwrap();
    assert_eq!(info.serial, cert.serial);
    assert_eq!(info.thumbprint, cert.thumbprint);
    assert_eq!(info.validity, Validity::five_years_from(NOW));
    assert_eq!(info.subject, Some(srs_subject()));
    assert!(info.matches_key(&key));
    assert!(!info.matches_key(&PrivateKey::generate().unwrap()));
    assert!(info.issuer.contains("websrm authority"));
    verify_issued_by(&cert.der, ca.certificate_der()).unwrap();
    let other = CertificateAuthority::generate(Environment::Dev, NOW).unwrap();
    assert!(verify_issued_by(&cert.der, other.certificate_der()).is_err());
}

#[test]
fn serials_are_forty_hex_digits_that_sort_by_issuance_time_and_never_repeat() {
    let ca = CertificateAuthority::generate(Environment::Dev, NOW).unwrap();
    let key = PrivateKey::generate().unwrap();
    let validated = validate_csr(&Csr::build(&srs_subject(), &key).unwrap().to_wire()).unwrap();
    let mut seen = std::collections::HashSet::new();
    let mut previous: Option<String> = None;
    for i in 0..200 {
        // Each pair shares an instant: the random part alone tells them apart.
        let at = NOW + time::Duration::microseconds(i / 2);
        let cert = ca.issue(&validated, at).unwrap();
        let bytes = cert.serial.as_bytes();
        assert_eq!(bytes[0], 0x40);
        let mut micros = [0u8; 8];
        micros[1..].copy_from_slice(&bytes[1..8]);
        assert_eq!(
            i128::from(u64::from_be_bytes(micros)),
            at.unix_timestamp_nanos() / 1000
        );
        let hex = cert.serial.to_string();
        assert_eq!(hex.len(), 40);
        assert_eq!(inspect_certificate(&cert.der).unwrap().serial, cert.serial);
        assert!(seen.insert(cert.serial), "serials never repeat");
        if i % 2 == 0
            && let Some(previous) = &previous
        {
            assert!(*previous < hex, "{previous} then {hex}");
        }
        previous = Some(hex);
    }
    // The other 12 bytes are random: 96 bits, not one of them fixed across the run.
    let serials: Vec<_> = seen.iter().map(|s| s.as_bytes()[8..].to_vec()).collect();
    for bit in 0..96 {
        let ones = serials
            .iter()
            .filter(|s| s[bit / 8] & (0x80 >> (bit % 8)) != 0)
            .count();
        assert!(ones > 0 && ones < serials.len(), "bit {bit} never changes");
    }
}

#[test]
fn the_issuer_sets_extensions_itself_whatever_the_csr_asked() {
    // A CSR asking to be a CA and for code signing still yields an end-entity certificate.
    let attrs = srs_attributes();
    let mut extensions = vec![key_usage(true)];
    extensions.push(rcgen::CustomExtension::from_oid_content(
        &[2, 5, 29, 19],
        vec![0x30, 0x03, 0x01, 0x01, 0xFF],
    ));
    let wire = rcgen_csr(&attrs, extensions);
    let validated = validate_csr(&wire).expect("the subject and key are valid");
    let ca = CertificateAuthority::generate(Environment::Dev, NOW).unwrap();
    let cert = ca.issue(&validated, NOW).unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("cert.pem"), cert.to_pem()).unwrap();
    let text = openssl_ok(
        dir.path(),
        &[
            "x509",
            "-in",
            "cert.pem",
            "-noout",
            "-ext",
            "basicConstraints",
        ],
    );
    assert!(
        text.contains("CA:FALSE") && !text.contains("CA:TRUE"),
        "{text}"
    );
}

#[test]
fn the_authority_survives_a_restart_from_its_sealed_key() {
    let kek = KeyEncryptionKey::generate().unwrap();
    let ca = CertificateAuthority::generate(Environment::Prod, NOW).unwrap();
    let sealed = ca.seal_key(&kek, "authority root PROD").unwrap();
    let key = PrivateKey::open(&sealed, &kek, "authority root PROD").unwrap();
    let restarted =
        CertificateAuthority::from_parts(Environment::Prod, ca.certificate_der().to_vec(), key)
            .unwrap();
    let cert = issue(&restarted, &PrivateKey::generate().unwrap());
    verify_issued_by(&cert.der, ca.certificate_der()).unwrap();

    let wrong = CertificateAuthority::from_parts(
        Environment::Prod,
        ca.certificate_der().to_vec(),
        PrivateKey::generate().unwrap(),
    );
    assert!(
        wrong.is_err(),
        "a key that does not match the root is refused"
    );
}

#[test]
fn certif_psi_is_an_rsa_certificate_whose_key_decrypts_what_openssl_encrypts() {
    let dir = tempfile::tempdir().unwrap();
    let ca = CertificateAuthority::generate(Environment::Dev, NOW).unwrap();
    let psi = PsiKey::generate().unwrap();
    let cert = ca.issue_psi(&psi, NOW).unwrap();
    std::fs::write(
        dir.path().join("ca.pem"),
        pem::encode("CERTIFICATE", ca.certificate_der()),
    )
    .unwrap();
    std::fs::write(dir.path().join("psi.pem"), cert.to_pem()).unwrap();
    let at = (NOW.unix_timestamp() + 60).to_string();
    assert!(
        openssl_ok(
            dir.path(),
            &["verify", "-attime", &at, "-CAfile", "ca.pem", "psi.pem"]
        )
        .contains("OK")
    );
    let text = openssl_ok(dir.path(), &["x509", "-in", "psi.pem", "-noout", "-text"]);
    assert!(
        text.contains("rsaEncryption") && text.contains("Public-Key: (2048 bit)"),
        "{text}"
    );

    // An SRS encrypts a QR payload with the certificate (RSA PKCS#1 v1.5); the authority reads it.
    openssl_ok(
        dir.path(),
        &[
            "x509",
            "-in",
            "psi.pem",
            "-noout",
            "-pubkey",
            "-out",
            "psi-pub.pem",
        ],
    );
    let payload = "A94A8FE5CCB19BA61C4C0873D391E987982FBBD320261126150000";
    std::fs::write(dir.path().join("payload"), payload).unwrap();
    openssl_ok(
        dir.path(),
        &[
            "pkeyutl",
            "-encrypt",
            "-pubin",
            "-inkey",
            "psi-pub.pem",
            "-pkeyopt",
            "rsa_padding_mode:pkcs1",
            "-in",
            "payload",
            "-out",
            "cipher",
        ],
    );
    let ciphertext = std::fs::read(dir.path().join("cipher")).unwrap();
    assert_eq!(psi.decrypt(&ciphertext).unwrap(), payload.as_bytes());

    let kek = KeyEncryptionKey::generate().unwrap();
    let reopened = PsiKey::open(&psi.seal(&kek, "psi").unwrap(), &kek, "psi").unwrap();
    assert_eq!(reopened.decrypt(&ciphertext).unwrap(), payload.as_bytes());
    assert_eq!(format!("{psi:?}"), "PsiKey(<redacted>)");
}

#[test]
fn openssl_reads_the_crl_with_its_serials_and_reasons() {
    use websrm_crypto::{RevokedEntry, verify_crl};
    use websrm_domain::RevocationReason;
    let dir = tempfile::tempdir().unwrap();
    let ca = CertificateAuthority::generate(Environment::Dev, NOW).unwrap();
    let a = issue(&ca, &PrivateKey::generate().unwrap());
    let b = issue(&ca, &PrivateKey::generate().unwrap());
    let revoked = [
        RevokedEntry::new(
            a.serial,
            NOW + time::Duration::hours(1),
            RevocationReason::KeyCompromise,
        ),
        RevokedEntry::new(
            b.serial,
            NOW + time::Duration::hours(2),
            RevocationReason::CessationOfOperation,
        ),
    ];
    let crl = ca
        .issue_crl(
            &revoked,
            7,
            NOW + time::Duration::hours(3),
            NOW + time::Duration::days(1),
        )
        .unwrap();
    std::fs::write(dir.path().join("crl.der"), &crl).unwrap();
    std::fs::write(
        dir.path().join("ca.pem"),
        pem::encode("CERTIFICATE", ca.certificate_der()),
    )
    .unwrap();
    let text = openssl_ok(
        dir.path(),
        &[
            "crl", "-inform", "DER", "-in", "crl.der", "-noout", "-text", "-CAfile", "ca.pem",
        ],
    );
    assert!(text.contains("verify OK"), "{text}");
    assert!(
        text.contains(&format!("Serial Number: {}", a.serial)),
        "{text}"
    );
    assert!(
        text.contains(&format!("Serial Number: {}", b.serial)),
        "{text}"
    );
    assert!(
        text.contains("Key Compromise") && text.contains("Cessation Of Operation"),
        "{text}"
    );
    assert!(
        text.contains("X509v3 CRL Number")
            && text.contains("Next Update: Nov 27 15:00:00 2026 GMT"),
        "{text}"
    );

    let info = verify_crl(&crl, ca.certificate_der()).unwrap();
    assert_eq!(
        info.revoked,
        [
            (a.serial, RevocationReason::KeyCompromise),
            (b.serial, RevocationReason::CessationOfOperation)
        ]
    );
    assert_eq!(info.next_update, Some(NOW + time::Duration::days(1)));
    let other = CertificateAuthority::generate(Environment::Dev, NOW).unwrap();
    assert!(
        verify_crl(&crl, other.certificate_der()).is_err(),
        "a CRL verifies only with its CA"
    );
}
