//! The `/transaction` service, in the protocol's order: the certificate of the handshake
//! (011E); the context, every header of SW-73 table 21 with its id (`context.rs`); the body's
//! structure; each transaction's content read with the checks of websrm-protocol's typed
//! transactions (structure, each value's form, the coherence rules; the sums in ESSAI and in DEV
//! with a test case) and against the registry (the signer's certificate, its operator and file
//! number); `SIGNATRANSM` over the batch oldest first then the current transaction; and the
//! answer in the protocol's shape (`retourTransActu`, `retourTransLot`). See `docs/PROTOCOL.md`.

use std::collections::HashMap;

use time::OffsetDateTime;
use websrm_crypto::{inspect_certificate, signatransm_input};
use websrm_domain::{CertificateState, Environment, QstNumber, Subject, Thumbprint};
use websrm_protocol::catalogue::ErrorCode as E;
use websrm_protocol::transaction::{Checks, Finding, Sale, SoftwareBlock, read_transaction};
use websrm_protocol::wire::{
    JSON_VERSION, ReqTrans, RetourTrans, RetourTransActu, RetourTransLot, Transaction,
    TransactionResponseBody, WireError,
};
use websrm_registry::NewAudit;
use websrm_registry::{CertificateRecord, ReceivedTransaction};

use crate::context::ApiServices;
use crate::context::{self, Refused, finding, revoked, with_companion};
use crate::service::{Request, Response};
use websrm_protocol::request::TransactionParts;

/// The errors of one transaction, each with its `noTrans`.
struct TransactionFault(Vec<WireError>);

/// What the signer's certificate says, read once per request for each thumbprint.
#[derive(Clone)]
struct Signer {
    record: CertificateRecord,
    subject: Option<Subject>,
}

impl ApiServices<'_> {
    /// Answers a `/transaction` request: 200 with the authority's numbers, or 400 with the
    /// errors; every answer is in the audit log first.
    pub(crate) fn handle_transaction(&self, request: &Request) -> Response {
        let now = self.core.now();
        match self.transmission(request, now) {
            Ok(answer) => answer,
            Err(Refused(faults)) => {
                let first = faults.first().map_or(E::Unexpected, |(code, _)| *code);
                let audit = NewAudit::new(
                    now,
                    "api",
                    "refuse-transaction",
                    "-",
                    format!("{:03}", first.number()),
                )
                .with_error(first.id());
                let faults = match self.core.registry.append_audit(audit) {
                    Ok(_) => faults,
                    Err(e) => {
                        tracing::error!(error = %e, "could not write the audit log");
                        vec![(E::Unexpected, Vec::new())]
                    }
                };
                // The current transaction's number, whenever the body can be read that far.
                let no_trans = websrm_protocol::transaction::current_no_trans(&request.body);
                let list = faults
                    .iter()
                    .map(|(code, args)| {
                        let args: Vec<&str> = args.iter().map(String::as_str).collect();
                        WireError {
                            no_trans: no_trans.clone(),
                            ..WireError::from_catalogue(*code, &args)
                        }
                    })
                    .collect();
                let retour = RetourTrans {
                    json_versi: Some(JSON_VERSION.into()),
                    retour_trans_actu: Some(RetourTransActu {
                        no_trans,
                        list_err: Some(with_companion(list)),
                        ..RetourTransActu::default()
                    }),
                    ..RetourTrans::default()
                };
                answer(400, retour)
            }
        }
    }

    fn transmission(&self, request: &Request, now: OffsetDateTime) -> Result<Response, Refused> {
        // The context: the certificate of the handshake, then the headers.
        let (info, record) = self.context.check_presented(request)?;
        let headers = self
            .context
            .check_transmission_headers(request, &info, &record)?;
        let device = context::device_of(&headers)?;
        let subject = info
            .subject
            .clone()
            .ok_or_else(|| Refused::from(revoked(&record)))?;

        // The body's structure: one reqTrans holding transActu and/or transLot.
        let parts = TransactionParts::read(&request.body)?;
        let (current_value, lot_values) = (parts.current, parts.batch);
        let wire = |v: &serde_json::Value| {
            <Transaction as serde::Deserialize>::deserialize(v).unwrap_or_default()
        };
        let req = ReqTrans {
            trans_actu: current_value.as_ref().map(wire),
            trans_lot: Some(lot_values.iter().map(wire).collect()),
        };
        let lot = req.trans_lot.as_deref().unwrap_or_default();
        if req.trans_actu.is_none() && lot.is_empty() {
            return Err(Refused::from((E::TransactionRequestEmpty, Vec::new())));
        }

        // The sums are checked in ESSAI, and in DEV with a test case.
        let test_case = headers.common.test_case;
        let checks = match headers.common.environment {
            Environment::Essai => Checks::default().with_sums(),
            Environment::Dev if !test_case.is_production() => Checks::default().with_sums(),
            _ => Checks::default(),
        };
        let mut examiner = Examiner {
            api: self,
            environment: headers.common.environment,
            now,
            checks,
            signers: HashMap::new(),
            known: HashMap::new(),
        };
        // Each transaction's content, signature and signer. The batch comes newest first.
        let empty = serde_json::Value::Null;
        let current_json = current_value.as_ref().unwrap_or(&empty);
        let current = req.trans_actu.as_ref().map(|t| {
            let (actu, mut checked, date) =
                examiner.transaction(t, current_json, "transActu", None);
            // The header's QST number is the current transaction's (536E), compared as numbers
            // (values are read without regard to case).
            let sent = current_json["noTax"]["noTVQ"]
                .as_str()
                .and_then(|q| q.parse::<QstNumber>().ok());
            if checked.is_ok() && sent.is_some_and(|q| q != headers.qst) {
                checked = Err(TransactionFault(vec![WireError {
                    no_trans: t.no_trans.clone(),
                    ..WireError::from_catalogue(E::QstNotTransactions, &[headers.qst.as_str()])
                }]));
            }
            (actu, checked, date)
        });
        let current_date = current.as_ref().and_then(|(_, _, date)| *date);
        let mut lot_actus = Vec::new();
        let mut lot_errors = Vec::new();
        let mut accepted = Vec::new();
        for (i, (t, value)) in lot.iter().zip(&lot_values).enumerate() {
            let path = format!("transLot[{i}]");
            let (actu, checked, _) = examiner.transaction(t, value, &path, current_date);
            match (checked, &actu) {
                (Err(fault), _) => lot_errors.push(fault),
                (Ok(()), Some(actu)) => accepted.push((t, value, actu.clone(), true)),
                (Ok(()), None) => {}
            }
            lot_actus.extend(actu);
        }
        // SIGNATRANSM: the transmitter's authorization code, the device, the actu values of the
        // batch from the oldest, then of the current transaction (SW-73.B's worked example).
        let mut actus: Vec<String> = lot_actus.into_iter().rev().collect();
        let actu_result = current.map(|(actu, checked, _)| {
            if let (Ok(()), Some(actu), Some(t)) = (&checked, &actu, req.trans_actu.as_ref()) {
                accepted.push((t, current_json, actu.clone(), false));
            }
            actus.extend(actu);
            checked
        });
        let mut text = signatransm_input(subject.authorization_code(), device, &[]);
        for actu in &actus {
            text.push_str(actu);
        }
        let key = info
            .public_key
            .ok_or_else(|| Refused::from((E::TransmissionSignatureInvalid, Vec::new())))?;
        key.verify(text.as_bytes(), &headers.signature)
            .map_err(|_| Refused::from((E::TransmissionSignatureInvalid, Vec::new())))?;

        // Recorded before it is answered, each transaction once: one sent again (its answer
        // lost, then resent in a batch) keeps its first record and numbers.
        let received: Vec<ReceivedTransaction> = accepted
            .iter()
            .map(|(t, value, actu, batched)| {
                ReceivedTransaction::new(
                    headers.common.environment,
                    actu.clone(),
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
            .core
            .registry
            .record_transactions(received, audit)
            .map_err(|e| {
                tracing::error!(error = %e, "could not record the transactions");
                Refused::from((E::Unexpected, Vec::new()))
            })?;
        let current_record = accepted
            .iter()
            .zip(&records)
            .find(|((_, _, _, batched), _)| !batched)
            .map(|(_, r)| r.clone());
        // A batch whose every transaction came before, together, is that batch sent again (its
        // answer lost): it gets its first numbers back.
        let batched: Vec<_> = accepted
            .iter()
            .zip(&records)
            .filter(|((_, _, _, batched), _)| *batched)
            .map(|(_, r)| r)
            .collect();
        let (lot_seq, lot_at) = match batched.as_slice() {
            [first, rest @ ..]
                if !first.new
                    && rest
                        .iter()
                        .all(|r| !r.new && r.audit_seq == first.audit_seq) =>
            {
                (first.audit_seq, first.received_at)
            }
            _ => (entry.seq, now),
        };
        let current_no_trans = current_json["noTrans"].as_str().map(str::to_owned);
        let retour_trans_actu = actu_result.map(|result| match (result, current_record) {
            (Ok(_), Some(first)) => RetourTransActu {
                no_trans: current_no_trans.clone(),
                psi_no_trans: Some(psi_number(first.id)),
                psi_dat_trans: Some(timestamp(first.received_at)),
                list_err: None,
            },
            (Ok(_), None) => RetourTransActu {
                no_trans: current_no_trans.clone(),
                list_err: Some(vec![WireError::from_catalogue(E::Unexpected, &[])]),
                ..RetourTransActu::default()
            },
            (Err(fault), _) => RetourTransActu {
                no_trans: current_no_trans.clone(),
                list_err: Some(with_companion(fault.0)),
                ..RetourTransActu::default()
            },
        });
        // The errors of a batch are returned in the conformity environments only.
        let lot_list = (headers.common.environment.is_conformity() && !lot_errors.is_empty())
            .then(|| with_companion(lot_errors.into_iter().flat_map(|f| f.0).collect()));
        let retour_trans_lot = (!lot.is_empty()).then(|| RetourTransLot {
            no_lot: Some(format!("{:010}", lot_seq % 10_000_000_000)),
            dat_lot: Some(timestamp(lot_at)),
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
            cas_essai: Some(test_case)
                .filter(|_| !failed)
                .and_then(crate::service::next_test_case),
            retour_trans_actu,
            retour_trans_lot,
        };
        Ok(answer(if failed { 400 } else { 200 }, retour))
    }
}

/// Examines the transactions of one request, reading each signer's certificate once.
struct Examiner<'a> {
    api: &'a ApiServices<'a>,
    environment: Environment,
    now: OffsetDateTime,
    checks: Checks,
    signers: HashMap<String, Option<Signer>>,
    /// What the registry answered about tax numbers and software blocks already seen.
    known: HashMap<String, Option<u16>>,
}

impl Examiner<'_> {
    /// The operator's tax numbers in the transaction (`noTax`): each known (070E, 071E), and
    /// both the same operator's (043E). The number of the error, if any.
    fn tax_numbers(&mut self, sale: &Sale) -> Result<Option<u16>, websrm_registry::Error> {
        let numbers = &sale.tax_numbers;
        let key = format!("tax {} {}", numbers.qst, numbers.gst);
        if let Some(known) = self.known.get(&key) {
            return Ok(*known);
        }
        let (by_qst, by_gst) = self.api.context.tax_operators(&numbers.qst, &numbers.gst)?;
        let error = match (by_qst, by_gst) {
            (None, _) => Some(70),
            (_, None) => Some(71),
            (Some(q), Some(g)) if q.id != g.id => Some(43),
            _ => None,
        };
        self.known.insert(key, error);
        Ok(error)
    }

    /// The software that produced the transaction (`SEV`), which may be an earlier version than
    /// the one transmitting: a registered version of a known product (053E/064E, 051E, 052E,
    /// 058E, 038E), an unregistered one only after a certified one and with an uncertified code
    /// (054E in ESSAI, 524E, 040E), a certification code valid in the environment (055E, 056E),
    /// and in production a certified version (062E). The number of the error, if any.
    fn software(&mut self, sev: &SoftwareBlock) -> Result<Option<u16>, websrm_registry::Error> {
        let key = format!(
            "sev {} {} {} {} {} {}",
            sev.partner_id,
            sev.srs_id,
            sev.version_id,
            sev.certification_code,
            sev.version,
            sev.parent_version
        );
        if let Some(known) = self.known.get(&key) {
            return Ok(*known);
        }
        let error = self.software_error(sev)?;
        self.known.insert(key, error);
        Ok(error)
    }

    fn software_error(&self, sev: &SoftwareBlock) -> Result<Option<u16>, websrm_registry::Error> {
        let found =
            crate::product::examine(&self.api.core.registry, self.environment, sev.into(), false)?;
        Ok(found
            .err()
            .map(|fault| fault.software_block_error(self.environment)))
    }

    fn signer(&mut self, thumbprint: &str) -> Result<Option<Signer>, websrm_registry::Error> {
        if let Some(known) = self.signers.get(thumbprint) {
            return Ok(known.clone());
        }
        let found = match thumbprint.parse::<Thumbprint>() {
            Ok(t) => self
                .api
                .core
                .registry
                .certificate_by_thumbprint(t)?
                .map(|record| Signer {
                    subject: inspect_certificate(&record.der)
                        .ok()
                        .and_then(|i| i.subject),
                    record,
                }),
            Err(_) => None,
        };
        self.signers.insert(thumbprint.to_owned(), found.clone());
        Ok(found)
    }

    /// One transaction: its `actu`, if it is a signature (which `SIGNATRANSM` then covers);
    /// its content read as WEB-SRM reads it; its signer's certificate, the operator's and
    /// usable when it signed; and its `datTrans`. A batched transaction must be older than the
    /// current one (`current`, 527E) and not later than its reception (526E).
    fn transaction(
        &mut self,
        t: &Transaction,
        value: &serde_json::Value,
        path: &str,
        current: Option<OffsetDateTime>,
    ) -> (
        Option<String>,
        Result<(), TransactionFault>,
        Option<OffsetDateTime>,
    ) {
        // Read from the JSON itself, so that a defect elsewhere in the transaction (which the
        // wire type would not parse) leaves them known.
        let no_trans = value
            .get("noTrans")
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned)
            .or_else(|| t.no_trans.clone());
        let refuse = |f: Finding| Err(TransactionFault(vec![finding(&f, no_trans.clone())]));
        // `actu` as sent: SIGNATRANSM covers the text, even one that is not a signature (which
        // is this transaction's error, 417E, not the request's).
        let actu = value
            .pointer("/signa/actu")
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned);
        let read = match read_transaction(value, path, self.checks) {
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
        let offset = time::UtcOffset::from_whole_seconds(read.sale.utc.offset_minutes() * 60)
            .unwrap_or(time::UtcOffset::UTC);
        let at = date.date_time().assume_offset(offset);
        // A batched transaction cannot be later than the batch's reception (5 minutes of
        // clocks' difference allowed), its local time read with its `utc`.
        if path.starts_with("transLot") && at > self.now + time::Duration::minutes(5) {
            let shown = format!("{date}{}", read.sale.utc);
            let late = Finding::new(526, format!("{path}/datTrans"), Some(&shown));
            return (actu, refuse(late), Some(at));
        }
        // Older than the current transaction, both read in UTC with their `utc` (a batch may
        // span the change from daylight to standard time).
        if current.is_some_and(|c| at >= c) {
            let late = Finding::new(527, format!("{path}/datTrans"), Some(&date.to_string()));
            return (actu, refuse(late), Some(at));
        }
        // Against the registry: the tax numbers, the software, and the certificate that signed:
        // on record; for an SRS's certificate, the operator's of noTVQ (540E) and of noDossFO's
        // file (556E).
        let known = self.tax_numbers(&read.sale).and_then(|tax| {
            Ok(tax
                .map(|n| (n, "noTax"))
                .or(self.software(&read.software)?.map(|n| (n, "SEV"))))
        });
        let signer = known.and_then(|known| Ok((known, self.signer(&read.thumbprint)?)));
        let signer = match signer {
            Ok((Some((number, field)), _)) => {
                let wrong = Finding::new(number, format!("{path}/{field}"), None);
                return (actu, refuse(wrong), Some(at));
            }
            Ok((None, signer)) => signer,
            Err(e) => {
                tracing::error!(error = %e, "could not read the signer's certificate");
                let unexpected = WireError {
                    no_trans: no_trans.clone(),
                    ..WireError::from_catalogue(E::Unexpected, &[])
                };
                return (actu, Err(TransactionFault(vec![unexpected])), Some(at));
            }
        };
        let path_of = |field: &str| format!("{path}/{field}");
        let Some(signer) = signer else {
            let unknown = Finding::new(540, path_of("emprCertifSEV"), Some(&read.thumbprint));
            return (actu, refuse(unknown), Some(at));
        };
        if let Some(Subject::Srs(srs)) = &signer.subject {
            if srs.qst_number() != &read.sale.tax_numbers.qst {
                let other = Finding::new(
                    540,
                    path_of("noTax/noTVQ"),
                    Some(read.sale.tax_numbers.qst.as_str()),
                );
                return (actu, refuse(other), Some(at));
            }
            if srs.file_number() != &read.sale.file_number {
                let other = Finding::new(
                    556,
                    path_of("noDossFO"),
                    Some(read.sale.file_number.as_str()),
                );
                return (actu, refuse(other), Some(at));
            }
        }
        // Made with a certificate in force when it signed: not revoked, not expired, and, for
        // one replaced or deleted since, before it ended (an offline batch signed just before a
        // replacement is the SRS's own, and accepted). A device's clock behind the
        // certificate's start is not an expired certificate.
        let signed_at = read
            .signatures
            .made_at
            .date_time()
            .assume_offset(offset)
            .to_offset(time::UtcOffset::UTC);
        let record = &signer.record;
        let in_force = match record.state {
            CertificateState::Revoked { .. } => false,
            CertificateState::Active => true,
            _ => record.ended_at.is_none_or(|ended| signed_at <= ended),
        } && signed_at <= record.validity.not_after();
        if !in_force {
            let invalid = WireError {
                no_trans: no_trans.clone(),
                ..WireError::from_catalogue(
                    E::SignedWithInvalidCertificate,
                    &[no_trans.as_deref().unwrap_or_default()],
                )
            };
            return (actu, Err(TransactionFault(vec![invalid])), Some(at));
        }
        (actu, Ok(()), Some(at))
    }
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
