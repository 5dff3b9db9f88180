//! The `/transaction` service: the certificate rules of transmissions (mutual TLS,
//! `SIGNATRANSM` over the batch oldest first then the current transaction, `EMPRCERTIFTRANSM`,
//! revoked and expired certificates, `NOTVQ`), each transaction's content read with the checks
//! of websrm-protocol's typed transactions (structure, each value's form, the coherence rules;
//! the sums in ESSAI and in DEV with a test case), and the answer in the protocol's shape
//! (`retourTransActu`, `retourTransLot`). See `docs/PROTOCOL.md`.

use time::OffsetDateTime;
use websrm_crypto::{CertificateInfo, Signature, inspect_certificate, signatransm_input};
use websrm_domain::{
    CertificateState, DeviceId, Environment, Health, QstNumber, Subject, TestCase, Thumbprint,
    WarningPolicy,
};
use websrm_protocol::catalogue::ErrorCode as E;
use websrm_protocol::transaction::values::Moment;
use websrm_protocol::transaction::{Checks, Finding, read_transaction};
use websrm_protocol::wire::{
    JSON_VERSION, ReqTrans, RetourTrans, RetourTransActu, RetourTransLot, Transaction,
    TransactionResponseBody, WireError,
};
use websrm_store::NewAudit;
use websrm_store::registry::{CertificateRecord, ReceivedTransaction};

use crate::Authority;
use crate::service::{Request, Response};
use crate::structure::{Fault, request_fields};

/// A refusal of a whole request: its error goes in `retourTransActu.listErr`, where the
/// protocol's own sample client reads a transaction answer's errors.
struct Refused(Fault);

impl From<Fault> for Refused {
    fn from(f: Fault) -> Self {
        Self(f)
    }
}

/// The errors of one transaction, each with its `noTrans`.
struct TransactionFault(Vec<WireError>);

impl Authority {
    /// Answers a `/transaction` request: 200 with the authority's numbers, or 400 with the
    /// errors; every answer is in the audit log first.
    pub fn handle_transaction(&self, request: &Request) -> Response {
        let now = self.now();
        match self.transmission(request, now) {
            Ok(answer) => answer,
            Err(Refused((code, args))) => {
                let audit = NewAudit::new(
                    now,
                    "api",
                    "refuse-transaction",
                    "-",
                    format!("{:03}", code.number()),
                )
                .with_error(code.id());
                let code = match self.registry().append_audit(audit) {
                    Ok(_) => code,
                    Err(e) => {
                        tracing::error!(error = %e, "could not write the audit log");
                        E::Unexpected
                    }
                };
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                let retour = RetourTrans {
                    json_versi: Some(JSON_VERSION.into()),
                    retour_trans_actu: Some(RetourTransActu {
                        list_err: Some(with_companion(vec![WireError::from_catalogue(
                            code, &args,
                        )])),
                        ..RetourTransActu::default()
                    }),
                    ..RetourTrans::default()
                };
                answer(400, retour)
            }
        }
    }

    fn transmission(&self, request: &Request, now: OffsetDateTime) -> Result<Response, Refused> {
        let (info, record, subject, device) = self.check_transmitter(request)?;
        // The body's structure: one reqTrans holding transActu and/or transLot.
        let fields = request_fields(
            &request.body,
            "transaction",
            "reqTrans",
            &["transActu", "transLot"],
        )?;
        if fields.is_empty() {
            return Err(Refused((E::TransactionRequestEmpty, Vec::new())));
        }
        let object = serde_json::Value::Object(fields.into_iter().collect());
        let req: ReqTrans = serde_json::from_value(object.clone())
            .map_err(|_| Refused((E::NotJson, Vec::new())))?;
        let lot = req.trans_lot.clone().unwrap_or_default();
        if req.trans_actu.is_none() && lot.is_empty() {
            return Err(Refused((E::TransactionRequestEmpty, Vec::new())));
        }
        let lot_values = object["transLot"].as_array().cloned().unwrap_or_default();

        // The sums are checked in ESSAI, and in DEV with a test case.
        let test_case = header(request, "CASESSAI").and_then(|t| t.parse::<TestCase>().ok());
        let checks = match self.environment() {
            Environment::Essai => Checks::default().with_sums(),
            Environment::Dev if test_case.is_some_and(|t| !t.is_production()) => {
                Checks::default().with_sums()
            }
            _ => Checks::default(),
        };
        // Each transaction's content, signature and signer. The batch comes newest first.
        let current = req.trans_actu.as_ref().map(|t| {
            self.check_transaction(t, &object["transActu"], "transActu", now, checks, None)
        });
        let current_date = current.as_ref().and_then(|(_, _, date)| *date);
        let mut lot_actus = Vec::new();
        let mut lot_errors = Vec::new();
        let mut accepted = Vec::new();
        for (i, t) in lot.iter().enumerate() {
            let value = lot_values.get(i).cloned().unwrap_or_default();
            let path = format!("transLot[{i}]");
            let (actu, checked, _) =
                self.check_transaction(t, &value, &path, now, checks, current_date);
            lot_actus.extend(actu);
            match (checked, actu) {
                (Err(fault), _) => lot_errors.push(fault),
                (Ok(()), Some(actu)) => accepted.push((t, value, actu, true)),
                (Ok(()), None) => {}
            }
        }
        // SIGNATRANSM: the transmitter's authorization code, the device, the actu values of the
        // batch from the oldest, then of the current transaction (SW-73.B's worked example).
        let mut actus: Vec<Signature> = lot_actus.into_iter().rev().collect();
        let actu_result = current.map(|(actu, checked, _)| {
            actus.extend(actu);
            if let (Ok(()), Some(actu), Some(t)) = (&checked, actu, req.trans_actu.as_ref()) {
                accepted.push((t, object["transActu"].clone(), actu, false));
            }
            checked
        });
        let header = |name: &str| header(request, name);
        let signature = header("SIGNATRANSM").unwrap_or_default();
        let signature = Signature::from_base64(&signature)
            .map_err(|_| Refused((E::TransmissionSignatureInvalid, Vec::new())))?;
        let text = signatransm_input(subject.authorization_code(), device, &actus);
        let key = info
            .public_key
            .ok_or(Refused((E::TransmissionSignatureInvalid, Vec::new())))?;
        key.verify(text.as_bytes(), &signature)
            .map_err(|_| Refused((E::TransmissionSignatureInvalid, Vec::new())))?;

        // Recorded before it is answered, each transaction once: one sent again (its answer
        // lost, then resent in a batch) keeps its first record and numbers.
        let received: Vec<ReceivedTransaction> = accepted
            .iter()
            .map(|(t, value, actu, batched)| {
                ReceivedTransaction::new(
                    self.environment(),
                    actu.to_base64(),
                    t.no_trans.clone().unwrap_or_default(),
                    value["datTrans"].as_str().unwrap_or_default(),
                    device,
                    t.empr_certif_sev
                        .as_deref()
                        .and_then(|e| e.parse().ok())
                        .unwrap_or(record.thumbprint),
                    *batched,
                    value.to_string(),
                )
            })
            .collect();
        let audit = NewAudit::new(
            now,
            "api",
            "transaction",
            device.to_string(),
            format!("{} transaction(s) from {}", received.len(), record.serial),
        );
        let (entry, records) = self
            .registry()
            .record_transactions(received, audit)
            .map_err(|e| {
                tracing::error!(error = %e, "could not record the transactions");
                Refused((E::Unexpected, Vec::new()))
            })?;
        let current_record = accepted
            .iter()
            .zip(&records)
            .find(|((_, _, _, batched), _)| !batched)
            .map(|(_, r)| r.clone());
        let stamp = timestamp(now);
        let retour_trans_actu = actu_result.map(|result| match (result, current_record) {
            (Ok(_), Some(first)) => RetourTransActu {
                no_trans: req.trans_actu.as_ref().and_then(|t| t.no_trans.clone()),
                psi_no_trans: Some(psi_number(first.id)),
                psi_dat_trans: Some(timestamp(first.received_at)),
                list_err: None,
            },
            (Ok(_), None) => RetourTransActu {
                no_trans: req.trans_actu.as_ref().and_then(|t| t.no_trans.clone()),
                list_err: Some(vec![WireError::from_catalogue(E::Unexpected, &[])]),
                ..RetourTransActu::default()
            },
            (Err(fault), _) => RetourTransActu {
                no_trans: req.trans_actu.as_ref().and_then(|t| t.no_trans.clone()),
                list_err: Some(with_companion(fault.0)),
                ..RetourTransActu::default()
            },
        });
        // The errors of a batch are returned in the conformity environments only.
        let lot_list = (self.environment().is_conformity() && !lot_errors.is_empty())
            .then(|| with_companion(lot_errors.into_iter().flat_map(|f| f.0).collect()));
        let retour_trans_lot = (!lot.is_empty()).then(|| RetourTransLot {
            no_lot: Some(format!("{:010}", entry.seq % 10_000_000_000)),
            dat_lot: Some(stamp.clone()),
            list_err: lot_list,
        });
        let failed = retour_trans_actu
            .as_ref()
            .is_some_and(|r| r.list_err.is_some())
            || retour_trans_lot
                .as_ref()
                .is_some_and(|r| r.list_err.is_some());
        // The next step is named only when this one succeeded: a failed step is run again.
        let retour = RetourTrans {
            json_versi: Some(JSON_VERSION.into()),
            cas_essai: test_case
                .filter(|_| !failed)
                .and_then(crate::service::next_test_case),
            retour_trans_actu,
            retour_trans_lot,
        };
        Ok(answer(if failed { 400 } else { 200 }, retour))
    }

    /// The certificate of the handshake, on record and in force, and the headers that bind
    /// the request to it.
    fn check_transmitter(
        &self,
        request: &Request,
    ) -> Result<(CertificateInfo, CertificateRecord, Subject, DeviceId), Refused> {
        let header = |name: &str| header(request, name);
        let internal = |e: websrm_store::Error| {
            tracing::error!(error = %e, "unexpected error");
            Refused((E::Unexpected, Vec::new()))
        };
        let revoked = |serial: String| Refused((E::CertificateRevoked, vec![serial]));
        let presented = request
            .client_certificate
            .as_deref()
            .ok_or_else(|| revoked("-".to_owned()))?;
        let info = inspect_certificate(presented).map_err(|_| revoked("-".to_owned()))?;
        let record = self
            .registry()
            .certificate_by_thumbprint(info.thumbprint)
            .map_err(internal)?
            .ok_or_else(|| revoked(info.serial.to_string()))?;
        if record.state != CertificateState::Active {
            return Err(revoked(record.serial.to_string()));
        }
        let (Some(signature), Some(thumbprint)) =
            (header("SIGNATRANSM"), header("EMPRCERTIFTRANSM"))
        else {
            return Err(Refused((E::TransmissionSignatureMissing, Vec::new())));
        };
        if signature.len() != 88 {
            return Err(Refused((E::TransmissionSignatureInvalid, Vec::new())));
        }
        let thumbprint: Thumbprint = thumbprint
            .parse()
            .map_err(|_| Refused((E::TransmissionThumbprintLength, vec![thumbprint.clone()])))?;
        if thumbprint != info.thumbprint {
            return Err(Refused((
                E::ThumbprintMismatch,
                vec![thumbprint.to_string()],
            )));
        }
        let subject = info
            .subject
            .clone()
            .ok_or_else(|| revoked(record.serial.to_string()))?;
        let qst = header("NOTVQ").unwrap_or_default();
        if let Subject::Srs(srs) = &subject
            && qst.parse::<QstNumber>().ok().as_ref() != Some(srs.qst_number())
        {
            return Err(Refused((E::QstNumberMismatch, vec![qst])));
        }
        let device: DeviceId = header("IDAPPRL")
            .and_then(|d| d.parse().ok())
            .ok_or(Refused((E::DeviceIdMissing, Vec::new())))?;
        Ok((info, record, subject, device))
    }

    /// One transaction: its `actu`, if it is a signature (which `SIGNATRANSM` then covers);
    /// its content read as WEB-SRM reads it, and made with a certificate in force (or replaced
    /// since, within its validity); and its `datTrans`. A batched transaction must be older
    /// than the current one (`current`, 527E).
    fn check_transaction(
        &self,
        t: &Transaction,
        value: &serde_json::Value,
        path: &str,
        now: OffsetDateTime,
        checks: Checks,
        current: Option<Moment>,
    ) -> (
        Option<Signature>,
        Result<(), TransactionFault>,
        Option<Moment>,
    ) {
        let no_trans = t.no_trans.clone();
        let from_catalogue = |code: E, arg: &str| WireError {
            no_trans: no_trans.clone(),
            ..WireError::from_catalogue(code, &[arg])
        };
        let actu = t
            .signa
            .as_ref()
            .and_then(|s| s.actu.as_deref())
            .and_then(|a| Signature::from_base64(a).ok());
        let read = match read_transaction(value, path, checks) {
            Ok(read) => read,
            Err(findings) => {
                let errors = findings
                    .iter()
                    .map(|f| finding(f, no_trans.clone()))
                    .collect();
                return (actu, Err(TransactionFault(errors)), None);
            }
        };
        let date = read.sale.date;
        // A batched transaction cannot be later than the batch's reception (5 minutes of
        // clocks' difference allowed), its local time read with its `utc`.
        if path.starts_with("transLot") {
            let offset = time::UtcOffset::from_whole_seconds(read.sale.utc.offset_minutes() * 60)
                .unwrap_or(time::UtcOffset::UTC);
            if date.date_time().assume_offset(offset) > now + time::Duration::minutes(5) {
                let at = format!("{date}{}", read.sale.utc);
                let late = Finding::new(526, format!("{path}/datTrans"), Some(&at));
                return (
                    actu,
                    Err(TransactionFault(vec![finding(&late, no_trans.clone())])),
                    Some(date),
                );
            }
        }
        if current.is_some_and(|c| date >= c) {
            let late = Finding::new(527, format!("{path}/datTrans"), Some(&date.to_string()));
            return (
                actu,
                Err(TransactionFault(vec![finding(&late, no_trans.clone())])),
                Some(date),
            );
        }
        // The certificate that signed must be in force when the transaction is received, or
        // have been replaced since (an offline batch signed before a replacement).
        let signer: Option<Thumbprint> = read.thumbprint.parse().ok();
        let in_force = signer
            .and_then(|s| self.registry().certificate_by_thumbprint(s).ok().flatten())
            .is_some_and(|signer| {
                let usable = Health::classify(
                    signer.state,
                    &signer.validity,
                    now,
                    WarningPolicy::default(),
                )
                .is_usable();
                usable
                    || (signer.state == CertificateState::Replaced && signer.validity.contains(now))
            });
        let checked = if in_force {
            Ok(())
        } else {
            Err(TransactionFault(vec![from_catalogue(
                E::SignedWithInvalidCertificate,
                no_trans.as_deref().unwrap_or_default(),
            )]))
        };
        (actu, checked, Some(date))
    }
}

/// A finding of the typed reader as the wire writes it, with the transaction's `noTrans`.
fn finding(f: &Finding, no_trans: Option<String>) -> WireError {
    WireError {
        no_trans,
        id: f.id.to_string(),
        mess: f.message_fr(),
        cod_retour: Some(format!("{:02}", f.return_code.value())),
    }
}

fn header(request: &Request, name: &str) -> Option<String> {
    request
        .headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.trim().to_owned())
}

/// The errors, followed by the companion message when one of them calls for it.
fn with_companion(mut list: Vec<WireError>) -> Vec<WireError> {
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

/// The authority's number of a transaction, `XXXX-XXXX-XXXX-XXXX` (hexadecimal).
fn psi_number(seq: i64) -> String {
    let hex = format!("{:016X}", seq.unsigned_abs());
    format!(
        "{}-{}-{}-{}",
        &hex[..4],
        &hex[4..8],
        &hex[8..12],
        &hex[12..]
    )
}

/// `AAAAMMJJhhmmss`, in Québec's time (SW-73 §4.2: `psiDatTrans` and `datLot` are the
/// moment WEB-SRM processed the request, Québec time).
fn timestamp(now: OffsetDateTime) -> String {
    let now = quebec_time(now);
    format!(
        "{:04}{:02}{:02}{:02}{:02}{:02}",
        now.year(),
        u8::from(now.month()),
        now.day(),
        now.hour(),
        now.minute(),
        now.second()
    )
}

/// `at` in Eastern time as Québec observes it: UTC−5, and UTC−4 from the second Sunday of March
/// at 2:00 to the first Sunday of November at 2:00.
fn quebec_time(at: OffsetDateTime) -> OffsetDateTime {
    use time::{Month, PrimitiveDateTime, Time, UtcOffset};
    let sunday = |month: Month, nth: i64| {
        time::Date::from_calendar_date(at.year(), month, 1).map(|first| {
            let to_sunday = (7 - i64::from(first.weekday().number_days_from_sunday())) % 7;
            first + time::Duration::days(to_sunday + 7 * (nth - 1))
        })
    };
    let standard = UtcOffset::from_hms(-5, 0, 0).unwrap_or(UtcOffset::UTC);
    let daylight = UtcOffset::from_hms(-4, 0, 0).unwrap_or(UtcOffset::UTC);
    let (Ok(start), Ok(end)) = (sunday(Month::March, 2), sunday(Month::November, 1)) else {
        return at.to_offset(standard);
    };
    let start = PrimitiveDateTime::new(start, Time::from_hms(2, 0, 0).unwrap_or(Time::MIDNIGHT))
        .assume_offset(standard);
    let end = PrimitiveDateTime::new(end, Time::from_hms(2, 0, 0).unwrap_or(Time::MIDNIGHT))
        .assume_offset(daylight);
    if at >= start && at < end {
        at.to_offset(daylight)
    } else {
        at.to_offset(standard)
    }
}

fn answer(status: u16, retour: RetourTrans) -> Response {
    let body = serde_json::to_vec(&TransactionResponseBody {
        retour_trans: retour,
    })
    .unwrap_or_default();
    Response::new(status, body)
}

#[cfg(test)]
mod tests {
    use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time};

    use super::timestamp;

    fn utc(y: i32, m: Month, d: u8, h: u8, mi: u8, s: u8) -> OffsetDateTime {
        PrimitiveDateTime::new(
            Date::from_calendar_date(y, m, d).unwrap(),
            Time::from_hms(h, mi, s).unwrap(),
        )
        .assume_utc()
    }

    #[test]
    fn the_authority_stamps_in_quebec_time() {
        use Month::*;
        // Standard time in winter, daylight time in summer, and the changes at 2:00 local.
        assert_eq!(
            timestamp(utc(2026, December, 3, 17, 42, 27)),
            "20261203124227"
        );
        assert_eq!(timestamp(utc(2026, July, 1, 12, 0, 0)), "20260701080000");
        assert_eq!(timestamp(utc(2026, March, 8, 6, 59, 59)), "20260308015959");
        assert_eq!(timestamp(utc(2026, March, 8, 7, 0, 0)), "20260308030000");
        assert_eq!(
            timestamp(utc(2026, November, 1, 5, 59, 59)),
            "20261101015959"
        );
        assert_eq!(timestamp(utc(2026, November, 1, 6, 0, 0)), "20261101010000");
    }
}
