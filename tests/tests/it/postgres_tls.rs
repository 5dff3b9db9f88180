//! The registry on a PostgreSQL server over TLS: the throw-away server of `cargo xtask ci`
//! speaks TLS with a certificate made for the run (for `localhost`), and its role `websrm_tls`
//! may connect only over TLS. `verify-full` connects; a wrong root, or a host name the
//! certificate does not hold, is refused; `disable` against a server that requires TLS, and
//! `verify-full` without a root, are refused with a message that says what to write.

use time::OffsetDateTime;
use websrm_tests::websrm_authority::AuthorityFiles;
use websrm_tests::websrm_domain::Environment;
use websrm_tests::websrm_registry::Database;

/// The variable naming the root of the test server's TLS certificate.
const TLS_ROOT_ENV: &str = "WEBSRM_TEST_POSTGRES_TLS_ROOT";

fn open(dir: &std::path::Path, url: &str) -> Result<AuthorityFiles, String> {
    AuthorityFiles::open_or_create_with(
        dir,
        Some(&Database::parse(url)),
        Environment::Dev,
        OffsetDateTime::now_utc(),
    )
    .map_err(|e| e.to_string())
}

#[test]
#[allow(clippy::print_stderr)] // Says why nothing was tested when no server is named.
fn the_registry_on_postgresql_over_tls_checks_the_server() {
    let (Some(database), Ok(root)) = (
        websrm_tests::fresh_postgres_database("websrm_tls"),
        std::env::var(TLS_ROOT_ENV),
    ) else {
        eprintln!("no PostgreSQL server with TLS: cargo xtask ci starts one");
        return;
    };
    // postgres://websrm@127.0.0.1:PORT/NAME
    let rest = database
        .strip_prefix("postgres://websrm@127.0.0.1:")
        .unwrap();
    let (port, name) = rest.split_once('/').unwrap();
    let url =
        |host: &str, query: &str| format!("postgres://websrm_tls@{host}:{port}/{name}?{query}");

    // verify-full with the server's root, to the name its certificate holds.
    let dir = tempfile::tempdir().unwrap();
    let files = open(
        dir.path(),
        &url(
            "localhost",
            &format!("sslmode=verify-full&sslrootcert={root}"),
        ),
    )
    .unwrap();
    files.registry.verify_audit_chain().unwrap();
    assert!(files.registry.operators().unwrap().is_empty());
    drop(files);
    // require: encrypted, the certificate not checked.
    let files = open(dir.path(), &url("localhost", "sslmode=require")).unwrap();
    files.registry.verify_audit_chain().unwrap();
    drop(files);

    // Another root: refused.
    let other_root = dir.path().join("tls-root.pem");
    let refused = open(
        dir.path(),
        &url(
            "localhost",
            &format!("sslmode=verify-full&sslrootcert={}", other_root.display()),
        ),
    )
    .expect_err("a server whose certificate another root signed is refused");
    assert!(refused.contains("certificate"), "{refused}");
    // The right root, but a name the certificate does not hold: refused.
    let refused = open(
        dir.path(),
        &url(
            "127.0.0.1",
            &format!("sslmode=verify-full&sslrootcert={root}"),
        ),
    )
    .expect_err("a name the certificate does not hold is refused");
    assert!(refused.contains("certificate"), "{refused}");
    // Plain, to a server that requires TLS: a message that says what to write.
    let refused = open(dir.path(), &url("localhost", "sslmode=disable"))
        .expect_err("the server refuses plain connections for this role");
    assert!(refused.contains("sslmode=verify-full"), "{refused}");
    assert!(refused.contains("requires TLS"), "{refused}");
    // verify-full, the default off this machine, needs its root.
    let refused = open(dir.path(), &url("localhost", "sslmode=verify-full"))
        .expect_err("verify-full without a root is refused");
    assert!(refused.contains("sslrootcert=FILE"), "{refused}");
}
