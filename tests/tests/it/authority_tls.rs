//! The API host's handshake: a certificate of this authority is required and must be in force.

use time::{Duration, OffsetDateTime};
use websrm_crypto::tls::ClientIdentity;
use websrm_tests::websrm_crypto::{CertificateAuthority, Csr, PrivateKey, validate_csr};
use websrm_tests::websrm_domain::{
    DeviceIdState, Environment, RevocationChannel, RevocationReason,
};
use websrm_tests::websrm_protocol::client::ClientError;
use websrm_tests::websrm_protocol::wire::Modification;
use websrm_tests::websrm_registry::NewAudit;
use websrm_tests::{Served, websrm_authority, websrm_crypto, websrm_domain};

use crate::support::*;

async fn delete_with(
    s: &Served,
    identity: ClientIdentity<'_>,
    serial: websrm_domain::SerialNumber,
    device: DeviceIdState,
) -> Result<(), ClientError> {
    let c = client(s, Environment::Dev);
    c.send(
        &headers(Environment::Dev, Some(device)),
        &Modification::Delete { serial },
        Some(identity),
    )
    .await
    .map(|_| ())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_certificate_a_foreign_one_or_an_expired_one_fails_the_handshake() {
    // An authority whose clock is six years back issues a certificate that has expired by now.
    let s = Served::start_at(
        Environment::Dev,
        OffsetDateTime::now_utc() - Duration::days(6 * 366),
    );
    let c = client(&s, Environment::Dev);
    let (expired, answer) = enrol(
        &c,
        &headers(Environment::Dev, Some(DeviceIdState::Unassigned)),
        &michel("Caisse expirée"),
    )
    .await;
    let device = DeviceIdState::Assigned(answer.device_id.unwrap());
    s.clock.set(OffsetDateTime::now_utc());
    let (valid, _) = enrol(
        &c,
        &headers(Environment::Dev, Some(device)),
        &michel("Caisse valide"),
    )
    .await;

    // Expired.
    let e = delete_with(&s, expired.identity(), expired.info.serial, device)
        .await
        .unwrap_err();
    assert!(
        matches!(
            e,
            ClientError::Communication { .. } | ClientError::NotSent { .. }
        ),
        "{e:?}"
    );

    // From another CA (same subject, same key type).
    let other =
        CertificateAuthority::generate(Environment::Dev, OffsetDateTime::now_utc()).unwrap();
    let key = PrivateKey::generate().unwrap();
    let foreign = other
        .issue(
            &validate_csr(
                &Csr::build(&michel("Caisse valide"), &key)
                    .unwrap()
                    .to_wire(),
            )
            .unwrap(),
            OffsetDateTime::now_utc(),
        )
        .unwrap();
    let e = delete_with(
        &s,
        ClientIdentity {
            chain: vec![foreign.der],
            key: &key,
        },
        foreign.serial,
        device,
    )
    .await
    .unwrap_err();
    assert!(
        matches!(
            e,
            ClientError::Communication { .. } | ClientError::NotSent { .. }
        ),
        "{e:?}"
    );

    // None at all, with a plain client.
    let anonymous = plain_client(&s, None);
    let url = format!("{}/certificats", s.api_base);
    let sent = anonymous.post(&url).body("{}").send().await;
    assert!(
        sent.is_err(),
        "the API host refuses a client without a certificate"
    );

    // The valid one still works.
    delete_with(&s, valid.identity(), valid.info.serial, device)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_certificate_gets_011() {
    let s = Served::start(Environment::Dev);
    let c = client(&s, Environment::Dev);
    let (held, answer) = enrol(
        &c,
        &headers(Environment::Dev, Some(DeviceIdState::Unassigned)),
        &michel("Caisse volée"),
    )
    .await;
    let device = DeviceIdState::Assigned(answer.device_id.unwrap());
    let now = OffsetDateTime::now_utc();
    s.authority
        .registry()
        .record_revocation(
            held.info.serial,
            RevocationReason::KeyCompromise,
            RevocationChannel::CustomerService,
            now,
            "agent:T1",
            NewAudit::new(
                now,
                "agent:T1",
                "revoke",
                held.info.serial.to_string(),
                "stolen",
            ),
        )
        .unwrap();
    let e = delete_with(&s, held.identity(), held.info.serial, device)
        .await
        .unwrap_err();
    let ClientError::Refused { errors, .. } = e else {
        panic!("refused expected, got {e:?}")
    };
    assert_eq!(errors[0].id.to_string(), "JW00B999011E");
    assert_eq!(errors[0].return_code.unwrap().to_string(), "12");
    assert!(!errors[0].is_retransmittable());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_srs_cannot_delete_another_ones_certificate() {
    let s = Served::start(Environment::Dev);
    let c = client(&s, Environment::Dev);
    let (a, answer) = enrol(
        &c,
        &headers(Environment::Dev, Some(DeviceIdState::Unassigned)),
        &michel("Caisse A du bar"),
    )
    .await;
    let device = DeviceIdState::Assigned(answer.device_id.unwrap());
    let (b, _) = enrol(
        &c,
        &headers(Environment::Dev, Some(device)),
        &michel("Caisse B du bar"),
    )
    .await;
    let e = delete_with(&s, a.identity(), b.info.serial, device)
        .await
        .unwrap_err();
    let ClientError::Refused { errors, .. } = e else {
        panic!("refused expected, got {e:?}")
    };
    assert_eq!(errors[0].id.to_string(), "JW00B999436E");
    let registry = s.authority.registry();
    assert!(
        registry
            .certificate_by_serial(b.info.serial)
            .unwrap()
            .unwrap()
            .state
            .is_in_force()
    );
}

/// Slow and hostile clients: one idle after the TLS handshake, one dripping its request head a
/// byte at a time; both are cut within the header-read limit, while a normal request is
/// answered meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_and_dripping_clients_are_cut_while_others_are_served() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut limits = websrm_authority::server::Limits::default();
    limits.header_read = std::time::Duration::from_secs(1);
    let s = Served::start_with(Environment::Dev, OffsetDateTime::now_utc(), limits);
    let address = s.enrolment_base.trim_start_matches("https://").to_owned();
    let connect = || {
        let address = address.clone();
        let root = s.tls_root.clone();
        async move {
            let config = websrm_tests::websrm_crypto::tls::client_config(&[root], None).unwrap();
            let tcp = tokio::net::TcpStream::connect(&address).await.unwrap();
            tokio_rustls::TlsConnector::from(config)
                .connect("127.0.0.1".try_into().unwrap(), tcp)
                .await
                .unwrap()
        }
    };
    let started = std::time::Instant::now();
    // Idle after the handshake.
    let mut idle = connect().await;
    let idle = tokio::spawn(async move {
        // Cut means closed: what the server may write before closing (a 408) is read past, and
        // only the end of the connection (or its reset) counts.
        let mut buf = [0u8; 64];
        loop {
            match idle.read(&mut buf).await {
                Ok(0) | Err(_) => break std::time::Instant::now(),
                Ok(_) => {}
            }
        }
    });
    // Drips "POST /enrolement HTTP/1.1\r\n…" one byte every 300 ms.
    let mut drip = connect().await;
    let dripping = tokio::spawn(async move {
        for byte in b"POST /enrolement HTTP/1.1\r\nHOST: x\r\nENVIRN: DEV\r\n".iter() {
            if drip.write_all(&[*byte]).await.is_err() || drip.flush().await.is_err() {
                return std::time::Instant::now();
            }
            tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        }
        std::time::Instant::now()
    });
    // Meanwhile, a normal request is answered.
    let (status, _) = post(
        &plain_client(&s, None),
        &format!("{}/enrolement", s.enrolment_base),
        &header_pairs("0000-0000-0000"),
        "{}",
    )
    .await;
    assert_eq!(status, 400);
    let limit = std::time::Duration::from_secs(8);
    let cut_idle = tokio::time::timeout(limit, idle)
        .await
        .expect("the idle client is cut")
        .unwrap()
        - started;
    let cut_drip = tokio::time::timeout(limit, dripping)
        .await
        .expect("the dripping client is cut")
        .unwrap()
        - started;
    assert!(
        cut_idle < std::time::Duration::from_secs(4),
        "idle kept {cut_idle:?}"
    );
    assert!(
        cut_drip < std::time::Duration::from_secs(5),
        "dripping kept {cut_drip:?}"
    );
}

/// A client that pipelines thousands of requests over one TLS connection with a small receive
/// window and then reads nothing: the authority's answers stop making progress, and the write
/// deadline ends the connection instead of holding it (and its slot) for as long as the client
/// likes; another client is served meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_reading_is_cut_at_the_write_deadline() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut limits = websrm_authority::server::Limits::default();
    limits.write = std::time::Duration::from_secs(1);
    let s = Served::start_with(Environment::Dev, OffsetDateTime::now_utc(), limits);
    let address: std::net::SocketAddr = s
        .enrolment_base
        .trim_start_matches("https://")
        .parse()
        .unwrap();
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(2048).unwrap();
    let tcp = socket.connect(address).await.unwrap();
    let config =
        websrm_tests::websrm_crypto::tls::client_config(std::slice::from_ref(&s.tls_root), None)
            .unwrap();
    let tls = tokio_rustls::TlsConnector::from(config)
        .connect("127.0.0.1".try_into().unwrap(), tcp)
        .await
        .unwrap();
    let (mut reader, mut writer) = tokio::io::split(tls);
    const REQUESTS: usize = 5_000;
    let sending = tokio::spawn(async move {
        for _ in 0..REQUESTS {
            if writer
                .write_all(b"GET /ca HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
                .await
                .is_err()
            {
                return;
            }
        }
        let _ = writer.flush().await;
    });
    // Reads nothing for 4 s: four times the deadline.
    tokio::time::sleep(std::time::Duration::from_secs(4)).await;
    // Meanwhile another client is served.
    let ca = plain_client(&s, None)
        .get(format!("{}/ca", s.enrolment_base))
        .send()
        .await
        .unwrap();
    assert_eq!(ca.status().as_u16(), 200);
    // What the connection still gives ends soon, and well short of every answer.
    let mut received = Vec::new();
    let drained = tokio::time::timeout(std::time::Duration::from_secs(20), async {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match reader.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => received.extend_from_slice(&buf[..n]),
            }
        }
    })
    .await;
    assert!(drained.is_ok(), "the connection was still open after 24 s");
    let answers = received
        .windows(b"HTTP/1.1 200".len())
        .filter(|w| *w == b"HTTP/1.1 200")
        .count();
    assert!(
        answers < REQUESTS,
        "{answers} answers: the connection was never cut"
    );
    sending.abort();
}
