//! The server mode over real TLS: a device whose certificate carries the server administrator's
//! subject signs each sale with the sale's QST number, and the remote server transmits it with
//! its own certificate (mutual TLS, `SIGNATRANSM`, `EMPRCERTIFTRANSM`), keeping it offline and
//! batching it as a device does; documents the same way.

use time::{Duration, OffsetDateTime};
use websrm_tests::websrm::domain::{DeviceId, Environment, IdentificationNumber};
use websrm_tests::websrm::essai::sample_document;
use websrm_tests::websrm::transaction::Checks;
use websrm_tests::websrm::{DeviceIdAnswer, Error, Origin, Outcome, SERVER_INSTALLATION, Srs};
use websrm_tests::websrm_protocol::document::{DocumentRequest, DocumentType};
use websrm_tests::{Relay, Served, example_sale};

fn administrator() -> IdentificationNumber {
    "3601837200".parse().unwrap()
}

/// A device in the server mode (its certificate the server administrator's subject) and the
/// remote server (case 500's certificate), whose API host is reached through `relay`.
async fn device_and_server(
    s: &Served,
    relay: &Relay,
    dir: &std::path::Path,
) -> (Srs, DeviceId, Srs) {
    let device = Srs::open(s.srs_config(&dir.join("device.db"))).unwrap();
    device
        .enrol_in_server_mode(
            administrator(),
            "B8T8-W8W8".parse().unwrap(),
            "Caisse avec serveur".parse().unwrap(),
            "-05:00".parse().unwrap(),
            Some(DeviceIdAnswer::RequestNew),
        )
        .await
        .unwrap();
    let id = device.device_id().unwrap().unwrap();
    let server = Srs::open(
        s.srs_config_via(&relay.base, &dir.join("server.db"))
            .with_installation(SERVER_INSTALLATION),
    )
    .unwrap();
    server
        .enrol_server(
            administrator(),
            "B8T8-W8W8".parse().unwrap(),
            "Certificat du serveur".parse().unwrap(),
            "-05:00".parse().unwrap(),
        )
        .await
        .unwrap();
    (device, id, server)
}

fn received(s: &Served) -> u64 {
    s.authority
        .registry()
        .transaction_count(Environment::Dev)
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_remote_server_transmits_what_its_devices_sign_and_keeps_it_offline() {
    let s = Served::start(Environment::Dev);
    let relay = Relay::start(&s.api_base);
    let dir = tempfile::tempdir().unwrap();
    let (device, id, server) = device_and_server(&s, &relay, dir.path()).await;
    let start = OffsetDateTime::now_utc() - Duration::minutes(10);
    let checks = Checks::default().with_sums();
    let admin = administrator();

    // The device signs with its own certificate and the sale's QST number.
    let first = device
        .sign_sale(&Origin::Host, &admin, example_sale(start, 1, 1), checks)
        .unwrap();
    let own = device
        .certificates(OffsetDateTime::now_utc())
        .unwrap()
        .remove(0);
    assert_eq!(first.thumbprint, own.thumbprint.to_string());
    let sent = server
        .relay(&admin, id, first.clone(), checks)
        .await
        .unwrap();
    let Outcome::Transmitted { psi_no_trans, .. } = &sent.outcome else {
        panic!("{:?}", sent.outcome)
    };
    assert_eq!(sent.device_id, id);
    assert!(sent.qr_url.starts_with("https://"), "{}", sent.qr_url);
    assert_eq!(received(&s), 1);
    // Handed over again: the same answer, nothing sent twice.
    let again = server.relay(&admin, id, first, checks).await.unwrap();
    assert!(
        matches!(&again.outcome, Outcome::Transmitted { psi_no_trans: p, .. } if p == psi_no_trans),
        "{:?}",
        again.outcome
    );
    assert_eq!(received(&s), 1);

    // The server cannot reach the authority: what the device signs waits in the server's
    // outbox, and leaves in a batch with the next transaction once the link returns.
    relay.set_cut(true);
    for n in 2..=3 {
        let signed = device
            .sign_sale(
                &Origin::Host,
                &admin,
                example_sale(start, n, n as i64),
                checks,
            )
            .unwrap();
        let kept = server.relay(&admin, id, signed, checks).await.unwrap();
        assert!(
            matches!(kept.outcome, Outcome::Offline { .. }),
            "{:?}",
            kept.outcome
        );
    }
    assert_eq!(server.outbox(10).unwrap().pending, 2);
    assert_eq!(
        device.outbox(10).unwrap().pending,
        0,
        "the device keeps none"
    );
    relay.set_cut(false);
    let signed = device
        .sign_sale(&Origin::Host, &admin, example_sale(start, 4, 4), checks)
        .unwrap();
    let t = server.relay(&admin, id, signed, checks).await.unwrap();
    assert!(
        matches!(t.outcome, Outcome::Transmitted { .. }),
        "{:?}",
        t.outcome
    );
    assert_eq!((t.batch.sent, t.batch.refused), (2, 0), "{:?}", t.batch);
    assert_eq!(received(&s), 4);
    assert_eq!(server.outbox(10).unwrap().pending, 0);

    // Documents: the device signs, the server sends.
    for kind in ["RUT", "HAB"] {
        let document = sample_document(kind, id, OffsetDateTime::now_utc()).unwrap();
        let signed = device.sign_document(&admin, document).unwrap();
        let number = server
            .relay_document(
                &admin,
                id,
                "567891234RT0001".parse().unwrap(),
                "5678912340TQ0001".parse().unwrap(),
                signed,
            )
            .await
            .unwrap();
        assert_eq!(number.len(), 10, "{kind}: {number}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_a_server_cannot_relay_is_refused_with_a_reason() {
    let s = Served::start(Environment::Dev);
    let relay = Relay::start(&s.api_base);
    let dir = tempfile::tempdir().unwrap();
    let (device, id, server) = device_and_server(&s, &relay, dir.path()).await;
    let start = OffsetDateTime::now_utc() - Duration::minutes(10);
    let checks = Checks::default().with_sums();
    let admin = administrator();

    // A device the authority never issued: the server's request is refused as a whole (047E),
    // and the transaction is not sent again.
    let signed = device
        .sign_sale(&Origin::Host, &admin, example_sale(start, 1, 1), checks)
        .unwrap();
    let stranger: DeviceId = "1111-2222-3333".parse().unwrap();
    let refused = server
        .relay(&admin, stranger, signed.clone(), checks)
        .await
        .unwrap();
    let Outcome::Refused { errors, .. } = &refused.outcome else {
        panic!("{:?}", refused.outcome)
    };
    assert!(
        errors.iter().any(|e| e.id.to_string().ends_with("047E")),
        "{errors:?}"
    );
    assert_eq!(received(&s), 0);

    // A transaction whose content the authority would refuse is not relayed at all.
    let mut altered = signed.clone();
    altered.sale.amounts.after_tax = "+000000099.99".parse().unwrap();
    assert!(matches!(
        server.relay(&admin, id, altered, checks).await,
        Err(Error::Transaction(_))
    ));
    // Without the server administrator's certificate there is nothing to transmit with.
    let bare = Srs::open(
        s.srs_config(&dir.path().join("bare.db"))
            .with_installation(SERVER_INSTALLATION),
    )
    .unwrap();
    assert!(matches!(
        bare.relay(&admin, id, signed, checks).await,
        Err(Error::NotFound(_))
    ));
    // A document the device did not sign is not sent.
    let unsigned = DocumentRequest::new(DocumentType::ThirdParty, [("NM", "Vestiaire Untel")]);
    assert!(matches!(
        server
            .relay_document(
                &admin,
                id,
                "567891234RT0001".parse().unwrap(),
                "5678912340TQ0001".parse().unwrap(),
                unsigned,
            )
            .await,
        Err(Error::BadAnswer(_))
    ));
}

/// The same through two agents: the device's signs, the server's relays.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_agents_run_the_server_mode_the_device_signing_and_the_server_relaying() {
    use crate::agent::{Agent, call};
    use serde_json::json;
    let s = Served::start(Environment::Dev);
    let relay = Relay::start(&s.api_base);
    let dir = tempfile::tempdir().unwrap();
    let device_store = dir.path().join("device.db");
    let device = Agent::start(s.srs_config(&device_store), &device_store).await;
    let server_store = dir.path().join("server.db");
    let server = Agent::start(s.srs_config_via(&relay.base, &server_store), &server_store).await;
    let (dt, st) = (Some(device.token.as_str()), Some(server.token.as_str()));

    let (status, enrolled) = call(
        &device,
        "POST",
        "/v1/server-mode-enrolments",
        Some(json!({
            "identification_number": "3601837200",
            "authorization_code": "B8T8-W8W8",
            "nickname": "Caisse avec serveur",
            "device_id_answer": {"answer": "request_new"}
        })),
        dt,
    )
    .await;
    assert_eq!(status, 201, "{enrolled}");
    let device_id = enrolled["device_id"].as_str().unwrap().to_owned();
    let (status, enrolled) = call(
        &server,
        "POST",
        "/v1/server-enrolments",
        Some(json!({
            "identification_number": "3601837200",
            "authorization_code": "B8T8-W8W8",
            "nickname": "Certificat du serveur"
        })),
        st,
    )
    .await;
    assert_eq!(status, 201, "{enrolled}");

    let start = OffsetDateTime::now_utc() - Duration::minutes(10);
    let sale = |n: u64| websrm_tests::example_sale_json(start, n, n as i64);
    let sign = |n: u64| {
        let body = json!({"identification_number": "3601837200", "transaction": sale(n)});
        let device = &device;
        async move { call(device, "POST", "/v1/signed-transactions", Some(body), dt).await }
    };
    let (status, signed) = sign(1).await;
    assert_eq!(status, 200, "{signed}");
    assert_eq!(signed["device_id"], device_id.as_str());
    assert!(
        signed["transaction"]["signa"]["actu"].is_string(),
        "{signed}"
    );
    let relayed = |signed: &serde_json::Value| {
        json!({
            "identification_number": "3601837200",
            "device_id": signed["device_id"],
            "transaction": signed["transaction"]
        })
    };
    let (status, sent) = call(
        &server,
        "POST",
        "/v1/relayed-transactions",
        Some(relayed(&signed)),
        st,
    )
    .await;
    assert_eq!(
        (status, sent["outcome"].as_str()),
        (200, Some("transmitted")),
        "{sent}"
    );
    assert_eq!(received(&s), 1);

    // Offline on the server: kept, and sent by the server's agent once the link returns.
    relay.set_cut(true);
    let (_, signed) = sign(2).await;
    let (status, kept) = call(
        &server,
        "POST",
        "/v1/relayed-transactions",
        Some(relayed(&signed)),
        st,
    )
    .await;
    assert_eq!(
        (status, kept["outcome"].as_str()),
        (200, Some("offline")),
        "{kept}"
    );
    relay.set_cut(false);
    let (status, flushed) = call(&server, "POST", "/v1/outbox/flush", None, st).await;
    assert_eq!(status, 200, "{flushed}");
    assert_eq!(received(&s), 2, "{flushed}");

    // A signed transaction altered on the way is refused by the server's check.
    let (_, signed) = sign(3).await;
    let mut altered = relayed(&signed);
    altered["transaction"]["mont"]["apresTax"] = json!("+000000099.99");
    let (status, bad) = call(
        &server,
        "POST",
        "/v1/relayed-transactions",
        Some(altered),
        st,
    )
    .await;
    assert_eq!(
        (status, bad["kind"].as_str()),
        (422, Some("invalid")),
        "{bad}"
    );

    // A declaration: signed on the device, sent by the server.
    let sample =
        sample_document("HAB", device_id.parse().unwrap(), OffsetDateTime::now_utc()).unwrap();
    let declaration: serde_json::Map<String, serde_json::Value> = sample
        .kind
        .parameters()
        .iter()
        .filter(|p| !matches!(**p, "SI" | "EM"))
        .map(|p| ((*p).to_owned(), json!(sample.get(p).unwrap_or_default())))
        .collect();
    let (status, signed) = call(
        &device,
        "POST",
        "/v1/signed-documents",
        Some(json!({
            "identification_number": "3601837200",
            "document_type": "HAB",
            "parameters": declaration
        })),
        dt,
    )
    .await;
    assert_eq!(status, 200, "{signed}");
    assert_eq!(
        signed["parameters"]["SI"].as_str().map(str::len),
        Some(88),
        "{signed}"
    );
    let (status, sent) = call(
        &server,
        "POST",
        "/v1/relayed-documents",
        Some(json!({
            "identification_number": "3601837200",
            "device_id": device_id,
            "gst": "567891234RT0001",
            "qst": "5678912340TQ0001",
            "document_type": "HAB",
            "parameters": signed["parameters"]
        })),
        st,
    )
    .await;
    assert_eq!(status, 200, "{sent}");
    assert_eq!(sent["no_doc"].as_str().map(str::len), Some(10), "{sent}");
}
