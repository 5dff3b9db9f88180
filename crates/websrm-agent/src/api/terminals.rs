//! Terminals attached to this device.

use super::*;

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
#[utoipa::path(get, path = "/v1/terminals", tag = "terminals", operation_id = "list_terminals",
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
#[utoipa::path(post, path = "/v1/terminals", tag = "terminals", operation_id = "add_terminal",
    security(("bearer" = [])),
    request_body = NewTerminal,
    responses((status = 201, body = TerminalBody), (status = 409, body = ApiError), (status = 502, body = ApiError)))]
pub(crate) async fn add_terminal(
    State(agent): State<Arc<Agent>>,
    Body(t): Body<NewTerminal>,
) -> Result<(StatusCode, Json<TerminalBody>), Failure> {
    let main = agent.main();
    let (id, installed) = match (&t.device_id, &t.identification_number) {
        (Some(id), _) => {
            let id: DeviceId = id.parse().map_err(|e| Failure::invalid("device_id", e))?;
            main.record_terminal(&t.label, id)?;
            (id, true)
        }
        (None, Some(number)) => {
            let operator = number
                .parse()
                .map_err(|e| Failure::invalid("identification_number", e))?;
            let _authority = agent.authority.lock().await;
            (main.add_terminal(&t.label, &operator).await?, false)
        }
        (None, None) => {
            return Err(Failure::invalid(
                "identification_number",
                "give identification_number (to ask the authority) or device_id (to record)",
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
