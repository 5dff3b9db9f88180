//! Revocation through customer service: the agent's checks and audit, the CRL, and what the SRS
//! then sees.

use time::OffsetDateTime;
use websrm_tests::nick;
use websrm_tests::websrm::domain::{
    CertificateState, Environment, Health, RevocationChannel, RevocationReason,
};
use websrm_tests::websrm::{
    AuthorityAddress, BillingGuard, Config, Confirmation, DeviceIdAnswer, Error, OperatorEnrolment,
    Srs,
};
use websrm_tests::websrm_authority;
use websrm_tests::websrm_authority::password::{generate_password, hash_password};
use websrm_tests::websrm_crypto::{self, pem, verify_crl};
use websrm_tests::websrm_domain::published::MICHEL_UNTEL;
use websrm_tests::websrm_registry::NewAudit;
use websrm_tests::{Served, test_product};

fn srs(s: &Served, store: &std::path::Path) -> Srs {
    let address = AuthorityAddress::Local {
        enrolment: s.enrolment_base.clone(),
        api: s.api_base.clone(),
        trust_pem: pem::encode("CERTIFICATE", &s.tls_root),
    };
    let config = Config::new(Environment::Dev, test_product(), store)
        .with_authority(address)
        .with_crl(
            format!("{}/crl", s.enrolment_base),
            pem::encode("CERTIFICATE", &s.ca),
        );
    Srs::open(config).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_revokes_and_the_srs_learns_it_from_the_crl_and_from_011() {
    let s = Served::start(Environment::Dev);
    let dir = tempfile::tempdir().unwrap();
    let pos = srs(&s, &dir.path().join("pos.db"));
    let request = OperatorEnrolment::parse(
        MICHEL_UNTEL.identification_number,
        "D8T8-W8W8",
        "RBC",
        "5678912340TQ0001",
        "ER0001",
        "Caisse volée",
        "-05:00",
    )
    .unwrap();
    let view = pos
        .enrol(&request, Some(DeviceIdAnswer::RequestNew))
        .await
        .unwrap();
    let earlier = srs(&s, &dir.path().join("pos.db"));
    assert!(
        earlier
            .refresh_revocations()
            .await
            .unwrap()
            .newly_revoked
            .is_empty(),
        "nothing revoked yet"
    );

    // A copy of the device's store taken now, as a second tablet restored from a backup would
    // hold it: it never fetches the CRL, so it learns of the revocation from the authority's
    // answer (011E) when it presents the certificate.
    let copy = dir.path().join("copy.db");
    rusqlite::Connection::open(dir.path().join("pos.db"))
        .unwrap()
        .execute("VACUUM INTO ?1", [copy.to_str().unwrap()])
        .unwrap();
    std::fs::copy(
        dir.path().join("pos.db.kek"),
        dir.path().join("copy.db.kek"),
    )
    .unwrap();
    #[cfg(unix)]
    for file in ["copy.db", "copy.db.kek"] {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(
            dir.path().join(file),
            std::fs::Permissions::from_mode(0o600),
        )
        .unwrap();
    }

    // The agent signs in, verifies the caller, finds the certificate and revokes it.
    let authority = &s.authority;
    let password = generate_password().unwrap();
    let now = OffsetDateTime::now_utc();
    authority
        .registry()
        .add_agent(
            "A42",
            &hash_password(&password).unwrap(),
            now,
            NewAudit::new(now, "test", "add-agent", "A42", ""),
        )
        .unwrap();
    assert!(
        authority
            .revocation()
            .authenticate_agent("A42", "wrong password")
            .is_err()
    );
    authority
        .revocation()
        .authenticate_agent("A42", &password)
        .unwrap();
    let number = MICHEL_UNTEL.id();
    let wrong_qst = "5678912340TQ0002".parse().unwrap();
    let file = "ER0001".parse().unwrap();
    assert!(
        authority
            .revocation()
            .agent_find_operator("A42", &number, &wrong_qst, &file)
            .is_err(),
        "identity not verified"
    );
    let found = authority
        .revocation()
        .agent_find_operator("A42", &number, &"5678912340TQ0001".parse().unwrap(), &file)
        .unwrap();
    assert_eq!(found.certificates[0].serial, view.serial);
    let device = pos.device_id().unwrap().unwrap();
    assert_eq!(found.devices, [device]);
    let (record, certs) = authority.revocation().agent_device("A42", device).unwrap();
    assert_eq!((record.device_id, certs.len()), (device, 1));
    authority
        .revocation()
        .revoke(
            view.serial,
            RevocationReason::KeyCompromise,
            RevocationChannel::CustomerService,
            "agent:A42",
            "stolen tablet",
        )
        .unwrap();
    let revoked = authority
        .registry()
        .certificate_by_serial(view.serial)
        .unwrap()
        .unwrap();
    assert_eq!(
        revoked.state,
        CertificateState::Revoked {
            reason: RevocationReason::KeyCompromise,
            channel: RevocationChannel::CustomerService
        }
    );
    assert_eq!(revoked.ended_by.as_deref(), Some("agent:A42"));
    assert!(
        authority
            .revocation()
            .revoke(
                view.serial,
                RevocationReason::KeyCompromise,
                RevocationChannel::CustomerService,
                "agent:A42",
                ""
            )
            .is_err(),
        "once"
    );

    // Every agent action is in the audit log with the agent's id.
    let actions: Vec<(String, String)> = authority
        .registry()
        .audit_entries(1)
        .unwrap()
        .into_iter()
        .map(|e| (e.entry.actor, e.entry.action))
        .collect();
    for action in [
        "agent-sign-in-refused",
        "agent-sign-in",
        "identity-check-failed",
        "identity-check",
        "device-lookup",
        "revoke",
    ] {
        assert!(
            actions.contains(&("agent:A42".to_owned(), action.to_owned())),
            "{action} missing from {actions:?}"
        );
    }
    authority.registry().verify_audit_chain().unwrap();

    // The CRL, fetched by an independent client and read by OpenSSL, lists it with its reason.
    let crl = reqwest_get(&s, "/crl").await;
    let info = verify_crl(&crl, &s.ca).unwrap();
    assert_eq!(
        info.revoked,
        [(view.serial, RevocationReason::KeyCompromise)]
    );
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("crl.der"), &crl).unwrap();
    std::fs::write(tmp.path().join("ca.pem"), pem::encode("CERTIFICATE", &s.ca)).unwrap();
    let out = std::process::Command::new("openssl")
        .args([
            "crl", "-inform", "DER", "-in", "crl.der", "-noout", "-text", "-CAfile", "ca.pem",
        ])
        .current_dir(tmp.path())
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("verify OK")
            && text.contains(&view.serial.to_string())
            && text.contains("Key Compromise"),
        "{text}"
    );

    // The copy presents the revoked certificate to replace it: 011E, and its slot says so.
    let stale = srs(&s, &copy);
    let Err(Error::Refused { errors, .. }) = stale
        .replace(&nick("Caisse volée"), Confirmation::Confirmed)
        .await
    else {
        panic!("the authority refuses a revoked certificate")
    };
    assert!(
        errors.iter().any(|e| e.id.to_string() == "JW00B999011E"),
        "{errors:?}"
    );
    assert_eq!(
        stale.certificates(OffsetDateTime::now_utc()).unwrap()[0].health,
        Health::Refused
    );

    // A CRL is kept until its next update: the instance that fetched one before the revocation
    // learns of it later; a fresh fetch sees it at once.
    assert!(
        earlier
            .refresh_revocations()
            .await
            .unwrap()
            .newly_revoked
            .is_empty()
    );
    // The SRS learns it from the CRL: status revoked, billing refused with the mentions.
    assert_eq!(
        pos.refresh_revocations().await.unwrap().newly_revoked,
        ["Caisse volée"]
    );
    assert_eq!(
        pos.certificates(OffsetDateTime::now_utc()).unwrap()[0].health,
        Health::Revoked
    );
    let BillingGuard::Blocked { mentions, .. } = pos
        .billing_guard(&number, OffsetDateTime::now_utc())
        .unwrap()
    else {
        panic!("billing refused")
    };
    assert_eq!(
        mentions,
        ["*** CERTIFICAT INVALIDE ***", "NE PAS REMETTRE AU CLIENT"]
    );

    // Known revoked, the certificate is not presented again: replace and delete say what to do
    // instead, in both languages, without a round trip the authority would refuse.
    for result in [
        pos.replace(&nick("Caisse volée"), Confirmation::Confirmed)
            .await
            .map(|_| ()),
        pos.delete(&nick("Caisse volée"), Confirmation::Confirmed)
            .await,
    ] {
        let Err(Error::Unusable { health, notice, .. }) = result else {
            panic!("unusable expected")
        };
        assert_eq!(health, Health::Revoked);
        assert!(
            notice.english.contains("was revoked on") && notice.english.contains("enrol"),
            "{notice:?}"
        );
        assert!(
            notice.french.contains("a été révoqué le") && notice.french.contains("enrol"),
            "{notice:?}"
        );
    }
    assert!(
        pos.certificates(OffsetDateTime::now_utc()).unwrap().len() == 1,
        "the revoked certificate stays visible"
    );
}

async fn reqwest_get(s: &Served, path: &str) -> Vec<u8> {
    let config =
        websrm_crypto::tls::client_config(std::slice::from_ref(&s.tls_root), None).unwrap();
    let client = reqwest::Client::builder()
        .use_preconfigured_tls(std::sync::Arc::unwrap_or_clone(config))
        .build()
        .unwrap();
    let response = client
        .get(format!("{}{path}", s.enrolment_base))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(response.headers()["content-type"], "application/pkix-crl");
    response.bytes().await.unwrap().to_vec()
}

/// The CRL number OpenSSL reads from a DER CRL.
fn crl_number(crl: &[u8]) -> u128 {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("crl.der"), crl).unwrap();
    let out = std::process::Command::new("openssl")
        .args([
            "crl",
            "-inform",
            "DER",
            "-in",
            "crl.der",
            "-noout",
            "-crlnumber",
        ])
        .current_dir(tmp.path())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let hex = text
        .trim()
        .strip_prefix("crlNumber=0x")
        .unwrap_or_else(|| panic!("{text}"));
    u128::from_str_radix(hex, 16).unwrap()
}

/// The CRL is served again as it was while nothing more is revoked; a new one takes a number
/// that only grows, also when two revocations fall in the same second and from another process
/// of the same authority.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crl_numbers_only_grow_and_the_crl_is_kept_while_nothing_more_is_revoked() {
    use crate::support::{client, enrol, headers, michel};
    use websrm_tests::websrm::domain::DeviceIdState;
    let s = Served::start(Environment::Dev);
    let c = client(&s, Environment::Dev);
    let mut serials = Vec::new();
    for name in ["Caisse 1", "Caisse 2"] {
        let (held, _) = enrol(
            &c,
            &headers(Environment::Dev, Some(DeviceIdState::Unassigned)),
            &michel(name),
        )
        .await;
        serials.push(held.info.serial);
    }
    let first = reqwest_get(&s, "/crl").await;
    assert_eq!(
        reqwest_get(&s, "/crl").await,
        first,
        "kept while nothing changes"
    );
    let mut numbers = vec![crl_number(&first)];
    for serial in serials {
        s.authority
            .revocation()
            .revoke(
                serial,
                RevocationReason::KeyCompromise,
                RevocationChannel::CustomerService,
                "agent:A42",
                "",
            )
            .unwrap();
        numbers.push(crl_number(&reqwest_get(&s, "/crl").await));
    }
    // Another process of the authority: the same folder (and so the same SQLite registry), its
    // own CRL cache. (On PostgreSQL the served registry is not the folder's.)
    if std::env::var(websrm_tests::POSTGRES_ENV).is_err() {
        let files = websrm_authority::AuthorityFiles::open_or_create(
            s.dir.path(),
            Environment::Dev,
            OffsetDateTime::now_utc(),
        )
        .unwrap();
        let (other, _) = websrm_authority::Authority::new(
            files,
            Environment::Dev,
            std::sync::Arc::new(websrm_authority::SystemClock),
        );
        numbers.push(crl_number(&other.revocation().crl().unwrap()));
    }
    assert!(numbers.len() >= 3);
    assert!(
        numbers.windows(2).all(|w| w[0] < w[1]),
        "CRL numbers {numbers:?}"
    );
}
