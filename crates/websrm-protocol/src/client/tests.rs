use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::ClientError;
use super::transport::{Target, connect, dechunk, exchange, parse_response};

fn target(url: &str) -> (String, u16, String, String) {
    let t = Target::parse(url).unwrap();
    (t.host, t.port, t.path, t.host_header)
}

#[test]
fn the_transactions_url_is_beside_the_certificates_url() {
    use super::Endpoints;
    use websrm_domain::Environment;
    assert_eq!(
        Endpoints::official(Environment::Essai).transactions,
        "https://cnfr.api.rq-fo.ca/transaction"
    );
    assert_eq!(
        Endpoints::official(Environment::Prod).transactions,
        "https://api.rq-fo.ca/transaction"
    );
    assert_eq!(
        Endpoints::local("https://127.0.0.1:1", "https://127.0.0.1:2/").transactions,
        "https://127.0.0.1:2/transaction"
    );
    assert_eq!(
        Endpoints::new("https://a/enrolement", "https://b:8444").transactions,
        "https://b:8444/transaction"
    );
}

#[test]
fn urls_are_parsed_once_into_host_port_path_and_host_header() {
    assert_eq!(
        target("https://cnfr.api.rq-fo.ca/certificats"),
        (
            "cnfr.api.rq-fo.ca".into(),
            443,
            "/certificats".into(),
            "cnfr.api.rq-fo.ca".into()
        )
    );
    assert_eq!(
        target("https://127.0.0.1:8443/enrolement"),
        (
            "127.0.0.1".into(),
            8443,
            "/enrolement".into(),
            "127.0.0.1:8443".into()
        )
    );
    // IPv6: the address without brackets to connect and verify, with them in Host.
    assert_eq!(
        target("https://[::1]:9/x"),
        ("::1".into(), 9, "/x".into(), "[::1]:9".into())
    );
    assert_eq!(
        target("https://[::1]/crl"),
        ("::1".into(), 443, "/crl".into(), "[::1]".into()),
        "an IPv6 address without a port"
    );
    // A fragment is not sent; a query is.
    assert_eq!(target("https://h/crl?x=1#part").2, "/crl?x=1");
    assert_eq!(target("https://h").2, "/");
    for bad in [
        "http://example/x",
        "https://:1/x",
        "https://user:secret@host/x",
        "https://user@host:8443/x",
        "not a url",
    ] {
        assert!(
            matches!(Target::parse(bad), Err(ClientError::Configuration { .. })),
            "{bad}"
        );
    }
}

#[test]
fn responses_with_length_chunks_or_close() {
    let (s, b) =
        parse_response(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 2\r\n\r\n{}").unwrap();
    assert_eq!((s, b.as_slice()), (400, b"{}".as_slice()));
    let (s, b) = parse_response(b"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;ext=1\r\nde\r\n0\r\n\r\n").unwrap();
    assert_eq!((s, b.as_slice()), (201, b"abcde".as_slice()));
    let (_, b) = parse_response(b"HTTP/1.1 200 OK\r\n\r\nuntil close").unwrap();
    assert_eq!(b, b"until close");
    assert!(parse_response(b"HTTP/1.1 200 OK\r\ncontent-length: 9\r\n\r\nshort").is_err());
    assert!(parse_response(b"garbage").is_err());
    assert_eq!(dechunk(b"zz\r\n"), None);
}

/// Each chunk's data must be followed by CRLF: two other bytes are not skipped over.
#[test]
fn a_chunk_without_its_crlf_is_malformed() {
    assert_eq!(dechunk(b"3\r\nabcXX2\r\nde\r\n0\r\n\r\n"), None);
    assert_eq!(dechunk(b"3\r\nabc"), None, "cut after the data");
    assert_eq!(
        dechunk(b"3\r\nabc\r\n0\r\n\r\n").as_deref(),
        Some(b"abc".as_slice())
    );
    assert_eq!(
        dechunk(b"ffffffffffffffffff\r\n"),
        None,
        "a size that overflows"
    );
}

/// The reason the client writes its own HTTP/1.1: header names reach the wire in upper
/// case, as WEB-SRM expects. Shown on an in-memory stream, byte for byte.
#[tokio::test]
async fn upper_case_header_names_reach_the_wire() {
    let (mut client, mut server) = tokio::io::duplex(64 * 1024);
    let target = Target::parse("https://[::1]:8443/enrolement").unwrap();
    let headers = vec![
        ("CONTENT-TYPE", "application/json".to_owned()),
        ("ENVIRN", "DEV".to_owned()),
        ("IDAPPRL", "0000-0000-0000".to_owned()),
    ];
    let answering = tokio::spawn(async move {
        let mut request = Vec::new();
        let mut buf = [0u8; 4096];
        while !request.ends_with(b"{}") {
            let n = server.read(&mut buf).await.unwrap();
            assert!(n > 0, "the request ended early");
            request.extend_from_slice(&buf[..n]);
        }
        server
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            .await
            .unwrap();
        drop(server);
        String::from_utf8(request).unwrap()
    });
    let (status, body) = exchange(&mut client, "POST", &target, &headers, b"{}")
        .await
        .unwrap();
    assert_eq!((status, body.as_slice()), (200, b"ok".as_slice()));
    let request = answering.await.unwrap();
    assert_eq!(
        request,
        "POST /enrolement HTTP/1.1\r\nHOST: [::1]:8443\r\nCONTENT-TYPE: application/json\r\n\
         ENVIRN: DEV\r\nIDAPPRL: 0000-0000-0000\r\nCONTENT-LENGTH: 2\r\nCONNECTION: close\r\n\r\n{}"
    );
}

/// A server that accepts the connection but never completes the handshake: the request was
/// not sent, which is safe to retry, not a communication error.
#[tokio::test]
async fn a_handshake_that_never_ends_is_not_sent() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let silent = tokio::spawn(async move {
        let (socket, _) = listener.accept().await.unwrap();
        tokio::time::sleep(Duration::from_secs(5)).await;
        drop(socket);
    });
    let target = Target::parse(&format!("https://{address}/enrolement")).unwrap();
    let tls = websrm_crypto::tls::client_config(&[], None).unwrap();
    let started = std::time::Instant::now();
    let result = connect(&target, tls, Duration::from_millis(300)).await;
    assert!(
        matches!(result, Err(ClientError::NotSent { .. })),
        "{:?}",
        result.err()
    );
    assert!(started.elapsed() < Duration::from_secs(3));
    silent.abort();
}

/// The client offers ALPN `http/1.1` and nothing else: a server that would speak HTTP/2
/// picks HTTP/1.1, whose upper-case header names WEB-SRM reads.
#[tokio::test]
async fn alpn_offers_http_1_1_only() {
    use std::sync::{Arc, Mutex};
    let identity = websrm_crypto::tls::LocalTlsIdentity::generate(
        &["127.0.0.1".to_owned()],
        time::OffsetDateTime::now_utc(),
        1,
    )
    .unwrap();
    let mut server = Arc::unwrap_or_clone(
        websrm_crypto::tls::server_config(
            identity.chain.clone(),
            &identity.key,
            websrm_crypto::tls::ClientAuth::None,
        )
        .unwrap(),
    );
    server.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let negotiated = Arc::new(Mutex::new(None));
    let seen = negotiated.clone();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(server));
    tokio::spawn(async move {
        let (socket, _) = listener.accept().await.unwrap();
        let stream = acceptor.accept(socket).await.unwrap();
        *seen.lock().unwrap() = stream.get_ref().1.alpn_protocol().map(<[u8]>::to_vec);
    });
    let target = Target::parse(&format!("https://{address}/enrolement")).unwrap();
    let tls =
        websrm_crypto::tls::client_config(std::slice::from_ref(&identity.root_der), None).unwrap();
    let stream = connect(&target, tls, Duration::from_secs(5)).await.unwrap();
    assert_eq!(
        stream.get_ref().1.alpn_protocol(),
        Some(b"http/1.1".as_slice())
    );
    drop(stream);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        negotiated.lock().unwrap().as_deref(),
        Some(b"http/1.1".as_slice())
    );
}
