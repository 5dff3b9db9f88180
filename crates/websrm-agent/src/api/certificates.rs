//! Certificates: the list, enrolment, replacement, deletion, local removal, recovery.

use super::*;

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
