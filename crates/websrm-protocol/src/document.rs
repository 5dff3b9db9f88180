//! The `document` service (SW-73 §4.3.4, tables 25 to 32), typed in both directions: the user
//! report (`RUT`) and the habitual third-party declaration (`HAB`), each a `doc` string of
//! `param=value` pairs joined by `;`, signed by the operator (`SI`) with the certificate `EM`
//! names.
//!
//! [`DocumentRequest::to_body`] writes `reqDoc`; [`DocumentRequest::read`] reads its fields as
//! the authority does, every defect a [`Finding`]. The guides give ids for `typDoc` (453E), a
//! missing field (304E) and padded values (468E) only; for the parameters inside `doc`,
//! websrm's authority answers with the ids of the transaction fields they carry, and with the
//! structure ids (300E, 305E, 306E) for the parameter list itself (see `docs/PROTOCOL.md`).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use websrm_crypto::Signature;
use websrm_domain::{DeviceId, GstNumber, QstNumber, SoftwareVersion, SrsId, Thumbprint};

use crate::transaction::Finding;
use crate::transaction::read::canadian_postal_code;
use crate::transaction::values::{Amount, Moment, TextRule, TransactionNumber, padded};
use crate::wire::WireError;

/// `typDoc`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DocumentType {
    /// `RUT`: the user report.
    UserReport,
    /// `HAB`: the declaration of a habitual third party (form VD-350.51.1).
    ThirdParty,
}

impl DocumentType {
    /// The protocol's code.
    pub fn code(self) -> &'static str {
        match self {
            Self::UserReport => "RUT",
            Self::ThirdParty => "HAB",
        }
    }

    /// The type of `code` (compared without regard to case, as values are).
    pub fn from_code(code: &str) -> Option<Self> {
        [Self::UserReport, Self::ThirdParty]
            .into_iter()
            .find(|t| t.code().eq_ignore_ascii_case(code))
    }

    /// The parameters of `doc`, in the protocol's order (SW-73 tables 28 and 31).
    pub fn parameters(self) -> &'static [&'static str] {
        match self {
            Self::UserReport => &USER_REPORT,
            Self::ThirdParty => &THIRD_PARTY,
        }
    }

    /// The parameters whose values `SI` signs, in order: all but `SI` and `EM`, and for the
    /// user report not `SA`, `SD`, `TS`, `SR`, `CM`, `AD` either (SW-73 table 30).
    pub fn signed(self) -> impl Iterator<Item = &'static str> {
        let unsigned: &[&str] = match self {
            Self::UserReport => &["SI", "EM", "SA", "SD", "TS", "SR", "CM", "AD"],
            Self::ThirdParty => &["SI", "EM"],
        };
        self.parameters()
            .iter()
            .copied()
            .filter(move |p| !unsigned.contains(p))
    }
}

/// The user report's parameters (SW-73 table 28).
pub const USER_REPORT: [&str; 26] = [
    "RT", "TQ", "UT", "NO", "MT", "DF", "AN", "SN", "SV", "SS", "SF", "SP", "ST", "SA", "SD", "TS",
    "SR", "CM", "IA", "IS", "VR", "DC", "DR", "SI", "EM", "AD",
];

/// The habitual third-party declaration's parameters (SW-73 table 31).
pub const THIRD_PARTY: [&str; 16] = [
    "TQ", "NM", "AD", "CP", "TE", "PO", "NE", "RA", "DC", "DV", "DE", "BS", "FR", "MO", "SI", "EM",
];

/// The most characters `doc` may have.
pub const MAX_DOC_LEN: usize = 4000;

/// A `reqDoc`: its type and its parameters, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DocumentRequest {
    /// `typDoc`.
    pub kind: DocumentType,
    /// The parameters of `doc`, in the protocol's order.
    pub parameters: Vec<(String, String)>,
}

impl DocumentRequest {
    /// A document of `kind` with `values` for its parameters (missing ones empty), `SI` and `EM`
    /// left empty until [`DocumentRequest::signed`].
    pub fn new<'a>(
        kind: DocumentType,
        values: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Self {
        let values: Vec<(&str, &str)> = values.into_iter().collect();
        let parameters = kind
            .parameters()
            .iter()
            .map(|p| {
                let value = values.iter().find(|(n, _)| n == p).map_or("", |(_, v)| v);
                ((*p).to_owned(), value.to_owned())
            })
            .collect();
        Self { kind, parameters }
    }

    /// The value of parameter `name`, if it is one of the document's.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.parameters
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn set(&mut self, name: &str, value: String) {
        if let Some((_, v)) = self.parameters.iter_mut().find(|(n, _)| n == name) {
            *v = value;
        }
    }

    /// What `SI` signs: the signed parameters' values, concatenated in order (SW-73 tables 30
    /// and 31).
    pub fn signature_input(&self) -> String {
        self.kind
            .signed()
            .map(|p| self.get(p).unwrap_or_default())
            .collect()
    }

    /// The same document with its signature and the thumbprint of the signing certificate.
    pub fn signed(mut self, signature: &Signature, thumbprint: Thumbprint) -> Self {
        self.set("SI", signature.to_base64());
        self.set("EM", thumbprint.to_string());
        self
    }

    /// `doc`: `param=value` pairs joined by `;`, every parameter present (SW-73 table 27).
    pub fn doc(&self) -> String {
        self.parameters
            .iter()
            .map(|(n, v)| format!("{n}={v}"))
            .collect::<Vec<_>>()
            .join(";")
    }

    /// The request body, `{"reqDoc": {...}}`.
    pub fn to_body(&self) -> Value {
        json!({ "reqDoc": { "typDoc": self.kind.code(), "doc": self.doc() } })
    }

    /// `SI`, if it is a signature.
    pub fn signature(&self) -> Option<Signature> {
        self.get("SI")
            .filter(|s| s.len() == 88)
            .and_then(|s| Signature::from_base64(s).ok())
    }

    /// `EM`, if it is a thumbprint.
    pub fn thumbprint(&self) -> Option<Thumbprint> {
        self.get("EM").and_then(|t| t.parse().ok())
    }

    /// Reads the fields of `reqDoc` (the top level and duplicated keys are the caller's): every
    /// finding, or the document.
    pub fn read(req: &Map<String, Value>) -> Result<Self, Vec<Finding>> {
        let mut findings = Vec::new();
        for key in req.keys() {
            if !["typDoc", "doc"].contains(&key.as_str()) {
                findings.push(Finding::new(300, format!("reqDoc/{key}"), None));
            }
        }
        let mut text = |name: &str| -> Option<String> {
            let path = format!("reqDoc/{name}");
            match req.get(name) {
                None => {
                    findings.push(Finding::new(304, path, None));
                    None
                }
                Some(Value::String(s)) if padded(s) => {
                    findings.push(Finding::new(468, path, Some(s)));
                    None
                }
                Some(Value::String(s)) => Some(s.clone()),
                Some(Value::Object(_) | Value::Array(_)) => {
                    findings.push(Finding::new(308, path, None));
                    None
                }
                Some(other) => {
                    findings.push(Finding::new(300, path, Some(&other.to_string())));
                    None
                }
            }
        };
        let kind = text("typDoc");
        let doc = text("doc");
        let kind = kind.and_then(|k| {
            let t = DocumentType::from_code(&k);
            if t.is_none() {
                findings.push(Finding::new(453, "reqDoc/typDoc", Some(&k)));
            }
            t
        });
        let (Some(kind), Some(doc)) = (kind, doc) else {
            return Err(findings);
        };
        let parameters = read_parameters(kind, &doc, &mut findings);
        if findings.is_empty() {
            Ok(Self { kind, parameters })
        } else {
            Err(findings)
        }
    }
}

/// The parameters of `doc`: each of the type's once (305E missing, 306E repeated, 300E unknown
/// or not `name=value`), in the protocol's order, each value of its form.
fn read_parameters(
    kind: DocumentType,
    doc: &str,
    findings: &mut Vec<Finding>,
) -> Vec<(String, String)> {
    let at = |name: &str| format!("reqDoc/doc/{name}");
    if doc.is_empty() || doc.chars().count() > MAX_DOC_LEN {
        findings.push(Finding::new(
            300,
            "reqDoc/doc",
            Some(&doc.chars().take(20).collect::<String>()),
        ));
        return Vec::new();
    }
    let mut found: Vec<(String, String)> = Vec::new();
    for part in doc.split(';') {
        let Some((name, value)) = part.split_once('=') else {
            findings.push(Finding::new(300, "reqDoc/doc", Some(part)));
            continue;
        };
        if !kind.parameters().contains(&name) {
            findings.push(Finding::new(300, at(name), Some(value)));
        } else if found.iter().any(|(n, _)| n == name) {
            findings.push(Finding::new(306, at(name), Some(value)));
        } else {
            found.push((name.to_owned(), value.to_owned()));
        }
    }
    let mut parameters = Vec::with_capacity(kind.parameters().len());
    for name in kind.parameters() {
        match found.iter().find(|(n, _)| n == name) {
            Some((_, value)) => {
                if let Some(id) = value_error(kind, name, value) {
                    findings.push(Finding::new(id, at(name), Some(value)));
                }
                parameters.push(((*name).to_owned(), value.clone()));
            }
            None => findings.push(Finding::new(305, at(name), None)),
        }
    }
    parameters
}

/// The error of a parameter's value, if its form is wrong: the id of the transaction field it
/// carries where there is one, 300E otherwise; 468E for a padded value. Values some documents
/// leave empty may be empty (`AD`, the last document's `NO`, `MT`, `DF` before any, the
/// declaration's optional details).
fn value_error(kind: DocumentType, name: &str, value: &str) -> Option<u16> {
    if padded(value) {
        return Some(468);
    }
    let digits = |s: &str, min: usize, max: usize| {
        (min..=max).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit())
    };
    let date = |s: &str| {
        time::Date::parse(s, time::macros::format_description!("[year]-[month]-[day]")).is_ok()
    };
    let text = |s: &str, max: usize| s.chars().count() <= max;
    let ok = match (kind, name) {
        (_, "SI") => value.len() == 88 && Signature::from_base64(value).is_ok(),
        (_, "EM") => value.len() == 40 && value.bytes().all(|b| b.is_ascii_alphanumeric()),
        (_, "AD") => text(value, 100),
        (DocumentType::UserReport, p) => match p {
            "RT" => value.parse::<GstNumber>().is_ok(),
            "TQ" => value.parse::<QstNumber>().is_ok(),
            "UT" => TextRule::NAME.accepts(value),
            "NO" => value.is_empty() || value.parse::<TransactionNumber>().is_ok(),
            "MT" => value.is_empty() || value.parse::<Amount>().is_ok(),
            "DF" => value.is_empty() || value.parse::<Moment>().is_ok(),
            "DC" | "DR" => value.parse::<Moment>().is_ok(),
            "AN" => digits(value, 4, 4) && value >= "2019",
            // `[+]` UInt32 (SW-73 table 28).
            "SN" | "SV" => {
                let n = value.strip_prefix('+').unwrap_or(value);
                digits(n, 1, 10) && n.parse::<u32>().is_ok()
            }
            "SS" | "SF" | "SP" | "ST" | "SA" | "SD" => value.parse::<Amount>().is_ok(),
            "TS" => matches!(value, "A" | "E"),
            "SR" => !value.is_empty() && text(value, 14),
            "CM" => matches!(value, "Unique" | "Tous"),
            "IA" => value.parse::<DeviceId>().is_ok(),
            "IS" => value.parse::<SrsId>().is_ok(),
            "VR" => value.parse::<SoftwareVersion>().is_ok(),
            _ => true,
        },
        (DocumentType::ThirdParty, p) => match p {
            "TQ" => value.parse::<QstNumber>().is_ok(),
            "NM" => TextRule::NAME.accepts(value),
            "CP" => value.is_empty() || canadian_postal_code(value),
            "TE" => value.is_empty() || digits(value, 10, 10),
            "PO" => value.is_empty() || digits(value, 1, 6),
            "NE" => value.is_empty() || digits(value, 10, 10),
            "RA" => matches!(value, "1" | "2" | "3"),
            "DC" | "DV" => date(value),
            "DE" => value.is_empty() || date(value),
            "BS" | "FR" => text(value, 100),
            "MO" => {
                !value.is_empty()
                    && value.len() <= 5
                    && value.split('-').all(|m| matches!(m, "1" | "2" | "3"))
            }
            _ => true,
        },
    };
    if ok {
        return None;
    }
    Some(match (kind, name) {
        (_, "SI") => 417,
        (_, "EM") => 422,
        (DocumentType::UserReport, "RT") => 71,
        (DocumentType::UserReport, "TQ") => 70,
        (DocumentType::ThirdParty, "TQ") => 463,
        (_, "UT" | "NM") => 407,
        (_, "NO") => 406,
        (_, "MT" | "SS" | "SF" | "SP" | "ST" | "SA" | "SD") => 411,
        (_, "DF" | "DC" | "DR" | "DV" | "DE" | "AN") => 408,
        (_, "IS") => 51,
        (_, "VR") => 441,
        (_, "CP") => 471,
        (_, "TE") => 464,
        _ => 300,
    })
}

/// The body of a document answer: `{"retourDoc": {...}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[allow(clippy::exhaustive_structs)] // The protocol fixes these fields.
pub struct DocumentResponseBody {
    /// The answer.
    #[serde(rename = "retourDoc")]
    pub retour_doc: RetourDoc,
}

/// `retourDoc`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[allow(clippy::exhaustive_structs)] // The protocol fixes these fields.
pub struct RetourDoc {
    /// The version of the answer's structure, `01.00`.
    #[serde(rename = "jsonVersi", skip_serializing_if = "Option::is_none")]
    pub json_versi: Option<String>,
    /// The next test case, when the request's was not `000.000`.
    #[serde(rename = "casEssai", skip_serializing_if = "Option::is_none")]
    pub cas_essai: Option<String>,
    /// The authority's number for the document, ten digits.
    #[serde(rename = "noDoc", skip_serializing_if = "Option::is_none")]
    pub no_doc: Option<String>,
    /// The errors.
    #[serde(rename = "listErr", skip_serializing_if = "Option::is_none")]
    pub list_err: Option<Vec<WireError>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RQ's example report (SW-73 table 29's values), signed with a placeholder.
    pub(crate) fn report() -> DocumentRequest {
        DocumentRequest::new(
            DocumentType::UserReport,
            [
                ("RT", "567891234RT0001"),
                ("TQ", "5678912340TQ0001"),
                ("UT", "Michel Untel"),
                ("NO", "100016"),
                ("MT", "+000000015.00"),
                ("DF", "20260115125939"),
                ("AN", "2026"),
                ("SN", "16"),
                ("SV", "3"),
                ("SS", "+000000020.00"),
                ("SF", "+000000001.00"),
                ("SP", "+000000002.00"),
                ("ST", "+000000023.00"),
                ("SA", "-000000004.00"),
                ("SD", "+000000019.00"),
                ("TS", "A"),
                ("SR", "0001-2345-6789"),
                ("CM", "Tous"),
                ("IA", "0001-2345-6789"),
                ("IS", "0000000000000002"),
                ("VR", "1.0.0"),
                ("DC", "20260115080000"),
                ("DR", "20260115130000"),
                ("AD", ""),
            ],
        )
    }

    fn signed_report(thumbprint: Thumbprint) -> DocumentRequest {
        let signature = Signature::from_base64(&format!("{}==", "A".repeat(86))).unwrap();
        report().signed(&signature, thumbprint)
    }

    fn read(body: &Value) -> Result<DocumentRequest, Vec<String>> {
        DocumentRequest::read(body["reqDoc"].as_object().unwrap())
            .map_err(|f| f.iter().map(|f| f.id.to_string()).collect())
    }

    #[test]
    fn a_signed_report_reads_back_and_signs_what_table_30_says() {
        let thumbprint: Thumbprint = "0123456789ABCDEF0123456789ABCDEF01234567".parse().unwrap();
        let doc = signed_report(thumbprint);
        assert_eq!(read(&doc.to_body()), Ok(doc.clone()));
        assert_eq!(
            doc.signature_input(),
            "567891234RT00015678912340TQ0001Michel Untel100016+000000015.0020260115125939\
             2026163+000000020.00+000000001.00+000000002.00+000000023.00\
             0001-2345-678900000000000000021.0.02026011508000020260115130000"
        );
        assert!(
            doc.doc()
                .starts_with("RT=567891234RT0001;TQ=5678912340TQ0001;UT=Michel Untel;")
        );
        assert!(
            doc.doc().ends_with(";AD="),
            "every parameter, even empty: {}",
            doc.doc()
        );
    }

    #[test]
    fn each_defect_of_a_document_has_its_id() {
        let good = signed_report("0123456789ABCDEF0123456789ABCDEF01234567".parse().unwrap()).doc();
        let with = |name: &str, value: &str| {
            good.split(';')
                .map(|p| {
                    if p.split_once('=').is_some_and(|(n, _)| n == name) {
                        format!("{name}={value}")
                    } else {
                        p.to_owned()
                    }
                })
                .collect::<Vec<_>>()
                .join(";")
        };
        let body = |typ: &str, doc: &str| json!({"reqDoc": {"typDoc": typ, "doc": doc}});
        for (body, id) in [
            (body("XYZ", &good), "453"),
            (json!({"reqDoc": {"typDoc": "RUT"}}), "304"),
            (json!({"reqDoc": {"doc": good}}), "304"),
            (
                json!({"reqDoc": {"typDoc": "RUT", "doc": good, "x": "1"}}),
                "300",
            ),
            (body("RUT", &format!("{good};")), "300"),
            (body("RUT", &format!("{good};ZZ=1")), "300"),
            (body("RUT", &format!("{good};AD=x")), "306"),
            (body("RUT", &good.replace(";AD=", "")), "305"),
            (body("RUT", &with("RT", "5678")), "071"),
            (body("RUT", &with("TQ", "5678")), "070"),
            (body("RUT", &with("UT", "")), "407"),
            (body("RUT", &with("MT", "15.00")), "411"),
            (body("RUT", &with("DR", "20260231130000")), "408"),
            (body("RUT", &with("TS", "X")), "300"),
            (body("RUT", &with("SI", "short")), "417"),
            (body("RUT", &with("EM", "0123")), "422"),
            (body("RUT", &with("UT", "Michel ")), "468"),
            (body("RUT", &"x".repeat(4001)), "300"),
        ] {
            let found = read(&body).unwrap_err();
            assert_eq!(found[0], format!("JW00B999{id}E"), "{body}: {found:?}");
        }
    }
}
