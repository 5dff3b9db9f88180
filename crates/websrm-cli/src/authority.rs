//! `websrm authority …`: serve a local authority, and administer its operators.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::Subcommand;
use time::OffsetDateTime;
use websrm::domain::{AuthorizationCode, Environment, Sector};
use websrm_authority::{Authority, AuthorityFiles, SystemClock, seed, server};
use websrm_store::NewAudit;
use websrm_store::registry::NewOperator;

/// Arguments of `websrm authority`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The authority's folder (registry, keys, certificates); created on first start.
    #[arg(long, global = true)]
    dir: Option<PathBuf>,
    /// The environment: DEV or ESSAI (the conformity service, which accepts both), or PROD.
    #[arg(long, global = true, default_value = "DEV")]
    env: Environment,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the enrolment and API hosts until SIGTERM or Ctrl-C.
    Serve {
        /// The enrolment listener (server-authenticated TLS); port 0 picks a free port.
        #[arg(long, default_value = "127.0.0.1:0")]
        listen: SocketAddr,
        /// The API listener (mutual TLS); port 0 picks a free port.
        #[arg(long, default_value = "127.0.0.1:0")]
        api_listen: SocketAddr,
        /// Register the published DEV test data and the test product (see docs/AUTHORITY.md).
        #[arg(long)]
        seed_test_data: bool,
    },
    /// Register operators and issue their authorization codes.
    #[command(subcommand)]
    Operator(OperatorCommand),
}

#[derive(Debug, Subcommand)]
enum OperatorCommand {
    /// Register an operator and print its new authorization code.
    Add {
        /// The identification number (10 digits).
        #[arg(long)]
        identification_number: String,
        /// The legal name.
        #[arg(long)]
        name: String,
        /// The QST number (omit for a server administrator).
        #[arg(long)]
        qst: Option<String>,
        /// The GST number.
        #[arg(long)]
        gst: Option<String>,
        /// A file number with its sector, e.g. ER0001:RBC (repeatable).
        #[arg(long = "file-number")]
        file_numbers: Vec<String>,
        /// The sector of the authorization code (RBC, TRP, or FOB for a server administrator).
        #[arg(long, default_value = "RBC")]
        sector: Sector,
    },
    /// Issue a new authorization code; it supersedes the previous one.
    NewCode {
        /// The identification number.
        #[arg(long)]
        identification_number: String,
        /// The sector of the code.
        #[arg(long, default_value = "RBC")]
        sector: Sector,
    },
}

pub(crate) fn run(args: Args) -> Result<()> {
    let now = OffsetDateTime::now_utc();
    let dir = args
        .dir
        .clone()
        .context("--dir DIR is required: the authority's folder")?;
    let files = AuthorityFiles::open_or_create(&dir, args.env, now)
        .context("opening the authority's folder")?;
    let (authority, tls) = Authority::new(files, args.env, Arc::new(SystemClock));
    match args.command {
        Command::Serve {
            listen,
            api_listen,
            seed_test_data,
        } => {
            if seed_test_data {
                seed::seed_test_data(&authority, now).context("registering the test data")?;
            }
            let runtime = tokio::runtime::Runtime::new()?;
            runtime.block_on(async move {
                // The handlers are in place before the addresses are printed: whoever reads them
                // may stop the authority at once.
                let shutdown = shutdown_signal()?;
                let enrolment = tokio::net::TcpListener::bind(listen)
                    .await
                    .with_context(|| format!("binding {listen}"))?;
                let api = tokio::net::TcpListener::bind(api_listen)
                    .await
                    .with_context(|| format!("binding {api_listen}"))?;
                println!("listening on https://{}", enrolment.local_addr()?);
                println!("api listening on https://{}", api.local_addr()?);
                println!(
                    "clients trust {}",
                    dir.join(websrm_authority::names::TLS_ROOT).display()
                );
                server::serve(
                    Arc::new(authority),
                    enrolment,
                    api,
                    tls.chain.clone(),
                    &tls.key,
                    shutdown,
                )
                .await?;
                println!("stopped");
                Ok(())
            })
        }
        Command::Operator(OperatorCommand::Add {
            identification_number,
            name,
            qst,
            gst,
            file_numbers,
            sector,
        }) => {
            let mut operator = NewOperator::new(identification_number.parse()?, name.clone());
            operator.qst_number = qst.as_deref().map(str::parse).transpose()?;
            operator.gst_number = gst.as_deref().map(str::parse).transpose()?;
            for entry in &file_numbers {
                let (file, sector) = entry
                    .split_once(':')
                    .context("a file number is written FILE:SECTOR, e.g. ER0001:RBC")?;
                operator.file_numbers.push((file.parse()?, sector.parse()?));
            }
            let audit = NewAudit::new(
                now,
                "cli",
                "add-operator",
                identification_number.clone(),
                name,
            );
            let id = authority.registry().add_operator(&operator, now, audit)?;
            let code = new_code(&authority, id, &identification_number, sector, now)?;
            println!(
                "operator {identification_number} registered; authorization code {} ({sector})",
                code.expose()
            );
            Ok(())
        }
        Command::Operator(OperatorCommand::NewCode {
            identification_number,
            sector,
        }) => {
            let operator = authority
                .registry()
                .operator_by_identification(&identification_number.parse()?)?
                .with_context(|| format!("no operator {identification_number}"))?;
            let code = new_code(&authority, operator.id, &identification_number, sector, now)?;
            println!(
                "new authorization code for {identification_number}: {} ({sector}); the previous one no longer works",
                code.expose()
            );
            Ok(())
        }
    }
}

/// A random code of the shape `X9X9-X9X9`, recorded as active at once.
fn new_code(
    authority: &Authority,
    operator: websrm_store::registry::OperatorId,
    number: &str,
    sector: Sector,
    now: OffsetDateTime,
) -> Result<AuthorizationCode> {
    const ALNUM: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ0123456789";
    let mut random = [0u8; 8];
    getrandom::fill(&mut random).map_err(|e| anyhow::anyhow!("random generator: {e}"))?;
    let c = |i: usize, digit: bool| {
        if digit {
            char::from(b'0' + random[i] % 10)
        } else {
            char::from(ALNUM[usize::from(random[i]) % ALNUM.len()])
        }
    };
    let text = format!(
        "{}{}{}{}-{}{}{}{}",
        c(0, false),
        c(1, true),
        c(2, false),
        c(3, true),
        c(4, false),
        c(5, true),
        c(6, false),
        c(7, true)
    );
    let code: AuthorizationCode = text.parse()?;
    let audit = NewAudit::new(now, "cli", "add-code", number, sector.as_str());
    authority
        .registry()
        .add_authorization_code(operator, &code, sector, now, now, audit)?;
    Ok(code)
}

/// A future that completes on Ctrl-C or SIGTERM; the handlers are installed when this returns.
fn shutdown_signal() -> Result<impl Future<Output = ()>> {
    #[cfg(unix)]
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let ctrl_c = tokio::signal::ctrl_c();
    Ok(async move {
        #[cfg(unix)]
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
        #[cfg(not(unix))]
        let _ = ctrl_c.await;
    })
}
