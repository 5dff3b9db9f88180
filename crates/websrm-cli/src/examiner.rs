//! `websrm authority essai …`: where a product's certification run stands, and its evidence.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use serde_json::{Value, json};
use websrm::domain::{PartnerId, SrsId, VersionId};
use websrm_authority::records::{EssaiExchange, ProductKey};
use websrm_authority::{Authority, EssaiStatus};

/// The ESSAI commands.
#[derive(Debug, Subcommand)]
pub(crate) enum EssaiCommand {
    /// Where the run of a product version stands: the step expected next, what the tester does
    /// there, and how far the run has come.
    Status {
        #[command(flatten)]
        version: Version,
        /// As JSON.
        #[arg(long)]
        json: bool,
    },
    /// Export every request and answer of a run into a new folder: one JSON file per exchange,
    /// named by its order and `CASESSAI`, and `run.json` listing them.
    Evidence {
        #[command(flatten)]
        version: Version,
        /// Which run (1 is the first); the current one by default.
        #[arg(long)]
        run: Option<i64>,
        /// The folder to create (it must not exist, or be empty).
        #[arg(long)]
        out: PathBuf,
    },
}

/// The product version a run is for.
#[derive(Debug, clap::Args)]
pub(crate) struct Version {
    /// `IDPARTN`.
    #[arg(long)]
    partner: PartnerId,
    /// `IDSEV`.
    #[arg(long)]
    srs: SrsId,
    /// `IDVERSI`.
    #[arg(long)]
    version_id: VersionId,
}

impl Version {
    fn key(&self) -> ProductKey {
        ProductKey::new(self.partner, self.srs, self.version_id)
    }
}

pub(crate) fn run(authority: &Authority, command: EssaiCommand) -> Result<()> {
    match command {
        EssaiCommand::Status { version, json } => {
            let status = authority.essai().status(&version.key())?;
            if json {
                println!("{}", serde_json::to_string_pretty(&status_json(&status))?);
            } else {
                print_status(&status);
            }
            Ok(())
        }
        EssaiCommand::Evidence { version, run, out } => {
            let key = version.key();
            let status = authority.essai().status(&key)?;
            let Some(session) = &status.session else {
                bail!(
                    "the ESSAI run of version {} has not started: nothing to export",
                    version.version_id
                );
            };
            let run = run.unwrap_or(session.run);
            let exchanges = authority.essai().exchanges(&key, Some(run))?;
            write_evidence(&out, run, &exchanges)?;
            println!(
                "{} exchanges of run {run} written to {}",
                exchanges.len(),
                out.display()
            );
            Ok(())
        }
    }
}

fn status_json(status: &EssaiStatus) -> Value {
    let step = status.step.map(|s| {
        let (case_en, en) = s.english();
        let (case_fr, fr) = s.french();
        json!({
            "case": s.case(),
            "step": s.number(),
            "block": s.block().name().0,
            "en": {"case": case_en, "step": en},
            "fr": {"case": case_fr, "step": fr},
            "keep_document": s.keeps_evidence(),
        })
    });
    json!({
        "state": status.state.as_str(),
        "run": status.session.as_ref().map(|s| s.run),
        "started_at": status.session.as_ref().map(|s| s.started_at.to_string()),
        "updated_at": status.session.as_ref().map(|s| s.updated_at.to_string()),
        "expected": status.expected.to_string(),
        "expected_step": step,
        "done": status.done,
        "total": status.total,
        "cases": status.cases,
    })
}

fn print_status(status: &EssaiStatus) {
    match &status.session {
        Some(s) => println!(
            "run {} started {}, last moved {}",
            s.run, s.started_at, s.updated_at
        ),
        None => println!("the run has not started: its first step starts it"),
    }
    println!("version state: {}", status.state);
    println!(
        "steps passed: {} of {}; cases: {}",
        status.done,
        status.total,
        status
            .cases
            .iter()
            .map(|c| format!("{c:03}"))
            .collect::<Vec<_>>()
            .join(" ")
    );
    match status.step {
        Some(step) => {
            let (case, what) = step.english();
            println!(
                "next: {} ({case}, {} block): {what}",
                status.expected,
                step.block().name().0
            );
            if step.keeps_evidence() {
                println!("keep the document as {}.pdf", status.expected);
            }
        }
        None => println!(
            "next: {} (the run is over: request the certification)",
            status.expected
        ),
    }
}

/// Writes each exchange into `out`, created here: files appear whole (written then renamed).
fn write_evidence(out: &Path, run: i64, exchanges: &[EssaiExchange]) -> Result<()> {
    if out.exists() && std::fs::read_dir(out)?.next().is_some() {
        bail!(
            "{} is not empty: evidence goes into a new folder",
            out.display()
        );
    }
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let mut index = Vec::new();
    for (i, e) in exchanges.iter().enumerate() {
        let name = format!("{:04}-{}-{}.json", i + 1, e.test_case, e.verdict);
        let request: Value =
            serde_json::from_str(&e.request).unwrap_or_else(|_| Value::String(e.request.clone()));
        let answer: Value =
            serde_json::from_str(&e.answer).unwrap_or_else(|_| Value::String(e.answer.clone()));
        let record = json!({
            "at": e.at.to_string(),
            "casessai": e.test_case.to_string(),
            "service": e.service,
            "verdict": e.verdict,
            "next": e.next.to_string(),
            "request": request,
            "status": e.status,
            "answer": answer,
        });
        write_whole(&out.join(&name), &serde_json::to_vec_pretty(&record)?)?;
        index.push(json!({"file": name, "casessai": e.test_case.to_string(), "verdict": e.verdict, "next": e.next.to_string()}));
    }
    write_whole(
        &out.join("run.json"),
        &serde_json::to_vec_pretty(&json!({"run": run, "exchanges": index}))?,
    )
}

fn write_whole(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("renaming to {}", path.display()))?;
    Ok(())
}
