//! The QR code's payload: a bill's values encrypted with the public key of the authority's
//! `certifPSI` certificate (RSA, PKCS#1 v1.5, as Revenu Québec's sample does), then Base64.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use rsa::RsaPublicKey;
use rsa::pkcs8::DecodePublicKey;
use rsa::traits::PublicKeyParts;
use x509_parser::prelude::{FromDer, X509Certificate};

use websrm_domain::Source;

use crate::{Error, pem};

/// Encrypts `plaintext` with the public key of `certif_psi_pem` (the authority's `certifPSI`
/// certificate, PEM) and returns the ciphertext in Base64. RSA PKCS#1 v1.5 carries at most
/// `k − 11` bytes per block of a `k`-byte key: a longer plaintext (the QR code's 329
/// characters exceed the 245 of a 2048-bit key) is encrypted in consecutive blocks of at most
/// that many bytes, their ciphertexts concatenated.
pub fn encrypt_for_psi(certif_psi_pem: &str, plaintext: &[u8]) -> Result<String, Error> {
    let der = pem::decode("CERTIFICATE", certif_psi_pem)?;
    let (_, cert) = X509Certificate::from_der(&der).map_err(Error::parse)?;
    let key = RsaPublicKey::from_public_key_der(cert.public_key().raw).map_err(|e| Error::Rsa {
        cause: Source::text(format!("certifPSI has no RSA key: {e}")),
    })?;
    let block = key.size().saturating_sub(11).max(1);
    let mut ciphertext = Vec::with_capacity(plaintext.len().div_ceil(block) * key.size());
    for chunk in plaintext.chunks(block) {
        let encrypted = key
            .encrypt(&mut rsa::rand_core::OsRng, rsa::Pkcs1v15Encrypt, chunk)
            .map_err(|e| Error::Rsa {
                cause: Source::new(e),
            })?;
        ciphertext.extend_from_slice(&encrypted);
    }
    Ok(BASE64.encode(ciphertext))
}
