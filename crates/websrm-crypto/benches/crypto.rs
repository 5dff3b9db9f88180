//! Throughput of signing, CSR creation and issuance, each next to the raw ring/rcgen operation
//! it is built on, measured alternately in the same run and reported as ratios.
//!
//! Run with `cargo xtask bench`, which writes the table into `docs/BENCHMARKS.md`.

#![allow(clippy::print_stdout)] // A benchmark reports on standard output.

use std::hint::black_box;
use std::time::{Duration, Instant};

use rcgen::{
    CertificateParams, CertificateSigningRequestParams, DistinguishedName, DnType, IsCa, Issuer,
    KeyPair, KeyUsagePurpose,
};
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
use time::OffsetDateTime;
use websrm_crypto::{CertificateAuthority, Csr, PrivateKey, validate_csr};
use websrm_domain::published::MICHEL_UNTEL;
use websrm_domain::{Environment, Sector, Subject};

const ROUNDS: usize = 5;
const ROUND_TIME: Duration = Duration::from_millis(700);

/// Operations per second of `op`, run for about `ROUND_TIME`.
fn rate(op: &mut dyn FnMut()) -> f64 {
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < ROUND_TIME {
        op();
        n += 1;
    }
    n as f64 / start.elapsed().as_secs_f64()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Measures `raw` and `ours` alternately; returns (raw median, ours median, median of the
/// per-round ratios ours/raw).
fn compare(raw: &mut dyn FnMut(), ours: &mut dyn FnMut()) -> (f64, f64, f64) {
    let warm = Instant::now();
    while warm.elapsed() < Duration::from_millis(200) {
        raw();
        ours();
    }
    let (mut r, mut o, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        let a = rate(raw);
        let b = rate(ours);
        r.push(a);
        o.push(b);
        ratios.push(b / a);
    }
    (median(r), median(o), median(ratios))
}

fn subject() -> Subject {
    MICHEL_UNTEL
        .srs_subject(Sector::Restaurant, "Caisse du bar".parse().unwrap())
        .unwrap()
}

fn rcgen_params() -> CertificateParams {
    let mut params = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    for (attribute, value) in subject().attributes() {
        dn.push(DnType::from_oid(attribute.oid()), value);
    }
    params.distinguished_name = dn;
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::ContentCommitment,
    ];
    params
}

fn main() {
    let now = OffsetDateTime::now_utc();
    let mut rows = Vec::new();

    // Signing a transaction-sized message.
    let message = [0x5Au8; 200];
    let rng = SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
    let ring_key =
        EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng).unwrap();
    let our_key = PrivateKey::generate().unwrap();
    let (raw, ours, ratio) = compare(
        &mut || {
            black_box(ring_key.sign(&rng, &message).unwrap());
        },
        &mut || {
            black_box(our_key.sign(&message).unwrap().to_base64());
        },
    );
    rows.push((
        "WEB-SRM signature (P1363 + Base64)",
        "ring ECDSA P-256 sign",
        raw,
        ours,
        ratio,
        0.9,
    ));

    // A new key and its CSR.
    let params = rcgen_params();
    let (raw, ours, ratio) = compare(
        &mut || {
            let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
            black_box(params.serialize_request(&key).unwrap());
        },
        &mut || {
            let key = PrivateKey::generate().unwrap();
            black_box(Csr::build(&subject(), &key).unwrap().to_wire());
        },
    );
    rows.push((
        "new key + WEB-SRM CSR",
        "rcgen new key + CSR",
        raw,
        ours,
        ratio,
        0.5,
    ));

    // Issuance from a CSR as received: parse, verify, check, sign.
    let ca_key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let mut ca_params = CertificateParams::default();
    ca_params.is_ca = IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let issuer = Issuer::new(ca_params, ca_key);
    let plain_key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let plain_csr = params.serialize_request(&plain_key).unwrap().der().clone();
    let ca = CertificateAuthority::generate(Environment::Dev, now).unwrap();
    let wire = Csr::build(&subject(), &PrivateKey::generate().unwrap())
        .unwrap()
        .to_wire();
    let (raw, ours, ratio) = compare(
        &mut || {
            let csr = CertificateSigningRequestParams::from_der(&plain_csr).unwrap();
            black_box(csr.signed_by(&issuer).unwrap());
        },
        &mut || {
            let validated = validate_csr(&wire).unwrap();
            black_box(ca.issue(&validated, now).unwrap());
        },
    );
    rows.push((
        "validate WEB-SRM CSR + issue",
        "rcgen CSR parse/verify + sign",
        raw,
        ours,
        ratio,
        0.5,
    ));

    println!(
        "| operation | baseline (same run) | baseline ops/s | websrm ops/s | websrm / baseline | target | met |"
    );
    println!("|---|---|---:|---:|---:|---:|---|");
    for (op, base, raw, ours, ratio, target) in rows {
        let met = if ratio >= target { "yes" } else { "**no**" };
        println!("| {op} | {base} | {raw:.0} | {ours:.0} | {ratio:.2} | ≥ {target:.2} | {met} |");
    }
}
