//! Typed transactions signed: a [`Sale`] the POS built, checked as the authority would check it,
//! signed as the next link of its chain, and completed with `signa`, `emprCertifSEV` and `SEV`.

use websrm_protocol::transaction::values::{Moment, SignatureText};
use websrm_protocol::transaction::{Checks, Finding, Sale, Signatures, SoftwareBlock, Transaction};

use websrm_store::device::{NewTransaction, OutboxEntry, Recording};

use super::signatures::LinkPlan;
use super::*;
use crate::{IdempotencyKey, Origin, RememberedAnswer, SignedTransaction, TransactionData};

/// The operation a transmission's remembered answer is kept under.
pub(super) const TRANSMITTING: &str = "transmit";

/// What [`Srs::record_sale`] did.
pub(super) enum Recorded {
    /// The sale was signed and written into the outbox.
    New(Box<(Transaction, OutboxEntry)>),
    /// The idempotency key was used before: what was remembered (the outbox entry's id).
    Remembered(RememberedAnswer),
}

impl Srs {
    /// Signs `sale`, started on `origin`, with the certificate of `operator` as the next link of
    /// its chain, and returns the transaction to send: `signa` (`datActu` now, in the sale's
    /// local time), `emprCertifSEV` and `SEV` filled in. A sale the authority would refuse is
    /// not signed: [`Error::Transaction`] lists what it would answer, with the same ids; so is
    /// a sale whose QST number is not the certificate's (540E).
    pub fn sign_sale(
        &self,
        origin: &Origin,
        operator: &IdentificationNumber,
        sale: Sale,
        checks: Checks,
    ) -> Result<Transaction, Error> {
        let (plan, data) = self.prepare_sale(origin, operator, &sale, checks)?;
        let link = self.store().extend_chain(&plan.chain, plan.signer(&data))?;
        self.complete_sale(sale, &plan.signed(&link)?)
    }

    /// [`sign_sale`](Self::sign_sale), and the signed transaction written into the outbox with
    /// its link, in one store transaction; with an idempotency key, the answer (the outbox
    /// entry) is remembered in that same transaction, and a key used before signs nothing.
    pub(super) fn record_sale(
        &self,
        origin: &Origin,
        operator: &IdentificationNumber,
        sale: Sale,
        checks: Checks,
        key: Option<(&IdempotencyKey, &str)>,
    ) -> Result<Recorded, Error> {
        let (plan, data) = self.prepare_sale(origin, operator, &sale, checks)?;
        let gst = sale.tax_numbers.gst.to_string();
        let number = sale.number.to_string();
        let mut made = None;
        let build = |link: &websrm_store::device::ChainLink| {
            let signed = plan.signed(link).and_then(|l| self.complete_sale(sale, &l));
            let transaction = signed.map_err(|e| websrm_store::Error::Signing(Source::new(e)))?;
            let body = serde_json::to_string(&transaction.to_json())
                .map_err(|e| websrm_store::Error::Signing(Source::new(e)))?;
            made = Some(transaction);
            Ok(NewTransaction::new(number, gst, body))
        };
        let now = self.now();
        let entry = match key {
            None => {
                self.store()
                    .record_transaction(
                        &plan.chain,
                        &plan.slot.key,
                        now,
                        plan.signer(&data),
                        build,
                    )?
                    .1
            }
            Some((key, digest)) => {
                let recording = self.store().record_transaction_once(
                    &plan.chain,
                    &plan.slot.key,
                    now,
                    key.as_str(),
                    plan.signer(&data),
                    build,
                    |entry| {
                        RememberedAnswer::new(TRANSMITTING, digest, 200, entry.id.to_string(), now)
                    },
                )?;
                match recording {
                    Recording::Recorded(_, entry) => *entry,
                    Recording::Remembered(answer) => return Ok(Recorded::Remembered(answer)),
                    _ => return Err(Error::BadAnswer("unknown recording".into())),
                }
            }
        };
        #[cfg(feature = "test-util")]
        crate::crash_point("recorded");
        let transaction = made.ok_or_else(|| Error::BadAnswer("nothing was recorded".into()))?;
        Ok(Recorded::New(Box::new((transaction, entry))))
    }

    /// The sale checked, and what its signature covers; 540E for a sale whose QST number is not
    /// the certificate's (a server-mode certificate has none: it signs the sale's).
    fn prepare_sale(
        &self,
        origin: &Origin,
        operator: &IdentificationNumber,
        sale: &Sale,
        checks: Checks,
    ) -> Result<(LinkPlan, TransactionData), Error> {
        let found = sale.check(checks);
        if !found.is_empty() {
            return Err(Error::Transaction(found));
        }
        let plan = self.plan_link(origin, operator, Some(&sale.tax_numbers.qst))?;
        if plan.qst != sale.tax_numbers.qst {
            return Err(Error::Transaction(vec![Finding::new(
                540,
                "transActu/noTax/noTVQ",
                Some(sale.tax_numbers.qst.as_str()),
            )]));
        }
        let amounts = sale.amounts;
        let data = TransactionData::new(
            sale.number.as_str(),
            sale.date.to_string(),
            amounts.gst.to_string(),
            amounts.qst.to_string(),
            amounts.after_tax.to_string(),
            sale.tax_numbers.gst.clone(),
            sale.print_mode.code(),
            sale.mode.code(),
        );
        Ok((plan, data))
    }

    /// The sale completed with its link: `signa` (`datActu` now, in the sale's local time),
    /// `emprCertifSEV` and `SEV`.
    fn complete_sale(&self, sale: Sale, signed: &SignedTransaction) -> Result<Transaction, Error> {
        let offset = time::UtcOffset::from_whole_seconds(sale.utc.offset_minutes() * 60)
            .unwrap_or(time::UtcOffset::UTC);
        let local = self.now().to_offset(offset);
        let made_at = Moment::new(time::PrimitiveDateTime::new(local.date(), local.time()))
            .ok_or_else(|| Error::BadAnswer(format!("the clock reads {local}")))?;
        let text = |s: String| -> Result<SignatureText, Error> {
            s.parse()
                .map_err(|_| Error::BadAnswer(format!("{s} is not a signature of 88 characters")))
        };
        let product = &self.config.product;
        Ok(sale.signed(
            Signatures {
                made_at,
                actu: text(signed.actu.to_base64())?,
                preced: text(signed.preced.to_string())?,
            },
            signed.thumbprint.to_string(),
            SoftwareBlock {
                srs_id: product.srs_id,
                version_id: product.version_id,
                certification_code: product.certification_code.clone(),
                partner_id: product.partner_id,
                version: product.version.clone(),
                parent_version: product.parent_version.clone(),
            },
        ))
    }
}
