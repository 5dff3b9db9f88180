//! The `/utilisateur` service (SW-73 §4.3.2): an SRS declares a user account of its operator
//! (`AJO`) or removes one (`SUP`), a remote server has tax numbers validated (`VAL`). In the
//! protocol's order: the certificate of the handshake (011E); the headers of table 17 (the
//! certificate service's, `IDAPPRL` for an SRS and none for a server); the body's structure and
//! fields (`UserRequest::read`); who may ask what (530E, 434E); the numbers (043E), each
//! answered `VAL` or `INV`; and each change recorded with its audit entry.

use time::OffsetDateTime;
use websrm_crypto::CertificateInfo;
use websrm_domain::{DeviceIdState, InitiatingDevice, Subject};
use websrm_protocol::catalogue::ErrorCode as E;
use websrm_protocol::headers::CertificateHeaders;
use websrm_protocol::transaction::Finding;
use websrm_protocol::user::{
    RetourUtil, TaxNumbersValidity, UserModification, UserRequest, UserResponseBody,
};
use websrm_protocol::wire::JSON_VERSION;
use websrm_registry::NewAudit;
use websrm_registry::{CertificateRecord, UserChange};

use crate::context::ApiServices;
use crate::context::{Refused, ServiceRefusal};
use crate::service::{Request, Response, Service};
use websrm_protocol::request::{repeated_field, request_fields};

impl ApiServices<'_> {
    /// Answers a `/utilisateur` request: 200 with `VAL` or `INV` for each tax number, or 400
    /// with the errors; every answer is in the audit log first.
    pub(crate) fn handle_user(&self, request: &Request) -> Response {
        let now = self.core.now();
        match self.user_request(request, now) {
            Ok(answer) => answer,
            Err(refusal) => {
                let list = self.context.refusal_errors(&refusal, "refuse-user", now);
                answer(
                    400,
                    RetourUtil {
                        json_versi: Some(JSON_VERSION.into()),
                        list_err: Some(list),
                        ..RetourUtil::default()
                    },
                )
            }
        }
    }

    fn user_request(
        &self,
        request: &Request,
        now: OffsetDateTime,
    ) -> Result<Response, ServiceRefusal> {
        let (info, record) = self.context.check_presented(request)?;
        let headers = self.check_user_headers(request)?;
        let fields = request_fields(
            &request.body,
            "utilisateur",
            "reqUtil",
            &["modif", "nomUtil", "noTax"],
        )
        .map_err(Refused::from)?;
        if let Some((parent, field)) = repeated_field(&request.body) {
            return Err(Refused::from((E::ChildFieldRepeated, vec![parent, field])).into());
        }
        let req =
            UserRequest::read(&fields.into_iter().collect()).map_err(ServiceRefusal::Findings)?;
        let server = headers.initiating == InitiatingDevice::Server;
        let srs_certificate = matches!(info.subject, Some(Subject::Srs(_)));
        // A server validates (VAL); an SRS adds and removes its users (AJO, SUP).
        match req.modification {
            UserModification::Validate if srs_certificate || !server => {
                return Err(ServiceRefusal::Findings(vec![Finding::new(
                    530,
                    "reqUtil/modif",
                    Some("VAL"),
                )]));
            }
            UserModification::Add | UserModification::Delete if server => {
                return Err(ServiceRefusal::Findings(vec![Finding::new(
                    434,
                    "reqUtil/modif",
                    Some(req.modification.code()),
                )]));
            }
            _ => {}
        }
        let validity = self.tax_numbers_validity(&req, &info, &record)?;
        let valid = validity.no_tps == "VAL" && validity.no_tvq == "VAL";
        let device = match headers.device {
            Some(DeviceIdState::Assigned(d)) => Some(d),
            _ => None,
        };
        let what = format!(
            "{} {} ({}/{})",
            req.modification.code(),
            req.name.as_deref().unwrap_or("-"),
            validity.no_tps,
            validity.no_tvq
        );
        let audit = NewAudit::new(
            now,
            "api",
            "user",
            device.map_or_else(|| record.serial.to_string(), |d| d.to_string()),
            what,
        );
        // An account is declared only with the operator's valid numbers; a validation is
        // recorded in the audit log.
        let recorded = match (req.modification, device, &req.name) {
            (UserModification::Add | UserModification::Delete, Some(device), Some(name))
                if valid =>
            {
                let change = UserChange::new(
                    headers.environment,
                    record.operator,
                    device,
                    name.clone(),
                    req.modification == UserModification::Add,
                );
                self.core
                    .registry
                    .record_user_change(change, audit)
                    .map(drop)
            }
            _ => self.core.registry.append_audit(audit).map(drop),
        };
        recorded.map_err(|e| {
            tracing::error!(error = %e, "could not record the user request");
            Refused::from((E::Unexpected, Vec::new()))
        })?;
        let tc = headers.test_case;
        Ok(answer(
            200,
            RetourUtil {
                json_versi: Some(JSON_VERSION.into()),
                cas_essai: crate::service::next_test_case(tc),
                no_tax: Some(validity),
                list_err: None,
            },
        ))
    }

    /// The headers of table 17: the certificate service's, checked the same way, for the user
    /// service's test cases.
    fn check_user_headers(&self, request: &Request) -> Result<CertificateHeaders, Refused> {
        let pairs: Vec<(&str, &str)> = request
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        let h = CertificateHeaders::from_pairs(pairs.iter().copied())
            .map_err(|problems| Refused(self.context.header_faults(&pairs, &problems)))?;
        self.context
            .check_context(h.environment, h.test_case, Service::Users)?;
        self.context.check_device(&h)?;
        self.context.check_product(&h).map_err(|r| Refused(r.0))?;
        Ok(h)
    }

    /// `VAL` or `INV` for each number: for an SRS, whether it is its operator's (the
    /// certificate's); for a server, whether an operator has it. Numbers of two different
    /// operators are refused (043E).
    fn tax_numbers_validity(
        &self,
        req: &UserRequest,
        info: &CertificateInfo,
        record: &CertificateRecord,
    ) -> Result<TaxNumbersValidity, ServiceRefusal> {
        let numbers = &req.tax_numbers;
        let (by_qst, by_gst) = self
            .context
            .tax_operators(&numbers.qst, &numbers.gst)
            .map_err(|e| {
                tracing::error!(error = %e, "unexpected error");
                Refused::from((E::Unexpected, Vec::new()))
            })?;
        if let (Some(q), Some(g)) = (&by_qst, &by_gst)
            && q.id != g.id
        {
            return Err(ServiceRefusal::Findings(vec![Finding::new(
                43,
                "reqUtil/noTax",
                None,
            )]));
        }
        let srs = matches!(info.subject, Some(Subject::Srs(_)));
        let valid = |o: &Option<websrm_registry::Operator>| {
            o.as_ref().is_some_and(|o| !srs || o.id == record.operator)
        };
        Ok(TaxNumbersValidity::new(valid(&by_gst), valid(&by_qst)))
    }
}

fn answer(status: u16, retour: RetourUtil) -> Response {
    let body = serde_json::to_vec(&UserResponseBody {
        retour_util: retour,
    })
    .unwrap_or_default();
    Response::new(status, body)
}
