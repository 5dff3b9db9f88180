//! `websrm authority agent …`: the customer-service commands, each under the agent's id.

use super::*;

#[derive(Debug, clap::Args)]
pub(super) struct AgentArgs {
    /// The agent's id, recorded with every action.
    #[arg(long)]
    agent_id: String,
    #[command(subcommand)]
    command: AgentCommand,
}

#[derive(Debug, Subcommand)]
pub(super) enum AgentCommand {
    /// Register this agent id and print its password (no password needed).
    Add,
    /// Find an operator after verifying the caller's identity.
    FindOperator {
        /// The identification number.
        #[arg(long)]
        identification_number: IdentificationNumber,
        /// The QST number.
        #[arg(long)]
        qst: QstNumber,
        /// A file number of the operator.
        #[arg(long)]
        file_number: FileNumber,
    },
    /// Look up a device identifier.
    Device {
        /// The device identifier.
        #[arg(long)]
        device_id: DeviceId,
    },
    /// Revoke a certificate, by serial number or by the operator's nickname for it.
    Revoke {
        /// The certificate's serial number.
        #[arg(long, conflicts_with = "nickname")]
        serial: Option<SerialNumber>,
        /// The certificate's nickname, with the caller's three numbers (identification, QST,
        /// file), checked as `find-operator` does.
        #[arg(long, requires_all = ["identification_number", "qst", "file_number"])]
        nickname: Option<String>,
        /// The operator's identification number.
        #[arg(long)]
        identification_number: Option<IdentificationNumber>,
        /// The operator's QST number.
        #[arg(long)]
        qst: Option<QstNumber>,
        /// The operator's mandatory-billing file number.
        #[arg(long)]
        file_number: Option<FileNumber>,
        /// The reason: keyCompromise (lost or stolen), cessationOfOperation (broken, no longer
        /// used), or another RFC 5280 reason.
        #[arg(long)]
        reason: RevocationReason,
        /// A note for the record.
        #[arg(long, default_value = "")]
        note: String,
    },
}

/// Runs a customer-service command as the agent `args` names.
pub(super) fn run_agent(authority: &Authority, args: AgentArgs) -> Result<()> {
    let id = args.agent_id.as_str();
    if let AgentCommand::Add = args.command {
        let password = authority.admin().register_agent(id, "cli")?;
        println!("agent {id} registered; password: {password}");
        return Ok(());
    }
    let password = std::env::var("WEBSRM_AGENT_PASSWORD")
        .context("set WEBSRM_AGENT_PASSWORD to the agent's password")?;
    authority.revocation().authenticate_agent(id, &password)?;
    match args.command {
        AgentCommand::Add => unreachable!("handled above"),
        AgentCommand::FindOperator {
            identification_number,
            qst,
            file_number,
        } => {
            let file = authority.revocation().agent_find_operator(
                id,
                &identification_number,
                &qst,
                &file_number,
            )?;
            println!(
                "identity verified: {} ({})",
                file.operator.legal_name, file.operator.identification_number
            );
            println!("devices: {}", crate::reads::devices_line(&file.devices));
            for c in &file.certificates {
                print_certificate(c);
            }
        }
        AgentCommand::Device { device_id } => {
            let (record, certificates) = authority.revocation().agent_device(id, device_id)?;
            println!(
                "device {} issued {}",
                record.device_id,
                record.issued_at.date()
            );
            if let Some(operator) = record.operator {
                let operator = authority.admin().operator(operator)?;
                println!(
                    "obtained by {} ({})",
                    operator.legal_name, operator.identification_number
                );
            }
            if let Some(host) = record.host {
                println!("terminal of device {host}");
            }
            for c in &certificates {
                print_certificate(c);
            }
        }
        AgentCommand::Revoke {
            serial,
            nickname,
            identification_number,
            qst,
            file_number,
            reason,
            note,
        } => {
            let serial = match (serial, nickname, identification_number, qst, file_number) {
                (Some(serial), ..) => serial,
                (None, Some(nickname), Some(number), Some(qst), Some(file)) => {
                    authority
                        .revocation()
                        .agent_find_certificate(id, &number, &qst, &file, &nickname)?
                        .serial
                }
                _ => anyhow::bail!(
                    "give --serial, or --nickname with --identification-number, --qst and --file-number"
                ),
            };
            let record = authority.revocation().revoke(
                serial,
                reason,
                RevocationChannel::CustomerService,
                &format!("agent:{id}"),
                &note,
            )?;
            println!(
                "certificate {} (\"{}\") revoked: {reason}",
                record.serial, record.nickname
            );
        }
    }
    Ok(())
}
