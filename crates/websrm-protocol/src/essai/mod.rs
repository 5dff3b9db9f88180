//! Certification runs (ESSAI): the test cases of Revenu Québec's test-case document (SW-77)
//! for all four blocks, the run a product must follow given its modes and sectors, and what
//! each step's request must carry.
//!
//! Both ends use it: the authority examines each request against the step it expects and
//! names the next one (`casEssai`), or after a failure the step its block restarts from; the
//! facade shows the step to the tester and sends its `CASESSAI`.
//!
//! ```
//! use websrm_protocol::essai::plan;
//! use websrm_protocol::domain::{ProductMode, Sector};
//!
//! let run = plan(ProductMode::Both, &[Sector::Restaurant]);
//! // A product in both modes starts with the server's certificate, then each block runs the
//! // SRS's cases before the server's.
//! assert_eq!(run.first().test_case().to_string(), "500.001");
//! let cases: Vec<u16> = run.steps().iter().map(|s| s.case()).collect();
//! let at = |c: u16| cases.iter().position(|x| *x == c).unwrap();
//! assert!(at(500) < at(1) && at(1) < at(501) && at(501) < at(2) && at(2) < at(502));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use serde_json::Value;
use websrm_domain::{ProductMode, Sector, TestCase, published};

mod cases;

/// The four blocks of a run, in their order (SW-77 §3.1.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum Block {
    /// Certificates (`enrolement`, `certificats`).
    Certificates,
    /// User accounts (`utilisateur`).
    Users,
    /// Transactions (`transaction`).
    Transactions,
    /// Documents (`document`).
    Documents,
}

impl Block {
    /// Its name in English and in French.
    pub fn name(self) -> (&'static str, &'static str) {
        match self {
            Self::Certificates => ("certificates", "certificats"),
            Self::Users => ("users", "utilisateurs"),
            Self::Transactions => ("transactions", "transactions"),
            Self::Documents => ("documents", "documents"),
        }
    }
}

/// The sectors a step runs in (SW-77 annexe A).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Sectors {
    /// Restaurants only.
    Rbc,
    /// Transportation only.
    Trp,
    /// Both.
    Both,
}

impl Sectors {
    fn includes_any(self, sectors: &[Sector]) -> bool {
        sectors.iter().any(|s| {
            matches!(
                (self, s),
                (Self::Both, Sector::Restaurant | Sector::Transport)
                    | (Self::Rbc, Sector::Restaurant)
                    | (Self::Trp, Sector::Transport)
            )
        })
    }
}

/// Who a step acts for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Holder {
    /// Michel Untel enr.
    FirstOperator,
    /// Express Taxe.
    SecondOperator,
    /// The remote server's administrator.
    ServerAdministrator,
}

impl Holder {
    /// The published identification number (the CSR's `CN`).
    pub fn identification_number(self) -> &'static str {
        self.published().identification_number
    }

    /// The published GST and QST numbers (the server administrator validates the first
    /// operator's).
    pub fn tax_numbers(self) -> (&'static str, &'static str) {
        let operator = match self {
            Self::SecondOperator => published::EXPRESS_TAXE,
            _ => published::MICHEL_UNTEL,
        };
        (
            operator.gst.unwrap_or_default(),
            operator.qst.unwrap_or_default(),
        )
    }

    /// The holder in the published test data.
    pub fn published(self) -> published::PublishedOperator {
        match self {
            Self::FirstOperator => published::MICHEL_UNTEL,
            Self::SecondOperator => published::EXPRESS_TAXE,
            Self::ServerAdministrator => published::SERVER_ADMINISTRATOR,
        }
    }
}

/// The server administrator's identification number in the test data.
pub const SERVER_ADMINISTRATOR: &str = published::SERVER_ADMINISTRATOR.identification_number;

/// The certificate request of a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CertificateAction {
    /// `AJO` on the enrolment URL; with `new_device`, the device asks for its identifier
    /// (`IDAPPRL` `0000-0000-0000`).
    Enrol {
        /// Whether the device has no identifier yet.
        new_device: bool,
    },
    /// `REM` on the certificates URL.
    Replace,
    /// `SUP` on the certificates URL.
    Delete,
}

/// One value a transaction step prescribes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Want {
    /// The field (a path such as `sectActi.typServ`) has one of these values.
    Field(&'static str, &'static [&'static str]),
    /// The field is present.
    Present(&'static str),
    /// The transaction refers to earlier ones (`refs`).
    References,
    /// An offline batch (`transLot`) of at least `at_least` transactions, with a current
    /// transaction (`transActu`) or without.
    Batch {
        /// Whether `transActu` comes with it.
        current: bool,
        /// The fewest transactions in the batch.
        at_least: u8,
    },
}

/// What a step's request must be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Expect {
    /// A certificate request.
    Certificate {
        /// Which.
        action: CertificateAction,
        /// For whom.
        holder: Holder,
        /// The certificate's nickname (`SN`); in the server mode's SRS cases it ends with
        /// " avec serveur".
        key: &'static str,
        /// Whether a remote server sends it (`APPRLINIT` `SRV`).
        server: bool,
    },
    /// A `utilisateur` request.
    User {
        /// `modif`.
        modification: &'static str,
        /// `nomUtil`, when the step names it.
        name: Option<&'static str>,
        /// Whose tax numbers.
        holder: Holder,
        /// Whether a remote server sends it (`APPRLINIT` `SRV`).
        server: bool,
    },
    /// A `transaction` request with these values.
    Transaction(&'static [Want]),
    /// A `document` request of this `typDoc`.
    Document(&'static str),
}

/// A step as the table holds it.
#[derive(Debug)]
struct StepDef {
    n: u8,
    sectors: Sectors,
    expect: Expect,
    pdf: bool,
    en: &'static str,
    fr: &'static str,
}

/// A case and its twin: the SRS mode's number and the server mode's.
#[derive(Debug)]
struct Case {
    srs: Option<u16>,
    server: Option<u16>,
    block: Block,
    en: &'static str,
    fr: &'static str,
    steps: &'static [StepDef],
}

/// One step of a run.
#[derive(Debug, Clone, Copy)]
pub struct Step {
    case: u16,
    def: &'static StepDef,
    of: &'static Case,
}

impl PartialEq for Step {
    fn eq(&self, other: &Self) -> bool {
        self.case == other.case && self.def.n == other.def.n
    }
}

impl Eq for Step {}

impl Step {
    /// The case number (`001`, `501`, `103`…).
    pub fn case(&self) -> u16 {
        self.case
    }

    /// The step number within the case.
    pub fn number(&self) -> u8 {
        self.def.n
    }

    /// `CASESSAI` for this step with print-medium digit 0.
    pub fn test_case(&self) -> TestCase {
        self.test_case_with(0)
    }

    /// `CASESSAI` for this step with the print-medium digit `medium` (0, 2 or 4; see
    /// [`medium_digit`]).
    pub fn test_case_with(&self, medium: u8) -> TestCase {
        let step = u16::from(medium) * 100 + u16::from(self.def.n);
        TestCase::new(self.case, step).unwrap_or(TestCase::PRODUCTION)
    }

    /// Whether `tc` names this step, whatever its print-medium digit.
    pub fn is(&self, tc: TestCase) -> bool {
        tc.case() == self.case && tc.step() % 100 == u16::from(self.def.n)
    }

    /// The block.
    pub fn block(&self) -> Block {
        self.of.block
    }

    /// Whether the step runs in the server mode (cases 5xx and 6xx).
    pub fn server_mode(&self) -> bool {
        self.case >= 500
    }

    /// What the request must be.
    pub fn expect(&self) -> Expect {
        self.def.expect
    }

    /// The sectors the step runs in.
    pub fn sectors(&self) -> Sectors {
        self.def.sectors
    }

    /// Whether the document the step produces is kept as evidence (a PDF named after
    /// `CASESSAI`).
    pub fn keeps_evidence(&self) -> bool {
        self.def.pdf
    }

    /// The case's title and what the tester does, in English.
    pub fn english(&self) -> (&'static str, &'static str) {
        (self.of.en, self.def.en)
    }

    /// The case's title and what the tester does, in French.
    pub fn french(&self) -> (&'static str, &'static str) {
        (self.of.fr, self.def.fr)
    }

    /// The differences between `request` and what the step prescribes, each with the value
    /// expected and the value found: the authority refuses the step with 435E for each.
    /// Examines a request as it came: its body read as JSON here and its CSR's subject, if it
    /// carries a readable one, with websrm-crypto's reading; then [`examine`](Self::examine).
    /// A body that is not JSON has no difference: it is the service's to refuse (200E), and
    /// that fails the step all the same.
    pub fn examine_request(
        &self,
        kind: RequestKind,
        test_case: TestCase,
        headers: &[(String, String)],
        body: &[u8],
        sectors: &[Sector],
    ) -> Vec<Difference> {
        let Ok(body) = serde_json::from_slice::<Value>(body) else {
            return Vec::new();
        };
        let subject: Option<Vec<(&'static str, String)>> = body["reqCertif"]["csr"]
            .as_str()
            .and_then(|csr| websrm_crypto::validate_csr(csr).ok())
            .map(|csr| {
                csr.subject
                    .attributes()
                    .into_iter()
                    .map(|(a, v)| (a.short_name(), v))
                    .collect()
            });
        let mut observed = Observed::new(kind, test_case, headers, &body, sectors);
        if let Some(subject) = &subject {
            observed = observed.with_subject(subject);
        }
        self.examine(&observed)
    }

    /// Examines a request whose body is read already.
    pub fn examine(&self, request: &Observed<'_>) -> Vec<Difference> {
        let mut found = Vec::new();
        let tc = request.test_case;
        match self.def.expect {
            Expect::Certificate {
                action,
                holder,
                key,
                server,
            } => self.examine_certificate(request, action, holder, key, server, &mut found),
            Expect::User {
                modification,
                name,
                holder,
                server,
            } => examine_user(request, modification, name, holder, server, &mut found),
            Expect::Transaction(wants) => examine_transaction(request, wants, &mut found),
            Expect::Document(kind) => {
                let typ = text_at(request.body, &["reqDoc", "typDoc"]);
                if typ != Some(kind) {
                    found.push(Difference::new("typDoc", kind, typ));
                }
            }
        }
        // The print-medium digit: the medium of a transaction; 0 for every other request.
        let digit = u8::try_from(tc.step() / 100).unwrap_or(u8::MAX);
        let medium = match self.def.expect {
            Expect::Transaction(_) => examined_transaction(request.body)
                .and_then(|t| t.get("formImpr"))
                .and_then(Value::as_str)
                .and_then(medium_digit)
                .unwrap_or(0),
            _ => 0,
        };
        if digit != medium {
            found.push(Difference::new(
                "CASESSAI",
                &self.test_case_with(medium).to_string(),
                Some(&tc.to_string()),
            ));
        }
        found
    }

    fn examine_certificate(
        &self,
        request: &Observed<'_>,
        action: CertificateAction,
        holder: Holder,
        key: &str,
        server: bool,
        found: &mut Vec<Difference>,
    ) {
        let modif = text_at(request.body, &["reqCertif", "modif"]);
        let (want_modif, endpoint) = match action {
            CertificateAction::Enrol { .. } => ("AJO", RequestKind::Enrolment),
            CertificateAction::Replace => ("REM", RequestKind::Certificates),
            CertificateAction::Delete => ("SUP", RequestKind::Certificates),
        };
        if modif != Some(want_modif) || request.kind != endpoint {
            found.push(Difference::new("modif", want_modif, modif));
        }
        let initiating = header(request.headers, "APPRLINIT");
        let want_initiating = if server { "SRV" } else { "SEV" };
        if initiating != Some(want_initiating) {
            found.push(Difference::new("APPRLINIT", want_initiating, initiating));
        }
        if let CertificateAction::Enrol { new_device } = action
            && !server
        {
            let device = header(request.headers, "IDAPPRL");
            let zeros = device == Some("0000-0000-0000");
            if new_device != zeros {
                let want = if new_device {
                    "0000-0000-0000"
                } else {
                    "the device's identifier"
                };
                found.push(Difference::new("IDAPPRL", want, device));
            }
        }
        let Some(subject) = request.subject else {
            return;
        };
        let get = |name: &str| {
            subject
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.as_str())
        };
        // The server mode's SRS certificates are the server administrator's, named "… avec
        // serveur"; a server-mode step of the SRS mode's case is the server's as well.
        let server_subject = holder == Holder::ServerAdministrator || self.server_mode() || server;
        let key = if self.server_mode() && holder != Holder::ServerAdministrator {
            format!("{key} avec serveur")
        } else {
            key.to_owned()
        };
        if get("SN") != Some(key.as_str()) {
            found.push(Difference::new("SN", &key, get("SN")));
        }
        let organization = get("O").unwrap_or_default();
        let prefix = organization.split('-').next().unwrap_or_default();
        let prefix_ok = if server_subject {
            prefix == "FOB"
        } else {
            request.sectors.iter().any(|s| s.as_str() == prefix)
        };
        if !prefix_ok {
            let want = if server_subject {
                "FOB-…".to_owned()
            } else {
                request
                    .sectors
                    .iter()
                    .map(|s| format!("{}-…", s.as_str()))
                    .collect::<Vec<_>>()
                    .join(" or ")
            };
            found.push(Difference::new("O", &want, Some(organization)));
        }
        let cn = if server_subject {
            SERVER_ADMINISTRATOR
        } else {
            holder.identification_number()
        };
        if get("CN") != Some(cn) {
            found.push(Difference::new("CN", cn, get("CN")));
        }
    }
}

fn examine_user(
    request: &Observed<'_>,
    modification: &str,
    name: Option<&str>,
    holder: Holder,
    server: bool,
    found: &mut Vec<Difference>,
) {
    let at = |field: &str| text_at(request.body, &["reqUtil", field]);
    if at("modif") != Some(modification) {
        found.push(Difference::new("modif", modification, at("modif")));
    }
    if let Some(name) = name
        && at("nomUtil") != Some(name)
    {
        found.push(Difference::new("nomUtil", name, at("nomUtil")));
    }
    let initiating = header(request.headers, "APPRLINIT");
    let want = if server { "SRV" } else { "SEV" };
    if initiating != Some(want) {
        found.push(Difference::new("APPRLINIT", want, initiating));
    }
    let (gst, qst) = holder.tax_numbers();
    for (field, want) in [("noTPS", gst), ("noTVQ", qst)] {
        let got = text_at(request.body, &["reqUtil", "noTax", field]);
        if got != Some(want) {
            found.push(Difference::new(field, want, got));
        }
    }
}

fn examine_transaction(request: &Observed<'_>, wants: &[Want], found: &mut Vec<Difference>) {
    let req = &request.body["reqTrans"];
    let current = req.get("transActu").filter(|v| v.is_object());
    let batch = req.get("transLot").and_then(Value::as_array);
    let Some(examined) = examined_transaction(request.body) else {
        found.push(Difference::new("transActu", "a transaction", None));
        return;
    };
    for want in wants {
        match *want {
            Want::Field(path, values) => {
                let got = path_value(examined, path);
                if !got.is_some_and(|g| values.contains(&g)) {
                    found.push(Difference::new(path, &values.join(" or "), got));
                }
            }
            Want::Present(path) => {
                let present = path
                    .split('.')
                    .try_fold(examined, |v, k| v.get(k))
                    .is_some();
                if !present {
                    found.push(Difference::new(path, "present", None));
                }
            }
            Want::References => {
                let refs = examined.get("refs").and_then(Value::as_array);
                if refs.is_none_or(Vec::is_empty) {
                    found.push(Difference::new("refs", "a reference", None));
                }
            }
            Want::Batch {
                current: with_current,
                at_least,
            } => {
                let n = batch.map_or(0, Vec::len);
                if n < usize::from(at_least) {
                    found.push(Difference::new(
                        "transLot",
                        &format!("{at_least} transactions or more"),
                        Some(&format!("{n}")),
                    ));
                }
                if current.is_some() != with_current {
                    let (want, got) = if with_current {
                        ("a current transaction", None)
                    } else {
                        ("none: the batch alone", Some("a current transaction"))
                    };
                    found.push(Difference::new("transActu", want, got));
                }
            }
        }
    }
}

/// The transaction a step's values are read from: the current one, or the newest of a batch
/// sent alone.
fn examined_transaction(body: &Value) -> Option<&Value> {
    let req = body.get("reqTrans")?;
    req.get("transActu")
        .filter(|v| v.is_object())
        .or_else(|| req.get("transLot")?.as_array()?.first())
}

fn path_value<'a>(value: &'a Value, path: &str) -> Option<&'a str> {
    path.split('.')
        .try_fold(value, |v, k| v.get(k))
        .and_then(Value::as_str)
}

fn text_at<'a>(value: &'a Value, path: &[&str]) -> Option<&'a str> {
    path.iter()
        .try_fold(value, |v, k| v.get(*k))
        .and_then(Value::as_str)
}

fn header<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// The print-medium digit of `formImpr` (SW-77 §2.2): 0 for paper or not printed, 2 for
/// electronic, 4 for both.
pub fn medium_digit(form: &str) -> Option<u8> {
    match form {
        "PAP" | "NON" => Some(0),
        "ELE" => Some(2),
        "PEL" => Some(4),
        _ => None,
    }
}

/// Which URL a request came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RequestKind {
    /// `/enrolement`.
    Enrolment,
    /// `/certificats`.
    Certificates,
    /// `/utilisateur`.
    User,
    /// `/transaction`.
    Transaction,
    /// `/document`.
    Document,
}

/// A request as the examiner sees it.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct Observed<'a> {
    /// The URL.
    pub kind: RequestKind,
    /// `CASESSAI`.
    pub test_case: TestCase,
    /// The headers as received.
    pub headers: &'a [(String, String)],
    /// The body.
    pub body: &'a Value,
    /// The CSR's subject (short names and values), when the request carries a readable CSR.
    pub subject: Option<&'a [(&'static str, String)]>,
    /// The product's sectors.
    pub sectors: &'a [Sector],
}

impl<'a> Observed<'a> {
    /// A request to examine.
    pub fn new(
        kind: RequestKind,
        test_case: TestCase,
        headers: &'a [(String, String)],
        body: &'a Value,
        sectors: &'a [Sector],
    ) -> Self {
        Self {
            kind,
            test_case,
            headers,
            body,
            subject: None,
            sectors,
        }
    }

    /// The same with the CSR's subject.
    #[must_use]
    pub fn with_subject(mut self, subject: &'a [(&'static str, String)]) -> Self {
        self.subject = Some(subject);
        self
    }
}

/// A value that differs from the step's.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Difference {
    /// The field or header.
    pub field: String,
    /// What the step prescribes.
    pub expected: String,
    /// What the request has (`None`: absent).
    pub found: Option<String>,
}

impl Difference {
    fn new(field: &str, expected: &str, found: Option<&str>) -> Self {
        Self {
            field: field.to_owned(),
            expected: expected.to_owned(),
            found: found.map(str::to_owned),
        }
    }
}

impl std::fmt::Display for Difference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.found {
            Some(v) => write!(f, "{}: {} expected, {v} found", self.field, self.expected),
            None => write!(f, "{}: {} expected, absent", self.field, self.expected),
        }
    }
}

/// The steps of a product's run, in order, for its modes and sectors.
#[derive(Debug, Clone)]
pub struct Plan {
    steps: Vec<Step>,
}

/// `999.999`: the run is over; the certification request follows.
pub const FINISHED: TestCase = match TestCase::new(999, 999) {
    Some(tc) => tc,
    None => TestCase::PRODUCTION,
};

/// The run of a product registered with `mode` and `sectors` (SW-77 §3.1, annexe A): the
/// blocks in order; within a block, the SRS mode's cases before the server mode's; a product
/// with the server mode starts with the server's certificate (case 500); only the steps of the
/// product's sectors.
pub fn plan(mode: ProductMode, sectors: &[Sector]) -> Plan {
    let mut steps = Vec::new();
    let mut push = |case: &'static Case, number: u16| {
        for def in case.steps {
            if def.sectors.includes_any(sectors) {
                steps.push(Step {
                    case: number,
                    def,
                    of: case,
                });
            }
        }
    };
    if mode.has_server()
        && let Some(first) = cases::CASES.iter().find(|c| c.server == Some(500))
    {
        push(first, 500);
    }
    for block in [
        Block::Certificates,
        Block::Users,
        Block::Transactions,
        Block::Documents,
    ] {
        let of_block = || cases::CASES.iter().filter(move |c| c.block == block);
        if mode.has_srs() {
            for case in of_block() {
                if let Some(n) = case.srs {
                    push(case, n);
                }
            }
        }
        if mode.has_server() {
            for case in of_block() {
                if let Some(n) = case.server.filter(|n| *n != 500) {
                    push(case, n);
                }
            }
        }
    }
    Plan { steps }
}

impl Plan {
    /// Every step, in order.
    pub fn steps(&self) -> &[Step] {
        &self.steps
    }

    /// The first step: sending it again starts the run over.
    pub fn first(&self) -> Step {
        self.steps[0]
    }

    /// The step `tc` names, if the run has it.
    pub fn find(&self, tc: TestCase) -> Option<Step> {
        self.steps.iter().copied().find(|s| s.is(tc))
    }

    /// The step after `step`, or `None` at the end of the run ([`FINISHED`]).
    pub fn next(&self, step: Step) -> Option<Step> {
        let i = self.steps.iter().position(|s| *s == step)?;
        self.steps.get(i + 1).copied()
    }

    /// Where a failed `step` sends the run back: the first step of its block (SW-77 §3.1.3).
    pub fn restart(&self, step: Step) -> Step {
        self.steps
            .iter()
            .copied()
            .find(|s| s.block() == step.block())
            .unwrap_or(step)
    }

    /// The cases the run has, in its order.
    pub fn cases(&self) -> Vec<u16> {
        let mut out: Vec<u16> = Vec::new();
        for s in &self.steps {
            if out.last() != Some(&s.case) {
                out.push(s.case);
            }
        }
        out
    }
}

/// The step `tc` names in any run, whatever the product: to describe a step to a tester.
pub fn step_of(tc: TestCase) -> Option<Step> {
    cases::CASES.iter().find_map(|case| {
        let number = tc.case();
        (case.srs == Some(number) || case.server == Some(number))
            .then(|| {
                case.steps
                    .iter()
                    .find(|d| u16::from(d.n) == tc.step() % 100)
                    .map(|def| Step {
                        case: number,
                        def,
                        of: case,
                    })
            })
            .flatten()
    })
}

#[cfg(test)]
mod tests;
