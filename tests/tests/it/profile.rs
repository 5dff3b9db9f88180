//! The certificate profile, checked by an independent linter: DigiCert's pkilint (installed by
//! `cargo xtask ci` in `target/pkilint`) finds no ERROR or FATAL in the CA, an issued SRS
//! certificate, a server administrator's certificate, the certifPSI certificate and the CRL;
//! and the details the protocol asks for are in the DER.

use std::path::{Path, PathBuf};
use std::process::Command;

use websrm_tests::websrm_crypto::pem;
use websrm_tests::websrm_domain::{
    DeviceIdState, Environment, RevocationChannel, RevocationReason,
};
use websrm_tests::websrm_protocol::wire::Modification;
use websrm_tests::{Served, websrm_crypto};
use x509_parser::prelude::{FromDer, ParsedExtension, X509Certificate};

use crate::support::*;

/// The linter's virtual environment.
fn pkilint() -> PathBuf {
    std::env::var_os("WEBSRM_PKILINT").map_or_else(
        || {
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("..")
                .join("target")
                .join("pkilint")
        },
        PathBuf::from,
    )
}

/// Runs a pkilint tool with `args` in `dir`; no finding at ERROR or above is the exit code 0.
fn lint(dir: &Path, tool: &str, args: &[&str]) {
    let program = pkilint().join("bin").join(tool);
    let out = Command::new(&program)
        .arg("lint")
        .args(["-s", "ERROR"])
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "pkilint is installed at {} (cargo xtask ci installs it): {e}",
                program.display()
            )
        });
    assert!(
        out.status.success(),
        "{tool} {args:?} found ERROR or FATAL:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pkilint_finds_no_error_in_what_the_authority_issues() {
    let s = Served::start(Environment::Dev);
    let c = client(&s, Environment::Dev);
    let env = Environment::Dev;
    let (srs, answer) = enrol(
        &c,
        &headers(env, Some(DeviceIdState::Unassigned)),
        &michel("Caisse du bar"),
    )
    .await;
    let (server, _) = enrol(&c, &headers(env, None), &server_admin()).await;
    let psi = pem::decode(
        "CERTIFICATE",
        answer.certif_psi_pem.as_deref().expect("certifPSI"),
    )
    .unwrap();
    // A revocation, so that the CRL has an entry with its reason.
    s.authority
        .revocation()
        .revoke(
            server.info.serial,
            RevocationReason::KeyCompromise,
            RevocationChannel::CustomerService,
            "agent:A1",
            "profile test",
        )
        .unwrap();
    let crl = s.authority.revocation().crl().unwrap();

    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, der: &[u8]| {
        std::fs::write(dir.path().join(name), pem::encode("CERTIFICATE", der)).unwrap();
    };
    write("ca.pem", &s.ca);
    write("srs.pem", &srs.der);
    write("server.pem", &server.der);
    write("psi.pem", &psi);
    std::fs::write(dir.path().join("crl.der"), &crl).unwrap();

    for file in ["ca.pem", "srs.pem", "server.pem", "psi.pem"] {
        lint(
            dir.path(),
            "lint_pkix_cert",
            &["--document-format", "PEM", file],
        );
    }
    // Signature, names and key identifiers between the CA and what it signed (a self-signed
    // root may omit its authority key identifier, RFC 5280 4.2.1.1, so it is not its own pair).
    for file in ["srs.pem", "server.pem", "psi.pem"] {
        lint(
            dir.path(),
            "lint_pkix_signer_signee_cert_chain",
            &["ca.pem", file],
        );
    }
    lint(
        dir.path(),
        "lint_crl",
        &[
            "-t",
            "CRL",
            "-p",
            "PKIX",
            "--document-format",
            "DER",
            "crl.der",
        ],
    );
}

/// The names websrm's CA writes encode `countryName` as PrintableString (X.520), and an issued
/// certificate keeps the criticality the CSR asks for on its extended key usage (critical, as
/// RFC 3161 requires of id-kp-timeStamping).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn country_is_printable_and_the_extended_key_usage_critical() {
    let s = Served::start(Environment::Dev);
    let c = client(&s, Environment::Dev);
    let (srs, answer) = enrol(
        &c,
        &headers(Environment::Dev, Some(DeviceIdState::Unassigned)),
        &michel("Caisse du bar"),
    )
    .await;
    let psi = pem::decode("CERTIFICATE", answer.certif_psi_pem.as_deref().unwrap()).unwrap();
    const PRINTABLE: u32 = 19;
    let country_tags = |der: &[u8], issuer: bool| -> Vec<u32> {
        let (_, cert) = X509Certificate::from_der(der).unwrap();
        let name = if issuer {
            cert.issuer().clone()
        } else {
            cert.subject().clone()
        };
        name.iter_country()
            .map(|atv| atv.attr_value().tag().0)
            .collect()
    };
    for (what, der, issuer) in [
        ("the CA's subject", &s.ca, false),
        ("an issued certificate's issuer", &srs.der, true),
        ("an issued certificate's subject", &srs.der, false),
        ("certifPSI's subject", &psi, false),
        ("certifPSI's issuer", &psi, true),
    ] {
        assert_eq!(country_tags(der, issuer), [PRINTABLE], "{what}");
    }
    let (_, cert) = X509Certificate::from_der(&srs.der).unwrap();
    let eku = cert
        .extensions()
        .iter()
        .find(|e| matches!(e.parsed_extension(), ParsedExtension::ExtendedKeyUsage(_)))
        .expect("an extended key usage");
    assert!(eku.critical, "the extended key usage is critical");
    let ParsedExtension::ExtendedKeyUsage(eku) = eku.parsed_extension() else {
        unreachable!()
    };
    assert!(eku.client_auth && eku.time_stamping, "{eku:?}");
    // And the issued certificate still authenticates in mutual TLS.
    websrm_crypto::verify_issued_by(&srs.der, &s.ca).unwrap();
    let e = c
        .send(
            &headers(
                Environment::Dev,
                Some(DeviceIdState::Assigned(answer.device_id.unwrap())),
            ),
            &Modification::Delete {
                serial: srs.info.serial,
            },
            Some(srs.identity()),
        )
        .await;
    assert!(e.is_ok(), "{e:?}");
}
