//! Transactions typed in both directions (SW-73 §4.3.3, table 23), for the SRS that builds and
//! sends them and for the authority that examines them: every field a typed value, written to
//! its exact wire form (empty arrays omitted) and read back with the same checks WEB-SRM makes,
//! each failure a [`Finding`] with the error id the authority answers.
//!
//! - [`values`]: amounts, quantities, moments, `utc`, the closed vocabularies.
//! - [`Sale`]: what the POS records; [`SaleBuilder`] builds one and checks it before anything is
//!   signed or sent. [`Transaction`]: the sale with `signa`, `emprCertifSEV` and `SEV`.
//! - [`read_transaction`] / [`read_request`]: a transaction, or a whole `reqTrans`, read from
//!   JSON with the structure checks (300E, 305E, 308E, 317E), each value's form (4xxE) and the
//!   coherence rules decidable from the request alone (5xxE).

mod finding;
mod mentions;
mod model;
mod qr;
pub(crate) mod read;
mod rules;
pub mod values;

use serde_json::{Map, Value};

pub use finding::{Finding, english_message, needs_companion, service_errors};
pub use mentions::{BillContext, Mention, mentions, payment_label};
pub use model::*;
pub use qr::{QR_PLAINTEXT_LEN, qr_plaintext, qr_url};
pub use rules::{Checks, TRANSPORT_ITEMS};
use values::*;

/// Reads one transaction (`transActu`, or an element of `transLot`) as the authority does:
/// the transaction, or every finding (structure and form first; coherence when the form is
/// right).
pub fn read_transaction(
    value: &Value,
    path: &str,
    checks: Checks,
) -> Result<Transaction, Vec<Finding>> {
    let mut reader = read::Reader::default();
    match reader.transaction(value, path) {
        Some(t) => {
            let found = rules::coherence(&t.sale, path, checks);
            if found.is_empty() { Ok(t) } else { Err(found) }
        }
        None => Err(reader.findings),
    }
}

/// Reads a sale as a POS writes it: a transaction with the wire's field names, without the
/// fields the signer fills (`signa`, `emprCertifSEV`, `SEV`; any sent are ignored), checked as
/// [`read_transaction`] checks a whole one.
pub fn read_sale(value: &Value, checks: Checks) -> Result<Sale, Vec<Finding>> {
    let mut whole = value.clone();
    if let Some(map) = whole.as_object_mut() {
        let date = map.get("datTrans").cloned().unwrap_or_default();
        // Placeholders of the right form, replaced when the sale is signed.
        map.insert(
            "signa".into(),
            serde_json::json!({
                "datActu": date,
                "actu": "A".repeat(88),
                "preced": "=".repeat(88),
            }),
        );
        map.insert("emprCertifSEV".into(), Value::String("0".repeat(40)));
        map.insert(
            "SEV".into(),
            serde_json::json!({
                "idSEV": "0000000000000000",
                "idVersi": "0000000000000000",
                "codCertif": "FOB000000000",
                "idPartn": "0000000000000000",
                "versi": "0",
                "versiParn": "0",
            }),
        );
    }
    read_transaction(&whole, "transActu", checks).map(|t| t.sale)
}

/// A `reqTrans` read: the current transaction and the batch, each read or refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TransactionRequest {
    /// `transActu`, read or refused.
    pub current: Option<Result<Transaction, Vec<Finding>>>,
    /// `transLot`, each read or refused, in the order sent (newest first).
    pub batch: Vec<Result<Transaction, Vec<Finding>>>,
}

/// Reads a body `{"reqTrans": {...}}`: 314E for another top-level field, 315E without
/// `reqTrans`, 317E without `transActu` and `transLot`, then each transaction; a batched
/// transaction not older than the current one is 527E.
pub fn read_request(body: &Value, checks: Checks) -> Result<TransactionRequest, Vec<Finding>> {
    let Some(top) = body.as_object() else {
        return Err(vec![Finding::new(315, "reqTrans", None)]);
    };
    let mut found: Vec<Finding> = top
        .keys()
        .filter(|k| *k != "reqTrans")
        .map(|k| Finding::new(314, k.as_str(), None))
        .collect();
    let Some(req) = top.get("reqTrans") else {
        found.push(Finding::new(315, "reqTrans", None));
        return Err(found);
    };
    let Some(req) = req.as_object() else {
        found.push(Finding::new(300, "reqTrans", None));
        return Err(found);
    };
    for key in req.keys().filter(|k| *k != "transActu" && *k != "transLot") {
        found.push(Finding::new(300, format!("reqTrans/{key}"), None));
    }
    if !req.contains_key("transActu") && !req.contains_key("transLot") {
        found.push(Finding::new(317, "reqTrans", None));
    }
    if !found.is_empty() {
        return Err(found);
    }
    let current = req
        .get("transActu")
        .map(|t| read_transaction(t, "transActu", checks));
    let batch = match req.get("transLot") {
        None => Vec::new(),
        Some(Value::Array(lot)) if !lot.is_empty() => lot
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let path = format!("transLot[{i}]");
                let read = read_transaction(t, &path, checks)?;
                if let Some(Ok(now)) = &current
                    && read.sale.date >= now.sale.date
                {
                    return Err(vec![Finding::new(
                        527,
                        format!("{path}/datTrans"),
                        Some(&read.sale.date.to_string()),
                    )]);
                }
                Ok(read)
            })
            .collect(),
        Some(_) => return Err(vec![Finding::new(305, "reqTrans/transLot", None)]),
    };
    Ok(TransactionRequest { current, batch })
}

impl Sale {
    /// The findings the authority would answer for this sale once signed (its values' forms
    /// and the coherence rules): empty when it may be signed and sent.
    pub fn check(&self, checks: Checks) -> Vec<Finding> {
        let mut json = self.to_json();
        // What websrm fills in, present and well formed, so that only the sale is judged.
        json.insert(
            "signa".into(),
            serde_json::json!({"datActu": self.date.to_string(), "actu": SignatureText::first().as_str(), "preced": SignatureText::first().as_str()}),
        );
        json.insert("emprCertifSEV".into(), Value::String("0".repeat(40)));
        json.insert(
            "SEV".into(),
            serde_json::json!({"idSEV": "0000000000000000", "idVersi": "0000000000000000", "codCertif": "FOB000000000", "idPartn": "0000000000000000", "versi": "0", "versiParn": "0"}),
        );
        match read_transaction(&Value::Object(json), "transActu", checks) {
            Ok(_) => Vec::new(),
            Err(found) => found,
        }
    }

    /// A builder with what every transaction needs.
    #[allow(clippy::too_many_arguments)] // The protocol's mandatory fields.
    pub fn builder(
        sector: SectorBlock,
        number: TransactionNumber,
        operator_name: impl Into<String>,
        date: Moment,
        utc: UtcMark,
        file_number: websrm_domain::FileNumber,
        tax_numbers: TaxNumbers,
        kind: TransactionType,
    ) -> SaleBuilder {
        SaleBuilder(Self {
            sector,
            number,
            operator_name: operator_name.into(),
            user_name: None,
            document_address: None,
            relation: Relation::B2c,
            customer: None,
            date,
            utc,
            items: Vec::new(),
            amounts: Amounts::default(),
            file_number,
            tax_numbers,
            electronic: Electronic::No,
            kind,
            payment: PaymentMode::Sob,
            print_mode: PrintMode::Bill,
            print_format: PrintFormat::Paper,
            mode: TransmissionMode::Operational,
            references: Vec::new(),
        })
    }

    /// Adds `signa`, `emprCertifSEV` and `SEV`.
    pub fn signed(
        self,
        signatures: Signatures,
        thumbprint: impl Into<String>,
        software: SoftwareBlock,
    ) -> Transaction {
        Transaction {
            sale: self,
            signatures,
            thumbprint: thumbprint.into(),
            software,
        }
    }
}

/// Builds a [`Sale`] step by step; [`build`](Self::build) checks it as the authority would.
/// By default: `B2C`, not electronic commerce, payment `SOB`, a bill (`FAC`) on paper,
/// operational.
#[derive(Debug, Clone)]
#[must_use]
pub struct SaleBuilder(Sale);

impl SaleBuilder {
    /// Adds an item.
    pub fn item(mut self, item: Item) -> Self {
        self.0.items.push(item);
        self
    }

    /// Sets the amounts.
    pub fn amounts(mut self, amounts: Amounts) -> Self {
        self.0.amounts = amounts;
        self
    }

    /// Sets how it was paid.
    pub fn payment(mut self, payment: PaymentMode) -> Self {
        self.0.payment = payment;
        self
    }

    /// Sets what the document is (`FAC`, `RPR`, `DUP`, `PSP`, `ANN`).
    pub fn print_mode(mut self, mode: PrintMode) -> Self {
        self.0.print_mode = mode;
        self
    }

    /// Sets how it is given (`PAP`, `ELE`, `PEL`, `NON`).
    pub fn print_format(mut self, format: PrintFormat) -> Self {
        self.0.print_format = format;
        self
    }

    /// A training transaction (`FOR`).
    pub fn training(mut self) -> Self {
        self.0.mode = TransmissionMode::Training;
        self
    }

    /// Sets the user who made it.
    pub fn user(mut self, name: impl Into<String>) -> Self {
        self.0.user_name = Some(name.into());
        self
    }

    /// Sets the business address printed.
    pub fn document_address(mut self, address: DocumentAddress) -> Self {
        self.0.document_address = Some(address);
        self
    }

    /// Sets the customer.
    pub fn customer(mut self, customer: Customer) -> Self {
        self.0.customer = Some(customer);
        self
    }

    /// Business to business.
    pub fn business(mut self) -> Self {
        self.0.relation = Relation::B2b;
        self
    }

    /// Electronic commerce.
    pub fn electronic(mut self) -> Self {
        self.0.electronic = Electronic::Yes;
        self
    }

    /// Adds a reference to an earlier transaction.
    pub fn reference(mut self, reference: Reference) -> Self {
        self.0.references.push(reference);
        self
    }

    /// The sale, or what the authority would refuse in it.
    pub fn build(self, checks: Checks) -> Result<Sale, Vec<Finding>> {
        let found = self.0.check(checks);
        if found.is_empty() {
            Ok(self.0)
        } else {
            Err(found)
        }
    }
}

/// The `noTrans` of `transActu` in a request's body, if the body is JSON that far: the number
/// every refusal of the request names, even when the rest cannot be read.
pub fn current_no_trans(body: &[u8]) -> Option<String> {
    let value: Value = serde_json::from_slice(body).ok()?;
    value
        .pointer("/reqTrans/transActu/noTrans")?
        .as_str()
        .map(str::to_owned)
}

/// `reqTrans` with the current transaction and a batch (newest first), as sent.
pub fn request_body(current: Option<&Transaction>, batch: &[Transaction]) -> Value {
    let mut req = Map::new();
    if let Some(t) = current {
        req.insert("transActu".into(), t.to_json());
    }
    if !batch.is_empty() {
        req.insert(
            "transLot".into(),
            Value::Array(batch.iter().map(Transaction::to_json).collect()),
        );
    }
    serde_json::json!({ "reqTrans": req })
}

#[cfg(test)]
mod tests;
