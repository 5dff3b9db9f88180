//! The `websrm` command end to end: the demo, and an authority served by one process with an SRS
//! driven by another, each area in a module of its own.

mod agent;
mod authority;
mod essai;
mod srs;
mod support;
