//! A transaction as SW-73's table 23 defines it, every field typed: what the POS builds (a
//! [`Sale`]), and the [`Transaction`] sent, which adds the signatures, the certificate's
//! thumbprint and the software block that websrm fills in.

use serde_json::{Map, Value};
use websrm_domain::{
    CertificationCode, FileNumber, GstNumber, PartnerId, QstNumber, SoftwareVersion, SrsId,
    VersionId,
};

use super::values::*;

/// `sectActi`: the sector and, for a restaurant, how it served.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(clippy::exhaustive_structs)] // The protocol fixes these fields.
pub struct SectorBlock {
    /// `abrvt`.
    pub sector: SectorCode,
    /// `typServ` (restaurants).
    pub service: Option<ServiceType>,
    /// `noTabl`: 5 characters, padded with `=` on the left (`====1`).
    pub table: Option<String>,
    /// `nbClint`: the number of customers, 1 to 999.
    pub customers: Option<u16>,
}

impl SectorBlock {
    /// A restaurant's block.
    pub fn restaurant(service: ServiceType, customers: u16) -> Self {
        Self {
            sector: SectorCode::Restaurant,
            service: Some(service),
            table: None,
            customers: Some(customers),
        }
    }

    /// Transportation's block: `{"abrvt": "TRP"}`.
    pub fn transport() -> Self {
        Self {
            sector: SectorCode::Transport,
            service: None,
            table: None,
            customers: None,
        }
    }
}

/// `docAdr`: the business address printed on documents.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(clippy::exhaustive_structs)]
pub struct DocumentAddress {
    /// `docNoCiviq` (a suite as `100-1234`).
    pub civic_number: String,
    /// `docCp`: `A9A9A9`.
    pub postal_code: String,
}

/// `clint`: the customer.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[allow(clippy::exhaustive_structs)]
pub struct Customer {
    /// `nomClint`.
    pub name: Option<String>,
    /// `noTvqClint`.
    pub qst: Option<QstNumber>,
    /// `tel1`: 10 digits.
    pub phone1: Option<String>,
    /// `tel2`.
    pub phone2: Option<String>,
    /// `courl`.
    pub email: Option<String>,
    /// `adr`, omitted when empty.
    pub addresses: Vec<Address>,
}

/// An address of `clint`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(clippy::exhaustive_structs)]
pub struct Address {
    /// `typAdr`.
    pub kind: AddressType,
    /// `noCiviq`.
    pub civic_number: String,
    /// `rue`.
    pub street: String,
    /// `vil`.
    pub city: String,
    /// `cp`: `A9A9A9` or 5 digits.
    pub postal_code: String,
}

/// An item (`items[]`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(clippy::exhaustive_structs)]
pub struct Item {
    /// `qte`.
    pub quantity: Quantity,
    /// `descr`.
    pub description: String,
    /// `unitr`, when the unit price is printed.
    pub unit_price: Option<Amount>,
    /// `prix`.
    pub price: Amount,
    /// `tax`.
    pub tax: TaxCode,
    /// `acti`.
    pub activity: Activity,
    /// `preci`, omitted when empty.
    pub precisions: Vec<Precision>,
}

impl Item {
    /// An item without unit price or precision.
    pub fn new(
        quantity: Quantity,
        description: impl Into<String>,
        price: Amount,
        tax: TaxCode,
        activity: Activity,
    ) -> Self {
        Self {
            quantity,
            description: description.into(),
            unit_price: None,
            price,
            tax,
            activity,
            precisions: Vec::new(),
        }
    }
}

/// A precision of an item (`preci[]`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(clippy::exhaustive_structs)]
pub struct Precision {
    /// `qte`.
    pub quantity: Option<Quantity>,
    /// `descr`.
    pub description: String,
    /// `unitr`.
    pub unit_price: Option<Amount>,
    /// `prix`.
    pub price: Option<Amount>,
    /// `tax`.
    pub tax: Option<TaxCode>,
    /// `acti`.
    pub activity: Activity,
}

/// `mont`: the amounts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[allow(clippy::exhaustive_structs)]
pub struct Amounts {
    /// `avantTax`.
    pub before_tax: Amount,
    /// `TPS`.
    pub gst: Amount,
    /// `TVQ`.
    pub qst: Amount,
    /// `apresTax`.
    pub after_tax: Amount,
    /// `ajus`.
    pub adjustment: Option<Amount>,
    /// `mtdu`.
    pub due: Option<Amount>,
    /// `versActu`.
    pub instalment: Option<Amount>,
    /// `versAnt`.
    pub earlier_instalments: Option<Amount>,
    /// `sold`.
    pub balance: Option<Amount>,
    /// `pourb`.
    pub tip: Option<Amount>,
}

/// `noTax`: the operator's tax numbers.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(clippy::exhaustive_structs)]
pub struct TaxNumbers {
    /// `noTPS`.
    pub gst: GstNumber,
    /// `noTVQ`.
    pub qst: QstNumber,
}

/// A reference to an earlier transaction (`refs[]`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(clippy::exhaustive_structs)]
pub struct Reference {
    /// `noTrans`.
    pub number: TransactionNumber,
    /// `datTrans`.
    pub date: Moment,
    /// `avantTax`.
    pub before_tax: Amount,
}

/// `signa`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(clippy::exhaustive_structs)]
pub struct Signatures {
    /// `datActu`: when `actu` was made.
    pub made_at: Moment,
    /// `actu`.
    pub actu: SignatureText,
    /// `preced`.
    pub preced: SignatureText,
}

/// `SEV`: the software that produced the transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(clippy::exhaustive_structs)]
pub struct SoftwareBlock {
    /// `idSEV`.
    pub srs_id: SrsId,
    /// `idVersi`.
    pub version_id: VersionId,
    /// `codCertif`.
    pub certification_code: CertificationCode,
    /// `idPartn`.
    pub partner_id: PartnerId,
    /// `versi`.
    pub version: SoftwareVersion,
    /// `versiParn`.
    pub parent_version: SoftwareVersion,
}

/// What the POS records: every field of a transaction but those websrm fills in (`signa`,
/// `emprCertifSEV`, `SEV`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(clippy::exhaustive_structs)]
pub struct Sale {
    /// `sectActi`.
    pub sector: SectorBlock,
    /// `noTrans`.
    pub number: TransactionNumber,
    /// `nomMandt`: the operator's usual business name.
    pub operator_name: String,
    /// `nomUtil`: the user who made it (required in transportation and with a tip).
    pub user_name: Option<String>,
    /// `docAdr`.
    pub document_address: Option<DocumentAddress>,
    /// `relaCommer`.
    pub relation: Relation,
    /// `clint`.
    pub customer: Option<Customer>,
    /// `datTrans`.
    pub date: Moment,
    /// `utc`.
    pub utc: UtcMark,
    /// `items`.
    pub items: Vec<Item>,
    /// `mont`.
    pub amounts: Amounts,
    /// `noDossFO`.
    pub file_number: FileNumber,
    /// `noTax`.
    pub tax_numbers: TaxNumbers,
    /// `commerElectr`.
    pub electronic: Electronic,
    /// `typTrans`.
    pub kind: TransactionType,
    /// `modPai`.
    pub payment: PaymentMode,
    /// `modImpr`.
    pub print_mode: PrintMode,
    /// `formImpr`.
    pub print_format: PrintFormat,
    /// `modTrans`.
    pub mode: TransmissionMode,
    /// `refs`, omitted when empty.
    pub references: Vec<Reference>,
}

/// A transaction as sent: the sale, signed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(clippy::exhaustive_structs)]
pub struct Transaction {
    /// What the POS recorded.
    pub sale: Sale,
    /// `signa`.
    pub signatures: Signatures,
    /// `emprCertifSEV`: the thumbprint of the certificate whose key made `actu` (40
    /// characters).
    pub thumbprint: String,
    /// `SEV`.
    pub software: SoftwareBlock,
}

fn text(v: impl ToString) -> Value {
    Value::String(v.to_string())
}

fn put(map: &mut Map<String, Value>, name: &str, value: Option<Value>) {
    if let Some(v) = value {
        map.insert(name.to_owned(), v);
    }
}

/// Arrays are omitted when they would be empty (SW-73 tbl 23).
fn put_array(map: &mut Map<String, Value>, name: &str, values: Vec<Value>) {
    if !values.is_empty() {
        map.insert(name.to_owned(), Value::Array(values));
    }
}

impl Sale {
    /// The sale's fields on the wire (every value a string, empty arrays omitted).
    pub fn to_json(&self) -> Map<String, Value> {
        let mut m = Map::new();
        let mut sector = Map::new();
        sector.insert("abrvt".into(), text(self.sector.sector));
        put(&mut sector, "typServ", self.sector.service.map(text));
        put(&mut sector, "noTabl", self.sector.table.as_ref().map(text));
        put(
            &mut sector,
            "nbClint",
            self.sector.customers.map(|n| text(format!("{n:03}"))),
        );
        m.insert("sectActi".into(), Value::Object(sector));
        m.insert("noTrans".into(), text(&self.number));
        m.insert("nomMandt".into(), text(&self.operator_name));
        put(&mut m, "nomUtil", self.user_name.as_ref().map(text));
        put(
            &mut m,
            "docAdr",
            self.document_address
                .as_ref()
                .map(|a| serde_json::json!({"docNoCiviq": a.civic_number, "docCp": a.postal_code})),
        );
        m.insert("relaCommer".into(), text(self.relation));
        put(
            &mut m,
            "clint",
            self.customer.as_ref().map(Customer::to_json),
        );
        m.insert("datTrans".into(), text(self.date));
        m.insert("utc".into(), text(self.utc));
        put_array(
            &mut m,
            "items",
            self.items.iter().map(Item::to_json).collect(),
        );
        m.insert("mont".into(), self.amounts.to_json());
        m.insert("noDossFO".into(), text(&self.file_number));
        m.insert(
            "noTax".into(),
            serde_json::json!({"noTPS": self.tax_numbers.gst.as_str(), "noTVQ": self.tax_numbers.qst.as_str()}),
        );
        m.insert("commerElectr".into(), text(self.electronic));
        m.insert("typTrans".into(), text(self.kind));
        m.insert("modPai".into(), text(self.payment));
        m.insert("modImpr".into(), text(self.print_mode));
        m.insert("formImpr".into(), text(self.print_format));
        m.insert("modTrans".into(), text(self.mode));
        put_array(
            &mut m,
            "refs",
            self.references
                .iter()
                .map(|r| {
                    serde_json::json!({
                        "noTrans": r.number.as_str(),
                        "datTrans": r.date.to_string(),
                        "avantTax": r.before_tax.to_string()
                    })
                })
                .collect(),
        );
        m
    }
}

impl Customer {
    fn to_json(&self) -> Value {
        let mut m = Map::new();
        put(&mut m, "nomClint", self.name.as_ref().map(text));
        put(&mut m, "noTvqClint", self.qst.as_ref().map(text));
        put(&mut m, "tel1", self.phone1.as_ref().map(text));
        put(&mut m, "tel2", self.phone2.as_ref().map(text));
        put(&mut m, "courl", self.email.as_ref().map(text));
        put_array(
            &mut m,
            "adr",
            self.addresses
                .iter()
                .map(|a| {
                    serde_json::json!({
                        "typAdr": a.kind.code(),
                        "noCiviq": a.civic_number,
                        "rue": a.street,
                        "vil": a.city,
                        "cp": a.postal_code
                    })
                })
                .collect(),
        );
        Value::Object(m)
    }
}

impl Item {
    fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("qte".into(), text(self.quantity));
        m.insert("descr".into(), text(&self.description));
        put(&mut m, "unitr", self.unit_price.map(text));
        m.insert("prix".into(), text(self.price));
        m.insert("tax".into(), text(self.tax));
        m.insert("acti".into(), text(self.activity));
        put_array(
            &mut m,
            "preci",
            self.precisions.iter().map(Precision::to_json).collect(),
        );
        Value::Object(m)
    }
}

impl Precision {
    fn to_json(&self) -> Value {
        let mut m = Map::new();
        put(&mut m, "qte", self.quantity.map(text));
        m.insert("descr".into(), text(&self.description));
        put(&mut m, "unitr", self.unit_price.map(text));
        put(&mut m, "prix", self.price.map(text));
        put(&mut m, "tax", self.tax.map(text));
        m.insert("acti".into(), text(self.activity));
        Value::Object(m)
    }
}

impl Amounts {
    fn to_json(self) -> Value {
        let mut m = Map::new();
        m.insert("avantTax".into(), text(self.before_tax));
        m.insert("TPS".into(), text(self.gst));
        m.insert("TVQ".into(), text(self.qst));
        m.insert("apresTax".into(), text(self.after_tax));
        for (name, value) in [
            ("ajus", self.adjustment),
            ("mtdu", self.due),
            ("versActu", self.instalment),
            ("versAnt", self.earlier_instalments),
            ("sold", self.balance),
            ("pourb", self.tip),
        ] {
            put(&mut m, name, value.map(text));
        }
        Value::Object(m)
    }
}

impl Transaction {
    /// The transaction on the wire: an object for `transActu` or an element of `transLot`.
    pub fn to_json(&self) -> Value {
        let mut m = self.sale.to_json();
        m.insert(
            "signa".into(),
            serde_json::json!({
                "datActu": self.signatures.made_at.to_string(),
                "actu": self.signatures.actu.as_str(),
                "preced": self.signatures.preced.as_str()
            }),
        );
        m.insert("emprCertifSEV".into(), text(&self.thumbprint));
        let s = &self.software;
        m.insert(
            "SEV".into(),
            serde_json::json!({
                "idSEV": s.srs_id.to_string(),
                "idVersi": s.version_id.to_string(),
                "codCertif": s.certification_code.as_str(),
                "idPartn": s.partner_id.to_string(),
                "versi": s.version.as_str(),
                "versiParn": s.parent_version.as_str()
            }),
        );
        Value::Object(m)
    }
}
