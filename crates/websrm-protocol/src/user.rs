//! The `utilisateur` service (SW-73 §4.3.2, tables 16 to 19), typed in both directions: an SRS
//! declares a user account (`AJO`) or removes one (`SUP`), a remote server has tax numbers
//! validated (`VAL`); the authority answers `VAL` or `INV` for each number.
//!
//! [`UserRequest::to_body`] writes `reqUtil`; [`UserRequest::read`] reads its fields as the
//! authority does, each defect a [`Finding`] with its id (300E, 304E, 305E, 308E, 318E, 319E,
//! 407E, 434E, 468E, 070E/071E for numbers of the wrong form).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use websrm_domain::{GstNumber, QstNumber};

use crate::transaction::values::{TextRule, padded};
use crate::transaction::{Finding, TaxNumbers};
use crate::wire::WireError;

/// `modif` of a `reqUtil`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum UserModification {
    /// `AJO`: an SRS declares a user account.
    Add,
    /// `SUP`: an SRS removes one.
    Delete,
    /// `VAL`: a remote server has the tax numbers validated.
    Validate,
}

impl UserModification {
    /// The protocol's code.
    pub fn code(self) -> &'static str {
        match self {
            Self::Add => "AJO",
            Self::Delete => "SUP",
            Self::Validate => "VAL",
        }
    }

    /// The modification of `code` (compared without regard to case, as values are).
    pub fn from_code(code: &str) -> Option<Self> {
        [Self::Add, Self::Delete, Self::Validate]
            .into_iter()
            .find(|m| m.code().eq_ignore_ascii_case(code))
    }
}

/// A `reqUtil`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(clippy::exhaustive_structs)] // The protocol fixes these fields.
pub struct UserRequest {
    /// `modif`.
    pub modification: UserModification,
    /// `nomUtil`: the user's first and last name (`AJO`, `SUP`); absent for `VAL`.
    pub name: Option<String>,
    /// `noTax`: the operator's tax numbers.
    pub tax_numbers: TaxNumbers,
}

impl UserRequest {
    /// An SRS declares the user `name` of the operator with these tax numbers.
    pub fn add(name: impl Into<String>, gst: GstNumber, qst: QstNumber) -> Self {
        Self {
            modification: UserModification::Add,
            name: Some(name.into()),
            tax_numbers: TaxNumbers { gst, qst },
        }
    }

    /// An SRS removes the user `name`.
    pub fn delete(name: impl Into<String>, gst: GstNumber, qst: QstNumber) -> Self {
        Self {
            modification: UserModification::Delete,
            name: Some(name.into()),
            tax_numbers: TaxNumbers { gst, qst },
        }
    }

    /// A remote server has these tax numbers validated.
    pub fn validate(gst: GstNumber, qst: QstNumber) -> Self {
        Self {
            modification: UserModification::Validate,
            name: None,
            tax_numbers: TaxNumbers { gst, qst },
        }
    }

    /// The request body, `{"reqUtil": {...}}`.
    pub fn to_body(&self) -> Value {
        let mut req = Map::new();
        req.insert("modif".into(), json!(self.modification.code()));
        if let Some(name) = &self.name {
            req.insert("nomUtil".into(), json!(name));
        }
        req.insert(
            "noTax".into(),
            json!({
                "noTPS": self.tax_numbers.gst.as_str(),
                "noTVQ": self.tax_numbers.qst.as_str(),
            }),
        );
        json!({ "reqUtil": req })
    }

    /// Reads the fields of `reqUtil` (the top level and duplicated keys are the caller's): every
    /// finding, or the request.
    pub fn read(req: &Map<String, Value>) -> Result<Self, Vec<Finding>> {
        let mut findings = Vec::new();
        let mut find = |n: u16, path: &str, value: Option<&str>| {
            findings.push(Finding::new(n, path, value));
        };
        for key in req.keys() {
            if !["modif", "nomUtil", "noTax"].contains(&key.as_str()) {
                find(300, &format!("reqUtil/{key}"), None);
            }
        }
        let text = |name: &str, find: &mut dyn FnMut(u16, &str, Option<&str>)| -> Option<String> {
            let path = format!("reqUtil/{name}");
            match req.get(name)? {
                Value::String(s) if padded(s) => {
                    find(468, &path, Some(s));
                    None
                }
                Value::String(s) => Some(s.clone()),
                Value::Object(_) | Value::Array(_) => {
                    find(308, &path, None);
                    None
                }
                other => {
                    find(300, &path, Some(&other.to_string()));
                    None
                }
            }
        };
        let modification = match (req.contains_key("modif"), text("modif", &mut find)) {
            (false, _) => {
                find(304, "reqUtil/modif", None);
                None
            }
            (true, Some(code)) => {
                let m = UserModification::from_code(&code);
                if m.is_none() {
                    find(434, "reqUtil/modif", Some(&code));
                }
                m
            }
            (true, None) => None,
        };
        let name = text("nomUtil", &mut find);
        if let Some(n) = &name
            && !TextRule::NAME.accepts(n)
        {
            find(407, "reqUtil/nomUtil", Some(n));
        }
        match modification {
            Some(UserModification::Add | UserModification::Delete)
                if !req.contains_key("nomUtil") =>
            {
                find(318, "reqUtil/nomUtil", None);
            }
            Some(UserModification::Validate) if req.contains_key("nomUtil") => {
                find(319, "reqUtil/nomUtil", None);
            }
            _ => {}
        }
        let tax_numbers = match req.get("noTax") {
            None => {
                find(304, "reqUtil/noTax", None);
                None
            }
            Some(Value::Object(tax)) => {
                for key in tax.keys() {
                    if !["noTPS", "noTVQ"].contains(&key.as_str()) {
                        find(300, &format!("reqUtil/noTax/{key}"), None);
                    }
                }
                let mut number = |name: &str, id: u16| -> Option<String> {
                    let path = format!("reqUtil/noTax/{name}");
                    match tax.get(name) {
                        None => {
                            find(305, &path, None);
                            None
                        }
                        Some(Value::String(s)) if padded(s) => {
                            find(468, &path, Some(s));
                            None
                        }
                        Some(Value::String(s)) => Some(s.clone()),
                        Some(Value::Object(_) | Value::Array(_)) => {
                            find(308, &path, None);
                            None
                        }
                        Some(other) => {
                            find(id, &path, Some(&other.to_string()));
                            None
                        }
                    }
                };
                let gst = number("noTPS", 71);
                let qst = number("noTVQ", 70);
                let gst = gst.and_then(|g| {
                    g.parse::<GstNumber>()
                        .map_err(|_| find(71, "reqUtil/noTax/noTPS", Some(&g)))
                        .ok()
                });
                let qst = qst.and_then(|q| {
                    q.parse::<QstNumber>()
                        .map_err(|_| find(70, "reqUtil/noTax/noTVQ", Some(&q)))
                        .ok()
                });
                gst.zip(qst).map(|(gst, qst)| TaxNumbers { gst, qst })
            }
            Some(other) => {
                find(300, "reqUtil/noTax", Some(&other.to_string()));
                None
            }
        };
        match (modification, tax_numbers) {
            (Some(modification), Some(tax_numbers)) if findings.is_empty() => Ok(Self {
                modification,
                name,
                tax_numbers,
            }),
            _ => Err(findings),
        }
    }
}

/// The body of a user answer: `{"retourUtil": {...}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[allow(clippy::exhaustive_structs)] // The protocol fixes these fields.
pub struct UserResponseBody {
    /// The answer.
    #[serde(rename = "retourUtil")]
    pub retour_util: RetourUtil,
}

/// `retourUtil`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[allow(clippy::exhaustive_structs)] // The protocol fixes these fields.
pub struct RetourUtil {
    /// The version of the answer's structure, `01.00`.
    #[serde(rename = "jsonVersi", skip_serializing_if = "Option::is_none")]
    pub json_versi: Option<String>,
    /// The next test case, when the request's was not `000.000`.
    #[serde(rename = "casEssai", skip_serializing_if = "Option::is_none")]
    pub cas_essai: Option<String>,
    /// Whether each tax number is valid.
    #[serde(rename = "noTax", skip_serializing_if = "Option::is_none")]
    pub no_tax: Option<TaxNumbersValidity>,
    /// The errors.
    #[serde(rename = "listErr", skip_serializing_if = "Option::is_none")]
    pub list_err: Option<Vec<WireError>>,
}

/// `retourUtil.noTax`: `VAL` or `INV` for each number.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[allow(clippy::exhaustive_structs)] // The protocol fixes these fields.
pub struct TaxNumbersValidity {
    /// `noTPS`.
    #[serde(rename = "noTPS")]
    pub no_tps: String,
    /// `noTVQ`.
    #[serde(rename = "noTVQ")]
    pub no_tvq: String,
}

impl TaxNumbersValidity {
    /// `VAL` for a valid number, `INV` otherwise.
    pub fn new(gst_valid: bool, qst_valid: bool) -> Self {
        let word = |valid: bool| if valid { "VAL" } else { "INV" }.to_owned();
        Self {
            no_tps: word(gst_valid),
            no_tvq: word(qst_valid),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(body: Value) -> Result<UserRequest, Vec<String>> {
        UserRequest::read(body["reqUtil"].as_object().unwrap())
            .map_err(|f| f.iter().map(|f| f.id.to_string()).collect())
    }

    #[test]
    fn a_request_reads_back_and_each_defect_has_its_id() {
        let add = UserRequest::add(
            "Michel Untel",
            "567891234RT0001".parse().unwrap(),
            "5678912340TQ0001".parse().unwrap(),
        );
        assert_eq!(read(add.to_body()), Ok(add));
        let validate = UserRequest::validate(
            "567891234RT0001".parse().unwrap(),
            "5678912340TQ0001".parse().unwrap(),
        );
        assert_eq!(read(validate.to_body()), Ok(validate));
        let tax = json!({"noTPS": "567891234RT0001", "noTVQ": "5678912340TQ0001"});
        for (body, id) in [
            (
                json!({"reqUtil": {"nomUtil": "Michel", "noTax": tax}}),
                "304",
            ),
            (json!({"reqUtil": {"modif": "AJO", "noTax": tax}}), "318"),
            (
                json!({"reqUtil": {"modif": "VAL", "nomUtil": "Michel", "noTax": tax}}),
                "319",
            ),
            (
                json!({"reqUtil": {"modif": "MOD", "nomUtil": "Michel", "noTax": tax}}),
                "434",
            ),
            (
                json!({"reqUtil": {"modif": "AJO", "nomUtil": "x".repeat(65), "noTax": tax}}),
                "407",
            ),
            (
                json!({"reqUtil": {"modif": "AJO", "nomUtil": "Michel ", "noTax": tax}}),
                "468",
            ),
            (
                json!({"reqUtil": {"modif": "AJO", "nomUtil": "Michel"}}),
                "304",
            ),
            (
                json!({"reqUtil": {"modif": "AJO", "nomUtil": "Michel", "noTax": {"noTPS": "567891234RT0001"}}}),
                "305",
            ),
            (
                json!({"reqUtil": {"modif": "AJO", "nomUtil": "Michel", "noTax": {"noTPS": "5678", "noTVQ": "5678912340TQ0001"}}}),
                "071",
            ),
            (
                json!({"reqUtil": {"modif": "AJO", "nomUtil": "Michel", "noTax": tax, "autre": "x"}}),
                "300",
            ),
            (
                json!({"reqUtil": {"modif": ["AJO"], "nomUtil": "Michel", "noTax": tax}}),
                "308",
            ),
        ] {
            let found = read(body.clone()).unwrap_err();
            assert_eq!(found[0], format!("JW00B999{id}E"), "{body}: {found:?}");
        }
    }
}
