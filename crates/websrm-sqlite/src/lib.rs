//! The SQLite layer that websrm's two stores share: the device store of an SRS (`websrm-store`)
//! and the authority's registry (`websrm-registry`).
//!
//! - Files readable by their owner only ([`private_dir`], [`sqlite_file`]): modes 0600 and 0700,
//!   or a protected access list on Windows, and a refusal with the command that fixes a file or
//!   folder that others may read or write.
//! - A database opened the one way both stores need ([`open`]): WAL mode, `synchronous = FULL`,
//!   foreign keys on, stable query plans, the kind of store recorded as SQLite's
//!   `application_id`, and the numbered migrations of a [`Kind`] applied in one transaction and
//!   recorded as `user_version`. [`open_reader`] adds read connections beside the writer.
//! - The conversions of stored values ([`to_unix`], [`from_unix`], [`parse`]), which report a
//!   value that does not parse as a [`Error::Corrupt`] naming its table and column.
//!
//! This crate's API speaks rusqlite: it is the layer beneath the stores, whose own APIs do not.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod db;
mod error;
mod private;

pub use db::{
    Cached, Kind, from_unix, integrity_check, open, open_reader, optional, parse, schema_version,
    to_unix, write_tx,
};
pub use error::Error;
pub use private::{private_dir, sqlite_file};
