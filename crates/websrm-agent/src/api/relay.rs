//! The server mode (SW-73 §2.2.4): a device signs its transactions and documents with its
//! certificate in the server administrator's name, and hands them to the remote server, which
//! transmits them with its own certificate. The device's agent signs
//! (`POST /v1/signed-transactions`, `POST /v1/signed-documents`); the server's agent relays
//! (`POST /v1/relayed-transactions`, `POST /v1/relayed-documents`), keeping what it cannot send
//! in its outbox and sending it in the background, as a device's own transactions.

use websrm::Outcome;
use websrm::document::{DocumentRequest, DocumentType};
use websrm::domain::{DeviceId, IdentificationNumber};
use websrm::transaction::{Checks, read_sale, read_transaction};

use super::*;

/// A transaction for this device to sign, for a remote server to send.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SignSaleRequest {
    /// The terminal it started on, or none for this device.
    #[serde(default)]
    pub terminal: Option<String>,
    /// Whose certificate signs: in the server mode, the server administrator
    /// (`3601837200` in the test data); by default the operator of `noTax.noTVQ`.
    #[serde(default)]
    #[schema(example = "3601837200")]
    pub identification_number: Option<String>,
    /// The transaction as the POS builds it, as for `POST /v1/transactions`.
    #[schema(value_type = Object)]
    pub transaction: serde_json::Value,
}

/// A transaction signed, to hand to the remote server.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SignedSaleBody {
    /// The device that signed it (`IDAPPRL` of the request that carries it; a terminal's for a
    /// terminal).
    pub device_id: String,
    /// The transaction with `signa`, `emprCertifSEV` and `SEV` (the wire's JSON).
    #[schema(value_type = Object)]
    pub transaction: serde_json::Value,
}

/// A transaction a device signed, for this remote server to send.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RelayRequest {
    /// The server administrator whose certificate on this server transmits.
    #[schema(example = "3601837200")]
    pub identification_number: String,
    /// The device that signed it.
    #[schema(example = "7654-0955-8558")]
    pub device_id: String,
    /// The signed transaction, as `POST /v1/signed-transactions` answered it.
    #[schema(value_type = Object)]
    pub transaction: serde_json::Value,
}

/// A document for this device to sign, for a remote server to send.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SignDocumentRequest {
    /// Whose certificate signs (the server administrator's, in the server mode).
    #[schema(example = "3601837200")]
    pub identification_number: String,
    /// `RUT` or `HAB`.
    #[schema(example = "RUT")]
    pub document_type: String,
    /// The document's parameters by name, without `SI` and `EM`, which the agent fills.
    pub parameters: std::collections::BTreeMap<String, String>,
}

/// A document signed (`SI`, `EM`), to hand to the remote server.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct SignedDocumentBody {
    /// The device that signed it.
    pub device_id: String,
    /// `RUT` or `HAB`.
    pub document_type: String,
    /// Every parameter, `SI` and `EM` included.
    pub parameters: std::collections::BTreeMap<String, String>,
}

/// A document a device signed, for this remote server to send.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RelayDocumentRequest {
    /// The server administrator whose certificate on this server sends it.
    #[schema(example = "3601837200")]
    pub identification_number: String,
    /// The device that signed it.
    #[schema(example = "7654-0955-8558")]
    pub device_id: String,
    /// The operator's GST number (`NOTPS`).
    pub gst: String,
    /// The operator's QST number (`NOTVQ`).
    pub qst: String,
    /// `RUT` or `HAB`.
    pub document_type: String,
    /// Every parameter, `SI` and `EM` included, as `POST /v1/signed-documents` answered them.
    pub parameters: std::collections::BTreeMap<String, String>,
}

/// Signs a transaction as the next link of its chain, for a remote server to send (the server
/// mode). It is checked as the authority would check it (`422 invalid` with the authority's
/// ids). The device keeps the link, not the transaction: the server's outbox keeps it.
#[utoipa::path(post, path = "/v1/signed-transactions", tag = "transactions", operation_id = "sign_sale",
    security(("bearer" = [])),
    request_body = SignSaleRequest,
    responses((status = 200, body = SignedSaleBody),
        (status = 404, description = "no such terminal or certificate", body = ApiError),
        (status = 409, description = "the certificate cannot be used, or the device has no identifier", body = ApiError)))]
pub(crate) async fn sign_sale(
    State(agent): State<Arc<Agent>>,
    Body(r): Body<SignSaleRequest>,
) -> Reply<SignedSaleBody> {
    let checks = Checks::default().with_sums();
    let sale = read_sale(&r.transaction, checks).map_err(transaction_findings)?;
    let signer: IdentificationNumber = match &r.identification_number {
        Some(number) => number
            .parse()
            .map_err(|e| Failure::invalid("identification_number", e))?,
        None => operator_of(&sale)?,
    };
    let main = agent.main();
    let device = match &r.terminal {
        None => main.device_id()?,
        Some(label) => main
            .terminals()?
            .into_iter()
            .find(|t| &t.label == label)
            .map(|t| t.device_id),
    };
    let origin = r.terminal.map_or(Origin::Host, Origin::Terminal);
    let signed = main.sign_sale(&origin, &signer, sale, checks)?;
    Ok(Json(SignedSaleBody {
        device_id: device.map(|d| d.to_string()).unwrap_or_default(),
        transaction: signed.to_json(),
    }))
}

/// Sends a transaction a device signed, as the remote server of the server administrator, with
/// this server's certificate and pending batch for that device. It is written into the outbox
/// before anything is sent, once by its signature (handed over again, it is answered for, not
/// sent twice); when the authority cannot be reached the answer is `200` with `outcome`
/// `offline`, and the agent sends it in the background.
#[utoipa::path(post, path = "/v1/relayed-transactions", tag = "transactions", operation_id = "relay_transaction",
    security(("bearer" = [])),
    request_body = RelayRequest,
    responses((status = 200, body = TransmittedBody),
        (status = 404, description = "no certificate of this server administrator", body = ApiError),
        (status = 409, description = "the server's certificate cannot be used", body = ApiError)))]
pub(crate) async fn relay(
    State(agent): State<Arc<Agent>>,
    Body(r): Body<RelayRequest>,
) -> Reply<TransmittedBody> {
    let checks = Checks::default().with_sums();
    let transaction =
        read_transaction(&r.transaction, "transActu", checks).map_err(transaction_findings)?;
    let (server, device) = server_and_device(&r.identification_number, &r.device_id)?;
    let t = agent
        .main()
        .relay(&server, device, transaction, checks)
        .await?;
    if matches!(t.outcome, Outcome::Offline { .. }) {
        agent.outbox_waiting();
    }
    Ok(Json(t.to_json()))
}

/// Signs a document with the certificate named (`SI`, `EM`), for a remote server to send.
#[utoipa::path(post, path = "/v1/signed-documents", tag = "users", operation_id = "sign_document",
    security(("bearer" = [])),
    request_body = SignDocumentRequest,
    responses((status = 200, body = SignedDocumentBody), (status = 404, body = ApiError), (status = 409, body = ApiError)))]
pub(crate) async fn sign_document(
    State(agent): State<Arc<Agent>>,
    Body(d): Body<SignDocumentRequest>,
) -> Reply<SignedDocumentBody> {
    let signer: IdentificationNumber = d
        .identification_number
        .parse()
        .map_err(|e| Failure::invalid("identification_number", e))?;
    let document = document_of(&d.document_type, &d.parameters, false)?;
    let main = agent.main();
    let device = main.device_id()?;
    let signed = main.sign_document(&signer, document)?;
    let parameters = signed
        .kind
        .parameters()
        .iter()
        .map(|name| {
            (
                (*name).to_owned(),
                signed.get(name).unwrap_or_default().to_owned(),
            )
        })
        .collect();
    Ok(Json(SignedDocumentBody {
        device_id: device.map(|d| d.to_string()).unwrap_or_default(),
        document_type: signed.kind.code().to_owned(),
        parameters,
    }))
}

/// Sends a document a device signed, as the remote server of the server administrator, with
/// this server's certificate and the device's identifier (`document`).
#[utoipa::path(post, path = "/v1/relayed-documents", tag = "users", operation_id = "relay_document",
    security(("bearer" = [])),
    request_body = RelayDocumentRequest,
    responses((status = 200, body = DocumentAnswerBody), (status = 404, body = ApiError), (status = 409, body = ApiError),
        (status = 502, body = ApiError)))]
pub(crate) async fn relay_document(
    State(agent): State<Arc<Agent>>,
    Body(d): Body<RelayDocumentRequest>,
) -> Reply<DocumentAnswerBody> {
    let (server, device) = server_and_device(&d.identification_number, &d.device_id)?;
    let gst = d.gst.parse().map_err(|e| Failure::invalid("gst", e))?;
    let qst = d.qst.parse().map_err(|e| Failure::invalid("qst", e))?;
    let document = document_of(&d.document_type, &d.parameters, true)?;
    let _authority = agent.authority.lock().await;
    let no_doc = agent
        .main()
        .relay_document(&server, device, gst, qst, document)
        .await?;
    Ok(Json(DocumentAnswerBody { no_doc }))
}

fn server_and_device(
    server: &str,
    device: &str,
) -> Result<(IdentificationNumber, DeviceId), Failure> {
    Ok((
        server
            .parse()
            .map_err(|e| Failure::invalid("identification_number", e))?,
        device
            .parse()
            .map_err(|e| Failure::invalid("device_id", e))?,
    ))
}

/// A document of `kind` from its parameters by name; `SI` and `EM` only when `signed`.
pub(crate) fn document_of(
    kind: &str,
    parameters: &std::collections::BTreeMap<String, String>,
    signed: bool,
) -> Result<DocumentRequest, Failure> {
    let kind = DocumentType::from_code(kind)
        .ok_or_else(|| Failure::invalid("document_type", "RUT or HAB"))?;
    let own = |k: &str| kind.parameters().contains(&k) && (signed || !matches!(k, "SI" | "EM"));
    if let Some(unknown) = parameters.keys().find(|k| !own(k)) {
        return Err(Failure::invalid(
            "parameters",
            format!(
                "{unknown} is not a parameter of {} to give here",
                kind.code()
            ),
        ));
    }
    Ok(DocumentRequest::new(
        kind,
        parameters.iter().map(|(k, v)| (k.as_str(), v.as_str())),
    ))
}
