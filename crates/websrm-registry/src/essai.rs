//! Certification runs (ESSAI): for each product version, where its run stands (the step the
//! authority expects next) and every request and answer of its runs, kept as the evidence of
//! the run. The run survives restarts and is shared by authority processes on one PostgreSQL
//! database.

use super::*;
use crate::sql::{Row, vals};
use websrm_domain::{PartnerId, SrsId, TestCase, VersionId};

/// The product version a run is for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct ProductKey {
    /// `IDPARTN`.
    pub partner_id: PartnerId,
    /// `IDSEV`.
    pub srs_id: SrsId,
    /// `IDVERSI`.
    pub version_id: VersionId,
}

impl ProductKey {
    /// The version `version_id` of `srs_id` by `partner_id`.
    pub fn new(partner_id: PartnerId, srs_id: SrsId, version_id: VersionId) -> Self {
        Self {
            partner_id,
            srs_id,
            version_id,
        }
    }

    fn texts(&self) -> [String; 3] {
        [
            self.partner_id.to_string(),
            self.srs_id.to_string(),
            self.version_id.to_string(),
        ]
    }
}

/// Where a product's run stands.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct EssaiSession {
    /// The product.
    pub product: ProductKey,
    /// The run's number: 1, and one more each time the run starts over.
    pub run: i64,
    /// The step expected next (`999.999` when the run is over).
    pub expected: TestCase,
    /// When the run started.
    pub started_at: OffsetDateTime,
    /// When it last moved.
    pub updated_at: OffsetDateTime,
}

/// One request of a run and its answer.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct EssaiExchange {
    /// When it was answered.
    pub at: OffsetDateTime,
    /// `CASESSAI` of the request.
    pub test_case: TestCase,
    /// The service (`enrolement`, `certificats`, `utilisateur`, `transaction`, `document`).
    pub service: String,
    /// `passed`, `failed` or `out-of-order`.
    pub verdict: String,
    /// The step the answer named next (`casEssai`).
    pub next: TestCase,
    /// The request: headers and body, as JSON.
    pub request: String,
    /// The HTTP status of the answer.
    pub status: u16,
    /// The answer's body.
    pub answer: String,
}

impl EssaiExchange {
    /// An exchange to record.
    #[allow(clippy::too_many_arguments)] // What evidence of one step is.
    pub fn new(
        at: OffsetDateTime,
        test_case: TestCase,
        service: impl Into<String>,
        verdict: impl Into<String>,
        next: TestCase,
        request: impl Into<String>,
        status: u16,
        answer: impl Into<String>,
    ) -> Self {
        Self {
            at,
            test_case,
            service: service.into(),
            verdict: verdict.into(),
            next,
            request: request.into(),
            status,
            answer: answer.into(),
        }
    }
}

/// How an exchange moves a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum EssaiMove {
    /// A new run starts (the first step was sent): the run's number goes up by one.
    Start,
    /// The run at `run`, expecting `expected`, moves on (or back) to the exchange's `next`;
    /// if another process moved it first, nothing moves and [`Error::EssaiMoved`] says so.
    From {
        /// The run's number.
        run: i64,
        /// The step it expected.
        expected: TestCase,
    },
    /// The run stays where it is (a request out of order).
    Stay {
        /// The run's number.
        run: i64,
    },
}

const SESSION_SELECT: &str = "SELECT partner_id, srs_id, version_id, run, expected, started_at, updated_at FROM essai_sessions";

fn parse<T: std::str::FromStr>(column: &'static str, text: &str) -> Result<T, Error> {
    text.parse().map_err(|_| Error::Corrupt {
        table: "essai",
        column,
        value: text.to_owned(),
    })
}

fn session_from_row(row: &Row) -> Result<EssaiSession, Error> {
    Ok(EssaiSession {
        product: ProductKey {
            partner_id: parse("partner", &row.text(0)?)?,
            srs_id: parse("SRS", &row.text(1)?)?,
            version_id: parse("version", &row.text(2)?)?,
        },
        run: row.int(3)?,
        expected: parse("step", &row.text(4)?)?,
        started_at: db::from_unix("essai_sessions", "started_at", row.int(5)?)?,
        updated_at: db::from_unix("essai_sessions", "updated_at", row.int(6)?)?,
    })
}

impl Registry {
    /// Where the run of `product` stands, if it ever started.
    pub fn essai_session(&self, product: &ProductKey) -> Result<Option<EssaiSession>, Error> {
        let [p, s, v] = product.texts();
        self.read(move |db| {
            db.row(
                &format!(
                    "{SESSION_SELECT} WHERE partner_id = ?1 AND srs_id = ?2 AND version_id = ?3"
                ),
                vals![&p, &s, &v],
            )?
            .as_ref()
            .map(session_from_row)
            .transpose()
        })
    }

    /// Every product's run, by product.
    pub fn essai_sessions(&self) -> Result<Vec<EssaiSession>, Error> {
        self.read(move |db| {
            db.query(
                &format!("{SESSION_SELECT} ORDER BY partner_id, srs_id, version_id"),
                vals![],
            )?
            .iter()
            .map(session_from_row)
            .collect()
        })
    }

    /// Records `exchange` and moves the run of `product` as `how` says, in one write. Returns
    /// the run as it stands after.
    pub fn record_essai(
        &self,
        product: &ProductKey,
        how: EssaiMove,
        exchange: EssaiExchange,
    ) -> Result<EssaiSession, Error> {
        let [p, s, v] = product.texts();
        let product = product.clone();
        self.write(move |tx| {
            let at = db::to_unix(exchange.at);
            let next = exchange.next.to_string();
            let run = match how {
                EssaiMove::Start => {
                    let last = tx
                        .row(
                            "SELECT run FROM essai_sessions WHERE partner_id = ?1 AND srs_id = ?2 AND version_id = ?3",
                            vals![&p, &s, &v],
                        )?
                        .map(|r| r.int(0))
                        .transpose()?
                        .unwrap_or(0);
                    tx.execute(
                        "INSERT INTO essai_sessions (partner_id, srs_id, version_id, run, expected, started_at, updated_at) \
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6) ON CONFLICT (partner_id, srs_id, version_id) DO UPDATE \
                         SET run = excluded.run, expected = excluded.expected, started_at = excluded.started_at, \
                         updated_at = excluded.updated_at",
                        vals![&p, &s, &v, last + 1, &next, at],
                    )?;
                    last + 1
                }
                EssaiMove::From { run, expected } => {
                    let moved = tx.execute(
                        "UPDATE essai_sessions SET expected = ?1, updated_at = ?2 WHERE partner_id = ?3 \
                         AND srs_id = ?4 AND version_id = ?5 AND run = ?6 AND expected = ?7",
                        vals![&next, at, &p, &s, &v, run, expected.to_string()],
                    )?;
                    if moved != 1 {
                        return Err(Error::EssaiMoved);
                    }
                    run
                }
                EssaiMove::Stay { run } => run,
            };
            tx.execute(
                "INSERT INTO essai_exchanges (partner_id, srs_id, version_id, run, at, test_case, service, \
                 verdict, next, request, status, answer) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
                vals![
                    &p,
                    &s,
                    &v,
                    run,
                    at,
                    exchange.test_case.to_string(),
                    &exchange.service,
                    &exchange.verdict,
                    &next,
                    &exchange.request,
                    i64::from(exchange.status),
                    &exchange.answer
                ],
            )?;
            let row = tx
                .row(
                    &format!("{SESSION_SELECT} WHERE partner_id = ?1 AND srs_id = ?2 AND version_id = ?3"),
                    vals![&p, &s, &v],
                )?
                .ok_or_else(|| Error::Database {
                    cause: Source::text(format!("the ESSAI run of {product:?} cannot be read back")),
                })?;
            session_from_row(&row)
        })
    }

    /// The exchanges of run `run` of `product` (its current run if `None`), oldest first.
    pub fn essai_exchanges(
        &self,
        product: &ProductKey,
        run: Option<i64>,
    ) -> Result<Vec<EssaiExchange>, Error> {
        let [p, s, v] = product.texts();
        let run = match run {
            Some(run) => run,
            None => match self.essai_session(product)? {
                Some(session) => session.run,
                None => return Ok(Vec::new()),
            },
        };
        self.read(move |db| {
            db.query(
                "SELECT at, test_case, service, verdict, next, request, status, answer FROM essai_exchanges \
                 WHERE partner_id = ?1 AND srs_id = ?2 AND version_id = ?3 AND run = ?4 ORDER BY id",
                vals![&p, &s, &v, run],
            )?
            .iter()
            .map(|row| {
                Ok(EssaiExchange {
                    at: db::from_unix("essai_exchanges", "at", row.int(0)?)?,
                    test_case: parse("step", &row.text(1)?)?,
                    service: row.text(2)?,
                    verdict: row.text(3)?,
                    next: parse("step", &row.text(4)?)?,
                    request: row.text(5)?,
                    status: u16::try_from(row.int(6)?).unwrap_or(0),
                    answer: row.text(7)?,
                })
            })
            .collect()
        })
    }
}
