//! The `websrm` command: operate an SRS's certificates and run a local WEB-SRM authority.
//!
//! For now it checks WEB-SRM values: `websrm check KIND VALUE`.

use std::process::ExitCode;

use anyhow::{Result, bail};
use websrm::domain;

#[allow(clippy::print_stdout, clippy::print_stderr)] // A command-line tool writes to its terminal.
fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
        Ok(text) => {
            println!("{text}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &[String]) -> Result<String> {
    let [command, kind, value] = args else {
        bail!(
            "usage: websrm check KIND VALUE (KIND: device-id, qst, gst, file-number, nickname, serial, error-id, return-code)"
        )
    };
    if command != "check" {
        bail!("unknown command {command:?}; usage: websrm check KIND VALUE");
    }
    let canonical = match kind.as_str() {
        "device-id" => value.parse::<domain::DeviceIdState>()?.to_string(),
        "qst" => value.parse::<domain::QstNumber>()?.to_string(),
        "gst" => value.parse::<domain::GstNumber>()?.to_string(),
        "file-number" => value.parse::<domain::FileNumber>()?.to_string(),
        "nickname" => value.parse::<domain::Nickname>()?.to_string(),
        "serial" => value.parse::<domain::SerialNumber>()?.to_string(),
        "error-id" => value.parse::<domain::ErrorId>()?.to_string(),
        "return-code" => {
            let code = value.parse::<domain::ReturnCode>()?;
            format!("{code} (retransmittable: {})", code.is_retransmittable())
        }
        other => bail!("unknown kind {other:?}"),
    };
    Ok(canonical)
}
