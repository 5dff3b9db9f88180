//! Files readable by their owner only: the stores hold authorization-code digests, certificates,
//! sealed keys and audit entries, none of which another account of the machine has to read.
//!
//! SQLite creates a database's `-wal` and `-shm` files with the mode of the database file
//! itself, so creating that file first, 0600, makes its companions private too without touching
//! the process's umask (which every thread shares). On opening, a file or folder that others
//! may read or write is refused with the command that fixes it, as the key-encryption key is.

use std::path::Path;

use crate::Error;

/// The companions SQLite keeps beside a database in WAL mode.
#[cfg(unix)]
const COMPANIONS: [&str; 2] = ["-wal", "-shm"];

/// Creates `dir` (and its parents) if missing, the last one 0700, and makes an existing empty
/// `dir` 0700 (it is being set up now); refuses an existing `dir` with files in it that others
/// may enter, read or write.
pub fn private_dir(dir: &Path) -> Result<(), Error> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        if !dir.exists() {
            if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
                std::fs::create_dir_all(parent).map_err(|e| io("creating", parent, &e))?;
            }
            match std::fs::DirBuilder::new().mode(0o700).create(dir) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(io("creating", dir, &e)),
            }
        }
        let empty = std::fs::read_dir(dir)
            .map_err(|e| io("reading", dir, &e))?
            .next()
            .is_none();
        if empty {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
                .map_err(|e| io("setting the mode of", dir, &e))?;
        }
        check(dir, true)
    }
    #[cfg(not(unix))]
    {
        std::fs::create_dir_all(dir).map_err(|e| io("creating", dir, &e))
    }
}

/// Makes ready the SQLite file `path`: created empty and 0600 when missing, so that SQLite's
/// companions inherit that mode; an existing file or companion that others may read or write is
/// refused.
pub(crate) fn sqlite_file(path: &Path) -> Result<(), Error> {
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
            Err(e) => return Err(io("creating", path, &e)),
        }
        check(path, false)?;
        for suffix in COMPANIONS {
            let companion = companion(path, suffix);
            if companion.exists() {
                check(&companion, false)?;
            }
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// `path` followed by `suffix` (`authority.db-wal`).
#[cfg(unix)]
fn companion(path: &Path, suffix: &str) -> std::path::PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    std::path::PathBuf::from(name)
}

#[cfg(unix)]
fn check(path: &Path, dir: bool) -> Result<(), Error> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path)
        .map_err(|e| io("reading", path, &e))?
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

fn io(action: &'static str, path: &Path, e: &std::io::Error) -> Error {
    Error::Io {
        action,
        path: path.display().to_string(),
        message: e.to_string(),
    }
}

#[cfg(all(test, unix))]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
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
