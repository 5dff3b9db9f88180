//! Transactions: recorded and transmitted with the certificate, the outbox of those waiting,
//! and sending them now.

use websrm::Outcome;
use websrm::transaction::{Checks, read_sale};

use super::*;

/// A transaction to record and send.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TransmitRequest {
    /// The terminal it started on, or none for this device.
    #[serde(default)]
    pub terminal: Option<String>,
    /// The transaction as the POS builds it, with the wire's field names (SW-73 table 23),
    /// without `signa`, `emprCertifSEV` and `SEV`, which the agent fills. The operator is the
    /// one whose QST number (`noTax.noTVQ`) it bears.
    #[schema(value_type = Object)]
    pub transaction: serde_json::Value,
}

pub use websrm::views::{
    BatchJson as BatchBody, DeliveryJson as DeliveryBody, MentionJson as MentionBody,
    OfflineJson as OfflineBody, OutboxJson as OutboxBody, PendingJson as PendingBody, ResendAdvice,
    TransmissionJson as TransmittedBody, TransmissionOutcome,
};

/// How many pending transactions to list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct OutboxQuery {
    /// At most this many (100 by default).
    #[serde(default = "hundred")]
    pub limit: usize,
}

fn hundred() -> usize {
    100
}

/// Records a transaction and sends it with the pending ones. It is checked as the authority
/// would check it (a defect is `422 invalid` with the authority's error ids), signed as the
/// next link of its chain and written into the outbox with that link before anything is sent;
/// then sent with the certificate over mutual TLS. When the authority cannot be reached the
/// answer is still `200`, with `outcome` `offline`: the transaction waits in the outbox and the
/// agent sends it in the background. With an `Idempotency-Key`, the transaction and the key
/// are written together: a retry never records a second transaction.
#[utoipa::path(post, path = "/v1/transactions", tag = "transactions", operation_id = "transmit_transaction",
    security(("bearer" = [])),
    request_body = TransmitRequest,
    responses((status = 200, body = TransmittedBody),
        (status = 404, description = "no such terminal", body = ApiError),
        (status = 409, description = "the certificate cannot be used, or the device has no identifier", body = ApiError)))]
pub(crate) async fn transmit(
    State(agent): State<Arc<Agent>>,
    headers: axum::http::HeaderMap,
    Body(r): Body<TransmitRequest>,
) -> Reply<TransmittedBody> {
    let key = crate::idempotency::key(&headers)?;
    let checks = Checks::default().with_sums();
    let sale = read_sale(&r.transaction, checks).map_err(transaction_findings)?;
    let operator = operator_of(&sale)?;
    let origin = r.terminal.map_or(Origin::Host, Origin::Terminal);
    let main = agent.main();
    let t = match &key {
        Some(key) => {
            main.transmit_once(key, &origin, &operator, sale, checks)
                .await?
        }
        None => main.transmit(&origin, &operator, sale, checks).await?,
    };
    if matches!(t.outcome, Outcome::Offline { .. }) {
        agent.outbox_waiting();
    }
    Ok(Json(t.to_json()))
}

/// The transactions waiting to be sent, and offline mode.
#[utoipa::path(get, path = "/v1/outbox", tag = "transactions", operation_id = "get_outbox",
    security(("bearer" = [])),
    params(OutboxQuery),
    responses((status = 200, body = OutboxBody)))]
pub(crate) async fn outbox(
    State(agent): State<Arc<Agent>>,
    Params(q): Params<OutboxQuery>,
) -> Reply<OutboxBody> {
    Ok(Json(agent.main().outbox(q.limit)?.to_json(None)))
}

/// Sends the pending transactions now (a user's sign-out, a "send pending" button), batch by
/// batch, oldest first; a communication failure stops it and is reported in
/// `flushed.offline`.
#[utoipa::path(post, path = "/v1/outbox/flush", tag = "transactions", operation_id = "flush_outbox",
    security(("bearer" = [])),
    params(OutboxQuery),
    responses((status = 200, body = OutboxBody)))]
pub(crate) async fn flush(
    State(agent): State<Arc<Agent>>,
    Params(q): Params<OutboxQuery>,
) -> Reply<OutboxBody> {
    let main = agent.main();
    let delivery = main.flush().await?;
    Ok(Json(main.outbox(q.limit)?.to_json(Some(&delivery))))
}

/// The operator whose QST number a sale bears (the number starts with its identification number).
pub(crate) fn operator_of(
    sale: &websrm::transaction::Sale,
) -> Result<websrm::domain::IdentificationNumber, Failure> {
    sale.tax_numbers
        .qst
        .as_str()
        .get(..10)
        .unwrap_or_default()
        .parse()
        .map_err(|e| Failure::invalid("transaction.noTax.noTVQ", e))
}

/// `422 invalid`: the findings of the local check, with the authority's ids.
pub(crate) fn transaction_findings(found: Vec<websrm::transaction::Finding>) -> Failure {
    let mut failure = Failure::from(websrm::Error::Transaction(found));
    failure.set_status(StatusCode::UNPROCESSABLE_ENTITY);
    failure
}
