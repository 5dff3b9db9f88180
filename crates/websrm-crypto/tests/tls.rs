//! Mutual TLS over loopback between rustls peers configured by this crate.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use common::*;
use time::OffsetDateTime;
use websrm_crypto::rustls::pki_types::ServerName;
use websrm_crypto::rustls::{
    ClientConfig, ClientConnection, ServerConfig, ServerConnection, StreamOwned,
};
use websrm_crypto::tls::{self, ClientAuth, ClientIdentity, LocalTlsIdentity};
use websrm_crypto::{CertificateAuthority, Csr, PrivateKey, validate_csr};
use websrm_domain::Environment;

/// Serves one connection on 127.0.0.1: reads a line and answers "pong" with the client
/// certificate count. Returns the port and the thread's handle.
fn serve_once(config: Arc<ServerConfig>) -> (u16, thread::JoinHandle<Result<usize, String>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let handle = thread::spawn(move || {
        let (socket, _) = listener.accept().map_err(|e| e.to_string())?;
        socket
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut tls = StreamOwned::new(
            ServerConnection::new(config).map_err(|e| e.to_string())?,
            socket,
        );
        let mut buf = [0u8; 5];
        tls.read_exact(&mut buf).map_err(|e| e.to_string())?;
        let peers = tls.conn.peer_certificates().map_or(0, <[_]>::len);
        tls.write_all(b"pong").map_err(|e| e.to_string())?;
        tls.conn.send_close_notify();
        tls.flush().map_err(|e| e.to_string())?;
        Ok(peers)
    });
    (port, handle)
}

fn exchange(port: u16, client: Arc<ClientConfig>) -> Result<String, String> {
    let socket = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    socket
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let name = ServerName::try_from("localhost").unwrap();
    let mut tls = StreamOwned::new(
        ClientConnection::new(client, name).map_err(|e| e.to_string())?,
        socket,
    );
    tls.write_all(b"ping\n").map_err(|e| e.to_string())?;
    let mut answer = String::new();
    tls.read_to_string(&mut answer).map_err(|e| e.to_string())?;
    Ok(answer)
}

struct Setup {
    server_tls: LocalTlsIdentity,
    ca: CertificateAuthority,
    client_key: PrivateKey,
    client_cert: Vec<u8>,
}

fn setup() -> Setup {
    let now = OffsetDateTime::now_utc();
    let server_tls =
        LocalTlsIdentity::generate(&["localhost".into(), "127.0.0.1".into()], now, 1).unwrap();
    let ca = CertificateAuthority::generate(Environment::Dev, now).unwrap();
    let client_key = PrivateKey::generate().unwrap();
    let validated =
        validate_csr(&Csr::build(&srs_subject(), &client_key).unwrap().to_wire()).unwrap();
    let client_cert = ca.issue(&validated, now).unwrap().der;
    Setup {
        server_tls,
        ca,
        client_key,
        client_cert,
    }
}

#[test]
fn mutual_tls_succeeds_with_an_issued_certificate() {
    let s = setup();
    let server = tls::server_config(
        s.server_tls.chain.clone(),
        &s.server_tls.key,
        ClientAuth::Required(vec![s.ca.certificate_der().to_vec()]),
    )
    .unwrap();
    let (port, handle) = serve_once(server);
    let client = tls::client_config(
        std::slice::from_ref(&s.server_tls.root_der),
        Some(ClientIdentity {
            chain: vec![s.client_cert.clone()],
            key: &s.client_key,
        }),
    )
    .unwrap();
    assert_eq!(exchange(port, client).unwrap(), "pong");
    assert_eq!(
        handle.join().unwrap().unwrap(),
        1,
        "the server saw the client certificate"
    );
}

#[test]
fn mutual_tls_fails_against_a_server_trusting_another_ca() {
    let s = setup();
    let other =
        CertificateAuthority::generate(Environment::Prod, OffsetDateTime::now_utc()).unwrap();
    let server = tls::server_config(
        s.server_tls.chain.clone(),
        &s.server_tls.key,
        ClientAuth::Required(vec![other.certificate_der().to_vec()]),
    )
    .unwrap();
    let (port, handle) = serve_once(server);
    let client = tls::client_config(
        std::slice::from_ref(&s.server_tls.root_der),
        Some(ClientIdentity {
            chain: vec![s.client_cert.clone()],
            key: &s.client_key,
        }),
    )
    .unwrap();
    assert!(exchange(port, client).is_err());
    let server_side = handle.join().unwrap().unwrap_err();
    assert!(
        server_side.contains("UnknownIssuer") || server_side.contains("unknown issuer"),
        "{server_side}"
    );
}

#[test]
fn a_required_client_certificate_cannot_be_omitted_but_an_optional_one_can() {
    let s = setup();
    let cas = vec![s.ca.certificate_der().to_vec()];
    let anonymous = tls::client_config(std::slice::from_ref(&s.server_tls.root_der), None).unwrap();

    let required = tls::server_config(
        s.server_tls.chain.clone(),
        &s.server_tls.key,
        ClientAuth::Required(cas.clone()),
    )
    .unwrap();
    let (port, handle) = serve_once(required);
    assert!(exchange(port, anonymous.clone()).is_err());
    assert!(handle.join().unwrap().is_err());

    let optional = tls::server_config(
        s.server_tls.chain.clone(),
        &s.server_tls.key,
        ClientAuth::Optional(cas),
    )
    .unwrap();
    let (port, handle) = serve_once(optional);
    assert_eq!(exchange(port, anonymous).unwrap(), "pong");
    assert_eq!(handle.join().unwrap().unwrap(), 0);
}

#[test]
fn the_client_refuses_a_server_it_does_not_trust() {
    let s = setup();
    let server = tls::server_config(
        s.server_tls.chain.clone(),
        &s.server_tls.key,
        ClientAuth::None,
    )
    .unwrap();
    let (port, handle) = serve_once(server);
    let stranger =
        LocalTlsIdentity::generate(&["localhost".into()], OffsetDateTime::now_utc(), 1).unwrap();
    let client = tls::client_config(&[stranger.root_der], None).unwrap();
    let err = exchange(port, client).unwrap_err();
    assert!(
        err.contains("UnknownIssuer") || err.contains("invalid peer certificate"),
        "{err}"
    );
    let _ = handle.join();
}

#[test]
fn only_the_listed_cipher_suites_are_offered() {
    let names: Vec<String> = tls::provider()
        .cipher_suites
        .iter()
        .map(|s| format!("{:?}", s.suite()))
        .collect();
    assert_eq!(
        names,
        [
            "TLS13_AES_128_GCM_SHA256",
            "TLS13_AES_256_GCM_SHA384",
            "TLS13_CHACHA20_POLY1305_SHA256",
            "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
            "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
            "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
            "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
        ]
    );
}
