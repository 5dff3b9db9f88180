//! Terminals attached to an SRS, and the per-device signature chains.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use serde_json::json;
use websrm_tests::websrm::domain::{
    CertificateState, DeviceId, DeviceIdState, Environment, GstNumber, Subject,
};
use websrm_tests::websrm::{
    AuthorityAddress, Config, DeviceIdAnswer, OperatorEnrolment, Origin, Preceding, Srs,
    TransactionData, TransactionSignatureInput,
};
use websrm_tests::websrm_crypto::{
    Csr, PrivateKey, PublicKey, Signature, inspect_certificate, pem, signatransm_input,
};
use websrm_tests::websrm_protocol::wire::Modification;
use websrm_tests::{Served, test_product};

use crate::support::*;
use websrm_tests::websrm_domain::published::MICHEL_UNTEL;

fn config(s: &Served, store: &std::path::Path) -> Config {
    let address = AuthorityAddress::Local {
        enrolment: s.enrolment_base.clone(),
        api: s.api_base.clone(),
        trust_pem: pem::encode("CERTIFICATE", &s.tls_root),
    };
    Config::new(Environment::Dev, test_product(), store).with_authority(address)
}

fn data(no: u32) -> TransactionData {
    let gst: GstNumber = "567891234RT0001".parse().unwrap();
    TransactionData::new(
        format!("{no:010}"),
        "20261126150000",
        "+0000000000.13",
        "+0000000000.26",
        "+0000000002.39",
        gst,
        "FAC",
        "CMP",
    )
}

/// Checks a chain link by link: each actu verifies over its values with the previous actu as
/// preced (88 `=` for the first).
fn verify_chain(key: &PublicKey, links: &[(u32, Signature)]) {
    let gst: GstNumber = "567891234RT0001".parse().unwrap();
    let qst = "5678912340TQ0001".parse().unwrap();
    let mut preced = Preceding::First;
    for (no, actu) in links {
        let d = data(*no);
        let input = TransactionSignatureInput {
            no_trans: &d.no_trans,
            dat_trans: &d.dat_trans,
            tps: &d.tps,
            tvq: &d.tvq,
            apres_tax: &d.apres_tax,
            no_tps: &gst,
            no_tvq: &qst,
            mod_impr: &d.mod_impr,
            mod_trans: &d.mod_trans,
            preced,
        };
        key.verify(input.to_text().as_bytes(), actu)
            .unwrap_or_else(|e| panic!("link {no}: {e}"));
        preced = Preceding::Signature(*actu);
    }
}

fn michel() -> OperatorEnrolment {
    OperatorEnrolment::parse(
        MICHEL_UNTEL.identification_number,
        "D8T8-W8W8",
        "RBC",
        "5678912340TQ0001",
        "ER0001",
        "Caisse du bar",
        "-05:00",
    )
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_with_two_terminals_and_three_independent_chains() {
    let s = Served::start(Environment::Dev);
    let dir = tempfile::tempdir().unwrap();
    let srs = Srs::open(config(&s, &dir.path().join("pos.db"))).unwrap();
    let operator = MICHEL_UNTEL.id();
    let view = srs
        .enrol(&michel(), Some(DeviceIdAnswer::RequestNew))
        .await
        .unwrap();
    let host = srs.device_id().unwrap().unwrap();
    let t1 = srs.add_terminal("Terrasse 1", &operator).await.unwrap();
    let t2 = srs.add_terminal("Terrasse 2", &operator).await.unwrap();
    assert!(
        host != t1 && host != t2 && t1 != t2,
        "three distinct identifiers"
    );

    // The authority knows whose terminals they are, and left no certificate in force for them.
    let registry = s.authority.registry();
    for t in [t1, t2] {
        assert_eq!(registry.device(t).unwrap().unwrap().host, Some(host));
        let certs = registry.certificates_of_device(t).unwrap();
        assert!(
            !certs.is_empty() && certs.iter().all(|c| c.state == CertificateState::Deleted),
            "{certs:?}"
        );
    }
    assert_eq!(registry.terminals_of(host).unwrap().len(), 2);

    // Three chains, each verifiable link by link with the certificate's key.
    type Chain = (Origin, DeviceId, Vec<(u32, Signature)>);
    let mut chains: Vec<Chain> = vec![
        (Origin::Terminal("Terrasse 1".into()), t1, vec![]),
        (Origin::Terminal("Terrasse 2".into()), t2, vec![]),
        (Origin::Host, host, vec![]),
    ];
    for no in 1..=9u32 {
        let (origin, device, links) = &mut chains[(no % 3) as usize];
        let signed = srs.sign_in_chain(origin, &operator, &data(no)).unwrap();
        assert_eq!(signed.device_id, *device);
        assert_eq!(signed.position, links.len() as u64 + 1);
        match links.last() {
            None => assert_eq!(signed.preced, Preceding::First),
            Some((_, previous)) => assert_eq!(signed.preced, Preceding::Signature(*previous)),
        }
        links.push((no, signed.actu));
    }
    let key = inspect_certificate(
        &registry
            .certificate_by_serial(view.serial)
            .unwrap()
            .unwrap()
            .der,
    )
    .unwrap()
    .public_key
    .unwrap();
    for (_, _, links) in &chains {
        assert_eq!(links.len(), 3);
        verify_chain(&key, links);
    }

    // Terminals survive a reset of the host's SRS data and the reopening of the store.
    assert_eq!(srs.reset_installation().unwrap(), 1);
    drop(srs);
    let srs = Srs::open(config(&s, &dir.path().join("pos.db"))).unwrap();
    let labels: Vec<(String, DeviceId)> = srs
        .terminals()
        .unwrap()
        .into_iter()
        .map(|t| (t.label, t.device_id))
        .collect();
    assert_eq!(
        labels,
        [("Terrasse 1".to_owned(), t1), ("Terrasse 2".to_owned(), t2)]
    );
    assert_eq!(srs.device_id().unwrap(), Some(host));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_transaction_service_accepts_a_terminal_transaction_signed_by_its_host() {
    let s = Served::start(Environment::Dev);
    let c = client(&s, Environment::Dev);
    let (host, answer) = enrol(
        &c,
        &headers(Environment::Dev, Some(DeviceIdState::Unassigned)),
        &michel_subject(),
    )
    .await;
    let host_id = answer.device_id.unwrap();
    // The host asks for its terminal's identifier, presenting its own certificate.
    let key = PrivateKey::generate().unwrap();
    let csr = Csr::build(&crate::support::michel("Terminal Terrasse"), &key)
        .unwrap()
        .to_wire();
    let terminal = c
        .send(
            &headers(Environment::Dev, Some(DeviceIdState::Unassigned)),
            &Modification::Add { csr },
            Some(host.identity()),
        )
        .await
        .unwrap()
        .device_id
        .unwrap();
    assert_eq!(
        s.authority
            .registry()
            .device(terminal)
            .unwrap()
            .unwrap()
            .host,
        Some(host_id)
    );

    let (transaction, actu) = full_transaction(&host, "0000000001", "20261126150000");
    let signatransm = host
        .key
        .sign(signatransm_input(&"D8T8-W8W8".parse().unwrap(), terminal, &[actu]).as_bytes())
        .unwrap();
    let mut h = header_pairs(&terminal.to_string());
    h.extend([
        ("NOTPS".into(), "567891234RT0001".into()),
        ("NOTVQ".into(), "5678912340TQ0001".into()),
        ("SIGNATRANSM".into(), signatransm.to_base64()),
        ("EMPRCERTIFTRANSM".into(), host.info.thumbprint.to_string()),
    ]);
    let body = json!({ "reqTrans": { "transActu": transaction } }).to_string();
    let (status, answer) = post(
        &plain_client(&s, Some(host.identity())),
        &format!("{}/transaction", s.api_base),
        &h,
        &body,
    )
    .await;
    assert_eq!(status, 200, "{answer}");
}

fn michel_subject() -> Subject {
    crate::support::michel("Caisse du bar")
}

const CHILD: &str = "WEBSRM_CHAIN_CHILD";

/// Not a test: the SRS process the chain crash test starts and kills. It runs only when started
/// by it (with the variable set); `--ignored` alone makes it fail loudly.
#[test]
#[ignore = "the child process of the chain crash test; started by it"]
fn chain_crash_child() {
    #![allow(clippy::print_stdout)] // The child reports each signature handed out.
    let spec = std::env::var(CHILD).expect("started by the chain crash test");
    let parts: Vec<&str> = spec.split('|').collect();
    let [store, enrolment, api, trust] = parts.as_slice() else {
        panic!("bad spec")
    };
    let address = AuthorityAddress::Local {
        enrolment: (*enrolment).into(),
        api: (*api).into(),
        trust_pem: std::fs::read_to_string(trust).unwrap(),
    };
    let srs =
        Srs::open(Config::new(Environment::Dev, test_product(), store).with_authority(address))
            .unwrap();
    let operator = MICHEL_UNTEL.id();
    for no in 1.. {
        let signed = srs
            .sign_in_chain(&Origin::Host, &operator, &data(no))
            .unwrap();
        println!("signed {no} {}", signed.actu.to_base64());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_between_signing_and_storing_leaves_a_chain_that_continues() {
    let s = Served::start(Environment::Dev);
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("pos.db");
    let srs = Srs::open(config(&s, &store)).unwrap();
    let view = srs
        .enrol(&michel(), Some(DeviceIdAnswer::RequestNew))
        .await
        .unwrap();
    drop(srs);

    // The child signs four transactions and is killed while signing the fifth, after the
    // signature is made and before it is stored.
    let trust = s.dir.path().join("tls-root.pem");
    let spec = format!(
        "{}|{}|{}|{}",
        store.display(),
        s.enrolment_base,
        s.api_base,
        trust.display()
    );
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--ignored",
            "--exact",
            "terminals::chain_crash_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, spec)
        .env("WEBSRM_CRASH_AT", "chain-before-commit:5")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let handed_out: Vec<(u32, Signature)> = BufReader::new(child.stdout.take().unwrap())
        .lines()
        .map_while(Result::ok)
        .filter_map(|l| {
            // The harness may print "test … ... " before the child's first line.
            let rest = &l[l.find("signed ")? + "signed ".len()..];
            let (no, actu) = rest.split_once(' ')?;
            Some((no.parse().ok()?, Signature::from_base64(actu).ok()?))
        })
        .collect();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(child.wait().unwrap().signal(), Some(9));
    assert_eq!(
        handed_out.len(),
        4,
        "four signatures were handed out before the crash"
    );

    // The next signature follows the last one handed out: no fork, no gap.
    let srs = Srs::open(config(&s, &store)).unwrap();
    let operator = MICHEL_UNTEL.id();
    let next = srs
        .sign_in_chain(&Origin::Host, &operator, &data(5))
        .unwrap();
    assert_eq!(next.preced, Preceding::Signature(handed_out[3].1));
    assert_eq!(next.position, 5);
    let mut links = handed_out;
    links.push((5, next.actu));
    let key = inspect_certificate(
        &s.authority
            .registry()
            .certificate_by_serial(view.serial)
            .unwrap()
            .unwrap()
            .der,
    )
    .unwrap()
    .public_key
    .unwrap();
    verify_chain(&key, &links);
}
