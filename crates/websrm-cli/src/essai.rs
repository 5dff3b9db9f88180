//! `websrm srs essai`: certification rehearsal against a local authority, the certificate and
//! user blocks of a product's run in their required order, one line per step, a summary, and a report
//! the vendor keeps.

use std::collections::HashMap;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use websrm::Srs;
use websrm::domain::{Environment, ProductMode, Sector, TestCase};
use websrm::essai::{self, Outcome, Report, TestData};

/// Arguments of `websrm srs essai`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Where each device's store is kept; every run uses a new folder inside it.
    #[arg(long, default_value = "websrm-essai")]
    dir: PathBuf,
    /// The modes the product is registered with: srs, server or both (the run's cases follow;
    /// both by default, as the test product a local authority registers).
    #[arg(long, default_value = "both")]
    mode: ProductMode,
    /// A sector the product is registered with: RBC or TRP (repeatable; both by default, as
    /// the test product a local authority registers). The test data is the first sector's.
    #[arg(long = "sector")]
    sectors: Vec<Sector>,
    /// Run only these test cases (500, 001, 501, 002, 570, 502), in the run's order.
    #[arg(long = "case")]
    cases: Vec<u16>,
    /// Run only these steps (e.g. `001.001,001.002`), in the run's order.
    #[arg(long, value_delimiter = ',')]
    steps: Vec<TestCase>,
    /// The first operator's authorization code, if not the published one.
    #[arg(long)]
    first_operator_code: Option<String>,
    /// The second operator's authorization code, if not the local authority's test data.
    #[arg(long)]
    second_operator_code: Option<String>,
    /// The server administrator's authorization code, if not the published one.
    #[arg(long)]
    server_code: Option<String>,
    /// Then rehearse these blocks with websrm's own sample bills and documents (`transactions`,
    /// `documents`): every transaction and document step of the run, in the SRS mode from the
    /// device, in the server mode signed by the device and sent by the remote server, to show
    /// that the examiner and the facade agree case by case.
    #[arg(long, value_delimiter = ',')]
    rehearse: Vec<Rehearsed>,
}

/// A block `--rehearse` runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Rehearsed {
    /// The transaction block (cases 003 to 037, 503 to 537 and 512).
    Transactions,
    /// The document block (cases 103, 105, 603 and 605).
    Documents,
}

pub(crate) fn run(srs_args: &crate::facade::Connection, args: &Args) -> Result<()> {
    let environment = srs_args.environment();
    if environment == Environment::Prod {
        bail!("certification runs in ESSAI (or DEV to simulate its cases), never in PROD");
    }
    // Revenu Québec forbids sending ESSAI requests by automation outside the SRS: the real run
    // is made from the product's own screens. This command rehearses against a local authority.
    let Some((enrolment, api)) = srs_args.local_authority() else {
        bail!(
            "websrm srs essai rehearses against a local authority only (--authority, --api and \
             --trust): Revenu Québec forbids sending ESSAI requests by automation outside the \
             SRS; run the real ESSAI from your product's screens"
        );
    };
    for url in [enrolment, api] {
        let host = http_host(url);
        if host == "revenuquebec.ca" || host.ends_with(".revenuquebec.ca") {
            bail!(
                "{url} is Revenu Québec's: websrm srs essai rehearses against a local authority \
                 only, since Revenu Québec forbids sending ESSAI requests by automation outside \
                 the SRS"
            );
        }
    }
    let wanted = |s: &essai::Step| {
        (args.cases.is_empty() || args.cases.contains(&s.test_case.case()))
            && (args.steps.is_empty() || args.steps.contains(&s.test_case))
    };
    let sectors = if args.sectors.is_empty() {
        vec![Sector::Restaurant, Sector::Transport]
    } else {
        args.sectors.clone()
    };
    let rehearsed = essai::rehearsal(args.mode, &sectors)
        .into_iter()
        .filter(|s| {
            args.rehearse.iter().any(|r| match r {
                Rehearsed::Transactions => s.block == "transactions",
                Rehearsed::Documents => s.block == "documents",
            })
        });
    let steps: Vec<essai::Step> = essai::steps(args.mode, &sectors)
        .into_iter()
        .chain(rehearsed)
        .filter(wanted)
        .collect();
    if steps.is_empty() {
        bail!(
            "no step to run: the certificate and user blocks of a {} product in {} have cases {}",
            args.mode,
            sectors
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(" and "),
            case_list(args.mode, &sectors)
        );
    }
    let data = TestData::of_sector(sectors[0])?.with_codes(
        args.first_operator_code
            .as_deref()
            .map(str::parse)
            .transpose()?,
        args.second_operator_code
            .as_deref()
            .map(str::parse)
            .transpose()?,
        args.server_code.as_deref().map(str::parse).transpose()?,
    );

    // Each device of the cases is a store of its own, in a new folder.
    let stamp = time::OffsetDateTime::now_utc().unix_timestamp_nanos();
    let folder = args.dir.join(format!("run-{stamp}"));
    std::fs::create_dir_all(&folder).with_context(|| format!("creating {}", folder.display()))?;
    let mut devices: HashMap<(&'static str, &'static str), Srs> = HashMap::new();
    for step in &steps {
        let file = folder.join(format!("{}.db", step.store));
        if let std::collections::hash_map::Entry::Vacant(slot) =
            devices.entry((step.store, step.installation))
        {
            let config = srs_args
                .config(file.clone())?
                .with_installation(step.installation);
            slot.insert(Srs::open(config)?);
        }
        // In the server mode, the remote server sends what the device signs.
        let (sender, installation) = step.relayed_by().unwrap_or((step.store, step.installation));
        let file = folder.join(format!("{sender}.db"));
        if let std::collections::hash_map::Entry::Vacant(slot) =
            devices.entry((sender, installation))
        {
            let config = srs_args
                .config(file.clone())?
                .with_installation(installation);
            slot.insert(Srs::open(config)?);
        }
        if step.block != "transactions" {
            continue;
        }
        // The same sender while the authority cannot be reached, for the offline steps.
        let offline = (essai::offline_store(sender), installation);
        if let std::collections::hash_map::Entry::Vacant(slot) = devices.entry(offline) {
            let config = srs_args
                .unreachable_config(file)?
                .with_installation(installation);
            slot.insert(Srs::open(config)?);
        }
    }

    eprintln!(
        "running {} step(s) in {environment}; devices' stores in {}",
        steps.len(),
        folder.display()
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let report = runtime.block_on(essai::run(&steps, &data, |store, installation| {
        devices
            .get(&(store, installation))
            .ok_or_else(|| websrm::Error::NotFound(store.to_owned()))
    }));

    if srs_args.json() {
        println!("{}", serde_json::to_string_pretty(&report_json(&report))?);
    } else {
        for s in &report.steps {
            println!("{}", step_line(s));
        }
        println!(
            "{} of {} step(s) passed",
            report.steps.iter().filter(|s| s.passed()).count(),
            steps.len()
        );
    }
    if let (Some(failed), Some(redo)) = (report.failure(), report.redo_from()) {
        bail!(
            "step {} failed; its block starts over from step {redo}",
            failed.step.test_case,
        );
    }
    Ok(())
}

fn case_list(mode: ProductMode, sectors: &[Sector]) -> String {
    let mut cases: Vec<String> = essai::steps(mode, sectors)
        .iter()
        .map(|s| format!("{:03}", s.test_case.case()))
        .collect();
    cases.dedup();
    cases.join(", ")
}

/// The host of `url`, in lower case, without port or brackets.
fn http_host(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if let Some(v6) = host.strip_prefix('[') {
        v6.split(']').next().unwrap_or_default()
    } else {
        host.split(':').next().unwrap_or_default()
    };
    host.trim_end_matches('.').to_ascii_lowercase()
}

fn step_line(s: &essai::StepReport) -> String {
    let head = format!(
        "{}  {:<9} {:<17} {:<22}",
        s.step.test_case,
        s.step.device.name(),
        s.step.action.request(),
        s.step.nickname
    );
    match &s.outcome {
        Outcome::Passed { next } => format!(
            "{head} passed{}",
            next.map(|n| format!(", casEssai {n}")).unwrap_or_default()
        ),
        Outcome::Failed { errors, reason } => {
            let ids: Vec<String> = errors
                .iter()
                .filter(|e| e.return_code.is_some())
                .map(|e| {
                    format!(
                        "{} (codRetour {})",
                        e.id,
                        e.return_code.map(|c| c.to_string()).unwrap_or_default()
                    )
                })
                .collect();
            if ids.is_empty() {
                format!("{head} FAILED: {reason}")
            } else {
                let english: Vec<String> = errors.iter().filter_map(|e| e.english()).collect();
                format!(
                    "{head} FAILED {}: {reason} / {}",
                    ids.join(", "),
                    english.join("; ")
                )
            }
        }
        _ => format!("{head} ?"),
    }
}

fn report_json(report: &Report) -> serde_json::Value {
    let steps: Vec<serde_json::Value> = report
        .steps
        .iter()
        .map(|s| {
            let (result, next, errors, reason) = match &s.outcome {
                Outcome::Passed { next } => ("passed", next.map(|n| n.to_string()), vec![], None),
                Outcome::Failed { errors, reason } => (
                    "failed",
                    None,
                    errors
                        .iter()
                        .map(|e| {
                            serde_json::json!({
                                "id": e.id.to_string(),
                                "codRetour": e.return_code.map(|c| c.to_string()),
                                "message_fr": e.message,
                                "message_en": e.english(),
                            })
                        })
                        .collect(),
                    Some(reason.clone()),
                ),
                _ => ("unknown", None, vec![], None),
            };
            serde_json::json!({
                "case": format!("{:03}", s.step.test_case.case()),
                "step": s.step.test_case.to_string(),
                "device": s.step.device.name(),
                "store": s.step.store,
                "installation": s.step.installation,
                "request": s.step.action.request(),
                "nickname": s.step.nickname,
                "description": s.step.description,
                "result": result,
                "casEssai": next,
                "errors": errors,
                "reason": reason,
            })
        })
        .collect();
    serde_json::json!({
        "steps": steps,
        "passed": report.steps.iter().filter(|s| s.passed()).count(),
        "failed_step": report.failure().map(|f| f.step.test_case.to_string()),
        "redo_from": report.redo_from().map(|t| t.to_string()),
    })
}
