//! The `websrm` command: operate an SRS's certificates and run a local WEB-SRM authority.

// A command-line tool writes to its terminal.
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod agent;
mod authority;
mod check;
mod config;
mod demo;
mod essai;
mod examiner;
mod explain;
mod facade;
mod product;
mod reads;
mod srs;
mod transmit;
#[cfg(windows)]
mod winservice;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// WEB-SRM certificates: an SRS's side and a local authority.
#[derive(Debug, Parser)]
#[command(name = "websrm", version, about)]
struct Cli {
    /// How the diagnostic log (standard error) is written: `text`, or `json` (one object a
    /// line, for a log collector). Its level is `RUST_LOG` (`warn` by default).
    #[arg(long, global = true, default_value = "text", value_parser = ["text", "json"])]
    log_format: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run or administer a WEB-SRM-compatible certificate authority.
    Authority(authority::Args),
    /// Operate an SRS's certificates: device identifier, enrolment, status, replacement, deletion.
    Srs(srs::Args),
    /// A local service giving point-of-sale software in any language the certificate
    /// lifecycle over a JSON API.
    Agent(agent::Args),
    /// Start a local authority and walk an SRS through the whole certificate lifecycle.
    Demo,
    /// Check a WEB-SRM value and print it in canonical form.
    Check(check::Args),
    /// Explain a WEB-SRM error id: its messages, who can fix it, what to do next.
    Explain(explain::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let log = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr);
    if cli.log_format == "json" {
        log.json().init();
    } else {
        log.init();
    }
    let result = match cli.command {
        Command::Authority(args) => authority::run(args),
        Command::Srs(args) => srs::run(args),
        Command::Agent(args) => agent::run(args),
        Command::Demo => demo::run(),
        Command::Check(args) => check::run(&args),
        Command::Explain(args) => explain::run(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(exit_code(&error))
        }
    }
}

/// The exit status of a failed command, so that a script can tell what to do next (README,
/// "Exit status"): 3 the authority refused (or would refuse) the request, 4 it could not be
/// reached or did not answer usably (send again later), 5 the certificate cannot be used
/// (expired, revoked, refused: billing is blocked until a new one is obtained), 1 anything
/// else. Usage errors are clap's 2.
fn exit_code(error: &anyhow::Error) -> u8 {
    error
        .chain()
        .find_map(|cause| {
            cause
                .downcast_ref::<Worded>()
                .map(|w| w.status)
                .or_else(|| cause.downcast_ref::<websrm::Error>().map(status_of))
        })
        .unwrap_or(1)
}

/// The exit status [`exit_code`] gives a facade error.
pub(crate) fn status_of(error: &websrm::Error) -> u8 {
    match error {
        websrm::Error::Refused { .. } | websrm::Error::Transaction(_) => 3,
        websrm::Error::Communication { .. }
        | websrm::Error::Unreachable { .. }
        | websrm::Error::BadAnswer(_) => 4,
        websrm::Error::Unusable { .. } => 5,
        _ => 1,
    }
}

/// A facade error worded for the user (both languages), keeping its exit status.
#[derive(Debug)]
pub(crate) struct Worded {
    pub(crate) message: String,
    pub(crate) status: u8,
}

impl std::fmt::Display for Worded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Worded {}
