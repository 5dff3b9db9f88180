//! The `/v1` JSON API: its types (which the OpenAPI description is generated from) and its
//! handlers, each a thin layer over the facade.
//!
//! This file: errors and their bodies. `health.rs`: the agent's health and the device
//! identifier; `certificates.rs`: certificates, enrolment, replacement, deletion, recovery;
//! `terminals.rs`: terminals; `signatures.rs`: the billing guard and signatures;
//! `transactions.rs`: transactions transmitted, the outbox.

// utoipa's `IntoParams` names the parameters' type with a full path in the code it generates.
#![allow(unused_qualifications)]

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;
use utoipa::{IntoParams, ToSchema};
use websrm::domain::DeviceId;
use websrm::{
    BillingGuard, Changes, Confirmation, DeviceIdAnswer, OperatorEnrolment, Origin, TransactionData,
};

use crate::Agent;

/// What kind of failure an [`ApiError`] reports.
///
/// `refused`: the authority refused (its errors are in `errors`); `communication`: the request
/// may have reached the authority, the agent finishes it at the next recovery; `unreachable`:
/// nothing was sent; `device_id_question`: ask the user whether the device has an identifier;
/// `not_confirmed`: the user must confirm; `not_found`: no such certificate, terminal or route;
/// `already_enrolled`, `in_force`: a certificate is in force (replace or delete it);
/// `unusable`: the certificate cannot be used now; `invalid`: a value, a body or a header is
/// invalid (`field` names it); `idempotency_conflict`: the `Idempotency-Key` was used for
/// another request; `unauthorized`: the token is missing or wrong; `local`: the agent failed;
/// `method_not_allowed`, `unsupported_media_type`, `too_large`, `timeout`, `host_not_allowed`:
/// refused by the agent's HTTP layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The authority refused.
    Refused,
    /// The request may have reached the authority.
    Communication,
    /// The authority could not be reached; nothing was sent.
    Unreachable,
    /// The device has no identifier: ask the user.
    DeviceIdQuestion,
    /// The user must confirm.
    NotConfirmed,
    /// No such certificate, terminal or route.
    NotFound,
    /// The slot has a certificate in force.
    AlreadyEnrolled,
    /// The certificate is in force.
    InForce,
    /// The certificate cannot be used now.
    Unusable,
    /// A value, a body or a header is invalid.
    Invalid,
    /// The idempotency key was used for another request.
    IdempotencyConflict,
    /// The token is missing or wrong.
    Unauthorized,
    /// The agent failed.
    Local,
    /// The method is not allowed on the route.
    MethodNotAllowed,
    /// The body is not `application/json`.
    UnsupportedMediaType,
    /// The body is over 64 KB.
    TooLarge,
    /// The request took too long.
    Timeout,
    /// The `Host` is not one of the agent's names.
    HostNotAllowed,
}

/// An error, as every failing call returns it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"kind": "refused", "message_fr": "L'autorité a refusé la demande : JW00B999514E Le code d'autorisation est invalide.", "message_en": "The authority refused the request: JW00B999514E The authorization code is invalid.", "errors": [{"id": "JW00B999514E", "codRetour": "14", "message_fr": "Le code d'autorisation est invalide.", "message_en": "The authorization code is invalid."}], "retryable": false}))]
pub struct ApiError {
    /// What kind of failure.
    pub kind: ErrorKind,
    /// The message in French.
    pub message_fr: String,
    /// The message in English.
    pub message_en: String,
    /// The authority's errors, when it answered with some.
    pub errors: Vec<AuthorityErrorBody>,
    /// Whether sending the same request again may succeed.
    pub retryable: bool,
    /// The field, query parameter or header that is invalid (`kind` `invalid`), as a path:
    /// `nickname`, `device_id_answer.device_id`, `Idempotency-Key`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

pub use websrm::views::AuthorityErrorJson as AuthorityErrorBody;

/// A failing call: its status and body.
#[derive(Debug)]
pub(crate) struct Failure(StatusCode, ApiError);

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        (self.0, Json(self.1)).into_response()
    }
}

impl Failure {
    pub(crate) fn new(status: StatusCode, kind: ErrorKind, fr: &str, en: &str) -> Self {
        Self(
            status,
            ApiError {
                kind,
                message_fr: fr.to_owned(),
                message_en: en.to_owned(),
                errors: Vec::new(),
                retryable: false,
                field: None,
            },
        )
    }

    /// `field` is invalid: `e` says why.
    pub(crate) fn invalid(field: &str, e: impl std::fmt::Display) -> Self {
        let mut failure = Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorKind::Invalid,
            &format!("Valeur invalide pour {field} : {e}"),
            &format!("Invalid value for {field}: {e}"),
        );
        failure.1.field = Some(field.to_owned());
        failure
    }

    /// Answers with `status` instead.
    pub(crate) fn set_status(&mut self, status: StatusCode) {
        self.0 = status;
    }
}

/// A JSON body, read as `T`: a body that is not JSON is `400 invalid`, one that does not fit
/// `T` (a field missing, of the wrong type, unknown) is `422 invalid` with the field named, a
/// body without `Content-Type: application/json` is `415`, one over 64 KB is `413`; each an
/// [`ApiError`].
#[derive(Debug)]
pub(crate) struct Body<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned> axum::extract::FromRequest<S> for Body<T> {
    type Rejection = Failure;

    async fn from_request(request: axum::extract::Request, state: &S) -> Result<Self, Failure> {
        let json = request
            .headers()
            .get(axum::http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|v| {
                let v = v.trim();
                v.eq_ignore_ascii_case("application/json")
                    || (v.starts_with("application/") && v.ends_with("+json"))
            });
        if !json {
            return Err(Failure::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                ErrorKind::UnsupportedMediaType,
                "Le corps doit être du JSON (Content-Type: application/json).",
                "The body must be JSON (Content-Type: application/json).",
            ));
        }
        let bytes = axum::body::Bytes::from_request(request, state)
            .await
            .map_err(|_| too_large())?;
        let deserializer = &mut serde_json::Deserializer::from_slice(&bytes);
        match serde_path_to_error::deserialize::<_, T>(deserializer) {
            Ok(value) => Ok(Self(value)),
            Err(e) => {
                let path = e.path().to_string();
                let inner = e.into_inner();
                if inner.is_syntax() || inner.is_eof() {
                    return Err(Failure::new(
                        StatusCode::BAD_REQUEST,
                        ErrorKind::Invalid,
                        &format!("Le corps n'est pas du JSON : {inner}"),
                        &format!("The body is not JSON: {inner}"),
                    ));
                }
                Err(refused_field(&path, &inner.to_string()))
            }
        }
    }
}

/// A query string, read as `T`: a parameter missing, unknown or of the wrong value is
/// `422 invalid` with the parameter named, as a body's field is.
#[derive(Debug)]
pub(crate) struct Params<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned> axum::extract::FromRequestParts<S>
    for Params<T>
{
    type Rejection = Failure;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _state: &S,
    ) -> Result<Self, Failure> {
        let query = parts.uri.query().unwrap_or_default();
        let deserializer =
            serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize::<_, T>(deserializer)
            .map(Self)
            .map_err(|e| {
                let path = e.path().to_string();
                refused_field(&path, &e.into_inner().to_string())
            })
    }
}

/// `422 invalid` for what serde refused at `path`: the field named, a missing one (which serde
/// names in its message, at the path of its parent) included.
fn refused_field(path: &str, message: &str) -> Failure {
    let missing = message
        .strip_prefix("missing field `")
        .and_then(|rest| rest.split('`').next());
    let field = match (missing, path) {
        (Some(name), ".") => name.to_owned(),
        (Some(name), parent) => format!("{parent}.{name}"),
        (None, p) => p.to_owned(),
    };
    let message = message.split(" at line ").next().unwrap_or(message);
    Failure::invalid(&field, message)
}

/// `413 too_large`.
pub(crate) fn too_large() -> Failure {
    Failure::new(
        StatusCode::PAYLOAD_TOO_LARGE,
        ErrorKind::TooLarge,
        "Le corps dépasse 64 Ko.",
        "The body is over 64 KB.",
    )
}

impl From<websrm::Error> for Failure {
    fn from(e: websrm::Error) -> Self {
        use websrm::Error as E;
        let en = e.to_string();
        let (status, kind, fr, retryable) = match &e {
            E::Refused { errors, retransmittable } => {
                let body = AuthorityErrorBody::all(errors);
                let fr = errors
                    .iter()
                    .map(|x| format!("{} {}", x.id, x.message))
                    .collect::<Vec<_>>()
                    .join(" ; ");
                let en = errors
                    .iter()
                    .map(|x| format!("{} {}", x.id, x.english().unwrap_or_default()))
                    .collect::<Vec<_>>()
                    .join("; ");
                return Self(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    ApiError {
                        kind: ErrorKind::Refused,
                        message_fr: format!("L'autorité a refusé la demande : {fr}"),
                        message_en: format!("The authority refused the request: {en}"),
                        errors: body,
                        retryable: *retransmittable,
                        field: None,
                    },
                );
            }
            E::Communication { .. } => (
                StatusCode::BAD_GATEWAY,
                ErrorKind::Communication,
                "Problème de communication avec l'autorité; la demande sera terminée à la prochaine reprise."
                    .to_owned(),
                true,
            ),
            E::Unreachable { .. } => (
                StatusCode::BAD_GATEWAY,
                ErrorKind::Unreachable,
                "L'autorité ne peut pas être jointe; rien n'a été envoyé.".to_owned(),
                true,
            ),
            E::DeviceIdQuestion => (
                StatusCode::CONFLICT,
                ErrorKind::DeviceIdQuestion,
                "L'appareil n'a pas d'identifiant : demandez à l'utilisateur s'il en a un (IDAPPRL)."
                    .to_owned(),
                false,
            ),
            E::NotConfirmed => (
                StatusCode::UNPROCESSABLE_ENTITY,
                ErrorKind::NotConfirmed,
                "L'utilisateur doit confirmer le remplacement ou la suppression.".to_owned(),
                false,
            ),
            E::NotFound(what) => (
                StatusCode::NOT_FOUND,
                ErrorKind::NotFound,
                format!("Aucun certificat nommé {what} sur cet appareil."),
                false,
            ),
            E::AlreadyEnrolled(slot) => (
                StatusCode::CONFLICT,
                ErrorKind::AlreadyEnrolled,
                format!("{slot} a déjà un certificat en vigueur; remplacez-le."),
                false,
            ),
            E::InForce(nickname) => (
                StatusCode::CONFLICT,
                ErrorKind::InForce,
                format!("Le certificat {nickname} est encore en vigueur; supprimez-le."),
                false,
            ),
            E::Unusable { notice, .. } => {
                return Self(
                    StatusCode::CONFLICT,
                    ApiError {
                        kind: ErrorKind::Unusable,
                        message_fr: notice.french.clone(),
                        message_en: notice.english.clone(),
                        errors: Vec::new(),
                        retryable: false,
                        field: None,
                    },
                );
            }
            E::Transaction(found) => {
                return Self(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    ApiError {
                        kind: ErrorKind::Invalid,
                        message_fr: format!(
                            "L'autorité refuserait cette transaction : {}",
                            found
                                .iter()
                                .map(|f| format!("{} {}", f.id, f.message_fr()))
                                .collect::<Vec<_>>()
                                .join(" ; ")
                        ),
                        message_en: format!("The authority would refuse this transaction: {en}"),
                        errors: found
                            .iter()
                            .map(|f| AuthorityErrorBody {
                                id: f.id.to_string(),
                                cod_retour: Some(f.return_code.to_string()),
                                message_fr: f.message_fr(),
                                message_en: Some(f.message_en()),
                            })
                            .collect(),
                        retryable: false,
                        field: found.first().map(|f| f.path.clone()),
                    },
                );
            }
            E::IdempotencyConflict(_) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                ErrorKind::IdempotencyConflict,
                "Cette clé d'idempotence a déjà servi pour une autre requête; une nouvelle requête demande une nouvelle clé."
                    .to_owned(),
                false,
            ),
            E::Invalid(_)
            | E::Subject(_)
            | E::DeviceIdConflict { .. }
            | E::InvalidIdempotencyKey => (
                StatusCode::UNPROCESSABLE_ENTITY,
                ErrorKind::Invalid,
                format!("Valeur invalide : {en}"),
                false,
            ),
            _ => (
                StatusCode::INTERNAL_SERVER_ERROR,
                ErrorKind::Local,
                format!("Erreur locale : {en}"),
                false,
            ),
        };
        Self(
            status,
            ApiError {
                kind,
                message_fr: fr,
                message_en: en,
                errors: Vec::new(),
                retryable,
                field: None,
            },
        )
    }
}

type Reply<T> = Result<Json<T>, Failure>;

mod certificates;
mod health;
mod relay;
mod signatures;
mod terminals;
mod transactions;
mod users;

pub use certificates::*;
pub use health::*;
pub use relay::*;
pub use signatures::*;
pub use terminals::*;
pub use transactions::*;
pub use users::*;
