//! A minimal `/transaction` service: enough to enforce the certificate rules on transmissions
//! (mutual TLS, `SIGNATRANSM` and `EMPRCERTIFTRANSM`, revoked and expired certificates, `NOTVQ`).
//! The content of transactions is not validated; see `docs/PROTOCOL.md`.

use serde_json::{Value, json};
use websrm_crypto::{Signature, inspect_certificate, signatransm_input};
use websrm_domain::{
    CertificateState, DeviceId, Health, QstNumber, Subject, Thumbprint, WarningPolicy,
};
use websrm_protocol::catalogue::ErrorCode as E;
use websrm_protocol::wire::WireError;
use websrm_store::NewAudit;

use crate::Authority;
use crate::service::{Request, Response};

impl Authority {
    /// Answers a `/transaction` request.
    pub fn handle_transaction(&self, request: &Request) -> Response {
        let now = self.now();
        match self.check_transaction(request) {
            Ok(body) => Response::new(201, serde_json::to_vec(&body).unwrap_or_default()),
            Err((code, arg)) => {
                let audit = NewAudit::new(
                    now,
                    "api",
                    "refuse-transaction",
                    "-",
                    format!("{:03}", code.number()),
                )
                .with_error(code.id());
                let _ = self.registry().append_audit(audit);
                let mut list = vec![WireError::from_catalogue(code, &[&arg])];
                if code.entry().has_companion() {
                    list.push(WireError::from_catalogue(E::ContactRetailer, &[]));
                }
                let body = json!({ "retourTrans": { "listErr": list } });
                Response::new(400, serde_json::to_vec(&body).unwrap_or_default())
            }
        }
    }

    fn check_transaction(&self, request: &Request) -> Result<Value, (E, String)> {
        let now = self.now();
        let header = |name: &str| {
            request
                .headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.trim().to_owned())
        };
        let internal = |_| (E::Unexpected, String::new());
        // The certificate of the handshake must be on record and in force.
        let presented = request
            .client_certificate
            .as_deref()
            .ok_or_else(|| (E::CertificateRevoked, "-".to_owned()))?;
        let info =
            inspect_certificate(presented).map_err(|_| (E::CertificateRevoked, "-".to_owned()))?;
        let record = self
            .registry()
            .certificate_by_thumbprint(info.thumbprint)
            .map_err(internal)?;
        let record = record.ok_or_else(|| (E::CertificateRevoked, info.serial.to_string()))?;
        if record.state != CertificateState::Active {
            return Err((E::CertificateRevoked, record.serial.to_string()));
        }
        let (Some(signature), Some(thumbprint)) =
            (header("SIGNATRANSM"), header("EMPRCERTIFTRANSM"))
        else {
            return Err((E::TransmissionSignatureMissing, String::new()));
        };
        if signature.len() != 88 {
            return Err((E::TransmissionSignatureInvalid, String::new()));
        }
        let thumbprint: Thumbprint = thumbprint
            .parse()
            .map_err(|_| (E::TransmissionThumbprintLength, thumbprint.clone()))?;
        if thumbprint != info.thumbprint {
            return Err((E::ThumbprintMismatch, thumbprint.to_string()));
        }
        let subject = info
            .subject
            .clone()
            .ok_or_else(|| (E::CertificateRevoked, record.serial.to_string()))?;
        let qst = header("NOTVQ").unwrap_or_default();
        if let Subject::Srs(srs) = &subject
            && qst.parse::<QstNumber>().ok().as_ref() != Some(srs.qst_number())
        {
            return Err((E::QstNumberMismatch, qst));
        }
        let device: DeviceId = header("IDAPPRL")
            .and_then(|d| d.parse().ok())
            .ok_or_else(|| (E::DeviceIdMissing, String::new()))?;

        let body: Value =
            serde_json::from_slice(&request.body).map_err(|_| (E::NotJson, String::new()))?;
        let transactions: Vec<&Value> = {
            let root = &body["reqTrans"];
            let mut list: Vec<&Value> = root["transLot"]
                .as_array()
                .map(|l| l.iter().collect())
                .unwrap_or_default();
            if !root["transActu"].is_null() {
                list.push(&root["transActu"]);
            }
            list
        };
        if transactions.is_empty() {
            return Err((E::ReqCertifMissing, String::new()));
        }
        let mut actus = Vec::new();
        for t in &transactions {
            let no_trans = t["noTrans"].as_str().unwrap_or_default().to_owned();
            let actu = t["signa"]["actu"].as_str().unwrap_or_default();
            let actu =
                Signature::from_base64(actu).map_err(|_| (E::SignatureLength, actu.to_owned()))?;
            // The certificate that signed the transaction must be in force when it is received.
            let signer: Option<Thumbprint> =
                t["emprCertifSEV"].as_str().and_then(|e| e.parse().ok());
            let signer =
                signer.ok_or_else(|| (E::SignedWithInvalidCertificate, no_trans.clone()))?;
            let signer = self
                .registry()
                .certificate_by_thumbprint(signer)
                .map_err(internal)?
                .ok_or_else(|| (E::SignedWithInvalidCertificate, no_trans.clone()))?;
            let health = Health::classify(
                signer.state,
                &signer.validity,
                now,
                WarningPolicy::default(),
            );
            if !health.is_usable() || matches!(health, Health::NotYetValid) {
                return Err((E::SignedWithInvalidCertificate, no_trans));
            }
            actus.push(actu);
        }
        // SIGNATRANSM: the transmitter's authorization code, the device, the actu values oldest first.
        let signature = Signature::from_base64(&signature)
            .map_err(|_| (E::TransmissionSignatureInvalid, String::new()))?;
        let text = signatransm_input(subject.authorization_code(), device, &actus);
        let key = info
            .public_key
            .ok_or_else(|| (E::TransmissionSignatureInvalid, String::new()))?;
        key.verify(text.as_bytes(), &signature)
            .map_err(|_| (E::TransmissionSignatureInvalid, String::new()))?;

        let stamp = format!(
            "{:04}{:02}{:02}{:02}{:02}{:02}",
            now.year(),
            u8::from(now.month()),
            now.day(),
            now.hour(),
            now.minute(),
            now.second()
        );
        let audit = NewAudit::new(
            now,
            "api",
            "transaction",
            device.to_string(),
            format!(
                "{} transaction(s) from {}",
                transactions.len(),
                record.serial
            ),
        );
        let entry = self.registry().append_audit(audit).map_err(internal)?;
        let last = transactions
            .last()
            .map(|t| t["noTrans"].as_str().unwrap_or_default().to_owned())
            .unwrap_or_default();
        Ok(json!({ "retourTrans": { "retourTransActu": {
            "noTrans": last,
            "psiNoTrans": format!("{:010}", entry.seq),
            "psiDatTrans": stamp,
        }}}))
    }
}
