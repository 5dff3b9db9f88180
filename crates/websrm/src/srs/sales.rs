//! Typed transactions signed: a [`Sale`] the POS built, checked as the authority would check it,
//! signed as the next link of its chain, and completed with `signa`, `emprCertifSEV` and `SEV`.

use websrm_protocol::transaction::values::{Moment, SignatureText};
use websrm_protocol::transaction::{Checks, Finding, Sale, Signatures, SoftwareBlock, Transaction};

use super::*;
use crate::{Origin, TransactionData};

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
        let found = sale.check(checks);
        if !found.is_empty() {
            return Err(Error::Transaction(found));
        }
        let slot = self.usable_slot(operator)?;
        let qst = inspect_certificate(&slot.material.certificate_der)?
            .subject
            .and_then(|s| s.qst_number().cloned());
        if qst.as_ref() != Some(&sale.tax_numbers.qst) {
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
        let signed = self.sign_link(origin, operator, &data, None)?;
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
