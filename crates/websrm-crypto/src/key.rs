//! ECDSA P-256 key pairs that never leave this crate in the clear, and their sealing for
//! storage at rest.

use std::fmt;

use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};
use ring::signature::{
    ECDSA_P256_SHA256_ASN1_SIGNING, ECDSA_P256_SHA256_FIXED, ECDSA_P256_SHA256_FIXED_SIGNING,
    EcdsaKeyPair, KeyPair as _, UnparsedPublicKey,
};
use zeroize::{Zeroize, Zeroizing};

use websrm_domain::Source;

use crate::Error;
use crate::signature::Signature;

/// An ECDSA P-256 private key.
///
/// It is not `Clone`, its `Debug` shows only the public key, its PKCS#8 encoding is zeroized on
/// drop, and no public function returns it in the clear: the crate signs with it, and
/// [`PrivateKey::seal`] encrypts it for storage.
pub struct PrivateKey {
    pkcs8: Zeroizing<Vec<u8>>,
    /// Signs in IEEE P1363 form (r‖s), as WEB-SRM signatures are.
    fixed: EcdsaKeyPair,
    /// Signs in ASN.1 DER form, as X.509 and TLS signatures are.
    asn1: EcdsaKeyPair,
}

impl PrivateKey {
    /// A new random key pair.
    pub fn generate() -> Result<Self, Error> {
        let rng = SystemRandom::new();
        let doc = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .map_err(|_| Error::Random)?;
        Self::from_pkcs8(Zeroizing::new(doc.as_ref().to_vec()))
    }

    fn from_pkcs8(pkcs8: Zeroizing<Vec<u8>>) -> Result<Self, Error> {
        let rng = SystemRandom::new();
        let reject = |e: ring::error::KeyRejected| Error::KeyRejected {
            // ring's rejection says why in a word, and is not a `std::error::Error`.
            cause: Source::text(e.to_string()),
        };
        let fixed = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &pkcs8, &rng)
            .map_err(reject)?;
        let asn1 = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &pkcs8, &rng)
            .map_err(reject)?;
        Ok(Self { pkcs8, fixed, asn1 })
    }

    /// The public half.
    pub fn public_key(&self) -> PublicKey {
        PublicKey(self.fixed.public_key().as_ref().to_vec())
    }

    /// Signs `message` with SHA-256 and ECDSA, in IEEE P1363 form: the WEB-SRM signature.
    pub fn sign(&self, message: &[u8]) -> Result<Signature, Error> {
        let sig = self
            .fixed
            .sign(&SystemRandom::new(), message)
            .map_err(|_| Error::Signing)?;
        Signature::from_bytes(sig.as_ref())
    }

    /// Signs `message` with SHA-256 and ECDSA in DER form (X.509).
    pub(crate) fn sign_der(&self, message: &[u8]) -> Result<Vec<u8>, Error> {
        let sig = self
            .asn1
            .sign(&SystemRandom::new(), message)
            .map_err(|_| Error::Signing)?;
        Ok(sig.as_ref().to_vec())
    }

    /// The plaintext PKCS#8 encoding of the key, for tests that search storage for it.
    #[cfg(feature = "test-util")]
    #[doc(hidden)]
    pub fn danger_pkcs8_for_tests(&self) -> Vec<u8> {
        self.pkcs8.to_vec()
    }

    /// The PKCS#8 encoding, for the TLS stack within this crate only.
    pub(crate) fn pkcs8_der(&self) -> &[u8] {
        &self.pkcs8
    }

    /// Encrypts the key for storage with AES-256-GCM under `kek`, binding it to `purpose`
    /// (e.g. the certificate slot it belongs to): opening it for another purpose fails.
    pub fn seal(&self, kek: &KeyEncryptionKey, purpose: &str) -> Result<SealedKey, Error> {
        seal_bytes(&self.pkcs8, kek, purpose).map(SealedKey)
    }

    /// Decrypts a key sealed by [`PrivateKey::seal`] with the same `kek` and `purpose`.
    pub fn open(sealed: &SealedKey, kek: &KeyEncryptionKey, purpose: &str) -> Result<Self, Error> {
        Self::from_pkcs8(open_bytes(&sealed.0, kek, purpose)?)
    }
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PrivateKey")
            .field("public_key", &self.public_key())
            .finish_non_exhaustive()
    }
}

impl rcgen::PublicKeyData for PrivateKey {
    fn der_bytes(&self) -> &[u8] {
        self.asn1.public_key().as_ref()
    }

    fn algorithm(&self) -> &'static rcgen::SignatureAlgorithm {
        &rcgen::PKCS_ECDSA_P256_SHA256
    }
}

impl rcgen::SigningKey for PrivateKey {
    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, rcgen::Error> {
        self.sign_der(msg)
            .map_err(|_| rcgen::Error::RingUnspecified)
    }
}

/// An ECDSA P-256 public key, as the uncompressed SEC1 point (65 bytes).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PublicKey(Vec<u8>);

impl PublicKey {
    /// The key from an uncompressed SEC1 point (`04 ‖ X ‖ Y`).
    pub fn from_sec1(bytes: &[u8]) -> Result<Self, Error> {
        if bytes.len() != 65 || bytes[0] != 4 {
            return Err(Error::PublicKey {
                cause: Source::text("expected a 65-byte uncompressed P-256 point"),
            });
        }
        Ok(Self(bytes.to_vec()))
    }

    /// The uncompressed SEC1 point.
    pub fn as_sec1(&self) -> &[u8] {
        &self.0
    }

    /// The key identifier: SHA-1 of the public key (RFC 5280 method 1), as in the subject key
    /// identifier of CSRs and certificates.
    pub fn key_identifier(&self) -> [u8; 20] {
        let mut id = [0u8; 20];
        id.copy_from_slice(&crate::csr::key_identifier(self));
        id
    }

    /// The DER SubjectPublicKeyInfo.
    pub fn to_spki_der(&self) -> Vec<u8> {
        crate::der::ec_p256_spki(&self.0)
    }

    /// Verifies a WEB-SRM (P1363) signature of `message`.
    pub fn verify(&self, message: &[u8], signature: &Signature) -> Result<(), Error> {
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, &self.0)
            .verify(message, signature.as_bytes())
            .map_err(|_| Error::BadSignature)
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey(")?;
        self.0
            .iter()
            .take(9)
            .try_for_each(|b| write!(f, "{b:02x}"))?;
        write!(f, "…)")
    }
}

/// A 256-bit key-encryption key for sealing private keys at rest.
///
/// It is zeroized on drop and its `Debug` shows nothing of it. Where it is kept (a file with
/// owner-only permissions, an OS key store, a TPM) is the caller's choice.
pub struct KeyEncryptionKey(Zeroizing<[u8; 32]>);

impl KeyEncryptionKey {
    /// A new random key-encryption key.
    pub fn generate() -> Result<Self, Error> {
        let mut bytes = Zeroizing::new([0u8; 32]);
        SystemRandom::new()
            .fill(bytes.as_mut())
            .map_err(|_| Error::Random)?;
        Ok(Self(bytes))
    }

    /// The key from its 32 bytes (as kept by the caller's protector).
    pub fn from_bytes(mut bytes: [u8; 32]) -> Self {
        let key = Self(Zeroizing::new(bytes));
        bytes.zeroize();
        key
    }

    /// The 32 bytes, for the protector that keeps the key-encryption key.
    pub fn expose_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for KeyEncryptionKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KeyEncryptionKey(<redacted>)")
    }
}

/// A private key encrypted with AES-256-GCM: `version ‖ nonce ‖ ciphertext ‖ tag`.
#[derive(Clone, PartialEq, Eq)]
pub struct SealedKey(Vec<u8>);

impl SealedKey {
    /// The blob from its stored bytes; its integrity is checked when it is opened.
    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }

    /// The bytes to store.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for SealedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SealedKey({} bytes)", self.0.len())
    }
}

const SEAL_VERSION: u8 = 1;

/// Associated data: a domain label, the format version and the caller's purpose.
fn aad(purpose: &str) -> Vec<u8> {
    let mut aad = b"websrm sealed key v1\0".to_vec();
    aad.extend_from_slice(purpose.as_bytes());
    aad
}

pub(crate) fn seal_bytes(
    plain: &[u8],
    kek: &KeyEncryptionKey,
    purpose: &str,
) -> Result<Vec<u8>, Error> {
    let key =
        LessSafeKey::new(UnboundKey::new(&AES_256_GCM, kek.0.as_ref()).map_err(|_| Error::Random)?);
    let mut nonce = [0u8; NONCE_LEN];
    SystemRandom::new()
        .fill(&mut nonce)
        .map_err(|_| Error::Random)?;
    let mut in_out = Zeroizing::new(plain.to_vec());
    key.seal_in_place_append_tag(
        Nonce::assume_unique_for_key(nonce),
        Aad::from(aad(purpose)),
        &mut *in_out,
    )
    .map_err(|_| Error::Random)?;
    let mut out = Vec::with_capacity(1 + NONCE_LEN + in_out.len());
    out.push(SEAL_VERSION);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&in_out);
    Ok(out)
}

pub(crate) fn open_bytes(
    sealed: &[u8],
    kek: &KeyEncryptionKey,
    purpose: &str,
) -> Result<Zeroizing<Vec<u8>>, Error> {
    let Some((&version, rest)) = sealed.split_first() else {
        return Err(Error::SealedKeyRejected);
    };
    if version != SEAL_VERSION {
        return Err(Error::SealedKeyFormat { version });
    }
    if rest.len() < NONCE_LEN + AES_256_GCM.tag_len() {
        return Err(Error::SealedKeyRejected);
    }
    let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
    let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| Error::SealedKeyRejected)?;
    let key =
        LessSafeKey::new(UnboundKey::new(&AES_256_GCM, kek.0.as_ref()).map_err(|_| Error::Random)?);
    let mut buf = Zeroizing::new(ciphertext.to_vec());
    let len = key
        .open_in_place(nonce, Aad::from(aad(purpose)), &mut buf)
        .map_err(|_| Error::SealedKeyRejected)?
        .len();
    buf.truncate(len);
    Ok(buf)
}
