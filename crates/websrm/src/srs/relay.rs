//! The remote server of the server mode (SW-73 §2.2.4). A device in the server mode signs each
//! transaction and document with its own certificate (which carries the server administrator's
//! subject, and so no QST number: the sale's is signed); the remote server transmits them with
//! its certificate (case 500's): mutual TLS, `SIGNATRANSM` and `EMPRCERTIFTRANSM` are the
//! server's, `IDAPPRL` names the device that signed. What a server relays goes through its own
//! outbox, so it is kept and batched while the authority cannot be reached, as a device's own
//! transactions are.

use websrm_domain::{GstNumber, QstNumber};
use websrm_protocol::document::DocumentRequest;
use websrm_protocol::transaction::{Checks, Transaction};
use websrm_store::device::{NewTransaction, OutboxState};

use super::*;
use crate::Transmission;

impl Srs {
    /// Transmits `transaction`, which the device `device` signed ([`Srs::sign_sale`] on that
    /// device), as the remote server of the server administrator `server` (the certificate of
    /// [`Srs::enrol_server`] on this installation), with the server's pending batch for that
    /// device. The transaction is written into this server's outbox before anything is sent;
    /// handed over again (the device did not hear back), it is not written or sent twice: the
    /// answer says where it stands, or, still pending, it is sent again as the current one. A
    /// transaction the authority would refuse for its content (as `checks` reads it) is not
    /// relayed: [`Error::Transaction`] lists why.
    pub async fn relay(
        &self,
        server: &IdentificationNumber,
        device: DeviceId,
        transaction: Transaction,
        checks: Checks,
    ) -> Result<Transmission, Error> {
        let found = transaction.sale.check(checks);
        if !found.is_empty() {
            return Err(Error::Transaction(found));
        }
        let slot = self.server_slot(server)?;
        let body = serde_json::to_string(&transaction.to_json()).map_err(|e| Error::Local {
            what: "writing the transaction as JSON",
            cause: Source::new(e),
        })?;
        let new = NewTransaction::new(
            transaction.sale.number.to_string(),
            transaction.sale.tax_numbers.gst.to_string(),
            body,
        );
        let actu = transaction.signatures.actu.to_string();
        let (entry, _) =
            self.store()
                .relay_transaction(&slot.key, device, self.now(), &actu, new)?;
        match entry.state {
            OutboxState::Pending => self.send_recorded(transaction, entry).await,
            state => self.settled(transaction, state, entry),
        }
    }

    /// Signs `document` with `operator`'s certificate on this device (`SI`, `EM`), for a remote
    /// server to send ([`Srs::relay_document`]).
    pub fn sign_document(
        &self,
        operator: &IdentificationNumber,
        document: DocumentRequest,
    ) -> Result<DocumentRequest, Error> {
        let slot = self.usable_slot(operator)?;
        let key = self.open_key(&slot.sealed_key, &slot.key)?;
        let signature = key.sign(document.signature_input().as_bytes())?;
        Ok(document.signed(&signature, slot.material.thumbprint))
    }

    /// Sends `document`, which the device `device` signed ([`Srs::sign_document`]), as the
    /// remote server of `server`, with the operator's tax numbers in the headers. Returns the
    /// authority's number for it (`noDoc`).
    pub async fn relay_document(
        &self,
        server: &IdentificationNumber,
        device: DeviceId,
        gst: GstNumber,
        qst: QstNumber,
        document: DocumentRequest,
    ) -> Result<String, Error> {
        if document.thumbprint().is_none() {
            return Err(Error::BadAnswer(
                "the document is not signed: the device signs it (EM, SI) before the server \
                 sends it"
                    .into(),
            ));
        }
        let slot = self.server_slot(server)?;
        self.send_signed_document(&slot, DeviceIdState::Assigned(device), gst, qst, &document)
            .await
    }

    /// The certificate of the server administrator `server` on this installation, in force.
    fn server_slot(&self, server: &IdentificationNumber) -> Result<Slot, Error> {
        let mut key = self.slot_key(server);
        key.installation = SERVER_INSTALLATION.to_owned();
        self.usable_slot_at(key)
    }
}
