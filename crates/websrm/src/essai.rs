//! Certification rehearsal: the certificate test cases of Revenu Québec's published test-case
//! document, run in their required order through the facade, stepping `CASESSAI` as the
//! authority's `casEssai` directs.
//!
//! Case `001` is the SRS's (eight steps over three devices: enrolment with a new device
//! identifier, replacement, deletion, enrolment again with the known identifier, a second
//! device, a second operator on the first device, a back-office SRS on the first device, a
//! third device); case `500` is the server administrator's (enrolment, replacement, deletion,
//! enrolment again). `docs/PROTOCOL.md` lists the steps and the choices made where the
//! published document is unclear.
//!
//! Each device is an [`Srs`] of its own (its own store, its own device identifier), as on the
//! real devices; [`run`] asks the caller to open them.

use websrm_domain::{
    AuthorizationCode, FileNumber, IdentificationNumber, Nickname, QstNumber, Sector, TestCase,
    UtcOffset,
};

use crate::{AuthorityError, Confirmation, DeviceIdAnswer, Error, OperatorEnrolment, Srs};

/// The certificate test cases this module runs.
pub const CASES: [u16; 2] = [1, 500];

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

/// Who a step's certificate is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Holder {
    /// The first operator of the test data (Michel Untel enr.).
    FirstOperator,
    /// The second operator (Express Taxe).
    SecondOperator,
    /// The server administrator.
    ServerAdministrator,
}

/// What a step asks of the authority.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Action {
    /// `AJO` on the enrolment URL; with `new_device`, the device has no identifier yet and
    /// sends `0000-0000-0000`.
    Enrol {
        /// Whether the device asks for its identifier.
        new_device: bool,
    },
    /// `REM` on the certificates URL.
    Replace,
    /// `SUP` on the certificates URL.
    Delete,
}

impl Action {
    /// The request, as a report shows it.
    pub fn request(self) -> &'static str {
        match self {
            Self::Enrol { .. } => "AJO /enrolement",
            Self::Replace => "REM /certificats",
            Self::Delete => "SUP /certificats",
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
    /// The SRS installation on the device (`main`, or `back-office`).
    pub installation: &'static str,
    /// For whom.
    pub holder: Holder,
    /// The certificate's nickname.
    pub nickname: &'static str,
    /// The request.
    pub action: Action,
    /// What the step does, as the test-case document says it.
    pub description: &'static str,
}

/// The steps of test case `case` in their required order, or `None` for a case this module
/// does not run.
pub fn steps(case: u16) -> Option<Vec<Step>> {
    let step = |n: u16,
                device: Device,
                installation: &'static str,
                holder: Holder,
                nickname: &'static str,
                action: Action,
                description: &'static str| Step {
        test_case: TestCase::new(case, n).unwrap_or(TestCase::PRODUCTION),
        device,
        installation,
        holder,
        nickname,
        action,
        description,
    };
    use Action::{Delete, Enrol, Replace};
    use Device::{One, Server, Three, Two};
    use Holder::{FirstOperator, SecondOperator, ServerAdministrator};
    let fresh = Enrol { new_device: true };
    let known = Enrol { new_device: false };
    Some(match case {
        1 => vec![
            step(
                1,
                One,
                "main",
                FirstOperator,
                "Certificat A",
                fresh,
                "add a first certificate on device 1",
            ),
            step(
                2,
                One,
                "main",
                FirstOperator,
                "Certificat A",
                Replace,
                "replace it",
            ),
            step(
                3,
                One,
                "main",
                FirstOperator,
                "Certificat A",
                Delete,
                "delete it",
            ),
            step(
                4,
                One,
                "main",
                FirstOperator,
                "Certificat A",
                known,
                "add a new certificate on device 1, with its identifier",
            ),
            step(
                5,
                Two,
                "main",
                FirstOperator,
                "Certificat B",
                fresh,
                "add a first certificate on device 2",
            ),
            step(
                6,
                One,
                "main",
                SecondOperator,
                "Certificat C",
                known,
                "add a certificate for another operator on device 1",
            ),
            step(
                7,
                One,
                "back-office",
                FirstOperator,
                "Certificat D",
                known,
                "add the certificate of a back-office SRS on device 1",
            ),
            step(
                8,
                Three,
                "main",
                FirstOperator,
                "Certificat E",
                fresh,
                "add a first certificate on device 3",
            ),
        ],
        500 => vec![
            step(
                1,
                Server,
                crate::SERVER_INSTALLATION,
                ServerAdministrator,
                "Certificat du serveur",
                fresh,
                "add the server's certificate",
            ),
            step(
                2,
                Server,
                crate::SERVER_INSTALLATION,
                ServerAdministrator,
                "Certificat du serveur",
                Replace,
                "replace it",
            ),
            step(
                3,
                Server,
                crate::SERVER_INSTALLATION,
                ServerAdministrator,
                "Certificat du serveur",
                Delete,
                "delete it",
            ),
            step(
                4,
                Server,
                crate::SERVER_INSTALLATION,
                ServerAdministrator,
                "Certificat du serveur",
                known,
                "add a new certificate for the server",
            ),
        ],
        _ => return None,
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
        Ok(Self {
            first: OperatorData::new(
                "5678912340".parse()?,
                "D8T8-W8W8".parse()?,
                Sector::Restaurant,
                "5678912340TQ0001".parse()?,
                "ER0001".parse()?,
            ),
            second: OperatorData::new(
                "1234567890".parse()?,
                "W7V7-K8W9".parse()?,
                Sector::Restaurant,
                "1234567890TQ0001".parse()?,
                "ER0001".parse()?,
            ),
            server_identification_number: "3601837200".parse()?,
            server_code: "B8T8-W8W8".parse()?,
            utc_offset: "-05:00".parse()?,
        })
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
}

impl Report {
    /// The failed step, if any (always the last one tried).
    pub fn failure(&self) -> Option<&StepReport> {
        self.steps.iter().find(|s| !s.passed())
    }

    /// The step to redo after a failure: a case starts again at its first step.
    pub fn redo_from(&self) -> Option<TestCase> {
        self.failure()
            .and_then(|f| TestCase::new(f.step.test_case.case(), 1))
    }
}

/// Runs `steps` in order, each on the device [`Srs`] that `device` returns, and stops at the
/// first step that fails. Before each step the device is set to send that step's `CASESSAI`;
/// after it, when the next step to run is the next one of the same case, the `casEssai` of the
/// answer must name it, or the run stops there.
pub async fn run<'a>(
    steps: &[Step],
    data: &TestData,
    mut device: impl FnMut(Device, &'static str) -> Result<&'a Srs, Error>,
) -> Report {
    let mut report = Report::default();
    for (i, step) in steps.iter().enumerate() {
        let outcome = match device(step.device, step.installation) {
            Ok(srs) => run_step(srs, step, data).await,
            Err(e) => Outcome::Failed {
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
            break;
        }
    }
    report
}

async fn run_step(srs: &Srs, step: &Step, data: &TestData) -> Outcome {
    srs.set_test_case(step.test_case);
    match request(srs, step, data).await {
        // The device moved to the step the answer named (`casEssai`); none means the answer
        // named none.
        Ok(()) => {
            let now = srs.test_case();
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
    let nickname: Nickname = step.nickname.parse()?;
    match (step.action, step.holder) {
        (Action::Enrol { .. }, Holder::ServerAdministrator) => srs
            .enrol_server(
                data.server_identification_number.clone(),
                data.server_code.clone(),
                nickname,
                data.utc_offset,
            )
            .await
            .map(drop),
        (Action::Enrol { new_device }, holder) => {
            let operator = match holder {
                Holder::SecondOperator => &data.second,
                _ => &data.first,
            };
            let request = OperatorEnrolment::new(
                operator.identification_number.clone(),
                operator.authorization_code.clone(),
                operator.sector,
                operator.qst_number.clone(),
                operator.file_number.clone(),
                nickname,
                data.utc_offset,
            );
            let answer = match srs.device_id()? {
                None if new_device => Some(DeviceIdAnswer::RequestNew),
                _ => None,
            };
            srs.enrol(&request, answer).await.map(drop)
        }
        (Action::Replace, _) => srs
            .replace(nickname.as_str(), Confirmation::Confirmed)
            .await
            .map(drop),
        (Action::Delete, _) => srs.delete(nickname.as_str(), Confirmation::Confirmed).await,
    }
}
