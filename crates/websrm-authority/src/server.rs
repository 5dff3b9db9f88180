//! The two HTTPS listeners: the enrolment host (server-authenticated TLS, `/enrolement`) and the
//! API host (mutual TLS with a certificate of this authority's CA, `/certificats`).

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;
use websrm_crypto::PrivateKey;
use websrm_crypto::tls::{ClientAuth, server_config};

use crate::Error;
use crate::service::{Authority, Endpoint, Request};

/// Where the enrolment host publishes the CRL (GET, DER).
pub const CRL_PATH: &str = "/crl";

/// Where the enrolment host publishes the CA's certificate (GET, DER).
pub const CA_PATH: &str = "/ca";

/// The largest request body accepted (the protocol's limit for a batch of transactions).
pub const MAX_BODY: usize = 256 * 1024;

/// The limits that keep slow or hostile clients from holding the authority.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// The TLS handshake must end within this.
    pub handshake: std::time::Duration,
    /// A request's head must arrive within this, from the connection or from the previous
    /// answer on a kept-alive connection (a client idle after TLS, or dripping its head byte
    /// by byte, is cut).
    pub header_read: std::time::Duration,
    /// A whole request, body read and answer made, must end within this.
    pub request: std::time::Duration,
    /// Connections open at once, per listener; more wait in the kernel's queue.
    pub max_connections: usize,
}

impl Default for Limits {
    /// 10 s for the handshake and for a request's head, 30 s for a whole request, 1,024
    /// connections per listener.
    fn default() -> Self {
        Self {
            handshake: std::time::Duration::from_secs(10),
            header_read: std::time::Duration::from_secs(10),
            request: std::time::Duration::from_secs(30),
            max_connections: 1024,
        }
    }
}

/// A running pair of listeners.
#[derive(Debug)]
pub struct Running {
    /// The enrolment listener's address.
    pub enrolment: SocketAddr,
    /// The API listener's address.
    pub api: SocketAddr,
}

/// Serves `authority` on the two listeners until `shutdown` completes; connections in progress
/// are finished first.
pub async fn serve(
    authority: Arc<Authority>,
    enrolment: TcpListener,
    api: TcpListener,
    chain: Vec<Vec<u8>>,
    key: &PrivateKey,
    shutdown: impl Future<Output = ()>,
) -> Result<(), Error> {
    serve_with(
        authority,
        enrolment,
        api,
        chain,
        key,
        Limits::default(),
        shutdown,
    )
    .await
}

/// [`serve`] with other [`Limits`].
pub async fn serve_with(
    authority: Arc<Authority>,
    enrolment: TcpListener,
    api: TcpListener,
    chain: Vec<Vec<u8>>,
    key: &PrivateKey,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) -> Result<(), Error> {
    // Certificates name where the CRL and the CA are published: on the enrolment host, at the
    // address it listens on, unless the caller published them elsewhere (a public name).
    if !authority.is_published() {
        let address = enrolment.local_addr().map_err(|e| Error::Io {
            action: "reading the address of",
            path: "the enrolment listener".into(),
            message: e.to_string(),
        })?;
        authority.publish_under(&format!("https://{address}"));
    }
    // The enrolment host asks for no certificate but verifies one if presented: a host device
    // requesting its terminal's identifier presents its own, so that the authority records whose
    // terminal it is.
    let enrol_tls = server_config(
        chain.clone(),
        key,
        ClientAuth::Optional(vec![authority.ca_certificate_der().to_vec()]),
    )?;
    let api_tls = server_config(
        chain,
        key,
        ClientAuth::Required(vec![authority.ca_certificate_der().to_vec()]),
    )?;
    let (stop_tx, stop_rx) = watch::channel(false);
    let a = tokio::spawn(accept_loop(
        authority.clone(),
        enrolment,
        TlsAcceptor::from(enrol_tls),
        Endpoint::Enrolment,
        limits,
        stop_rx.clone(),
    ));
    let b = tokio::spawn(accept_loop(
        authority,
        api,
        TlsAcceptor::from(api_tls),
        Endpoint::Certificates,
        limits,
        stop_rx,
    ));
    shutdown.await;
    let _ = stop_tx.send(true);
    let _ = a.await;
    let _ = b.await;
    Ok(())
}

async fn accept_loop(
    authority: Arc<Authority>,
    listener: TcpListener,
    tls: TlsAcceptor,
    endpoint: Endpoint,
    limits: Limits,
    mut stop: watch::Receiver<bool>,
) {
    let mut connections = tokio::task::JoinSet::new();
    let slots = Arc::new(tokio::sync::Semaphore::new(limits.max_connections));
    let mut backoff = std::time::Duration::from_millis(10);
    loop {
        // Finished connections are reaped as they end, not kept until the listener stops.
        while connections.try_join_next().is_some() {}
        // At most `max_connections` open: the next accept waits for a slot.
        let slot = tokio::select! {
            _ = stop.changed() => break,
            slot = slots.clone().acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => break,
            },
        };
        tokio::select! {
            _ = stop.changed() => break,
            accepted = listener.accept() => {
                let (tcp, peer) = match accepted {
                    Ok(accepted) => {
                        backoff = std::time::Duration::from_millis(10);
                        accepted
                    }
                    Err(e) => {
                        // Out of file descriptors, or the like: wait rather than spin.
                        tracing::warn!(error = %e, "accept failed; backing off {backoff:?}");
                        tokio::time::sleep(backoff).await;
                        backoff = (backoff * 2).min(std::time::Duration::from_secs(1));
                        continue;
                    }
                };
                // Answers are small and written at once: no waiting for more to send (Nagle
                // and delayed acknowledgements cost 40 ms a request on a fresh connection).
                let _ = tcp.set_nodelay(true);
                let (authority, tls, mut stop) = (authority.clone(), tls.clone(), stop.clone());
                connections.spawn(async move {
                    let _slot = slot;
                    let stream = match tokio::time::timeout(limits.handshake, tls.accept(tcp)).await {
                        Ok(Ok(stream)) => stream,
                        Ok(Err(e)) => {
                            tracing::info!(%peer, error = %e, "TLS handshake refused");
                            return;
                        }
                        Err(_) => return,
                    };
                    let client_certificate = stream.get_ref().1.peer_certificates().and_then(|c| c.first()).map(|c| c.to_vec());
                    let service = service_fn(move |req| {
                        let answer = handle(authority.clone(), endpoint, client_certificate.clone(), req);
                        async move {
                            Ok::<_, std::convert::Infallible>(
                                match tokio::time::timeout(limits.request, answer).await {
                                    Ok(Ok(response)) => response,
                                    Ok(Err(never)) => match never {},
                                    Err(_) => plain(StatusCode::REQUEST_TIMEOUT),
                                },
                            )
                        }
                    });
                    let connection = http1::Builder::new()
                        .timer(TokioTimer::new())
                        .header_read_timeout(limits.header_read)
                        .serve_connection(TokioIo::new(stream), service);
                    tokio::pin!(connection);
                    let result = tokio::select! {
                        result = connection.as_mut() => result,
                        _ = stop.changed() => {
                            // Finish the request in progress, then close, even a kept-alive
                            // connection; give up after 10 s.
                            connection.as_mut().graceful_shutdown();
                            tokio::time::timeout(std::time::Duration::from_secs(10), connection).await.unwrap_or(Ok(()))
                        }
                    };
                    if let Err(e) = result {
                        tracing::debug!(%peer, error = %e, "connection ended");
                    }
                });
            }
        }
    }
    while connections.join_next().await.is_some() {}
}

async fn handle(
    authority: Arc<Authority>,
    endpoint: Endpoint,
    client_certificate: Option<Vec<u8>>,
    req: hyper::Request<Incoming>,
) -> Result<hyper::Response<Full<Bytes>>, std::convert::Infallible> {
    if endpoint == Endpoint::Enrolment && req.uri().path().starts_with(crate::portal::PREFIX) {
        return Ok(portal(authority, req).await);
    }
    if endpoint == Endpoint::Enrolment && req.uri().path() == CA_PATH {
        if req.method() != Method::GET {
            return Ok(plain(StatusCode::METHOD_NOT_ALLOWED));
        }
        let mut out = hyper::Response::new(Full::new(Bytes::from(
            authority.ca_certificate_der().to_vec(),
        )));
        out.headers_mut().insert(
            hyper::header::CONTENT_TYPE,
            hyper::header::HeaderValue::from_static("application/pkix-cert"),
        );
        return Ok(out);
    }
    if endpoint == Endpoint::Enrolment && req.uri().path() == CRL_PATH {
        if req.method() != Method::GET {
            return Ok(plain(StatusCode::METHOD_NOT_ALLOWED));
        }
        let crl = tokio::task::spawn_blocking(move || authority.crl()).await;
        let Ok(Ok(der)) = crl else {
            return Ok(plain(StatusCode::INTERNAL_SERVER_ERROR));
        };
        let mut out = hyper::Response::new(Full::new(Bytes::from(der)));
        out.headers_mut().insert(
            hyper::header::CONTENT_TYPE,
            hyper::header::HeaderValue::from_static("application/pkix-crl"),
        );
        return Ok(out);
    }
    let endpoint = match (endpoint, req.uri().path()) {
        (Endpoint::Certificates, "/transaction") => Endpoint::Transaction,
        (e, _) => e,
    };
    let path_ok = match endpoint {
        Endpoint::Enrolment => req.uri().path() == "/enrolement",
        Endpoint::Certificates => req.uri().path() == "/certificats",
        Endpoint::Transaction => true,
    };
    if !path_ok {
        return Ok(plain(StatusCode::NOT_FOUND));
    }
    if req.method() != Method::POST {
        return Ok(plain(StatusCode::METHOD_NOT_ALLOWED));
    }
    let has_length = req.headers().contains_key(hyper::header::CONTENT_LENGTH);
    if !has_length {
        return Ok(plain(StatusCode::LENGTH_REQUIRED));
    }
    let declared: Option<usize> = req
        .headers()
        .get(hyper::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    if declared.is_some_and(|n| n > MAX_BODY) {
        return Ok(plain(StatusCode::PAYLOAD_TOO_LARGE));
    }
    let headers: Vec<(String, String)> = req
        .headers()
        .iter()
        .map(|(n, v)| {
            (
                n.as_str().to_ascii_uppercase(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let body = match Limited::new(req.into_body(), MAX_BODY).collect().await {
        Ok(collected) => collected.to_bytes().to_vec(),
        Err(_) => return Ok(plain(StatusCode::PAYLOAD_TOO_LARGE)),
    };
    let request = Request::new(endpoint, headers, body, client_certificate);
    let response = tokio::task::spawn_blocking(move || authority.handle(&request)).await;
    let Ok(response) = response else {
        return Ok(plain(StatusCode::INTERNAL_SERVER_ERROR));
    };
    let mut out = hyper::Response::new(Full::new(Bytes::from(response.body)));
    *out.status_mut() =
        StatusCode::from_u16(response.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    out.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    Ok(out)
}

/// The online services: a form body of at most 16 KB, and the answer's security headers.
async fn portal(
    authority: Arc<Authority>,
    req: hyper::Request<Incoming>,
) -> hyper::Response<Full<Bytes>> {
    let method = req.method().as_str().to_owned();
    let path = req.uri().path().to_owned();
    let query = req.uri().query().unwrap_or_default().to_owned();
    let cookies = req
        .headers()
        .get_all(hyper::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect::<Vec<_>>()
        .join("; ");
    let body = match Limited::new(req.into_body(), 16 * 1024).collect().await {
        Ok(collected) => collected.to_bytes().to_vec(),
        Err(_) => return plain(StatusCode::PAYLOAD_TOO_LARGE),
    };
    let request = crate::portal::PortalRequest {
        method,
        path,
        query,
        cookies,
        body,
    };
    let Ok(answer) = tokio::task::spawn_blocking(move || authority.portal(&request)).await else {
        return plain(StatusCode::INTERNAL_SERVER_ERROR);
    };
    let mut out = hyper::Response::new(Full::new(Bytes::from(answer.body)));
    *out.status_mut() =
        StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let headers = out.headers_mut();
    let fixed = [
        ("content-type", "text/html; charset=utf-8"),
        ("cache-control", "no-store"),
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "no-referrer"),
        (
            "content-security-policy",
            "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
        ),
    ];
    for (name, value) in fixed {
        headers.insert(name, hyper::header::HeaderValue::from_static(value));
    }
    for (name, value) in answer.headers {
        if let (Ok(name), Ok(value)) = (
            hyper::header::HeaderName::from_bytes(name.as_bytes()),
            hyper::header::HeaderValue::from_str(&value),
        ) {
            headers.append(name, value);
        }
    }
    out
}

fn plain(status: StatusCode) -> hyper::Response<Full<Bytes>> {
    let mut out = hyper::Response::new(Full::new(Bytes::new()));
    *out.status_mut() = status;
    out
}
