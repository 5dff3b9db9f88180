//! Transmission: each sale recorded in the outbox with its signature link before anything is
//! sent, then sent to `/transaction` with the certificate over mutual TLS, with the pending
//! batch (newest first, split at [`MAX_REQUEST_BYTES`]); offline mode as SW-73 §4.2 defines
//! it; and what each `codRetour` class means for the transaction (SW-73 §3.6.1).

use time::Duration;
use websrm_domain::{GstNumber, Origin as ReturnCodeOrigin};
use websrm_protocol::headers::TransmissionHeaders;
use websrm_protocol::transaction::{
    BillContext, Checks, Mention, Sale, Transaction, mentions, qr_plaintext, qr_url,
    read_transaction,
};
use websrm_protocol::wire::{AuthorityError, RetourTrans, WireError};
use websrm_store::device::{Link, OutboxEntry, OutboxState, Receipt, Settlement};

use super::sales::{Recorded, TRANSMITTING};
use super::*;
use crate::{IdempotencyKey, Origin, request_digest};

/// The largest request body sent: SW-73 §4.2.2 caps a request (current transaction and batch)
/// at 256 ko; a pending batch that does not fit is split.
pub const MAX_REQUEST_BYTES: usize = 256_000;

/// What a bill shows in place of `psiNoTrans` and `psiDatTrans` when the authority did not
/// answer (SW-73 table 43, order 10).
pub const COMMUNICATION_PROBLEM: &str = "PROBLÈME DE COMMUNICATION";

/// What to do with a transaction the authority refused, by its errors' `codRetour` (SW-73
/// §3.6.1, table 6).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Resend {
    /// An unexpected error (`x0`): the transaction stays in the outbox and goes unchanged with
    /// the next request.
    Unchanged,
    /// The request was not understood or a field is missing (`x1`, `x5`): the transaction was
    /// not received and cannot go as it is; record it again as a new transaction (new
    /// `noTrans`, dates and signatures).
    AsNewTransaction,
    /// The transaction was received and refused (`x2`, `x3`, `x4`, `x6`): never send it again;
    /// offer the correction (revise the addition, correct the closing receipt), which is a new
    /// transaction referring to this one.
    Never,
}

impl Resend {
    /// What the errors' return codes call for: the strictest of them.
    pub fn of(errors: &[AuthorityError]) -> Self {
        let mut resend = Self::Unchanged;
        for code in errors.iter().filter_map(|e| e.return_code) {
            match code.origin() {
                ReturnCodeOrigin::Unexpected => {}
                ReturnCodeOrigin::NotUnderstandable | ReturnCodeOrigin::MissingFields => {
                    if resend == Self::Unchanged {
                        resend = Self::AsNewTransaction;
                    }
                }
                _ => return Self::Never,
            }
        }
        resend
    }
}

/// What happened to the current transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outcome {
    /// Received: print `psiNoTrans` and `psiDatTrans`.
    Transmitted {
        /// `psiNoTrans`, `XXXX-XXXX-XXXX-XXXX`.
        psi_no_trans: String,
        /// `psiDatTrans`, `AAAAMMJJhhmmss` (Québec time).
        psi_dat_trans: String,
    },
    /// No answer: offline mode. Print [`COMMUNICATION_PROBLEM`]; the transaction goes with the
    /// next request, or at [`Srs::flush`].
    Offline {
        /// The communication failure.
        reason: String,
    },
    /// Received earlier in a batch (a retry of a transaction that had waited offline): its
    /// bill went out with [`COMMUNICATION_PROBLEM`].
    Batched {
        /// `noLot`.
        no_lot: String,
        /// `datLot`.
        dat_lot: String,
    },
    /// Refused. Show every error (id, message and `codRetour`) and log it.
    Refused {
        /// The errors, in the authority's order.
        errors: Vec<AuthorityError>,
        /// What to do with the transaction.
        resend: Resend,
    },
}

impl Outcome {
    /// The mention the bill carries where `psiNoTrans` would be: [`COMMUNICATION_PROBLEM`]
    /// while the transaction waits to be received (offline, or an unexpected error that asks
    /// for it again) and once it was received later in a batch; none when received at once,
    /// or refused.
    pub fn mention(&self) -> Option<&'static str> {
        match self {
            Self::Offline { .. }
            | Self::Batched { .. }
            | Self::Refused {
                resend: Resend::Unchanged,
                ..
            } => Some(COMMUNICATION_PROBLEM),
            _ => None,
        }
    }
}

/// A transmitted (or kept) transaction: what the POS prints and does.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Transmission {
    /// The transaction as signed and recorded.
    pub transaction: Transaction,
    /// Its place in the outbox.
    pub outbox_id: i64,
    /// The device identifier to print (`IDAPPRL`: the terminal's, for a terminal).
    pub device_id: DeviceId,
    /// What happened to it.
    pub outcome: Outcome,
    /// What happened to the pending transactions that went with it.
    pub batch: Delivery,
    /// The URL the bill's QR code encodes (table 42's values encrypted with `certifPSI`).
    pub qr_url: String,
    /// The mentions the bill bears, in table 43's order, as far as the transaction and its
    /// outcome decide them (the place in its sequence is the POS's to add: see
    /// [`transaction::mentions`](crate::transaction::mentions)).
    pub mentions: Vec<Mention>,
}

#[cfg(feature = "qr-image")]
impl Transmission {
    /// The bill's QR code as an SVG image (error correction L, as Revenu Québec's samples;
    /// print it at least 4 × 4 cm).
    pub fn qr_svg(&self) -> Result<String, Error> {
        qr_svg(&self.qr_url)
    }
}

/// `url` as a QR code in SVG (error correction L).
#[cfg(feature = "qr-image")]
pub fn qr_svg(url: &str) -> Result<String, Error> {
    let code =
        qrcode::QrCode::with_error_correction_level(url, qrcode::EcLevel::L).map_err(|e| {
            Error::Local {
                what: "the QR code cannot hold the URL",
                cause: Source::new(e),
            }
        })?;
    Ok(code
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(400, 400)
        .build())
}

/// What one or more requests did with the outbox's pending transactions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Delivery {
    /// Requests sent.
    pub requests: usize,
    /// Batched transactions received.
    pub sent: usize,
    /// Batched transactions refused (their errors come in DEV and ESSAI only).
    pub refused: usize,
    /// Each batch's `noLot` and `datLot`.
    pub batches: Vec<(String, String)>,
    /// The errors of requests refused as a whole.
    pub errors: Vec<AuthorityError>,
    /// The communication failure that stopped the delivery, if any.
    pub offline: Option<String>,
}

impl Delivery {
    fn absorb(&mut self, other: Self) {
        self.requests += other.requests;
        self.sent += other.sent;
        self.refused += other.refused;
        self.batches.extend(other.batches);
        self.errors.extend(other.errors);
        if other.offline.is_some() {
            self.offline = other.offline;
        }
    }
}

/// The outbox at a glance.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Outbox {
    /// Pending transactions.
    pub pending: u64,
    /// How long the oldest pending one has waited.
    pub oldest_age: Option<Duration>,
    /// Offline mode: since when, and why.
    pub offline: Option<websrm_store::device::Offline>,
    /// The pending transactions, oldest first (at most the number asked for).
    pub entries: Vec<OutboxEntry>,
}

impl Srs {
    /// Records `sale` and sends it. The sale is checked as the authority would check it, signed
    /// as the next link of its chain and written into the outbox with that link in one store
    /// transaction **before** anything is sent; then it goes to `/transaction` with the
    /// certificate of `operator` over mutual TLS, followed by the pending transactions of the
    /// same certificate and device (newest first; the oldest part first when they do not fit
    /// in one request, the rest in further requests). A transaction is never lost, never
    /// altered once signed, and never sent as two transactions.
    ///
    /// A communication failure is not an error: the outcome is [`Outcome::Offline`] and the
    /// transaction waits in the outbox.
    pub async fn transmit(
        &self,
        origin: &Origin,
        operator: &IdentificationNumber,
        sale: Sale,
        checks: Checks,
    ) -> Result<Transmission, Error> {
        match self.record_sale(origin, operator, sale, checks, None)? {
            Recorded::New(made) => {
                let (transaction, entry) = *made;
                self.send_recorded(transaction, entry).await
            }
            Recorded::Remembered(_) => Err(Error::BadAnswer("nothing was recorded".into())),
        }
    }

    /// [`transmit`](Self::transmit) once per idempotency key: the sale, its link and the key
    /// are written in one store transaction; a retry with the same key and the same sale (after
    /// a lost answer, even after a crash) records nothing more and answers for that same
    /// transaction: where it stands, or, still pending, sent again as the current transaction.
    /// The same key with another sale is [`Error::IdempotencyConflict`].
    pub async fn transmit_once(
        &self,
        key: &IdempotencyKey,
        origin: &Origin,
        operator: &IdentificationNumber,
        sale: Sale,
        checks: Checks,
    ) -> Result<Transmission, Error> {
        let digest = sale_digest(origin, operator, &sale);
        // A retry is answered before anything else is checked: the certificate may have ended
        // since, and the transaction was recorded already.
        let remembered = self.store().remembered_answer(key.as_str())?;
        let remembered = match remembered {
            Some(answer) => answer,
            None => match self.record_sale(origin, operator, sale, checks, Some((key, &digest)))? {
                Recorded::New(made) => {
                    let (transaction, entry) = *made;
                    return self.send_recorded(transaction, entry).await;
                }
                Recorded::Remembered(answer) => answer,
            },
        };
        if remembered.operation != TRANSMITTING || remembered.digest != digest {
            return Err(Error::IdempotencyConflict(key.clone()));
        }
        let unreadable =
            || Error::BadAnswer(format!("the answer remembered under {key} is unreadable"));
        let id: i64 = remembered.body.parse().map_err(|_| unreadable())?;
        let entry = self.store().outbox_entry(id)?.ok_or_else(unreadable)?;
        let body: serde_json::Value =
            serde_json::from_str(&entry.body).map_err(|_| unreadable())?;
        let transaction =
            read_transaction(&body, "transActu", Checks::default()).map_err(|_| unreadable())?;
        match entry.state {
            OutboxState::Pending => self.send_recorded(transaction, entry).await,
            state => self.settled(transaction, state, entry),
        }
    }

    /// The answer for a transaction the outbox has settled already.
    pub(super) fn settled(
        &self,
        transaction: Transaction,
        state: OutboxState,
        entry: OutboxEntry,
    ) -> Result<Transmission, Error> {
        let outcome = settled_outcome(state, &entry);
        Ok(Transmission {
            qr_url: self.qr_code_url(&transaction)?,
            mentions: bill_mentions(&transaction, &outcome),
            transaction,
            outbox_id: entry.id,
            device_id: entry.device,
            outcome,
            batch: Delivery::default(),
        })
    }

    /// Sends a recorded transaction as the current one, with the pending batch.
    pub(super) async fn send_recorded(
        &self,
        transaction: Transaction,
        entry: OutboxEntry,
    ) -> Result<Transmission, Error> {
        // While it waits for its turn, no other call's batch takes it: it goes as the current
        // transaction it is, and its bill gets its own psiNoTrans.
        let _in_hand = InHand::hold(&self.in_hand, entry.id);
        let _one_at_a_time = self.delivery.lock().await;
        // Another call may have sent it meanwhile (a flush, or a retry with its key): what
        // the outbox says now decides, and a transaction is never sent twice.
        let entry = self.store().outbox_entry(entry.id)?.unwrap_or(entry);
        if entry.state != OutboxState::Pending {
            return self.settled(transaction, entry.state, entry);
        }
        let outbox_id = entry.id;
        let device_id = entry.device;
        let slot = entry.slot.clone();
        let (outcome, batch) = self.deliver(slot, device_id, Some(entry)).await?;
        let outcome = outcome.unwrap_or(Outcome::Offline {
            reason: String::new(),
        });
        Ok(Transmission {
            qr_url: self.qr_code_url(&transaction)?,
            mentions: bill_mentions(&transaction, &outcome),
            transaction,
            outbox_id,
            device_id,
            outcome,
            batch,
        })
    }

    /// Sends every pending transaction of this installation (a user's sign-out, the "send
    /// pending" button, or the agent's background work), batch by batch, oldest first. A
    /// communication failure stops it and is reported in [`Delivery::offline`].
    pub async fn flush(&self) -> Result<Delivery, Error> {
        let _one_at_a_time = self.delivery.lock().await;
        let mut total = Delivery::default();
        let groups = self.store().pending_groups(self.config.environment)?;
        for (slot, device) in groups {
            // This installation's, and what it relays as a remote server.
            if slot.installation != self.config.installation
                && slot.installation != SERVER_INSTALLATION
            {
                continue;
            }
            let (_, delivery) = self.deliver(slot, device, None).await?;
            let stop = delivery.offline.is_some();
            total.absorb(delivery);
            if stop {
                break;
            }
        }
        Ok(total)
    }

    /// The URL of `transaction`'s QR code: table 42's thirteen values encrypted with the
    /// `certifPSI` given with the certificate that signed it (RSA PKCS#1 v1.5, in blocks when
    /// they do not fit one), Base64, percent-encoded on the environment's base. A duplicate or a
    /// reproduction, being a new transaction, has its own. A remote server, which relays what
    /// its devices signed, uses the `certifPSI` given with its own certificate: the authority's
    /// for the environment, as the device's.
    pub fn qr_code_url(&self, transaction: &Transaction) -> Result<String, Error> {
        let slots = self.store().slots()?;
        let signer = slots
            .iter()
            .find(|s| s.material.thumbprint.to_string() == transaction.thumbprint);
        let relaying = || {
            slots.iter().find(|s| {
                s.key.installation == SERVER_INSTALLATION
                    && s.key.environment == self.config.environment
            })
        };
        let slot = signer.or_else(relaying).ok_or_else(|| {
            Error::NotFound(format!("the certificate {}", transaction.thumbprint))
        })?;
        let ciphertext = websrm_crypto::encrypt_for_psi(
            &slot.material.certif_psi_pem,
            qr_plaintext(transaction).as_bytes(),
        )?;
        Ok(qr_url(self.config.environment, &ciphertext))
    }

    /// The outbox: how many transactions are pending, the oldest one's age, offline mode, and
    /// the first `limit` pending transactions, oldest first.
    pub fn outbox(&self, limit: usize) -> Result<Outbox, Error> {
        let store = self.store();
        let summary = store.outbox_summary()?;
        Ok(Outbox {
            pending: summary.pending,
            oldest_age: summary.oldest.map(|t| self.now() - t),
            offline: store.offline(self.config.environment)?,
            entries: store.pending_transactions(limit)?,
        })
    }

    /// Sends `current` (if any) with the pending transactions of the certificate of `slot`
    /// started on `device`, in as many requests as the size rule asks, until none is left or
    /// the authority cannot be reached.
    pub(super) async fn deliver(
        &self,
        slot: SlotKey,
        device: DeviceId,
        mut current: Option<OutboxEntry>,
    ) -> Result<(Option<Outcome>, Delivery), Error> {
        let slot = self.usable_slot_at(slot)?;
        let key = self.open_key(&slot.sealed_key, &slot.key)?;
        let subject = inspect_certificate(&slot.material.certificate_der)?
            .subject
            .ok_or_else(|| Error::BadAnswer("the certificate has no subject".into()))?;
        // An operator's certificate names its QST number; a remote server's names none, and
        // sends each request with the QST number of the transactions it relays (536E).
        let own_qst = subject.qst_number().cloned();
        let mut delivery = Delivery::default();
        let mut outcome = None;
        let mut after = 0;
        // A batch is older than the transaction that carries it (527E), and what other tills
        // record meanwhile goes with their own transactions.
        let carried_by = current.as_ref().map(|c| c.id);
        loop {
            const ENVELOPE: usize = r#"{"reqTrans":{"transActu":,"transLot":[]}}"#.len();
            let room = MAX_REQUEST_BYTES
                .saturating_sub(ENVELOPE + current.as_ref().map_or(0, |c| c.body.len()));
            let fetched = self
                .store()
                .pending_part(&slot.key, device, after, carried_by, room)?;
            let last = fetched.last().map_or(after, |e| e.id);
            if fetched.is_empty() && current.is_none() {
                break;
            }
            let part: Vec<OutboxEntry> = {
                let in_hand = self.in_hand.lock().unwrap_or_else(|p| p.into_inner());
                fetched
                    .into_iter()
                    .filter(|e| !in_hand.contains(&e.id))
                    .collect()
            };
            if part.is_empty() && current.is_none() {
                after = last;
                continue;
            }
            // SIGNATRANSM: the batch oldest first, then the current transaction.
            let actus = part
                .iter()
                .chain(current.as_ref())
                .map(|e| Signature::from_base64(&e.actu))
                .collect::<Result<Vec<_>, _>>()?;
            let signature = key
                .sign(signatransm_input(subject.authorization_code(), device, &actus).as_bytes())?;
            let newest = current.as_ref().or_else(|| part.last());
            let gst: GstNumber = newest.map_or("", |e| e.gst.as_str()).parse()?;
            let qst = match &own_qst {
                Some(qst) => qst.clone(),
                None => relayed_qst(newest)?,
            };
            let headers = TransmissionHeaders::new(
                self.headers(Some(DeviceIdState::Assigned(device))),
                gst,
                qst.clone(),
                signature,
                slot.material.thumbprint,
            );
            let body = request_body(current.as_ref(), &part);
            let identity = ClientIdentity {
                chain: vec![slot.material.certificate_der.clone()],
                key: &key,
            };
            #[cfg(feature = "test-util")]
            crate::crash_point("before-transmit");
            let answer = self
                .client
                .transmit(&headers, body.as_bytes(), identity)
                .await;
            #[cfg(feature = "test-util")]
            crate::crash_point("after-transmit");
            delivery.requests += 1;
            let ids = || {
                current
                    .iter()
                    .chain(&part)
                    .map(|e| (e.id, Settlement::Kept))
            };
            let retour = match answer {
                Ok(retour) => retour,
                Err(ClientError::NotSent { cause } | ClientError::Communication { cause }) => {
                    let reason = cause.to_string();
                    tracing::warn!(%reason, "no answer to a transmission: offline mode");
                    let kept: Vec<_> = ids().collect();
                    let link = Link::Down {
                        reason: reason.clone(),
                    };
                    self.store().settle(&slot.key, &kept, &link, self.now())?;
                    if current.is_some() {
                        outcome = Some(Outcome::Offline {
                            reason: reason.clone(),
                        });
                    }
                    delivery.offline = Some(reason);
                    return Ok((outcome, delivery));
                }
                Err(other) => return Err(client_error(other)),
            };
            if let Some(next) = retour.cas_essai.as_deref().and_then(|c| c.parse().ok()) {
                self.set_test_case(next);
            }
            let read = read_answer(&retour, current.as_ref(), &part);
            {
                let mut store = self.store();
                let now = self.now();
                store.settle(&slot.key, &read.settlements, &Link::Up, now)?;
                // Every error is logged with its id and codRetour (SW-73 §3.6).
                let shown = match &read.current {
                    Outcome::Refused { errors, .. } if current.is_some() => errors.as_slice(),
                    _ => &[],
                };
                for e in shown.iter().chain(&read.request_errors) {
                    store.record_authority_error(
                        Some(&slot.key),
                        e.id,
                        e.return_code,
                        &e.message,
                        now,
                    )?;
                }
            }
            delivery.sent += read.batch_sent;
            delivery.refused += read.batch_refused;
            delivery.batches.extend(read.batch);
            delivery.errors.extend(read.request_errors);
            if current.is_some() {
                outcome = Some(read.current);
            }
            // A part the authority did not take stays for later: do not go round again.
            if !part.is_empty() && read.batch_sent + read.batch_refused == 0 {
                break;
            }
            after = last;
            current = None;
        }
        Ok((outcome, delivery))
    }
}

/// An outbox entry held by the call that sends it, for as long as the call lasts (even one
/// dropped while it waits).
struct InHand<'a> {
    set: &'a Mutex<std::collections::HashSet<i64>>,
    id: i64,
}

impl<'a> InHand<'a> {
    fn hold(set: &'a Mutex<std::collections::HashSet<i64>>, id: i64) -> Self {
        set.lock().unwrap_or_else(|p| p.into_inner()).insert(id);
        Self { set, id }
    }
}

impl Drop for InHand<'_> {
    fn drop(&mut self) {
        self.set
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&self.id);
    }
}

/// The QST number of a relayed transaction, as its device signed it.
fn relayed_qst(entry: Option<&OutboxEntry>) -> Result<QstNumber, Error> {
    let body: Option<serde_json::Value> = entry.and_then(|e| serde_json::from_str(&e.body).ok());
    body.as_ref()
        .and_then(|b| b["noTax"]["noTVQ"].as_str())
        .and_then(|q| q.parse().ok())
        .ok_or_else(|| Error::BadAnswer("a relayed transaction has no QST number".into()))
}

/// `{"reqTrans": …}` from the outbox's texts, untouched: the current transaction, then the
/// batch newest first.
fn request_body(current: Option<&OutboxEntry>, part: &[OutboxEntry]) -> String {
    let mut body = String::from(r#"{"reqTrans":{"#);
    if let Some(c) = current {
        body.push_str(r#""transActu":"#);
        body.push_str(&c.body);
    }
    if !part.is_empty() {
        if current.is_some() {
            body.push(',');
        }
        body.push_str(r#""transLot":["#);
        for (i, e) in part.iter().rev().enumerate() {
            if i > 0 {
                body.push(',');
            }
            body.push_str(&e.body);
        }
        body.push(']');
    }
    body.push_str("}}");
    body
}

/// An answer read for the outbox.
struct Answer {
    current: Outcome,
    settlements: Vec<(i64, Settlement)>,
    batch_sent: usize,
    batch_refused: usize,
    batch: Option<(String, String)>,
    request_errors: Vec<AuthorityError>,
}

/// What `retour` means for the current transaction and each batched one.
fn read_answer(
    retour: &RetourTrans,
    current: Option<&OutboxEntry>,
    part: &[OutboxEntry],
) -> Answer {
    let errors_of = |list: &[WireError]| -> Vec<AuthorityError> {
        list.iter()
            .filter_map(|w| AuthorityError::try_from(w).ok())
            .collect()
    };
    let json = |list: &[&WireError]| serde_json::to_string(list).unwrap_or_default();
    let mut settlements = Vec::new();
    let mut request_errors = Vec::new();
    let actu = retour.retour_trans_actu.as_ref();
    let actu_errors: Vec<WireError> = actu.and_then(|a| a.list_err.clone()).unwrap_or_default();
    let current_outcome = match (current, actu) {
        (Some(c), Some(a)) if a.psi_no_trans.is_some() => {
            let receipt = Receipt::new(
                a.psi_no_trans.clone().unwrap_or_default(),
                a.psi_dat_trans.clone().unwrap_or_default(),
                false,
            );
            settlements.push((c.id, Settlement::Sent(receipt)));
            Outcome::Transmitted {
                psi_no_trans: a.psi_no_trans.clone().unwrap_or_default(),
                psi_dat_trans: a.psi_dat_trans.clone().unwrap_or_default(),
            }
        }
        (Some(c), _) => {
            let errors = errors_of(&actu_errors);
            let resend = if errors.is_empty() {
                Resend::Unchanged
            } else {
                Resend::of(&errors)
            };
            let refs: Vec<&WireError> = actu_errors.iter().collect();
            settlements.push((
                c.id,
                match resend {
                    Resend::Unchanged => Settlement::Kept,
                    _ => Settlement::Refused {
                        errors: json(&refs),
                    },
                },
            ));
            Outcome::Refused { errors, resend }
        }
        (None, _) => {
            request_errors = errors_of(&actu_errors);
            Outcome::Offline {
                reason: String::new(),
            }
        }
    };
    let lot = retour.retour_trans_lot.as_ref();
    let mut batch_sent = 0;
    let mut batch_refused = 0;
    let batch = lot.and_then(|l| Some((l.no_lot.clone()?, l.dat_lot.clone().unwrap_or_default())));
    let lot_errors = lot.and_then(|l| l.list_err.clone()).unwrap_or_default();
    for entry in part {
        let Some((number, date)) = &batch else {
            settlements.push((entry.id, Settlement::Kept));
            continue;
        };
        let own: Vec<&WireError> = lot_errors
            .iter()
            .filter(|w| w.no_trans.as_deref() == Some(entry.no_trans.as_str()))
            .collect();
        let settlement = if own.is_empty() {
            batch_sent += 1;
            Settlement::Sent(Receipt::new(number.clone(), date.clone(), true))
        } else {
            let errors: Vec<AuthorityError> = own
                .iter()
                .filter_map(|w| AuthorityError::try_from(*w).ok())
                .collect();
            match Resend::of(&errors) {
                Resend::Unchanged => Settlement::Kept,
                _ => {
                    batch_refused += 1;
                    Settlement::Refused { errors: json(&own) }
                }
            }
        };
        settlements.push((entry.id, settlement));
    }
    Answer {
        current: current_outcome,
        settlements,
        batch_sent,
        batch_refused,
        batch,
        request_errors,
    }
}

/// Table 43's mentions for `transaction` after `outcome`: the communication problem while it
/// waits, the invalid certificate when the authority refused the certificate (`x2`).
fn bill_mentions(transaction: &Transaction, outcome: &Outcome) -> Vec<Mention> {
    let invalid_certificate = matches!(outcome, Outcome::Refused { errors, .. }
        if errors.iter().any(|e| e.return_code.is_some_and(|c| c.origin() == ReturnCodeOrigin::InvalidCertificate)));
    mentions(
        &transaction.sale,
        &BillContext {
            earlier_in_sequence: None,
            invalid_certificate,
            communication_problem: outcome.mention().is_some(),
        },
    )
}

/// What a transaction already settled in the outbox came to.
fn settled_outcome(state: OutboxState, entry: &OutboxEntry) -> Outcome {
    match (state, &entry.receipt) {
        (OutboxState::Sent, Some(r)) if !r.batch => Outcome::Transmitted {
            psi_no_trans: r.number.clone(),
            psi_dat_trans: r.date.clone(),
        },
        (OutboxState::Sent, Some(r)) => Outcome::Batched {
            no_lot: r.number.clone(),
            dat_lot: r.date.clone(),
        },
        _ => {
            let wire: Vec<WireError> = entry
                .errors
                .as_deref()
                .and_then(|e| serde_json::from_str(e).ok())
                .unwrap_or_default();
            let errors: Vec<AuthorityError> = wire
                .iter()
                .filter_map(|w| AuthorityError::try_from(w).ok())
                .collect();
            let resend = Resend::of(&errors);
            Outcome::Refused { errors, resend }
        }
    }
}

/// What a transmission asks, as a digest: the same key must come with the same sale.
fn sale_digest(origin: &Origin, operator: &IdentificationNumber, sale: &Sale) -> String {
    let origin = match origin {
        Origin::Host => String::new(),
        Origin::Terminal(label) => format!("terminal:{label}"),
    };
    let sale = serde_json::Value::Object(sale.to_json()).to_string();
    request_digest(&[
        origin.as_bytes(),
        operator.as_str().as_bytes(),
        sale.as_bytes(),
    ])
}

#[cfg(test)]
mod tests {
    use super::{AuthorityError, Resend, WireError};

    fn coded(code: Option<u8>) -> AuthorityError {
        AuthorityError::try_from(&WireError {
            no_trans: None,
            id: "JW00B999001E".into(),
            mess: String::new(),
            cod_retour: code.map(|c| format!("{c:02}")),
        })
        .unwrap()
    }

    /// SW-73 table 6: `x0` again unchanged; `x1`, `x5` as a new transaction; `x2`, `x3`,
    /// `x4`, `x6` never; the strictest error decides; the companion (no code) does not.
    #[test]
    fn each_return_code_class_has_its_resend() {
        let of =
            |codes: &[Option<u8>]| Resend::of(&codes.iter().map(|c| coded(*c)).collect::<Vec<_>>());
        assert_eq!(of(&[Some(0)]), Resend::Unchanged);
        assert_eq!(of(&[None]), Resend::Unchanged);
        for code in [11, 91, 15, 95] {
            assert_eq!(of(&[Some(code), None]), Resend::AsNewTransaction, "{code}");
        }
        for code in [12, 92, 13, 93, 14, 94, 16, 96] {
            assert_eq!(of(&[Some(code)]), Resend::Never, "{code}");
            assert_eq!(of(&[Some(95), Some(code)]), Resend::Never, "{code}");
        }
        assert_eq!(of(&[Some(0), Some(95)]), Resend::AsNewTransaction);
    }
}
