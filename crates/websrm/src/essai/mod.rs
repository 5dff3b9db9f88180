//! Certification rehearsal: the certificate and user blocks of a product's run (Revenu
//! Québec's test-case document, SW-77 §3.2 and §3.3), run through the facade in the order the
//! run requires, stepping `CASESSAI` as the authority's `casEssai` directs.
//!
//! The run is chosen from the product's modes and sector ([`websrm_protocol::essai::plan`]):
//! a product with the server mode starts with case 500 (the server's certificate); the SRS
//! mode's case 001 comes before the server mode's 501; step 008 (a third device) is the
//! restaurants' only. `docs/PROTOCOL.md` lists the steps and the choices made where the
//! published document is unclear or contradicts itself.
//!
//! Each device is an [`Srs`] of its own (its own store, its own device identifier), as on the
//! real devices; [`run`] asks the caller to open them by [`Step::store`] and
//! [`Step::installation`].

use websrm_domain::{
    AuthorizationCode, FileNumber, IdentificationNumber, Nickname, ProductMode, QstNumber, Sector,
    TestCase, UtcOffset,
};
use websrm_protocol::essai::{self as cases, CertificateAction, Expect, Want};

mod rehearsal;

pub use rehearsal::sample_document;

use crate::{
    AuthorityError, Confirmation, DeviceIdAnswer, Error, OperatorEnrolment, SERVER_INSTALLATION,
    Srs,
};

/// A device of the test cases.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Device {
    /// The first device ("appareil 1").
    One,
    /// The second device.
    Two,
    /// The third device.
    Three,
    /// The remote server of the server administrator.
    Server,
}

impl Device {
    /// Its name in reports.
    pub fn name(self) -> &'static str {
        match self {
            Self::One => "device 1",
            Self::Two => "device 2",
            Self::Three => "device 3",
            Self::Server => "server",
        }
    }
}

/// Who a step is for: the first operator of the test data (Michel Untel enr.), the second
/// (Express Taxe), or the server administrator.
pub use websrm_protocol::essai::Holder;

/// What a step asks of the authority.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Action {
    /// `AJO` on the enrolment URL for the holder's SRS; with `new_device`, the device has no
    /// identifier yet and sends `0000-0000-0000`.
    Enrol {
        /// Whether the device asks for its identifier.
        new_device: bool,
    },
    /// `AJO` from the remote server (`APPRLINIT` `SRV`, no device identifier), with the server
    /// administrator's subject.
    EnrolServer,
    /// `AJO` from the device in the server mode: the server administrator's subject with the
    /// device's identifier (case 501).
    EnrolInServerMode {
        /// Whether the device asks for its identifier.
        new_device: bool,
    },
    /// `REM` on the certificates URL.
    Replace,
    /// `SUP` on the certificates URL.
    Delete,
    /// `utilisateur` `AJO`: declare the user [`Step::nickname`].
    AddUser,
    /// `utilisateur` `SUP`: remove the user [`Step::nickname`].
    RemoveUser,
    /// `utilisateur` `VAL` from the remote server: the first operator's tax numbers.
    ValidateTaxNumbers,
    /// `transaction`: websrm's sample bill with what the step prescribes (and, for an offline
    /// step, its batch kept first while the authority could not be reached).
    Transmit(&'static [Want]),
    /// `document` of this `typDoc`, signed.
    SendDocument(&'static str),
}

impl Action {
    /// The request, as a report shows it.
    pub fn request(self) -> &'static str {
        match self {
            Self::Enrol { .. } | Self::EnrolInServerMode { .. } => "AJO /enrolement",
            Self::EnrolServer => "AJO /enrolement SRV",
            Self::Replace => "REM /certificats",
            Self::Delete => "SUP /certificats",
            Self::AddUser => "AJO /utilisateur",
            Self::RemoveUser => "SUP /utilisateur",
            Self::ValidateTaxNumbers => "VAL /utilisateur SRV",
            Self::Transmit(_) => "/transaction",
            Self::SendDocument(_) => "/document",
        }
    }
}

/// One step of a test case.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Step {
    /// `CASESSAI`.
    pub test_case: TestCase,
    /// On which device.
    pub device: Device,
    /// Which store: one per device, and in the server mode one per device of the server's
    /// (`device-1`, `server-mode-device-1`, `server`…).
    pub store: &'static str,
    /// The SRS installation in that store (`main`, the server's, or `second-operator`).
    pub installation: &'static str,
    /// The block: `certificates` or `users`.
    pub block: &'static str,
    /// For whom.
    pub holder: Holder,
    /// The certificate's nickname, or the user's name.
    pub nickname: String,
    /// The request.
    pub action: Action,
    /// What the step does, as the test-case document says it.
    pub description: &'static str,
}

/// The steps of the certificate and user blocks of the run of a product registered with `mode`
/// in `sectors`, in the run's order (500, 001, 501, then 002, 570, 502, as the modes and the
/// sector have them).
pub fn steps(mode: ProductMode, sectors: &[Sector]) -> Vec<Step> {
    cases::plan(mode, sectors)
        .steps()
        .iter()
        .filter_map(|s| step_of(*s))
        .collect()
}

/// The transaction and document steps of the run of a product registered with `mode` in
/// `sectors`, in the run's order, each rehearsed with websrm's own sample bill or document from
/// device 1 (the examiner does not compare the device): in the SRS mode, device 1 signs and
/// sends; in the server mode (cases 5xx and 6xx), device 1 signs with its server-mode
/// certificate and the remote server sends ([`Step::relayed_by`]).
pub fn rehearsal(mode: ProductMode, sectors: &[Sector]) -> Vec<Step> {
    cases::plan(mode, sectors)
        .steps()
        .iter()
        .filter_map(|s| {
            let (block, action, nickname) = match s.expect() {
                Expect::Transaction(wants) => {
                    let kind = wants
                        .iter()
                        .find_map(|w| match w {
                            Want::Field("typTrans", values) => Some(values[0]),
                            _ => None,
                        })
                        .unwrap_or("RFER");
                    ("transactions", Action::Transmit(wants), kind)
                }
                Expect::Document(kind) => ("documents", Action::SendDocument(kind), kind),
                _ => return None,
            };
            Some(Step {
                test_case: s.test_case(),
                device: Device::One,
                store: if s.server_mode() {
                    "server-mode-device-1"
                } else {
                    "device-1"
                },
                installation: "main",
                block,
                holder: Holder::FirstOperator,
                nickname: nickname.to_owned(),
                action,
                description: s.english().1,
            })
        })
        .collect()
}

impl Step {
    /// The store and installation of the remote server that sends what this step's device
    /// signs: for the transaction and document steps of the server mode (cases 5xx and 6xx).
    pub fn relayed_by(&self) -> Option<(&'static str, &'static str)> {
        let relayed = matches!(self.action, Action::Transmit(_) | Action::SendDocument(_))
            && cases::step_of(self.test_case).is_some_and(|s| s.server_mode());
        relayed.then_some(("server", SERVER_INSTALLATION))
    }
}

fn step_of(s: cases::Step) -> Option<Step> {
    match s.expect() {
        Expect::Certificate {
            action,
            holder,
            key,
            server,
        } => certificate_step(s, action, holder, key, server),
        Expect::User {
            modification,
            name,
            holder,
            server,
        } => user_step(s, modification, name, holder, server),
        _ => None,
    }
}

fn user_step(
    s: cases::Step,
    modification: &str,
    name: Option<&'static str>,
    holder: Holder,
    server: bool,
) -> Option<Step> {
    let server_mode = s.server_mode();
    let (device, store) = match (s.case(), s.number()) {
        (570, _) => (Device::Server, "server"),
        (_, 5) if server_mode => (Device::Two, "server-mode-device-2"),
        (_, 5) => (Device::Two, "device-2"),
        _ if server_mode => (Device::One, "server-mode-device-1"),
        _ => (Device::One, "device-1"),
    };
    // A server's validation is of the first operator's numbers.
    let holder = match holder {
        Holder::SecondOperator => Holder::SecondOperator,
        _ => Holder::FirstOperator,
    };
    let installation = match holder {
        _ if server => SERVER_INSTALLATION,
        Holder::SecondOperator if server_mode => "second-operator",
        _ => "main",
    };
    let action = match modification {
        "AJO" => Action::AddUser,
        "SUP" => Action::RemoveUser,
        _ => Action::ValidateTaxNumbers,
    };
    Some(Step {
        test_case: s.test_case(),
        device,
        store,
        installation,
        block: "users",
        holder,
        nickname: name.unwrap_or("-").to_owned(),
        action,
        description: s.english().1,
    })
}

fn certificate_step(
    s: cases::Step,
    action: CertificateAction,
    holder: Holder,
    key: &str,
    server: bool,
) -> Option<Step> {
    let server_mode = s.server_mode();
    let device = match (holder, s.number()) {
        (Holder::ServerAdministrator, _) => Device::Server,
        (_, 5) => Device::Two,
        (_, 8) => Device::Three,
        _ => Device::One,
    };
    let store = match (device, server_mode) {
        (Device::Server, _) => "server",
        (Device::One, false) => "device-1",
        (Device::Two, false) => "device-2",
        (Device::Three, false) => "device-3",
        (Device::One, true) => "server-mode-device-1",
        (Device::Two, true) => "server-mode-device-2",
        (Device::Three, true) => "server-mode-device-3",
    };
    let action = match action {
        CertificateAction::Replace => Action::Replace,
        CertificateAction::Delete => Action::Delete,
        CertificateAction::Enrol { .. } if server || holder == Holder::ServerAdministrator => {
            Action::EnrolServer
        }
        CertificateAction::Enrol { new_device } if server_mode => {
            Action::EnrolInServerMode { new_device }
        }
        CertificateAction::Enrol { new_device } => Action::Enrol { new_device },
        _ => return None,
    };
    // In the server mode every certificate has the server administrator's number: the second
    // operator's is kept apart from the first's on the same device.
    let installation = match (action, holder) {
        (Action::EnrolServer, _) => SERVER_INSTALLATION,
        _ if holder == Holder::ServerAdministrator => SERVER_INSTALLATION,
        (_, Holder::SecondOperator) if server_mode => "second-operator",
        _ => "main",
    };
    let nickname = if server_mode && holder != Holder::ServerAdministrator {
        format!("{key} avec serveur")
    } else {
        key.to_owned()
    };
    Some(Step {
        test_case: s.test_case(),
        device,
        store,
        installation,
        block: "certificates",
        holder,
        nickname,
        action,
        description: s.english().1,
    })
}

/// A step of a certification run as the tester needs it in the point of sale: what to do and
/// with which data, in French and English, and the document to keep as evidence.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Assignment {
    /// `CASESSAI`.
    pub test_case: TestCase,
    /// The block, in English (`certificates`, `users`, `transactions`, `documents`; `end` at
    /// `999.999`).
    pub block: &'static str,
    /// Whether the step runs in the server mode (cases 5xx and 6xx).
    pub server_mode: bool,
    /// The case's title and what to do, in English.
    pub english: (&'static str, &'static str),
    /// The same in French.
    pub french: (&'static str, &'static str),
    /// The file to save the document the step produces as (`011.201.pdf`), when the step asks
    /// for it.
    pub keep_document: Option<String>,
}

/// The step `test_case` names, described; `None` for `000.000` and steps no case has.
pub fn assignment(test_case: TestCase) -> Option<Assignment> {
    if test_case == cases::FINISHED {
        return Some(Assignment {
            test_case,
            block: "end",
            server_mode: false,
            english: (
                "End of the run",
                "Request the certification in \"Mon dossier pour les partenaires – Facturation \
                 obligatoire\", with the documents kept.",
            ),
            french: (
                "Fin de l'essai",
                "Demander la certification dans « Mon dossier pour les partenaires – Facturation \
                 obligatoire », avec les documents conservés.",
            ),
            keep_document: None,
        });
    }
    let step = cases::step_of(test_case)?;
    Some(Assignment {
        test_case,
        block: step.block().name().0,
        server_mode: step.server_mode(),
        english: step.english(),
        french: step.french(),
        keep_document: step.keeps_evidence().then(|| format!("{test_case}.pdf")),
    })
}

/// The test data the steps enter: the published operators and server administrator, with the
/// authorization codes the authority knows them by.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TestData {
    /// The first operator (Michel Untel enr.).
    pub first: OperatorData,
    /// The second operator (Express Taxe).
    pub second: OperatorData,
    /// The server administrator's identification number.
    pub server_identification_number: IdentificationNumber,
    /// The server administrator's authorization code.
    pub server_code: AuthorizationCode,
    /// The UTC offset of every subject.
    pub utc_offset: UtcOffset,
}

/// An operator of the test data.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct OperatorData {
    /// The identification number (CN).
    pub identification_number: IdentificationNumber,
    /// The authorization code.
    pub authorization_code: AuthorizationCode,
    /// The sector.
    pub sector: Sector,
    /// The QST number.
    pub qst_number: QstNumber,
    /// The file number.
    pub file_number: FileNumber,
}

impl OperatorData {
    /// An operator's values.
    pub fn new(
        identification_number: IdentificationNumber,
        authorization_code: AuthorizationCode,
        sector: Sector,
        qst_number: QstNumber,
        file_number: FileNumber,
    ) -> Self {
        Self {
            identification_number,
            authorization_code,
            sector,
            qst_number,
            file_number,
        }
    }
}

impl TestData {
    /// The published test data of the restaurant sector (the codes of the second operator
    /// and of a local websrm authority's test data where the document leaves them out).
    pub fn restaurant() -> Result<Self, Error> {
        Self::of(Sector::Restaurant)
    }

    /// The published test data of the transportation sector (`TRP-58T8-W8W8`, file `TR0001`,
    /// the server's `FOB-A8T8-W8W8`; the second operator's code is a local websrm authority's
    /// test data).
    pub fn transport() -> Result<Self, Error> {
        Self::of(Sector::Transport)
    }

    /// The test data of `sector`, from `websrm_domain::published`.
    fn of(sector: Sector) -> Result<Self, Error> {
        use websrm_domain::published::{self, PublishedOperator};
        let missing = |what: &str| Error::NotFound(format!("{what} in the published test data"));
        let operator = |op: PublishedOperator| -> Result<OperatorData, Error> {
            Ok(OperatorData::new(
                op.identification_number.parse()?,
                op.code(sector)
                    .ok_or_else(|| missing("an authorization code"))?
                    .parse()?,
                sector,
                op.qst.ok_or_else(|| missing("a QST number"))?.parse()?,
                op.file(sector)
                    .ok_or_else(|| missing("a file number"))?
                    .parse()?,
            ))
        };
        let server = published::SERVER_ADMINISTRATOR;
        Ok(Self {
            first: operator(published::MICHEL_UNTEL)?,
            second: operator(published::EXPRESS_TAXE)?,
            server_identification_number: server.identification_number.parse()?,
            server_code: server
                .code(sector)
                .ok_or_else(|| missing("a server code"))?
                .parse()?,
            utc_offset: "-05:00".parse()?,
        })
    }

    /// The published test data of `sector` (restaurants unless transportation).
    pub fn of_sector(sector: Sector) -> Result<Self, Error> {
        match sector {
            Sector::Transport => Self::transport(),
            _ => Self::restaurant(),
        }
    }

    /// The same data with another authorization code for the first operator, the second
    /// operator, or the server administrator.
    pub fn with_codes(
        mut self,
        first: Option<AuthorizationCode>,
        second: Option<AuthorizationCode>,
        server: Option<AuthorizationCode>,
    ) -> Self {
        if let Some(code) = first {
            self.first.authorization_code = code;
        }
        if let Some(code) = second {
            self.second.authorization_code = code;
        }
        if let Some(code) = server {
            self.server_code = code;
        }
        self
    }
}

/// How a step went.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outcome {
    /// The authority accepted it and named the next step (`casEssai`), if it did.
    Passed {
        /// `casEssai` of the answer.
        next: Option<TestCase>,
    },
    /// The authority refused it, or it could not be sent.
    Failed {
        /// The authority's errors, if it answered with some.
        errors: Vec<AuthorityError>,
        /// What went wrong, in words.
        reason: String,
    },
}

/// The report of one step.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct StepReport {
    /// The step.
    pub step: Step,
    /// How it went.
    pub outcome: Outcome,
}

impl StepReport {
    /// Whether the step passed.
    pub fn passed(&self) -> bool {
        matches!(self.outcome, Outcome::Passed { .. })
    }
}

/// The report of a run: every step tried, in order; a run stops at the first failed step.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Report {
    /// The steps tried.
    pub steps: Vec<StepReport>,
    /// Where the failed step's block starts over: the first step of its block among the steps
    /// run.
    pub block_start: Option<TestCase>,
}

impl Report {
    /// The failed step, if any (always the last one tried).
    pub fn failure(&self) -> Option<&StepReport> {
        self.steps.iter().find(|s| !s.passed())
    }

    /// The step to redo after a failure: the authority sends a failed run back to the first
    /// step of its block.
    pub fn redo_from(&self) -> Option<TestCase> {
        self.failure().and(self.block_start)
    }
}

/// Runs `steps` in order, each on the [`Srs`] that `device` returns for its store and
/// installation, and stops at the first step that fails. Before each step the device is set to
/// send that step's `CASESSAI`; after it, when the next step to run is the next one of the same
/// case, the `casEssai` of the answer must name it, or the run stops there.
pub async fn run<'a>(
    steps: &[Step],
    data: &TestData,
    mut device: impl FnMut(&'static str, &'static str) -> Result<&'a Srs, Error>,
) -> Report {
    let mut report = Report::default();
    let mut rehearsal = rehearsal::Rehearsal::default();
    for (i, step) in steps.iter().enumerate() {
        // Who sends: the device, or in the server mode the remote server. An offline step's
        // batch is kept by the same sender while the authority is away.
        let (sender_store, sender_installation) =
            step.relayed_by().unwrap_or((step.store, step.installation));
        let offline = match step.action {
            Action::Transmit(wants) if wants.iter().any(|w| matches!(w, Want::Batch { .. })) => {
                device(offline_store(sender_store), sender_installation).ok()
            }
            _ => None,
        };
        let server = match step.relayed_by() {
            Some((store, installation)) => device(store, installation).map(Some),
            None => Ok(None),
        };
        let outcome = match (device(step.store, step.installation), server) {
            (Ok(srs), Ok(server)) => {
                let route = rehearsal::Route {
                    device: srs,
                    server,
                    offline,
                };
                run_step(route, &mut rehearsal, step, data).await
            }
            (Err(e), _) | (_, Err(e)) => Outcome::Failed {
                errors: Vec::new(),
                reason: e.to_string(),
            },
        };
        let outcome = match outcome {
            Outcome::Passed { next } => {
                // Only a run of consecutive steps is checked here; a skipped step is the
                // authority's to refuse (014E).
                let following = steps.get(i + 1).map(|s| s.test_case).filter(|t| {
                    t.case() == step.test_case.case() && t.step() == step.test_case.step() + 1
                });
                match (following, next) {
                    (Some(expected), Some(next)) if next != expected => Outcome::Failed {
                        errors: Vec::new(),
                        reason: format!(
                            "the authority directs to {next} where the case continues with {expected}"
                        ),
                    },
                    _ => Outcome::Passed { next },
                }
            }
            failed => failed,
        };
        let passed = matches!(outcome, Outcome::Passed { .. });
        report.steps.push(StepReport {
            step: step.clone(),
            outcome,
        });
        if !passed {
            report.block_start = steps
                .iter()
                .find(|s| s.block == step.block)
                .map(|s| s.test_case);
            break;
        }
    }
    report
}

/// The store name under which [`run`] asks for `store` as while the authority cannot be
/// reached (`device-1#offline`), to keep an offline step's bills: the caller opens the same
/// store with an authority address that does not answer.
pub fn offline_store(store: &'static str) -> &'static str {
    match store {
        "device-1" => "device-1#offline",
        "device-2" => "device-2#offline",
        "device-3" => "device-3#offline",
        "server" => "server#offline",
        other => other,
    }
}

async fn run_step(
    route: rehearsal::Route<'_>,
    rehearsal: &mut rehearsal::Rehearsal,
    step: &Step,
    data: &TestData,
) -> Outcome {
    let srs = route.device;
    let sender = route.sender();
    srs.set_test_case(step.test_case);
    sender.set_test_case(step.test_case);
    let answer = match step.action {
        Action::Transmit(wants) => rehearsal.transmit(&route, data, wants).await,
        Action::SendDocument(kind) => rehearsal::document(&route, data, kind).await,
        _ => request(srs, step, data).await,
    };
    match answer {
        // The sender moved to the step the answer named (`casEssai`); none means the answer
        // named none.
        Ok(()) => {
            let now = sender.test_case();
            Outcome::Passed {
                next: (now != step.test_case).then_some(now),
            }
        }
        Err(Error::Refused { errors, .. }) => Outcome::Failed {
            reason: errors
                .iter()
                .map(|e| format!("{} {}", e.id, e.message))
                .collect::<Vec<_>>()
                .join("; "),
            errors,
        },
        Err(e) => Outcome::Failed {
            errors: Vec::new(),
            reason: e.to_string(),
        },
    }
}

async fn request(srs: &Srs, step: &Step, data: &TestData) -> Result<(), Error> {
    // A certificate step names its certificate; a user step its user.
    let nickname = || step.nickname.parse::<Nickname>();
    let answer = |new_device: bool| -> Result<Option<DeviceIdAnswer>, Error> {
        Ok(match srs.device_id()? {
            None if new_device => Some(DeviceIdAnswer::RequestNew),
            _ => None,
        })
    };
    match step.action {
        Action::EnrolServer => srs
            .enrol_server(
                data.server_identification_number.clone(),
                data.server_code.clone(),
                nickname()?,
                data.utc_offset,
            )
            .await
            .map(drop),
        Action::EnrolInServerMode { new_device } => srs
            .enrol_in_server_mode(
                data.server_identification_number.clone(),
                data.server_code.clone(),
                nickname()?,
                data.utc_offset,
                answer(new_device)?,
            )
            .await
            .map(drop),
        Action::Enrol { new_device } => {
            let operator = match step.holder {
                Holder::SecondOperator => &data.second,
                _ => &data.first,
            };
            let request = OperatorEnrolment::new(
                operator.identification_number.clone(),
                operator.authorization_code.clone(),
                operator.sector,
                operator.qst_number.clone(),
                operator.file_number.clone(),
                nickname()?,
                data.utc_offset,
            );
            srs.enrol(&request, answer(new_device)?).await.map(drop)
        }
        Action::Replace => srs
            .replace(&nickname()?, Confirmation::Confirmed)
            .await
            .map(drop),
        Action::Delete => srs.delete(&nickname()?, Confirmation::Confirmed).await,
        Action::AddUser | Action::RemoveUser | Action::ValidateTaxNumbers => {
            user_request(srs, step, data).await
        }
        Action::Transmit(_) | Action::SendDocument(_) => Err(Error::BadAnswer(
            "a rehearsal step is run by the rehearsal".into(),
        )),
    }
}

async fn user_request(srs: &Srs, step: &Step, data: &TestData) -> Result<(), Error> {
    let (gst, qst) = step.holder.tax_numbers();
    let (gst, qst) = (gst.parse()?, qst.parse()?);
    // In the server mode every certificate of the device is the server administrator's.
    let operator = if step.store.starts_with("server-mode") {
        &data.server_identification_number
    } else {
        match step.holder {
            Holder::SecondOperator => &data.second.identification_number,
            _ => &data.first.identification_number,
        }
    };
    let answer = match step.action {
        Action::AddUser => srs.add_user(operator, &step.nickname, gst, qst).await?,
        Action::RemoveUser => {
            srs.remove_user(operator, &step.nickname, gst, qst, Confirmation::Confirmed)
                .await?
        }
        _ => {
            srs.validate_tax_numbers(&data.server_identification_number, gst, qst)
                .await?
        }
    };
    if answer.valid() {
        Ok(())
    } else {
        Err(Error::BadAnswer(format!(
            "the authority found the tax numbers invalid (GST {}, QST {})",
            if answer.gst_valid { "VAL" } else { "INV" },
            if answer.qst_valid { "VAL" } else { "INV" }
        )))
    }
}
