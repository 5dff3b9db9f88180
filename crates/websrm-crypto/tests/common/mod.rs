//! Helpers shared by the crypto tests: subjects, defective CSRs, and the OpenSSL command line.

#![allow(dead_code, unreachable_pub)] // Each test binary uses a different part of this module.

use std::path::Path;
use std::process::{Command, Output, Stdio};

use rcgen::{CertificateParams, CustomExtension, DistinguishedName, DnType, KeyPair};
use websrm_domain::published::MICHEL_UNTEL;
use websrm_domain::{Sector, ServerSubject, Subject, UtcOffset};

pub fn srs_subject() -> Subject {
    MICHEL_UNTEL
        .srs_subject(Sector::Restaurant, "Caisse du café".parse().unwrap())
        .unwrap()
}

pub fn server_subject() -> Subject {
    Subject::Server(ServerSubject::new(
        "3601837200".parse().unwrap(),
        "B8T8-W8W8".parse().unwrap(),
        "Certificat du serveur".parse().unwrap(),
        UtcOffset::EASTERN,
    ))
}

/// The valid SRS subject as (OID, value) pairs, in CSR order.
pub fn srs_attributes() -> Vec<(Vec<u64>, String)> {
    srs_subject()
        .attributes()
        .into_iter()
        .map(|(a, v)| (a.oid().to_vec(), v))
        .collect()
}

/// Replaces (or removes, with `None`) the attribute with `oid`.
pub fn with_attribute(oid: &[u64], value: Option<&str>) -> Vec<(Vec<u64>, String)> {
    let mut attrs = srs_attributes();
    match (attrs.iter().position(|(o, _)| o == oid), value) {
        (Some(i), Some(v)) => attrs[i].1 = v.to_owned(),
        (Some(i), None) => {
            attrs.remove(i);
        }
        (None, Some(v)) => attrs.push((oid.to_vec(), v.to_owned())),
        (None, None) => {}
    }
    attrs
}

/// Key usage digitalSignature + nonRepudiation, as a custom extension.
pub fn key_usage(non_repudiation: bool) -> CustomExtension {
    let bits = if non_repudiation {
        vec![0x03, 0x02, 0x06, 0xC0]
    } else {
        vec![0x03, 0x02, 0x07, 0x80]
    };
    CustomExtension::from_oid_content(&[2, 5, 29, 15], bits)
}

/// A CSR built with rcgen (an implementation independent of ours) with exactly these subject
/// attributes and extensions, in the one-line wire form.
pub fn rcgen_csr(attrs: &[(Vec<u64>, String)], extensions: Vec<CustomExtension>) -> String {
    let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    for (oid, value) in attrs {
        dn.push(DnType::from_oid(oid), value.as_str());
    }
    params.distinguished_name = dn;
    params.custom_extensions = extensions;
    let der = params.serialize_request(&key).unwrap().der().to_vec();
    websrm_crypto::Csr::from_der(der).to_wire()
}

/// Runs `openssl` with `args` in `dir`; returns its output whatever its status.
pub fn openssl(dir: &Path, args: &[&str]) -> Output {
    Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .expect("the openssl command line is installed")
}

/// Runs `openssl` and requires success; returns stdout and stderr together.
pub fn openssl_ok(dir: &Path, args: &[&str]) -> String {
    let out = openssl(dir, args);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "openssl {args:?} failed:\n{text}");
    text
}

/// The subject string `openssl req -subj` takes for the valid SRS subject.
pub const OPENSSL_SRS_SUBJECT: &str = "/CN=5678912340/O=RBC-D8T8-W8W8/SN=Caisse du bar/OU=5678912340TQ0001/GN=ER0001/L=-05:00/ST=QC/C=CA";

/// A CSR made entirely by OpenSSL from a key it generates with `genpkey_args`, signed with
/// `digest`, with the valid SRS subject and key usage.
pub fn openssl_csr(dir: &Path, genpkey_args: &[&str], digest: &str) -> String {
    let mut args = vec!["genpkey", "-out", "key.pem"];
    args.extend_from_slice(genpkey_args);
    openssl_ok(dir, &args);
    openssl_ok(
        dir,
        &[
            "req",
            "-new",
            "-key",
            "key.pem",
            "-subj",
            OPENSSL_SRS_SUBJECT,
            "-addext",
            "keyUsage=digitalSignature,nonRepudiation",
            digest,
            "-out",
            "csr.pem",
        ],
    );
    std::fs::read_to_string(dir.join("csr.pem")).unwrap()
}
