//! Files readable by their owner only: the stores hold authorization-code digests, certificates,
//! sealed keys and audit entries, none of which another account of the machine has to read.
//!
//! SQLite creates a database's `-wal` and `-shm` files with the mode of the database file
//! itself, so creating that file first, 0600, makes its companions private too without touching
//! the process's umask (which every thread shares). On opening, a file or folder that others
//! may read or write is refused with the command that fixes it, as the key-encryption key is.
//!
//! On Windows the access list is what keeps a file private (`websrm-acl`): folders and files
//! are created with a protected list granting this account, `SYSTEM` and `Administrators` only,
//! and one that grants anyone else is refused with the `icacls` command that fixes it. SQLite
//! creates its companions there with the list inherited from their folder, not from the
//! database, so they are created first, private, before SQLite opens the database (SQLite uses
//! empty ones as it finds them, and deletes them when its last connection closes).

use std::path::Path;

use websrm_domain::Source;

use crate::Error;

/// The companions SQLite keeps beside a database in WAL mode.
#[cfg(any(unix, windows))]
const COMPANIONS: [&str; 2] = ["-wal", "-shm"];

/// Creates `dir` (and its parents) if missing, the last one 0700, and makes an existing empty
/// `dir` 0700 (it is being set up now); refuses an existing `dir` with files in it that others
/// may enter, read or write. On Windows, "0700" is a protected access list for this account,
/// `SYSTEM` and `Administrators`, inherited by what is created in `dir`.
pub fn private_dir(dir: &Path) -> Result<(), Error> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        if !dir.exists() {
            if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
                std::fs::create_dir_all(parent).map_err(|e| io("creating", parent, e))?;
            }
            match std::fs::DirBuilder::new().mode(0o700).create(dir) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(io("creating", dir, e)),
            }
        }
        let empty = std::fs::read_dir(dir)
            .map_err(|e| io("reading", dir, e))?
            .next()
            .is_none();
        if empty {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
                .map_err(|e| io("setting the mode of", dir, e))?;
        }
        check(dir, true)
    }
    #[cfg(windows)]
    {
        use websrm_acl::Kind;
        if !dir.exists() {
            if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
                std::fs::create_dir_all(parent).map_err(|e| io("creating", parent, e))?;
            }
            match websrm_acl::create_dir(dir) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(io("creating", dir, e)),
            }
        }
        let empty = std::fs::read_dir(dir)
            .map_err(|e| io("reading", dir, e))?
            .next()
            .is_none();
        if empty {
            websrm_acl::protect(dir, Kind::Folder)
                .map_err(|e| io("setting the access list of", dir, e))?;
        }
        check_acl(dir, Kind::Folder)
    }
    #[cfg(not(any(unix, windows)))]
    {
        std::fs::create_dir_all(dir).map_err(|e| io("creating", dir, e))
    }
}

/// Makes ready the SQLite file `path`: created empty and 0600 when missing, so that SQLite's
/// companions inherit that mode; an existing file or companion that others may read or write is
/// refused. On Windows the file and its missing companions are created with the private access
/// list, and existing ones are checked.
pub fn sqlite_file(path: &Path) -> Result<(), Error> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        let created = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path);
        match created {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(io("creating", path, e)),
        }
        check(path, false)?;
        for suffix in COMPANIONS {
            let companion = companion(path, suffix);
            if companion.exists() {
                check(&companion, false)?;
            }
        }
    }
    #[cfg(windows)]
    {
        use websrm_acl::Kind;
        for file in std::iter::once(path.to_path_buf())
            .chain(COMPANIONS.iter().map(|suffix| companion(path, suffix)))
        {
            match websrm_acl::create_new(&file) {
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    check_acl(&file, Kind::File)?;
                }
                Err(e) => return Err(io("creating", &file, e)),
            }
        }
    }
    #[cfg(not(any(unix, windows)))]
    let _ = path;
    Ok(())
}

/// `path` followed by `suffix` (`authority.db-wal`).
#[cfg(any(unix, windows))]
fn companion(path: &Path, suffix: &str) -> std::path::PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    std::path::PathBuf::from(name)
}

#[cfg(unix)]
fn check(path: &Path, dir: bool) -> Result<(), Error> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path)
        .map_err(|e| io("reading", path, e))?
        .permissions()
        .mode()
        & 0o777;
    if mode & 0o077 != 0 {
        return Err(Error::NotPrivate {
            path: path.display().to_string(),
            mode,
            fix: format!(
                "chmod {} {}",
                if dir { "700" } else { "600" },
                path.display()
            ),
        });
    }
    Ok(())
}

/// Refuses `path` when its access list grants anyone but this account, its owner, `SYSTEM` and
/// `Administrators`, with the `icacls` command that fixes it.
#[cfg(windows)]
fn check_acl(path: &Path, kind: websrm_acl::Kind) -> Result<(), Error> {
    match websrm_acl::check(path, kind) {
        Ok(None) => Ok(()),
        Ok(Some(exposed)) => Err(Error::NotPrivateAcl {
            path: exposed.path,
            others: exposed.others,
            fix: exposed.fix,
        }),
        Err(e) => Err(io("reading the access list of", path, e)),
    }
}

fn io(action: &'static str, path: &Path, e: std::io::Error) -> Error {
    Error::Io {
        action,
        path: path.display().to_string(),
        cause: Source::new(e),
    }
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    /// A failed file operation keeps the system's error whole: the message says what was done
    /// to which file and why, and the error itself is there to downcast.
    #[test]
    fn a_failed_file_operation_keeps_the_systems_error() {
        let root = tempfile::tempdir().unwrap();
        let file = root.path().join("a-file");
        std::fs::write(&file, b"x").unwrap();
        let e = private_dir(&file.join("below")).unwrap_err();
        let Error::Io {
            action,
            ref path,
            ref cause,
        } = e
        else {
            panic!("{e:?}");
        };
        assert_eq!(action, "creating");
        assert!(
            path.ends_with("a-file"),
            "the folder that cannot be made: {path}"
        );
        let io = cause
            .error()
            .and_then(|e| e.downcast_ref::<std::io::Error>())
            .expect("the system's error itself");
        assert_eq!(e.to_string(), format!("creating {path}: {io}"));
    }

    #[test]
    fn a_new_folder_is_0700_and_a_wider_one_is_refused_with_its_fix() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("a/b");
        private_dir(&dir).unwrap();
        assert_eq!(mode(&dir), 0o700);
        // Empty: it is being set up, and made private.
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        private_dir(&dir).unwrap();
        assert_eq!(mode(&dir), 0o700);
        // With files in it: refused.
        std::fs::write(dir.join("authority.db"), b"").unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        let e = private_dir(&dir).unwrap_err();
        assert!(matches!(e, Error::NotPrivate { mode: 0o755, .. }), "{e}");
        assert!(
            e.to_string()
                .contains(&format!("chmod 700 {}", dir.display())),
            "{e}"
        );
    }

    #[test]
    fn a_file_opened_by_sqlite_and_its_companions_are_0600_and_a_wider_one_is_refused() {
        let root = tempfile::tempdir().unwrap();
        let path = root.path().join("x.db");
        sqlite_file(&path).unwrap();
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.query_row("PRAGMA journal_mode = WAL", [], |_| Ok(()))
            .unwrap();
        conn.execute_batch("CREATE TABLE t (x); INSERT INTO t VALUES (1);")
            .unwrap();
        for p in [
            path.clone(),
            companion(&path, "-wal"),
            companion(&path, "-shm"),
        ] {
            assert!(p.exists(), "{}", p.display());
            assert_eq!(mode(&p), 0o600, "{}", p.display());
        }
        std::fs::set_permissions(
            companion(&path, "-wal"),
            std::fs::Permissions::from_mode(0o644),
        )
        .unwrap();
        let e = sqlite_file(&path).unwrap_err();
        assert!(e.to_string().contains("chmod 600"), "{e}");
        assert!(e.to_string().contains("x.db-wal"), "{e}");
    }
}

#[cfg(all(test, windows))]
mod windows_tests {
    use super::*;

    /// The Windows counterpart of the tests above, run under Wine by `cargo xtask windows`: a
    /// new folder and a new database with its companions are private, and a database whose
    /// list lets Everyone read it is refused with the `icacls` command that fixes it.
    #[test]
    fn a_new_folder_and_database_are_private_and_a_shared_one_is_refused_with_its_fix() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("a").join("b");
        private_dir(&dir).unwrap();
        check_acl(&dir, websrm_acl::Kind::Folder).unwrap();
        let path = dir.join("x.db");
        sqlite_file(&path).unwrap();
        for suffix in COMPANIONS {
            assert!(companion(&path, suffix).exists(), "{suffix}");
        }
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.query_row("PRAGMA journal_mode = WAL", [], |_| Ok(()))
            .unwrap();
        conn.execute_batch("CREATE TABLE t (x); INSERT INTO t VALUES (1);")
            .unwrap();
        drop(conn);
        // Opened again: whatever SQLite left or removed, every file is private.
        sqlite_file(&path).unwrap();
        let conn = rusqlite::Connection::open(&path).unwrap();
        let x: i64 = conn.query_row("SELECT x FROM t", [], |r| r.get(0)).unwrap();
        assert_eq!(x, 1);
        drop(conn);

        // A database another program created, readable by everyone (Wine gives new files the
        // list of their Unix mode, 0644 here).
        let shared = root.path().join("shared.db");
        std::fs::write(&shared, b"").unwrap();
        if websrm_acl::check(&shared, websrm_acl::Kind::File)
            .unwrap()
            .is_some()
        {
            let e = sqlite_file(&shared).unwrap_err();
            assert!(matches!(e, Error::NotPrivateAcl { .. }), "{e}");
            assert!(e.to_string().contains("icacls \""), "{e}");
        }
    }
}
