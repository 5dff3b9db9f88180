//! Transmission from the facade to the local authority over real TLS: sales recorded in the
//! outbox before they leave, offline mode when the link is cut, the batch delivered when it
//! returns (split at 256 KB), refusals handled by their `codRetour` class, and a crash between
//! recording and sending.

use serde_json::json;
use time::{Duration, OffsetDateTime};
use websrm_tests::websrm::domain::{
    Environment, IdentificationNumber, RevocationChannel, RevocationReason,
};
use websrm_tests::websrm::transaction::{Checks, Sale, qr_plaintext};
use websrm_tests::websrm::{
    AuthorityAddress, COMMUNICATION_PROBLEM, Config, DeviceIdAnswer, HistoryEvent,
    MAX_REQUEST_BYTES, OperatorEnrolment, Origin, Outcome, Resend, Srs,
};
use websrm_tests::websrm_crypto::pem;
use websrm_tests::websrm_domain::published::MICHEL_UNTEL;
use websrm_tests::{Relay, Served, example_sale_json, michel_enrolment, test_product};

/// The plaintext of a QR code's percent-encoded ciphertext, decrypted with the authority's
/// `certifPSI` key.
fn qr_text(s: &Served, encoded: &str) -> String {
    use base64::Engine as _;
    use websrm_tests::websrm_crypto::{KeyEncryptionKey, PsiKey, SealedKey};
    use websrm_tests::websrm_store::{FileKeyProtector, KeyProtector};
    let mut bytes = Vec::new();
    let mut rest = encoded.as_bytes();
    while let Some((&b, tail)) = rest.split_first() {
        if b == b'%' {
            let hex = std::str::from_utf8(&tail[..2]).unwrap();
            bytes.push(u8::from_str_radix(hex, 16).unwrap());
            rest = &tail[2..];
        } else {
            bytes.push(b);
            rest = tail;
        }
    }
    let ciphertext = base64::engine::general_purpose::STANDARD
        .decode(bytes)
        .unwrap();
    let kek = FileKeyProtector::beside(&s.dir.path().join("authority.db"))
        .key_encryption_key()
        .unwrap();
    let sealed = SealedKey::from_bytes(std::fs::read(s.dir.path().join("psi-key.sealed")).unwrap());
    let psi = PsiKey::open(&sealed, &KeyEncryptionKey::from_bytes(*kek), "psi").unwrap();
    String::from_utf8(psi.decrypt_blocks(&ciphertext).unwrap()).unwrap()
}

/// The text of a QR code drawn in SVG by websrm (a white rectangle and one path of dark
/// squares `M{x} {y}h{w}v{h}H{x}V{y}`), rasterised and read by rqrr.
fn decode_qr_svg(svg: &str) -> String {
    let number = |name: &str| -> usize {
        let at = svg.find(&format!("{name}=\"")).unwrap() + name.len() + 2;
        svg[at..].split('"').next().unwrap().parse().unwrap()
    };
    let (width, height) = (number("width"), number("height"));
    let mut dark = vec![false; width * height];
    let path = svg
        .split(" d=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    for square in path.split('M').filter(|p| !p.is_empty()) {
        let values: Vec<usize> = square
            .split(|c: char| !c.is_ascii_digit())
            .filter(|v| !v.is_empty())
            .map(|v| v.parse().unwrap())
            .collect();
        let [left, top, w, h, ..] = values[..] else {
            panic!("{square}")
        };
        for y in top..top + h {
            for x in left..left + w {
                dark[y * width + x] = true;
            }
        }
    }
    let mut image = rqrr::PreparedImage::prepare_from_greyscale(width, height, |x, y| {
        if dark[y * width + x] { 0 } else { 255 }
    });
    let grids = image.detect_grids();
    assert_eq!(grids.len(), 1, "one QR code in the image");
    grids[0].decode().unwrap().1
}

/// An SRS of the test product whose API host is reached through `relay`.
fn srs_through(s: &Served, relay: &Relay, store: &std::path::Path) -> Srs {
    Srs::open(s.srs_config_via(&relay.base, store)).unwrap()
}

fn michel() -> OperatorEnrolment {
    michel_enrolment("Caisse du bar")
}

/// Sale `n` of the day, recorded `n` seconds after `start` (Eastern time), numbered `n`.
fn sale(start: OffsetDateTime, n: u32) -> Sale {
    websrm_tests::example_sale(start, n.into(), n.into())
}

fn operator() -> IdentificationNumber {
    MICHEL_UNTEL.id()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sales_go_out_wait_offline_and_leave_in_a_batch_when_the_link_returns() {
    let s = Served::start(Environment::Dev);
    let relay = Relay::start(&s.api_base);
    let dir = tempfile::tempdir().unwrap();
    let srs = srs_through(&s, &relay, &dir.path().join("pos.db"));
    srs.enrol(&michel(), Some(DeviceIdAnswer::RequestNew))
        .await
        .unwrap();
    let device = srs.device_id().unwrap().unwrap();
    // The day starts ten minutes ago, so that every sale is in the authority's past.
    let start = OffsetDateTime::now_utc() - Duration::minutes(10);
    let checks = Checks::default().with_sums();
    let mut signed = Vec::new();

    // Online: each sale is received and gets its psiNoTrans.
    for n in 1..=3 {
        let t = srs
            .transmit(&Origin::Host, &operator(), sale(start, n), checks)
            .await
            .unwrap();
        let Outcome::Transmitted {
            psi_no_trans,
            psi_dat_trans,
        } = &t.outcome
        else {
            panic!("sale {n} was not transmitted: {:?}", t.outcome);
        };
        assert_eq!(psi_no_trans.len(), 19, "{psi_no_trans}");
        assert_eq!(psi_dat_trans.len(), 14, "{psi_dat_trans}");
        assert_eq!(t.outcome.mention(), None);
        assert_eq!(
            t.mentions
                .iter()
                .map(|m| (m.order, m.text.as_str()))
                .collect::<Vec<_>>(),
            [(1, "CARTE DE CRÉDIT"), (6, "PAIEMENT REÇU")]
        );
        assert_eq!(t.device_id, device);
        signed.push(t.transaction);
    }
    assert_eq!(srs.outbox(10).unwrap().pending, 0);

    // The link is cut: each sale is kept, the bill says so, offline mode starts once.
    relay.set_cut(true);
    for n in 4..=8 {
        let t = srs
            .transmit(&Origin::Host, &operator(), sale(start, n), checks)
            .await
            .unwrap();
        assert!(
            matches!(t.outcome, Outcome::Offline { .. }),
            "sale {n}: {:?}",
            t.outcome
        );
        assert_eq!(t.outcome.mention(), Some(COMMUNICATION_PROBLEM));
        assert_eq!(
            t.mentions.last().map(|m| (m.order, m.text.as_str())),
            Some((10, COMMUNICATION_PROBLEM))
        );
        signed.push(t.transaction);
    }
    let outbox = srs.outbox(100).unwrap();
    assert_eq!(outbox.pending, 5);
    assert!(outbox.offline.is_some());
    assert_eq!(
        outbox
            .entries
            .iter()
            .map(|e| e.no_trans.clone())
            .collect::<Vec<_>>(),
        (4..=8).map(|n| format!("{n:010}")).collect::<Vec<_>>()
    );
    // Each new sale tried again the ones before it (no probing: only transactions try).
    assert_eq!(
        outbox
            .entries
            .iter()
            .map(|e| e.attempts)
            .collect::<Vec<_>>(),
        [5, 4, 3, 2, 1]
    );
    let started = |srs: &Srs| {
        srs.history()
            .unwrap()
            .iter()
            .filter(|h| matches!(h.event, HistoryEvent::OfflineStarted { .. }))
            .count()
    };
    assert_eq!(started(&srs), 1, "offline mode is logged when it starts");

    // A flush while still cut changes nothing but the count of attempts.
    let flushed = srs.flush().await.unwrap();
    assert!(
        flushed.offline.is_some() && flushed.sent == 0,
        "{flushed:?}"
    );
    assert_eq!(srs.outbox(1).unwrap().pending, 5);

    // The link returns: the next sale goes with the batch, which the authority takes whole
    // (SIGNATRANSM over the batch oldest first, then the current sale).
    relay.set_cut(false);
    let t = srs
        .transmit(&Origin::Host, &operator(), sale(start, 9), checks)
        .await
        .unwrap();
    assert!(
        matches!(t.outcome, Outcome::Transmitted { .. }),
        "{:?}",
        t.outcome
    );
    assert_eq!((t.batch.sent, t.batch.refused), (5, 0), "{:?}", t.batch);
    assert_eq!(t.batch.batches.len(), 1);
    assert_eq!(t.batch.batches[0].0.len(), 10, "noLot: {:?}", t.batch);
    // The bill's QR code as an image: read back by a decoder of its own, it is the URL.
    let svg = t.qr_svg().unwrap();
    assert_eq!(decode_qr_svg(&svg), t.qr_url);
    signed.push(t.transaction);
    let outbox = srs.outbox(10).unwrap();
    assert_eq!((outbox.pending, outbox.offline), (0, None));
    assert!(
        srs.history()
            .unwrap()
            .iter()
            .any(|h| matches!(h.event, HistoryEvent::OfflineEnded { .. })),
        "offline mode is logged when it ends"
    );

    // The QR code of the last bill: what Revenu Québec's site reads with certifPSI's key is
    // table 42's thirteen values.
    let encoded = t
        .qr_url
        .strip_prefix("https://cnfr.qr.mev-web.ca?f=")
        .expect("the DEV base");
    assert!(
        encoded
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'%'),
        "{encoded}"
    );
    let text = qr_text(&s, encoded);
    assert_eq!(text, qr_plaintext(signed.last().unwrap()));
    assert_eq!(text.len(), 329);

    // One unbroken chain: each preced is the actu before it.
    for pair in signed.windows(2) {
        assert_eq!(
            pair[1].signatures.preced.as_str(),
            pair[0].signatures.actu.as_str()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_over_256_kb_leaves_in_parts_oldest_first() {
    let s = Served::start(Environment::Dev);
    let relay = Relay::start(&s.api_base);
    let dir = tempfile::tempdir().unwrap();
    let srs = srs_through(&s, &relay, &dir.path().join("pos.db"));
    srs.enrol(&michel(), Some(DeviceIdAnswer::RequestNew))
        .await
        .unwrap();
    let start = OffsetDateTime::now_utc() - Duration::minutes(4);
    relay.set_cut(true);
    let count = 300;
    for n in 1..=count {
        srs.transmit(
            &Origin::Host,
            &operator(),
            sale(start, n),
            Checks::default(),
        )
        .await
        .unwrap();
    }
    let outbox = srs.outbox(usize::MAX).unwrap();
    let total: usize = outbox.entries.iter().map(|e| e.body.len() + 1).sum();
    assert!(
        total > MAX_REQUEST_BYTES,
        "the batch must not fit in one request: {total} bytes"
    );
    relay.set_cut(false);
    let delivery = srs.flush().await.unwrap();
    assert_eq!(delivery.sent, count as usize, "{delivery:?}");
    assert!(delivery.requests >= 2, "{delivery:?}");
    assert_eq!(delivery.batches.len(), delivery.requests);
    // Each part has its own noLot, numbered in the order the parts left.
    let lots: Vec<u64> = delivery
        .batches
        .iter()
        .map(|(no, _)| no.parse().unwrap())
        .collect();
    assert!(lots.windows(2).all(|w| w[0] < w[1]), "{lots:?}");
    assert_eq!(srs.outbox(1).unwrap().pending, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_transaction_is_never_sent_again() {
    let s = Served::start(Environment::Dev);
    let relay = Relay::start(&s.api_base);
    let dir = tempfile::tempdir().unwrap();
    let srs = srs_through(&s, &relay, &dir.path().join("pos.db"));
    let view = srs
        .enrol(&michel(), Some(DeviceIdAnswer::RequestNew))
        .await
        .unwrap();
    let start = OffsetDateTime::now_utc() - Duration::minutes(4);
    // Revoked at the authority, unknown to the device: 011E, codRetour 12, never resent.
    s.authority
        .revocation()
        .revoke(
            view.serial,
            RevocationReason::KeyCompromise,
            RevocationChannel::CustomerService,
            "agent:A1",
            "",
        )
        .unwrap();
    let t = srs
        .transmit(
            &Origin::Host,
            &operator(),
            sale(start, 1),
            Checks::default(),
        )
        .await
        .unwrap();
    let Outcome::Refused { errors, resend } = &t.outcome else {
        panic!("{:?}", t.outcome);
    };
    assert_eq!(errors[0].id.to_string(), "JW00B999011E");
    assert_eq!(*resend, Resend::Never);
    assert_eq!(t.outcome.mention(), None, "it was received, and refused");
    assert_eq!(
        srs.outbox(1).unwrap().pending,
        0,
        "a refused transaction is not pending"
    );
    assert!(
        srs.history().unwrap().iter().any(|h| matches!(
            &h.event,
            HistoryEvent::AuthorityError { error_id, .. } if error_id.to_string() == "JW00B999011E"
        )),
        "every error is logged"
    );
}

/// The child of [`a_crash_before_or_after_sending_loses_nothing_and_duplicates_nothing`]: opens the SRS named by
/// [`CHILD`] and transmits one sale, with `WEBSRM_CRASH_AT` set by the parent.
const CHILD: &str = "WEBSRM_TRANSMIT_CHILD";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "run as a child process by a_crash_before_or_after_sending_loses_nothing_and_duplicates_nothing"]
async fn transmit_crash_child() {
    let Ok(spec) = std::env::var(CHILD) else {
        return;
    };
    let [store, enrolment, api, trust, start, n]: [&str; 6] =
        spec.split('|').collect::<Vec<_>>().try_into().unwrap();
    let address = AuthorityAddress::Local {
        enrolment: enrolment.into(),
        api: api.into(),
        trust_pem: std::fs::read_to_string(trust).unwrap(),
    };
    let srs =
        Srs::open(Config::new(Environment::Dev, test_product(), store).with_authority(address))
            .unwrap();
    let start = OffsetDateTime::from_unix_timestamp(start.parse().unwrap()).unwrap();
    let _ = srs
        .transmit(
            &Origin::Host,
            &operator(),
            sale(start, n.parse().unwrap()),
            Checks::default(),
        )
        .await;
}

/// How many transactions the authority has recorded.
fn received(s: &Served) -> u64 {
    s.authority
        .registry()
        .transaction_count(Environment::Dev)
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_before_or_after_sending_loses_nothing_and_duplicates_nothing() {
    use std::os::unix::process::ExitStatusExt;
    let s = Served::start(Environment::Dev);
    let relay = Relay::start(&s.api_base);
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("pos.db");
    let start = OffsetDateTime::now_utc() - Duration::minutes(4);
    {
        let srs = srs_through(&s, &relay, &store);
        srs.enrol(&michel(), Some(DeviceIdAnswer::RequestNew))
            .await
            .unwrap();
        srs.transmit(
            &Origin::Host,
            &operator(),
            sale(start, 1),
            Checks::default(),
        )
        .await
        .unwrap();
    }
    assert_eq!(received(&s), 1);
    let trust = s.dir.path().join("tls-root.pem");
    for (n, point) in [
        (2, "recorded"),
        (3, "before-transmit"),
        (4, "after-transmit"),
    ] {
        let spec = format!(
            "{}|{}|{}|{}|{}|{n}",
            store.display(),
            s.enrolment_base,
            relay.base,
            trust.display(),
            start.unix_timestamp()
        );
        let status = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--ignored",
                "--exact",
                "transmit::transmit_crash_child",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD, spec)
            .env("WEBSRM_CRASH_AT", point)
            .stdout(std::process::Stdio::null())
            .status()
            .unwrap();
        assert_eq!(status.signal(), Some(9), "killed at {point}");
    }
    // Sales 2 and 3 were recorded and never left; sale 4 left with them, and the authority
    // recorded all three, but its answer was lost with the process. All three are pending.
    let srs = srs_through(&s, &relay, &store);
    let outbox = srs.outbox(10).unwrap();
    assert_eq!(outbox.pending, 3);
    assert!(outbox.entries.iter().all(|e| e.attempts == 0));
    assert_eq!(received(&s), 4);
    // The flush sends them again, unchanged, in one batch: the authority knows them by their
    // actu and records none twice.
    let delivery = srs.flush().await.unwrap();
    assert_eq!((delivery.sent, delivery.requests), (3, 1), "{delivery:?}");
    assert_eq!(received(&s), 4);
    assert_eq!(srs.outbox(1).unwrap().pending, 0);
    // Nothing left to send: a second flush sends nothing.
    let again = srs.flush().await.unwrap();
    assert_eq!((again.requests, again.sent), (0, 0));
    assert_eq!(received(&s), 4);
}

/// The example sale of the docs, numbered `1000 + n` and recorded `n` seconds after `start`.
fn agent_sale(start: OffsetDateTime, n: u32) -> serde_json::Value {
    example_sale_json(start, 1000 + u64::from(n), n.into())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agent_transmits_once_per_key_keeps_offline_and_flushes_in_the_background() {
    use crate::agent::{Agent, call, enrolment};
    let s = Served::start(Environment::Dev);
    let relay = Relay::start(&s.api_base);
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("pos.db");
    let agent = Agent::start(s.srs_config_via(&relay.base, &store), &store).await;
    let token = Some(agent.token.as_str());
    let (status, body) = call(
        &agent,
        "POST",
        "/v1/enrolments",
        Some(enrolment("Caisse du bar", Some("request_new"))),
        token,
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let start = OffsetDateTime::now_utc() - Duration::minutes(4);
    let keyed = |key: &'static str, body: serde_json::Value| {
        let url = format!("{}/v1/transactions", agent.url);
        let token = agent.token.clone();
        async move {
            let response = reqwest::Client::new()
                .post(url)
                .bearer_auth(token)
                .header("Idempotency-Key", key)
                .json(&body)
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            (status, response.json::<serde_json::Value>().await.unwrap())
        }
    };

    // Transmitted, and a retry with the same key records nothing more.
    let first = json!({ "transaction": agent_sale(start, 1) });
    let (status, sent) = keyed("sale-1", first.clone()).await;
    assert_eq!(status, 200, "{sent}");
    assert_eq!(sent["outcome"], "transmitted", "{sent}");
    assert_eq!(sent["psiNoTrans"].as_str().map(str::len), Some(19));
    assert_eq!(
        sent["transaction"]["signa"]["actu"].as_str().map(str::len),
        Some(88)
    );
    let qr = sent["qr_url"].as_str().unwrap();
    let encoded = qr.strip_prefix("https://cnfr.qr.mev-web.ca?f=").unwrap();
    assert_eq!(qr_text(&s, encoded).len(), 329);
    assert_eq!(sent["mentions"][0]["text"], "CARTE DE CRÉDIT", "{sent}");
    let (status, again) = keyed("sale-1", first).await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(
        (&again["psiNoTrans"], &again["outbox_id"]),
        (&sent["psiNoTrans"], &sent["outbox_id"])
    );
    assert_eq!(received(&s), 1);
    let (status, conflict) = keyed("sale-1", json!({ "transaction": agent_sale(start, 2) })).await;
    assert_eq!(
        (status, &conflict["kind"]),
        (422, &json!("idempotency_conflict")),
        "{conflict}"
    );

    // What the authority would refuse is refused here, with its id and the field.
    let mut bad = agent_sale(start, 2);
    bad["noTrans"] = "00000010020".into();
    let (status, refused) = call(
        &agent,
        "POST",
        "/v1/transactions",
        Some(json!({ "transaction": bad })),
        token,
    )
    .await;
    assert_eq!(status, 422, "{refused}");
    assert_eq!(refused["errors"][0]["id"], "JW00B999406E", "{refused}");
    assert_eq!(refused["field"], "transActu/noTrans", "{refused}");

    // Offline: kept, with the mention; health and the outbox show it.
    relay.set_cut(true);
    let (status, kept) = call(
        &agent,
        "POST",
        "/v1/transactions",
        Some(json!({ "transaction": agent_sale(start, 3) })),
        token,
    )
    .await;
    assert_eq!(status, 200, "{kept}");
    assert_eq!(kept["outcome"], "offline", "{kept}");
    assert_eq!(kept["mention"], "PROBLÈME DE COMMUNICATION");
    let (_, outbox) = call(&agent, "GET", "/v1/outbox", None, token).await;
    assert_eq!(outbox["pending"], 1, "{outbox}");
    assert!(outbox["offline"]["since"].is_string(), "{outbox}");
    let (_, health) = call(&agent, "GET", "/v1/health", None, token).await;
    assert_eq!(health["pending_transactions"], 1, "{health}");

    // The link returns: the agent sends it by itself, within its first retries.
    relay.set_cut(false);
    let mut pending = 1;
    for _ in 0..100 {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        let (_, outbox) = call(&agent, "GET", "/v1/outbox", None, token).await;
        pending = outbox["pending"].as_u64().unwrap();
        if pending == 0 {
            assert_eq!(outbox["offline"], serde_json::Value::Null, "{outbox}");
            break;
        }
    }
    assert_eq!(pending, 0, "the background flush delivered the outbox");
    assert_eq!(received(&s), 2);
    let (status, flushed) = call(&agent, "POST", "/v1/outbox/flush", None, token).await;
    assert_eq!(status, 200, "{flushed}");
    assert_eq!(flushed["flushed"]["requests"], 0, "{flushed}");
}

/// An API host that answers what the test scripts: TLS on loopback under its own root, each
/// request answered with the next scripted status and body, each request's body kept.
struct ScriptedApi {
    base: String,
    root_pem: String,
    answers: std::sync::Arc<std::sync::Mutex<std::collections::VecDeque<(u16, String)>>>,
    bodies: std::sync::Arc<std::sync::Mutex<Vec<serde_json::Value>>>,
    task: tokio::task::JoinHandle<()>,
}

impl ScriptedApi {
    async fn start() -> Self {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        use websrm_tests::websrm_crypto::tls::{ClientAuth, LocalTlsIdentity, server_config};
        let identity =
            LocalTlsIdentity::generate(&["127.0.0.1".to_owned()], OffsetDateTime::now_utc(), 1)
                .unwrap();
        let config =
            server_config(identity.chain.clone(), &identity.key, ClientAuth::None).unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(config);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("https://{}", listener.local_addr().unwrap());
        let answers = std::sync::Arc::new(std::sync::Mutex::new(std::collections::VecDeque::<(
            u16,
            String,
        )>::new()));
        let bodies = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let (to_answer, to_keep) = (answers.clone(), bodies.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    continue;
                };
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    continue;
                };
                let mut request = Vec::new();
                let mut buf = [0u8; 65536];
                let (head_end, length) = loop {
                    let n = tls.read(&mut buf).await.unwrap_or(0);
                    if n == 0 {
                        break (request.len(), 0);
                    }
                    request.extend_from_slice(&buf[..n]);
                    if let Some(end) = request.windows(4).position(|w| w == b"\r\n\r\n") {
                        let head = String::from_utf8_lossy(&request[..end]).to_ascii_lowercase();
                        let length = head
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length:"))
                            .and_then(|v| v.trim().parse::<usize>().ok())
                            .unwrap_or(0);
                        break (end + 4, length);
                    }
                };
                while request.len() < head_end + length {
                    let n = tls.read(&mut buf).await.unwrap_or(0);
                    if n == 0 {
                        break;
                    }
                    request.extend_from_slice(&buf[..n]);
                }
                let body = request.get(head_end..).unwrap_or_default();
                to_keep
                    .lock()
                    .unwrap()
                    .push(serde_json::from_slice(body).unwrap_or_default());
                let (status, answer) = to_answer
                    .lock()
                    .unwrap()
                    .pop_front()
                    .unwrap_or_else(|| (500, "no answer scripted".to_owned()));
                let response = format!(
                    "HTTP/1.1 {status} Scripted\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{answer}",
                    answer.len()
                );
                let _ = tls.write_all(response.as_bytes()).await;
                let _ = tls.shutdown().await;
            }
        });
        Self {
            base,
            root_pem: pem::encode("CERTIFICATE", &identity.root_der),
            answers,
            bodies,
            task,
        }
    }

    fn answer(&self, status: u16, body: serde_json::Value) {
        self.answers
            .lock()
            .unwrap()
            .push_back((status, body.to_string()));
    }

    fn answer_text(&self, status: u16, body: &str) {
        self.answers
            .lock()
            .unwrap()
            .push_back((status, body.to_owned()));
    }

    fn last_body(&self) -> serde_json::Value {
        self.bodies
            .lock()
            .unwrap()
            .last()
            .cloned()
            .unwrap_or_default()
    }
}

impl Drop for ScriptedApi {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// One error of a `listErr`.
fn listed(no_trans: &str, id: &str, code: &str) -> serde_json::Value {
    json!({ "noTrans": no_trans, "id": id, "mess": "Erreur.", "codRetour": code })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_return_code_class_decides_what_becomes_of_the_transaction() {
    let s = Served::start(Environment::Dev);
    let api = ScriptedApi::start().await;
    let dir = tempfile::tempdir().unwrap();
    // Certificates come from the authority; transmissions go to the scripted API host, trusted
    // beside the authority's root.
    let trust = format!(
        "{}{}",
        pem::encode("CERTIFICATE", &s.tls_root),
        api.root_pem
    );
    let config = Config::new(Environment::Dev, test_product(), dir.path().join("pos.db"))
        .with_authority(AuthorityAddress::Local {
            enrolment: s.enrolment_base.clone(),
            api: api.base.clone(),
            trust_pem: trust,
        });
    let srs = Srs::open(config).unwrap();
    srs.enrol(&michel(), Some(DeviceIdAnswer::RequestNew))
        .await
        .unwrap();
    let start = OffsetDateTime::now_utc() - Duration::minutes(4);
    let michel_no = operator();
    let send = |n: u32| srs.transmit(&Origin::Host, &michel_no, sale(start, n), Checks::default());
    let pending = |srs: &Srs| -> Vec<String> {
        srs.outbox(10)
            .unwrap()
            .entries
            .into_iter()
            .map(|e| e.no_trans)
            .collect()
    };

    // x0, an unexpected error: the transaction stays, unchanged, and the bill says so.
    api.answer(
        400,
        json!({"retourTrans": {"jsonVersi": "01.00", "retourTransActu": {
            "noTrans": "0000000001", "listErr": [listed("0000000001", "JW00B999001E", "00")]}}}),
    );
    let t = send(1).await.unwrap();
    assert!(
        matches!(
            t.outcome,
            Outcome::Refused {
                resend: Resend::Unchanged,
                ..
            }
        ),
        "{:?}",
        t.outcome
    );
    assert_eq!(t.outcome.mention(), Some(COMMUNICATION_PROBLEM));
    assert_eq!(pending(&srs), ["0000000001"]);

    // x5, a field missing: not received, and not sendable as it is: record it anew. The
    // pending one went along, newest first after the current one, and stays.
    api.answer(
        400,
        json!({"retourTrans": {"jsonVersi": "01.00", "retourTransActu": {
            "noTrans": "0000000002", "listErr": [listed("0000000002", "JW00B999305E", "95")]}}}),
    );
    let t = send(2).await.unwrap();
    assert!(
        matches!(
            t.outcome,
            Outcome::Refused {
                resend: Resend::AsNewTransaction,
                ..
            }
        ),
        "{:?}",
        t.outcome
    );
    let body = api.last_body();
    assert_eq!(body["reqTrans"]["transActu"]["noTrans"], "0000000002");
    assert_eq!(body["reqTrans"]["transLot"][0]["noTrans"], "0000000001");
    assert_eq!(pending(&srs), ["0000000001"]);

    // x6 for the batched one while the current one is received: the current one has its
    // numbers, the batched one is refused for good.
    api.answer(
        200,
        json!({"retourTrans": {"jsonVersi": "01.00",
            "retourTransActu": {"noTrans": "0000000003", "psiNoTrans": "0000-0000-0000-00A3", "psiDatTrans": "20261203120000"},
            "retourTransLot": {"noLot": "0000000042", "datLot": "20261203120000",
                "listErr": [listed("0000000001", "JW00B999523E", "96")]}}}),
    );
    let t = send(3).await.unwrap();
    assert_eq!(
        t.outcome,
        Outcome::Transmitted {
            psi_no_trans: "0000-0000-0000-00A3".into(),
            psi_dat_trans: "20261203120000".into()
        }
    );
    assert_eq!((t.batch.sent, t.batch.refused), (0, 1), "{:?}", t.batch);
    assert!(pending(&srs).is_empty());

    // A firewall's page instead of the protocol's JSON: a communication failure.
    api.answer_text(502, "<html><body>Bad Gateway</body></html>");
    let t = send(4).await.unwrap();
    assert!(
        matches!(t.outcome, Outcome::Offline { .. }),
        "{:?}",
        t.outcome
    );
    assert_eq!(pending(&srs), ["0000000004"]);

    // x4 for the current one (a header): refused for good; the batch, not received (no
    // noLot), stays.
    api.answer(
        400,
        json!({"retourTrans": {"jsonVersi": "01.00", "retourTransActu": {
            "noTrans": "0000000005", "listErr": [listed("0000000005", "JW00B999509E", "94")]}}}),
    );
    let t = send(5).await.unwrap();
    assert!(
        matches!(
            t.outcome,
            Outcome::Refused {
                resend: Resend::Never,
                ..
            }
        ),
        "{:?}",
        t.outcome
    );
    assert_eq!(pending(&srs), ["0000000004"]);

    // Received with its batch: nothing left.
    api.answer(
        200,
        json!({"retourTrans": {"jsonVersi": "01.00",
            "retourTransActu": {"noTrans": "0000000006", "psiNoTrans": "0000-0000-0000-00A6", "psiDatTrans": "20261203120100"},
            "retourTransLot": {"noLot": "0000000043", "datLot": "20261203120100"}}}),
    );
    let t = send(6).await.unwrap();
    assert!(
        matches!(t.outcome, Outcome::Transmitted { .. }),
        "{:?}",
        t.outcome
    );
    assert_eq!(t.batch.sent, 1);
    assert!(pending(&srs).is_empty());
    assert_eq!(srs.outbox(1).unwrap().offline, None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_day_of_restaurant_business_is_transmitted_with_its_mentions() {
    use websrm_tests::websrm::transaction::read_sale;
    let s = Served::start(Environment::Dev);
    let dir = tempfile::tempdir().unwrap();
    let srs = Srs::open(s.srs_config(&dir.path().join("pos.db"))).unwrap();
    srs.enrol(&michel(), Some(DeviceIdAnswer::RequestNew))
        .await
        .unwrap();
    let start = OffsetDateTime::now_utc() - Duration::minutes(10);
    let examples = [
        include_str!("../../../docs/examples/transactions/restaurant-addition.json"),
        include_str!("../../../docs/examples/transactions/restaurant-closing-receipt.json"),
        include_str!("../../../docs/examples/transactions/restaurant-reproduction.json"),
        include_str!("../../../docs/examples/transactions/restaurant-credit-note.json"),
    ];
    let mut day: Vec<(serde_json::Value, &[&str])> = vec![
        (serde_json::from_str(examples[0]).unwrap(), &[]),
        (
            serde_json::from_str(examples[1]).unwrap(),
            &["CARTE DE CRÉDIT", "PAIEMENT REÇU"],
        ),
        (
            serde_json::from_str(examples[2]).unwrap(),
            &["CARTE DE CRÉDIT", "REPRODUCTION", "PAIEMENT REÇU"],
        ),
        (
            serde_json::from_str(examples[3]).unwrap(),
            &["CARTE DE CRÉDIT", "NOTE DE CRÉDIT"],
        ),
    ];
    // A training receipt, and an entry abandoned before payment.
    let mut training: serde_json::Value = serde_json::from_str(examples[1]).unwrap();
    training["modTrans"] = "FOR".into();
    day.push((
        training,
        &[
            "CARTE DE CRÉDIT",
            "*** DOCUMENT DE FORMATION ***",
            "NE PAS REMETTRE AU CLIENT",
            "PAIEMENT REÇU",
        ],
    ));
    let mut abandoned: serde_json::Value = serde_json::from_str(examples[0]).unwrap();
    abandoned["modImpr"] = "ANN".into();
    abandoned["formImpr"] = "NON".into();
    day.push((
        abandoned,
        &[
            "*** COPIE DU COMMERÇANT ***",
            "NE PAS REMETTRE AU CLIENT",
            "TRANSACTION ABANDONNÉE",
        ],
    ));
    let mut previous: Option<(String, String)> = None;
    for (i, (mut json, expected)) in day.into_iter().enumerate() {
        let n = u64::try_from(i).unwrap() + 1;
        let timed = example_sale_json(start, 5000 + n, i64::try_from(n * 60).unwrap());
        json["noTrans"] = timed["noTrans"].clone();
        json["datTrans"] = timed["datTrans"].clone();
        // Each document refers to the one before it, as a sequence does.
        if let (Some(refs), Some((no, date))) = (json.get_mut("refs"), &previous) {
            refs[0]["noTrans"] = no.clone().into();
            refs[0]["datTrans"] = date.clone().into();
        }
        previous = Some((
            json["noTrans"].as_str().unwrap().to_owned(),
            json["datTrans"].as_str().unwrap().to_owned(),
        ));
        let sale = read_sale(&json, Checks::default().with_sums())
            .unwrap_or_else(|found| panic!("document {n}: {found:?}"));
        let kind = format!("{} {}", sale.kind.code(), sale.print_mode.code());
        let t = srs
            .transmit(
                &Origin::Host,
                &operator(),
                sale,
                Checks::default().with_sums(),
            )
            .await
            .unwrap();
        assert!(
            matches!(t.outcome, Outcome::Transmitted { .. }),
            "{kind}: {:?}",
            t.outcome
        );
        let texts: Vec<&str> = t.mentions.iter().map(|m| m.text.as_str()).collect();
        assert_eq!(texts, expected, "{kind}");
    }
    assert_eq!(received(&s), 6);
}
