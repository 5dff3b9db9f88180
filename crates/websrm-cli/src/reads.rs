//! What an authority's administrator reads: `websrm authority operator list|show` and
//! `websrm authority certificate list|report`.

use std::collections::HashMap;
use std::ops::ControlFlow;

use anyhow::Result;
use clap::Subcommand;
use serde_json::{Value, json};
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};
use websrm::domain::{CertificateState, IdentificationNumber};
use websrm_authority::records::{CertificateRecord, Operator, OperatorId};
use websrm_authority::{Authority, CertificateFilter, StateFilter};

/// The certificate commands.
#[derive(Debug, Subcommand)]
pub(crate) enum CertificateCommand {
    /// List certificates, soonest expiry first.
    List {
        /// Only those in this state: active, expired, replaced, deleted or revoked.
        #[arg(long)]
        state: Option<StateFilter>,
        /// Only those in force that expire within this many days.
        #[arg(long)]
        expiring_within: Option<u32>,
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
    },
    /// How many certificates are in each state, and how many in force expire within 30, 90,
    /// 180 and 365 days: what to warn operators about.
    Report {
        /// As JSON.
        #[arg(long)]
        json: bool,
    },
}

/// Each operator's identification number by row id, to name the holder of a certificate.
type Numbers = HashMap<OperatorId, String>;

pub(crate) fn certificates(authority: &Authority, command: CertificateCommand) -> Result<()> {
    let now = authority.now();
    let numbers: Numbers = authority
        .admin()
        .operators()?
        .into_iter()
        .map(|o| (o.id, o.identification_number.as_str().to_owned()))
        .collect();
    match command {
        CertificateCommand::List {
            state,
            expiring_within,
            json,
        } => {
            let filter = CertificateFilter::new(
                state,
                expiring_within.map(|d| Duration::days(i64::from(d))),
            );
            use std::io::Write;
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            let mut failed = None;
            authority.admin().each_certificate(&filter, |c| {
                let line = if json {
                    certificate_json(c, now, &numbers).to_string()
                } else {
                    certificate_line(c, now, &numbers)
                };
                match writeln!(out, "{line}") {
                    Ok(()) => ControlFlow::Continue(()),
                    Err(e) => {
                        failed = Some(e);
                        ControlFlow::Break(())
                    }
                }
            })?;
            if let Some(e) = failed {
                // A closed pipe (`| head`) is where the reader stopped, not a failure.
                if e.kind() != std::io::ErrorKind::BrokenPipe {
                    return Err(e.into());
                }
                return Ok(());
            }
            out.flush().or_else(|e| {
                if e.kind() == std::io::ErrorKind::BrokenPipe {
                    Ok(())
                } else {
                    Err(e)
                }
            })?;
        }
        CertificateCommand::Report { json } => {
            let mut states = [0u64; 5];
            let horizons = [30i64, 90, 180, 365];
            let mut expiring = [0u64; 4];
            authority
                .admin()
                .each_certificate(&CertificateFilter::default(), |c| {
                    let state = c.state.at(&c.validity, now);
                    if let Some(i) = NAMES.iter().position(|n| *n == state_name(state)) {
                        states[i] += 1;
                    }
                    if state == CertificateState::Active {
                        for (n, days) in expiring.iter_mut().zip(horizons) {
                            if c.validity.not_after() - now <= Duration::days(days) {
                                *n += 1;
                            }
                        }
                    }
                    ControlFlow::Continue(())
                })?;
            let names = NAMES;
            if json {
                let by_state: serde_json::Map<String, Value> = names
                    .iter()
                    .zip(states)
                    .map(|(n, c)| ((*n).to_owned(), json!(c)))
                    .collect();
                let within: serde_json::Map<String, Value> = horizons
                    .iter()
                    .zip(expiring)
                    .map(|(d, c)| (d.to_string(), json!(c)))
                    .collect();
                println!(
                    "{}",
                    serde_json::to_string_pretty(&json!({
                        "at": rfc3339(now),
                        "by_state": by_state,
                        "active_expiring_within_days": within,
                    }))?
                );
            } else {
                println!("certificates at {}:", rfc3339(now));
                for (name, count) in names.iter().zip(states) {
                    println!("  {name:<9} {count}");
                }
                println!("in force, expiring within:");
                for (days, count) in horizons.iter().zip(expiring) {
                    println!("  {days:>3} days  {count}");
                }
            }
        }
    }
    Ok(())
}

/// `operator list`.
pub(crate) fn list_operators(authority: &Authority, json: bool) -> Result<()> {
    for operator in authority.admin().operators()? {
        if json {
            println!("{}", operator_json(&operator));
        } else {
            println!(
                "{}  {:<30}  QST {}  GST {}  files {}{}",
                operator.identification_number,
                operator.legal_name,
                operator.qst_number.as_ref().map_or("-", |q| q.as_str()),
                operator.gst_number.as_ref().map_or("-", |g| g.as_str()),
                files(&operator),
                operator
                    .disabled_at
                    .map(|at| format!("  disabled {}", rfc3339(at)))
                    .unwrap_or_default()
            );
        }
    }
    Ok(())
}

/// `operator show`.
pub(crate) fn show_operator(
    authority: &Authority,
    number: &IdentificationNumber,
    json: bool,
) -> Result<()> {
    let now = authority.now();
    let (file, codes) = authority.admin().operator_details(number)?;
    let numbers: Numbers = [(
        file.operator.id,
        file.operator.identification_number.as_str().to_owned(),
    )]
    .into();
    let code = |c: &websrm_authority::records::AuthorizationCodeRecord| {
        json!({
            "sector": c.sector.as_str(),
            "active_from": rfc3339(c.activated_at),
            "superseded_at": c.superseded_at.map(rfc3339),
        })
    };
    if json {
        let mut value = operator_json(&file.operator);
        value["authorization_codes"] = codes.iter().map(code).collect();
        value["devices"] = file.devices.iter().map(|d| json!(d.to_string())).collect();
        value["certificates"] = file
            .certificates
            .iter()
            .map(|c| certificate_json(c, now, &numbers))
            .collect();
        println!("{}", serde_json::to_string_pretty(&value)?);
        return Ok(());
    }
    let o = &file.operator;
    println!("{} {}", o.identification_number, o.legal_name);
    println!(
        "QST {}, GST {}, files {}, registered {}{}",
        o.qst_number.as_ref().map_or("-", |q| q.as_str()),
        o.gst_number.as_ref().map_or("-", |g| g.as_str()),
        files(o),
        rfc3339(o.created_at),
        o.disabled_at
            .map(|at| format!(", disabled {}", rfc3339(at)))
            .unwrap_or_default()
    );
    println!("authorization codes (the codes themselves are kept only as digests):");
    for c in &codes {
        println!(
            "  {} active from {}{}",
            c.sector,
            rfc3339(c.activated_at),
            c.superseded_at
                .map(|at| format!(", superseded {}", rfc3339(at)))
                .unwrap_or_default()
        );
    }
    println!("devices: {}", devices_line(&file.devices));
    println!("certificates:");
    for c in &file.certificates {
        println!("  {}", certificate_line(c, now, &numbers));
    }
    Ok(())
}

/// Device identifiers as a line: `none`, or separated by commas.
pub(crate) fn devices_line(devices: &[websrm::domain::DeviceId]) -> String {
    if devices.is_empty() {
        return "none".to_owned();
    }
    devices
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

fn files(o: &Operator) -> String {
    let files: Vec<String> = o
        .file_numbers
        .iter()
        .map(|(f, s)| format!("{f}:{s}"))
        .collect();
    if files.is_empty() {
        "-".to_owned()
    } else {
        files.join(",")
    }
}

fn operator_json(o: &Operator) -> Value {
    json!({
        "identification_number": o.identification_number.as_str(),
        "legal_name": o.legal_name,
        "qst_number": o.qst_number.as_ref().map(|q| q.as_str()),
        "gst_number": o.gst_number.as_ref().map(|g| g.as_str()),
        "file_numbers": o.file_numbers.iter().map(|(f, s)| json!({"file_number": f.as_str(), "sector": s.as_str()})).collect::<Vec<_>>(),
        "created_at": rfc3339(o.created_at),
        "disabled_at": o.disabled_at.map(rfc3339),
    })
}

fn state_name(state: CertificateState) -> &'static str {
    match state {
        CertificateState::Active => "active",
        CertificateState::Expired => "expired",
        CertificateState::Replaced => "replaced",
        CertificateState::Deleted => "deleted",
        CertificateState::Revoked { .. } => "revoked",
        _ => "other",
    }
}

/// The states a report counts.
const NAMES: [&str; 5] = ["active", "expired", "replaced", "deleted", "revoked"];

fn holder(c: &CertificateRecord, numbers: &Numbers) -> String {
    numbers
        .get(&c.operator)
        .cloned()
        .unwrap_or_else(|| format!("#{}", c.operator.0))
}

fn certificate_line(c: &CertificateRecord, now: OffsetDateTime, numbers: &Numbers) -> String {
    format!(
        "{}  {:<8}  {}  operator {}  device {}  \"{}\"  valid {} to {}",
        c.serial,
        state_name(c.state.at(&c.validity, now)),
        c.environment,
        holder(c, numbers),
        c.device.map_or_else(|| "-".to_owned(), |d| d.to_string()),
        c.nickname,
        c.validity.not_before().date(),
        c.validity.not_after().date()
    )
}

fn certificate_json(c: &CertificateRecord, now: OffsetDateTime, numbers: &Numbers) -> Value {
    json!({
        "serial": c.serial.to_string(),
        "thumbprint": c.thumbprint.to_string(),
        "state": state_name(c.state.at(&c.validity, now)),
        "environment": c.environment.as_str(),
        "operator": holder(c, numbers),
        "device_id": c.device.map(|d| d.to_string()),
        "nickname": c.nickname.as_str(),
        "subject": c.subject,
        "not_before": rfc3339(c.validity.not_before()),
        "not_after": rfc3339(c.validity.not_after()),
        "issued_at": rfc3339(c.issued_at),
        "ended_at": c.ended_at.map(rfc3339),
        "ended_by": c.ended_by,
        "replaced_by": c.replaced_by.map(|s| s.to_string()),
    })
}

fn rfc3339(at: OffsetDateTime) -> String {
    at.replace_nanosecond(0)
        .unwrap_or(at)
        .format(&Rfc3339)
        .unwrap_or_else(|_| at.to_string())
}
