//! The rehearsal of the transaction and document blocks of a run: websrm's own sample
//! bill for each transaction step (the sector's closing receipt with the values the step
//! prescribes, and what they require: an addition paid later, all three instalment amounts, an
//! amount due that adds up, a customer), an offline batch where the step asks for one (kept by
//! the same sender while the authority cannot be reached), and a signed user report or
//! third-party declaration for each document step. In the server mode the device signs and the
//! remote server sends, keeping the offline batch. It shows that the examiner and the facade
//! agree case by case; the real run is made from the product's screens with its own bills.

use serde_json::{Value, json};
use time::macros::format_description;
use websrm_domain::published::{EXPRESS_TAXE, TEST_PRODUCT};
use websrm_domain::{DeviceId, Sector};
use websrm_protocol::document::{DocumentRequest, DocumentType};
use websrm_protocol::essai::Want;
use websrm_protocol::transaction::{Checks, Sale, read_sale};

use super::TestData;
use crate::{Error, Origin, Outcome, Srs, Transmission};

/// What the rehearsal has sent so far: the number of the next transaction and the last one
/// sent, which a step that refers to an earlier transaction refers to.
#[derive(Debug, Default)]
pub(super) struct Rehearsal {
    sent: u32,
    last: Option<(String, String, String)>,
}

const MOMENT: &[time::format_description::FormatItem<'static>] =
    format_description!("[year][month][day][hour][minute][second]");

impl Rehearsal {
    /// The next sample bill for a step prescribing `wants`, dated a second after the last.
    fn sale(&mut self, srs: &Srs, data: &TestData, wants: &[Want]) -> Result<Sale, Error> {
        self.sent += 1;
        // Québec's standard time, a few minutes back, one second apart: never in the future,
        // and each batch older than the transaction that carries it.
        let eastern = time::UtcOffset::from_hms(-5, 0, 0).map_err(bad)?;
        let at = (srs.now() - time::Duration::minutes(4)
            + time::Duration::seconds(self.sent.into()))
        .to_offset(eastern);
        let mut t = sample(data.first.sector);
        let number = format!("{:010}", 9_000_000 + self.sent);
        let date = at.format(MOMENT).map_err(bad)?;
        t["noTrans"] = json!(number);
        t["datTrans"] = json!(date);
        for want in wants {
            apply(&mut t, *want, self.last.as_ref());
        }
        let kind = t["typTrans"].as_str().unwrap_or_default().to_owned();
        let prescribed_payment = wants.iter().any(|w| matches!(w, Want::Field("modPai", _)));
        if matches!(kind.as_str(), "ADDI" | "ESTM" | "SOUM" | "TIER") && !prescribed_payment {
            t["modPai"] = json!("SOB");
        }
        let sale = read_sale(&t, Checks::default()).map_err(|findings| {
            Error::BadAnswer(format!(
                "the sample bill does not read: {}",
                findings
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; ")
            ))
        })?;
        let before_tax = t["mont"]["avantTax"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        self.last = Some((number, date, before_tax));
        Ok(sale)
    }

    /// Sends the step's bill by `route` (its batch first kept offline by the same sender while
    /// the authority cannot be reached).
    pub(super) async fn transmit(
        &mut self,
        route: &Route<'_>,
        data: &TestData,
        wants: &[Want],
    ) -> Result<(), Error> {
        let batch = wants.iter().find_map(|w| match w {
            Want::Batch { current, at_least } => Some((*current, *at_least)),
            _ => None,
        });
        if let Some((_, at_least)) = batch {
            let offline = route.offline.ok_or_else(|| {
                Error::NotFound("the sender's store while the authority cannot be reached".into())
            })?;
            offline.set_test_case(route.sender().test_case());
            for _ in 0..at_least {
                let sale = self.sale(route.device, data, &[])?;
                let kept = route.send(offline, data, sale).await?;
                if !matches!(kept.outcome, Outcome::Offline { .. }) {
                    return Err(Error::BadAnswer(format!(
                        "a bill made offline was not kept for later: {:?}",
                        kept.outcome
                    )));
                }
            }
        }
        if batch.is_some_and(|(current, _)| !current) {
            // The batch alone, sent by hand.
            let delivery = route.sender().flush().await?;
            return match (
                delivery.refused,
                delivery.errors.is_empty(),
                delivery.offline,
            ) {
                (0, true, None) if delivery.sent > 0 => Ok(()),
                _ => Err(Error::Refused {
                    retransmittable: false,
                    errors: delivery.errors,
                }),
            };
        }
        let sale = self.sale(route.device, data, wants)?;
        let sent = route.send(route.sender(), data, sale).await?;
        match sent.outcome {
            Outcome::Transmitted { .. } if sent.batch.refused == 0 => Ok(()),
            Outcome::Refused { errors, .. } => Err(Error::Refused {
                retransmittable: false,
                errors,
            }),
            _ if sent.batch.refused > 0 => Err(Error::Refused {
                retransmittable: false,
                errors: sent.batch.errors,
            }),
            other => Err(Error::BadAnswer(format!(
                "the bill was not received: {other:?}"
            ))),
        }
    }
}

/// How a step's bills and documents reach the authority: from the device itself (the SRS
/// mode), or signed by the device and sent by the remote server (the server mode).
pub(super) struct Route<'a> {
    /// The device that signs.
    pub(super) device: &'a Srs,
    /// The remote server that sends what the device signs, in the server mode.
    pub(super) server: Option<&'a Srs>,
    /// The sender's same store while the authority cannot be reached.
    pub(super) offline: Option<&'a Srs>,
}

impl Route<'_> {
    /// Who talks to the authority.
    pub(super) fn sender(&self) -> &Srs {
        self.server.unwrap_or(self.device)
    }

    /// Signs `sale` on the device and sends it from `via` (the sender, or its offline twin).
    async fn send(&self, via: &Srs, data: &TestData, sale: Sale) -> Result<Transmission, Error> {
        let checks = Checks::default().with_sums();
        match self.server {
            None => {
                via.transmit(
                    &Origin::Host,
                    &data.first.identification_number,
                    sale,
                    checks,
                )
                .await
            }
            Some(_) => {
                // The device's certificates in the server mode are the server administrator's.
                let admin = &data.server_identification_number;
                let signed = self.device.sign_sale(&Origin::Host, admin, sale, checks)?;
                via.relay(admin, self.device_id()?, signed, checks).await
            }
        }
    }

    fn device_id(&self) -> Result<DeviceId, Error> {
        self.device
            .device_id()?
            .ok_or_else(|| Error::NotFound("this device's identifier".into()))
    }
}

/// Sends the step's document by `route`: a user report of the device (`RUT`) or a habitual
/// third party's declaration (`HAB`), signed on the device with its certificate (the first
/// operator's, or in the server mode the server administrator's).
pub(super) async fn document(route: &Route<'_>, data: &TestData, kind: &str) -> Result<(), Error> {
    let (gst, qst) = websrm_protocol::essai::Holder::FirstOperator.tax_numbers();
    let device = route.device_id()?;
    let document = sample_document(kind, device, route.device.now())?;
    match route.server {
        None => route
            .device
            .send_document(
                &data.first.identification_number,
                gst.parse()?,
                qst.parse()?,
                document,
            )
            .await
            .map(drop),
        Some(server) => {
            let admin = &data.server_identification_number;
            let signed = route.device.sign_document(admin, document)?;
            server
                .relay_document(admin, device, gst.parse()?, qst.parse()?, signed)
                .await
                .map(drop)
        }
    }
}

/// websrm's sample document of `kind` for the published test data, produced at `now` on
/// `device`: a user report of Michel Untel (`RUT`) or a habitual third party's declaration
/// (`HAB`), unsigned.
pub fn sample_document(
    kind: &str,
    device: DeviceId,
    now: time::OffsetDateTime,
) -> Result<DocumentRequest, Error> {
    let (gst, qst) = websrm_protocol::essai::Holder::FirstOperator.tax_numbers();
    let device = device.to_string();
    let now = now.to_offset(time::UtcOffset::from_hms(-5, 0, 0).map_err(bad)?);
    let produced = now.format(MOMENT).map_err(bad)?;
    let year = now.year().to_string();
    Ok(if kind == "HAB" {
        DocumentRequest::new(
            DocumentType::ThirdParty,
            [
                ("TQ", EXPRESS_TAXE.qst.unwrap_or_default()),
                ("NM", "Vestiaire Untel"),
                ("AD", "123 rue Principale, Montréal"),
                ("CP", "H2Y1C6"),
                ("TE", "5145551234"),
                ("NE", EXPRESS_TAXE.identification_number),
                ("RA", "1"),
                ("DC", "2026-12-01"),
                ("DV", "2026-12-03"),
                ("BS", "Vestiaire"),
                ("FR", "Chaque soir"),
                ("MO", "2-3"),
            ],
        )
    } else {
        DocumentRequest::new(
            DocumentType::UserReport,
            [
                ("RT", gst),
                ("TQ", qst),
                ("UT", "Michel Untel"),
                ("NO", "9000001"),
                ("MT", "+000000015.00"),
                ("DF", produced.as_str()),
                ("AN", year.as_str()),
                ("SN", "16"),
                ("SV", "3"),
                ("SS", "+000000020.00"),
                ("SF", "+000000001.00"),
                ("SP", "+000000002.00"),
                ("ST", "+000000023.00"),
                ("SA", "-000000004.00"),
                ("SD", "+000000019.00"),
                ("TS", "A"),
                ("SR", device.as_str()),
                ("CM", "Tous"),
                ("IA", device.as_str()),
                ("IS", TEST_PRODUCT[1]),
                ("VR", "1.0.0"),
                ("DC", produced.as_str()),
                ("DR", produced.as_str()),
                ("AD", "123-456, rue Unetelle, Montréal, H2Y1C6"),
            ],
        )
    })
}

fn bad(e: impl std::error::Error + Send + Sync + 'static) -> Error {
    Error::Local {
        what: "the rehearsal's clock",
        cause: websrm_domain::Source::new(e),
    }
}

/// The sector's closing receipt of the published test data (SW-77 §3.4's templates).
fn sample(sector: Sector) -> Value {
    let (gst, qst) = websrm_protocol::essai::Holder::FirstOperator.tax_numbers();
    let mut t = if sector == Sector::Transport {
        json!({
            "sectActi": {"abrvt": "TRP"},
            "nomMandt": "Michel Untel enr.",
            "relaCommer": "B2C",
            "utc": "-05:00N",
            "items": [{
                "qte": "+00001.00", "descr": "Tarif taxi.", "prix": "+000000019.79",
                "tax": "FP", "acti": "TRP",
                "preci": [{"descr": "redevance@0,90 $", "acti": "SOB"}]
            }],
            "mont": {"avantTax": "+000000019.79", "TPS": "+000000000.99",
                "TVQ": "+000000001.97", "apresTax": "+000000022.75"},
            "noDossFO": "TR0001",
            "commerElectr": "N",
        })
    } else {
        json!({
            "sectActi": {"abrvt": "RBC", "typServ": "TBL", "noTabl": "====1", "nbClint": "001"},
            "nomMandt": "Michel Untel enr.",
            "docAdr": {"docNoCiviq": "123-456", "docCp": "H2Y1C6"},
            "relaCommer": "B2C",
            "utc": "-05:00N",
            "items": [
                {"qte": "+00001.00", "descr": "Item 1", "prix": "+000000002.00", "tax": "FP",
                    "acti": "RES"},
                {"qte": "+00001.00", "descr": "Item 2", "prix": "+000000003.00", "tax": "FP",
                    "acti": "RES"}
            ],
            "mont": {"avantTax": "+000000005.00", "TPS": "+000000000.25",
                "TVQ": "+000000000.50", "apresTax": "+000000005.75"},
            "noDossFO": "ER0001",
            "commerElectr": "N",
        })
    };
    t["nomUtil"] = json!("Michel Untel");
    t["noTax"] = json!({"noTPS": gst, "noTVQ": qst});
    t["typTrans"] = json!("RFER");
    t["modPai"] = json!("CRE");
    t["modImpr"] = json!("FAC");
    t["formImpr"] = json!("PAP");
    t["modTrans"] = json!("OPE");
    t
}

/// Puts what `want` prescribes into `t`, with what it requires.
fn apply(t: &mut Value, want: Want, last: Option<&(String, String, String)>) {
    match want {
        Want::Field(path, values) => *at(t, path) = json!(values[0]),
        Want::References => {
            if let Some((number, date, before_tax)) = last {
                t["refs"] = json!([{"noTrans": number, "datTrans": date, "avantTax": before_tax}]);
            }
        }
        Want::Present("clint") => t["clint"] = json!({"nomClint": "Client habituel"}),
        Want::Present("mont.versActu") => {
            // The whole amount in one instalment: nothing before, nothing left.
            let total = t["mont"]["apresTax"].clone();
            t["mont"]["versActu"] = total;
            t["mont"]["versAnt"] = json!("+000000000.00");
            t["mont"]["sold"] = json!("+000000000.00");
        }
        Want::Present("mont.ajus" | "mont.mtdu") => {
            // Cash rounding: five cents off the total.
            let total = t["mont"]["apresTax"]
                .as_str()
                .and_then(|a| {
                    a.parse::<websrm_protocol::transaction::values::Amount>()
                        .ok()
                })
                .map_or(0, |a| a.cents());
            let due = websrm_protocol::transaction::values::Amount::from_cents(total - 5)
                .map(|a| a.to_string())
                .unwrap_or_default();
            t["mont"]["ajus"] = json!("-000000000.05");
            t["mont"]["mtdu"] = json!(due);
        }
        Want::Present(path) => *at(t, path) = json!("+000000001.00"),
        _ => {}
    }
}

fn at<'a>(t: &'a mut Value, path: &str) -> &'a mut Value {
    path.split('.').fold(t, |v, k| &mut v[k])
}
