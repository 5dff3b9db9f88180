//! Transactions: recorded and transmitted with the certificate, the outbox of those waiting,
//! and sending them now.

use websrm::transaction::{Checks, read_sale};
use websrm::{AuthorityError, Delivery, Outbox, Outcome, Resend, Transmission};

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

/// What happened to a transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TransmissionOutcome {
    /// Received: print `psiNoTrans` and `psiDatTrans`.
    Transmitted,
    /// No answer: kept in the outbox; print the mention.
    Offline,
    /// Received later in a batch (`noLot`, `datLot`).
    Batched,
    /// Refused: show the errors; `resend` says what to do.
    Refused,
}

/// What to do with a refused transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ResendAdvice {
    /// It stays in the outbox and goes unchanged with the next request (`codRetour` `x0`).
    Unchanged,
    /// Not received: record it again as a new transaction (`x1`, `x5`).
    AsNewTransaction,
    /// Received and refused: never send it again; offer the correction (`x2`, `x3`, `x4`,
    /// `x6`).
    Never,
}

/// One batch the authority received.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct BatchBody {
    /// `noLot`.
    #[serde(rename = "noLot")]
    pub no_lot: String,
    /// `datLot`.
    #[serde(rename = "datLot")]
    pub dat_lot: String,
}

/// What one or more requests did with the pending transactions.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct DeliveryBody {
    /// Requests sent.
    pub requests: usize,
    /// Pending transactions received.
    pub sent: usize,
    /// Pending transactions refused.
    pub refused: usize,
    /// Each batch's numbers.
    pub batches: Vec<BatchBody>,
    /// The errors of requests refused as a whole.
    pub errors: Vec<AuthorityErrorBody>,
    /// The communication failure that stopped the delivery, if any.
    pub offline: Option<String>,
}

/// A transaction recorded and sent (or kept): what the POS prints and does.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TransmittedBody {
    /// What happened to it.
    pub outcome: TransmissionOutcome,
    /// `noTrans`.
    #[serde(rename = "noTrans")]
    pub no_trans: String,
    /// Its place in the outbox.
    pub outbox_id: i64,
    /// The device identifier to print (the terminal's for a terminal).
    pub device_id: String,
    /// `psiNoTrans`, when received at once.
    #[serde(rename = "psiNoTrans")]
    pub psi_no_trans: Option<String>,
    /// `psiDatTrans`, when received at once.
    #[serde(rename = "psiDatTrans")]
    pub psi_dat_trans: Option<String>,
    /// `noLot`, when received later in a batch.
    #[serde(rename = "noLot")]
    pub no_lot: Option<String>,
    /// The mention the bill bears where `psiNoTrans` would be (`PROBLÈME DE COMMUNICATION`).
    pub mention: Option<String>,
    /// Every mention the bill bears, in SW-73 table 43's order (the place in its sequence,
    /// `FACTURE RÉVISÉE` and the like, is the POS's to add).
    pub mentions: Vec<MentionBody>,
    /// The URL the bill's QR code encodes (and an electronic bill's "Consulter la transaction
    /// en ligne" link).
    pub qr_url: String,
    /// Why it is kept, when offline.
    pub reason: Option<String>,
    /// The authority's errors, when refused.
    pub errors: Vec<AuthorityErrorBody>,
    /// What to do with it, when refused.
    pub resend: Option<ResendAdvice>,
    /// What happened to the pending transactions that went with it.
    pub batch: DeliveryBody,
    /// The transaction as signed and recorded (the wire's JSON).
    #[schema(value_type = Object)]
    pub transaction: serde_json::Value,
}

/// A mention of the bill.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct MentionBody {
    /// Table 43's order: 1 and 2 above the first row of `=`, the others between the rows.
    pub order: u8,
    /// The exact text.
    pub text: String,
}

/// A transaction waiting to be sent.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PendingBody {
    /// Its place in the outbox.
    pub outbox_id: i64,
    /// `noTrans`.
    #[serde(rename = "noTrans")]
    pub no_trans: String,
    /// The device it started on.
    pub device_id: String,
    /// The operator whose certificate signed it.
    pub identification_number: String,
    /// When it was recorded (RFC 3339).
    pub recorded_at: String,
    /// How many requests carried it.
    pub attempts: u32,
}

/// Offline mode, while it lasts.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct OfflineBody {
    /// Since when (RFC 3339).
    pub since: String,
    /// The communication failure that started it.
    pub reason: String,
}

/// The outbox.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct OutboxBody {
    /// Transactions waiting to be sent.
    pub pending: u64,
    /// How long the oldest has waited, in seconds.
    pub oldest_age_seconds: Option<i64>,
    /// Offline mode, if on.
    pub offline: Option<OfflineBody>,
    /// The pending transactions, oldest first (at most `limit`).
    pub transactions: Vec<PendingBody>,
    /// What a flush just did, for `POST /v1/outbox/flush`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flushed: Option<DeliveryBody>,
}

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
    let operator = sale
        .tax_numbers
        .qst
        .as_str()
        .get(..10)
        .unwrap_or_default()
        .parse()
        .map_err(|e| Failure::invalid("transaction.noTax.noTVQ", e))?;
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
    Ok(Json(transmission_body(t)))
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
    Ok(Json(outbox_body(agent.main().outbox(q.limit)?, None)))
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
    Ok(Json(outbox_body(
        main.outbox(q.limit)?,
        Some(delivery_body(&delivery)),
    )))
}

/// `422 invalid`: the findings of the local check, with the authority's ids.
pub(crate) fn transaction_findings(found: Vec<websrm::transaction::Finding>) -> Failure {
    let mut failure = Failure::from(websrm::Error::Transaction(found));
    failure.set_status(StatusCode::UNPROCESSABLE_ENTITY);
    failure
}

pub(crate) fn authority_errors(errors: &[AuthorityError]) -> Vec<AuthorityErrorBody> {
    errors
        .iter()
        .map(|e| AuthorityErrorBody {
            id: e.id.to_string(),
            cod_retour: e.return_code.map(|c| c.to_string()),
            message_fr: e.message.clone(),
            message_en: e
                .english()
                .or_else(|| websrm::transaction::english_message(e.id).map(str::to_owned)),
        })
        .collect()
}

fn delivery_body(d: &Delivery) -> DeliveryBody {
    DeliveryBody {
        requests: d.requests,
        sent: d.sent,
        refused: d.refused,
        batches: d
            .batches
            .iter()
            .map(|(no, at)| BatchBody {
                no_lot: no.clone(),
                dat_lot: at.clone(),
            })
            .collect(),
        errors: authority_errors(&d.errors),
        offline: d.offline.clone(),
    }
}

fn rfc3339(t: time::OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_default()
}

fn outbox_body(o: Outbox, flushed: Option<DeliveryBody>) -> OutboxBody {
    OutboxBody {
        pending: o.pending,
        oldest_age_seconds: o.oldest_age.map(|a| a.whole_seconds()),
        offline: o.offline.map(|off| OfflineBody {
            since: rfc3339(off.since),
            reason: off.reason,
        }),
        transactions: o
            .entries
            .into_iter()
            .map(|e| PendingBody {
                outbox_id: e.id,
                no_trans: e.no_trans,
                device_id: e.device.to_string(),
                identification_number: e.slot.operator.to_string(),
                recorded_at: rfc3339(e.recorded_at),
                attempts: e.attempts,
            })
            .collect(),
        flushed,
    }
}

pub(crate) fn transmission_body(t: Transmission) -> TransmittedBody {
    let mut body = TransmittedBody {
        outcome: TransmissionOutcome::Offline,
        no_trans: t.transaction.sale.number.to_string(),
        outbox_id: t.outbox_id,
        device_id: t.device_id.to_string(),
        psi_no_trans: None,
        psi_dat_trans: None,
        no_lot: None,
        mention: t.outcome.mention().map(str::to_owned),
        mentions: t
            .mentions
            .iter()
            .map(|m| MentionBody {
                order: m.order,
                text: m.text.clone(),
            })
            .collect(),
        qr_url: t.qr_url.clone(),
        reason: None,
        errors: Vec::new(),
        resend: None,
        batch: delivery_body(&t.batch),
        transaction: t.transaction.to_json(),
    };
    match t.outcome {
        Outcome::Transmitted {
            psi_no_trans,
            psi_dat_trans,
        } => {
            body.outcome = TransmissionOutcome::Transmitted;
            body.psi_no_trans = Some(psi_no_trans);
            body.psi_dat_trans = Some(psi_dat_trans);
        }
        Outcome::Batched { no_lot, .. } => {
            body.outcome = TransmissionOutcome::Batched;
            body.no_lot = Some(no_lot);
        }
        Outcome::Refused { errors, resend } => {
            body.outcome = TransmissionOutcome::Refused;
            body.errors = authority_errors(&errors);
            body.resend = Some(match resend {
                Resend::Unchanged => ResendAdvice::Unchanged,
                Resend::AsNewTransaction => ResendAdvice::AsNewTransaction,
                _ => ResendAdvice::Never,
            });
        }
        Outcome::Offline { reason } => body.reason = Some(reason),
        _ => {}
    }
    body
}
