//! Helpers shared by the cross-crate integration tests in `tests/it`.

/// The crates under test, under one roof.
pub use {websrm, websrm_authority, websrm_crypto, websrm_domain, websrm_protocol, websrm_store};
