//! The `/document` service (SW-73 §4.3.4): an SRS sends its user report (`RUT`) each time one
//! is produced, or a habitual third-party declaration (`HAB`). In the protocol's order: the
//! certificate of the handshake (011E); the headers of table 26 (a transmission's, without
//! `SIGNATRANSM`: the document carries its own signature); the body's structure and the `doc`
//! string's parameters (`DocumentRequest::read`); the report's tax numbers against the headers
//! (043E); the certificate `EM` names, the operator's (540E) and in force (469E), whose key must
//! have made `SI` (417E); then the document is recorded, once by its signature, and numbered.

use time::OffsetDateTime;
use websrm_crypto::{CertificateInfo, inspect_certificate};
use websrm_domain::{CertificateState, DeviceIdState, GstNumber, QstNumber, Subject};
use websrm_protocol::catalogue::ErrorCode as E;
use websrm_protocol::document::{DocumentRequest, DocumentResponseBody, DocumentType, RetourDoc};
use websrm_protocol::headers::DocumentHeaders;
use websrm_protocol::transaction::Finding;
use websrm_protocol::transaction::values::Moment;
use websrm_protocol::wire::JSON_VERSION;
use websrm_registry::NewAudit;
use websrm_registry::ReceivedDocument;

use crate::context::ApiServices;
use crate::context::{Refused, ServiceRefusal};
use crate::service::{Request, Response, Service};
use websrm_protocol::request::{repeated_field, request_fields};

impl ApiServices<'_> {
    /// Answers a `/document` request: 200 with the document's number (`noDoc`), or 400 with
    /// the errors; every answer is in the audit log first.
    pub(crate) fn handle_document(&self, request: &Request) -> Response {
        let now = self.core.now();
        match self.document_request(request, now) {
            Ok(answer) => answer,
            Err(refusal) => {
                let list = self
                    .context
                    .refusal_errors(&refusal, "refuse-document", now);
                answer(
                    400,
                    RetourDoc {
                        json_versi: Some(JSON_VERSION.into()),
                        list_err: Some(list),
                        ..RetourDoc::default()
                    },
                )
            }
        }
    }

    fn document_request(
        &self,
        request: &Request,
        now: OffsetDateTime,
    ) -> Result<Response, ServiceRefusal> {
        let (info, record) = self.context.check_presented(request)?;
        let headers = self.check_document_headers(request, &info)?;
        let fields = request_fields(&request.body, "document", "reqDoc", &["typDoc", "doc"])
            .map_err(Refused::from)?;
        if let Some((parent, field)) = repeated_field(&request.body) {
            return Err(Refused::from((E::ChildFieldRepeated, vec![parent, field])).into());
        }
        let document = DocumentRequest::read(&fields.into_iter().collect())
            .map_err(ServiceRefusal::Findings)?;
        let refuse = |number: u16, parameter: &str, value: Option<&str>| {
            ServiceRefusal::Findings(vec![Finding::new(
                number,
                format!("reqDoc/doc/{parameter}"),
                value,
            )])
        };
        // The report is the operator's: its tax numbers are the headers' (compared as numbers,
        // values being read without regard to case).
        if document.kind == DocumentType::UserReport {
            let (rt, tq) = (
                document.get("RT").unwrap_or_default(),
                document.get("TQ").unwrap_or_default(),
            );
            let same = rt.parse::<GstNumber>().ok() == Some(headers.gst.clone())
                && tq.parse::<QstNumber>().ok() == Some(headers.qst.clone());
            if !same {
                return Err(refuse(43, "TQ", Some(tq)));
            }
        }
        // The certificate that signed: the operator's, in force, its key the signature's.
        let em = document.get("EM").unwrap_or_default();
        let signer = document
            .thumbprint()
            .map(|t| self.core.registry.certificate_by_thumbprint(t))
            .transpose()
            .map_err(|e| {
                tracing::error!(error = %e, "unexpected error");
                Refused::from((E::Unexpected, Vec::new()))
            })?
            .flatten();
        let Some(signer) = signer else {
            return Err(refuse(540, "EM", Some(em)));
        };
        let signer_info = inspect_certificate(&signer.der).ok();
        let operators = match signer_info.as_ref().and_then(|i| i.subject.as_ref()) {
            Some(Subject::Srs(srs)) => srs.qst_number() == &headers.qst,
            _ => signer.operator == record.operator,
        };
        if !operators {
            return Err(refuse(540, "EM", Some(em)));
        }
        // In force when it signed, as for transactions: not revoked, not expired, and for a
        // certificate replaced or deleted since, a report produced (`DR`, Eastern time) before
        // it ended; a declaration carries no moment, so it must be signed by one in force.
        let produced = document
            .get("DR")
            .filter(|_| document.kind == DocumentType::UserReport)
            .and_then(|dr| dr.parse::<Moment>().ok())
            .map(|m| {
                m.date_time().assume_offset(
                    time::UtcOffset::from_hms(-5, 0, 0).unwrap_or(time::UtcOffset::UTC),
                )
            });
        let in_force = match signer.state {
            CertificateState::Active => true,
            CertificateState::Revoked { .. } => false,
            _ => match (produced, signer.ended_at) {
                (Some(at), Some(ended)) => at <= ended,
                _ => false,
            },
        } && now <= signer.validity.not_after();
        if !in_force {
            return Err(refuse(469, "EM", Some(em)));
        }
        let verified = match (document.signature(), signer_info.and_then(|i| i.public_key)) {
            (Some(signature), Some(key)) => key
                .verify(document.signature_input().as_bytes(), &signature)
                .is_ok(),
            _ => false,
        };
        if !verified {
            return Err(refuse(417, "SI", document.get("SI")));
        }

        let Some(DeviceIdState::Assigned(device)) = headers.common.device else {
            return Err(Refused::from((E::DeviceIdUnknown, Vec::new())).into());
        };
        let audit = NewAudit::new(
            now,
            "api",
            "document",
            device.to_string(),
            document.kind.code(),
        );
        let received = ReceivedDocument::new(
            headers.common.environment,
            document.kind.code(),
            document.get("SI").unwrap_or_default(),
            device,
            record.operator,
            document.doc(),
        );
        let (_, recorded) = self
            .core
            .registry
            .record_document(received, audit)
            .map_err(|e| {
                tracing::error!(error = %e, "could not record the document");
                Refused::from((E::Unexpected, Vec::new()))
            })?;
        Ok(answer(
            200,
            RetourDoc {
                json_versi: Some(JSON_VERSION.into()),
                cas_essai: crate::service::next_test_case(headers.common.test_case),
                no_doc: Some(format!("{:010}", recorded.id % 10_000_000_000)),
                list_err: None,
            },
        ))
    }

    /// The headers of table 26, checked as a transmission's are.
    fn check_document_headers(
        &self,
        request: &Request,
        info: &CertificateInfo,
    ) -> Result<DocumentHeaders, Refused> {
        let pairs: Vec<(&str, &str)> = request
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        let h = DocumentHeaders::from_pairs(pairs.iter().copied())
            .map_err(|problems| Refused(self.context.header_faults(&pairs, &problems)))?;
        self.context
            .check_context(h.common.environment, h.common.test_case, Service::Documents)?;
        self.context.check_operator(&h.gst, &h.qst, info)?;
        self.context.check_device(&h.common)?;
        self.context
            .check_product(&h.common)
            .map_err(|r| Refused(r.0))?;
        Ok(h)
    }
}

fn answer(status: u16, retour: RetourDoc) -> Response {
    let body = serde_json::to_vec(&DocumentResponseBody { retour_doc: retour }).unwrap_or_default();
    Response::new(status, body)
}
