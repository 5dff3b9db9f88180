//! `Idempotency-Key`: a POST that changes state, retried with the same key and the same body
//! after its answer was lost, is answered as the first time, without a second effect; the same
//! key with another body is `422 idempotency_conflict`. Answers are kept in the device store
//! for [`websrm::ANSWERS_KEPT`].
//!
//! A signature remembers its answer with its link, and a transaction with its outbox entry, in
//! one store transaction (the handler passes the key to the facade), so that no crash can
//! separate the two. Every other POST is wrapped
//! here: the answer is remembered after the handler, under one lock, so that a retry arriving
//! while the first call runs waits for its answer. A call that fails before any effect (a
//! value refused locally, the authority unreachable) is not remembered: sent again, it is
//! simply tried again.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use websrm::{IdempotencyKey, RememberedAnswer};

use crate::Agent;
use crate::api::{ErrorKind, Failure};

/// The header.
pub(crate) const HEADER: &str = "idempotency-key";

/// The header answers replayed from memory carry.
const REPLAYED: &str = "idempotent-replayed";

/// The key of a request, if it has one; an invalid one is `400 invalid` naming the header.
pub(crate) fn key(headers: &HeaderMap) -> Result<Option<IdempotencyKey>, Failure> {
    let Some(value) = headers.get(HEADER) else {
        return Ok(None);
    };
    let invalid = || {
        let mut failure = Failure::invalid(
            "Idempotency-Key",
            "1 to 255 visible ASCII characters (a UUID, say)",
        );
        failure.set_status(StatusCode::BAD_REQUEST);
        failure
    };
    value
        .to_str()
        .ok()
        .and_then(|v| v.parse().ok())
        .map(Some)
        .ok_or_else(invalid)
}

/// Wraps every POST but the signatures' and the transactions' (which keep their key with their
/// link and their outbox entry).
pub(crate) async fn remember(
    State(agent): State<Arc<Agent>>,
    request: Request,
    next: Next,
) -> Response {
    if request.method() != Method::POST
        || matches!(request.uri().path(), "/v1/signatures" | "/v1/transactions")
    {
        return next.run(request).await;
    }
    let key = match key(request.headers()) {
        Ok(Some(key)) => key,
        Ok(None) => return next.run(request).await,
        Err(failure) => return failure.into_response(),
    };
    let (parts, body) = request.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, 64 * 1024).await else {
        return crate::api::too_large().into_response();
    };
    let operation = format!("{} {}", parts.method, parts.uri.path());
    let digest = websrm::request_digest(&[operation.as_bytes(), &canonical(&bytes)]);
    // One keyed call at a time: a retry that arrives while the first runs gets its answer.
    let _turn = agent.keyed.lock().await;
    let main = agent.main();
    match main.remembered_answer(&key) {
        Ok(Some(answer)) if answer.operation == operation && answer.digest == digest => {
            return replay(&answer);
        }
        Ok(Some(_)) => {
            return Failure::from(websrm::Error::IdempotencyConflict(key)).into_response();
        }
        Ok(None) => {}
        Err(e) => return Failure::from(e).into_response(),
    }
    let response = next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await;
    let (parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, 4 * 1024 * 1024).await else {
        return Failure::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorKind::Local,
            "La réponse n'a pu être lue.",
            "The answer could not be read.",
        )
        .into_response();
    };
    if worth_remembering(parts.status, &bytes) {
        let answer = RememberedAnswer::new(
            operation,
            digest,
            parts.status.as_u16(),
            String::from_utf8_lossy(&bytes),
            agent.now(),
        );
        if let Err(e) = main.remember_answer(&key, &answer) {
            tracing::error!(error = %e, "an answer could not be remembered under its idempotency key");
        }
    }
    Response::from_parts(parts, Body::from(bytes))
}

/// Successes, and the authority's refusals (which the authority recorded), are remembered;
/// what failed before any effect is not.
fn worth_remembering(status: StatusCode, body: &[u8]) -> bool {
    status.is_success()
        || (status == StatusCode::UNPROCESSABLE_ENTITY
            && serde_json::from_slice::<serde_json::Value>(body)
                .is_ok_and(|v| v["kind"] == "refused"))
}

/// The body in one spelling (keys sorted, no spaces), so that the same JSON written otherwise
/// is the same request; a body that is not JSON as it is.
fn canonical(bytes: &[u8]) -> Vec<u8> {
    serde_json::from_slice::<serde_json::Value>(bytes)
        .ok()
        .and_then(|v| serde_json::to_vec(&v).ok())
        .unwrap_or_else(|| bytes.to_vec())
}

fn replay(answer: &RememberedAnswer) -> Response {
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::OK);
    let mut response = (status, answer.body.clone()).into_response();
    let headers = response.headers_mut();
    headers.insert(
        axum::http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(REPLAYED, HeaderValue::from_static("true"));
    response
}
