//! What can go wrong with a database file, whichever store it holds.

use websrm_domain::Source;

/// What went wrong with a database file or its folder.
///
/// Exhaustive on purpose: a store that converts it names every variant, so a new one here is a
/// compile error there rather than a case it forgets.
///
/// Each store's own error has a variant of the same name and fields for each of these, and
/// converts from this one variant by variant.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The database failed.
    #[error("database error: {cause}")]
    Database {
        /// SQLite's error, or what websrm found wrong.
        cause: Source,
    },
    /// A file operation failed.
    #[error("{action} {path}: {cause}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file.
        path: String,
        /// The system's error.
        cause: Source,
    },
    /// The file belongs to another kind of store (a registry opened as a device store, say).
    #[error("{path} is not a {expected} database")]
    WrongDatabase {
        /// The file.
        path: String,
        /// The kind of store expected.
        expected: &'static str,
    },
    /// The file was written by a newer version of websrm.
    #[error(
        "the database schema is version {found}; this version of websrm knows up to {supported}"
    )]
    SchemaTooNew {
        /// The file's schema version.
        found: u32,
        /// The newest version this code knows.
        supported: u32,
    },
    /// A stored value does not parse: the file was altered outside websrm.
    #[error("corrupt value in {table}.{column}: {value:?}")]
    Corrupt {
        /// The table.
        table: &'static str,
        /// The column.
        column: &'static str,
        /// The value found.
        value: String,
    },
    /// A file or folder of a store may be read or written by other accounts of the machine.
    #[error("{path} may be read or written by others (mode {mode:o}); run `{fix}`")]
    NotPrivate {
        /// The file or folder.
        path: String,
        /// Its permission bits.
        mode: u32,
        /// The command that makes it private.
        fix: String,
    },
    /// A file or folder of a store may be read or written by other accounts of the machine,
    /// as its Windows access list says.
    #[error(
        "{path} may be read or written by {others} (its access list grants them access); run `{fix}`"
    )]
    NotPrivateAcl {
        /// The file or folder.
        path: String,
        /// Who else has access, by name and SID.
        others: String,
        /// The `icacls` command that makes it private.
        fix: String,
    },
}

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Self {
        Self::Database {
            cause: Source::new(e),
        }
    }
}

/// Gives a store's own error the [`Error`] variants, with the same names and fields, and the
/// conversion from [`Error`] and from rusqlite's error into it.
///
/// Invoked once by each store, so that the two stores' errors cannot drift apart on these.
#[macro_export]
macro_rules! shared_variants {
    ($target:ident) => {
        impl ::core::convert::From<$crate::Error> for $target {
            fn from(e: $crate::Error) -> Self {
                match e {
                    $crate::Error::Database { cause } => Self::Database { cause },
                    $crate::Error::Io {
                        action,
                        path,
                        cause,
                    } => Self::Io {
                        action,
                        path,
                        cause,
                    },
                    $crate::Error::WrongDatabase { path, expected } => {
                        Self::WrongDatabase { path, expected }
                    }
                    $crate::Error::SchemaTooNew { found, supported } => {
                        Self::SchemaTooNew { found, supported }
                    }
                    $crate::Error::Corrupt {
                        table,
                        column,
                        value,
                    } => Self::Corrupt {
                        table,
                        column,
                        value,
                    },
                    $crate::Error::NotPrivate { path, mode, fix } => {
                        Self::NotPrivate { path, mode, fix }
                    }
                    $crate::Error::NotPrivateAcl { path, others, fix } => {
                        Self::NotPrivateAcl { path, others, fix }
                    }
                }
            }
        }
    };
}
