//! Backing up an authority while it serves, and restoring it into a new folder.
//!
//! A backup is one tar file: `manifest.json`, the registry as it was at one instant
//! (`authority.db`, taken with SQLite's online backup API), and, when asked, the folder's keys
//! and certificates (sealed as they are in the folder) and the key-encryption key that opens
//! them. Without the key the sealed files are useless to whoever finds the backup; with it,
//! the backup is the authority, and must be kept as such.

use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::files::{names, write};
use crate::{Administration, Error};

/// The folder's files a backup may hold besides the registry (the audit checkpoint is not one of
/// them: a restored registry is anchored anew at its first write).
pub const FOLDER_FILES: [&str; 7] = [
    names::CA,
    names::CA_KEY,
    names::PSI,
    names::PSI_KEY,
    names::TLS_ROOT,
    names::TLS_SERVER,
    names::TLS_KEY,
];

/// A folder file taken when there (a folder made before the TLS root's key was kept has none).
pub const OPTIONAL_FOLDER_FILE: &str = names::TLS_ROOT_KEY;

/// The key-encryption key's file, beside the registry.
pub const KEY_FILE: &str = "authority.db.kek";

const MANIFEST: &str = "manifest.json";

/// What a backup holds besides the registry.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct BackupContents {
    /// The folder's keys (sealed) and certificates.
    pub folder: bool,
    /// The key-encryption key, which opens the sealed keys and keys the audit chain.
    pub key_encryption_key: bool,
}

impl BackupContents {
    /// The registry, with the folder's files if `folder`, and the key if `key_encryption_key`.
    pub fn new(folder: bool, key_encryption_key: bool) -> Self {
        Self {
            folder,
            key_encryption_key,
        }
    }
}

/// What a backup says of itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Manifest {
    /// The websrm version that wrote it.
    pub websrm: String,
    /// When (RFC 3339).
    pub created_at: String,
    /// `conformity` (DEV and ESSAI) or `production`.
    pub family: String,
    /// The registry's schema version.
    pub schema_version: u32,
    /// The audit entries in the registry's snapshot.
    pub audit_entries: u64,
    /// The files, in the archive's order.
    pub files: Vec<String>,
}

/// A restored folder: what it holds, and what its owner must still put in it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Restored {
    /// The backup's manifest.
    pub manifest: Manifest,
    /// The folder's files (and the key) the backup did not hold: to copy from the original
    /// folder, or from where the key is kept, before the authority can start.
    pub missing: Vec<&'static str>,
}

/// Backups are the administration's: written from the registry the part holds.
impl Administration<'_> {
    /// Writes a backup of this authority to the new file `to`, consistent while it serves; the
    /// folder's files are read from `folder`. Written beside `to` and renamed into place, so
    /// that `to` is whole or absent.
    pub fn backup(
        &self,
        folder: &Path,
        to: &Path,
        contents: BackupContents,
    ) -> Result<Manifest, Error> {
        if to.exists() {
            return Err(Error::Invalid(format!(
                "{} already exists: a backup never overwrites a file",
                to.display()
            )));
        }
        let parent = to
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or_else(|| Path::new("."));
        let name = to
            .file_name()
            .ok_or_else(|| Error::Invalid(format!("{} names no file", to.display())))?
            .to_string_lossy()
            .into_owned();
        // A staging folder of this backup's own (two backups to one file do not share one).
        let staging = parent.join(format!(
            ".{name}.{}.{}.partial",
            std::process::id(),
            nonce()
        ));
        websrm_store::private_dir(&staging)?;
        let result = self
            .backup_in(folder, &staging, contents)
            .and_then(|manifest| {
                let archive = staging.join("archive.tar");
                // A link, not a rename: it fails if `to` appeared meanwhile, never replacing it.
                fs::hard_link(&archive, to).map_err(|e| Error::io("writing", to, e))?;
                #[cfg(not(windows))]
                fs::File::open(parent)
                    .and_then(|d| d.sync_all())
                    .map_err(|e| Error::io("flushing", parent, e))?;
                Ok(manifest)
            });
        let _ = fs::remove_dir_all(&staging);
        result
    }

    fn backup_in(
        &self,
        folder: &Path,
        staging: &Path,
        contents: BackupContents,
    ) -> Result<Manifest, Error> {
        let snapshot = staging.join(names::REGISTRY);
        let audit_entries = self.core.registry.snapshot_to(&snapshot)?;
        let mut files: Vec<(String, PathBuf)> = vec![(names::REGISTRY.to_owned(), snapshot)];
        if contents.folder {
            for name in FOLDER_FILES {
                files.push((name.to_owned(), folder.join(name)));
            }
            if folder.join(OPTIONAL_FOLDER_FILE).exists() {
                files.push((
                    OPTIONAL_FOLDER_FILE.to_owned(),
                    folder.join(OPTIONAL_FOLDER_FILE),
                ));
            }
            // The roots and certifPSIs rotations added, up to the generations the pointers name
            // now: each pointer copied first, so that a rotation meanwhile cannot put in the
            // backup a pointer to a file it does not hold.
            for (pointer, each) in [
                (
                    names::CA_GENERATION,
                    names::ca as fn(u32) -> (String, String),
                ),
                (names::PSI_GENERATION, names::psi),
            ] {
                let Ok(text) = fs::read_to_string(folder.join(pointer)) else {
                    continue;
                };
                let staged = staging.join(pointer);
                fs::write(&staged, &text).map_err(|e| Error::io("writing", &staged, e))?;
                files.push((pointer.to_owned(), staged));
                let last: u32 = text.trim().parse().map_err(|_| {
                    Error::Invalid(format!("{pointer} holds {text:?}, not a generation number"))
                })?;
                for generation in 2..=last {
                    let (cert, key) = each(generation);
                    for name in [cert, key] {
                        let path = folder.join(&name);
                        files.push((name, path));
                    }
                }
            }
        }
        if contents.key_encryption_key {
            files.push((KEY_FILE.to_owned(), folder.join(KEY_FILE)));
        }
        let manifest = Manifest {
            websrm: env!("CARGO_PKG_VERSION").to_owned(),
            created_at: self
                .core
                .now()
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default(),
            family: family(self.core.environment.is_conformity()).to_owned(),
            schema_version: self.core.registry.schema_version()?,
            audit_entries,
            files: files.iter().map(|(n, _)| n.clone()).collect(),
        };
        let archive = staging.join("archive.tar");
        let file = private_file(&archive)?;
        let mut tar = tar::Builder::new(file);
        let json = serde_json::to_vec_pretty(&manifest).map_err(|e| Error::Failed {
            what: "the manifest".into(),
            cause: websrm_domain::Source::new(e),
        })?;
        append(&mut tar, MANIFEST, &json, &archive)?;
        for (name, path) in &files {
            let bytes = fs::read(path).map_err(|e| Error::io("reading", path, e))?;
            append(&mut tar, name, &bytes, &archive)?;
        }
        let file = tar
            .into_inner()
            .map_err(|e| Error::io("writing", &archive, e))?;
        file.sync_all()
            .map_err(|e| Error::io("flushing", &archive, e))?;
        Ok(manifest)
    }
}

/// Restores the backup `from` into `into`, a folder that does not exist yet or is empty. Only
/// the names a backup holds are taken, as plain files; the registry is checked (a websrm
/// registry, whole, of a schema this websrm knows, the one the manifest names) before anything
/// is written, and each file is written whole. A restore that fails leaves `into` empty.
pub fn restore(from: &Path, into: &Path) -> Result<Restored, Error> {
    if into.exists() {
        let empty = fs::read_dir(into)
            .map_err(|e| Error::io("reading", into, e))?
            .next()
            .is_none();
        if !empty {
            return Err(Error::Invalid(format!(
                "{} is not empty: restore into a new folder",
                into.display()
            )));
        }
    }
    let not_backup =
        |why: String| Error::Invalid(format!("{} is not a websrm backup: {why}", from.display()));
    let file = fs::File::open(from).map_err(|e| Error::io("opening", from, e))?;
    let mut archive = tar::Archive::new(file);
    let mut manifest: Option<Manifest> = None;
    let mut entries: Vec<(String, Vec<u8>)> = Vec::new();
    let allowed = |name: &str| {
        name == MANIFEST
            || name == names::REGISTRY
            || name == KEY_FILE
            || name == OPTIONAL_FOLDER_FILE
            || FOLDER_FILES.contains(&name)
            || names::is_rotated(name)
    };
    for entry in archive
        .entries()
        .map_err(|e| Error::io("reading", from, e))?
    {
        let mut entry = entry.map_err(|e| Error::io("reading", from, e))?;
        let name = entry
            .path()
            .map_err(|e| Error::io("reading", from, e))?
            .to_string_lossy()
            .into_owned();
        if !allowed(&name) || entries.iter().any(|(n, _)| *n == name) {
            return Err(not_backup(format!("it holds {name}")));
        }
        if !entry.header().entry_type().is_file() {
            return Err(not_backup(format!("{name} is not a plain file")));
        }
        let mut bytes = Vec::new();
        entry
            .read_to_end(&mut bytes)
            .map_err(|e| Error::io("reading", from, e))?;
        if name == MANIFEST {
            manifest = Some(
                serde_json::from_slice(&bytes)
                    .map_err(|e| not_backup(format!("its manifest: {e}")))?,
            );
        } else {
            entries.push((name, bytes));
        }
    }
    let manifest = manifest.ok_or_else(|| not_backup("no manifest".into()))?;
    let Some((_, registry)) = entries.iter().find(|(n, _)| n == names::REGISTRY) else {
        return Err(not_backup("no registry".into()));
    };
    check_registry(from, into, registry, manifest.schema_version)?;
    websrm_store::private_dir(into)?;
    let written = entries
        .iter()
        .try_for_each(|(name, bytes)| write(into, name, bytes));
    if let Err(e) = written {
        for (name, _) in &entries {
            let _ = fs::remove_file(into.join(name));
        }
        return Err(e);
    }
    let missing = FOLDER_FILES
        .into_iter()
        .chain([KEY_FILE])
        .filter(|name| !entries.iter().any(|(n, _)| n == name))
        .collect();
    Ok(Restored { manifest, missing })
}

/// The registry of a backup checked in a private folder of its own beside `into`, then removed.
fn check_registry(from: &Path, into: &Path, registry: &[u8], expected: u32) -> Result<(), Error> {
    let parent = into
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or_else(|| Path::new("."));
    let check = parent.join(format!(
        ".websrm-restore.{}.{}",
        std::process::id(),
        nonce()
    ));
    websrm_store::private_dir(&check)?;
    let result =
        write(&check, names::REGISTRY, registry).and_then(|()| {
            let version = websrm_registry::Registry::check_file(&check.join(names::REGISTRY))
                .map_err(|e| Error::Failed {
                    what: format!("{}: its registry", from.display()),
                    cause: websrm_domain::Source::new(e),
                })?;
            if version == expected {
                Ok(())
            } else {
                Err(Error::Invalid(format!(
                    "{}: its registry is schema version {version}, its manifest says {expected}",
                    from.display()
                )))
            }
        });
    let _ = fs::remove_dir_all(&check);
    result
}

/// A random number for a temporary name.
fn nonce() -> u64 {
    let mut bytes = [0u8; 8];
    let _ = getrandom::fill(&mut bytes);
    u64::from_le_bytes(bytes)
}

fn family(conformity: bool) -> &'static str {
    if conformity {
        "conformity"
    } else {
        "production"
    }
}

fn append(
    tar: &mut tar::Builder<fs::File>,
    name: &str,
    bytes: &[u8],
    archive: &Path,
) -> Result<(), Error> {
    let mut header = tar::Header::new_gnu();
    header.set_size(bytes.len() as u64);
    header.set_mode(0o600);
    header.set_mtime(u64::try_from(OffsetDateTime::now_utc().unix_timestamp()).unwrap_or_default());
    header.set_cksum();
    tar.append_data(&mut header, name, bytes)
        .map_err(|e| Error::io("writing", archive, e))
}

/// A new file readable by its owner only (inside a private folder, which gives it its access
/// list on Windows).
fn private_file(path: &Path) -> Result<fs::File, Error> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .map_err(|e| Error::io("creating", path, e))?;
    file.flush().map_err(|e| Error::io("writing", path, e))?;
    Ok(file)
}
