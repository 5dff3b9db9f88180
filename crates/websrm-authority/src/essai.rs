//! The ESSAI examiner: a certification run per product version, as Revenu Québec's ESSAI
//! environment holds it (SW-77 §3.1).
//!
//! A request in ESSAI whose headers name a registered product version is a step of that
//! product's run ([`websrm_protocol::essai::plan`]: the cases of its modes and sectors, in the
//! guide's order). Sending the run's first step starts the run over. Any other step must be the
//! one the run expects (014E; a case the run does not have is 013E); its content must be what
//! the step prescribes (435E for each value that differs); then the service answers it. Every
//! answer carries `casEssai`: the next step when the step passed, the first step of its block
//! when it failed (the block starts over), `999.999` after the last. Every request and answer
//! of a run is kept in the registry as evidence, with where the run stands, so that a run
//! survives restarts and is shared by processes on one PostgreSQL database.

use std::sync::Mutex;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use websrm_domain::{Environment, TestCase, VersionState};
use websrm_protocol::catalogue::ErrorCode as E;
use websrm_protocol::document::{DocumentResponseBody, RetourDoc};
use websrm_protocol::essai::{self, FINISHED, Plan, RequestKind, Step};
use websrm_protocol::user::{RetourUtil, UserResponseBody};
use websrm_protocol::wire::{
    CertificateResponseBody, JSON_VERSION, RetourCertif, RetourTrans, RetourTransActu,
    TransactionResponseBody, WireError,
};
use websrm_registry::NewAudit;
use websrm_registry::{EssaiExchange, EssaiMove, EssaiSession, ProductKey};

use crate::service::{Endpoint, Request, Response};

/// One examination at a time in a process: a step is read, answered and recorded before the
/// next request of any run is read.
#[derive(Debug, Default)]
pub(crate) struct Examiner {
    turn: Mutex<()>,
}

/// The ESSAI examiner: a part of the authority over the shared core, the context checks and the
/// examiner's turn (one request of a run examined at a time), which examines a request of a
/// product's certification run as its step before the service answers it, and tells where a
/// run stands. Through [`crate::Authority::essai`].
#[derive(Clone, Copy)]
pub struct Essai<'a> {
    pub(crate) core: &'a crate::core::Core,
    pub(crate) context: crate::context::Context<'a>,
    pub(crate) examiner: &'a Examiner,
}

impl std::fmt::Debug for Essai<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Essai")
            .field("environment", &self.core.environment)
            .finish_non_exhaustive()
    }
}

/// What the examiner decided before the service answers.
enum Decision {
    /// The request is this step of the run; the run moves from `how`.
    Step(Step, EssaiMove),
    /// Refused without examining: `error` (013E, 014E), the run expecting `expected`.
    Refused {
        error: E,
        expected: TestCase,
        run: Option<i64>,
    },
}

fn header<'a>(request: &'a Request, name: &str) -> Option<&'a str> {
    request
        .headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

fn kind_of(endpoint: Endpoint) -> RequestKind {
    match endpoint {
        Endpoint::Enrolment => RequestKind::Enrolment,
        Endpoint::Certificates => RequestKind::Certificates,
        Endpoint::Transaction => RequestKind::Transaction,
        Endpoint::User => RequestKind::User,
        Endpoint::Document => RequestKind::Document,
    }
}

impl Essai<'_> {
    /// Whether the examiner may take `request` as a step of a run: an ESSAI request to an
    /// authority of the conformity environments (which steps it is, the registry tells).
    pub(crate) fn may_examine(&self, request: &Request) -> bool {
        self.core.environment.is_conformity() && header(request, "ENVIRN") == Some("ESSAI")
    }

    /// The answer of the examiner, when `request` is a step of a product's ESSAI run; `None`
    /// when it is not (another environment, `000.000`, headers that do not name a registered
    /// version: the service refuses those as usual).
    /// `answer` is the service's answer, asked for when the request is the step it claims.
    pub(crate) fn examine(
        &self,
        request: &Request,
        answer: impl FnOnce(&Request) -> Response,
    ) -> Option<Response> {
        if !self.may_examine(request) {
            return None;
        }
        let tc: TestCase = header(request, "CASESSAI")?.parse().ok()?;
        if tc.is_production() {
            return None;
        }
        let key = ProductKey::new(
            header(request, "IDPARTN")?.parse().ok()?,
            header(request, "IDSEV")?.parse().ok()?,
            header(request, "IDVERSI")?.parse().ok()?,
        );
        let product = self
            .core
            .registry
            .find_product(
                Environment::Essai,
                key.partner_id,
                key.srs_id,
                key.version_id,
            )
            .ok()??;
        if product.state != VersionState::Registered || product.sectors.is_empty() {
            return None;
        }
        // On the API host, a request that does not authenticate (011E) is no step of any run:
        // anyone could otherwise move a product's run with its public identifiers.
        if request.endpoint != Endpoint::Enrolment && self.context.check_presented(request).is_err()
        {
            return None;
        }
        let plan = essai::plan(product.mode, &product.sectors);
        let _turn = self
            .examiner
            .turn
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let session = match self.core.registry.essai_session(&key) {
            Ok(session) => session,
            Err(e) => {
                tracing::error!(error = %e, "could not read the ESSAI run");
                return Some(refusal(request, &[(E::Unexpected, Vec::new())], None));
            }
        };
        let now = self.core.now();
        match decide(&plan, session.as_ref(), tc) {
            Decision::Refused {
                error,
                expected,
                run,
            } => {
                let args = vec![tc.to_string()];
                let response = refusal(request, &[(error, args)], Some(expected));
                self.audit_refusal(request, now, error);
                if let Some(run) = run {
                    self.keep(
                        &key,
                        EssaiMove::Stay { run },
                        request,
                        tc,
                        "out-of-order",
                        expected,
                        &response,
                    );
                }
                Some(response)
            }
            Decision::Step(step, how) => {
                let differences = differences(request, step, tc, &product.sectors);
                let response = if differences.is_empty() {
                    answer(request)
                } else {
                    let errors: Vec<(E, Vec<String>)> = differences
                        .iter()
                        .map(|d| {
                            let found = d.found.as_deref().unwrap_or("∅");
                            (
                                E::StepValueDiffers,
                                vec![d.field.clone(), format!("{found} ≠ {}", d.expected)],
                            )
                        })
                        .collect();
                    self.audit_refusal(request, now, E::StepValueDiffers);
                    refusal(request, &errors, None)
                };
                let passed = (200..300).contains(&response.status);
                let next = if passed {
                    plan.next(step).map_or(FINISHED, |next| {
                        // The medium the SRS used goes on to the next transaction step.
                        let digit = if matches!(next.expect(), essai::Expect::Transaction(_))
                            && matches!(step.expect(), essai::Expect::Transaction(_))
                        {
                            u8::try_from(tc.step() / 100).unwrap_or(0)
                        } else {
                            0
                        };
                        next.test_case_with(digit)
                    })
                } else {
                    plan.restart(step).test_case()
                };
                let response = with_cas_essai(request.endpoint, response, next);
                let verdict = if passed { "passed" } else { "failed" };
                self.keep(&key, how, request, tc, verdict, next, &response);
                Some(response)
            }
        }
    }

    fn audit_refusal(&self, request: &Request, now: time::OffsetDateTime, error: E) {
        let audit = NewAudit::new(
            now,
            "essai",
            "refuse",
            header(request, "CASESSAI")
                .unwrap_or("-")
                .chars()
                .take(7)
                .collect::<String>(),
            format!("{:03}", error.number()),
        )
        .with_error(error.id());
        if let Err(e) = self.core.registry.append_audit(audit) {
            tracing::error!(error = %e, "could not write the audit log");
        }
    }

    /// Keeps the exchange as evidence and moves the run.
    #[allow(clippy::too_many_arguments)] // One exchange and where it leaves the run.
    fn keep(
        &self,
        key: &ProductKey,
        how: EssaiMove,
        request: &Request,
        tc: TestCase,
        verdict: &str,
        next: TestCase,
        response: &Response,
    ) {
        let headers: serde_json::Map<String, Value> = request
            .headers
            .iter()
            .map(|(n, v)| (n.clone(), Value::String(v.clone())))
            .collect();
        let body = websrm_protocol::request::evidence(&request.body);
        let kept = serde_json::json!({"headers": headers, "body": body}).to_string();
        let exchange = EssaiExchange::new(
            self.core.now(),
            tc,
            request.endpoint.path(),
            verdict,
            next,
            kept,
            response.status,
            String::from_utf8_lossy(&response.body),
        );
        match self.core.registry.record_essai(key, how, exchange) {
            Ok(_) => {}
            Err(websrm_registry::Error::EssaiMoved) => {
                tracing::warn!(?key, "the ESSAI run moved while a request was examined");
            }
            Err(e) => tracing::error!(error = %e, "could not record the ESSAI exchange"),
        }
    }

    /// Where the run of `key` stands, if it ever started.
    pub fn session(&self, key: &ProductKey) -> Result<Option<EssaiSession>, crate::Error> {
        Ok(self.core.registry.essai_session(key)?)
    }

    /// Where the run of the version `key` stands, with the step it expects described: the
    /// version must be registered in ESSAI.
    pub fn status(&self, key: &ProductKey) -> Result<EssaiStatus, crate::Error> {
        let product = self
            .core
            .registry
            .find_product(
                Environment::Essai,
                key.partner_id,
                key.srs_id,
                key.version_id,
            )?
            .ok_or_else(|| {
                crate::Error::NotFound(format!(
                    "no version {} of SRS {} by partner {} is registered for ESSAI",
                    key.version_id, key.srs_id, key.partner_id
                ))
            })?;
        let plan = essai::plan(product.mode, &product.sectors);
        let session = self.core.registry.essai_session(key)?;
        let expected = session
            .as_ref()
            .map_or_else(|| plan.first().test_case(), |s| s.expected);
        let step = plan.find(expected);
        let done = step.map_or_else(
            || {
                if expected == FINISHED {
                    plan.steps().len()
                } else {
                    0
                }
            },
            |step| plan.steps().iter().take_while(|s| **s != step).count(),
        );
        Ok(EssaiStatus {
            state: product.state,
            session,
            expected,
            step,
            done,
            total: plan.steps().len(),
            cases: plan.cases(),
        })
    }

    /// The exchanges of run `run` of `key` (its current run if `None`), oldest first.
    pub fn exchanges(
        &self,
        key: &ProductKey,
        run: Option<i64>,
    ) -> Result<Vec<EssaiExchange>, crate::Error> {
        Ok(self.core.registry.essai_exchanges(key, run)?)
    }
}

/// What differs between the request and its step.
fn differences(
    request: &Request,
    step: Step,
    tc: TestCase,
    sectors: &[websrm_domain::Sector],
) -> Vec<essai::Difference> {
    // A request to another service than the step's is the service's to refuse (015E), and
    // a body that is not JSON too: a failed step all the same.
    let fits = matches!(
        (step.block(), request.endpoint),
        (
            essai::Block::Certificates,
            Endpoint::Enrolment | Endpoint::Certificates
        ) | (essai::Block::Users, Endpoint::User)
            | (essai::Block::Transactions, Endpoint::Transaction)
            | (essai::Block::Documents, Endpoint::Document)
    );
    if !fits {
        return Vec::new();
    }
    step.examine_request(
        kind_of(request.endpoint),
        tc,
        &request.headers,
        &request.body,
        sectors,
    )
}

/// Where a product version's ESSAI run stands.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct EssaiStatus {
    /// The version's state (a run is examined only while it is registered).
    pub state: VersionState,
    /// The run, if it ever started.
    pub session: Option<EssaiSession>,
    /// The step expected next (the run's first before it started; `999.999` when over).
    pub expected: TestCase,
    /// That step, described (none at `999.999`).
    pub step: Option<Step>,
    /// The steps passed in the current run.
    pub done: usize,
    /// The steps of the run.
    pub total: usize,
    /// The cases of the run, in order.
    pub cases: Vec<u16>,
}

/// The step `tc` is in the run, or why it is refused.
fn decide(plan: &Plan, session: Option<&EssaiSession>, tc: TestCase) -> Decision {
    if plan.first().is(tc) {
        return Decision::Step(plan.first(), EssaiMove::Start);
    }
    let (expected, run) = match session {
        Some(s) => (s.expected, Some(s.run)),
        None => (plan.first().test_case(), None),
    };
    if plan.find(tc).is_none() {
        return Decision::Refused {
            error: E::TestCaseUnknown,
            expected,
            run,
        };
    }
    match (session, plan.find(expected)) {
        (Some(s), Some(step)) if step.is(tc) => Decision::Step(
            step,
            EssaiMove::From {
                run: s.run,
                expected: s.expected,
            },
        ),
        _ => Decision::Refused {
            error: E::TestCaseOutOfOrder,
            expected,
            run,
        },
    }
}

/// The service's refusal of `errors`, with `casEssai` when given.
fn refusal(request: &Request, errors: &[(E, Vec<String>)], next: Option<TestCase>) -> Response {
    let mut list: Vec<WireError> = errors
        .iter()
        .map(|(c, args)| {
            WireError::from_catalogue(*c, &args.iter().map(String::as_str).collect::<Vec<_>>())
        })
        .collect();
    // The certificate service follows every software error with the companion; the other
    // services where SW-73.A marks the error so.
    let certificates = matches!(
        request.endpoint,
        Endpoint::Enrolment | Endpoint::Certificates
    );
    let companion = |c: &E| {
        if certificates {
            c.entry().has_companion()
        } else {
            websrm_protocol::transaction::needs_companion(c.id())
        }
    };
    if errors.iter().any(|(c, _)| companion(c)) {
        list.push(WireError::from_catalogue(E::ContactRetailer, &[]));
    }
    let cas_essai = next.map(|n| n.to_string());
    let json_versi = Some(JSON_VERSION.to_owned());
    let body = match request.endpoint {
        Endpoint::Enrolment | Endpoint::Certificates => to_vec(&CertificateResponseBody {
            retour_certif: RetourCertif {
                cas_essai,
                list_err: Some(list),
                ..RetourCertif::default()
            },
        }),
        Endpoint::User => to_vec(&UserResponseBody {
            retour_util: RetourUtil {
                json_versi,
                cas_essai,
                list_err: Some(list),
                ..RetourUtil::default()
            },
        }),
        Endpoint::Document => to_vec(&DocumentResponseBody {
            retour_doc: RetourDoc {
                json_versi,
                cas_essai,
                list_err: Some(list),
                ..RetourDoc::default()
            },
        }),
        Endpoint::Transaction => {
            let no_trans = websrm_protocol::transaction::current_no_trans(&request.body);
            for e in &mut list {
                e.no_trans.clone_from(&no_trans);
            }
            to_vec(&TransactionResponseBody {
                retour_trans: RetourTrans {
                    json_versi,
                    cas_essai,
                    retour_trans_actu: Some(RetourTransActu {
                        no_trans,
                        list_err: Some(list),
                        ..RetourTransActu::default()
                    }),
                    ..RetourTrans::default()
                },
            })
        }
    };
    Response::new(400, body)
}

fn to_vec(body: &impl Serialize) -> Vec<u8> {
    serde_json::to_vec(body).unwrap_or_default()
}

/// The service's answer with `casEssai` set to `next`.
fn with_cas_essai(endpoint: Endpoint, response: Response, next: TestCase) -> Response {
    fn patch<T: DeserializeOwned + Serialize>(
        response: &Response,
        set: impl FnOnce(&mut T),
    ) -> Option<Vec<u8>> {
        let mut body: T = serde_json::from_slice(&response.body).ok()?;
        set(&mut body);
        serde_json::to_vec(&body).ok()
    }
    let next = Some(next.to_string());
    let body = match endpoint {
        Endpoint::Enrolment | Endpoint::Certificates => {
            patch(&response, |b: &mut CertificateResponseBody| {
                b.retour_certif.cas_essai = next
            })
        }
        Endpoint::User => patch(&response, |b: &mut UserResponseBody| {
            b.retour_util.cas_essai = next
        }),
        Endpoint::Document => patch(&response, |b: &mut DocumentResponseBody| {
            b.retour_doc.cas_essai = next
        }),
        Endpoint::Transaction => patch(&response, |b: &mut TransactionResponseBody| {
            b.retour_trans.cas_essai = next
        }),
    };
    match body {
        Some(body) => Response::new(response.status, body),
        None => response,
    }
}
