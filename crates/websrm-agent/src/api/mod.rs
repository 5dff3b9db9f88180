//! The `/v1` JSON API: its types (which the OpenAPI description is generated from) and its
//! handlers, each a thin layer over the facade.
//!
//! This file: errors and their bodies. `health.rs`: the agent's health and the device
//! identifier; `certificates.rs`: certificates, enrolment, replacement, deletion, recovery;
//! `terminals.rs`: terminals; `signatures.rs`: the billing guard and signatures.

// utoipa's `IntoParams` names the parameters' type with a full path in the code it generates.
#![allow(unused_qualifications)]

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use time::format_description::well_known::Rfc3339;
use utoipa::{IntoParams, ToSchema};
use websrm::domain::{DeviceId, Health};
use websrm::{
    BillingGuard, CertificateView, Confirmation, DeviceIdAnswer, OperatorEnrolment, Origin,
    TransactionData,
};

use crate::Agent;

/// An error, as every failing call returns it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ApiError {
    /// What kind of failure: `refused` (the authority refused), `communication` (the request
    /// may have reached the authority; the agent finishes it later), `unreachable`,
    /// `device_id_question`, `not_confirmed`, `not_found`, `already_enrolled`, `in_force`,
    /// `unusable`, `invalid`, `unauthorized`, `local`; and from the HTTP layer,
    /// `method_not_allowed`, `unsupported_media_type`, `too_large`, `timeout`,
    /// `host_not_allowed`.
    pub kind: String,
    /// The message in French.
    pub message_fr: String,
    /// The message in English.
    pub message_en: String,
    /// The authority's errors, when it answered with some.
    pub errors: Vec<AuthorityErrorBody>,
    /// Whether sending the same request again may succeed.
    pub retryable: bool,
}

/// One error of the authority.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct AuthorityErrorBody {
    /// `JW00B999nnnE`.
    pub id: String,
    /// `codRetour`, when the error has one.
    #[serde(rename = "codRetour")]
    pub cod_retour: Option<String>,
    /// The authority's message (French).
    pub message_fr: String,
    /// The same in English, from the catalogue.
    pub message_en: Option<String>,
}

/// A failing call: its status and body.
#[derive(Debug)]
pub(crate) struct Failure(StatusCode, ApiError);

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        (self.0, Json(self.1)).into_response()
    }
}

impl Failure {
    pub(crate) fn new(status: StatusCode, kind: &str, fr: &str, en: &str) -> Self {
        Self(
            status,
            ApiError {
                kind: kind.to_owned(),
                message_fr: fr.to_owned(),
                message_en: en.to_owned(),
                errors: Vec::new(),
                retryable: false,
            },
        )
    }

    fn invalid(e: impl std::fmt::Display) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid",
            &format!("Valeur invalide : {e}"),
            &format!("Invalid value: {e}"),
        )
    }
}

impl From<websrm::Error> for Failure {
    fn from(e: websrm::Error) -> Self {
        use websrm::Error as E;
        let en = e.to_string();
        let (status, kind, fr, retryable) = match &e {
            E::Refused { errors, retransmittable } => {
                let body = errors
                    .iter()
                    .map(|x| AuthorityErrorBody {
                        id: x.id.to_string(),
                        cod_retour: x.return_code.map(|c| c.to_string()),
                        message_fr: x.message.clone(),
                        message_en: x.english(),
                    })
                    .collect();
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
                        kind: "refused".into(),
                        message_fr: format!("L'autorité a refusé la demande : {fr}"),
                        message_en: format!("The authority refused the request: {en}"),
                        errors: body,
                        retryable: *retransmittable,
                    },
                );
            }
            E::Communication { .. } => (
                StatusCode::BAD_GATEWAY,
                "communication",
                "Problème de communication avec l'autorité; la demande sera terminée à la prochaine reprise."
                    .to_owned(),
                true,
            ),
            E::Unreachable { .. } => (
                StatusCode::BAD_GATEWAY,
                "unreachable",
                "L'autorité ne peut pas être jointe; rien n'a été envoyé.".to_owned(),
                true,
            ),
            E::DeviceIdQuestion => (
                StatusCode::CONFLICT,
                "device_id_question",
                "L'appareil n'a pas d'identifiant : demandez à l'utilisateur s'il en a un (IDAPPRL)."
                    .to_owned(),
                false,
            ),
            E::NotConfirmed => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "not_confirmed",
                "L'utilisateur doit confirmer le remplacement ou la suppression.".to_owned(),
                false,
            ),
            E::NotFound(what) => (
                StatusCode::NOT_FOUND,
                "not_found",
                format!("Aucun certificat nommé {what} sur cet appareil."),
                false,
            ),
            E::AlreadyEnrolled(slot) => (
                StatusCode::CONFLICT,
                "already_enrolled",
                format!("{slot} a déjà un certificat en vigueur; remplacez-le."),
                false,
            ),
            E::InForce(nickname) => (
                StatusCode::CONFLICT,
                "in_force",
                format!("Le certificat {nickname} est encore en vigueur; supprimez-le."),
                false,
            ),
            E::Unusable { notice, .. } => {
                return Self(
                    StatusCode::CONFLICT,
                    ApiError {
                        kind: "unusable".into(),
                        message_fr: notice.french.clone(),
                        message_en: notice.english.clone(),
                        errors: Vec::new(),
                        retryable: false,
                    },
                );
            }
            E::Invalid(_) | E::Subject(_) | E::DeviceIdConflict { .. } => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid",
                format!("Valeur invalide : {en}"),
                false,
            ),
            _ => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "local",
                format!("Erreur locale : {en}"),
                false,
            ),
        };
        Self(
            status,
            ApiError {
                kind: kind.to_owned(),
                message_fr: fr,
                message_en: en,
                errors: Vec::new(),
                retryable,
            },
        )
    }
}

type Reply<T> = Result<Json<T>, Failure>;

mod certificates;
mod health;
mod signatures;
mod terminals;

pub use certificates::*;
pub use health::*;
pub use signatures::*;
pub use terminals::*;
