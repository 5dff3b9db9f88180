//! Migrations from an empty file and from every earlier schema version, and refusal of files
//! that are not ours or are newer.

use websrm_domain::published::MICHEL_UNTEL;
use websrm_registry::{Error as RegistryError, Registry};
use websrm_store::{DeviceStore, Error as StoreError, device};

/// A file at schema `version` of `migrations`, as an older websrm would have left it.
fn file_at_version(
    path: &std::path::Path,
    migrations: &[&str],
    application_id: i32,
    version: usize,
) {
    let conn = rusqlite::Connection::open(path).unwrap();
    if version > 0 {
        conn.execute_batch(&format!("PRAGMA application_id = {application_id}"))
            .unwrap();
    }
    for (i, sql) in migrations.iter().take(version).enumerate() {
        conn.execute_batch(sql).unwrap();
        conn.execute_batch(&format!("PRAGMA user_version = {}", i + 1))
            .unwrap();
    }
    private(path);
}

/// Readable by its owner only, as websrm requires of its stores (an earlier version created
/// them 0644; their owner is told to run `chmod 600`).
fn private(path: &std::path::Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
}

/// A store left readable by others by an earlier version is refused, with the command that
/// fixes it, and opens once fixed.
#[cfg(unix)]
#[test]
fn a_store_readable_by_others_is_refused_with_the_command_that_fixes_it() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.db");
    drop(Registry::open(&path).unwrap());
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    let e = Registry::open(&path).unwrap_err();
    assert!(
        matches!(e, RegistryError::NotPrivate { mode: 0o644, .. }),
        "{e}"
    );
    assert!(
        e.to_string()
            .contains(&format!("run `chmod 600 {}`", path.display())),
        "{e}"
    );
    private(&path);
    drop(Registry::open(&path).unwrap());
    let device = dir.path().join("device.db");
    drop(DeviceStore::open(&device).unwrap());
    for file in ["device.db", "device.db-wal", "device.db-shm"] {
        let p = dir.path().join(file);
        if p.exists() {
            let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{file}");
        }
    }
    std::fs::set_permissions(&device, std::fs::Permissions::from_mode(0o640)).unwrap();
    assert!(matches!(
        DeviceStore::open(&device).unwrap_err(),
        StoreError::NotPrivate { mode: 0o640, .. }
    ));
}

fn application_id(path: &std::path::Path) -> i32 {
    rusqlite::Connection::open(path)
        .unwrap()
        .query_row("PRAGMA application_id", [], |r| r.get(0))
        .unwrap()
}

#[test]
fn device_store_migrates_from_every_earlier_version() {
    let dir = tempfile::tempdir().unwrap();
    let reference = dir.path().join("reference.db");
    DeviceStore::open(&reference).unwrap();
    let app = application_id(&reference);
    for version in 0..=device::MIGRATIONS.len() {
        let path = dir.path().join(format!("v{version}.db"));
        file_at_version(&path, device::MIGRATIONS, app, version);
        let store = DeviceStore::open(&path).unwrap();
        assert_eq!(
            store.schema_version().unwrap() as usize,
            device::MIGRATIONS.len()
        );
        store.integrity_check().unwrap();
        assert_eq!(store.device_id().unwrap(), None);
    }
}

#[test]
fn registry_migrates_from_every_earlier_version() {
    let dir = tempfile::tempdir().unwrap();
    let reference = dir.path().join("reference.db");
    Registry::open(&reference).unwrap();
    let app = application_id(&reference);
    for version in 0..=websrm_registry::MIGRATIONS.len() {
        let path = dir.path().join(format!("v{version}.db"));
        file_at_version(&path, websrm_registry::MIGRATIONS, app, version);
        let reg = Registry::open(&path).unwrap();
        assert_eq!(
            reg.schema_version().unwrap() as usize,
            websrm_registry::MIGRATIONS.len()
        );
        assert_eq!(reg.verify_audit_chain().unwrap(), 0);
    }
}

#[test]
fn a_newer_schema_is_refused_rather_than_guessed_at() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("device.db");
    DeviceStore::open(&path).unwrap();
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute_batch("PRAGMA user_version = 99")
        .unwrap();
    let supported = device::MIGRATIONS.len() as u32;
    assert_eq!(
        DeviceStore::open(&path).unwrap_err(),
        StoreError::SchemaTooNew {
            found: 99,
            supported
        }
    );
}

#[test]
fn a_store_of_another_kind_or_a_foreign_database_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let device_db = dir.path().join("device.db");
    DeviceStore::open(&device_db).unwrap();
    assert!(matches!(
        Registry::open(&device_db).unwrap_err(),
        RegistryError::WrongDatabase {
            expected: "websrm authority registry",
            ..
        }
    ));
    let foreign = dir.path().join("foreign.db");
    rusqlite::Connection::open(&foreign)
        .unwrap()
        .execute_batch("CREATE TABLE t (x)")
        .unwrap();
    private(&foreign);
    assert!(matches!(
        DeviceStore::open(&foreign).unwrap_err(),
        StoreError::WrongDatabase { .. }
    ));
    let not_sqlite = dir.path().join("text.db");
    std::fs::write(
        &not_sqlite,
        "this is not a database, just some text that is long enough to be a header",
    )
    .unwrap();
    private(&not_sqlite);
    assert!(matches!(
        DeviceStore::open(&not_sqlite).unwrap_err(),
        StoreError::Database { .. }
    ));
}

#[test]
fn files_are_in_wal_mode_and_the_schema_enforces_foreign_keys() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.db");
    Registry::open(&path).unwrap();
    let raw = rusqlite::Connection::open(&path).unwrap();
    let mode: String = raw
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal", "WAL is a property of the file");
    // Foreign keys hold in the schema: a certificate for an unknown operator is rejected.
    raw.execute_batch("PRAGMA foreign_keys = ON").unwrap();
    let e = raw.execute(
        "INSERT INTO certificates (serial, thumbprint, environment, operator_id, nickname, subject, not_before, not_after, der, status, issued_at) \
         VALUES ('a', 'b', 'DEV', 999, 'n', 's', 0, 1, x'00', 'active', 0)",
        [],
    );
    assert!(e.is_err());
}

#[test]
fn rows_written_by_an_earlier_version_survive_the_migration() {
    let dir = tempfile::tempdir().unwrap();
    let reference = dir.path().join("reference.db");
    Registry::open(&reference).unwrap();
    let app = application_id(&reference);
    // A version-1 registry with an operator, a device and a certificate.
    let path = dir.path().join("v1.db");
    file_at_version(&path, websrm_registry::MIGRATIONS, app, 1);
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch(
        "INSERT INTO operators (id, identification_number, legal_name, qst_number, created_at) VALUES (1, '5678912340', 'Michel', '5678912340TQ0001', 0);
         INSERT INTO devices (device_id, issued_at, operator_id) VALUES ('7654-0955-8558', 0, 1);
         INSERT INTO certificates (serial, thumbprint, environment, operator_id, device_id, nickname, subject, not_before, not_after, der, status, issued_at)
         VALUES ('1111111111111111111111111111111111111111', '2222222222222222222222222222222222222222', 'DEV', 1, '7654-0955-8558', 'Caisse du bar', 'CN=5678912340', 0, 157766400, x'30', 'active', 0);",
    )
    .unwrap();
    drop(conn);
    private(&path);
    let reg = Registry::open(&path).unwrap();
    assert_eq!(
        reg.schema_version().unwrap() as usize,
        websrm_registry::MIGRATIONS.len()
    );
    let serial = "1111111111111111111111111111111111111111".parse().unwrap();
    let cert = reg
        .certificate_by_serial(serial)
        .unwrap()
        .expect("the certificate survives");
    assert_eq!(cert.nickname.as_str(), "Caisse du bar");
    assert_eq!(cert.device, Some("7654-0955-8558".parse().unwrap()));
    let op = reg
        .operator_by_identification(&MICHEL_UNTEL.id())
        .unwrap()
        .unwrap();
    // A row from before key identifiers is not mistaken for a retransmission.
    assert_eq!(
        reg.active_certificate_for_key(op.id, &[0u8; 20]).unwrap(),
        None
    );
    reg.integrity_check().unwrap();

    // A version-1 device store with a device identifier keeps it, and gains terminals.
    let dreference = dir.path().join("dref.db");
    DeviceStore::open(&dreference).unwrap();
    let dpath = dir.path().join("device-v1.db");
    file_at_version(&dpath, device::MIGRATIONS, application_id(&dreference), 1);
    rusqlite::Connection::open(&dpath)
        .unwrap()
        .execute_batch("INSERT INTO device (singleton, device_id, source, recorded_at) VALUES (1, '7654-0955-8558', 'assigned', 0)")
        .unwrap();
    let store = DeviceStore::open(&dpath).unwrap();
    assert_eq!(
        store.device_id().unwrap(),
        Some("7654-0955-8558".parse().unwrap())
    );
    assert!(store.terminals().unwrap().is_empty());
}

/// Version 11 gives each product version a state from its old `certified` flag, and registers
/// every partner a product named.
#[test]
fn products_keep_their_certification_as_a_state() {
    use websrm_domain::{Environment, ProductMode, VersionState};
    let dir = tempfile::tempdir().unwrap();
    let reference = dir.path().join("reference.db");
    Registry::open(&reference).unwrap();
    let app = application_id(&reference);
    let path = dir.path().join("v10.db");
    file_at_version(&path, websrm_registry::MIGRATIONS, app, 10);
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute_batch(
            "INSERT INTO products VALUES ('DEV', '0000000000000001', '0000000000000002', '0000000000000003', 'FOB201999999', '1.0.0', '0', 1);
             INSERT INTO products VALUES ('DEV', '0000000000000001', '0000000000000002', '0000000000000004', 'FOB201999999', '1.1.0', '1.0.0', 0);",
        )
        .unwrap();
    let reg = Registry::open(&path).unwrap();
    let versions = reg
        .products_of(
            Environment::Dev,
            "0000000000000001".parse().unwrap(),
            "0000000000000002".parse().unwrap(),
        )
        .unwrap();
    let states: Vec<VersionState> = versions.iter().map(|p| p.state).collect();
    assert_eq!(states, [VersionState::Certified, VersionState::Registered]);
    assert!(
        versions
            .iter()
            .all(|p| p.mode == ProductMode::Both && p.sectors.len() == 2)
    );
    let partner = reg
        .partner("0000000000000001".parse().unwrap())
        .unwrap()
        .unwrap();
    assert!(partner.registered);
    reg.integrity_check().unwrap();
}
