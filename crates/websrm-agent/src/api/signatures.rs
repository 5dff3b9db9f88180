//! The billing guard, and the signatures of transactions and transmissions.

use super::*;

/// Which operator, and which installation of this device.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct GuardQuery {
    /// The operator's identification number.
    pub identification_number: String,
    /// The installation (`main` by default).
    #[serde(default)]
    #[param(inline)]
    pub installation: Installation,
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

/// May this SRS installation produce a bill for the operator now; if not, why, and the
/// mandatory mentions.
#[utoipa::path(get, path = "/v1/billing-guard", tag = "billing", operation_id = "check_billing_guard",
    security(("bearer" = [])),
    params(GuardQuery),
    responses((status = 200, body = BillingGuardBody)))]
pub(crate) async fn billing_guard(
    State(agent): State<Arc<Agent>>,
    Params(q): Params<GuardQuery>,
) -> Reply<BillingGuardBody> {
    let operator = q
        .identification_number
        .parse()
        .map_err(|e| Failure::invalid("identification_number", e))?;
    let installation = q
        .installation
        .name(agent.installation())
        .ok_or_else(|| Failure::invalid("installation", "other names no installation"))?;
    let srs = agent.srs(installation)?;
    Ok(Json(match srs.billing_guard(&operator, agent.now())? {
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
    }))
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
/// number). Links are made one at a time: concurrent callers never fork a chain. With an
/// `Idempotency-Key`, the link and its answer are stored together: a retry with the same key
/// and body gets the same link, even after a crash, and no second one is made.
#[utoipa::path(post, path = "/v1/signatures", tag = "signatures", operation_id = "sign_transaction",
    security(("bearer" = [])),
    request_body = SignRequest,
    responses((status = 200, body = SignedBody), (status = 404, description = "no such terminal", body = ApiError),
        (status = 409, description = "the certificate cannot be used, or the device has no identifier", body = ApiError)))]
pub(crate) async fn sign(
    State(agent): State<Arc<Agent>>,
    headers: axum::http::HeaderMap,
    Body(r): Body<SignRequest>,
) -> Reply<SignedBody> {
    let key = crate::idempotency::key(&headers)?;
    let operator = r
        .identification_number
        .parse()
        .map_err(|e| Failure::invalid("identification_number", e))?;
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
        r.no_tps.parse().map_err(|e| Failure::invalid("noTPS", e))?,
        r.mod_impr,
        r.mod_trans,
    );
    let main = agent.main();
    let signed = match &key {
        Some(key) => main.sign_in_chain_once(key, &origin, &operator, &data)?,
        None => main.sign_in_chain(&origin, &operator, &data)?,
    };
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
#[utoipa::path(post, path = "/v1/transmission-signatures", tag = "signatures", operation_id = "sign_transmission",
    security(("bearer" = [])),
    request_body = TransmissionRequest,
    responses((status = 200, body = TransmissionBody), (status = 409, body = ApiError)))]
pub(crate) async fn transmission_signature(
    State(agent): State<Arc<Agent>>,
    Body(r): Body<TransmissionRequest>,
) -> Reply<TransmissionBody> {
    let main = agent.main();
    let operator = r
        .identification_number
        .parse()
        .map_err(|e| Failure::invalid("identification_number", e))?;
    let code = r
        .authorization_code
        .parse()
        .map_err(|e| Failure::invalid("authorization_code", e))?;
    let device = match r.device_id {
        Some(d) => d.parse().map_err(|e| Failure::invalid("device_id", e))?,
        None => main.device_id()?.ok_or(websrm::Error::DeviceIdQuestion)?,
    };
    let actus = r
        .actus
        .iter()
        .map(|a| websrm::Signature::from_base64(a).map_err(|e| Failure::invalid("actus", e)))
        .collect::<Result<Vec<_>, _>>()?;
    let (signature, thumbprint) =
        main.transmission_signature_for(&operator, &code, device, &actus)?;
    Ok(Json(TransmissionBody {
        signatransm: signature.to_base64(),
        emprcertiftransm: thumbprint.to_string(),
    }))
}
