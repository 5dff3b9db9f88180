//! Backing up an authority while SRSs enrol, and serving the restored copy.

use std::sync::{Arc, Mutex};

use websrm_tests::websrm_authority::backup::{self, BackupContents};
use websrm_tests::websrm_authority::{Authority, AuthorityFiles, SystemClock};
use websrm_tests::websrm_domain::{DeviceIdState, Environment};
use websrm_tests::websrm_registry::Database;
use websrm_tests::{POSTGRES_BIN_ENV, POSTGRES_ENV, Served, fresh_postgres_database};

use crate::support::*;

/// A backup taken while enrolments go on holds every certificate answered before it began;
/// restored into a new folder, its audit log verifies and the authority serves, with the same
/// CA: a certificate issued before the backup still authenticates on the restored API host.
/// Without `--with-folder`, the restore says which files are missing; a second backup never
/// overwrites the first; a folder that is not empty is not restored into.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_under_load_restores_into_a_folder_that_serves() {
    if std::env::var_os(POSTGRES_ENV).is_some() {
        // On PostgreSQL the registry is backed up with pg_dump (docs/AUTHORITY.md).
        return;
    }
    let s = Served::start(Environment::Dev);
    let c = client(&s, Environment::Dev);
    let h = headers(Environment::Dev, Some(DeviceIdState::Unassigned));
    let answered = Arc::new(Mutex::new(Vec::new()));
    let (first, _) = enrol(&c, &h, &michel("Caisse 0")).await;
    answered.lock().unwrap().push(first.info.serial);
    let load = {
        let answered = answered.clone();
        let c = client(&s, Environment::Dev);
        let h = h.clone();
        tokio::spawn(async move {
            for i in 1..=30 {
                let (held, _) = enrol(&c, &h, &michel(&format!("Caisse {i}"))).await;
                answered.lock().unwrap().push(held.info.serial);
            }
        })
    };
    while answered.lock().unwrap().len() < 8 {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let before: Vec<_> = answered.lock().unwrap().clone();
    let out = tempfile::tempdir().unwrap();
    let full = out.path().join("full.tar");
    let registry_only = out.path().join("registry.tar");
    let authority = s.authority.clone();
    let folder = s.dir.path().to_path_buf();
    let (full_, registry_only_) = (full.clone(), registry_only.clone());
    let manifests = tokio::task::spawn_blocking(move || {
        let full = authority
            .admin()
            .backup(&folder, &full_, BackupContents::new(true, true))
            .unwrap();
        let registry_only = authority
            .admin()
            .backup(&folder, &registry_only_, BackupContents::default())
            .unwrap();
        (full, registry_only)
    })
    .await
    .unwrap();
    load.await.unwrap();
    assert!(manifests.0.audit_entries > 0, "{:?}", manifests.0);
    assert_eq!(manifests.1.files, ["authority.db"]);
    let again = s
        .authority
        .admin()
        .backup(s.dir.path(), &full, BackupContents::default())
        .unwrap_err();
    assert!(again.to_string().contains("already exists"), "{again}");

    // The registry alone: restored, with the list of what to copy before serving.
    let partial = tempfile::tempdir().unwrap();
    let restored = backup::restore(&registry_only, partial.path()).unwrap();
    assert!(restored.missing.contains(&"ca-key.sealed"), "{restored:?}");
    assert!(
        restored.missing.contains(&"authority.db.kek"),
        "{restored:?}"
    );
    let refused = backup::restore(&full, partial.path()).unwrap_err();
    assert!(refused.to_string().contains("not empty"), "{refused}");

    // An archive whose registry is not one: refused before anything is written.
    #[cfg(unix)]
    {
        let forged = tempfile::tempdir().unwrap();
        let manifest = serde_json::to_vec(&manifests.1).unwrap();
        std::fs::write(forged.path().join("manifest.json"), manifest).unwrap();
        std::fs::write(forged.path().join("authority.db"), b"not a database").unwrap();
        let archive = out.path().join("forged.tar");
        let tarred = std::process::Command::new("tar")
            .arg("cf")
            .arg(&archive)
            .arg("-C")
            .arg(forged.path())
            .args(["manifest.json", "authority.db"])
            .status()
            .unwrap();
        assert!(tarred.success());
        let into = tempfile::tempdir().unwrap();
        let refused = backup::restore(&archive, into.path()).unwrap_err();
        assert!(refused.to_string().contains("its registry"), "{refused}");
        assert!(
            std::fs::read_dir(into.path()).unwrap().next().is_none(),
            "nothing written"
        );
    }

    // The whole folder: restored and served.
    let new = tempfile::tempdir().unwrap();
    let restored = backup::restore(&full, new.path()).unwrap();
    assert!(restored.missing.is_empty(), "{restored:?}");
    let r = Served::open(new, Environment::Dev);
    assert!(r.authority.admin().verify_audit().unwrap() >= manifests.0.audit_entries);
    for serial in &before {
        assert!(
            r.authority.admin().certificate(*serial).unwrap().is_some(),
            "certificate {serial}, answered before the backup, is in it"
        );
    }
    assert_eq!(r.ca, s.ca, "the same CA");
    let rc = client(&r, Environment::Dev);
    let (_, answer) = enrol(&rc, &h, &michel("Caisse restaurée")).await;
    assert!(answer.device_id.is_some());
    // The certificate issued before the backup authenticates on the restored API host.
    let api = plain_client(&r, Some(first.identity()));
    let (status, body) = post(
        &api,
        &format!("{}/certificats", r.api_base),
        &header_pairs("0000-0000-0000"),
        "{}",
    )
    .await;
    assert_ne!(
        body["retourCertif"]["listErr"][0]["id"], "JW00B999011E",
        "{status} {body}"
    );
}

/// On PostgreSQL the registry is backed up with `pg_dump` and restored with `pg_restore` into a
/// new database, which the folder's files (without the audit checkpoint) then open: the audit
/// log verifies and every certificate is there. The authority's own backup refuses such a
/// registry and names `pg_dump`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registry_on_postgresql_is_backed_up_with_pg_dump() {
    let Some(bin) = std::env::var_os(POSTGRES_BIN_ENV).map(std::path::PathBuf::from) else {
        return;
    };
    let s = Served::start(Environment::Dev);
    let Some(Database::Postgres(url)) = s.database.clone() else {
        panic!("{POSTGRES_BIN_ENV} is set with {POSTGRES_ENV}, so the registry is on PostgreSQL");
    };
    let c = client(&s, Environment::Dev);
    let h = headers(Environment::Dev, Some(DeviceIdState::Unassigned));
    let mut serials = Vec::new();
    for i in 0..3 {
        let (held, _) = enrol(&c, &h, &michel(&format!("Caisse {i}"))).await;
        serials.push(held.info.serial);
    }
    let out = tempfile::tempdir().unwrap();
    let refused = s
        .authority
        .admin()
        .backup(
            s.dir.path(),
            &out.path().join("x.tar"),
            BackupContents::default(),
        )
        .unwrap_err();
    assert!(refused.to_string().contains("pg_dump"), "{refused}");

    let dump = out.path().join("registry.dump");
    let new_url = fresh_postgres_database("websrm_restored").unwrap();
    let (dump_, url_, new_url_) = (dump.clone(), url.clone(), new_url.clone());
    tokio::task::spawn_blocking(move || {
        let run = |program: &str, args: &[&str]| {
            let status = std::process::Command::new(bin.join(program))
                .args(args)
                .status()
                .unwrap_or_else(|e| panic!("{program} runs: {e}"));
            assert!(status.success(), "{program} {args:?}: {status}");
        };
        let dump = dump_.to_str().unwrap();
        run(
            "pg_dump",
            &[
                "--format=custom",
                "--no-owner",
                "--file",
                dump,
                "--dbname",
                &url_,
            ],
        );
        run(
            "pg_restore",
            &["--no-owner", "--exit-on-error", "--dbname", &new_url_, dump],
        );
    })
    .await
    .unwrap();

    let folder = tempfile::tempdir().unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(folder.path(), std::fs::Permissions::from_mode(0o700)).unwrap();
    }
    for name in backup::FOLDER_FILES.into_iter().chain([backup::KEY_FILE]) {
        std::fs::copy(s.dir.path().join(name), folder.path().join(name)).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(
                folder.path().join(name),
                std::fs::Permissions::from_mode(0o600),
            )
            .unwrap();
        }
    }
    let restored = tokio::task::spawn_blocking(move || {
        let files = AuthorityFiles::open_or_create_with(
            folder.path(),
            Some(&Database::Postgres(new_url)),
            Environment::Dev,
            time::OffsetDateTime::now_utc(),
        )
        .unwrap();
        let (authority, _) = Authority::new(files, Environment::Dev, Arc::new(SystemClock));
        let entries = authority.admin().verify_audit().unwrap();
        let found = serials
            .iter()
            .filter(|serial| authority.admin().certificate(**serial).unwrap().is_some())
            .count();
        (entries, found, serials.len())
    })
    .await
    .unwrap();
    assert!(restored.0 > 0);
    assert_eq!(
        restored.1, restored.2,
        "every certificate is in the restored registry"
    );
}
