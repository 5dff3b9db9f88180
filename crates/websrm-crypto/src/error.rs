//! The crypto crate's error.

use websrm_domain::Source;

/// What went wrong in a cryptographic operation.
///
/// Errors of the underlying libraries are kept as an opaque [`Source`]; none of their types
/// leaks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The system's random number generator failed.
    #[error("the system random number generator failed")]
    Random,
    /// A stored key could not be loaded: it is not an ECDSA P-256 PKCS#8 key.
    #[error("the key is not a valid ECDSA P-256 key: {cause}")]
    KeyRejected {
        /// Why the key was rejected.
        cause: Source,
    },
    /// A sealed key could not be opened: the key-encryption key is wrong, the blob was
    /// tampered with, or it was sealed for another purpose.
    #[error(
        "the sealed key cannot be opened: wrong key-encryption key, wrong purpose, or tampered data"
    )]
    SealedKeyRejected,
    /// A sealed key blob has an unknown format.
    #[error("the sealed key has an unknown format (version {version})")]
    SealedKeyFormat {
        /// The format version found in the blob.
        version: u8,
    },
    /// Signing failed.
    #[error("signing failed")]
    Signing,
    /// A signature does not verify.
    #[error("the signature does not verify")]
    BadSignature,
    /// A signature is not 64 bytes (88 characters of Base64).
    #[error("a WEB-SRM signature is 88 Base64 characters (64 bytes), found {found} bytes")]
    SignatureLength {
        /// How many bytes were found.
        found: usize,
    },
    /// Text that should be Base64 is not.
    #[error("invalid Base64: {cause}")]
    Base64 {
        /// What the decoder reported.
        cause: Source,
    },
    /// A certificate could not be built.
    #[error("certificate generation failed: {cause}")]
    Certificate {
        /// What the generator reported.
        cause: Source,
    },
    /// A certificate could not be read.
    #[error("not a valid X.509 certificate: {cause}")]
    CertificateParse {
        /// What the parser reported.
        cause: Source,
    },
    /// A certificate's serial number cannot be a WEB-SRM `noSerie` (more than 20 bytes).
    #[error(
        "the certificate serial number has {len} bytes; WEB-SRM serial numbers have at most 20"
    )]
    SerialLength {
        /// The serial's length in bytes.
        len: usize,
    },
    /// A TLS configuration could not be built.
    #[error("TLS configuration failed: {cause}")]
    Tls {
        /// What rustls reported.
        cause: Source,
    },
    /// A public key cannot be used: it is not an uncompressed P-256 point or SPKI.
    #[error("invalid public key: {cause}")]
    PublicKey {
        /// Why the key is invalid.
        cause: Source,
    },
    /// RSA operation failed (the authority's `certifPSI` key).
    #[error("RSA operation failed: {cause}")]
    Rsa {
        /// What the RSA implementation reported.
        cause: Source,
    },
}

impl Error {
    pub(crate) fn certificate(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Certificate {
            cause: Source::new(e),
        }
    }

    pub(crate) fn parse(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::CertificateParse {
            cause: Source::new(e),
        }
    }

    pub(crate) fn tls(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::Tls {
            cause: Source::new(e),
        }
    }
}
