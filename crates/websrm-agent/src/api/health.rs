//! The agent's health, and the device identifier.

use super::*;

/// The agent's state: what its background work did last. Without the token, only `status`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct HealthBody {
    /// `ok`.
    pub status: AgentStatus,
    /// The device identifier, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_id: Option<String>,
    /// When the last health check ran.
    #[schema(format = DateTime)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_check: Option<String>,
    /// When the next one runs.
    #[schema(format = DateTime)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_check: Option<String>,
    /// The warnings of the last check, in both languages.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<Warning>,
    /// What the recovery at start did: `completed`, `abandoned`, `still_pending`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovery: Option<RecoveryBody>,
    /// The CRLs consulted by the last check, or why none could be.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revocation: Option<String>,
    /// Transactions waiting in the outbox, when some are.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_transactions: Option<u64>,
    /// How long the oldest of them has waited, in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oldest_pending_seconds: Option<i64>,
}

/// The agent's status: `ok` whenever it answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AgentStatus {
    /// The agent is up.
    #[default]
    Ok,
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
#[utoipa::path(get, path = "/v1/health", tag = "agent", operation_id = "get_health",
    security((), ("bearer" = [])),
    responses((status = 200, description = "The agent's state (only `status` without the token)", body = HealthBody)))]
pub(crate) async fn health(
    State(agent): State<Arc<Agent>>,
    headers: axum::http::HeaderMap,
) -> Json<HealthBody> {
    if !crate::authorized(&agent, &headers) {
        return Json(HealthBody {
            status: AgentStatus::Ok,
            ..HealthBody::default()
        });
    }
    let mut body = agent.health.lock().await.clone();
    body.status = AgentStatus::Ok;
    body.device_id = agent
        .main()
        .device_id()
        .ok()
        .flatten()
        .map(|d| d.to_string());
    if let Ok(outbox) = agent.main().outbox(0)
        && outbox.pending > 0
    {
        body.pending_transactions = Some(outbox.pending);
        body.oldest_pending_seconds = outbox.oldest_age.map(|a| a.whole_seconds());
    }
    Json(body)
}

// ---------------------------------------------------------------------------------------------
// Device identifier

/// The device identifier.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct DeviceIdBody {
    /// `9999-9999-9999`, or none yet.
    #[schema(pattern = r"^[0-9]{4}-[0-9]{4}-[0-9]{4}$", example = "7654-0955-8558")]
    pub device_id: Option<String>,
}

/// The device identifier, to show in the SRS and give to authorized staff who ask for it.
#[utoipa::path(get, path = "/v1/device-id", tag = "device", operation_id = "get_device_id",
    security(("bearer" = [])),
    responses((status = 200, body = DeviceIdBody)))]
pub(crate) async fn device_id(State(agent): State<Arc<Agent>>) -> Reply<DeviceIdBody> {
    Ok(Json(DeviceIdBody {
        device_id: agent.main().device_id()?.map(|d| d.to_string()),
    }))
}

/// Records the identifier the user already has for this device (before a first enrolment).
#[utoipa::path(put, path = "/v1/device-id", tag = "device", operation_id = "set_device_id",
    security(("bearer" = [])),
    request_body = DeviceIdBody,
    responses((status = 200, body = DeviceIdBody), (status = 409, body = ApiError)))]
pub(crate) async fn set_device_id(
    State(agent): State<Arc<Agent>>,
    Body(body): Body<DeviceIdBody>,
) -> Reply<DeviceIdBody> {
    let id: DeviceId = body
        .device_id
        .as_deref()
        .unwrap_or_default()
        .parse()
        .map_err(|e| Failure::invalid("device_id", e))?;
    agent.main().enter_device_id(id)?;
    device_id(State(agent)).await
}

/// Runs the health check now, as the daily one does: the CRL the certificates name (a revoked
/// certificate is then refused for billing), and every certificate's warning.
#[utoipa::path(post, path = "/v1/checks", tag = "agent", operation_id = "check_now",
    security(("bearer" = [])),
    responses((status = 200, body = HealthBody)))]
pub(crate) async fn check_now(
    State(agent): State<Arc<Agent>>,
    headers: axum::http::HeaderMap,
) -> Json<HealthBody> {
    agent.check().await;
    health(State(agent), headers).await
}

// ---------------------------------------------------------------------------------------------
// History

/// What happened, in the device's history.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum HistoryEventName {
    /// The authority assigned the device identifier.
    DeviceIdAssigned,
    /// The user entered the device identifier they had.
    DeviceIdEntered,
    /// A request was written down before being sent.
    RequestPrepared,
    /// A certificate was obtained.
    Enrolled,
    /// A certificate replaced another.
    Replaced,
    /// A certificate was deleted.
    Deleted,
    /// The CRL showed the certificate revoked.
    RevokedSeen,
    /// The authority refused the certificate (`JW00B999011E`).
    RefusedSeen,
    /// An ended certificate was removed from the device.
    Retired,
    /// The authority answered with an error.
    AuthorityError,
    /// A pending request was abandoned.
    Abandoned,
    /// An installation's data was reset.
    InstallationReset,
    /// Another event.
    Other,
}

/// An entry of the device's history.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct HistoryEntryBody {
    /// When.
    #[schema(format = DateTime)]
    pub at: String,
    /// The slot concerned, if any.
    pub slot: Option<String>,
    /// What happened.
    pub event: HistoryEventName,
    /// The certificate concerned (the new one of a replacement).
    pub serial: Option<String>,
    /// The replaced certificate.
    pub old_serial: Option<String>,
    /// The device identifier assigned or entered.
    pub device_id: Option<String>,
    /// The authority's error id.
    pub error_id: Option<String>,
    /// The authority's `codRetour`.
    #[serde(rename = "codRetour")]
    pub cod_retour: Option<String>,
    /// More: the request's kind, the error's message, why a request was abandoned.
    pub detail: Option<String>,
}

impl From<&websrm::HistoryEntry> for HistoryEntryBody {
    fn from(entry: &websrm::HistoryEntry) -> Self {
        use websrm::HistoryEvent as H;
        let mut body = Self {
            at: entry.at.format(&Rfc3339).unwrap_or_default(),
            slot: entry.slot.as_ref().map(ToString::to_string),
            event: HistoryEventName::Other,
            serial: None,
            old_serial: None,
            device_id: None,
            error_id: None,
            cod_retour: None,
            detail: None,
        };
        match &entry.event {
            H::DeviceIdAssigned(id) => {
                body.event = HistoryEventName::DeviceIdAssigned;
                body.device_id = Some(id.to_string());
            }
            H::DeviceIdEntered(id) => {
                body.event = HistoryEventName::DeviceIdEntered;
                body.device_id = Some(id.to_string());
            }
            H::RequestPrepared { kind } => {
                body.event = HistoryEventName::RequestPrepared;
                body.detail = Some(kind.clone());
            }
            H::Enrolled { serial } => {
                body.event = HistoryEventName::Enrolled;
                body.serial = Some(serial.to_string());
            }
            H::Replaced { old, new } => {
                body.event = HistoryEventName::Replaced;
                body.serial = Some(new.to_string());
                body.old_serial = Some(old.to_string());
            }
            H::Deleted { serial } => {
                body.event = HistoryEventName::Deleted;
                body.serial = Some(serial.to_string());
            }
            H::RevokedSeen { serial } => {
                body.event = HistoryEventName::RevokedSeen;
                body.serial = Some(serial.to_string());
            }
            H::RefusedSeen { serial } => {
                body.event = HistoryEventName::RefusedSeen;
                body.serial = Some(serial.to_string());
            }
            H::Retired { serial, state } => {
                body.event = HistoryEventName::Retired;
                body.serial = Some(serial.to_string());
                body.detail = Some(format!("{state:?}").to_lowercase());
            }
            H::AuthorityError {
                error_id,
                return_code,
                message,
            } => {
                body.event = HistoryEventName::AuthorityError;
                body.error_id = Some(error_id.to_string());
                body.cod_retour = return_code.map(|c| c.to_string());
                body.detail = Some(message.clone());
            }
            H::Abandoned { kind, reason } => {
                body.event = HistoryEventName::Abandoned;
                body.detail = Some(format!("{kind}: {reason}"));
            }
            H::InstallationReset { serial } => {
                body.event = HistoryEventName::InstallationReset;
                body.serial = serial.as_ref().map(ToString::to_string);
            }
            _ => {}
        }
        body
    }
}

/// The device's history, oldest first: every enrolment, replacement, deletion, revocation seen
/// and error returned by the authority, for support and audits.
#[utoipa::path(get, path = "/v1/history", tag = "device", operation_id = "list_history",
    security(("bearer" = [])),
    responses((status = 200, body = [HistoryEntryBody])))]
pub(crate) async fn history(State(agent): State<Arc<Agent>>) -> Reply<Vec<HistoryEntryBody>> {
    Ok(Json(
        agent
            .main()
            .history()?
            .iter()
            .map(HistoryEntryBody::from)
            .collect(),
    ))
}

// ---------------------------------------------------------------------------------------------
// Test case (CASESSAI)

/// The `CASESSAI` the next request to the authority carries.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TestCaseBody {
    /// `999.999`: a case of Revenu Québec's certification (ESSAI) and its step; `000.000`
    /// behaves as in production.
    #[schema(pattern = r"^[0-9]{3}\.[0-9]{3}$", example = "001.001")]
    pub test_case: String,
}

/// What the tester does at a step of a certification run, in one language.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct InstructionsBody {
    /// The case's title.
    pub case: String,
    /// What to do in the point of sale, with which data.
    pub step: String,
}

/// A step of a certification run, described for the tester.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct EssaiStepBody {
    /// The block: `certificates`, `users`, `transactions`, `documents`, or `end` at `999.999`.
    pub block: String,
    /// Whether the step runs in the server mode (cases 5xx and 6xx).
    pub server_mode: bool,
    /// In English.
    pub en: InstructionsBody,
    /// In French.
    pub fr: InstructionsBody,
    /// The file to save the document the step produces as (`011.201.pdf`), when it asks for
    /// one.
    pub keep_document: Option<String>,
}

/// The `CASESSAI` the next request carries, and the step it names.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TestCaseAnswer {
    /// `999.999`: a case of Revenu Québec's certification (ESSAI) and its step; `000.000`
    /// behaves as in production.
    #[schema(pattern = r"^[0-9]{3}\.[0-9]{3}$", example = "001.001")]
    pub test_case: String,
    /// The step, described; absent for `000.000`.
    pub step: Option<EssaiStepBody>,
}

/// The `CASESSAI` the next request carries (the configured one at first, then the step each
/// answer of the authority names, after a refusal the step the run starts over from), and what
/// the tester does at that step.
#[utoipa::path(get, path = "/v1/test-case", tag = "certification", operation_id = "get_test_case",
    security(("bearer" = [])),
    responses((status = 200, body = TestCaseAnswer)))]
pub(crate) async fn test_case(State(agent): State<Arc<Agent>>) -> Json<TestCaseAnswer> {
    let test_case = agent.test_case();
    let step = websrm::essai::assignment(test_case).map(|a| EssaiStepBody {
        block: a.block.to_owned(),
        server_mode: a.server_mode,
        en: InstructionsBody {
            case: a.english.0.to_owned(),
            step: a.english.1.to_owned(),
        },
        fr: InstructionsBody {
            case: a.french.0.to_owned(),
            step: a.french.1.to_owned(),
        },
        keep_document: a.keep_document,
    });
    Json(TestCaseAnswer {
        test_case: test_case.to_string(),
        step,
    })
}

/// Sends `CASESSAI` = `test_case` with the next requests of every installation (to run a case
/// of the certification from the vendor's own product, or to start a case again).
#[utoipa::path(put, path = "/v1/test-case", tag = "certification", operation_id = "set_test_case",
    security(("bearer" = [])),
    request_body = TestCaseBody,
    responses((status = 200, body = TestCaseAnswer)))]
pub(crate) async fn set_test_case(
    State(agent): State<Arc<Agent>>,
    Body(body): Body<TestCaseBody>,
) -> Reply<TestCaseAnswer> {
    let case = body
        .test_case
        .parse()
        .map_err(|e| Failure::invalid("test_case", e))?;
    agent.set_test_case(case)?;
    Ok(test_case(State(agent)).await)
}
