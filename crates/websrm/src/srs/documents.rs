//! Documents: the authority's `document` service. An SRS transmits a user report (`RUT`) or a
//! habitual third party's declaration (`HAB`), signed with the operator's certificate on the
//! device (in the server mode, the remote server sends what the device signed: `relay.rs`).

use websrm_domain::{GstNumber, QstNumber};
use websrm_protocol::document::DocumentRequest;
use websrm_protocol::headers::DocumentHeaders;

use super::*;

impl Srs {
    /// Signs `document` with `operator`'s certificate on this device (`SI`, `EM`) and sends it
    /// to the authority with the operator's tax numbers in the headers (`NOTPS`, `NOTVQ`).
    /// Returns the authority's number for it (`noDoc`, ten digits).
    pub async fn send_document(
        &self,
        operator: &IdentificationNumber,
        gst: GstNumber,
        qst: QstNumber,
        document: DocumentRequest,
    ) -> Result<String, Error> {
        let document = self.sign_document(operator, document)?;
        let slot = self.usable_slot(operator)?;
        let device = DeviceIdState::Assigned(
            self.device_id()?
                .ok_or_else(|| Error::NotFound("this device's identifier".into()))?,
        );
        self.send_signed_document(&slot, device, gst, qst, &document)
            .await
    }

    /// Sends a signed `document` with the certificate of `slot` over mutual TLS, for `device`.
    pub(super) async fn send_signed_document(
        &self,
        slot: &Slot,
        device: DeviceIdState,
        gst: GstNumber,
        qst: QstNumber,
        document: &DocumentRequest,
    ) -> Result<String, Error> {
        let key = self.open_key(&slot.sealed_key, &slot.key)?;
        let headers = DocumentHeaders::new(self.headers(Some(device)), gst, qst);
        let identity = ClientIdentity {
            chain: vec![slot.material.certificate_der.clone()],
            key: &key,
        };
        match self.client.document(&headers, document, identity).await {
            Ok(retour) => {
                if let Some(next) = retour.cas_essai.as_deref().and_then(|c| c.parse().ok()) {
                    self.set_test_case(next);
                }
                Ok(retour.no_doc.unwrap_or_default())
            }
            Err(ClientError::Refused {
                errors,
                next_test_case,
            }) => Err(self.refused_service(&slot.key, errors, next_test_case)?),
            Err(other) => Err(client_error(other)),
        }
    }
}
