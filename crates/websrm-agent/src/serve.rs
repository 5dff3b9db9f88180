//! Serving the agent: each listener (TCP on loopback, a Unix socket) with hyper, a cap on open
//! connections, a time limit on a request's head and on a whole request, and a check of the
//! `Host` header, so that a web page a browser on the till loads cannot reach the agent under a
//! name of its own (DNS rebinding).

use std::convert::Infallible;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::watch;
use tower::ServiceExt as _;

use crate::api::ErrorKind;

/// What keeps slow or many clients from holding the agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// Connections open at once, per listener; more wait in the kernel's queue.
    pub max_connections: usize,
    /// A request's head must arrive within this (from the connection, or from the previous
    /// answer on a kept-alive connection).
    pub header_read: Duration,
    /// A whole request, its answer made, must end within this (requests to the authority wait
    /// their turn, one at a time: this leaves them room).
    pub request: Duration,
}

impl Default for Limits {
    /// 256 connections per listener, 10 s for a head, 120 s for a request.
    fn default() -> Self {
        Self {
            max_connections: 256,
            header_read: Duration::from_secs(10),
            request: Duration::from_secs(120),
        }
    }
}

/// A connection of either listener.
pub(crate) trait Io: AsyncRead + AsyncWrite + Unpin + Send + 'static {}

impl<T: AsyncRead + AsyncWrite + Unpin + Send + 'static> Io for T {}

/// A listener of the agent.
pub(crate) enum Listener {
    Tcp(tokio::net::TcpListener),
    #[cfg(unix)]
    Unix(tokio::net::UnixListener),
}

impl Listener {
    async fn accept(&self) -> std::io::Result<Box<dyn Io>> {
        match self {
            Self::Tcp(l) => {
                let (stream, _) = l.accept().await?;
                let _ = stream.set_nodelay(true);
                Ok(Box::new(stream))
            }
            #[cfg(unix)]
            Self::Unix(l) => Ok(Box::new(l.accept().await?.0)),
        }
    }
}

/// Serves `router` on `listener` until `stop` turns true; connections in progress finish their
/// request first (10 s at most).
pub(crate) async fn serve(
    listener: Listener,
    router: Router,
    limits: Limits,
    mut stop: watch::Receiver<bool>,
) {
    let slots = Arc::new(tokio::sync::Semaphore::new(limits.max_connections.max(1)));
    let mut connections = tokio::task::JoinSet::new();
    let mut backoff = Duration::from_millis(10);
    loop {
        while connections.try_join_next().is_some() {}
        let slot = tokio::select! {
            _ = stopped(&mut stop) => break,
            slot = slots.clone().acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => break,
            },
        };
        let io = tokio::select! {
            _ = stopped(&mut stop) => break,
            accepted = listener.accept() => match accepted {
                Ok(io) => {
                    backoff = Duration::from_millis(10);
                    io
                }
                Err(e) => {
                    tracing::warn!(error = %e, "accept failed; backing off {backoff:?}");
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(1));
                    continue;
                }
            },
        };
        let (router, mut stop) = (router.clone(), stop.clone());
        connections.spawn(async move {
            let _slot = slot;
            let service = service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
                let answer = router.clone().oneshot(request);
                async move {
                    Ok::<_, Infallible>(match tokio::time::timeout(limits.request, answer).await {
                        Ok(Ok(response)) => response,
                        Ok(Err(never)) => match never {},
                        Err(_) => crate::api::Failure::new(
                            StatusCode::SERVICE_UNAVAILABLE,
                            ErrorKind::Timeout,
                            "La requête a pris trop de temps.",
                            "The request took too long.",
                        )
                        .into_response(),
                    })
                }
            });
            let connection = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(limits.header_read)
                .serve_connection(TokioIo::new(io), service);
            tokio::pin!(connection);
            let result = tokio::select! {
                result = connection.as_mut() => result,
                _ = stopped(&mut stop) => {
                    connection.as_mut().graceful_shutdown();
                    tokio::time::timeout(Duration::from_secs(10), connection).await.unwrap_or(Ok(()))
                }
            };
            if let Err(e) = result {
                tracing::debug!(error = %e, "connection ended");
            }
        });
    }
    while connections.join_next().await.is_some() {}
}

/// Completes once `stop` turns true.
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

/// The names under which the agent may be called: loopback's, and the address it listens on
/// when that is not loopback (a vendor's choice, warned about).
#[derive(Debug, Clone)]
pub(crate) struct AllowedHosts(Vec<String>);

impl AllowedHosts {
    pub(crate) fn new(listening: Option<IpAddr>) -> Self {
        let mut names: Vec<String> = ["localhost", "127.0.0.1", "[::1]", "::1"]
            .into_iter()
            .map(str::to_owned)
            .collect();
        if let Some(ip) = listening.filter(|ip| !ip.is_loopback() && !ip.is_unspecified()) {
            names.push(match ip {
                IpAddr::V4(v4) => v4.to_string(),
                IpAddr::V6(v6) => format!("[{v6}]"),
            });
        }
        Self(names)
    }

    /// Whether `host` (a `Host` header: a name, and maybe a port) is one of them.
    fn allows(&self, host: &str) -> bool {
        let name = if host.starts_with('[') {
            host.split_inclusive(']').next().unwrap_or(host)
        } else if host.matches(':').count() == 1 {
            host.split(':').next().unwrap_or(host)
        } else {
            host
        };
        self.0
            .iter()
            .any(|allowed| allowed.eq_ignore_ascii_case(name))
    }
}

/// Refuses a request whose `Host` is not one of the agent's names (403): a page of another site
/// that a browser reaches at 127.0.0.1 through a name of its own carries that name.
pub(crate) async fn check_host(
    State(allowed): State<Arc<AllowedHosts>>,
    request: Request,
    next: Next,
) -> Response {
    let host = request
        .headers()
        .get(axum::http::header::HOST)
        .map(|h| h.to_str().unwrap_or("\u{fffd}"));
    match host {
        Some(host) if !allowed.allows(host) => {
            tracing::warn!(host, "refused a call under a name that is not the agent's");
            crate::api::Failure::new(
                StatusCode::FORBIDDEN,
                ErrorKind::HostNotAllowed,
                "L'agent ne répond qu'à localhost.",
                "The agent answers only as localhost.",
            )
            .into_response()
        }
        _ => next.run(request).await,
    }
}

/// `router` behind the `Host` check.
pub(crate) fn with_host_check(router: Router, allowed: AllowedHosts) -> Router {
    router.layer(middleware::from_fn_with_state(
        Arc::new(allowed),
        check_host,
    ))
}

/// Every failing answer is an `ApiError` in JSON: the rejections that axum's extractors and
/// router make before any handler runs (a body that is not JSON or lacks a field, a wrong
/// content type, a body too large, an unknown route, a wrong method) come as plain text and are
/// turned into one here, their message (which names the field) kept.
pub(crate) async fn json_errors(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let (parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, 64 * 1024)
        .await
        .map(|b| String::from_utf8_lossy(&b).trim().to_owned())
        .unwrap_or_default();
    let (kind, fr, en) = match status {
        StatusCode::NOT_FOUND => (
            ErrorKind::NotFound,
            "Cette adresse n'existe pas.".to_owned(),
            "No such route.".to_owned(),
        ),
        StatusCode::METHOD_NOT_ALLOWED => (
            ErrorKind::MethodNotAllowed,
            "Cette méthode n'est pas permise à cette adresse.".to_owned(),
            "This method is not allowed on this route.".to_owned(),
        ),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => (
            ErrorKind::UnsupportedMediaType,
            "Le corps doit être du JSON (Content-Type: application/json).".to_owned(),
            "The body must be JSON (Content-Type: application/json).".to_owned(),
        ),
        StatusCode::PAYLOAD_TOO_LARGE => (
            ErrorKind::TooLarge,
            "Le corps dépasse 64 Ko.".to_owned(),
            "The body is over 64 KB.".to_owned(),
        ),
        s if s.is_client_error() => (
            ErrorKind::Invalid,
            format!("Requête invalide : {text}"),
            format!("Invalid request: {text}"),
        ),
        _ => (
            ErrorKind::Local,
            format!("Erreur de l'agent : {text}"),
            format!("Agent error: {text}"),
        ),
    };
    let mut answer = crate::api::Failure::new(parts.status, kind, &fr, &en).into_response();
    if let Some(allow) = parts.headers.get(axum::http::header::ALLOW) {
        answer
            .headers_mut()
            .insert(axum::http::header::ALLOW, allow.clone());
    }
    answer
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_names_with_or_without_a_port_are_the_agents_and_others_are_not() {
        let allowed = AllowedHosts::new(Some("127.0.0.1".parse().unwrap()));
        for host in [
            "localhost",
            "localhost:7878",
            "127.0.0.1:7878",
            "[::1]:7878",
            "LOCALHOST",
        ] {
            assert!(allowed.allows(host), "{host}");
        }
        for host in [
            "attacker.example",
            "attacker.example:7878",
            "127.0.0.1.nip.io",
            "10.0.0.5",
        ] {
            assert!(!allowed.allows(host), "{host}");
        }
        let wide = AllowedHosts::new(Some("10.0.0.5".parse().unwrap()));
        assert!(wide.allows("10.0.0.5:7878"));
    }
}
