//! The two HTTPS listeners: the enrolment host (server-authenticated TLS, `/enrolement`, the
//! online services, the CRL and the CA) and the API host (mutual TLS with a certificate of this
//! authority's CA, `/certificats`, `/transaction`, `/utilisateur`, `/document`).
//!
//! The accept loop is rustls's own, so that the client certificate of the handshake reaches the
//! handlers (as a request extension); each connection is served by hyper with a header-read
//! timer, a whole-request timeout and a cap on open connections. Routing, extraction, body
//! limits, the online services' security headers and request tracing are axum and tower-http.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Extension, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{Next, from_fn};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, post};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_rustls::LazyConfigAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::server::Acceptor;
use tower::ServiceExt as _;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;
use websrm_crypto::PrivateKey;
use websrm_crypto::tls::{ClientAuth, server_config_with};
pub use websrm_crypto::tls::{LocalTlsIdentity, ServerIdentity};

use crate::Authority;
use crate::Error;
use crate::service::{Endpoint, Request};

/// Where the enrolment host publishes the CRL (GET, DER).
pub const CRL_PATH: &str = "/crl";

/// Where the enrolment host publishes the CA's certificate (GET, DER).
pub const CA_PATH: &str = "/ca";

/// The largest request body accepted (the protocol's limit for a batch of transactions).
pub const MAX_BODY: usize = 256 * 1024;

/// The largest form the online services accept.
const MAX_FORM: usize = 16 * 1024;

/// The certificate the client presented in the TLS handshake, if any (a request extension).
#[derive(Debug, Clone)]
struct ClientCertificate(Option<Vec<u8>>);

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
    /// A write (an answer) that makes no progress for this long ends its connection: a client
    /// that stops reading cannot hold a connection by pipelining requests.
    pub write: std::time::Duration,
    /// TLS handshakes in progress at once, per listener, counted from the client's first
    /// message; more wait their turn without taking the runtime's threads, so that a storm of
    /// new connections does not delay the answers on connections already open.
    pub handshakes: usize,
}

impl Default for Limits {
    /// 10 s for the handshake, for a request's head and for a write to make progress, 30 s for
    /// a whole request, 1,024 connections and 64 handshakes at once per listener.
    fn default() -> Self {
        Self {
            handshake: std::time::Duration::from_secs(10),
            header_read: std::time::Duration::from_secs(10),
            request: std::time::Duration::from_secs(30),
            max_connections: 1024,
            write: std::time::Duration::from_secs(10),
            handshakes: 64,
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
    let identity = Arc::new(ServerIdentity::new(chain, key)?);
    serve_with_identity(authority, enrolment, api, identity, limits, shutdown).await
}

/// [`serve_with`] presenting `identity`'s certificate on both hosts, which the caller may
/// replace while they serve (a renewed certificate, the operator's own reloaded).
pub async fn serve_with_identity(
    authority: Arc<Authority>,
    enrolment: TcpListener,
    api: TcpListener,
    identity: Arc<ServerIdentity>,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) -> Result<(), Error> {
    // Certificates name where the CRL and the CA are published: on the enrolment host, at the
    // address it listens on, unless the caller published them elsewhere (a public name).
    if !authority.is_published() {
        let address = enrolment.local_addr().map_err(|e| Error::Io {
            action: "reading the address of",
            path: "the enrolment listener".into(),
            cause: websrm_domain::Source::new(e),
        })?;
        authority.publish_under(&format!("https://{address}"));
    }
    // The enrolment host asks for no certificate but verifies one if presented: a host device
    // requesting its terminal's identifier presents its own, so that the authority records whose
    // terminal it is.
    let enrol_tls = server_config_with(
        identity.clone(),
        ClientAuth::Optional(authority.trusted_ca_certificates()),
    )?;
    let api_tls = server_config_with(
        identity,
        ClientAuth::Required(authority.trusted_ca_certificates()),
    )?;
    let (stop_tx, stop_rx) = watch::channel(false);
    let a = tokio::spawn(accept_loop(
        enrolment_host(authority.clone()),
        authority.clone(),
        enrolment,
        enrol_tls,
        limits,
        stop_rx.clone(),
    ));
    let b = tokio::spawn(accept_loop(
        api_host(authority.clone()),
        authority,
        api,
        api_tls,
        limits,
        stop_rx,
    ));
    shutdown.await;
    let _ = stop_tx.send(true);
    let _ = a.await;
    let _ = b.await;
    Ok(())
}

/// The enrolment host: `AJO`, the online services, the CRL and the CA's certificate.
fn enrolment_host(authority: Arc<Authority>) -> Router {
    let security = [
        (header::CONTENT_TYPE, "text/html; charset=utf-8"),
        (header::CACHE_CONTROL, "no-store"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
        // The online services are reached over HTTPS only, and a browser is told to keep to it.
        (header::STRICT_TRANSPORT_SECURITY, "max-age=31536000"),
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; style-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    ];
    let mut services = crate::portal::routes().layer(RequestBodyLimitLayer::new(MAX_FORM));
    for (name, value) in security {
        services = services.layer(SetResponseHeaderLayer::overriding(
            name,
            HeaderValue::from_static(value),
        ));
    }
    Router::new()
        .route("/enrolement", protocol(Endpoint::Enrolment))
        .route(CA_PATH, get(ca))
        .route(&format!("{CA_PATH}/{{generation}}"), get(ca_generation))
        .route(&format!("{CRL_PATH}/{{generation}}"), get(crl_generation))
        .route(crate::portal::STYLE_PATH, get(stylesheet))
        .route(CRL_PATH, get(crl))
        .layer(RequestBodyLimitLayer::new(MAX_BODY))
        .merge(services)
        .layer(TraceLayer::new_for_http())
        .with_state(authority)
}

/// The online services' style sheet: the same for every page, cached a day.
async fn stylesheet() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=86400"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        crate::portal::STYLESHEET,
    )
}

/// The API host: `REM` and `SUP`, and transmissions.
fn api_host(authority: Arc<Authority>) -> Router {
    Router::new()
        .route("/certificats", protocol(Endpoint::Certificates))
        .route("/transaction", protocol(Endpoint::Transaction))
        .route("/utilisateur", protocol(Endpoint::User))
        .route("/document", protocol(Endpoint::Document))
        .layer(RequestBodyLimitLayer::new(MAX_BODY))
        .layer(TraceLayer::new_for_http())
        .with_state(authority)
}

async fn accept_loop(
    router: Router,
    authority: Arc<Authority>,
    listener: TcpListener,
    tls: Arc<ServerConfig>,
    limits: Limits,
    mut stop: watch::Receiver<bool>,
) {
    let mut connections = tokio::task::JoinSet::new();
    let slots = Arc::new(tokio::sync::Semaphore::new(limits.max_connections));
    let handshakes = Arc::new(tokio::sync::Semaphore::new(limits.handshakes.max(1)));
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
                if authority.faults().draw_refusal() {
                    // A fault on purpose: the connection closed at once, before TLS (audited
                    // aside: the accepts do not wait for the registry).
                    drop(tcp);
                    let authority = authority.clone();
                    tokio::spawn(async move { record_fault(&authority, "refuse", "-").await });
                    continue;
                }
                // Answers are small and written at once: no waiting for more to send (Nagle
                // and delayed acknowledgements cost 40 ms a request on a fresh connection).
                let _ = tcp.set_nodelay(true);
                let (router, tls, mut stop) = (router.clone(), tls.clone(), stop.clone());
                let authority = authority.clone();
                let handshakes = handshakes.clone();
                connections.spawn(async move {
                    let _slot = slot;
                    // The handshake's time runs from the accept, its turn included. The turn is
                    // taken only once the client's first message has arrived (a connection
                    // that sends nothing holds no turn), for the work of the handshake itself.
                    // The write deadline sits under TLS, on the socket: every byte the client
                    // takes is progress, and a large answer read slowly is not cut.
                    let handshake = async {
                        let io = crate::deadline::WriteDeadline::new(tcp, limits.write);
                        let start = match LazyConfigAcceptor::new(Acceptor::default(), io).await {
                            Ok(start) => start,
                            Err(e) => return Some(Err(e)),
                        };
                        let _turn = handshakes.acquire_owned().await.ok()?;
                        Some(start.into_stream(tls).await)
                    };
                    let stream = match tokio::time::timeout(limits.handshake, handshake).await {
                        Ok(Some(Ok(stream))) => stream,
                        Ok(Some(Err(e))) => {
                            tracing::info!(%peer, error = %e, "TLS handshake refused");
                            return;
                        }
                        Ok(None) | Err(_) => return,
                    };
                    authority.metrics().connection(true);
                    let _open = OpenConnection(authority.clone());
                    let client_certificate = ClientCertificate(
                        stream.get_ref().1.peer_certificates().and_then(|c| c.first()).map(|c| c.to_vec()),
                    );
                    let service = service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
                        req.extensions_mut().insert(client_certificate.clone());
                        req.extensions_mut()
                            .insert(crate::portal::ClientAddress(peer.ip()));
                        let fault = (req.method() == hyper::Method::POST
                            && PROTOCOL_PATHS.contains(&req.uri().path()))
                        .then(|| authority.faults().draw())
                        .flatten();
                        let path = req.uri().path().to_owned();
                        let authority = authority.clone();
                        let answer = fault
                            .is_none_or(crate::faults::Fault::processes)
                            .then(|| router.clone().oneshot(req));
                        async move {
                            let response = match answer {
                                Some(answer) => match tokio::time::timeout(limits.request, answer).await {
                                    Ok(Ok(response)) => response,
                                    Ok(Err(never)) => match never {},
                                    Err(_) => StatusCode::REQUEST_TIMEOUT.into_response(),
                                },
                                None => StatusCode::OK.into_response(),
                            };
                            let Some(fault) = fault else {
                                return Ok(response);
                            };
                            record_fault(&authority, fault.name(), &path).await;
                            faulty(fault, response).await
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

/// Serves the admin endpoints over plain HTTP on `listener` (loopback, for the machine's own
/// monitoring) until `shutdown` completes: `/healthz` (the process answers), `/readyz` (the
/// registry takes a write and the CA signs a fresh CRL: 200, or 503 with what failed) and
/// `/metrics` (Prometheus).
pub async fn serve_admin(
    authority: Arc<Authority>,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), Error> {
    let router = Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route(
            "/readyz",
            get(|State(authority): State<Arc<Authority>>| async move {
                let Ok(checks) = tokio::task::spawn_blocking(move || authority.readiness()).await
                else {
                    return StatusCode::INTERNAL_SERVER_ERROR.into_response();
                };
                let ready = checks.iter().all(|(_, r)| r.is_ok());
                let body = serde_json::json!({
                    "ready": ready,
                    "checks": checks
                        .iter()
                        .map(|(name, r)| serde_json::json!({
                            "check": name,
                            "ok": r.is_ok(),
                            "error": r.as_ref().err(),
                        }))
                        .collect::<Vec<_>>(),
                });
                let status = if ready {
                    StatusCode::OK
                } else {
                    StatusCode::SERVICE_UNAVAILABLE
                };
                (status, axum::Json(body)).into_response()
            }),
        )
        .route(
            "/metrics",
            get(|State(authority): State<Arc<Authority>>| async move {
                match tokio::task::spawn_blocking(move || authority.render_metrics()).await {
                    Ok(text) => (
                        [(
                            header::CONTENT_TYPE,
                            "application/openmetrics-text; version=1.0.0; charset=utf-8",
                        )],
                        text,
                    )
                        .into_response(),
                    Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
                }
            }),
        )
        .with_state(authority);
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(|e| Error::Io {
            action: "serving",
            path: "the admin listener".into(),
            cause: websrm_domain::Source::new(e),
        })
}

/// An open connection, counted in the metrics until it ends.
struct OpenConnection(Arc<Authority>);

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.0.metrics().connection(false);
    }
}

/// The paths whose requests faults strike.
const PROTOCOL_PATHS: [&str; 5] = [
    "/enrolement",
    "/certificats",
    "/transaction",
    "/utilisateur",
    "/document",
];

/// What a fault makes of the answer: lost (the connection closed: hyper drops a connection whose
/// service fails, writing nothing), late, or a firewall's page instead.
async fn faulty(
    fault: crate::faults::Fault,
    response: Response,
) -> Result<Response, std::io::Error> {
    use crate::faults::Fault;
    const PAGE: &str = "<html><head><title>Request Rejected</title></head><body>The requested URL was rejected.</body></html>";
    match fault {
        Fault::LostAnswer => Err(std::io::Error::other("fault on purpose: lost-answer")),
        Fault::LateAnswer(by) => {
            tokio::time::sleep(by).await;
            Ok(response)
        }
        Fault::ServerError => Ok((
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::CONTENT_TYPE, "text/html")],
            PAGE,
        )
            .into_response()),
        Fault::NotJson => {
            Ok((StatusCode::OK, [(header::CONTENT_TYPE, "text/html")], PAGE).into_response())
        }
    }
}

/// A fault on purpose, in the audit log (and in the process's log when the audit log cannot
/// take it: a fault never stops the service).
async fn record_fault(authority: &Arc<Authority>, name: &'static str, path: &str) {
    authority.metrics().fault(name);
    let authority = authority.clone();
    let path = path.to_owned();
    let written = tokio::task::spawn_blocking(move || {
        let now = authority.now();
        authority
            .registry()
            .append_audit(websrm_registry::NewAudit::new(
                now, "faults", "fault", name, path,
            ))
    })
    .await;
    if !matches!(written, Ok(Ok(_))) {
        tracing::warn!(fault = name, "a fault on purpose could not be audited");
    }
}

/// WEB-SRM requires `Content-Length`: a request without one (a chunked body, which could grow
/// without bound) is refused with 411 before any of its body is read.
async fn require_length(request: axum::extract::Request, next: Next) -> Response {
    if request.headers().contains_key(header::CONTENT_LENGTH) {
        next.run(request).await
    } else {
        StatusCode::LENGTH_REQUIRED.into_response()
    }
}

/// The protocol requires `CONTENT-TYPE: application/json` on every request (SW-73 §4.3); any
/// other media type (parameters such as `charset` aside) is refused with 415, before the body is
/// read. The guides give no error id for it: like 411, it is an HTTP answer.
async fn require_json(request: axum::extract::Request, next: Next) -> Response {
    let json = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|media| media.trim().eq_ignore_ascii_case("application/json"));
    if json {
        next.run(request).await
    } else {
        StatusCode::UNSUPPORTED_MEDIA_TYPE.into_response()
    }
}

/// A route of the protocol: `POST` only, its length declared, JSON, answered by [`answer`].
fn protocol(endpoint: Endpoint) -> MethodRouter<Arc<Authority>> {
    post(
        move |State(authority): State<Arc<Authority>>,
              Extension(certificate): Extension<ClientCertificate>,
              headers: HeaderMap,
              body: Bytes| answer(authority, endpoint, certificate, headers, body),
    )
    .route_layer(from_fn(require_json))
    .route_layer(from_fn(require_length))
}

/// A certificate request or a transmission: the body (at most [`MAX_BODY`], its length declared)
/// goes to the authority: certificate requests on this thread, their record's commit awaited
/// (see [`Authority::answer_awaiting`]); the rest off the async threads.
async fn answer(
    authority: Arc<Authority>,
    endpoint: Endpoint,
    certificate: ClientCertificate,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let headers: Vec<(String, String)> = headers
        .iter()
        .map(|(n, v)| {
            (
                n.as_str().to_ascii_uppercase(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let request = Request::new(endpoint, headers, body.to_vec(), certificate.0);
    let started = std::time::Instant::now();
    // A certificate request is answered here, its record's commit awaited; any other, and one
    // whose answer waits on the way, off the async threads.
    let awaited = authority.answer_awaiting(&request).await;
    let (authority, response) = match awaited {
        Some(response) => (authority, response),
        None => {
            let Ok(answered) = tokio::task::spawn_blocking(move || {
                let response = authority.handle(&request);
                (authority, response)
            })
            .await
            else {
                return StatusCode::INTERNAL_SERVER_ERROR.into_response();
            };
            answered
        }
    };
    authority.metrics().request(
        endpoint.path(),
        response.status,
        &response.body,
        started.elapsed().as_secs_f64(),
    );
    (
        StatusCode::from_u16(response.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        [(header::CONTENT_TYPE, "application/json")],
        response.body,
    )
        .into_response()
}

/// The certificate (DER) of the CA's first root: what certificates it issued name (caIssuers).
async fn ca(State(authority): State<Arc<Authority>>) -> Response {
    ca_of(&authority, 1)
}

/// The certificate (DER) of a later root (`/ca/N`).
async fn ca_generation(
    State(authority): State<Arc<Authority>>,
    Path(generation): Path<u32>,
) -> Response {
    ca_of(&authority, generation)
}

fn ca_of(authority: &Authority, generation: u32) -> Response {
    match authority.ca_certificate_der_of(generation) {
        Some(der) => (
            [(header::CONTENT_TYPE, "application/pkix-cert")],
            der.to_vec(),
        )
            .into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// The CRL (DER) of the CA's first root, regenerated after a revocation and before its next
/// update.
async fn crl(State(authority): State<Arc<Authority>>) -> Response {
    crl_of(authority, 1).await
}

/// The CRL (DER) of a later root (`/crl/N`).
async fn crl_generation(
    State(authority): State<Arc<Authority>>,
    Path(generation): Path<u32>,
) -> Response {
    crl_of(authority, generation).await
}

async fn crl_of(authority: Arc<Authority>, generation: u32) -> Response {
    if authority.ca_certificate_der_of(generation).is_none() {
        return StatusCode::NOT_FOUND.into_response();
    }
    match tokio::task::spawn_blocking(move || authority.revocation().crl_of(generation)).await {
        Ok(Ok(der)) => ([(header::CONTENT_TYPE, "application/pkix-crl")], der).into_response(),
        _ => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}
