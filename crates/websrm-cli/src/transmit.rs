//! `websrm srs transmit` and `websrm srs outbox`: transactions recorded, sent, and kept while
//! the authority cannot be reached.

use std::path::Path;

use anyhow::{Context, Result, bail};
use serde_json::Value;
use websrm::transaction::{Checks, english_message, read_sale};
use websrm::{AuthorityError, Delivery, Origin, Outcome, Resend, Srs};

/// Records the sale in `file` (the wire's field names, without `signa`, `emprCertifSEV` and
/// `SEV`) and sends it with the pending transactions.
pub(crate) async fn transmit(
    srs: &Srs,
    file: &Path,
    terminal: Option<String>,
    json: bool,
) -> Result<()> {
    let text =
        std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
    let value: Value =
        serde_json::from_str(&text).with_context(|| format!("{} is not JSON", file.display()))?;
    let checks = Checks::default().with_sums();
    let sale = read_sale(&value, checks).map_err(|found| {
        let lines: Vec<String> = found.iter().map(ToString::to_string).collect();
        anyhow::anyhow!(
            "the authority would refuse this transaction:\n  {}",
            lines.join("\n  ")
        )
    })?;
    // The identification number is the start of the QST number.
    let operator = sale.tax_numbers.qst.as_str()[..10]
        .parse()
        .context("the QST number does not start with an identification number")?;
    let origin = terminal.map_or(Origin::Host, Origin::Terminal);
    let t = srs
        .transmit(&origin, &operator, sale, checks)
        .await
        .map_err(crate::facade::explain)?;
    let no_trans = t.transaction.sale.number.to_string();
    if json {
        // The agent's shape (`POST /v1/transactions`), from the facade.
        println!("{}", serde_json::to_string(&t.to_json())?);
    } else {
        match &t.outcome {
            Outcome::Transmitted {
                psi_no_trans,
                psi_dat_trans,
            } => println!("{no_trans}: transmitted, psiNoTrans {psi_no_trans} at {psi_dat_trans}"),
            Outcome::Offline { reason } => println!(
                "{no_trans}: kept in the outbox ({reason}); the bill says {}",
                websrm::COMMUNICATION_PROBLEM
            ),
            Outcome::Refused { errors, resend } => {
                for line in error_lines(errors) {
                    println!("{line}");
                }
                println!("{no_trans}: refused; {}", resend_text(*resend));
            }
            _ => {}
        }
        print_delivery(&t.batch);
    }
    if matches!(
        t.outcome,
        Outcome::Refused {
            resend: Resend::Never | Resend::AsNewTransaction,
            ..
        }
    ) {
        bail!("the authority refused transaction {no_trans}");
    }
    Ok(())
}

/// Shows the outbox, after sending what it holds when `flush`.
pub(crate) async fn outbox(srs: &Srs, flush: bool, limit: usize, json: bool) -> Result<()> {
    let delivery = if flush {
        Some(srs.flush().await.map_err(crate::facade::explain)?)
    } else {
        None
    };
    let outbox = srs.outbox(limit)?;
    if json {
        // The agent's shape (`GET /v1/outbox`, `POST /v1/outbox/flush`), from the facade.
        println!(
            "{}",
            serde_json::to_string(&outbox.to_json(delivery.as_ref()))?
        );
    } else {
        if let Some(d) = &delivery {
            print_delivery(d);
        }
        match outbox.oldest_age {
            Some(age) => println!(
                "{} transaction(s) pending, the oldest for {} s",
                outbox.pending,
                age.whole_seconds()
            ),
            None => println!("no transaction pending"),
        }
        if let Some(o) = &outbox.offline {
            println!("offline since {} ({})", o.since, o.reason);
        }
        for e in &outbox.entries {
            println!(
                "  {} recorded {} tried {} time(s)",
                e.no_trans, e.recorded_at, e.attempts
            );
        }
    }
    if delivery.as_ref().is_some_and(|d| !d.errors.is_empty()) {
        bail!("the authority refused the batch");
    }
    Ok(())
}

fn print_delivery(d: &Delivery) {
    if d.sent + d.refused > 0 {
        println!(
            "batch: {} received, {} refused, in {} request(s)",
            d.sent, d.refused, d.requests
        );
    }
    for line in error_lines(&d.errors) {
        println!("{line}");
    }
    if let Some(reason) = &d.offline {
        println!("the authority cannot be reached: {reason}");
    }
}

fn error_lines(errors: &[AuthorityError]) -> Vec<String> {
    errors
        .iter()
        .map(|e| {
            let code = e
                .return_code
                .map(|c| format!(" (codRetour {c})"))
                .unwrap_or_default();
            let en = english(e).map(|t| format!(" / {t}")).unwrap_or_default();
            format!("{}{code}: {}{en}", e.id, e.message)
        })
        .collect()
}

fn english(e: &AuthorityError) -> Option<String> {
    e.english()
        .or_else(|| english_message(e.id).map(str::to_owned))
}

fn resend_text(r: Resend) -> &'static str {
    match r {
        Resend::Unchanged => "it stays in the outbox and goes unchanged with the next request",
        Resend::AsNewTransaction => {
            "it was not received: record it again as a new transaction (new number, dates and signatures)"
        }
        _ => "never send it again; correct it with a new transaction that refers to it",
    }
}
