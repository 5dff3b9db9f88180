//! Helpers for the registry tests: a real CA from websrm-crypto, and the registry on the run's
//! backend (an SQLite file, or PostgreSQL when `WEBSRM_TEST_POSTGRES` names a server).

#![allow(dead_code, unreachable_pub)] // Each test binary uses a different part.

use time::OffsetDateTime;
use time::macros::datetime;
use websrm_crypto::CertificateAuthority;
use websrm_domain::published::MICHEL_UNTEL;
use websrm_domain::{Environment, Sector, Subject};

pub const T0: OffsetDateTime = datetime!(2026-11-26 15:00:00 UTC);

/// Michel Untel's restaurant SRS named `nickname`.
pub fn subject(nickname: &str) -> Subject {
    MICHEL_UNTEL
        .srs_subject(Sector::Restaurant, nickname.parse().unwrap())
        .unwrap()
}

pub fn ca() -> CertificateAuthority {
    CertificateAuthority::generate(Environment::Dev, T0).unwrap()
}

/// The environment variable naming a PostgreSQL server (`postgres://user@host:port`, no
/// database) for the registry tests: set, every registry of the tests lives on it, one fresh
/// database per test file path; unset, in SQLite files.
pub const POSTGRES_ENV: &str = "WEBSRM_TEST_POSTGRES";

/// Whether the registry tests run on PostgreSQL.
pub fn on_postgres() -> bool {
    std::env::var_os(POSTGRES_ENV).is_some()
}

/// Where the registry the test keeps at `path` lives: the SQLite file itself, or the PostgreSQL
/// database standing for it, created empty on first use (so that opening the same path again
/// reopens the same database).
pub fn registry_database(path: &std::path::Path) -> websrm_registry::Database {
    let Ok(server) = std::env::var(POSTGRES_ENV) else {
        return websrm_registry::Database::Sqlite(path.to_path_buf());
    };
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    path.hash(&mut h);
    std::process::id().hash(&mut h);
    let name = format!("websrm_test_{:016x}", h.finish());
    let mut admin = postgres::Client::connect(&format!("{server}/postgres"), postgres::NoTls)
        .expect("the test PostgreSQL server answers");
    let exists = admin
        .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&name])
        .unwrap()
        .is_some();
    if !exists {
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .unwrap();
    }
    websrm_registry::Database::Postgres(format!("{server}/{name}"))
}

/// Opens (creating) the test's registry at `path`, on the backend of the run.
pub fn open_registry(
    path: &std::path::Path,
) -> Result<websrm_registry::Registry, websrm_registry::Error> {
    websrm_registry::Registry::open_database(&registry_database(path))
}

/// Runs SQL on the registry's database directly, as someone with access to it would.
pub fn raw_sql(path: &std::path::Path, sql: &str) -> Result<(), String> {
    match registry_database(path) {
        websrm_registry::Database::Sqlite(path) => rusqlite::Connection::open(path)
            .and_then(|c| c.execute_batch(sql))
            .map_err(|e| e.to_string()),
        websrm_registry::Database::Postgres(url) => {
            postgres::Client::connect(&url, postgres::NoTls)
                .and_then(|mut c| c.batch_execute(sql))
                .map_err(|e| e.to_string())
        }
        _ => Err("unknown backend".into()),
    }
}
