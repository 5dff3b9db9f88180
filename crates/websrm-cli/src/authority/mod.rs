//! `websrm authority …`: serve a local authority, and administer its operators.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result};
use clap::Subcommand;
use time::OffsetDateTime;
use websrm::domain::{
    DeviceId, Environment, FileNumber, IdentificationNumber, QstNumber, RevocationChannel,
    RevocationReason, Sector, SerialNumber,
};
use websrm_authority::OperatorRegistration;
use websrm_authority::{Authority, AuthorityFiles, SystemClock, seed, server};

mod agents;
mod serving;

use agents::{AgentArgs, run_agent};
#[cfg(unix)]
use serving::keep_tls_current;
use serving::{public_base, rotate, shutdown_signal, tls_identity};

/// Arguments of `websrm authority`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// A config file (TOML, docs/AUTHORITY.md): settings that flags and `WEBSRM_*` variables
    /// override.
    #[arg(long, global = true, env = "WEBSRM_CONFIG")]
    config: Option<PathBuf>,
    /// The authority's folder (registry, keys, certificates); created on first start.
    #[arg(long, global = true, env = "WEBSRM_DIR")]
    dir: Option<PathBuf>,
    /// The environment: DEV or ESSAI (the conformity service, which accepts both), or PROD;
    /// DEV when neither given nor in the config file.
    #[arg(long, global = true, env = "WEBSRM_ENV")]
    env: Option<Environment>,
    /// The registry's database: `postgres://USER:PASSWORD@HOST:PORT/NAME` for a PostgreSQL
    /// database that several authority processes share, or an SQLite file. By default,
    /// `authority.db` in the folder. Its schema is created or migrated on start.
    #[arg(long, global = true, env = "WEBSRM_DATABASE", hide_env_values = true)]
    database: Option<websrm_authority::Database>,
    /// Minutes before a new authorization code is accepted (Revenu Québec: up to 90). Kept in
    /// the registry: every later command and every process of the authority honours it (see
    /// `settings`); at once until set.
    #[arg(long, global = true)]
    code_activation_minutes: Option<u32>,
    /// Move the authority's clock: `+1800d`, `-12h` (d, h, m, s). For testing how SRSs meet
    /// expiry and replacement without waiting.
    #[arg(
        long,
        global = true,
        allow_hyphen_values = true,
        env = "WEBSRM_CLOCK_OFFSET"
    )]
    clock_offset: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum AuditCommand {
    /// Check the hash chain from the first entry; name the first entry that breaks it.
    Verify,
    /// Write the entries as JSON lines (one object per line) on standard output.
    Export {
        /// Only entries at or after this moment (RFC 3339).
        #[arg(long)]
        since: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the enrolment and API hosts until SIGTERM or Ctrl-C.
    Serve {
        /// The enrolment listener (server-authenticated TLS); port 0 picks a free port
        /// (`127.0.0.1:0` by default).
        #[arg(long, env = "WEBSRM_LISTEN")]
        listen: Option<SocketAddr>,
        /// The API listener (mutual TLS); port 0 picks a free port (`127.0.0.1:0` by default).
        #[arg(long, env = "WEBSRM_API_LISTEN")]
        api_listen: Option<SocketAddr>,
        /// The admin listener (plain HTTP, for this machine's monitoring): `/healthz`,
        /// `/readyz`, `/metrics` (Prometheus); `127.0.0.1:0` by default.
        #[arg(long, env = "WEBSRM_ADMIN_LISTEN")]
        admin_listen: Option<SocketAddr>,
        /// Register the published DEV test data and the test product (see docs/AUTHORITY.md).
        #[arg(long)]
        seed_test_data: bool,
        /// The enrolment host's public address, `https://HOST[:PORT]`: what certificates name
        /// for the CRL and the CA, and a name the TLS certificate covers. Required when
        /// listening on a wildcard address (0.0.0.0, ::).
        #[arg(long, env = "WEBSRM_PUBLIC_URL")]
        public_url: Option<String>,
        /// The API host's public address, `https://HOST[:PORT]`: a name the TLS certificate
        /// covers.
        #[arg(long, env = "WEBSRM_PUBLIC_API_URL")]
        public_api_url: Option<String>,
        /// The operator's own TLS certificate chain (PEM, leaf first) for both hosts, instead
        /// of the generated one; read again on SIGHUP.
        #[arg(long, requires = "tls_key", env = "WEBSRM_TLS_CERT")]
        tls_cert: Option<PathBuf>,
        /// Its key (PEM: PKCS#8, SEC1 or PKCS#1).
        #[arg(long, requires = "tls_cert", env = "WEBSRM_TLS_KEY")]
        tls_key: Option<PathBuf>,
        /// Faults on purpose, each a probability:
        /// `lost-answer=0.05,late-answer=0.02:12s,server-error=0.02,not-json=0.01,refuse=0.01`
        /// (docs/AUTHORITY.md, "Testing your SRS against a failing WEB-SRM").
        #[arg(long, env = "WEBSRM_FAULTS")]
        faults: Option<websrm_authority::faults::Faults>,
    },
    /// Register operators and issue their authorization codes.
    #[command(subcommand)]
    Operator(OperatorCommand),
    /// The SRS products: register a version, list, show, change a version's state or a
    /// developer's registration.
    #[command(subcommand)]
    Product(crate::product::ProductCommand),
    /// The certificates issued: list them by expiry, or count them by state and expiry.
    #[command(subcommand)]
    Certificate(crate::reads::CertificateCommand),
    /// Certification runs (ESSAI): where a product's run stands, and its evidence.
    #[command(subcommand)]
    Essai(crate::examiner::EssaiCommand),
    /// The settings every command and process of the authority honours, kept in its registry.
    #[command(subcommand)]
    Settings(SettingsCommand),
    /// The configuration in effect (config file, `WEBSRM_*` variables, flags), as TOML, the
    /// database's password left out.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// The customer-service console (the agent's password is read from WEBSRM_AGENT_PASSWORD).
    Agent(AgentArgs),
    /// The audit log: verify its hash chain, or export it.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Write a backup (one tar file), consistent while the authority serves: the registry,
    /// and if asked the folder's sealed keys and certificates and the key that opens them.
    Backup {
        /// The new file.
        #[arg(long)]
        to: PathBuf,
        /// Also the folder's keys (sealed) and certificates.
        #[arg(long)]
        with_folder: bool,
        /// Also the key-encryption key, which opens the sealed keys: whoever holds such a
        /// backup holds the authority.
        #[arg(long, requires = "with_folder")]
        with_key: bool,
    },
    /// Restore a backup into --dir, a new or empty folder, and check it.
    Restore {
        /// The backup.
        #[arg(long)]
        from: PathBuf,
    },
    /// Rotate a key: the CA's root, the certifPSI, or the TLS certificate (docs/AUTHORITY.md,
    /// "Rotation").
    #[command(subcommand)]
    Rotate(RotateCommand),
}

#[derive(Debug, Subcommand)]
enum RotateCommand {
    /// A new CA root issues every certificate from now on; the roots it replaces stay trusted,
    /// each with its CRL, until their certificates expire or are revoked. Processes serving
    /// the folder take it when they start again.
    Ca,
    /// A new certifPSI (RSA key and certificate from the current root), returned with every
    /// certificate issued from now on by processes started after it.
    Psi,
    /// A new TLS server key and certificate from the folder's TLS root (or a new root with
    /// --new-root), presented by `serve` after SIGHUP or a restart.
    Tls {
        /// A new TLS root too: clients must then trust the new tls-root.pem.
        #[arg(long)]
        new_root: bool,
        /// The public URL the certificate must cover, as `serve --public-url`.
        #[arg(long, env = "WEBSRM_PUBLIC_URL")]
        public_url: Option<String>,
        /// The API host's public URL, as `serve --public-api-url`.
        #[arg(long, env = "WEBSRM_PUBLIC_API_URL")]
        public_api_url: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Print it.
    Show,
}

#[derive(Debug, Subcommand)]
enum SettingsCommand {
    /// Print them.
    Show,
    /// Change the lockout policy (failures within a window lock the identification number out,
    /// for enrolment and the online services alike). The code activation delay is set with the
    /// global `--code-activation-minutes`.
    Set {
        /// Failures that lock out.
        #[arg(long)]
        lockout_failures: u32,
        /// The window they are counted in, in minutes.
        #[arg(long)]
        lockout_window_minutes: u32,
        /// How long the lockout lasts, in minutes.
        #[arg(long)]
        lockout_minutes: u32,
    },
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
    /// Set a new password for the operator's online services and print it.
    SetPassword {
        /// The identification number.
        #[arg(long)]
        identification_number: String,
    },
    /// List the operators.
    List {
        /// One JSON object per line.
        #[arg(long)]
        json: bool,
    },
    /// Show an operator: its numbers, authorization codes (sectors and dates), devices and
    /// certificates.
    Show {
        /// The identification number.
        #[arg(long)]
        identification_number: IdentificationNumber,
        /// As JSON.
        #[arg(long)]
        json: bool,
    },
    /// Disable an operator: its authorization codes are refused (514E) and it cannot sign in
    /// to the online services; its certificates stay as they are (revoke them to end them).
    Disable {
        /// The identification number.
        #[arg(long)]
        identification_number: IdentificationNumber,
        /// Why, for the audit log.
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Enable a disabled operator again.
    Enable {
        /// The identification number.
        #[arg(long)]
        identification_number: IdentificationNumber,
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

pub(crate) fn run(mut args: Args) -> Result<()> {
    let now = OffsetDateTime::now_utc();
    // The config file gives what neither a flag nor a `WEBSRM_*` variable gave.
    let file = match &args.config {
        Some(path) => crate::config::FileConfig::read(path)?,
        None => crate::config::FileConfig::default(),
    };
    args.dir = args.dir.take().or_else(|| file.dir.clone());
    if args.env.is_none() {
        args.env = file
            .env
            .as_deref()
            .map(str::parse)
            .transpose()
            .context("the config file's env")?;
    }
    if args.database.is_none() {
        args.database = file.database.as_deref().map(|d| match d.parse() {
            Ok(database) => database,
            Err(never) => match never {},
        });
    }
    args.code_activation_minutes = args
        .code_activation_minutes
        .or(file.code_activation_minutes);
    args.clock_offset = args
        .clock_offset
        .take()
        .or_else(|| file.clock_offset.clone());
    if let Command::Config(ConfigCommand::Show) = &args.command {
        let effective = crate::config::FileConfig {
            dir: args.dir.clone(),
            env: Some(args.env.unwrap_or(Environment::Dev).to_string()),
            database: args.database.as_ref().map(|d| match d {
                websrm_authority::Database::Postgres(url) => url.clone(),
                other => other.to_string(),
            }),
            code_activation_minutes: args.code_activation_minutes,
            clock_offset: args.clock_offset.clone(),
            serve: crate::config::ServeConfig {
                listen: env_or("WEBSRM_LISTEN", file.serve.listen)?,
                api_listen: env_or("WEBSRM_API_LISTEN", file.serve.api_listen)?,
                admin_listen: env_or("WEBSRM_ADMIN_LISTEN", file.serve.admin_listen)?,
                public_url: env_or("WEBSRM_PUBLIC_URL", file.serve.public_url.clone())?,
                public_api_url: env_or("WEBSRM_PUBLIC_API_URL", file.serve.public_api_url.clone())?,
                tls_cert: env_or("WEBSRM_TLS_CERT", file.serve.tls_cert.clone())?,
                tls_key: env_or("WEBSRM_TLS_KEY", file.serve.tls_key.clone())?,
                faults: env_or("WEBSRM_FAULTS", file.serve.faults.clone())?,
                seed_test_data: file.serve.seed_test_data,
            },
        };
        print!("{}", effective.show()?);
        return Ok(());
    }
    let env = args.env.unwrap_or(Environment::Dev);
    let dir = args
        .dir
        .clone()
        .context("--dir DIR is required (or `dir` in the config file): the authority's folder")?;
    // A restore writes the folder before anything opens it (opening would create a new CA).
    if let Command::Restore { from } = &args.command {
        return restore(from, &dir);
    }
    // A rotation writes the folder's new key before anything serves from it.
    if let Command::Rotate(what) = &args.command {
        return rotate(what, &dir, args.database.as_ref(), env, &file.serve, now);
    }
    let files = AuthorityFiles::open_or_create_with(&dir, args.database.as_ref(), env, now)
        .with_context(|| match &args.database {
            Some(database) => {
                format!("opening the authority's folder and the registry at {database}")
            }
            None => "opening the authority's folder".to_owned(),
        })?;
    let clock: Arc<dyn websrm::domain::Clock> = match &args.clock_offset {
        Some(offset) => Arc::new(websrm_authority::OffsetClock::parse(offset)?),
        None => Arc::new(SystemClock),
    };
    let (authority, tls) = Authority::new(files, env, clock);
    if let Some(minutes) = args.code_activation_minutes
        && authority
            .admin()
            .set_code_activation_minutes(minutes, "cli")?
    {
        println!("new authorization codes are active {minutes} minutes after they are issued");
    }
    match args.command {
        Command::Serve {
            listen,
            api_listen,
            admin_listen,
            seed_test_data,
            public_url,
            public_api_url,
            tls_cert,
            tls_key,
            faults,
        } => {
            let serve = &file.serve;
            let any = || -> SocketAddr { SocketAddr::from(([127, 0, 0, 1], 0)) };
            let listen = listen.or(serve.listen).unwrap_or_else(any);
            let api_listen = api_listen.or(serve.api_listen).unwrap_or_else(any);
            let admin_listen = admin_listen.or(serve.admin_listen).unwrap_or_else(any);
            let public_url = public_url.or_else(|| serve.public_url.clone());
            let public_api_url = public_api_url.or_else(|| serve.public_api_url.clone());
            let (tls_cert, tls_key) = match (tls_cert, tls_key) {
                (Some(cert), Some(key)) => (Some(cert), Some(key)),
                _ => (serve.tls_cert.clone(), serve.tls_key.clone()),
            };
            if tls_cert.is_some() != tls_key.is_some() {
                anyhow::bail!("the config file names tls_cert and tls_key together, or neither");
            }
            let faults = match faults {
                Some(faults) => Some(faults),
                None => serve.faults.as_deref().map(str::parse).transpose()?,
            };
            let seed_test_data = seed_test_data || serve.seed_test_data.unwrap_or(false);
            let public = public_url.as_deref().map(public_base).transpose()?;
            let public_api = public_api_url.as_deref().map(public_base).transpose()?;
            if public.is_none() && listen.ip().is_unspecified() {
                anyhow::bail!(
                    "listening on {listen} needs --public-url https://HOST[:PORT]: certificates would otherwise name https://{listen}/crl, which no SRS can reach"
                );
            }
            if env == Environment::Prod
                && (faults.as_ref().is_some_and(|f| !f.is_none()) || args.clock_offset.is_some())
            {
                anyhow::bail!(
                    "--faults and --clock-offset are for testing: a production authority refuses them"
                );
            }
            if seed_test_data {
                seed::seed_test_data(&authority, authority.now())
                    .context("registering the test data")?;
            }
            if let Some((base, _)) = &public {
                authority.publish_under(base);
            }
            if let Some(faults) = faults.filter(|f| !f.is_none()) {
                println!("injecting faults on purpose: {faults}");
                authority.set_faults(faults);
            }
            if let Some(offset) = &args.clock_offset {
                println!("the authority's clock is moved by {offset}");
            }
            let own = tls_cert.zip(tls_key);
            let public_names: Vec<String> = public
                .iter()
                .chain(public_api.iter())
                .map(|(_, host)| host.clone())
                .collect();
            let identity = Arc::new(tls_identity(&dir, own.as_ref(), &public_names, tls)?);
            let runtime = tokio::runtime::Runtime::new()?;
            runtime.block_on(async move {
                // The handlers are in place before the addresses are printed: whoever reads them
                // may stop the authority at once.
                let shutdown = shutdown_signal()?;
                // SIGHUP's handler too: its default action would end the authority.
                #[cfg(unix)]
                let hangup =
                    tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())?;
                let enrolment = tokio::net::TcpListener::bind(listen)
                    .await
                    .with_context(|| format!("binding {listen}"))?;
                let api = tokio::net::TcpListener::bind(api_listen)
                    .await
                    .with_context(|| format!("binding {api_listen}"))?;
                let admin = tokio::net::TcpListener::bind(admin_listen)
                    .await
                    .with_context(|| format!("binding {admin_listen}"))?;
                println!("listening on https://{}", enrolment.local_addr()?);
                println!("api listening on https://{}", api.local_addr()?);
                println!("admin listening on http://{}", admin.local_addr()?);
                if !admin_listen.ip().is_loopback() {
                    eprintln!(
                        "warning: the admin listener ({admin_listen}) answers whoever reaches it, without authentication: keep it behind a firewall"
                    );
                }
                if own.is_some() {
                    println!("presenting the TLS certificate given (read again on SIGHUP)");
                } else {
                    println!(
                        "clients trust {}",
                        dir.join(websrm_authority::names::TLS_ROOT).display()
                    );
                }
                if let Some((base, _)) = &public {
                    println!("certificates name {base}{}", server::CRL_PATH);
                }
                #[cfg(unix)]
                tokio::spawn(keep_tls_current(
                    hangup,
                    identity.clone(),
                    dir.clone(),
                    own.clone(),
                    public_names,
                ));
                let authority = Arc::new(authority);
                let (stop_admin, admin_stopped) = tokio::sync::oneshot::channel::<()>();
                let admin = tokio::spawn(server::serve_admin(authority.clone(), admin, async {
                    let _ = admin_stopped.await;
                }));
                server::serve_with_identity(
                    authority,
                    enrolment,
                    api,
                    identity,
                    server::Limits::default(),
                    shutdown,
                )
                .await?;
                let _ = stop_admin.send(());
                let _ = admin.await;
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
            let mut operator = OperatorRegistration::new(identification_number.parse()?, name);
            operator.qst_number = qst.as_deref().map(str::parse).transpose()?;
            operator.gst_number = gst.as_deref().map(str::parse).transpose()?;
            for entry in &file_numbers {
                let (file, sector) = entry
                    .split_once(':')
                    .context("a file number is written FILE:SECTOR, e.g. ER0001:RBC")?;
                operator.file_numbers.push((file.parse()?, sector.parse()?));
            }
            let issued = authority
                .admin()
                .register_operator(operator, sector, "cli")?;
            println!(
                "operator {identification_number} registered; authorization code {} ({sector}){}",
                issued.code.expose(),
                activation(&authority, &issued)
            );
            Ok(())
        }
        Command::Agent(agent) => run_agent(&authority, agent),
        Command::Product(command) => crate::product::run(&authority, command),
        Command::Certificate(command) => crate::reads::certificates(&authority, command),
        Command::Essai(command) => crate::examiner::run(&authority, command),
        Command::Settings(SettingsCommand::Show) => {
            let policy = authority.lockout();
            println!(
                "code activation: {} minutes after issuance",
                authority.code_activation_delay().whole_minutes()
            );
            println!(
                "lockout: {} failures within {} minutes lock out for {} minutes",
                policy.max_failures,
                policy.window.whole_minutes(),
                policy.lockout.whole_minutes()
            );
            Ok(())
        }
        Command::Settings(SettingsCommand::Set {
            lockout_failures,
            lockout_window_minutes,
            lockout_minutes,
        }) => {
            let policy = websrm_authority::LockoutPolicy::new(
                lockout_failures,
                time::Duration::minutes(i64::from(lockout_window_minutes)),
                time::Duration::minutes(i64::from(lockout_minutes)),
            );
            let changed = authority.admin().set_lockout_policy(policy, "cli")?;
            println!("lockout {}", if changed { "set" } else { "unchanged" });
            Ok(())
        }
        Command::Operator(OperatorCommand::List { json }) => {
            crate::reads::list_operators(&authority, json)
        }
        Command::Operator(OperatorCommand::Show {
            identification_number,
            json,
        }) => crate::reads::show_operator(&authority, &identification_number, json),
        Command::Operator(OperatorCommand::Disable {
            identification_number,
            reason,
        }) => {
            let changed = authority.admin().set_operator_disabled(
                &identification_number,
                true,
                &reason,
                "cli",
            )?;
            println!(
                "operator {identification_number} {}",
                if changed {
                    "disabled: its authorization codes and online-services password no longer work"
                } else {
                    "was already disabled"
                }
            );
            Ok(())
        }
        Command::Operator(OperatorCommand::Enable {
            identification_number,
        }) => {
            let changed = authority.admin().set_operator_disabled(
                &identification_number,
                false,
                "",
                "cli",
            )?;
            println!(
                "operator {identification_number} {}",
                if changed {
                    "enabled"
                } else {
                    "was not disabled"
                }
            );
            Ok(())
        }
        Command::Backup {
            to,
            with_folder,
            with_key,
        } => {
            if args.database.is_some() {
                anyhow::bail!(
                    "a registry on PostgreSQL is backed up with pg_dump (docs/AUTHORITY.md, \"Backup and restore\"); \
                     back up the folder's files with it"
                );
            }
            let manifest = authority
                .admin()
                .backup(
                    &dir,
                    &to,
                    websrm_authority::backup::BackupContents::new(with_folder, with_key),
                )
                .context("writing the backup")?;
            println!(
                "backup written to {}: {} ({} audit entries)",
                to.display(),
                manifest.files.join(", "),
                manifest.audit_entries
            );
            Ok(())
        }
        Command::Restore { .. } => unreachable!("restored before the folder is opened"),
        Command::Rotate(_) => unreachable!("rotated before the folder is opened"),
        Command::Config(_) => unreachable!("shown before the folder is opened"),
        Command::Audit(AuditCommand::Verify) => {
            let entries = authority
                .admin()
                .verify_audit()
                .context("the audit log does not verify")?;
            println!("audit log verified: {entries} entries, the hash chain is whole");
            Ok(())
        }
        Command::Audit(AuditCommand::Export { since }) => {
            let since = since
                .map(|t| {
                    OffsetDateTime::parse(&t, &time::format_description::well_known::Rfc3339)
                        .with_context(|| format!("--since {t} is not RFC 3339"))
                })
                .transpose()?;
            use std::io::Write;
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            // A page of entries at a time: a log of any length is exported in bounded memory.
            let mut failed = None;
            authority.admin().each_audit_entry(since, |e| {
                let hash: String = e.hash.iter().map(|b| format!("{b:02x}")).collect();
                let written = writeln!(
                    out,
                    "{}",
                    serde_json::json!({
                        "seq": e.seq,
                        "at": e.entry.at.format(&time::format_description::well_known::Rfc3339).unwrap_or_default(),
                        "actor": e.entry.actor,
                        "action": e.entry.action,
                        "subject": e.entry.subject,
                        "error_id": e.entry.error_id.map(|i| i.to_string()),
                        "detail": e.entry.detail,
                        "hash": hash,
                        "keyed": e.keyed,
                    })
                );
                match written {
                    Ok(()) => std::ops::ControlFlow::Continue(()),
                    Err(error) => {
                        failed = Some(error);
                        std::ops::ControlFlow::Break(())
                    }
                }
            })?;
            if let Some(error) = failed {
                return Err(error.into());
            }
            out.flush()?;
            Ok(())
        }
        Command::Operator(OperatorCommand::SetPassword {
            identification_number,
        }) => {
            let password = authority
                .admin()
                .reset_operator_password(&identification_number.parse()?, "cli")?;
            println!("online-services password for {identification_number}: {password}");
            Ok(())
        }
        Command::Operator(OperatorCommand::NewCode {
            identification_number,
            sector,
        }) => {
            let issued = authority.admin().issue_authorization_code(
                &identification_number.parse()?,
                sector,
                "cli",
            )?;
            println!(
                "new authorization code for {identification_number}: {} ({sector}){}; the previous one no longer works",
                issued.code.expose(),
                activation(&authority, &issued)
            );
            Ok(())
        }
    }
}

/// The variable `name` if set (parsed), else `fallback`.
fn env_or<T: std::str::FromStr>(name: &str, fallback: Option<T>) -> Result<Option<T>>
where
    T::Err: std::fmt::Display,
{
    match std::env::var(name) {
        Ok(value) => value
            .parse()
            .map(Some)
            .map_err(|e| anyhow::anyhow!("{name}={value}: {e}")),
        Err(_) => Ok(fallback),
    }
}

fn activation(authority: &Authority, issued: &websrm_authority::IssuedCode) -> String {
    if authority.code_activation_delay().is_zero() {
        return String::new();
    }
    let at = issued
        .active_from
        .replace_nanosecond(0)
        .unwrap_or(issued.active_from);
    let at = at
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| at.to_string());
    format!(", active from {at}")
}

fn print_certificate(c: &websrm_authority::records::CertificateRecord) {
    println!(
        "  {} \"{}\" {} device {} valid {} to {}: {:?}",
        c.serial,
        c.nickname,
        c.environment,
        c.device.map_or_else(|| "-".to_owned(), |d| d.to_string()),
        c.validity.not_before().date(),
        c.validity.not_after().date(),
        c.state
    );
}

/// Restores a backup into `dir`, then, when the backup held the whole folder, opens it and
/// verifies the audit log as `audit verify` does.
fn restore(from: &std::path::Path, dir: &std::path::Path) -> Result<()> {
    let restored = websrm_authority::backup::restore(from, dir)
        .with_context(|| format!("restoring {}", from.display()))?;
    let m = &restored.manifest;
    println!(
        "restored into {}: {} (written {} by websrm {}, {} audit entries)",
        dir.display(),
        m.files.join(", "),
        m.created_at,
        m.websrm,
        m.audit_entries
    );
    if !restored.missing.is_empty() {
        println!(
            "before serving, copy into {} from the original folder (or where the key is kept): {}",
            dir.display(),
            restored.missing.join(", ")
        );
        return Ok(());
    }
    let environment = if m.family == "production" {
        Environment::Prod
    } else {
        Environment::Dev
    };
    let files =
        AuthorityFiles::open_or_create_with(dir, None, environment, OffsetDateTime::now_utc())
            .context("opening the restored folder")?;
    let (authority, _) = Authority::new(files, environment, Arc::new(SystemClock));
    let entries = authority
        .admin()
        .verify_audit()
        .context("the restored audit log does not verify")?;
    println!("audit log verified: {entries} entries, the hash chain is whole");
    Ok(())
}
