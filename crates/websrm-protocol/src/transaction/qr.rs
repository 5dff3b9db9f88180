//! The QR code printed on every bill (SW-73 §4.4.1.3, table 42): thirteen values of the
//! transaction at fixed lengths, encrypted with `certifPSI`'s public key, and the URL that
//! carries them.

use websrm_domain::Environment;

use super::Transaction;

/// Length of the plaintext: the thirteen fields of table 42.
pub const QR_PLAINTEXT_LEN: usize = 329;

/// The QR code's plaintext: `emprCertifSEV` (40), `datTrans` (14), `TPS`, `TVQ`, `apresTax`,
/// `mtdu` (`apresTax` again without one) (13 each), `noTPS` (15), `noTVQ` (16), `modImpr`
/// (3), `modTrans` (3), `actu` (88), `preced` (88), and `noTrans` left-padded with `=` to 10:
/// [`QR_PLAINTEXT_LEN`] characters.
pub fn qr_plaintext(t: &Transaction) -> String {
    let s = &t.sale;
    let a = &s.amounts;
    let due = a.due.unwrap_or(a.after_tax);
    let mut text = String::with_capacity(QR_PLAINTEXT_LEN);
    for part in [
        t.thumbprint.clone(),
        s.date.to_string(),
        a.gst.to_string(),
        a.qst.to_string(),
        a.after_tax.to_string(),
        due.to_string(),
        s.tax_numbers.gst.to_string(),
        s.tax_numbers.qst.to_string(),
        s.print_mode.code().to_owned(),
        s.mode.code().to_owned(),
        t.signatures.actu.as_str().to_owned(),
        t.signatures.preced.as_str().to_owned(),
        format!("{:=>10}", s.number.as_str()),
    ] {
        text.push_str(&part);
    }
    text
}

/// The URL the QR code encodes: the base of `environment` (`https://qr.mev-web.ca?f=` in
/// production, `https://cnfr.qr.mev-web.ca?f=` in DEV and ESSAI) and the Base64 ciphertext,
/// percent-encoded as Java's `URLEncoder.encode` does.
pub fn qr_url(environment: Environment, ciphertext_base64: &str) -> String {
    let base = if environment.is_conformity() {
        "https://cnfr.qr.mev-web.ca?f="
    } else {
        "https://qr.mev-web.ca?f="
    };
    let mut url = String::with_capacity(base.len() + ciphertext_base64.len() * 3 / 2);
    url.push_str(base);
    for b in ciphertext_base64.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'.' | b'-' | b'*' | b'_' => {
                url.push(char::from(b));
            }
            b' ' => url.push('+'),
            _ => url.push_str(&format!("%{b:02X}")),
        }
    }
    url
}
