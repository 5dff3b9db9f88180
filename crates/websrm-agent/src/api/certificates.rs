//! Certificates: the list, enrolment, replacement, deletion, local removal, recovery.

use super::*;

use websrm::domain::published::MICHEL_UNTEL;
pub use websrm::views::{CertificateJson as CertificateBody, HealthName, Installation};

/// The installation name of a back-office SRS.
pub(crate) const BACK_OFFICE: &str = websrm::BACK_OFFICE_INSTALLATION;

/// The certificates of the device.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CertificatesBody {
    /// The device identifier.
    pub device_id: Option<String>,
    /// Every certificate, every installation.
    pub certificates: Vec<CertificateBody>,
}

/// Every certificate of the device, with its health and warnings in French and English.
#[utoipa::path(get, path = "/v1/certificates", tag = "certificates", operation_id = "list_certificates",
    security(("bearer" = [])),
    responses((status = 200, body = CertificatesBody)))]
pub(crate) async fn certificates(State(agent): State<Arc<Agent>>) -> Reply<CertificatesBody> {
    let main = agent.main();
    let views = main.certificates(agent.now())?;
    Ok(Json(CertificatesBody {
        device_id: main.device_id()?.map(|d| d.to_string()),
        certificates: views
            .iter()
            .map(|v| v.to_json(agent.installation()))
            .collect(),
    }))
}

/// A certificate and the authority's `certifPSI`, as PEM (never the private key).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CertificatePemBody {
    /// The certificate's nickname.
    pub nickname: String,
    /// The certificate (PEM).
    pub certificate_pem: String,
    /// The authority's `certifPSI` certificate given with it (PEM), which encrypts a bill's QR
    /// code.
    pub psi_certificate_pem: String,
}

/// The certificate named `nickname` and the authority's `certifPSI`, as PEM.
#[utoipa::path(get, path = "/v1/certificates/{nickname}/pem", tag = "certificates", operation_id = "get_certificate_pem",
    security(("bearer" = [])),
    params(("nickname" = String, Path, description = "The certificate's nickname")),
    responses((status = 200, body = CertificatePemBody), (status = 404, body = ApiError)))]
pub(crate) async fn certificate_pem(
    State(agent): State<Arc<Agent>>,
    Path(nickname): Path<String>,
) -> Reply<CertificatePemBody> {
    let name: websrm::domain::Nickname = nickname
        .parse()
        .map_err(|e| Failure::invalid("nickname", e))?;
    let (srs, _) = agent.srs_of(&nickname)?;
    let pem = srs.certificate_pem(&name)?;
    Ok(Json(CertificatePemBody {
        nickname: pem.nickname.to_string(),
        certificate_pem: pem.certificate,
        psi_certificate_pem: pem.certif_psi,
    }))
}

/// A sector of activity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub enum SectorName {
    /// Restaurants, bars and cafés.
    #[serde(rename = "RBC")]
    Rbc,
    /// Remunerated passenger transportation.
    #[serde(rename = "TRP")]
    Trp,
}

impl SectorName {
    fn code(self) -> &'static str {
        match self {
            Self::Rbc => "RBC",
            Self::Trp => "TRP",
        }
    }
}

/// What an operator enters to obtain a certificate for an SRS.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct EnrolmentRequest {
    /// The identification number (CN), 10 digits.
    #[schema(example = json!(MICHEL_UNTEL.identification_number))]
    pub identification_number: String,
    /// The authorization code, `X9X9-X9X9`.
    #[schema(example = "D8T8-W8W8")]
    pub authorization_code: String,
    /// The sector.
    pub sector: SectorName,
    /// The QST number.
    #[schema(example = "5678912340TQ0001")]
    pub qst: String,
    /// The mandatory-billing file number.
    #[schema(example = "ER0001")]
    pub file_number: String,
    /// The certificate's nickname, 8 to 32 characters.
    #[schema(example = "Caisse du bar")]
    pub nickname: String,
    /// `-05:00`, or `-04:00` in the Îles-de-la-Madeleine.
    #[serde(default = "eastern")]
    #[schema(default = "-05:00")]
    pub utc_offset: String,
    /// A back-office SRS (its own installation on the device).
    #[serde(default)]
    pub back_office: bool,
    /// The answer to "do you have an identifier for this device?", asked when the device has
    /// none.
    #[serde(default)]
    pub device_id_answer: Option<DeviceIdAnswerBody>,
}

fn eastern() -> String {
    "-05:00".into()
}

/// The answer to the device-identifier question: `{"answer": "request_new"}` (the user has
/// none: the authority assigns one) or `{"answer": "i_have_one", "device_id": "…"}`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(tag = "answer", rename_all = "snake_case")]
pub enum DeviceIdAnswerBody {
    /// The user has none: the authority assigns one.
    RequestNew,
    /// The user has this one.
    IHaveOne {
        /// The identifier the user has, `9999-9999-9999`.
        device_id: String,
    },
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
#[utoipa::path(post, path = "/v1/enrolments", tag = "certificates", operation_id = "enrol",
    security(("bearer" = [])),
    request_body = EnrolmentRequest,
    responses((status = 201, body = EnrolledBody), (status = 409, description = "the device-identifier question, or a certificate already in force", body = ApiError),
        (status = 502, body = ApiError)))]
pub(crate) async fn enrol(
    State(agent): State<Arc<Agent>>,
    Body(r): Body<EnrolmentRequest>,
) -> Result<(StatusCode, Json<EnrolledBody>), Failure> {
    let request = OperatorEnrolment::parse(
        &r.identification_number,
        &r.authorization_code,
        r.sector.code(),
        &r.qst,
        &r.file_number,
        &r.nickname,
        &r.utc_offset,
    )?;
    let answer = device_id_answer(r.device_id_answer)?;
    let installation = if r.back_office {
        BACK_OFFICE
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
            certificate: view.to_json(agent.installation()),
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
    #[schema(default = "-05:00")]
    pub utc_offset: String,
}

/// Obtains a remote server administrator's certificate (sector FOB, no device identifier).
#[utoipa::path(post, path = "/v1/server-enrolments", tag = "certificates", operation_id = "enrol_server",
    security(("bearer" = [])),
    request_body = ServerEnrolmentRequest,
    responses((status = 201, body = EnrolledBody), (status = 409, body = ApiError), (status = 502, body = ApiError)))]
pub(crate) async fn enrol_server(
    State(agent): State<Arc<Agent>>,
    Body(r): Body<ServerEnrolmentRequest>,
) -> Result<(StatusCode, Json<EnrolledBody>), Failure> {
    let srs = agent.srs(websrm::SERVER_INSTALLATION)?;
    let (identification_number, code, nickname, offset) = server_values(
        &r.identification_number,
        &r.authorization_code,
        &r.nickname,
        &r.utc_offset,
    )?;
    let _authority = agent.authority.lock().await;
    let view = srs
        .enrol_server(identification_number, code, nickname, offset)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(EnrolledBody {
            device_id: None,
            certificate: view.to_json(agent.installation()),
        }),
    ))
}

/// The server administrator's values, as typed in a server or server-mode enrolment.
fn server_values(
    identification_number: &str,
    authorization_code: &str,
    nickname: &str,
    utc_offset: &str,
) -> Result<
    (
        websrm::domain::IdentificationNumber,
        websrm::domain::AuthorizationCode,
        websrm::domain::Nickname,
        websrm::domain::UtcOffset,
    ),
    Failure,
> {
    Ok((
        identification_number
            .parse()
            .map_err(|e| Failure::invalid("identification_number", e))?,
        authorization_code
            .parse()
            .map_err(|e| Failure::invalid("authorization_code", e))?,
        nickname
            .parse()
            .map_err(|e| Failure::invalid("nickname", e))?,
        utc_offset
            .parse()
            .map_err(|e| Failure::invalid("utc_offset", e))?,
    ))
}

/// The facade's answer to the device-identifier question.
fn device_id_answer(body: Option<DeviceIdAnswerBody>) -> Result<Option<DeviceIdAnswer>, Failure> {
    Ok(match body {
        None => None,
        Some(DeviceIdAnswerBody::RequestNew) => Some(DeviceIdAnswer::RequestNew),
        Some(DeviceIdAnswerBody::IHaveOne { device_id }) => {
            Some(DeviceIdAnswer::IHaveOne(device_id.parse().map_err(
                |e| Failure::invalid("device_id_answer.device_id", e),
            )?))
        }
    })
}

/// What a device in the server mode enters to obtain its certificate: the remote server
/// administrator's values, sent from this device with its identifier.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ServerModeEnrolmentRequest {
    /// The server administrator's identification number.
    #[schema(example = "3601837200")]
    pub identification_number: String,
    /// The server administrator's authorization code.
    pub authorization_code: String,
    /// The certificate's nickname.
    pub nickname: String,
    /// The UTC offset.
    #[serde(default = "eastern")]
    #[schema(default = "-05:00")]
    pub utc_offset: String,
    /// The answer to "do you have an identifier for this device?", asked when the device has
    /// none.
    #[serde(default)]
    pub device_id_answer: Option<DeviceIdAnswerBody>,
}

/// Obtains this device's certificate in the server mode: the remote server administrator's
/// subject (sector `FOB`), sent from the device with its identifier (`APPRLINIT` `SEV`). The
/// device signs its transactions and documents with it (`POST /v1/signed-transactions`,
/// `POST /v1/signed-documents`) and the remote server sends them.
#[utoipa::path(post, path = "/v1/server-mode-enrolments", tag = "certificates", operation_id = "enrol_in_server_mode",
    security(("bearer" = [])),
    request_body = ServerModeEnrolmentRequest,
    responses((status = 201, body = EnrolledBody), (status = 409, body = ApiError), (status = 502, body = ApiError)))]
pub(crate) async fn enrol_in_server_mode(
    State(agent): State<Arc<Agent>>,
    Body(r): Body<ServerModeEnrolmentRequest>,
) -> Result<(StatusCode, Json<EnrolledBody>), Failure> {
    let (identification_number, code, nickname, offset) = server_values(
        &r.identification_number,
        &r.authorization_code,
        &r.nickname,
        &r.utc_offset,
    )?;
    let answer = device_id_answer(r.device_id_answer)?;
    let srs = agent.main();
    let _authority = agent.authority.lock().await;
    let view = srs
        .enrol_in_server_mode(identification_number, code, nickname, offset, answer)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(EnrolledBody {
            device_id: srs.device_id()?.map(|d| d.to_string()),
            certificate: view.to_json(agent.installation()),
        }),
    ))
}

/// The user's explicit confirmation, which the protocol requires of a deletion or a removal.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
pub struct Confirm {
    /// Must be `true`.
    #[serde(default)]
    pub confirm: bool,
}

fn confirmation(confirm: bool) -> Confirmation {
    if confirm {
        Confirmation::Confirmed
    } else {
        Confirmation::NotConfirmed
    }
}

/// A replacement: the user's confirmation, and what changes (nothing by default).
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
pub struct ReplaceRequest {
    /// Must be `true`: the protocol requires the user's confirmation.
    #[serde(default)]
    pub confirm: bool,
    /// A new authorization code, when the operator received one that superseded the old
    /// (after `JW00B999069E`).
    #[serde(default)]
    pub authorization_code: Option<String>,
    /// A new nickname.
    #[serde(default)]
    pub nickname: Option<String>,
}

/// Replaces the certificate named `nickname` with a new one for the same details, or with a new
/// authorization code or nickname.
#[utoipa::path(post, path = "/v1/certificates/{nickname}/replace", tag = "certificates", operation_id = "replace_certificate",
    security(("bearer" = [])),
    params(("nickname" = String, Path, description = "The certificate's nickname")),
    request_body = ReplaceRequest,
    responses((status = 200, body = CertificateBody), (status = 404, body = ApiError), (status = 409, body = ApiError),
        (status = 502, body = ApiError)))]
pub(crate) async fn replace(
    State(agent): State<Arc<Agent>>,
    Path(nickname): Path<String>,
    Body(r): Body<ReplaceRequest>,
) -> Reply<CertificateBody> {
    let mut changes = Changes::none();
    if let Some(code) = &r.authorization_code {
        changes = changes.authorization_code(
            code.parse()
                .map_err(|e| Failure::invalid("authorization_code", e))?,
        );
    }
    if let Some(name) = &r.nickname {
        changes = changes.nickname(name.parse().map_err(|e| Failure::invalid("nickname", e))?);
    }
    let (srs, nickname) = agent.srs_of(&nickname)?;
    let _authority = agent.authority.lock().await;
    let view = srs
        .replace_with(&nickname, &changes, confirmation(r.confirm))
        .await?;
    Ok(Json(view.to_json(agent.installation())))
}

/// Deletes the certificate named `nickname` at the authority and on the device; the device
/// keeps its identifier.
#[utoipa::path(post, path = "/v1/certificates/{nickname}/delete", tag = "certificates", operation_id = "delete_certificate",
    security(("bearer" = [])),
    params(("nickname" = String, Path, description = "The certificate's nickname")),
    request_body = Confirm,
    responses((status = 200, body = CertificatesBody), (status = 404, body = ApiError), (status = 409, body = ApiError),
        (status = 502, body = ApiError)))]
pub(crate) async fn delete(
    State(agent): State<Arc<Agent>>,
    Path(nickname): Path<String>,
    Body(c): Body<Confirm>,
) -> Reply<CertificatesBody> {
    let (srs, nickname) = agent.srs_of(&nickname)?;
    {
        let _authority = agent.authority.lock().await;
        srs.delete(&nickname, confirmation(c.confirm)).await?;
    }
    certificates(State(agent)).await
}

/// Removes a certificate that has ended (expired, revoked, refused) from the device, without
/// asking the authority.
#[utoipa::path(post, path = "/v1/certificates/{nickname}/remove", tag = "certificates", operation_id = "remove_certificate",
    security(("bearer" = [])),
    params(("nickname" = String, Path, description = "The certificate's nickname")),
    request_body = Confirm,
    responses((status = 200, body = CertificatesBody), (status = 404, body = ApiError), (status = 409, body = ApiError)))]
pub(crate) async fn remove(
    State(agent): State<Arc<Agent>>,
    Path(nickname): Path<String>,
    Body(c): Body<Confirm>,
) -> Reply<CertificatesBody> {
    let (srs, nickname) = agent.srs_of(&nickname)?;
    srs.remove_ended(&nickname, confirmation(c.confirm))?;
    certificates(State(agent)).await
}

/// What a reset removed.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ResetBody {
    /// How many certificates were removed from the device.
    pub removed: usize,
}

/// Resets an installation's data on the device (its certificates and pending requests), after
/// the SRS was reinstalled, say; the certificates stay in force at the authority until deleted
/// or revoked, and the device identifier and the terminals stay.
#[utoipa::path(post, path = "/v1/installations/{installation}/reset", tag = "certificates", operation_id = "reset_installation",
    security(("bearer" = [])),
    params(("installation" = Installation, Path, description = "The installation")),
    request_body = Confirm,
    responses((status = 200, body = ResetBody)))]
pub(crate) async fn reset_installation(
    State(agent): State<Arc<Agent>>,
    Path(installation): Path<Installation>,
    Body(c): Body<Confirm>,
) -> Reply<ResetBody> {
    let Some(name) = installation.name(agent.installation()) else {
        return Err(websrm::Error::NotFound("other".into()).into());
    };
    if !c.confirm {
        return Err(websrm::Error::NotConfirmed.into());
    }
    let srs = agent.srs(name)?;
    let _authority = agent.authority.lock().await;
    Ok(Json(ResetBody {
        removed: srs.reset_installation()?,
    }))
}

/// Finishes requests a crash or a lost answer left pending.
#[utoipa::path(post, path = "/v1/recover", tag = "certificates", operation_id = "recover",
    security(("bearer" = [])),
    responses((status = 200, body = RecoveryBody), (status = 502, body = ApiError)))]
pub(crate) async fn recover(State(agent): State<Arc<Agent>>) -> Reply<RecoveryBody> {
    let _authority = agent.authority.lock().await;
    Ok(Json(agent.recover_all().await?))
}
