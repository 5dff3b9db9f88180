//! The context of a transmission, checked before its body (SW-73.A's 90xx ids and the headers of
//! SW-73 table 21, in the table's order): the certificate of the handshake, each header's form
//! and repetition, `ENVIRN` against the service, `CASESSAI`, the operator's tax numbers, the
//! device, the product, and the certificate `EMPRCERTIFTRANSM` names.

use websrm_crypto::{CertificateInfo, inspect_certificate};
use websrm_domain::{CertificateState, DeviceId, DeviceIdState, Subject};
use websrm_protocol::catalogue::ErrorCode as E;
use websrm_protocol::headers::TransmissionHeaders;
use websrm_store::registry::CertificateRecord;

use super::{Refused, revoked};
use crate::Authority;
use crate::service::{Request, Service};

fn internal(e: websrm_store::Error) -> Refused {
    tracing::error!(error = %e, "unexpected error");
    Refused::from((E::Unexpected, Vec::new()))
}

/// The device that initiated the transactions (`IDAPPRL`), checked known by
/// [`Authority::check_transmission_headers`].
pub(super) fn device_of(headers: &TransmissionHeaders) -> Result<DeviceId, Refused> {
    match headers.common.device {
        Some(DeviceIdState::Assigned(id)) => Ok(id),
        _ => Err(Refused::from((
            E::DeviceIdUnknown,
            vec!["0000-0000-0000".to_owned()],
        ))),
    }
}

impl Authority {
    /// The certificate of the mutual-TLS handshake: on record and in force (011E otherwise, as
    /// for any certificate that no longer authenticates).
    pub(super) fn check_presented(
        &self,
        request: &Request,
    ) -> Result<(CertificateInfo, CertificateRecord), Refused> {
        let unknown = || Refused::from((E::CertificateRevoked, vec!["-".to_owned()]));
        let presented = request.client_certificate.as_deref().ok_or_else(unknown)?;
        let info = inspect_certificate(presented).map_err(|_| unknown())?;
        let record = self
            .registry()
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
    pub(super) fn check_transmission_headers(
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

        // The operator's tax numbers: each known, both the same operator's, and for an SRS's
        // certificate, the QST number it was issued for.
        let (by_qst, by_gst) = self
            .registry()
            .operators_by_tax_numbers(&h.qst, &h.gst)
            .map_err(internal)?;
        let mut faults = Vec::new();
        if by_gst.is_none() {
            faults.push((E::GstHeaderUnknown, vec![h.gst.to_string()]));
        }
        if by_qst.is_none() {
            faults.push((E::QstHeaderUnknown, vec![h.qst.to_string()]));
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
            && srs.qst_number() != &h.qst
        {
            return Err(Refused::from((
                E::QstNumberMismatch,
                vec![h.qst.to_string()],
            )));
        }

        // The device: issued by this authority (never 0000-0000-0000 here).
        let device = device_of(&h)?;
        if self.registry().device(device).map_err(internal)?.is_none() {
            return Err(Refused::from((
                E::DeviceIdUnknown,
                vec![device.to_string()],
            )));
        }

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
