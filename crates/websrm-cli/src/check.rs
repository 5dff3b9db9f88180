//! `websrm check KIND VALUE`.

use anyhow::Result;
use clap::ValueEnum;
use websrm::domain;

/// Arguments of `websrm check`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// What the value is.
    kind: Kind,
    /// The value.
    value: String,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Kind {
    DeviceId,
    Qst,
    Gst,
    FileNumber,
    Nickname,
    Serial,
    ErrorId,
    ReturnCode,
}

pub(crate) fn run(args: &Args) -> Result<()> {
    let v = &args.value;
    let text = match args.kind {
        Kind::DeviceId => v.parse::<domain::DeviceIdState>()?.to_string(),
        Kind::Qst => v.parse::<domain::QstNumber>()?.to_string(),
        Kind::Gst => v.parse::<domain::GstNumber>()?.to_string(),
        Kind::FileNumber => v.parse::<domain::FileNumber>()?.to_string(),
        Kind::Nickname => v.parse::<domain::Nickname>()?.to_string(),
        Kind::Serial => v.parse::<domain::SerialNumber>()?.to_string(),
        Kind::ErrorId => v.parse::<domain::ErrorId>()?.to_string(),
        Kind::ReturnCode => {
            let code = v.parse::<domain::ReturnCode>()?;
            format!("{code} (retransmittable: {})", code.is_retransmittable())
        }
    };
    println!("{text}");
    Ok(())
}
