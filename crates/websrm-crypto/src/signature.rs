//! WEB-SRM signatures (SHA-256 and ECDSA P-256 in IEEE P1363 form, Base64, 88 characters) and
//! the texts they sign.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use websrm_domain::{AuthorizationCode, DeviceId, GstNumber, QstNumber};

use websrm_domain::Source;

use crate::Error;

/// A WEB-SRM signature: 64 bytes (r ‖ s), written as 88 characters of Base64.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Signature([u8; 64]);

impl Signature {
    /// The `preced` value of the first transaction of a chain: 88 `=` characters.
    pub const FIRST_PRECED: &'static str =
        "========================================================================================";

    /// The signature from its 64 bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, Error> {
        let array: [u8; 64] = bytes
            .try_into()
            .map_err(|_| Error::SignatureLength { found: bytes.len() })?;
        Ok(Self(array))
    }

    /// The signature from its 88 Base64 characters.
    pub fn from_base64(text: &str) -> Result<Self, Error> {
        let bytes = BASE64.decode(text).map_err(|e| Error::Base64 {
            cause: Source::new(e),
        })?;
        Self::from_bytes(&bytes)
    }

    /// The 64 bytes r ‖ s.
    pub fn as_bytes(&self) -> &[u8; 64] {
        &self.0
    }

    /// The 88 Base64 characters.
    pub fn to_base64(&self) -> String {
        BASE64.encode(self.0)
    }

    /// The same signature as a DER `ECDSA-Sig-Value`, the form X.509 tools such as OpenSSL
    /// verify.
    pub fn to_der(&self) -> Vec<u8> {
        let mut content = crate::der::unsigned_integer(&self.0[..32]);
        content.extend(crate::der::unsigned_integer(&self.0[32..]));
        crate::der::tlv(0x30, &content)
    }
}

impl fmt::Display for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_base64())
    }
}

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signature({self})")
    }
}

/// The previous signature of a chain, as written in `preced`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preceding {
    /// The first transaction of the chain: 88 `=`.
    First,
    /// The `actu` of the previous transaction.
    Signature(Signature),
}

impl fmt::Display for Preceding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::First => f.write_str(Signature::FIRST_PRECED),
            Self::Signature(s) => s.fmt(f),
        }
    }
}

/// The values of a transaction that its `actu` signature covers, as they are written in the
/// transaction's JSON.
#[derive(Debug, Clone, Copy)]
#[allow(clippy::exhaustive_structs)] // The protocol fixes this list of fields.
pub struct TransactionSignatureInput<'a> {
    /// `noTrans`.
    pub no_trans: &'a str,
    /// `datTrans` (`AAAAMMJJhhmmss`).
    pub dat_trans: &'a str,
    /// `TPS` (the GST amount, as written).
    pub tps: &'a str,
    /// `TVQ` (the QST amount, as written).
    pub tvq: &'a str,
    /// `apresTax` (the total after taxes, as written).
    pub apres_tax: &'a str,
    /// `noTPS`.
    pub no_tps: &'a GstNumber,
    /// `noTVQ`.
    pub no_tvq: &'a QstNumber,
    /// `modImpr`.
    pub mod_impr: &'a str,
    /// `modTrans`.
    pub mod_trans: &'a str,
    /// `preced`.
    pub preced: Preceding,
}

impl TransactionSignatureInput<'_> {
    /// The text `actu` signs: `noTrans`, `datTrans`, `TPS`, `TVQ`, `apresTax`, `noTPS`, `noTVQ`,
    /// `modImpr`, `modTrans` and `preced` concatenated in that order (UTF-8).
    pub fn to_text(&self) -> String {
        format!(
            "{}{}{}{}{}{}{}{}{}{}",
            self.no_trans,
            self.dat_trans,
            self.tps,
            self.tvq,
            self.apres_tax,
            self.no_tps,
            self.no_tvq,
            self.mod_impr,
            self.mod_trans,
            self.preced
        )
    }
}

/// The text `SIGNATRANSM` signs: the transmitter's authorization code, the initiating device's
/// identifier, then the `actu` signatures of the request from the oldest to the newest.
pub fn signatransm_input(
    code: &AuthorizationCode,
    device: DeviceId,
    actus: &[Signature],
) -> String {
    let mut text = format!("{}{device}", code.expose());
    for actu in actus {
        text.push_str(&actu.to_base64());
    }
    text
}

/// HMAC-SHA-256 of `data` with `key` (ring).
pub fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key);
    let tag = ring::hmac::sign(&key, data);
    let mut out = [0u8; 32];
    out.copy_from_slice(tag.as_ref());
    out
}

/// Whether `tag` is the HMAC-SHA-256 of `data` with `key`, compared in constant time.
pub fn hmac_sha256_verify(key: &[u8], data: &[u8], tag: &[u8]) -> bool {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key);
    ring::hmac::verify(&key, data, tag).is_ok()
}

/// SHA-256 of `data` (ring).
pub fn sha256(data: &[u8]) -> [u8; 32] {
    let digest = ring::digest::digest(&ring::digest::SHA256, data);
    let mut out = [0u8; 32];
    out.copy_from_slice(digest.as_ref());
    out
}
