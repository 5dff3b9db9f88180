//! Documents: the authority's `document` service. An SRS transmits a user report (`RUT`) or a
//! habitual third party's declaration (`HAB`), signed with the operator's certificate on the
//! device.

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
        let slot = self.usable_slot(operator)?;
        let key = self.open_key(&slot.sealed_key, &slot.key)?;
        let info = inspect_certificate(&slot.material.certificate_der)?;
        let signature = key.sign(document.signature_input().as_bytes())?;
        let document = document.signed(&signature, info.thumbprint);
        let device = DeviceIdState::Assigned(
            self.device_id()?
                .ok_or_else(|| Error::NotFound("this device's identifier".into()))?,
        );
        let headers = DocumentHeaders::new(self.headers(Some(device)), gst, qst);
        let identity = ClientIdentity {
            chain: vec![slot.material.certificate_der.clone()],
            key: &key,
        };
        match self.client.document(&headers, &document, identity).await {
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
