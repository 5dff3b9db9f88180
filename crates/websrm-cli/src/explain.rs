//! `websrm explain ID`: what a WEB-SRM error means, who can fix it and what to do next.

use anyhow::{Result, bail};
use websrm::explain;

/// Arguments of `websrm explain`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The error: `JW00B999514E`, `514E` or `514`.
    #[arg(required_unless_present = "all")]
    id: Option<String>,
    /// Every error websrm knows.
    #[arg(long, conflicts_with = "id")]
    all: bool,
    /// As the Markdown table of docs/ERRORS.md (with `--all`).
    #[arg(long, requires = "all")]
    markdown: bool,
}

pub(crate) fn run(args: &Args) -> Result<()> {
    if args.all {
        if args.markdown {
            print!("{}", explain::markdown());
        } else {
            for e in explain::all() {
                print_one(&e);
                println!();
            }
        }
        return Ok(());
    }
    let text = args.id.as_deref().unwrap_or_default();
    let Some(id) = explain::parse_id(text) else {
        bail!("{text:?} is not an error id: write JW00B999514E, 514E or 514");
    };
    let Some(e) = explain::explain(id) else {
        bail!("{id} is not an error websrm knows (see docs/ERRORS.md for the list)");
    };
    print_one(&e);
    Ok(())
}

fn print_one(e: &explain::Explanation) {
    let code = e
        .return_code
        .map_or_else(|| "none".to_owned(), |c| c.to_string());
    println!("{}  codRetour {code}", e.id);
    println!("  fr: {}", e.french);
    println!("  en: {}", e.english);
    if let Some(condition) = e.condition {
        println!("  when: {condition}");
    }
    println!("  who can fix it: {}", e.who());
    println!(
        "  send again: {}",
        if e.retransmittable() { "yes" } else { "no" }
    );
    println!("  next: {}", e.next_step());
    if e.companion {
        println!("  followed by JW00B999999E (\"contact your retailer\")");
    }
}
