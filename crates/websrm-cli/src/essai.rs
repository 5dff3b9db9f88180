//! `websrm srs essai`: certification rehearsal, the certificate test cases in their required
//! order, one line per step, a summary, and a report the vendor keeps.

use std::collections::HashMap;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use websrm::Srs;
use websrm::domain::{Environment, TestCase};
use websrm::essai::{self, Device, Outcome, Report, TestData};

/// Arguments of `websrm srs essai`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Where each device's store is kept; every run uses a new folder inside it.
    #[arg(long, default_value = "websrm-essai")]
    dir: PathBuf,
    /// A test case to run (001: the SRS, 500: the server administrator), in the order given;
    /// default: 001 then 500.
    #[arg(long = "case")]
    cases: Vec<u16>,
    /// Run only these steps (e.g. `001.001,001.002`), in the cases' order.
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
}

pub(crate) fn run(srs_args: &crate::srs::Args, args: &Args) -> Result<()> {
    let environment = srs_args.environment();
    if environment == Environment::Prod {
        bail!("certification runs in ESSAI (or DEV to simulate its cases), never in PROD");
    }
    let cases = if args.cases.is_empty() {
        essai::CASES.to_vec()
    } else {
        args.cases.clone()
    };
    let mut steps = Vec::new();
    for case in cases {
        let Some(case_steps) = essai::steps(case) else {
            bail!(
                "test case {case:03} is not a certificate case websrm runs (001 and 500; see docs/PROTOCOL.md)"
            );
        };
        steps.extend(
            case_steps
                .into_iter()
                .filter(|s| args.steps.is_empty() || args.steps.contains(&s.test_case)),
        );
    }
    if steps.is_empty() {
        bail!("no step to run");
    }
    let data = TestData::restaurant()?.with_codes(
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
    let mut devices: HashMap<(Device, &'static str), Srs> = HashMap::new();
    for step in &steps {
        if devices.contains_key(&(step.device, step.installation)) {
            continue;
        }
        let file = match step.device {
            Device::One => "device-1.db",
            Device::Two => "device-2.db",
            Device::Three => "device-3.db",
            _ => "server.db",
        };
        let config = srs_args
            .config(folder.join(file))?
            .with_installation(step.installation);
        devices.insert((step.device, step.installation), Srs::open(config)?);
    }

    eprintln!(
        "running {} step(s) in {environment}; devices' stores in {}",
        steps.len(),
        folder.display()
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let report = runtime.block_on(essai::run(&steps, &data, |device, installation| {
        devices
            .get(&(device, installation))
            .ok_or_else(|| websrm::Error::NotFound(device.name().to_owned()))
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
            "step {} failed; redo test case {:03} from step {redo}",
            failed.step.test_case,
            redo.case()
        );
    }
    Ok(())
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
