//! Helpers for the store tests: real keys and certificates from websrm-crypto.

#![allow(dead_code, unreachable_pub)] // Each test binary uses a different part.

use time::OffsetDateTime;
use time::macros::datetime;
use websrm_crypto::{CertificateAuthority, Csr, KeyEncryptionKey, PrivateKey, validate_csr};
use websrm_domain::{Environment, Sector, SrsSubject, SrsSubjectFields, Subject, UtcOffset};
use websrm_store::device::{CertificateMaterial, SlotKey};

pub const T0: OffsetDateTime = datetime!(2026-11-26 15:00:00 UTC);

pub fn slot(installation: &str) -> SlotKey {
    SlotKey {
        environment: Environment::Dev,
        operator: "5678912340".parse().unwrap(),
        installation: installation.into(),
    }
}

pub fn subject(nickname: &str) -> Subject {
    Subject::Srs(
        SrsSubject::new(SrsSubjectFields {
            identification_number: "5678912340".parse().unwrap(),
            sector: Sector::Restaurant,
            authorization_code: "D8T8-W8W8".parse().unwrap(),
            nickname: nickname.parse().unwrap(),
            qst_number: "5678912340TQ0001".parse().unwrap(),
            file_number: "ER0001".parse().unwrap(),
            utc_offset: UtcOffset::EASTERN,
        })
        .unwrap(),
    )
}

/// A key, its sealed form, its CSR, and the certificate a CA issues for it.
pub struct Issued {
    pub key: PrivateKey,
    pub sealed: Vec<u8>,
    pub csr: Vec<u8>,
    pub material: CertificateMaterial,
}

pub fn issue(
    ca: &CertificateAuthority,
    kek: &KeyEncryptionKey,
    purpose: &str,
    nickname: &str,
) -> Issued {
    let key = PrivateKey::generate().unwrap();
    let sealed = key.seal(kek, purpose).unwrap().as_bytes().to_vec();
    let csr = Csr::build(&subject(nickname), &key).unwrap();
    let validated = validate_csr(&csr.to_wire()).unwrap();
    let cert = ca.issue(&validated, T0).unwrap();
    let material = CertificateMaterial::new(
        cert.der.clone(),
        "-----BEGIN CERTIFICATE-----\nPSI\n-----END CERTIFICATE-----\n".into(),
        cert.serial,
        cert.thumbprint,
        cert.validity,
    );
    Issued {
        key,
        sealed,
        csr: csr.der().to_vec(),
        material,
    }
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
pub fn registry_database(path: &std::path::Path) -> websrm_store::Database {
    let Ok(server) = std::env::var(POSTGRES_ENV) else {
        return websrm_store::Database::Sqlite(path.to_path_buf());
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
    websrm_store::Database::Postgres(format!("{server}/{name}"))
}

/// Opens (creating) the test's registry at `path`, on the backend of the run.
pub fn open_registry(
    path: &std::path::Path,
) -> Result<websrm_store::Registry, websrm_store::Error> {
    websrm_store::Registry::open_database(&registry_database(path))
}

/// Runs SQL on the registry's database directly, as someone with access to it would.
pub fn raw_sql(path: &std::path::Path, sql: &str) -> Result<(), String> {
    match registry_database(path) {
        websrm_store::Database::Sqlite(path) => rusqlite::Connection::open(path)
            .and_then(|c| c.execute_batch(sql))
            .map_err(|e| e.to_string()),
        websrm_store::Database::Postgres(url) => postgres::Client::connect(&url, postgres::NoTls)
            .and_then(|mut c| c.batch_execute(sql))
            .map_err(|e| e.to_string()),
        _ => Err("unknown backend".into()),
    }
}
