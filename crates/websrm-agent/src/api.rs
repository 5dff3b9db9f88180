//! The `/v1` JSON API: its types (which the OpenAPI description is generated from) and its
//! handlers, each a thin layer over the facade.

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
    /// `unusable`, `invalid`, `unauthorized`, `local`.
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

// ---------------------------------------------------------------------------------------------
// Health

/// The agent's state: what its background work did last.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct HealthBody {
    /// `ok`.
    pub status: String,
    /// The device identifier, if any.
    pub device_id: Option<String>,
    /// When the last health check ran (RFC 3339).
    pub last_check: Option<String>,
    /// When the next one runs.
    pub next_check: Option<String>,
    /// The warnings of the last check, in both languages.
    pub warnings: Vec<Warning>,
    /// What the recovery at start did: `completed`, `abandoned`, `still_pending`.
    pub recovery: Option<RecoveryBody>,
    /// The CRLs consulted by the last check, or why none could be.
    pub revocation: Option<String>,
}

/// A warning about a certificate.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Warning {
    /// The certificate's nickname.
    pub nickname: String,
    /// In French.
    pub french: String,
    /// In English.
    pub english: String,
}

/// What a recovery did.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct RecoveryBody {
    /// Requests completed with the authority's answer.
    pub completed: usize,
    /// Requests refused, their keys discarded.
    pub abandoned: usize,
    /// Requests still pending (the authority could not be reached).
    pub still_pending: usize,
}

/// Whether the agent is up, and what its background work found. No token needed.
#[utoipa::path(get, path = "/v1/health", tag = "agent",
    responses((status = 200, description = "The agent's state", body = HealthBody)))]
pub(crate) async fn health(State(agent): State<Arc<Agent>>) -> Json<HealthBody> {
    let mut body = agent.health.lock().await.clone();
    body.status = "ok".into();
    body.device_id = agent
        .main()
        .device_id()
        .ok()
        .flatten()
        .map(|d| d.to_string());
    Json(body)
}

// ---------------------------------------------------------------------------------------------
// Device identifier

/// The device identifier.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct DeviceIdBody {
    /// `9999-9999-9999`, or none yet.
    pub device_id: Option<String>,
}

/// The device identifier, to show in the SRS and give to authorized staff who ask for it.
#[utoipa::path(get, path = "/v1/device-id", tag = "device",
    security(("bearer" = [])),
    responses((status = 200, body = DeviceIdBody), (status = 401, body = ApiError)))]
pub(crate) async fn device_id(State(agent): State<Arc<Agent>>) -> Reply<DeviceIdBody> {
    Ok(Json(DeviceIdBody {
        device_id: agent.main().device_id()?.map(|d| d.to_string()),
    }))
}

/// Records the identifier the user already has for this device (before a first enrolment).
#[utoipa::path(put, path = "/v1/device-id", tag = "device",
    security(("bearer" = [])),
    request_body = DeviceIdBody,
    responses((status = 200, body = DeviceIdBody), (status = 409, body = ApiError), (status = 422, body = ApiError)))]
pub(crate) async fn set_device_id(
    State(agent): State<Arc<Agent>>,
    Json(body): Json<DeviceIdBody>,
) -> Reply<DeviceIdBody> {
    let id: DeviceId = body
        .device_id
        .as_deref()
        .unwrap_or_default()
        .parse()
        .map_err(Failure::invalid)?;
    agent.main().enter_device_id(id)?;
    device_id(State(agent)).await
}

// ---------------------------------------------------------------------------------------------
// Certificates

/// A certificate of this device, with its health.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CertificateBody {
    /// The nickname (SN).
    pub nickname: String,
    /// The slot: environment, operator, installation.
    pub slot: String,
    /// The serial number (`noSerie`).
    pub serial: String,
    /// The thumbprint (`EMPRCERTIFTRANSM`, `emprCertifSEV`).
    pub thumbprint: String,
    /// Valid from (RFC 3339).
    pub not_before: String,
    /// Valid until (RFC 3339).
    pub not_after: String,
    /// `valid`, `replacement_recommended`, `expiring_soon`, `not_yet_valid`, `expired`,
    /// `revoked`, `refused`.
    pub health: String,
    /// Days left, when expiring soon.
    pub days_left: Option<i64>,
    /// Whether it may be used to produce bills and transmit now.
    pub usable: bool,
    /// What to show the user, in French.
    pub warning_fr: Option<String>,
    /// The same in English.
    pub warning_en: Option<String>,
}

impl From<&CertificateView> for CertificateBody {
    fn from(v: &CertificateView) -> Self {
        let (health, days_left) = health_name(v.health);
        Self {
            nickname: v.nickname.to_string(),
            slot: v.slot.to_string(),
            serial: v.serial.to_string(),
            thumbprint: v.thumbprint.to_string(),
            not_before: v.validity.not_before().format(&Rfc3339).unwrap_or_default(),
            not_after: v.validity.not_after().format(&Rfc3339).unwrap_or_default(),
            health: health.to_owned(),
            days_left,
            usable: v.health.is_usable(),
            warning_fr: v.warning.as_ref().map(|w| w.french.clone()),
            warning_en: v.warning.as_ref().map(|w| w.english.clone()),
        }
    }
}

pub(crate) fn health_name(h: Health) -> (&'static str, Option<i64>) {
    match h {
        Health::Valid => ("valid", None),
        Health::ReplacementRecommended => ("replacement_recommended", None),
        Health::ExpiringSoon { days_left } => ("expiring_soon", Some(days_left)),
        Health::NotYetValid => ("not_yet_valid", None),
        Health::Expired => ("expired", None),
        Health::Revoked => ("revoked", None),
        Health::Refused => ("refused", None),
        Health::Deleted => ("deleted", None),
        Health::Replaced => ("replaced", None),
        _ => ("unusable", None),
    }
}

/// The certificates of the device.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CertificatesBody {
    /// The device identifier.
    pub device_id: Option<String>,
    /// Every certificate, every installation.
    pub certificates: Vec<CertificateBody>,
}

/// Every certificate of the device, with its health and warnings in French and English.
#[utoipa::path(get, path = "/v1/certificates", tag = "certificates",
    security(("bearer" = [])),
    responses((status = 200, body = CertificatesBody), (status = 401, body = ApiError)))]
pub(crate) async fn certificates(State(agent): State<Arc<Agent>>) -> Reply<CertificatesBody> {
    let main = agent.main();
    let views = main.certificates(agent.now())?;
    Ok(Json(CertificatesBody {
        device_id: main.device_id()?.map(|d| d.to_string()),
        certificates: views.iter().map(CertificateBody::from).collect(),
    }))
}

/// What an operator enters to obtain a certificate for an SRS.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct EnrolmentRequest {
    /// The identification number (CN), 10 digits.
    pub identification_number: String,
    /// The authorization code, `X9X9-X9X9`.
    pub authorization_code: String,
    /// `RBC` or `TRP`.
    pub sector: String,
    /// The QST number.
    pub qst: String,
    /// The mandatory-billing file number.
    pub file_number: String,
    /// The certificate's nickname, 8 to 32 characters.
    pub nickname: String,
    /// `-05:00`, or `-04:00` in the Îles-de-la-Madeleine.
    #[serde(default = "eastern")]
    pub utc_offset: String,
    /// A back-office SRS (its own installation on the device).
    #[serde(default)]
    pub back_office: bool,
    /// The answer to "do you have an identifier for this device?", asked when the device has
    /// none: `request_new`, or the identifier the user has.
    pub device_id_answer: Option<DeviceIdAnswerBody>,
}

fn eastern() -> String {
    "-05:00".into()
}

/// The answer to the device-identifier question.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeviceIdAnswerBody {
    /// The user has none: the authority assigns one.
    RequestNew,
    /// The user has this one.
    IHaveOne(String),
}

/// A certificate obtained.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct EnrolledBody {
    /// The device identifier.
    pub device_id: Option<String>,
    /// The certificate.
    pub certificate: CertificateBody,
}

/// Obtains a certificate for an operator's SRS; also after a certificate has ended (expired,
/// revoked, refused), on the same device identifier.
#[utoipa::path(post, path = "/v1/enrolments", tag = "certificates",
    security(("bearer" = [])),
    request_body = EnrolmentRequest,
    responses((status = 201, body = EnrolledBody), (status = 409, description = "the device-identifier question, or a certificate already in force", body = ApiError),
        (status = 422, body = ApiError), (status = 502, body = ApiError)))]
pub(crate) async fn enrol(
    State(agent): State<Arc<Agent>>,
    Json(r): Json<EnrolmentRequest>,
) -> Result<(StatusCode, Json<EnrolledBody>), Failure> {
    let request = OperatorEnrolment::parse(
        &r.identification_number,
        &r.authorization_code,
        &r.sector,
        &r.qst,
        &r.file_number,
        &r.nickname,
        &r.utc_offset,
    )?;
    let answer = match r.device_id_answer {
        None => None,
        Some(DeviceIdAnswerBody::RequestNew) => Some(DeviceIdAnswer::RequestNew),
        Some(DeviceIdAnswerBody::IHaveOne(id)) => Some(DeviceIdAnswer::IHaveOne(
            id.parse().map_err(Failure::invalid)?,
        )),
    };
    let installation = if r.back_office {
        "back-office"
    } else {
        agent.installation()
    };
    let srs = agent.srs(installation)?;
    let _authority = agent.authority.lock().await;
    let view = srs.enrol(&request, answer).await?;
    Ok((
        StatusCode::CREATED,
        Json(EnrolledBody {
            device_id: srs.device_id()?.map(|d| d.to_string()),
            certificate: CertificateBody::from(&view),
        }),
    ))
}

/// What a server administrator enters.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ServerEnrolmentRequest {
    /// The administrator's identification number.
    pub identification_number: String,
    /// The server authorization code.
    pub authorization_code: String,
    /// The certificate's nickname.
    pub nickname: String,
    /// The UTC offset.
    #[serde(default = "eastern")]
    pub utc_offset: String,
}

/// Obtains a remote server administrator's certificate (sector FOB, no device identifier).
#[utoipa::path(post, path = "/v1/server-enrolments", tag = "certificates",
    security(("bearer" = [])),
    request_body = ServerEnrolmentRequest,
    responses((status = 201, body = EnrolledBody), (status = 422, body = ApiError), (status = 502, body = ApiError)))]
pub(crate) async fn enrol_server(
    State(agent): State<Arc<Agent>>,
    Json(r): Json<ServerEnrolmentRequest>,
) -> Result<(StatusCode, Json<EnrolledBody>), Failure> {
    let parse = |e: websrm::domain::ParseError| Failure::from(websrm::Error::Invalid(e));
    let srs = agent.srs(websrm::SERVER_INSTALLATION)?;
    let _authority = agent.authority.lock().await;
    let view = srs
        .enrol_server(
            r.identification_number.parse().map_err(parse)?,
            r.authorization_code.parse().map_err(parse)?,
            r.nickname.parse().map_err(parse)?,
            r.utc_offset.parse().map_err(parse)?,
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(EnrolledBody {
            device_id: None,
            certificate: CertificateBody::from(&view),
        }),
    ))
}

/// The user's explicit confirmation, which the protocol requires of a replacement or deletion.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
pub struct Confirm {
    /// Must be `true`.
    #[serde(default)]
    pub confirm: bool,
}

fn confirmation(c: &Confirm) -> Confirmation {
    if c.confirm {
        Confirmation::Confirmed
    } else {
        Confirmation::NotConfirmed
    }
}

/// Replaces the certificate named `nickname` with a new one for the same details.
#[utoipa::path(post, path = "/v1/certificates/{nickname}/replace", tag = "certificates",
    security(("bearer" = [])),
    params(("nickname" = String, Path, description = "The certificate's nickname")),
    request_body = Confirm,
    responses((status = 200, body = CertificateBody), (status = 404, body = ApiError), (status = 409, body = ApiError),
        (status = 422, description = "not confirmed, or refused", body = ApiError)))]
pub(crate) async fn replace(
    State(agent): State<Arc<Agent>>,
    Path(nickname): Path<String>,
    Json(c): Json<Confirm>,
) -> Reply<CertificateBody> {
    let srs = agent.srs_of(&nickname)?;
    let _authority = agent.authority.lock().await;
    let view = srs.replace(&nickname, confirmation(&c)).await?;
    Ok(Json(CertificateBody::from(&view)))
}

/// Deletes the certificate named `nickname` at the authority and on the device; the device
/// keeps its identifier.
#[utoipa::path(post, path = "/v1/certificates/{nickname}/delete", tag = "certificates",
    security(("bearer" = [])),
    params(("nickname" = String, Path, description = "The certificate's nickname")),
    request_body = Confirm,
    responses((status = 200, body = CertificatesBody), (status = 404, body = ApiError), (status = 409, body = ApiError),
        (status = 422, description = "not confirmed, or refused", body = ApiError)))]
pub(crate) async fn delete(
    State(agent): State<Arc<Agent>>,
    Path(nickname): Path<String>,
    Json(c): Json<Confirm>,
) -> Reply<CertificatesBody> {
    let srs = agent.srs_of(&nickname)?;
    {
        let _authority = agent.authority.lock().await;
        srs.delete(&nickname, confirmation(&c)).await?;
    }
    certificates(State(agent)).await
}

/// Removes a certificate that has ended (expired, revoked, refused) from the device, without
/// asking the authority.
#[utoipa::path(post, path = "/v1/certificates/{nickname}/remove", tag = "certificates",
    security(("bearer" = [])),
    params(("nickname" = String, Path, description = "The certificate's nickname")),
    request_body = Confirm,
    responses((status = 200, body = CertificatesBody), (status = 404, body = ApiError), (status = 409, body = ApiError), (status = 422, body = ApiError)))]
pub(crate) async fn remove(
    State(agent): State<Arc<Agent>>,
    Path(nickname): Path<String>,
    Json(c): Json<Confirm>,
) -> Reply<CertificatesBody> {
    agent
        .srs_of(&nickname)?
        .remove_ended(&nickname, confirmation(&c))?;
    certificates(State(agent)).await
}

/// Finishes requests a crash or a lost answer left pending.
#[utoipa::path(post, path = "/v1/recover", tag = "certificates",
    security(("bearer" = [])),
    responses((status = 200, body = RecoveryBody), (status = 502, body = ApiError)))]
pub(crate) async fn recover(State(agent): State<Arc<Agent>>) -> Reply<RecoveryBody> {
    let _authority = agent.authority.lock().await;
    Ok(Json(agent.recover_all().await?))
}

// ---------------------------------------------------------------------------------------------
// Terminals

/// A terminal attached to this device.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TerminalBody {
    /// Its label.
    pub label: String,
    /// Its device identifier.
    pub device_id: String,
    /// Whether it has a certificate of its own.
    pub certificate_installed: bool,
}

/// A terminal to add: its identifier is obtained from the authority by this device (with the
/// certificate of `identification_number`), or recorded as given.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct NewTerminal {
    /// Its label.
    pub label: String,
    /// The operator whose certificate on this device asks for the identifier.
    pub identification_number: Option<String>,
    /// The identifier the terminal already has (with its own certificate).
    pub device_id: Option<String>,
}

/// The terminals of this device.
#[utoipa::path(get, path = "/v1/terminals", tag = "terminals",
    security(("bearer" = [])),
    responses((status = 200, body = [TerminalBody])))]
pub(crate) async fn terminals(State(agent): State<Arc<Agent>>) -> Reply<Vec<TerminalBody>> {
    Ok(Json(
        agent
            .main()
            .terminals()?
            .into_iter()
            .map(|t| TerminalBody {
                label: t.label,
                device_id: t.device_id.to_string(),
                certificate_installed: t.certificate_installed,
            })
            .collect(),
    ))
}

/// Adds a terminal.
#[utoipa::path(post, path = "/v1/terminals", tag = "terminals",
    security(("bearer" = [])),
    request_body = NewTerminal,
    responses((status = 201, body = TerminalBody), (status = 422, body = ApiError), (status = 502, body = ApiError)))]
pub(crate) async fn add_terminal(
    State(agent): State<Arc<Agent>>,
    Json(t): Json<NewTerminal>,
) -> Result<(StatusCode, Json<TerminalBody>), Failure> {
    let main = agent.main();
    let (id, installed) = match (&t.device_id, &t.identification_number) {
        (Some(id), _) => {
            let id: DeviceId = id.parse().map_err(Failure::invalid)?;
            main.record_terminal(&t.label, id)?;
            (id, true)
        }
        (None, Some(number)) => {
            let operator = number.parse().map_err(Failure::invalid)?;
            let _authority = agent.authority.lock().await;
            (main.add_terminal(&t.label, &operator).await?, false)
        }
        (None, None) => {
            return Err(Failure::invalid(
                "identification_number (to ask the authority) or device_id (to record)",
            ));
        }
    };
    Ok((
        StatusCode::CREATED,
        Json(TerminalBody {
            label: t.label,
            device_id: id.to_string(),
            certificate_installed: installed,
        }),
    ))
}

// ---------------------------------------------------------------------------------------------
// Billing guard and signatures

/// Which operator.
#[derive(Debug, Deserialize, IntoParams)]
pub(crate) struct OperatorQuery {
    /// The operator's identification number.
    pub identification_number: String,
}

/// Whether this SRS may produce bills now.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct BillingGuardBody {
    /// Whether it may.
    pub allowed: bool,
    /// Why not, in French.
    pub reason_fr: Option<String>,
    /// Why not, in English.
    pub reason_en: Option<String>,
    /// The mentions a bill printed anyway must bear (and it must not be handed to the customer).
    pub mentions: Vec<String>,
}

/// May this SRS produce a bill for the operator now; if not, why, and the mandatory mentions.
#[utoipa::path(get, path = "/v1/billing-guard", tag = "billing",
    security(("bearer" = [])),
    params(OperatorQuery),
    responses((status = 200, body = BillingGuardBody), (status = 422, body = ApiError)))]
pub(crate) async fn billing_guard(
    State(agent): State<Arc<Agent>>,
    Query(q): Query<OperatorQuery>,
) -> Reply<BillingGuardBody> {
    let operator = q.identification_number.parse().map_err(Failure::invalid)?;
    Ok(Json(
        match agent.main().billing_guard(&operator, agent.now())? {
            BillingGuard::Allowed => BillingGuardBody {
                allowed: true,
                reason_fr: None,
                reason_en: None,
                mentions: Vec::new(),
            },
            BillingGuard::Blocked { reason, mentions } => BillingGuardBody {
                allowed: false,
                reason_fr: Some(reason.french),
                reason_en: Some(reason.english),
                mentions: mentions.iter().map(|m| (*m).to_owned()).collect(),
            },
            _ => BillingGuardBody {
                allowed: false,
                reason_fr: None,
                reason_en: None,
                mentions: Vec::new(),
            },
        },
    ))
}

/// A transaction to sign into its chain: the values its `actu` covers.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SignRequest {
    /// The operator whose certificate signs.
    pub identification_number: String,
    /// The terminal the transaction started on, or none for this device.
    pub terminal: Option<String>,
    /// `noTrans`.
    #[serde(rename = "noTrans")]
    pub no_trans: String,
    /// `datTrans`.
    #[serde(rename = "datTrans")]
    pub dat_trans: String,
    /// `TPS`.
    #[serde(rename = "TPS")]
    pub tps: String,
    /// `TVQ`.
    #[serde(rename = "TVQ")]
    pub tvq: String,
    /// `apresTax`.
    #[serde(rename = "apresTax")]
    pub apres_tax: String,
    /// `noTPS`.
    #[serde(rename = "noTPS")]
    pub no_tps: String,
    /// `modImpr`.
    #[serde(rename = "modImpr")]
    pub mod_impr: String,
    /// `modTrans`.
    #[serde(rename = "modTrans")]
    pub mod_trans: String,
}

/// A transaction signed as the next link of its chain.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SignedBody {
    /// The device identifier to write in the transaction (the terminal's for a terminal).
    pub device_id: String,
    /// `actu`.
    pub actu: String,
    /// `preced`.
    pub preced: String,
    /// `emprCertifSEV`.
    #[serde(rename = "emprCertifSEV")]
    pub empr_certif_sev: String,
    /// The position in the chain, from 1.
    pub position: u64,
}

/// Signs a transaction (`actu`) as the next link of its chain (environment, device, SRS, QST
/// number). Links are made one at a time: concurrent callers never fork a chain.
#[utoipa::path(post, path = "/v1/signatures", tag = "signatures",
    security(("bearer" = [])),
    request_body = SignRequest,
    responses((status = 200, body = SignedBody), (status = 409, description = "the certificate cannot be used", body = ApiError),
        (status = 422, body = ApiError)))]
pub(crate) async fn sign(
    State(agent): State<Arc<Agent>>,
    Json(r): Json<SignRequest>,
) -> Reply<SignedBody> {
    let operator = r.identification_number.parse().map_err(Failure::invalid)?;
    let origin = match r.terminal {
        Some(label) => Origin::Terminal(label),
        None => Origin::Host,
    };
    let data = TransactionData::new(
        r.no_trans,
        r.dat_trans,
        r.tps,
        r.tvq,
        r.apres_tax,
        r.no_tps.parse().map_err(Failure::invalid)?,
        r.mod_impr,
        r.mod_trans,
    );
    let signed = agent.main().sign_in_chain(&origin, &operator, &data)?;
    Ok(Json(SignedBody {
        device_id: signed.device_id.to_string(),
        actu: signed.actu.to_base64(),
        preced: signed.preced.to_string(),
        empr_certif_sev: signed.thumbprint.to_string(),
        position: signed.position,
    }))
}

/// What `SIGNATRANSM` covers.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TransmissionRequest {
    /// The operator whose certificate transmits.
    pub identification_number: String,
    /// The transmitter's authorization code.
    pub authorization_code: String,
    /// The initiating device (a terminal's identifier), or none for this device.
    pub device_id: Option<String>,
    /// The `actu` values of the request, oldest first.
    pub actus: Vec<String>,
}

/// `SIGNATRANSM` and `EMPRCERTIFTRANSM`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TransmissionBody {
    /// `SIGNATRANSM`.
    #[serde(rename = "SIGNATRANSM")]
    pub signatransm: String,
    /// `EMPRCERTIFTRANSM`.
    #[serde(rename = "EMPRCERTIFTRANSM")]
    pub emprcertiftransm: String,
}

/// The headers `SIGNATRANSM` and `EMPRCERTIFTRANSM` of a transaction request.
#[utoipa::path(post, path = "/v1/transmission-signatures", tag = "signatures",
    security(("bearer" = [])),
    request_body = TransmissionRequest,
    responses((status = 200, body = TransmissionBody), (status = 409, body = ApiError), (status = 422, body = ApiError)))]
pub(crate) async fn transmission_signature(
    State(agent): State<Arc<Agent>>,
    Json(r): Json<TransmissionRequest>,
) -> Reply<TransmissionBody> {
    let main = agent.main();
    let operator = r.identification_number.parse().map_err(Failure::invalid)?;
    let code = r.authorization_code.parse().map_err(Failure::invalid)?;
    let device = match r.device_id {
        Some(d) => d.parse().map_err(Failure::invalid)?,
        None => main.device_id()?.ok_or(websrm::Error::DeviceIdQuestion)?,
    };
    let actus = r
        .actus
        .iter()
        .map(|a| websrm::Signature::from_base64(a).map_err(Failure::invalid))
        .collect::<Result<Vec<_>, _>>()?;
    let (signature, thumbprint) =
        main.transmission_signature_for(&operator, &code, device, &actus)?;
    Ok(Json(TransmissionBody {
        signatransm: signature.to_base64(),
        emprcertiftransm: thumbprint.to_string(),
    }))
}
