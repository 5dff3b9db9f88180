//! Owner-only files on Windows: the counterpart of the modes 0600 and 0700 that websrm gives its
//! stores, key files and token on Unix.
//!
//! On Windows a file's privacy is its access list (DACL). websrm gives each file and folder it
//! creates a *protected* list (nothing inherited from the folder above) granting full control to
//! three accounts only:
//!
//! - the account the process runs as (the owner of what it creates);
//! - `SYSTEM` (`S-1-5-18`), which every service and backup runs as and which can read any file
//!   anyway;
//! - `BUILTIN\Administrators` (`S-1-5-32-544`): an administrator can take ownership of any file
//!   and so read it regardless, and granting the group lets the installer, a backup or an
//!   elevated `websrm srs …` reach the store of an agent running as `SYSTEM` without first
//!   taking ownership (which would change who owns it). A process that is not elevated does not
//!   hold the group (UAC), so other sessions of the machine are still kept out.
//!
//! A folder's entries are inherited by what is created in it, so every file of a private folder is
//! private from its first instant.
//!
//! On opening, a file or folder whose list grants anyone else anything more than reading its
//! attributes and its list ([`HARMLESS`]) is refused, with the `icacls` command that fixes it
//! ([`Exposed`]). The rules ([`exposed_to`], [`fix_command`], [`Sid`]) are plain Rust and tested
//! on every system; the Windows calls (`create_new`, `create_dir`, `protect`, `check`) exist on
//! Windows only.
#![deny(missing_docs)]

use std::fmt;
use std::path::Path;

#[cfg(windows)]
mod windows;

#[cfg(windows)]
pub use windows::{check, create_dir, create_new, current_user, protect};

/// What a path is: a folder's entries are inherited by its contents, a file's are not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A regular file.
    File,
    /// A folder.
    Folder,
}

/// A Windows security identifier, in its binary form.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Sid(Vec<u8>);

impl Sid {
    /// `NT AUTHORITY\SYSTEM`.
    pub const SYSTEM: &'static str = "S-1-5-18";
    /// `BUILTIN\Administrators`.
    pub const ADMINISTRATORS: &'static str = "S-1-5-32-544";
    /// `CREATOR OWNER`: an inheritable entry that becomes the creator of each new file.
    pub const CREATOR_OWNER: &'static str = "S-1-3-0";
    /// `OWNER RIGHTS`: whoever owns the file.
    pub const OWNER_RIGHTS: &'static str = "S-1-3-4";

    /// A SID from its binary form (revision 1, then the count of sub-authorities, the 48-bit
    /// identifier authority, and each sub-authority in little-endian order); `None` if `bytes`
    /// is not exactly one SID.
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        let (&revision, rest) = bytes.split_first()?;
        let (&count, _) = rest.split_first()?;
        (revision == 1 && count <= 15 && bytes.len() == 8 + 4 * usize::from(count))
            .then(|| Self(bytes.to_vec()))
    }

    /// A SID from its text form, `S-1-5-32-544`; `None` if `text` is not one.
    pub fn parse(text: &str) -> Option<Self> {
        let mut parts = text.strip_prefix("S-1-")?.split('-');
        let authority: u64 = match parts.next()? {
            hex if hex.starts_with("0x") || hex.starts_with("0X") => {
                u64::from_str_radix(&hex[2..], 16).ok()?
            }
            decimal => decimal.parse().ok()?,
        };
        if authority >= 1 << 48 {
            return None;
        }
        let subs: Vec<u32> = parts.map(|p| p.parse().ok()).collect::<Option<_>>()?;
        let count = u8::try_from(subs.len()).ok().filter(|&c| c <= 15)?;
        let mut bytes = vec![1, count];
        bytes.extend_from_slice(&authority.to_be_bytes()[2..]);
        for sub in subs {
            bytes.extend_from_slice(&sub.to_le_bytes());
        }
        Some(Self(bytes))
    }

    /// The binary form.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Display for Sid {
    /// The text form, `S-1-5-32-544` (the authority in hexadecimal when it exceeds 32 bits, as
    /// Windows writes it).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut authority = [0u8; 8];
        authority[2..].copy_from_slice(&self.0[2..8]);
        let authority = u64::from_be_bytes(authority);
        if authority >> 32 == 0 {
            write!(f, "S-1-{authority}")?;
        } else {
            write!(f, "S-1-0x{authority:012X}")?;
        }
        for sub in self.0[8..].chunks_exact(4) {
            let sub = u32::from_le_bytes([sub[0], sub[1], sub[2], sub[3]]);
            write!(f, "-{sub}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Sid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Sid({self})")
    }
}

/// `ACCESS_ALLOWED_ACE_TYPE`.
pub const ACCESS_ALLOWED: u8 = 0;
/// `ACCESS_ALLOWED_OBJECT_ACE_TYPE`: grants, to a SID placed after object type identifiers.
pub const ACCESS_ALLOWED_OBJECT: u8 = 5;
/// `ACCESS_ALLOWED_CALLBACK_ACE_TYPE`: grants, laid out as [`ACCESS_ALLOWED`] (plus
/// application data after the SID).
pub const ACCESS_ALLOWED_CALLBACK: u8 = 9;
/// `ACCESS_ALLOWED_CALLBACK_OBJECT_ACE_TYPE`.
pub const ACCESS_ALLOWED_CALLBACK_OBJECT: u8 = 11;
/// `INHERIT_ONLY_ACE`: the entry applies to what is created in a folder, not to the folder.
pub const INHERIT_ONLY: u8 = 0x08;

/// The rights others may hold without seeing or changing anything: `SYNCHRONIZE`,
/// `READ_CONTROL` (reading the access list itself) and `FILE_READ_ATTRIBUTES` (size, dates).
pub const HARMLESS: u32 = 0x0010_0000 | 0x0002_0000 | 0x0000_0080;

/// One entry of an access list, as read from a file or folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The entry's type (`AceType`): [`ACCESS_ALLOWED`], a deny, an audit…
    pub kind: u8,
    /// Its flags (`AceFlags`), among which [`INHERIT_ONLY`].
    pub flags: u8,
    /// The rights it grants or denies.
    pub mask: u32,
    /// Whom it is about; `None` for an entry whose SID this crate does not read (the object
    /// types, which do not appear on files).
    pub sid: Option<Sid>,
}

/// Who, among the grantees of `entries`, may do more than [`HARMLESS`] to a `kind` of path
/// owned by `owner`, when `me` is the account that uses it: anyone but `me`, `owner`, `SYSTEM`,
/// `Administrators`, `CREATOR OWNER` and `OWNER RIGHTS`. Each SID once, in list order; `None`
/// stands for an entry whose grantee is not read (never trusted). Deny and audit entries take
/// nothing away from that answer and are skipped. A file's inherit-only entries apply to
/// nothing and are skipped; a folder's are not: its new files would inherit them.
pub fn exposed_to(
    entries: &[Entry],
    kind: Kind,
    owner: Option<&Sid>,
    me: &Sid,
) -> Vec<Option<Sid>> {
    let trusted: Vec<Sid> = [
        Sid::SYSTEM,
        Sid::ADMINISTRATORS,
        Sid::CREATOR_OWNER,
        Sid::OWNER_RIGHTS,
    ]
    .into_iter()
    .filter_map(Sid::parse)
    .chain([me.clone()])
    .chain(owner.cloned())
    .collect();
    let mut others: Vec<Option<Sid>> = Vec::new();
    for entry in entries {
        let grants = matches!(
            entry.kind,
            ACCESS_ALLOWED
                | ACCESS_ALLOWED_OBJECT
                | ACCESS_ALLOWED_CALLBACK
                | ACCESS_ALLOWED_CALLBACK_OBJECT
        );
        if !grants || entry.mask & !HARMLESS == 0 {
            continue;
        }
        if kind == Kind::File && entry.flags & INHERIT_ONLY != 0 {
            continue;
        }
        if entry.sid.as_ref().is_some_and(|sid| trusted.contains(sid)) {
            continue;
        }
        if !others.contains(&entry.sid) {
            others.push(entry.sid.clone());
        }
    }
    others
}

/// The `icacls` command that makes `path` private to `me`, `SYSTEM` and `Administrators`:
/// nothing inherited, full control to those three (inherited by a folder's contents), and the
/// grants of `others` removed. Every argument is quoted, so that it runs as is in `cmd` and in
/// PowerShell.
pub fn fix_command(path: &Path, kind: Kind, me: &Sid, others: &[Sid]) -> String {
    let rights = match kind {
        Kind::File => "F",
        Kind::Folder => "(OI)(CI)F",
    };
    let mut command = format!("icacls \"{}\" /inheritance:r /grant:r", path.display());
    let mut granted: Vec<String> = vec![me.to_string()];
    for sid in [Sid::SYSTEM, Sid::ADMINISTRATORS] {
        if !granted.iter().any(|g| g == sid) {
            granted.push(sid.to_owned());
        }
    }
    for sid in &granted {
        command.push_str(&format!(" \"*{sid}:{rights}\""));
    }
    let removed: Vec<String> = others
        .iter()
        .map(Sid::to_string)
        .filter(|s| !granted.contains(s))
        .collect();
    if !removed.is_empty() {
        command.push_str(" /remove:g");
        for sid in removed {
            command.push_str(&format!(" \"*{sid}\""));
        }
    }
    command
}

/// A file or folder whose access list lets other accounts read or change it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{path} may be read or written by {others} (its access list grants them access); run `{fix}`"
)]
pub struct Exposed {
    /// The file or folder.
    pub path: String,
    /// Who else has access, by name and SID (`BUILTIN\Users (S-1-5-32-545)`), comma-separated.
    pub others: String,
    /// The `icacls` command that makes it private ([`fix_command`]).
    pub fix: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sid(text: &str) -> Sid {
        Sid::parse(text).unwrap()
    }

    fn allow(text: &str, mask: u32, flags: u8) -> Entry {
        Entry {
            kind: ACCESS_ALLOWED,
            flags,
            mask,
            sid: Some(sid(text)),
        }
    }

    const ME: &str = "S-1-5-21-1004336348-1177238915-682003330-1001";
    const FULL: u32 = 0x001F_01FF;

    #[test]
    fn sids_round_trip_between_text_and_bytes() {
        for text in [
            "S-1-1-0",
            "S-1-5-18",
            "S-1-5-32-544",
            ME,
            "S-1-0x123456789ABC-1",
            "S-1-5-21-0-0-0-1000",
        ] {
            let parsed = sid(text);
            assert_eq!(parsed.to_string(), text);
            assert_eq!(Sid::from_bytes(parsed.as_bytes()), Some(parsed.clone()));
        }
        assert_eq!(
            sid("S-1-5-32-544").as_bytes(),
            [1, 2, 0, 0, 0, 0, 0, 5, 32, 0, 0, 0, 0x20, 2, 0, 0]
        );
        for bad in ["S-2-5-18", "S-1-5-x", "5-18", "S-1-281474976710656-1"] {
            assert_eq!(Sid::parse(bad), None, "{bad}");
        }
        assert_eq!(
            Sid::from_bytes(&[1, 2, 0, 0, 0, 0, 0, 5, 32, 0, 0, 0]),
            None
        );
        assert_eq!(Sid::from_bytes(&[]), None);
    }

    #[test]
    fn the_owner_system_and_administrators_are_trusted_and_anyone_else_is_named() {
        let me = sid(ME);
        let private = [
            allow(ME, FULL, 0),
            allow(Sid::SYSTEM, FULL, 0),
            allow(Sid::ADMINISTRATORS, FULL, 0),
        ];
        assert!(exposed_to(&private, Kind::File, Some(&me), &me).is_empty());
        // Everyone may read, Users may write; a deny entry changes nothing to the answer.
        let shared = [
            allow(ME, FULL, 0),
            Entry {
                kind: 1,
                flags: 0,
                mask: FULL,
                sid: Some(sid("S-1-1-0")),
            },
            allow("S-1-1-0", 0x0012_0089, 0),
            allow("S-1-5-32-545", 0x0000_0002, 0x10),
            allow("S-1-1-0", FULL, 0),
        ];
        assert_eq!(
            exposed_to(&shared, Kind::File, Some(&me), &me),
            [Some(sid("S-1-1-0")), Some(sid("S-1-5-32-545"))]
        );
        // Another owner is trusted too (the account an installer created the file as).
        let installer = sid("S-1-5-21-1-2-3-500");
        assert!(
            exposed_to(
                &[allow("S-1-5-21-1-2-3-500", FULL, 0)],
                Kind::File,
                Some(&installer),
                &me
            )
            .is_empty()
        );
    }

    #[test]
    fn reading_attributes_is_harmless_and_inherit_only_entries_count_on_folders_only() {
        let me = sid(ME);
        let attributes = [allow("S-1-5-11", HARMLESS, 0)];
        assert!(exposed_to(&attributes, Kind::Folder, None, &me).is_empty());
        let for_children = [allow("S-1-5-32-545", FULL, INHERIT_ONLY | 0x03)];
        assert!(exposed_to(&for_children, Kind::File, None, &me).is_empty());
        assert_eq!(
            exposed_to(&for_children, Kind::Folder, None, &me),
            [Some(sid("S-1-5-32-545"))]
        );
        let creator = [allow(Sid::CREATOR_OWNER, FULL, INHERIT_ONLY | 0x03)];
        assert!(exposed_to(&creator, Kind::Folder, None, &me).is_empty());
        let object = [Entry {
            kind: ACCESS_ALLOWED_OBJECT,
            flags: 0,
            mask: FULL,
            sid: None,
        }];
        assert_eq!(exposed_to(&object, Kind::File, None, &me), [None]);
    }

    #[test]
    fn the_fix_grants_the_three_accounts_removes_the_others_and_quotes_everything() {
        let me = sid(ME);
        let fix = fix_command(
            Path::new(r"C:\ProgramData\websrm\pos.db"),
            Kind::File,
            &me,
            &[sid("S-1-1-0"), sid("S-1-5-32-545")],
        );
        assert_eq!(
            fix,
            format!(
                r#"icacls "C:\ProgramData\websrm\pos.db" /inheritance:r /grant:r "*{ME}:F" "*S-1-5-18:F" "*S-1-5-32-544:F" /remove:g "*S-1-1-0" "*S-1-5-32-545""#
            )
        );
        // A service running as SYSTEM: SYSTEM once; a folder's grants are inherited.
        let fix = fix_command(
            Path::new(r"C:\ProgramData\websrm"),
            Kind::Folder,
            &sid(Sid::SYSTEM),
            &[],
        );
        assert_eq!(
            fix,
            r#"icacls "C:\ProgramData\websrm" /inheritance:r /grant:r "*S-1-5-18:(OI)(CI)F" "*S-1-5-32-544:(OI)(CI)F""#
        );
    }
}
