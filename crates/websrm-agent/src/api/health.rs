//! The agent's health, and the device identifier.

use super::*;

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

/// Whether the agent is up; with the token, also what its background work found. Without the
/// token only `status` is given: no device identifier, nickname or warning.
#[utoipa::path(get, path = "/v1/health", tag = "agent",
    responses((status = 200, description = "The agent's state (only `status` without the token)", body = HealthBody)))]
pub(crate) async fn health(
    State(agent): State<Arc<Agent>>,
    headers: axum::http::HeaderMap,
) -> Json<HealthBody> {
    if !crate::authorized(&agent, &headers) {
        return Json(HealthBody {
            status: "ok".into(),
            ..HealthBody::default()
        });
    }
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
