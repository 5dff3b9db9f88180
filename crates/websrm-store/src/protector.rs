//! Where the key-encryption key of the device store comes from.

use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use websrm_domain::Source;
use zeroize::Zeroizing;

use crate::Error;

/// Supplies the 256-bit key that seals the private keys kept in the device store.
///
/// Implement it over an OS key store, a TPM or a hardware module; the default,
/// [`FileKeyProtector`], keeps a random key in a file beside the database.
pub trait KeyProtector: Send + Sync {
    /// The key-encryption key, created on first use if the protector does that.
    fn key_encryption_key(&self) -> Result<Zeroizing<[u8; 32]>, Error>;
}

/// A random key in a file readable by its owner only, beside the database, so that a copied
/// database alone opens nothing.
#[derive(Debug, Clone)]
pub struct FileKeyProtector {
    path: PathBuf,
}

impl FileKeyProtector {
    /// A protector keeping its key in `path`.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    /// A protector keeping its key beside `database`, in `<database>.kek`.
    pub fn beside(database: &Path) -> Self {
        let mut name = database.as_os_str().to_owned();
        name.push(".kek");
        Self::new(PathBuf::from(name))
    }

    /// The key file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn io(&self, action: &'static str, e: std::io::Error) -> Error {
        Error::Io {
            action,
            path: self.path.display().to_string(),
            cause: Source::new(e),
        }
    }

    fn read(&self) -> Result<Option<Zeroizing<[u8; 32]>>, Error> {
        let mut file = match fs::File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(self.io("opening", e)),
        };
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = file
                .metadata()
                .map_err(|e| self.io("reading", e))?
                .permissions()
                .mode();
            if mode & 0o077 != 0 {
                return Err(Error::KeyProtector {
                    cause: Source::text(format!(
                        "{} is readable by others (mode {:o}); it must be 600",
                        self.path.display(),
                        mode & 0o777
                    )),
                });
            }
        }
        #[cfg(windows)]
        match websrm_acl::check(&self.path, websrm_acl::Kind::File) {
            Ok(None) => {}
            Ok(Some(exposed)) => {
                return Err(Error::KeyProtector {
                    cause: Source::text(exposed.to_string()),
                });
            }
            Err(e) => return Err(self.io("reading the access list of", e)),
        }
        let mut bytes = Zeroizing::new(Vec::new());
        file.read_to_end(&mut bytes)
            .map_err(|e| self.io("reading", e))?;
        let key: [u8; 32] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| Error::KeyProtector {
                cause: Source::text(format!(
                    "{} holds {} bytes, not a 32-byte key",
                    self.path.display(),
                    bytes.len()
                )),
            })?;
        Ok(Some(Zeroizing::new(key)))
    }

    /// Writes a new random key without ever exposing a partial file: written and synced under
    /// a temporary name, then linked into place (which fails if another process won the race).
    fn create(&self) -> Result<(), Error> {
        let mut key = Zeroizing::new([0u8; 32]);
        getrandom::fill(key.as_mut()).map_err(|e| Error::KeyProtector {
            cause: Source::new(e),
        })?;
        let mut tmp = self.path.as_os_str().to_owned();
        tmp.push(format!(".tmp{}", std::process::id()));
        let tmp = PathBuf::from(tmp);
        #[cfg(not(windows))]
        let created = {
            let mut options = fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                options.mode(0o600);
            }
            options.open(&tmp)
        };
        // Private from its first instant: this account, SYSTEM and Administrators only.
        #[cfg(windows)]
        let created = websrm_acl::create_new(&tmp);
        let mut file = created.map_err(|e| self.io("creating", e))?;
        let written = file.write_all(key.as_ref()).and_then(|()| file.sync_all());
        drop(file);
        let linked = written.and_then(|()| fs::hard_link(&tmp, &self.path));
        let _ = fs::remove_file(&tmp);
        match linked {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return Ok(()),
            Err(e) => return Err(self.io("creating", e)),
        }
        // Windows cannot flush a folder (it opens one for reading only, and FlushFileBuffers
        // needs write access): NTFS journals the new name itself, and SQLite does no more.
        #[cfg(not(windows))]
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            fs::File::open(dir)
                .and_then(|d| d.sync_all())
                .map_err(|e| self.io("syncing the folder of", e))?;
        }
        Ok(())
    }
}

impl KeyProtector for FileKeyProtector {
    fn key_encryption_key(&self) -> Result<Zeroizing<[u8; 32]>, Error> {
        if let Some(key) = self.read()? {
            return Ok(key);
        }
        self.create()?;
        self.read()?.ok_or_else(|| Error::KeyProtector {
            cause: Source::text("the key file vanished after creation"),
        })
    }
}
