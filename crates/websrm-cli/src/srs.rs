//! `websrm srs …`: an SRS's certificates from the command line.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::Subcommand;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use websrm::domain::{DeviceId, Nickname};
use websrm::{CertificateView, Config, Confirmation, DeviceIdAnswer, OperatorEnrolment, Srs};

use crate::facade::{Connection, explain, health_text};

/// Arguments of `websrm srs`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// Which store, authority, product and installation, shared by every command.
    #[command(flatten)]
    pub(crate) connection: Connection,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Show the device identifier, or record the one the user already has.
    DeviceId {
        /// The identifier to record (before a first enrolment).
        #[arg(long)]
        set: Option<DeviceId>,
    },
    /// Obtain a certificate for an operator's SRS.
    Enrol {
        /// The operator's identification number.
        #[arg(long)]
        identification_number: String,
        /// The authorization code; `-` reads it from standard input, and without the flag it is
        /// taken from WEBSRM_AUTHORIZATION_CODE, so that it need not appear in the process list.
        #[arg(long, env = "WEBSRM_AUTHORIZATION_CODE", hide_env_values = true)]
        authorization_code: String,
        /// The sector: RBC or TRP.
        #[arg(long, default_value = "RBC")]
        sector: String,
        /// The QST number.
        #[arg(long)]
        qst: String,
        /// The mandatory-billing file number.
        #[arg(long)]
        file_number: String,
        /// The certificate's nickname (8 to 32 characters).
        #[arg(long)]
        nickname: String,
        /// The standard UTC offset: -05:00, or -04:00 in the Îles-de-la-Madeleine.
        #[arg(long, default_value = "-05:00", allow_hyphen_values = true)]
        utc_offset: String,
        /// A back-office SRS (kept under the installation `back-office`).
        #[arg(long)]
        back_office: bool,
        /// The device has no identifier and the user has none: ask the authority for one.
        #[arg(long)]
        new_device_id: bool,
    },
    /// Obtain a server administrator's certificate.
    EnrolServer {
        /// The administrator's identification number.
        #[arg(long)]
        identification_number: String,
        /// The server authorization code (`-`: standard input; default: WEBSRM_AUTHORIZATION_CODE).
        #[arg(long, env = "WEBSRM_AUTHORIZATION_CODE", hide_env_values = true)]
        authorization_code: String,
        /// The certificate's nickname.
        #[arg(long)]
        nickname: String,
        /// The UTC offset.
        #[arg(long, default_value = "-05:00", allow_hyphen_values = true)]
        utc_offset: String,
    },
    /// The device identifier and each certificate's health, after checking the authority's
    /// CRL for revocations.
    Status {
        /// The moment to judge health at (RFC 3339; default now).
        #[arg(long)]
        at: Option<String>,
        /// Do not consult the CRL: report what the device knows.
        #[arg(long)]
        offline: bool,
    },
    /// Replace a certificate with a new one for the same details.
    Replace {
        /// The certificate's nickname.
        #[arg(long)]
        nickname: Nickname,
        /// Confirm the replacement.
        #[arg(long)]
        yes: bool,
    },
    /// Delete a certificate at the authority and on the device.
    Delete {
        /// The certificate's nickname.
        #[arg(long)]
        nickname: Nickname,
        /// Confirm the deletion.
        #[arg(long)]
        yes: bool,
    },
    /// Remove from the device a certificate that has ended (expired, revoked, refused by the
    /// authority), without asking the authority; the device keeps its identifier.
    Remove {
        /// The certificate's nickname.
        #[arg(long)]
        nickname: Nickname,
        /// Confirm the removal.
        #[arg(long)]
        yes: bool,
    },
    /// Finish requests a crash or a lost answer left pending.
    Recover,
    /// Record a transaction and send it, with the pending ones. The file holds the transaction
    /// as the POS builds it, with the wire's field names; websrm checks it as the authority
    /// would, then fills `signa`, `emprCertifSEV` and `SEV`. Offline, it is kept in the outbox.
    Transmit {
        /// The transaction (JSON).
        #[arg(long)]
        file: PathBuf,
        /// The terminal it started on (default: this device).
        #[arg(long)]
        terminal: Option<String>,
    },
    /// The transactions waiting to be sent, and offline mode.
    Outbox {
        /// Send them now.
        #[arg(long)]
        flush: bool,
        /// How many to list.
        #[arg(long, default_value = "100")]
        limit: usize,
    },
    /// Rehearse certification against a local authority started with `--env ESSAI`: the
    /// certificate and user blocks of the product's run, in their order, for the product's
    /// modes and sectors.
    Essai(crate::essai::Args),
    /// Terminals attached to this device (order-taking handhelds).
    #[command(subcommand)]
    Terminal(TerminalCommand),
}

#[derive(Debug, Subcommand)]
enum TerminalCommand {
    /// Obtain a device identifier for a terminal that needs no certificate of its own.
    Add {
        /// The terminal's label.
        #[arg(long)]
        label: String,
        /// The operator whose certificate on this device asks for it.
        #[arg(long)]
        identification_number: String,
        /// The terminal already has its identifier (and its own certificate): record it.
        #[arg(long)]
        device_id: Option<DeviceId>,
    },
    /// The terminals of this device and their identifiers.
    List,
}

impl Args {
    /// The facade's configuration for `store`: a back-office enrolment goes to the
    /// installation `back-office`.
    fn config(&self, store: PathBuf) -> Result<Config> {
        match &self.command {
            Command::Enrol {
                back_office: true, ..
            } => self
                .connection
                .config_of(store, websrm::BACK_OFFICE_INSTALLATION),
            _ => self.connection.config(store),
        }
    }
}

pub(crate) fn run(args: Args) -> Result<()> {
    if let Command::Essai(essai) = &args.command {
        return crate::essai::run(&args.connection, essai);
    }
    let store = args.connection.store()?;
    // A typo must not look like "no certificate": only the commands that obtain a certificate
    // (or record the identifier the user has) may create a store.
    let creates = matches!(
        args.command,
        Command::Enrol { .. } | Command::EnrolServer { .. } | Command::DeviceId { set: Some(_) }
    );
    if !creates && !store.exists() {
        bail!(
            "no store at {}: check the path (a store is created by the first enrolment)",
            store.display()
        );
    }
    let srs = Srs::open(args.config(store)?)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let json = args.connection.json();
    match args.command {
        Command::DeviceId { set } => {
            if let Some(id) = set {
                srs.enter_device_id(id)?;
            }
            let id = srs.device_id()?;
            if json {
                println!(
                    "{}",
                    serde_json::json!({ "device_id": id.map(|d| d.to_string()) })
                );
            } else {
                match id {
                    Some(id) => println!("device identifier: {id}"),
                    None => println!("no device identifier yet"),
                }
            }
        }
        Command::Enrol {
            identification_number,
            authorization_code,
            sector,
            qst,
            file_number,
            nickname,
            utc_offset,
            new_device_id,
            ..
        } => {
            let authorization_code = secret(authorization_code)?;
            let request = OperatorEnrolment::parse(
                &identification_number,
                &authorization_code,
                &sector,
                &qst,
                &file_number,
                &nickname,
                &utc_offset,
            )?;
            let answer = new_device_id.then_some(DeviceIdAnswer::RequestNew);
            eprintln!("requesting a certificate from the authority…");
            let view = runtime
                .block_on(srs.enrol(&request, answer))
                .map_err(explain)?;
            print_view(&srs, &view, json)?;
        }
        Command::EnrolServer {
            identification_number,
            authorization_code,
            nickname,
            utc_offset,
        } => {
            eprintln!("requesting a server certificate from the authority…");
            let authorization_code = secret(authorization_code)?;
            let view = runtime
                .block_on(srs.enrol_server(
                    identification_number.parse()?,
                    authorization_code.parse()?,
                    nickname.parse()?,
                    utc_offset.parse()?,
                ))
                .map_err(explain)?;
            print_view(&srs, &view, json)?;
        }
        Command::Status { at, offline } => {
            let at = match at {
                Some(text) => OffsetDateTime::parse(&text, &Rfc3339)
                    .with_context(|| format!("--at {text} is not RFC 3339"))?,
                None => args
                    .connection
                    .now()
                    .unwrap_or_else(OffsetDateTime::now_utc),
            };
            let mut revocation = serde_json::Value::Null;
            if !offline {
                match runtime.block_on(srs.refresh_revocations()) {
                    Ok(check) => {
                        if !check.without_crl.is_empty() && !json {
                            println!(
                                "no CRL is known for {}: a revocation is learned only from the authority's answers",
                                check.without_crl.join(", ")
                            );
                        }
                        for nickname in &check.newly_revoked {
                            eprintln!("the CRL lists {nickname} as revoked");
                        }
                        revocation = serde_json::json!({
                            "consulted": check.consulted,
                            "newly_revoked": check.newly_revoked,
                            "without_crl": check.without_crl,
                        });
                    }
                    Err(e) => {
                        eprintln!(
                            "warning: the CRL could not be checked ({e}); the status below is what the device knew"
                        );
                        revocation = serde_json::json!({ "error": e.to_string() });
                    }
                }
            }
            let certificates = srs.certificates(at)?;
            if json {
                let list: Vec<_> = certificates
                    .iter()
                    .map(|v| view_json(v, srs.installation()))
                    .collect();
                println!(
                    "{}",
                    serde_json::json!({ "device_id": srs.device_id()?.map(|d| d.to_string()), "certificates": list, "revocation_check": revocation })
                );
            } else {
                println!(
                    "device identifier: {}",
                    srs.device_id()?
                        .map_or_else(|| "none yet".to_owned(), |d| d.to_string())
                );
                if certificates.is_empty() {
                    println!("no certificate");
                }
                for view in &certificates {
                    print_text(view);
                }
                print_terminals(&srs, false)?;
            }
        }
        Command::Replace { nickname, yes } => {
            let confirmation = if yes {
                Confirmation::Confirmed
            } else {
                Confirmation::NotConfirmed
            };
            eprintln!("replacing {nickname}…");
            let view = runtime
                .block_on(srs.replace(&nickname, confirmation))
                .map_err(explain)?;
            print_view(&srs, &view, json)?;
        }
        Command::Delete { nickname, yes } => {
            let confirmation = if yes {
                Confirmation::Confirmed
            } else {
                Confirmation::NotConfirmed
            };
            eprintln!("deleting {nickname}…");
            runtime
                .block_on(srs.delete(&nickname, confirmation))
                .map_err(explain)?;
            if json {
                println!("{}", serde_json::json!({ "deleted": nickname.as_str() }));
            } else {
                println!("certificate {nickname} deleted; the device keeps its identifier");
            }
        }
        Command::Terminal(TerminalCommand::Add {
            label,
            identification_number,
            device_id,
        }) => {
            let id = match device_id {
                Some(id) => {
                    srs.record_terminal(&label, id)?;
                    id
                }
                None => {
                    eprintln!("requesting an identifier for terminal {label}…");
                    runtime
                        .block_on(srs.add_terminal(&label, &identification_number.parse()?))
                        .map_err(explain)?
                }
            };
            if json {
                println!(
                    "{}",
                    serde_json::json!({ "label": label, "device_id": id.to_string() })
                );
            } else {
                println!("terminal {label}: device identifier {id}");
            }
        }
        Command::Terminal(TerminalCommand::List) => print_terminals(&srs, json)?,
        Command::Remove { nickname, yes } => {
            let confirmation = if yes {
                Confirmation::Confirmed
            } else {
                Confirmation::NotConfirmed
            };
            srs.remove_ended(&nickname, confirmation).map_err(explain)?;
            if json {
                println!("{}", serde_json::json!({ "removed": nickname.as_str() }));
            } else {
                println!(
                    "certificate {nickname} removed from the device; the device keeps its identifier"
                );
            }
        }
        Command::Essai(_) => bail!("essai runs on its own stores"),
        Command::Transmit { file, terminal } => {
            runtime.block_on(crate::transmit::transmit(&srs, &file, terminal, json))?;
        }
        Command::Outbox { flush, limit } => {
            runtime.block_on(crate::transmit::outbox(&srs, flush, limit, json))?;
        }
        Command::Recover => {
            let report = runtime.block_on(srs.recover()).map_err(explain)?;
            println!(
                "completed {}, abandoned {}, still pending {}",
                report.completed, report.abandoned, report.still_pending
            );
        }
    }
    Ok(())
}

/// The authorization code given as `-` is read from standard input (one line), so that it
/// never appears in the process list.
fn secret(value: String) -> Result<String> {
    if value != "-" {
        return Ok(value);
    }
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .context("reading the authorization code from standard input")?;
    Ok(line.trim().to_owned())
}

fn print_terminals(srs: &Srs, json: bool) -> Result<()> {
    let terminals = srs.terminals()?;
    if json {
        let list: Vec<_> = terminals
            .iter()
            .map(|t| serde_json::json!({ "label": t.label, "device_id": t.device_id.to_string(), "certificate_installed": t.certificate_installed }))
            .collect();
        println!("{}", serde_json::json!({ "terminals": list }));
        return Ok(());
    }
    for t in &terminals {
        let certificate = if t.certificate_installed {
            "its own certificate"
        } else {
            "no certificate needed"
        };
        println!(
            "terminal {}: device identifier {} (obtained {}, {certificate})",
            t.label,
            t.device_id,
            t.obtained_at.date()
        );
    }
    Ok(())
}

fn print_view(srs: &Srs, view: &CertificateView, json: bool) -> Result<()> {
    if json {
        println!(
            "{}",
            serde_json::json!({ "device_id": srs.device_id()?.map(|d| d.to_string()), "certificate": view_json(view, srs.installation()) })
        );
    } else {
        println!(
            "device identifier: {}",
            srs.device_id()?
                .map_or_else(|| "none".to_owned(), |d| d.to_string())
        );
        print_text(view);
    }
    Ok(())
}

fn print_text(view: &CertificateView) {
    println!(
        "certificate \"{}\" ({}): serial {}, valid {} to {}, {}",
        view.nickname,
        view.slot,
        view.serial,
        view.validity.not_before().date(),
        view.validity.not_after().date(),
        health_text(view.health)
    );
    if let Some(w) = &view.warning {
        println!("  {}\n  {}", w.french, w.english);
    }
}

/// A certificate as JSON: the facade's one shape, the agent's too.
fn view_json(view: &CertificateView, main: &str) -> serde_json::Value {
    serde_json::to_value(view.to_json(main)).unwrap_or_default()
}
