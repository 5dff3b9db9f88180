//! The context of a request on the API host (`/transaction`, `/utilisateur`, `/document`),
//! checked before its body (SW-73.A's 90xx ids and the headers of SW-73 tables 17, 21 and 26,
//! in the tables' order): the certificate of the handshake, each header's form and repetition,
//! `ENVIRN` against the service, `CASESSAI`, the operator's tax numbers, the device, the product,
//! and the certificate `EMPRCERTIFTRANSM` names; and the refusals of these services as the wire
//! writes them.

use websrm_crypto::{CertificateInfo, inspect_certificate};
use websrm_domain::{
    CertificateState, DeviceId, DeviceIdState, Environment, GstNumber, InitiatingDevice, QstNumber,
    Subject, TestCase,
};
use websrm_protocol::catalogue::ErrorCode as E;
use websrm_protocol::headers::{
    CertificateHeaders, HeaderProblem, HeaderProblemKind, TransmissionHeaders,
};
use websrm_protocol::transaction::Finding;
use websrm_protocol::wire::WireError;
use websrm_registry::{CertificateRecord, Operator};

use crate::core::Core;
use crate::service::{Refusal, Request, Service, header_fault};
use websrm_protocol::request::Fault;

/// The checks every service makes of a request's context: its headers against the environment
/// and the test case, the product, and on the API host the certificate of the handshake, the
/// operator's tax numbers and the device. Over the shared core alone.
#[derive(Clone, Copy)]
pub(crate) struct Context<'a> {
    pub(crate) core: &'a Core,
}

/// The services of the API host (`/transaction`, `/utilisateur`, `/document`): a part of the
/// authority over the shared core and the context checks.
#[derive(Clone, Copy)]
pub(crate) struct ApiServices<'a> {
    pub(crate) core: &'a Core,
    pub(crate) context: Context<'a>,
}

/// A refusal of a whole request, its errors from the catalogue.
pub(crate) struct Refused(pub(crate) Vec<Fault>);

impl From<Fault> for Refused {
    fn from(f: Fault) -> Self {
        Self(vec![f])
    }
}

/// Why a request to `/utilisateur` or `/document` is refused: errors of the catalogue, or
/// findings of the typed reader.
pub(crate) enum ServiceRefusal {
    Faults(Refused),
    Findings(Vec<Finding>),
}

impl From<Refused> for ServiceRefusal {
    fn from(r: Refused) -> Self {
        Self::Faults(r)
    }
}

impl Context<'_> {
    /// The errors of `refusal` as the wire writes them, after its audit entry (`action`) is
    /// written; an unexpected error alone when the audit log cannot be written.
    pub(crate) fn refusal_errors(
        &self,
        refusal: &ServiceRefusal,
        action: &str,
        now: time::OffsetDateTime,
    ) -> Vec<WireError> {
        let list: Vec<WireError> = match refusal {
            ServiceRefusal::Faults(Refused(faults)) => faults
                .iter()
                .map(|(code, args)| {
                    let args: Vec<&str> = args.iter().map(String::as_str).collect();
                    WireError::from_catalogue(*code, &args)
                })
                .collect(),
            ServiceRefusal::Findings(findings) => {
                findings.iter().map(|f| finding(f, None)).collect()
            }
        };
        let first = list.first().map_or("-", |e| e.id.as_str()).to_owned();
        let mut audit = websrm_registry::NewAudit::new(now, "api", action, "-", first.clone());
        if let Ok(id) = first.parse() {
            audit = audit.with_error(id);
        }
        match self.core.registry.append_audit(audit) {
            Ok(_) => with_companion(list),
            Err(e) => {
                tracing::error!(error = %e, "could not write the audit log");
                vec![WireError::from_catalogue(E::Unexpected, &[])]
            }
        }
    }
}

/// The certificate of the handshake no longer authenticates (011E).
pub(crate) fn revoked(record: &CertificateRecord) -> Fault {
    (E::CertificateRevoked, vec![record.serial.to_string()])
}

/// A finding of the typed readers as the wire writes it, with the transaction's `noTrans`.
pub(crate) fn finding(f: &Finding, no_trans: Option<String>) -> WireError {
    WireError {
        no_trans,
        id: f.id.to_string(),
        mess: f.message_fr(),
        cod_retour: Some(format!("{:02}", f.return_code.value())),
    }
}

/// The errors, followed by the companion message when one of them calls for it.
pub(crate) fn with_companion(mut list: Vec<WireError>) -> Vec<WireError> {
    let companion = list.iter().any(|e| {
        e.id.parse().ok().is_some_and(|id: websrm_domain::ErrorId| {
            E::from_id(id).is_some_and(|c| c.entry().has_companion())
                || websrm_protocol::transaction::needs_companion(id)
        })
    });
    if companion {
        list.push(WireError::from_catalogue(E::ContactRetailer, &[]));
    }
    list
}

fn internal(e: websrm_registry::Error) -> Refused {
    tracing::error!(error = %e, "unexpected error");
    Refused::from((E::Unexpected, Vec::new()))
}

/// The device that initiated the transactions (`IDAPPRL`), checked known by
/// [`Authority::check_transmission_headers`].
pub(crate) fn device_of(headers: &TransmissionHeaders) -> Result<DeviceId, Refused> {
    match headers.common.device {
        Some(DeviceIdState::Assigned(id)) => Ok(id),
        _ => Err(Refused::from((
            E::DeviceIdUnknown,
            vec!["0000-0000-0000".to_owned()],
        ))),
    }
}

/// The GST number of an operator not registered for the GST (SW-73 annexe B, "Numéros de
/// taxes").
const NO_GST: &str = "000000000RT0000";

impl Context<'_> {
    /// The operators a pair of tax numbers names: the QST number's, and the GST number's. For
    /// `000000000RT0000`, an operator not registered for the GST, the QST number's operator
    /// when it has no GST number: no operator is on record under that number.
    pub(crate) fn tax_operators(
        &self,
        qst: &QstNumber,
        gst: &GstNumber,
    ) -> Result<(Option<Operator>, Option<Operator>), websrm_registry::Error> {
        let (by_qst, by_gst) = self.core.registry.operators_by_tax_numbers(qst, gst)?;
        if gst.as_str() == NO_GST {
            let unregistered = by_qst
                .clone()
                .filter(|o| o.gst_number.is_none() || o.gst_number.as_ref() == Some(gst));
            return Ok((by_qst, unregistered));
        }
        Ok((by_qst, by_gst))
    }

    /// The operator's tax numbers in the headers: each known (008E, 007E), both the same
    /// operator's (034E), and for an SRS's certificate, the QST number it was issued for (522E).
    pub(crate) fn check_operator(
        &self,
        gst: &GstNumber,
        qst: &QstNumber,
        info: &CertificateInfo,
    ) -> Result<(), Refused> {
        let (by_qst, by_gst) = self.tax_operators(qst, gst).map_err(internal)?;
        let mut faults = Vec::new();
        if by_gst.is_none() {
            faults.push((E::GstHeaderUnknown, vec![gst.to_string()]));
        }
        if by_qst.is_none() {
            faults.push((E::QstHeaderUnknown, vec![qst.to_string()]));
        }
        if let (Some(q), Some(g)) = (&by_qst, &by_gst)
            && q.id != g.id
        {
            faults.push((E::TaxHeadersOfTwoOperators, Vec::new()));
        }
        if !faults.is_empty() {
            return Err(Refused(faults));
        }
        if let Some(Subject::Srs(srs)) = &info.subject
            && srs.qst_number() != qst
        {
            return Err(Refused::from((E::QstNumberMismatch, vec![qst.to_string()])));
        }
        Ok(())
    }

    /// The device of an SRS's request: issued by this authority, never `0000-0000-0000` outside
    /// the enrolment (047E). A server's request has none.
    pub(crate) fn check_device(&self, h: &CertificateHeaders) -> Result<(), Refused> {
        match h.device {
            None => Ok(()),
            Some(DeviceIdState::Unassigned) => Err(Refused::from((
                E::DeviceIdUnknown,
                vec!["0000-0000-0000".to_owned()],
            ))),
            Some(DeviceIdState::Assigned(device)) => {
                if self
                    .core
                    .registry
                    .device(device)
                    .map_err(internal)?
                    .is_none()
                {
                    return Err(Refused::from((
                        E::DeviceIdUnknown,
                        vec![device.to_string()],
                    )));
                }
                Ok(())
            }
        }
    }

    /// The certificate of the mutual-TLS handshake: on record and in force (011E otherwise, as
    /// for any certificate that no longer authenticates).
    pub(crate) fn check_presented(
        &self,
        request: &Request,
    ) -> Result<(CertificateInfo, CertificateRecord), Refused> {
        let unknown = || Refused::from((E::CertificateRevoked, vec!["-".to_owned()]));
        let presented = request.client_certificate.as_deref().ok_or_else(unknown)?;
        let info = inspect_certificate(presented).map_err(|_| unknown())?;
        let record = self
            .core
            .registry
            .certificate_by_thumbprint(info.thumbprint)
            .map_err(internal)?
            .ok_or_else(|| Refused::from((E::CertificateRevoked, vec![info.serial.to_string()])))?;
        if record.state != CertificateState::Active {
            return Err(Refused::from(revoked(&record)));
        }
        Ok((info, record))
    }

    /// The headers, in the order of SW-73 table 21: every defect of form or repetition at once
    /// (313E, 328E, 012E/037E, 425E, 008E, 007E, 460E, 401E/047E, 001E, 329E, 025E/000E, 003E,
    /// 440E, 444E, 508E, 451E, 452E); then `ENVIRN` against the service (012E/037E) and
    /// `CASESSAI` (509E, 510E, 015E); the tax numbers (007E, 008E, 034E, and 522E for an SRS's
    /// certificate); the device (047E); the product (003E, 001E, 002E, 000E/025E, 041E, 042E,
    /// 048E, 060E, 442E, 518E); and `EMPRCERTIFTRANSM`, the handshake's certificate (050E).
    pub(crate) fn check_transmission_headers(
        &self,
        request: &Request,
        info: &CertificateInfo,
        record: &CertificateRecord,
    ) -> Result<TransmissionHeaders, Refused> {
        let pairs: Vec<(&str, &str)> = request
            .headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        let h = TransmissionHeaders::from_pairs(pairs.iter().copied())
            .map_err(|problems| Refused(self.header_faults(&pairs, &problems)))?;
        self.check_context(
            h.common.environment,
            h.common.test_case,
            Service::Transactions,
        )?;

        self.check_operator(&h.gst, &h.qst, info)?;
        self.check_device(&h.common)?;
        self.check_product(&h.common).map_err(|r| Refused(r.0))?;

        if h.thumbprint != info.thumbprint || h.thumbprint != record.thumbprint {
            return Err(Refused::from((
                E::ThumbprintMismatch,
                vec![h.thumbprint.to_string()],
            )));
        }
        Ok(h)
    }
}

impl Context<'_> {
    /// The errors of defective headers, in the table's order, with an `ENVIRN` of the other
    /// service's among them (012E/037E), though it is well formed.
    pub(crate) fn header_faults(
        &self,
        pairs: &[(&str, &str)],
        problems: &[HeaderProblem],
    ) -> Vec<Fault> {
        let mut faults: Vec<Fault> = problems
            .iter()
            .map(|p| header_fault(p, self.core.environment))
            .collect();
        let sent = pairs
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case("ENVIRN"))
            .map(|(_, v)| v.parse::<Environment>());
        if let [Ok(environment)] = sent.collect::<Vec<_>>().as_slice()
            && environment.is_conformity() != self.core.environment.is_conformity()
        {
            let code = if self.core.environment.is_conformity() {
                E::EnvironmentNotConformity
            } else {
                E::EnvironmentNotProduction
            };
            let at = problems
                .iter()
                .take_while(|p| {
                    matches!(
                        p.kind,
                        HeaderProblemKind::Repeated | HeaderProblemKind::NotApplicable
                    )
                })
                .count();
            faults.insert(at, (code, vec![environment.to_string()]));
        }
        faults
    }

    /// `ENVIRN` against this service (DEV or ESSAI on the conformity service, PROD on the
    /// production service), and `CASESSAI` against the environment and the URL's service.
    pub(crate) fn check_context(
        &self,
        environment: Environment,
        tc: TestCase,
        service: Service,
    ) -> Result<(), Fault> {
        let conformity = self.core.environment.is_conformity();
        if environment.is_conformity() != conformity {
            let code = if conformity {
                E::EnvironmentNotConformity
            } else {
                E::EnvironmentNotProduction
            };
            return Err((code, vec![environment.to_string()]));
        }
        match environment {
            Environment::Prod if !tc.is_production() => {
                return Err((E::TestCaseInProduction, Vec::new()));
            }
            Environment::Essai if tc.is_production() => {
                return Err((E::TestCaseProductionInEssai, Vec::new()));
            }
            _ => {}
        }
        if !tc.is_production() && Service::of_test_case(tc) != service {
            return Err((E::TestCaseWrongRequestType, vec![tc.to_string()]));
        }
        Ok(())
    }

    /// The product the headers name (see `product::examine`), then what only headers say: a
    /// remote server names a registered version (520E for zeros), in production a certified
    /// one (520E), and a certified version takes no test case (072E: ESSAI is closed to it,
    /// and DEV wants `000.000`).
    pub(crate) fn check_product(&self, h: &CertificateHeaders) -> Result<(), Refusal> {
        use crate::product::{self, Fault as F, Found};
        let server = h.initiating == InitiatingDevice::Server;
        if server && h.version_id.is_unregistered() {
            return Err(Refusal::one(E::ServerVersionNotCertified, &[]));
        }
        // A remote server names the last certified version of its SRS, and `0` before its
        // first certification (the reference's VERSI and VERSIPARN); in the conformity
        // environments, where that certification happens, `0`/`0` is accepted.
        let first_certification = server
            && h.environment.is_conformity()
            && h.version.as_str() == "0"
            && h.parent_version.as_str() == "0";
        let found = product::examine(
            &self.core.registry,
            h.environment,
            h.into(),
            first_certification,
        )
        .map_err(crate::service::internal)?;
        let (code, args): (E, Vec<String>) = match found {
            Ok(Found::Unregistered) => return Ok(()),
            Ok(Found::Version(p)) => {
                if p.is_certified()
                    && (h.environment == Environment::Essai
                        || (h.environment == Environment::Dev && !h.test_case.is_production()))
                {
                    (
                        E::TestCaseCertifiedVersion,
                        vec![h.test_case.to_string(), h.version_id.to_string()],
                    )
                } else {
                    return Ok(());
                }
            }
            Err(fault) => match fault {
                F::PartnerUnknown => (E::PartnerIdUnknown, vec![h.partner_id.to_string()]),
                F::PartnerNotRegistered => {
                    (E::PartnerNotRegistered, vec![h.partner_id.to_string()])
                }
                F::SrsUnknown => (E::SrsIdUnknown, vec![h.srs_id.to_string()]),
                F::ZeroVersionInEssai => (E::VersionIdZeroInEssai, Vec::new()),
                F::ZeroVersionCode => (E::UnregisteredVersionCode, Vec::new()),
                F::NoCertifiedVersion => (E::VersionNotCertified, vec![h.srs_id.to_string()]),
                F::VersionUnknown => (E::VersionUnknown, Vec::new()),
                // A remote server in production names a certified version of its SRS.
                F::MustBeCertified if server => (E::ServerVersionNotCertified, Vec::new()),
                F::MustBeCertified => (E::VersionMustBeCertified, vec![h.version_id.to_string()]),
                F::CodeInvalid => (
                    if h.environment == Environment::Prod {
                        E::CertificationCodeProd
                    } else {
                        E::CertificationCodeConformity
                    },
                    vec![h.certification_code.to_string(), h.environment.to_string()],
                ),
                F::VersionStringUnknown => (E::VersionHeaderUnknown, vec![h.version.to_string()]),
                F::VersionsMismatch => (
                    E::VersionHeadersMismatch,
                    vec![format!(
                        "VERSI {}, VERSIPARN {}",
                        h.version, h.parent_version
                    )],
                ),
                F::AwaitingCertification => (
                    E::VersionAwaitingCertification,
                    vec![h.version_id.to_string()],
                ),
            },
        };
        Err(Refusal(vec![(code, args)]))
    }
}
