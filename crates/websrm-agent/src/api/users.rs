//! User accounts and tax numbers: the authority's `utilisateur` service.

use websrm::Confirmation;

use super::*;
use websrm::domain::published::MICHEL_UNTEL;

/// A user account to declare or remove, with the operator's tax numbers.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct UserRequestBody {
    /// The operator whose certificate on this device sends the request (for an SRS in the
    /// server mode, the server administrator's).
    #[schema(example = json!(MICHEL_UNTEL.identification_number))]
    pub identification_number: String,
    /// The user's first and last name.
    #[schema(example = "Michel Untel")]
    pub name: String,
    /// The operator's GST number (`567891234RT0001`; `000000000RT0000` if not registered).
    pub gst: String,
    /// The operator's QST number.
    pub qst: String,
    /// For a removal: must be `true` (the user confirmed).
    #[serde(default)]
    pub confirm: bool,
}

/// Tax numbers to validate from the remote server.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TaxNumbersBody {
    /// The server administrator whose certificate sends the request.
    #[schema(example = "3601837200")]
    pub identification_number: String,
    /// The GST number.
    pub gst: String,
    /// The QST number.
    pub qst: String,
}

/// What the authority found of each number.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TaxNumbersAnswerBody {
    /// `noTPS` `VAL`.
    pub gst_valid: bool,
    /// `noTVQ` `VAL`.
    pub qst_valid: bool,
    /// Both valid: only then is a user declared or removed.
    pub valid: bool,
}

impl From<websrm::TaxNumbersAnswer> for TaxNumbersAnswerBody {
    fn from(a: websrm::TaxNumbersAnswer) -> Self {
        Self {
            gst_valid: a.gst_valid,
            qst_valid: a.qst_valid,
            valid: a.valid(),
        }
    }
}

type Numbers = (
    websrm::domain::IdentificationNumber,
    websrm::domain::GstNumber,
    websrm::domain::QstNumber,
);

/// The identification number and the two tax numbers of a request, each refusal naming its
/// field.
fn numbers(identification_number: &str, gst: &str, qst: &str) -> Result<Numbers, Failure> {
    Ok((
        identification_number
            .parse()
            .map_err(|e| Failure::invalid("identification_number", e))?,
        gst.parse().map_err(|e| Failure::invalid("gst", e))?,
        qst.parse().map_err(|e| Failure::invalid("qst", e))?,
    ))
}

impl UserRequestBody {
    fn parsed(&self) -> Result<Numbers, Failure> {
        numbers(&self.identification_number, &self.gst, &self.qst)
    }
}

/// Declares a user account of the operator to the authority (`utilisateur` `AJO`).
#[utoipa::path(post, path = "/v1/users", tag = "users", operation_id = "add_user",
    security(("bearer" = [])),
    request_body = UserRequestBody,
    responses((status = 200, body = TaxNumbersAnswerBody), (status = 404, body = ApiError), (status = 409, body = ApiError),
        (status = 502, body = ApiError)))]
pub(crate) async fn add_user(
    State(agent): State<Arc<Agent>>,
    Body(u): Body<UserRequestBody>,
) -> Reply<TaxNumbersAnswerBody> {
    let (operator, gst, qst) = u.parsed()?;
    let _authority = agent.authority.lock().await;
    let answer = agent.main().add_user(&operator, &u.name, gst, qst).await?;
    Ok(Json(answer.into()))
}

/// Removes a user account of the operator at the authority (`utilisateur` `SUP`); the user
/// must confirm.
#[utoipa::path(post, path = "/v1/users/remove", tag = "users", operation_id = "remove_user",
    security(("bearer" = [])),
    request_body = UserRequestBody,
    responses((status = 200, body = TaxNumbersAnswerBody), (status = 404, body = ApiError), (status = 409, body = ApiError),
        (status = 502, body = ApiError)))]
pub(crate) async fn remove_user(
    State(agent): State<Arc<Agent>>,
    Body(u): Body<UserRequestBody>,
) -> Reply<TaxNumbersAnswerBody> {
    let (operator, gst, qst) = u.parsed()?;
    let confirmation = if u.confirm {
        Confirmation::Confirmed
    } else {
        Confirmation::NotConfirmed
    };
    let _authority = agent.authority.lock().await;
    let answer = agent
        .main()
        .remove_user(&operator, &u.name, gst, qst, confirmation)
        .await?;
    Ok(Json(answer.into()))
}

/// Has tax numbers validated from the remote server (`utilisateur` `VAL`, `APPRLINIT` `SRV`),
/// with the server administrator's certificate (`POST /v1/server-enrolments`).
#[utoipa::path(post, path = "/v1/tax-number-validations", tag = "users", operation_id = "validate_tax_numbers",
    security(("bearer" = [])),
    request_body = TaxNumbersBody,
    responses((status = 200, body = TaxNumbersAnswerBody), (status = 404, body = ApiError), (status = 409, body = ApiError),
        (status = 502, body = ApiError)))]
pub(crate) async fn validate_tax_numbers(
    State(agent): State<Arc<Agent>>,
    Body(t): Body<TaxNumbersBody>,
) -> Reply<TaxNumbersAnswerBody> {
    let (server, gst, qst) = numbers(&t.identification_number, &t.gst, &t.qst)?;
    let _authority = agent.authority.lock().await;
    let answer = agent.main().validate_tax_numbers(&server, gst, qst).await?;
    Ok(Json(answer.into()))
}

/// A document to sign and transmit: a user report (`RUT`) or a habitual third party's
/// declaration (`HAB`).
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct DocumentBody {
    /// The operator whose certificate on this device signs and sends it.
    #[schema(example = json!(MICHEL_UNTEL.identification_number))]
    pub identification_number: String,
    /// The operator's GST number (`NOTPS`).
    pub gst: String,
    /// The operator's QST number (`NOTVQ`).
    pub qst: String,
    /// `RUT` or `HAB`.
    #[schema(example = "RUT")]
    pub document_type: String,
    /// The document's parameters by name (SW-73 tables 28 and 31: `RT`, `TQ`, `UT`, `NO`…);
    /// `SI` and `EM` are the agent's to fill, and a parameter left out is sent empty.
    pub parameters: std::collections::BTreeMap<String, String>,
}

/// The authority's number for a document.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct DocumentAnswerBody {
    /// `noDoc`, ten digits.
    pub no_doc: String,
}

/// Signs a document with the operator's certificate and transmits it (`document`).
#[utoipa::path(post, path = "/v1/documents", tag = "users", operation_id = "send_document",
    security(("bearer" = [])),
    request_body = DocumentBody,
    responses((status = 200, body = DocumentAnswerBody), (status = 404, body = ApiError), (status = 409, body = ApiError),
        (status = 502, body = ApiError)))]
pub(crate) async fn send_document(
    State(agent): State<Arc<Agent>>,
    Body(d): Body<DocumentBody>,
) -> Reply<DocumentAnswerBody> {
    let (operator, gst, qst) = numbers(&d.identification_number, &d.gst, &d.qst)?;
    let document = super::relay::document_of(&d.document_type, &d.parameters, false)?;
    let _authority = agent.authority.lock().await;
    let no_doc = agent
        .main()
        .send_document(&operator, gst, qst, document)
        .await?;
    Ok(Json(DocumentAnswerBody { no_doc }))
}
