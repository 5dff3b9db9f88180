//! Request bodies as WEB-SRM reads them, the authority's side of the wire.
//!
//! First their structure, checked before their content: JSON (200E), one top-level field and
//! only the service's (314E another field, 315E none, 316E repeated), and inside it only the
//! fields it may hold (300E), each once (306E), and no field repeated at any depth (306E).
//! Duplicated keys are seen, which a map-based parser would silently merge.
//!
//! Then, for the certificate services, the request itself ([`CertificateRequest::read`]): the
//! routing rules of the URL it came to and `noSerie`'s form, checked in the protocol's order, into
//! the [`Modification`] the client sent. The transaction, user and document requests are read
//! from the fields found here by their own modules (`transaction`, `user`, `document`).

use std::cell::RefCell;
use std::collections::HashSet;

use serde::Deserialize;
use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use serde_json::value::RawValue;
use websrm_domain::SerialNumber;

use crate::catalogue::ErrorCode as E;
use crate::wire::Modification;

/// A refusal of a request's body: its error and the values of its message.
pub type Fault = (E, Vec<String>);

/// The fields of the one top-level field `parent` of `bytes`, sent to `service` (`enrolement`,
/// `certificats`, `transaction`), in order; each must be one of `allowed`, once. A `parent`
/// that is not an object has no fields.
pub fn request_fields(
    bytes: &[u8],
    service: &str,
    parent: &str,
    allowed: &[&str],
) -> Result<Vec<(String, Value)>, Fault> {
    let top: Entries<Box<RawValue>> =
        serde_json::from_slice(bytes).map_err(|_| (E::NotJson, Vec::new()))?;
    let fault = |code: E, field: &str| (code, vec![service.to_owned(), field.to_owned()]);
    if let Some((other, _)) = top.0.iter().find(|(k, _)| k != parent) {
        return Err(fault(E::TopLevelFieldNotAllowed, other));
    }
    let raw = match top.0.as_slice() {
        [] => return Err(fault(E::RequestMissing, parent)),
        [(_, raw)] => raw,
        _ => return Err(fault(E::RequestRepeated, parent)),
    };
    let Ok(fields) = serde_json::from_str::<Entries<Value>>(raw.get()) else {
        return Ok(Vec::new());
    };
    for (i, (name, _)) in fields.0.iter().enumerate() {
        let fault = |code: E| (code, vec![parent.to_owned(), name.clone()]);
        if !allowed.contains(&name.as_str()) {
            return Err(fault(E::ChildFieldNotAllowed));
        }
        if fields.0[..i].iter().any(|(n, _)| n == name) {
            return Err(fault(E::ChildFieldRepeated));
        }
    }
    Ok(fields.0)
}

/// The certificate service a request came to: the URL decides which modifications it takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CertificateService {
    /// `/enrolement`: `AJO` only, with a CSR and no `noSerie`.
    Enrolment,
    /// `/certificats`: `REM` with a CSR or `SUP` without one, each with `noSerie`.
    Certificates,
}

impl CertificateService {
    /// The service's name in messages: `enrolement`, `certificats`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Enrolment => "enrolement",
            Self::Certificates => "certificats",
        }
    }
}

/// A `reqCertif` as the authority reads it: what the client asks, typed, and `modif` as it was
/// written for the messages that quote it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CertificateRequest {
    /// `AJO` with its CSR, `REM` with its CSR and `noSerie`, or `SUP` with `noSerie`.
    pub modification: Modification,
    /// `modif` as the request wrote it (values are compared without regard to case).
    pub modif_as_sent: String,
}

impl CertificateRequest {
    /// Reads the body of a request to `service`, refusing it with the error WEB-SRM gives first:
    /// the structure, a field that is not a string (200E), `modif` missing (304E) or not the
    /// URL's (321E, 323E), `noSerie` where it may not be (309E) or missing where it must be
    /// (322E), the CSR missing (320E, 310E) or present against `modif` (311E), and `noSerie`'s
    /// form (436E). The CSR itself is validated later, after the headers, as the protocol
    /// orders it.
    pub fn read(bytes: &[u8], service: CertificateService) -> Result<Self, Fault> {
        let one = |code: E, args: &[&str]| (code, args.iter().map(|a| (*a).to_owned()).collect());
        let fields = request_fields(
            bytes,
            service.name(),
            "reqCertif",
            &["modif", "csr", "noSerie"],
        )?;
        let text = |name: &str| -> Result<Option<String>, Fault> {
            match fields.iter().find(|(k, _)| k == name).map(|(_, v)| v) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(_) => Err(one(E::NotJson, &[])),
            }
        };
        // Values are compared without regard to case (the reference: unless stated); field
        // names are exact.
        let modif_as_sent =
            text("modif")?.ok_or_else(|| one(E::ModifMissing, &["reqCertif", "modif"]))?;
        let (csr, serial) = (text("csr")?, text("noSerie")?);
        let modif = modif_as_sent.to_ascii_uppercase();
        match service {
            CertificateService::Enrolment => {
                if modif != "AJO" {
                    return Err(one(E::ModifNotAdd, &[&modif_as_sent]));
                }
                if serial.is_some() {
                    return Err(one(E::SerialForbiddenOnEnrolment, &[]));
                }
            }
            CertificateService::Certificates => {
                if modif != "REM" && modif != "SUP" {
                    return Err(one(E::ModifNotReplaceOrDelete, &[&modif_as_sent]));
                }
                if serial.is_none() {
                    return Err(one(E::SerialMissing, &[]));
                }
                if modif == "REM" && csr.is_none() {
                    return Err(one(E::ReplaceWithoutCsr, &[]));
                }
                if modif == "SUP" && csr.is_some() {
                    return Err(one(E::DeleteWithCsr, &[]));
                }
            }
        }
        let serial = match serial {
            Some(text) => Some(
                text.parse::<SerialNumber>()
                    .map_err(|_| one(E::SerialInvalid, &[&text]))?,
            ),
            None => None,
        };
        let modification = match (modif.as_str(), csr, serial) {
            ("AJO", Some(csr), _) => Modification::Add { csr },
            ("AJO", None, _) => return Err(one(E::CsrMissingOnEnrolment, &[])),
            ("REM", Some(csr), Some(serial)) => Modification::Replace { csr, serial },
            (_, _, Some(serial)) => Modification::Delete { serial },
            (_, _, None) => return Err(one(E::SerialMissing, &[])),
        };
        Ok(Self {
            modification,
            modif_as_sent,
        })
    }
}

/// A `reqTrans` as the authority reads it before its transactions: `transActu` an object,
/// `transLot` an array of objects, taken out of the body once (a batch of a few hundred
/// kilobytes is not copied). Each transaction is then read by the `transaction` module's
/// typed reader, which reports every defect of its content with its own id.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct TransactionParts {
    /// `transActu`.
    pub current: Option<Value>,
    /// `transLot`, newest first as sent.
    pub batch: Vec<Value>,
}

impl TransactionParts {
    /// Reads a request to `transaction`: its structure, then neither part (317E),
    /// a field repeated at any depth (306E), or a part of another JSON type (200E).
    pub fn read(bytes: &[u8]) -> Result<Self, Fault> {
        let fields = request_fields(bytes, "transaction", "reqTrans", &["transActu", "transLot"])?;
        if fields.is_empty() {
            return Err((E::TransactionRequestEmpty, Vec::new()));
        }
        if let Some((parent, field)) = repeated_field(bytes) {
            return Err((E::ChildFieldRepeated, vec![parent, field]));
        }
        let mut fields: serde_json::Map<String, Value> = fields.into_iter().collect();
        let not_json = || (E::NotJson, Vec::new());
        let current = match fields.remove("transActu") {
            None => None,
            Some(v @ Value::Object(_)) => Some(v),
            Some(_) => return Err(not_json()),
        };
        let batch = match fields.remove("transLot") {
            None => Vec::new(),
            Some(Value::Array(list)) if list.iter().all(Value::is_object) => list,
            Some(_) => return Err(not_json()),
        };
        Ok(Self { current, batch })
    }
}

/// A request's body as it is kept in evidence: its JSON, or its text when it is not JSON.
pub fn evidence(bytes: &[u8]) -> Value {
    serde_json::from_slice::<Value>(bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(bytes).into_owned()))
}

/// The first field repeated inside any object of `bytes`, at any depth, as its parent's path
/// and its name (`reqTrans/transActu/mont`, `TPS`): a map-based parser would keep one of the
/// two silently, and WEB-SRM refuses it (306E). `None` when there is none, or when `bytes` is
/// not JSON (which the structure check reports).
pub fn repeated_field(bytes: &[u8]) -> Option<(String, String)> {
    let found = RefCell::new(None);
    let mut de = serde_json::Deserializer::from_slice(bytes);
    Seek {
        path: String::new(),
        found: &found,
    }
    .deserialize(&mut de)
    .ok()?;
    found.into_inner()
}

/// Walks a JSON value, noting the first repeated field.
struct Seek<'f> {
    path: String,
    found: &'f RefCell<Option<(String, String)>>,
}

impl<'de> DeserializeSeed<'de> for Seek<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Seek<'_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut keys: HashSet<String> = HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            if keys.contains(&key) && self.found.borrow().is_none() {
                *self.found.borrow_mut() = Some((self.path.clone(), key.clone()));
            }
            let path = if self.path.is_empty() {
                key.clone()
            } else {
                format!("{}/{key}", self.path)
            };
            map.next_value_seed(Seek {
                path,
                found: self.found,
            })?;
            keys.insert(key);
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq
            .next_element_seed(Seek {
                path: self.path.clone(),
                found: self.found,
            })?
            .is_some()
        {}
        Ok(())
    }

    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }

    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }

    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }

    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
}

/// A JSON object read as its entries in order, keeping duplicates.
struct Entries<T>(Vec<(String, T)>);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Entries<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct EntriesVisitor<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for EntriesVisitor<T> {
            type Value = Entries<T>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Entries<T>, A::Error> {
                let mut out = Vec::new();
                while let Some(entry) = map.next_entry::<String, T>()? {
                    out.push(entry);
                }
                Ok(Entries(out))
            }
        }
        d.deserialize_map(EntriesVisitor(std::marker::PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SERIAL: &str = "0a1b2c3d4e5f60718293a4b5c6d7e8f901234567";

    /// Each body and the first error WEB-SRM gives for it, in the protocol's order: a table, so
    /// that a rule moved in the order fails the row that shows it.
    #[test]
    fn certificate_requests_are_refused_with_the_first_error_in_the_protocols_order() {
        use CertificateService::{Certificates, Enrolment};
        let rows: &[(CertificateService, &str, E, &[&str])] = &[
            (Enrolment, "not json", E::NotJson, &[]),
            (
                Enrolment,
                r#"{}"#,
                E::RequestMissing,
                &["enrolement", "reqCertif"],
            ),
            (
                Enrolment,
                r#"{"reqCertif":{},"x":1}"#,
                E::TopLevelFieldNotAllowed,
                &["enrolement", "x"],
            ),
            (
                Enrolment,
                r#"{"reqCertif":{},"reqCertif":{}}"#,
                E::RequestRepeated,
                &["enrolement", "reqCertif"],
            ),
            (
                Enrolment,
                r#"{"reqCertif":{"modif":"AJO","x":"1"}}"#,
                E::ChildFieldNotAllowed,
                &["reqCertif", "x"],
            ),
            (
                Enrolment,
                r#"{"reqCertif":{"modif":"AJO","modif":"AJO"}}"#,
                E::ChildFieldRepeated,
                &["reqCertif", "modif"],
            ),
            (Enrolment, r#"{"reqCertif":{"modif":1}}"#, E::NotJson, &[]),
            (
                Enrolment,
                r#"{"reqCertif":{"csr":"c"}}"#,
                E::ModifMissing,
                &["reqCertif", "modif"],
            ),
            (
                Enrolment,
                r#"{"reqCertif":{"modif":"rem","csr":"c"}}"#,
                E::ModifNotAdd,
                &["rem"],
            ),
            (
                Enrolment,
                r#"{"reqCertif":{"modif":"AJO","csr":"c","noSerie":"0a"}}"#,
                E::SerialForbiddenOnEnrolment,
                &[],
            ),
            (
                Enrolment,
                r#"{"reqCertif":{"modif":"AJO"}}"#,
                E::CsrMissingOnEnrolment,
                &[],
            ),
            (
                Certificates,
                r#"{"reqCertif":{"modif":"AJO","csr":"c"}}"#,
                E::ModifNotReplaceOrDelete,
                &["AJO"],
            ),
            (
                Certificates,
                r#"{"reqCertif":{"modif":"SUP"}}"#,
                E::SerialMissing,
                &[],
            ),
            (
                Certificates,
                r#"{"reqCertif":{"modif":"REM","noSerie":"0a"}}"#,
                E::ReplaceWithoutCsr,
                &[],
            ),
            (
                Certificates,
                r#"{"reqCertif":{"modif":"SUP","noSerie":"0a","csr":"c"}}"#,
                E::DeleteWithCsr,
                &[],
            ),
            (
                Certificates,
                r#"{"reqCertif":{"modif":"SUP","noSerie":"not hex"}}"#,
                E::SerialInvalid,
                &["not hex"],
            ),
        ];
        for (service, body, code, args) in rows {
            let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
            assert_eq!(
                CertificateRequest::read(body.as_bytes(), *service),
                Err((*code, args)),
                "{service:?} {body}"
            );
        }
    }

    /// A request that passes reads into its modification, `modif` compared without regard to
    /// case and kept as written.
    #[test]
    fn certificate_requests_read_into_their_modification() {
        let serial: SerialNumber = SERIAL.parse().unwrap();
        let read =
            |service, body: String| CertificateRequest::read(body.as_bytes(), service).unwrap();
        let add = read(
            CertificateService::Enrolment,
            r#"{"reqCertif":{"modif":"ajo","csr":"c"}}"#.into(),
        );
        assert_eq!(add.modification, Modification::Add { csr: "c".into() });
        assert_eq!(add.modif_as_sent, "ajo");
        let replace = read(
            CertificateService::Certificates,
            format!(r#"{{"reqCertif":{{"modif":"REM","csr":"c","noSerie":"{SERIAL}"}}}}"#),
        );
        assert_eq!(
            replace.modification,
            Modification::Replace {
                csr: "c".into(),
                serial
            }
        );
        let delete = read(
            CertificateService::Certificates,
            format!(r#"{{"reqCertif":{{"modif":"Sup","noSerie":"{SERIAL}","csr":null}}}}"#),
        );
        assert_eq!(delete.modification, Modification::Delete { serial });
    }

    /// A transaction request's parts: the current one an object, the batch an array of objects.
    #[test]
    fn transaction_requests_split_into_their_parts() {
        let parts =
            TransactionParts::read(br#"{"reqTrans":{"transActu":{"a":1},"transLot":[{"b":2}]}}"#)
                .unwrap();
        assert_eq!(parts.current, Some(serde_json::json!({"a": 1})));
        assert_eq!(parts.batch, vec![serde_json::json!({"b": 2})]);
        for (body, code) in [
            (&br#"{"reqTrans":{}}"#[..], E::TransactionRequestEmpty),
            (br#"{"reqTrans":{"transActu":[]}}"#, E::NotJson),
            (br#"{"reqTrans":{"transLot":[1]}}"#, E::NotJson),
        ] {
            assert_eq!(
                TransactionParts::read(body).map_err(|f| f.0),
                Err(code),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
        assert_eq!(
            TransactionParts::read(br#"{"reqTrans":{"transActu":{"a":1,"a":2}}}"#),
            Err((
                E::ChildFieldRepeated,
                vec!["reqTrans/transActu".into(), "a".into()]
            ))
        );
    }
}
