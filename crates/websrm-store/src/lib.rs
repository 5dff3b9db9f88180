//! Durable, crash-safe SQLite persistence for WEB-SRM, speaking domain types only: the
//! device's store (its device identifier for life, certificate slots with sealed keys, pending
//! enrolments and history) and the authority's registry (operators, products, devices,
//! certificates and the audit log).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub use websrm_domain as domain;
