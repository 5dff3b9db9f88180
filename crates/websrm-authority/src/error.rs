//! The authority's error (start-up and administration; request refusals are answers, not errors).

use std::path::Path;

use websrm_domain::Environment;

/// What went wrong running or administering the authority.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file operation failed.
    #[error("{action} {path}: {cause}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file.
        path: String,
        /// The system's error.
        cause: websrm_domain::Source,
    },
    /// The registry failed.
    #[error(transparent)]
    Registry(#[from] websrm_registry::Error),
    /// A private folder, or the key-encryption key file beside the registry, failed.
    #[error(transparent)]
    Folder(#[from] websrm_store::Error),
    /// A cryptographic operation failed.
    #[error(transparent)]
    Crypto(#[from] websrm_crypto::Error),
    /// The folder holds an authority of the other environment family.
    #[error("{dir} holds an authority of another environment family than {environment}")]
    WrongFamily {
        /// The folder.
        dir: String,
        /// The environment asked for.
        environment: Environment,
    },
    /// An administrative request names something the registry does not have.
    #[error("{0}")]
    NotFound(String),
    /// An administrative request is refused.
    #[error("{0}")]
    Invalid(String),
    /// Something the authority needed failed beneath it (the random generator, password
    /// hashing, a file it reads).
    #[error("{what}: {cause}")]
    Failed {
        /// What was being done.
        what: String,
        /// The lower error.
        cause: websrm_domain::Source,
    },
}

impl Error {
    pub(crate) fn io(action: &'static str, path: &Path, e: std::io::Error) -> Self {
        Self::Io {
            action,
            path: path.display().to_string(),
            cause: websrm_domain::Source::new(e),
        }
    }
}
