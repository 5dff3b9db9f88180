use super::*;

/// A first start that stopped between two of the TLS files (a crash, a full disk) leaves a
/// folder that starts: whatever part of the identity was written, a whole one is made.
#[test]
fn a_first_start_cut_between_its_tls_files_leaves_a_folder_that_starts() {
    let now = OffsetDateTime::now_utc();
    let files = [names::TLS_ROOT, names::TLS_KEY, names::TLS_SERVER];
    for kept in 0u8..7 {
        let dir = tempfile::tempdir().unwrap();
        drop(AuthorityFiles::open_or_create(dir.path(), Environment::Dev, now).unwrap());
        for (i, name) in files.iter().enumerate() {
            if kept & (1 << i) == 0 {
                fs::remove_file(dir.path().join(name)).unwrap();
            }
        }
        let reopened = AuthorityFiles::open_or_create(dir.path(), Environment::Dev, now)
            .unwrap_or_else(|e| panic!("kept {kept:03b}: {e}"));
        let root = pem::decode("CERTIFICATE", &read(dir.path(), names::TLS_ROOT).unwrap()).unwrap();
        assert_eq!(root, reopened.tls.root_der, "kept {kept:03b}");
    }
}

/// The generated TLS certificate is renewed by the folder's root for a new public name, and
/// again when it has less than 30 days left; a folder without the root's key gets a new root;
/// a key and certificate that do not belong together (a renewal cut between its files) are
/// renewed rather than served.
#[test]
fn the_tls_certificate_is_renewed_for_new_names_and_before_it_expires() {
    let now = OffsetDateTime::now_utc();
    let dir = tempfile::tempdir().unwrap();
    let root = AuthorityFiles::open_or_create(dir.path(), Environment::Dev, now)
        .unwrap()
        .tls
        .root_der;
    let names = ["ca.example".to_owned(), "192.0.2.7".to_owned()];
    assert!(
        renew_tls(dir.path(), &[], now).unwrap().is_none(),
        "current"
    );
    let renewed = renew_tls(dir.path(), &names, now).unwrap().unwrap();
    assert!(!renewed.new_root);
    assert_eq!(renewed.identity.root_der, root, "issued by the same root");
    assert!(renewed.identity.covers(&names, now).unwrap());
    assert!(
        renew_tls(dir.path(), &names, now).unwrap().is_none(),
        "kept"
    );
    let reopened = AuthorityFiles::open_or_create(dir.path(), Environment::Dev, now).unwrap();
    assert!(
        reopened.tls.covers(&names, now).unwrap(),
        "written to the folder"
    );
    drop(reopened);

    let late = now + time::Duration::days(TLS_SERVER_DAYS - 10);
    let renewed = renew_tls(dir.path(), &names, late).unwrap().unwrap();
    assert!(!renewed.new_root);
    assert!(
        renewed
            .identity
            .covers(&names, late + time::Duration::days(300))
            .unwrap()
    );

    // A key written without its certificate.
    let kek = KeyEncryptionKey::from_bytes(
        *FileKeyProtector::beside(&dir.path().join(names::REGISTRY))
            .key_encryption_key()
            .unwrap(),
    );
    let stray = PrivateKey::generate().unwrap();
    write(
        dir.path(),
        names::TLS_KEY,
        stray.seal(&kek, "tls").unwrap().as_bytes(),
    )
    .unwrap();
    assert!(renew_tls(dir.path(), &names, now).unwrap().is_some());

    // A root key that is not the root's (a new root cut between its key and certificate).
    write(
        dir.path(),
        names::TLS_ROOT_KEY,
        stray.seal(&kek, "tls root").unwrap().as_bytes(),
    )
    .unwrap();
    let renewed = renew_tls(dir.path(), &["stray.example".to_owned()], now)
        .unwrap()
        .unwrap();
    assert!(
        renewed.new_root,
        "never a certificate its root does not verify"
    );
    let second = renewed.identity.root_der;
    assert_ne!(second, root);

    // A root that would not outlive a new certificate is replaced.
    let near_end = now + time::Duration::days(TLS_ROOT_DAYS - 100);
    let renewed = renew_tls(dir.path(), &["stray.example".to_owned()], near_end)
        .unwrap()
        .unwrap();
    assert!(renewed.new_root);
    assert_ne!(renewed.identity.root_der, second);

    fs::remove_file(dir.path().join(names::TLS_ROOT_KEY)).unwrap();
    let renewed = renew_tls(dir.path(), &["other.example".to_owned()], now)
        .unwrap()
        .unwrap();
    assert!(renewed.new_root);
    assert!(dir.path().join(names::TLS_ROOT_KEY).exists());
}

/// The folder and every file in it are its owner's only.
#[cfg(unix)]
#[test]
fn the_folder_is_0700_and_every_file_in_it_0600() {
    use std::os::unix::fs::PermissionsExt;
    let root = tempfile::tempdir().unwrap();
    let dir = root.path().join("authority");
    let files =
        AuthorityFiles::open_or_create(&dir, Environment::Dev, OffsetDateTime::now_utc()).unwrap();
    files
        .registry
        .append_audit(websrm_registry::NewAudit::new(
            OffsetDateTime::now_utc(),
            "test",
            "write",
            "-",
            "",
        ))
        .unwrap();
    let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&dir), 0o700);
    let mut seen = Vec::new();
    for entry in fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        assert_eq!(mode(&path), 0o600, "{}", path.display());
        seen.push(path.file_name().unwrap().to_string_lossy().into_owned());
    }
    for name in [
        "authority.db",
        "authority.db-wal",
        "authority.db-shm",
        "authority.db.kek",
    ] {
        assert!(seen.iter().any(|s| s == name), "{name} in {seen:?}");
    }
}
