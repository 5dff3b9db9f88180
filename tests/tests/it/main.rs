//! Cross-crate integration tests: one binary, one module per area.

mod agent;
mod agent_contract;
mod authority_errors;
mod authority_scenario;
mod authority_tls;
mod backup;
mod concurrency;
mod crash_load;
mod facade;
mod faults;
mod layering;
mod memory;
mod metrics;
mod new_certificate;
mod portal;
mod portal_browser;
mod postgres_tls;
mod profile;
mod revocation;
mod scale_out;
mod services;
mod support;
mod terminals;
mod transaction;
mod transmit;
