//! The `websrm` command: operate an SRS's certificates and run a local WEB-SRM authority.

// A command-line tool writes to its terminal.
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod agent;
mod authority;
mod check;
mod demo;
mod essai;
mod explain;
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
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let cli = Cli::parse();
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
            ExitCode::FAILURE
        }
    }
}
