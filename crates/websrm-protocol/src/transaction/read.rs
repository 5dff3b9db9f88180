//! Reading a transaction from its JSON as WEB-SRM checks it: the structure (unknown, missing and
//! misplaced fields: 300E, 305E, 308E), then each value's form (the 4xxE of its field), every
//! finding collected rather than the first only.

use serde_json::{Map, Value};

use super::finding::Finding;
use super::model::*;
use super::values::*;

/// The fields a transaction may have, and those it must.
const TRANSACTION: (&[&str], &[&str]) = (
    &[
        "sectActi",
        "noTrans",
        "nomMandt",
        "nomUtil",
        "docAdr",
        "relaCommer",
        "clint",
        "datTrans",
        "utc",
        "items",
        "mont",
        "noDossFO",
        "noTax",
        "commerElectr",
        "typTrans",
        "modPai",
        "modImpr",
        "formImpr",
        "modTrans",
        "signa",
        "refs",
        "emprCertifSEV",
        "SEV",
    ],
    // `utc` is mandatory in table 23 though not in 305E's list; `noDossFO`'s absence is 466E,
    // `emprCertifSEV`'s 422E.
    &[
        "commerElectr",
        "datTrans",
        "formImpr",
        "items",
        "modImpr",
        "modPai",
        "modTrans",
        "mont",
        "nomMandt",
        "noTax",
        "noTrans",
        "sectActi",
        "SEV",
        "signa",
        "typTrans",
        "relaCommer",
        "utc",
    ],
);
const SECTOR: (&[&str], &[&str]) = (&["abrvt", "typServ", "noTabl", "nbClint"], &["abrvt"]);
const DOC_ADDRESS: (&[&str], &[&str]) = (&["docNoCiviq", "docCp"], &["docNoCiviq", "docCp"]);
const CUSTOMER: (&[&str], &[&str]) = (
    &["nomClint", "noTvqClint", "tel1", "tel2", "courl", "adr"],
    &[],
);
const ADDRESS: (&[&str], &[&str]) = (
    &["typAdr", "noCiviq", "rue", "vil", "cp"],
    &["typAdr", "noCiviq", "rue", "vil", "cp"],
);
const ITEM: (&[&str], &[&str]) = (
    &["qte", "descr", "unitr", "prix", "tax", "acti", "preci"],
    &["descr", "prix", "qte", "tax", "acti"],
);
const PRECISION: (&[&str], &[&str]) = (
    &["qte", "descr", "unitr", "prix", "tax", "acti"],
    &["descr", "acti"],
);
const AMOUNTS: (&[&str], &[&str]) = (
    &[
        "avantTax", "TPS", "TVQ", "apresTax", "ajus", "mtdu", "versActu", "versAnt", "sold",
        "pourb",
    ],
    &["apresTax", "avantTax", "TPS", "TVQ"],
);
const TAX_NUMBERS: (&[&str], &[&str]) = (&["noTPS", "noTVQ"], &["noTPS", "noTVQ"]);
const SIGNATURES: (&[&str], &[&str]) = (
    &["datActu", "actu", "preced"],
    &["datActu", "actu", "preced"],
);
const REFERENCE: (&[&str], &[&str]) = (
    &["noTrans", "datTrans", "avantTax"],
    &["noTrans", "datTrans", "avantTax"],
);
const SOFTWARE: (&[&str], &[&str]) = (
    &[
        "idSEV",
        "idVersi",
        "codCertif",
        "idPartn",
        "versi",
        "versiParn",
    ],
    &[
        "idSEV",
        "idVersi",
        "codCertif",
        "idPartn",
        "versi",
        "versiParn",
    ],
);

/// Collects findings while walking a transaction.
#[derive(Debug, Default)]
pub(crate) struct Reader {
    pub(crate) findings: Vec<Finding>,
}

impl Reader {
    fn find(&mut self, number: u16, path: &str, value: Option<&str>) {
        self.findings.push(Finding::new(number, path, value));
    }

    /// `value` as an object with these children: unknown ones are 300E, missing mandatory ones
    /// 305E.
    fn object<'v>(
        &mut self,
        value: &'v Value,
        path: &str,
        (allowed, mandatory): (&[&str], &[&str]),
    ) -> Option<&'v Map<String, Value>> {
        let Some(map) = value.as_object() else {
            self.find(300, path, None);
            return None;
        };
        for key in map.keys() {
            if !allowed.contains(&key.as_str()) {
                self.find(300, &format!("{path}/{key}"), None);
            }
        }
        for key in mandatory {
            if !map.contains_key(*key) {
                self.find(305, &format!("{path}/{key}"), None);
            }
        }
        Some(map)
    }

    /// `value` as a non-empty array of objects (an empty one was to be omitted: 305E).
    fn array<'v>(&mut self, value: &'v Value, path: &str) -> &'v [Value] {
        match value.as_array() {
            Some(a) if !a.is_empty() => a,
            Some(_) => {
                self.find(305, path, None);
                &[]
            }
            None => {
                self.find(300, path, None);
                &[]
            }
        }
    }

    /// The text of a leaf: a leaf given children is 308E; a value starting or ending with a
    /// space is 468E; a value that is not a string is a bad value of its field (`id`).
    fn leaf<'v>(
        &mut self,
        map: &'v Map<String, Value>,
        name: &str,
        path: &str,
        id: u16,
    ) -> Option<&'v str> {
        let value = map.get(name)?;
        let at = format!("{path}/{name}");
        match value {
            Value::String(s) if padded(s) => {
                self.find(468, &at, Some(s));
                None
            }
            Value::String(s) => Some(s),
            Value::Object(_) | Value::Array(_) => {
                self.find(308, &at, None);
                None
            }
            other => {
                self.find(id, &at, Some(&other.to_string()));
                None
            }
        }
    }

    /// A leaf parsed as `T`, or finding `id`.
    fn parse<T: std::str::FromStr>(
        &mut self,
        map: &Map<String, Value>,
        name: &str,
        path: &str,
        id: u16,
    ) -> Option<T> {
        let text = self.leaf(map, name, path, id)?;
        match text.parse() {
            Ok(v) => Some(v),
            Err(_) => {
                self.find(id, &format!("{path}/{name}"), Some(text));
                None
            }
        }
    }

    /// A text leaf kept if `rule` accepts it, or finding `id`.
    fn text(
        &mut self,
        map: &Map<String, Value>,
        name: &str,
        path: &str,
        id: u16,
        rule: TextRule,
    ) -> Option<String> {
        let text = self.leaf(map, name, path, id)?;
        if rule.accepts(text) {
            Some(text.to_owned())
        } else {
            self.find(id, &format!("{path}/{name}"), Some(text));
            None
        }
    }

    /// A text leaf kept if `ok` accepts it, or finding `id`.
    fn shaped(
        &mut self,
        map: &Map<String, Value>,
        name: &str,
        path: &str,
        id: u16,
        ok: fn(&str) -> bool,
    ) -> Option<String> {
        let text = self.leaf(map, name, path, id)?;
        if ok(text) {
            Some(text.to_owned())
        } else {
            self.find(id, &format!("{path}/{name}"), Some(text));
            None
        }
    }

    /// Reads one transaction at `path` (`transActu`, `transLot[2]`).
    pub(crate) fn transaction(&mut self, value: &Value, path: &str) -> Option<Transaction> {
        let before = self.findings.len();
        let map = self.object(value, path, TRANSACTION)?;
        let sector = map
            .get("sectActi")
            .and_then(|v| self.sector(v, &format!("{path}/sectActi")));
        let number = self.parse::<TransactionNumber>(map, "noTrans", path, 406);
        let operator_name = self.text(map, "nomMandt", path, 407, TextRule::NAME);
        let user_name = self.text(map, "nomUtil", path, 407, TextRule::NAME);
        let document_address = map
            .get("docAdr")
            .and_then(|v| self.document_address(v, &format!("{path}/docAdr")));
        let relation = self.parse::<Relation>(map, "relaCommer", path, 461);
        let customer = map
            .get("clint")
            .and_then(|v| self.customer(v, &format!("{path}/clint")));
        let date = self.parse::<Moment>(map, "datTrans", path, 408);
        let utc = self.parse::<UtcMark>(map, "utc", path, 423);
        let items: Vec<Option<Item>> = match map.get("items") {
            Some(v) => {
                let at = format!("{path}/items");
                self.array(v, &at)
                    .iter()
                    .enumerate()
                    .map(|(i, item)| self.item(item, &format!("{at}[{i}]")))
                    .collect()
            }
            None => Vec::new(),
        };
        let amounts = map
            .get("mont")
            .and_then(|v| self.amounts(v, &format!("{path}/mont")));
        let file_number = match map.get("noDossFO") {
            None => {
                self.find(466, &format!("{path}/noDossFO"), None);
                None
            }
            Some(_) => self.parse(map, "noDossFO", path, 466),
        };
        let tax_numbers = map.get("noTax").and_then(|v| {
            let at = format!("{path}/noTax");
            let m = self.object(v, &at, TAX_NUMBERS)?;
            let gst = self.parse(m, "noTPS", &at, 71);
            let qst = self.parse(m, "noTVQ", &at, 70);
            Some(TaxNumbers {
                gst: gst?,
                qst: qst?,
            })
        });
        let electronic = self.parse::<Electronic>(map, "commerElectr", path, 447);
        let kind = self.parse::<TransactionType>(map, "typTrans", path, 413);
        let payment = self.parse::<PaymentMode>(map, "modPai", path, 414);
        let print_mode = self.parse::<PrintMode>(map, "modImpr", path, 415);
        let print_format = self.parse::<PrintFormat>(map, "formImpr", path, 427);
        let mode = self.parse::<TransmissionMode>(map, "modTrans", path, 416);
        let signatures = map.get("signa").and_then(|v| {
            let at = format!("{path}/signa");
            let m = self.object(v, &at, SIGNATURES)?;
            let made_at = self.parse(m, "datActu", &at, 408);
            let actu = self.parse(m, "actu", &at, 417);
            let preced = self.parse(m, "preced", &at, 417);
            Some(Signatures {
                made_at: made_at?,
                actu: actu?,
                preced: preced?,
            })
        });
        let references: Vec<Option<Reference>> = match map.get("refs") {
            Some(v) => {
                let at = format!("{path}/refs");
                self.array(v, &at)
                    .iter()
                    .enumerate()
                    .map(|(i, r)| {
                        let at = format!("{at}[{i}]");
                        let m = self.object(r, &at, REFERENCE)?;
                        let number = self.parse(m, "noTrans", &at, 406);
                        let date = self.parse(m, "datTrans", &at, 408);
                        let before_tax = self.parse(m, "avantTax", &at, 411);
                        Some(Reference {
                            number: number?,
                            date: date?,
                            before_tax: before_tax?,
                        })
                    })
                    .collect()
            }
            None => Vec::new(),
        };
        if !map.contains_key("emprCertifSEV") {
            self.find(422, &format!("{path}/emprCertifSEV"), None);
        }
        let thumbprint = self.shaped(map, "emprCertifSEV", path, 422, |s| {
            s.len() == 40 && s.bytes().all(|b| b.is_ascii_alphanumeric())
        });
        let software = map.get("SEV").and_then(|v| {
            let at = format!("{path}/SEV");
            let m = self.object(v, &at, SOFTWARE)?;
            let srs_id = self.parse(m, "idSEV", &at, 51);
            let version_id = self.parse(m, "idVersi", &at, 52);
            let certification_code = self.parse(m, "codCertif", &at, 55);
            let partner_id = self.parse(m, "idPartn", &at, 53);
            let version = self.parse(m, "versi", &at, 441);
            let parent_version = self.parse(m, "versiParn", &at, 443);
            Some(SoftwareBlock {
                srs_id: srs_id?,
                version_id: version_id?,
                certification_code: certification_code?,
                partner_id: partner_id?,
                version: version?,
                parent_version: parent_version?,
            })
        });
        if self.findings.len() > before {
            return None;
        }
        Some(Transaction {
            sale: Sale {
                sector: sector?,
                number: number?,
                operator_name: operator_name?,
                user_name,
                document_address,
                relation: relation?,
                customer,
                date: date?,
                utc: utc?,
                items: items.into_iter().collect::<Option<_>>()?,
                amounts: amounts?,
                file_number: file_number?,
                tax_numbers: tax_numbers?,
                electronic: electronic?,
                kind: kind?,
                payment: payment?,
                print_mode: print_mode?,
                print_format: print_format?,
                mode: mode?,
                references: references.into_iter().collect::<Option<_>>()?,
            },
            signatures: signatures?,
            thumbprint: thumbprint?,
            software: software?,
        })
    }

    fn sector(&mut self, value: &Value, path: &str) -> Option<SectorBlock> {
        let m = self.object(value, path, SECTOR)?;
        let sector = self.parse(m, "abrvt", path, 405);
        let service = self.parse(m, "typServ", path, 455);
        let table = self.shaped(m, "noTabl", path, 456, |s| {
            s.len() == 5 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'=')
        });
        let customers = self
            .shaped(m, "nbClint", path, 458, |s| {
                s.len() == 3 && s.bytes().all(|b| b.is_ascii_digit()) && s != "000"
            })
            .and_then(|s| s.parse().ok());
        Some(SectorBlock {
            sector: sector?,
            service,
            table,
            customers,
        })
    }

    fn document_address(&mut self, value: &Value, path: &str) -> Option<DocumentAddress> {
        let m = self.object(value, path, DOC_ADDRESS)?;
        let civic_number = self.text(m, "docNoCiviq", path, 449, TextRule::CIVIC);
        let postal_code = self.shaped(m, "docCp", path, 448, canadian_postal_code);
        Some(DocumentAddress {
            civic_number: civic_number?,
            postal_code: postal_code?,
        })
    }

    fn customer(&mut self, value: &Value, path: &str) -> Option<Customer> {
        let m = self.object(value, path, CUSTOMER)?;
        let name = self.text(m, "nomClint", path, 407, TextRule::NAME);
        let qst = self.parse(m, "noTvqClint", path, 463);
        let phone = |s: &str| s.len() == 10 && s.bytes().all(|b| b.is_ascii_digit());
        let phone1 = self.shaped(m, "tel1", path, 464, phone);
        let phone2 = self.shaped(m, "tel2", path, 464, phone);
        let email = self.shaped(m, "courl", path, 465, email);
        let addresses: Vec<Option<Address>> = match m.get("adr") {
            Some(v) => {
                let at = format!("{path}/adr");
                self.array(v, &at)
                    .iter()
                    .enumerate()
                    .map(|(i, a)| {
                        let at = format!("{at}[{i}]");
                        let m = self.object(a, &at, ADDRESS)?;
                        let kind = self.parse(m, "typAdr", &at, 462);
                        let civic = self.text(m, "noCiviq", &at, 449, TextRule::CIVIC);
                        let street = self.text(m, "rue", &at, 467, TextRule::STREET);
                        let city = self.text(m, "vil", &at, 467, TextRule::STREET);
                        let cp = self.shaped(m, "cp", &at, 471, |s| {
                            canadian_postal_code(s)
                                || (s.len() == 5 && s.bytes().all(|b| b.is_ascii_digit()))
                        });
                        Some(Address {
                            kind: kind?,
                            civic_number: civic?,
                            street: street?,
                            city: city?,
                            postal_code: cp?,
                        })
                    })
                    .collect()
            }
            None => Vec::new(),
        };
        Some(Customer {
            name,
            qst,
            phone1,
            phone2,
            email,
            addresses: addresses.into_iter().collect::<Option<_>>()?,
        })
    }

    fn item(&mut self, value: &Value, path: &str) -> Option<Item> {
        let m = self.object(value, path, ITEM)?;
        let quantity = self.parse(m, "qte", path, 409);
        let description = self.text(m, "descr", path, 410, TextRule::DESCRIPTION);
        let unit_price = self.parse(m, "unitr", path, 411);
        let price = self.parse(m, "prix", path, 411);
        let tax = self.parse(m, "tax", path, 412);
        let activity = self.parse(m, "acti", path, 454);
        let precisions: Vec<Option<Precision>> = match m.get("preci") {
            Some(v) => {
                let at = format!("{path}/preci");
                self.array(v, &at)
                    .iter()
                    .enumerate()
                    .map(|(i, p)| {
                        let at = format!("{at}[{i}]");
                        let m = self.object(p, &at, PRECISION)?;
                        let quantity = self.parse(m, "qte", &at, 409);
                        let description = self.text(m, "descr", &at, 410, TextRule::DESCRIPTION);
                        let unit_price = self.parse(m, "unitr", &at, 411);
                        let price = self.parse(m, "prix", &at, 411);
                        let tax = self.parse(m, "tax", &at, 412);
                        let activity = self.parse(m, "acti", &at, 454);
                        Some(Precision {
                            quantity,
                            description: description?,
                            unit_price,
                            price,
                            tax,
                            activity: activity?,
                        })
                    })
                    .collect()
            }
            None => Vec::new(),
        };
        Some(Item {
            quantity: quantity?,
            description: description?,
            unit_price,
            price: price?,
            tax: tax?,
            activity: activity?,
            precisions: precisions.into_iter().collect::<Option<_>>()?,
        })
    }

    fn amounts(&mut self, value: &Value, path: &str) -> Option<Amounts> {
        let m = self.object(value, path, AMOUNTS)?;
        let before_tax = self.parse(m, "avantTax", path, 411);
        let gst = self.parse(m, "TPS", path, 411);
        let qst = self.parse(m, "TVQ", path, 411);
        let after_tax = self.parse(m, "apresTax", path, 411);
        Some(Amounts {
            adjustment: self.parse(m, "ajus", path, 411),
            due: self.parse(m, "mtdu", path, 411),
            instalment: self.parse(m, "versActu", path, 450),
            earlier_instalments: self.parse(m, "versAnt", path, 450),
            balance: self.parse(m, "sold", path, 450),
            tip: self.parse(m, "pourb", path, 411),
            before_tax: before_tax?,
            gst: gst?,
            qst: qst?,
            after_tax: after_tax?,
        })
    }
}

/// `A9A9A9`.
pub(crate) fn canadian_postal_code(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 6
        && b.iter().enumerate().all(|(i, c)| {
            if i % 2 == 0 {
                c.is_ascii_alphabetic()
            } else {
                c.is_ascii_digit()
            }
        })
}

/// 8 to 254 characters: a local part, `@`, a domain with a dot.
fn email(s: &str) -> bool {
    (8..=254).contains(&s.len())
        && s.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
        })
        && !s.contains(char::is_whitespace)
}
