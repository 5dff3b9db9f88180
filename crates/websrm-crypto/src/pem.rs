//! PEM text of certificates and keys, as `retourCertif` carries them.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use websrm_domain::Source;

use crate::Error;

/// `der` as PEM with `label` (e.g. `CERTIFICATE`), Base64 wrapped at 64 columns, `\n` line ends.
pub fn encode(label: &str, der: &[u8]) -> String {
    let b64 = BASE64.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        // Base64 output is ASCII, so every chunk is valid UTF-8.
        out.push_str(std::str::from_utf8(chunk).unwrap_or_default());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// The DER of every PEM block labelled `label` in `text`, in order (a bundle of roots).
pub fn decode_all(label: &str, text: &str) -> Result<Vec<Vec<u8>>, Error> {
    let begin = format!("-----BEGIN {label}-----");
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find(&begin) {
        out.push(decode(label, &rest[start..])?);
        rest = &rest[start + begin.len()..];
    }
    Ok(out)
}

/// The DER of the first PEM block labelled `label` in `text` (any line wrapping).
pub fn decode(label: &str, text: &str) -> Result<Vec<u8>, Error> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let start = text.find(&begin).ok_or_else(|| Error::Base64 {
        cause: Source::text(format!("no {begin} line")),
    })?;
    let rest = &text[start + begin.len()..];
    let stop = rest.find(&end).ok_or_else(|| Error::Base64 {
        cause: Source::text(format!("no {end} line")),
    })?;
    let body: String = rest[..stop]
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    BASE64.decode(body).map_err(|e| Error::Base64 {
        cause: Source::new(e),
    })
}
