//! The Windows calls: the process's account, and a file's access list set and read.
//!
//! Every `unsafe` block of the workspace is in this module. Each calls one Win32 function with
//! pointers to buffers this module owns for the length of the call, and frees what Windows
//! allocated with `LocalFree` through [`Local`].

use std::ffi::c_void;
use std::fs::File;
use std::io;
use std::os::windows::ffi::OsStrExt;
use std::os::windows::io::{AsRawHandle, FromRawHandle, OwnedHandle};
use std::path::Path;
use std::ptr;

use windows_sys::Win32::Foundation::{
    CloseHandle, ERROR_INSUFFICIENT_BUFFER, ERROR_SUCCESS, GENERIC_READ, GENERIC_WRITE, HANDLE,
    HLOCAL, INVALID_HANDLE_VALUE, LocalFree,
};
use windows_sys::Win32::Security::Authorization::{
    EXPLICIT_ACCESS_W, GetNamedSecurityInfoW, NO_MULTIPLE_TRUSTEE, SE_FILE_OBJECT, SET_ACCESS,
    SetEntriesInAclW, TRUSTEE_IS_SID, TRUSTEE_IS_UNKNOWN, TRUSTEE_W,
};
use windows_sys::Win32::Security::{
    ACE_HEADER, ACL, DACL_SECURITY_INFORMATION, GetAce, GetLengthSid, GetTokenInformation,
    InitializeSecurityDescriptor, LookupAccountSidW, NO_INHERITANCE, OWNER_SECURITY_INFORMATION,
    PROTECTED_DACL_SECURITY_INFORMATION, PSECURITY_DESCRIPTOR, PSID, SE_DACL_PROTECTED,
    SECURITY_ATTRIBUTES, SECURITY_DESCRIPTOR, SID_NAME_USE, SUB_CONTAINERS_AND_OBJECTS_INHERIT,
    SetKernelObjectSecurity, SetSecurityDescriptorControl, SetSecurityDescriptorDacl, TOKEN_QUERY,
    TOKEN_USER, TokenUser,
};
use windows_sys::Win32::Storage::FileSystem::{
    CREATE_NEW, CreateDirectoryW, CreateFileW, FILE_ALL_ACCESS, FILE_ATTRIBUTE_NORMAL,
    FILE_FLAG_BACKUP_SEMANTICS, FILE_SHARE_DELETE, FILE_SHARE_READ, FILE_SHARE_WRITE,
    OPEN_EXISTING, READ_CONTROL, WRITE_DAC,
};
use windows_sys::Win32::System::Threading::{GetCurrentProcess, OpenProcessToken};

/// `SECURITY_DESCRIPTOR_REVISION`, the only revision there is.
const SECURITY_DESCRIPTOR_REVISION: u32 = 1;

use crate::{ACCESS_ALLOWED, ACCESS_ALLOWED_CALLBACK, Entry, Exposed, Kind, Sid};

/// Memory Windows allocated for us (an access list, a security descriptor), freed on drop.
struct Local(HLOCAL);

impl Drop for Local {
    fn drop(&mut self) {
        if !self.0.is_null() {
            // SAFETY: the pointer came from a Win32 call documented to allocate with
            // LocalAlloc, is freed once (here) and not used after this value is dropped.
            #[allow(unsafe_code)]
            unsafe {
                LocalFree(self.0);
            }
        }
    }
}

/// The account this process runs as: the user of its token (`TokenUser`).
pub fn current_user() -> io::Result<Sid> {
    let mut token: HANDLE = ptr::null_mut();
    // SAFETY: GetCurrentProcess returns a pseudo-handle that needs no closing; `token` is a
    // valid place for the handle OpenProcessToken writes.
    #[allow(unsafe_code)]
    let opened = unsafe { OpenProcessToken(GetCurrentProcess(), TOKEN_QUERY, &mut token) };
    if opened == 0 {
        return Err(io::Error::last_os_error());
    }
    let user = token_user(token);
    // SAFETY: `token` is the handle OpenProcessToken opened above, closed once.
    #[allow(unsafe_code)]
    unsafe {
        CloseHandle(token);
    }
    user
}

fn token_user(token: HANDLE) -> io::Result<Sid> {
    let mut needed = 0u32;
    // SAFETY: a null buffer of length 0 asks for the size, written to `needed`.
    #[allow(unsafe_code)]
    let sized = unsafe { GetTokenInformation(token, TokenUser, ptr::null_mut(), 0, &mut needed) };
    let error = io::Error::last_os_error();
    if sized != 0 || error.raw_os_error() != Some(ERROR_INSUFFICIENT_BUFFER as i32) {
        return Err(error);
    }
    // u64 words: the TOKEN_USER at the start of the buffer is pointer-aligned.
    let mut buffer = vec![0u64; (needed as usize).div_ceil(8)];
    // SAFETY: `buffer` is writable for `needed` bytes (rounded up to whole words).
    #[allow(unsafe_code)]
    let read = unsafe {
        GetTokenInformation(
            token,
            TokenUser,
            buffer.as_mut_ptr().cast::<c_void>(),
            needed,
            &mut needed,
        )
    };
    if read == 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: on success the buffer starts with a TOKEN_USER (aligned, see above) whose SID
    // points into the same buffer, which lives until the end of this function.
    #[allow(unsafe_code)]
    let sid = unsafe {
        let user = &*buffer.as_ptr().cast::<TOKEN_USER>();
        copy_sid(user.User.Sid)
    };
    sid.ok_or_else(|| io::Error::other("the process token's user is not a valid SID"))
}

/// Copies the SID at `sid` into an owned [`Sid`].
///
/// # Safety
///
/// `sid` must point to a valid SID (as Windows returns them), readable for its whole length.
#[allow(unsafe_code)]
unsafe fn copy_sid(sid: PSID) -> Option<Sid> {
    if sid.is_null() {
        return None;
    }
    // SAFETY: the caller guarantees a valid SID; GetLengthSid reads its header.
    let length = unsafe { GetLengthSid(sid) } as usize;
    // SAFETY: a valid SID is readable for the GetLengthSid bytes.
    let bytes = unsafe { std::slice::from_raw_parts(sid.cast::<u8>(), length) };
    Sid::from_bytes(bytes)
}

fn wide(path: &Path) -> Vec<u16> {
    path.as_os_str().encode_wide().chain([0]).collect()
}

/// A protected access list granting full control to this process's account, `SYSTEM` and
/// `Administrators`, inherited by a folder's contents, in an absolute security descriptor.
struct Private {
    /// The descriptor; its DACL points into `_list`.
    descriptor: SECURITY_DESCRIPTOR,
    _list: Local,
}

impl Private {
    fn new(kind: Kind) -> io::Result<Self> {
        let me = current_user()?;
        let mut grantees = vec![me];
        for text in [Sid::SYSTEM, Sid::ADMINISTRATORS] {
            let sid = Sid::parse(text).ok_or_else(|| io::Error::other("a well-known SID"))?;
            if !grantees.contains(&sid) {
                grantees.push(sid);
            }
        }
        let inheritance = match kind {
            Kind::File => NO_INHERITANCE,
            Kind::Folder => SUB_CONTAINERS_AND_OBJECTS_INHERIT,
        };
        let entries: Vec<_> = grantees
            .iter()
            .map(|sid| (sid, FILE_ALL_ACCESS, inheritance))
            .collect();
        Self::of(&entries)
    }

    /// A protected descriptor of `entries` (grantee, rights, inheritance flags).
    fn of(entries: &[(&Sid, u32, u32)]) -> io::Result<Self> {
        let explicit: Vec<EXPLICIT_ACCESS_W> = entries
            .iter()
            .map(|&(sid, rights, inheritance)| EXPLICIT_ACCESS_W {
                grfAccessPermissions: rights,
                grfAccessMode: SET_ACCESS,
                grfInheritance: inheritance,
                Trustee: TRUSTEE_W {
                    pMultipleTrustee: ptr::null_mut(),
                    MultipleTrusteeOperation: NO_MULTIPLE_TRUSTEE,
                    TrusteeForm: TRUSTEE_IS_SID,
                    TrusteeType: TRUSTEE_IS_UNKNOWN,
                    // With TRUSTEE_IS_SID the "name" is the SID; SetEntriesInAclW only reads it.
                    ptstrName: sid.as_bytes().as_ptr().cast_mut().cast::<u16>(),
                },
            })
            .collect();
        let count = u32::try_from(explicit.len()).map_err(io::Error::other)?;
        let mut list: *mut ACL = ptr::null_mut();
        // SAFETY: `explicit` holds `count` entries whose SIDs borrow from `entries`, alive for
        // the call; no old list; `list` receives a LocalAlloc'd list, freed by `Local`.
        #[allow(unsafe_code)]
        let made = unsafe { SetEntriesInAclW(count, explicit.as_ptr(), ptr::null(), &mut list) };
        if made != ERROR_SUCCESS {
            return Err(io::Error::from_raw_os_error(made as i32));
        }
        let list = Local(list.cast());
        let mut descriptor = SECURITY_DESCRIPTOR {
            Revision: 0,
            Sbz1: 0,
            Control: 0,
            Owner: ptr::null_mut(),
            Group: ptr::null_mut(),
            Sacl: ptr::null_mut(),
            Dacl: ptr::null_mut(),
        };
        let at: PSECURITY_DESCRIPTOR = (&raw mut descriptor).cast();
        // SAFETY: `at` points to a SECURITY_DESCRIPTOR this function owns, which the three
        // calls initialize, point at `list` (alive as long as the returned value) and mark
        // protected (nothing inherited from the folder above).
        #[allow(unsafe_code)]
        let ready = unsafe {
            InitializeSecurityDescriptor(at, SECURITY_DESCRIPTOR_REVISION) != 0
                && SetSecurityDescriptorDacl(at, 1, list.0.cast(), 0) != 0
                && SetSecurityDescriptorControl(at, SE_DACL_PROTECTED, SE_DACL_PROTECTED) != 0
        };
        if !ready {
            return Err(io::Error::last_os_error());
        }
        Ok(Self {
            descriptor,
            _list: list,
        })
    }

    /// Security attributes pointing at this descriptor, for a creation.
    fn attributes(&mut self) -> SECURITY_ATTRIBUTES {
        SECURITY_ATTRIBUTES {
            nLength: u32::try_from(size_of::<SECURITY_ATTRIBUTES>()).unwrap_or(24),
            lpSecurityDescriptor: (&raw mut self.descriptor).cast(),
            bInheritHandle: 0,
        }
    }

    /// Sets this descriptor's list on `handle`, as protected.
    fn apply(&mut self, handle: HANDLE) -> io::Result<()> {
        // SAFETY: `handle` is open with WRITE_DAC; the descriptor is valid (see `of`).
        #[allow(unsafe_code)]
        let set = unsafe {
            SetKernelObjectSecurity(
                handle,
                DACL_SECURITY_INFORMATION | PROTECTED_DACL_SECURITY_INFORMATION,
                (&raw mut self.descriptor).cast(),
            )
        };
        if set == 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
}

/// Creates the file `path`, which must not exist (else an error of kind `AlreadyExists`),
/// open for writing, private from its first instant: its protected access list grants full
/// control to this process's account, `SYSTEM` and `Administrators` only, and nothing is
/// inherited from its folder. The counterpart of `create_new` with mode 0600.
pub fn create_new(path: &Path) -> io::Result<File> {
    let mut private = Private::new(Kind::File)?;
    let attributes = private.attributes();
    let name = wide(path);
    // SAFETY: `name` is NUL-terminated and `attributes` points to a valid descriptor, both alive
    // for the call; no template.
    #[allow(unsafe_code)]
    let handle = unsafe {
        CreateFileW(
            name.as_ptr(),
            GENERIC_READ | GENERIC_WRITE,
            FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE,
            &attributes,
            CREATE_NEW,
            FILE_ATTRIBUTE_NORMAL,
            ptr::null_mut(),
        )
    };
    if handle == INVALID_HANDLE_VALUE {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: CreateFileW succeeded: `handle` is an open file handle that nothing else owns.
    #[allow(unsafe_code)]
    let file = unsafe { OwnedHandle::from_raw_handle(handle) };
    Ok(File::from(file))
}

/// Creates the folder `path` (its parent must exist), private from its first instant, its
/// protected list inherited by everything created in it. The counterpart of `mkdir` with mode
/// 0700.
pub fn create_dir(path: &Path) -> io::Result<()> {
    let mut private = Private::new(Kind::Folder)?;
    let attributes = private.attributes();
    let name = wide(path);
    // SAFETY: `name` is NUL-terminated and `attributes` points to a valid descriptor, both alive
    // for the call.
    #[allow(unsafe_code)]
    let created = unsafe { CreateDirectoryW(name.as_ptr(), &attributes) };
    if created == 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Gives the existing `path` the private, protected list of [`create_new`] and [`create_dir`]
/// (for a folder being set up while still empty).
pub fn protect(path: &Path, kind: Kind) -> io::Result<()> {
    set_list(path, Private::new(kind)?)
}

fn set_list(path: &Path, mut private: Private) -> io::Result<()> {
    let name = wide(path);
    // SAFETY: `name` is NUL-terminated, alive for the call; no security attributes, no template.
    // Backup semantics let the call open a folder too.
    #[allow(unsafe_code)]
    let handle = unsafe {
        CreateFileW(
            name.as_ptr(),
            READ_CONTROL | WRITE_DAC,
            FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE,
            ptr::null(),
            OPEN_EXISTING,
            FILE_FLAG_BACKUP_SEMANTICS,
            ptr::null_mut(),
        )
    };
    if handle == INVALID_HANDLE_VALUE {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: CreateFileW succeeded: `handle` is open and owned here, closed on drop.
    #[allow(unsafe_code)]
    let handle = unsafe { OwnedHandle::from_raw_handle(handle) };
    private.apply(handle.as_raw_handle())
}

/// Reads the owner and the access list of `path`: `None` for the list when it has none (which
/// grants everyone everything).
fn read_list(path: &Path) -> io::Result<(Option<Sid>, Option<Vec<Entry>>)> {
    let name = wide(path);
    let mut owner: PSID = ptr::null_mut();
    let mut list: *mut ACL = ptr::null_mut();
    let mut descriptor: PSECURITY_DESCRIPTOR = ptr::null_mut();
    // SAFETY: `name` is NUL-terminated; the out-pointers are valid places; `descriptor`
    // receives a LocalAlloc'd block (freed by `Local`) into which `owner` and `list` point.
    #[allow(unsafe_code)]
    let read = unsafe {
        GetNamedSecurityInfoW(
            name.as_ptr(),
            SE_FILE_OBJECT,
            OWNER_SECURITY_INFORMATION | DACL_SECURITY_INFORMATION,
            &mut owner,
            ptr::null_mut(),
            &mut list,
            ptr::null_mut(),
            &mut descriptor,
        )
    };
    if read != ERROR_SUCCESS {
        return Err(io::Error::from_raw_os_error(read as i32));
    }
    let _descriptor = Local(descriptor);
    // SAFETY: `owner` is null or points into `descriptor`, alive here.
    #[allow(unsafe_code)]
    let owner = unsafe { copy_sid(owner) };
    if list.is_null() {
        return Ok((owner, None));
    }
    // SAFETY: a non-null `list` points to a valid ACL inside `descriptor`.
    #[allow(unsafe_code)]
    let count = unsafe { (*list).AceCount };
    let mut entries = Vec::with_capacity(usize::from(count));
    for index in 0..u32::from(count) {
        let mut ace: *mut c_void = ptr::null_mut();
        // SAFETY: `index` is below the list's count; `ace` receives a pointer into the list.
        #[allow(unsafe_code)]
        let got = unsafe { GetAce(list, index, &mut ace) };
        if got == 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: every entry starts with an ACE_HEADER (4 bytes, 2-aligned: ACLs are
        // DWORD-aligned and so are their entries).
        #[allow(unsafe_code)]
        let header = unsafe { *ace.cast::<ACE_HEADER>() };
        let (mask, sid) = match header.AceType {
            // ACCESS_ALLOWED_ACE and ACCESS_ALLOWED_CALLBACK_ACE: the header, the mask, then
            // the SID; denies and audits share that layout.
            ACCESS_ALLOWED | ACCESS_ALLOWED_CALLBACK | 1 | 2 | 10 | 13 => {
                // SAFETY: these entries hold a 4-byte mask after the header, then a valid SID,
                // within the entry's AceSize, inside `descriptor`.
                #[allow(unsafe_code)]
                unsafe {
                    let bytes = ace.cast::<u8>();
                    let mask = bytes.add(4).cast::<u32>().read_unaligned();
                    (mask, copy_sid(bytes.add(8).cast()))
                }
            }
            // Object entries put type identifiers before the SID; only the mask is read.
            _ if header.AceSize >= 8 => {
                // SAFETY: every ACE of at least 8 bytes has its mask after the header.
                #[allow(unsafe_code)]
                let mask = unsafe { ace.cast::<u8>().add(4).cast::<u32>().read_unaligned() };
                (mask, None)
            }
            _ => (0, None),
        };
        entries.push(Entry {
            kind: header.AceType,
            flags: header.AceFlags,
            mask,
            sid,
        });
    }
    Ok((owner, Some(entries)))
}

/// The account's name, `BUILTIN\Users`, when Windows knows it.
fn account_name(sid: &Sid) -> Option<String> {
    let mut name = [0u16; 256];
    let mut domain = [0u16; 256];
    let (mut name_len, mut domain_len) = (256u32, 256u32);
    let mut usage: SID_NAME_USE = 0;
    // SAFETY: the SID is valid and only read; the buffers are writable for the lengths given.
    #[allow(unsafe_code)]
    let found = unsafe {
        LookupAccountSidW(
            ptr::null(),
            sid.as_bytes().as_ptr().cast_mut().cast(),
            name.as_mut_ptr(),
            &mut name_len,
            domain.as_mut_ptr(),
            &mut domain_len,
            &mut usage,
        )
    };
    if found == 0 {
        return None;
    }
    let name = String::from_utf16_lossy(&name[..name_len as usize]);
    let domain = String::from_utf16_lossy(&domain[..domain_len as usize]);
    Some(if domain.is_empty() {
        name
    } else {
        format!("{domain}\\{name}")
    })
}

/// Checks that only this process's account, the owner of `path`, `SYSTEM` and `Administrators`
/// may read or change `path`: `Ok(None)` when so, `Ok(Some(..))` naming the others and the
/// `icacls` command that fixes it, an error when the list cannot be read.
pub fn check(path: &Path, kind: Kind) -> io::Result<Option<Exposed>> {
    let me = current_user()?;
    let (owner, entries) = read_list(path)?;
    let (names, sids) = match entries {
        None => (
            vec!["everyone (it has no access list)".to_owned()],
            Vec::new(),
        ),
        Some(entries) => {
            let others = crate::exposed_to(&entries, kind, owner.as_ref(), &me);
            if others.is_empty() {
                return Ok(None);
            }
            let names = others
                .iter()
                .map(|sid| match sid {
                    Some(sid) => match account_name(sid) {
                        Some(name) => format!("{name} ({sid})"),
                        None => sid.to_string(),
                    },
                    None => "an object-specific entry".to_owned(),
                })
                .collect();
            (names, others.into_iter().flatten().collect())
        }
    };
    Ok(Some(Exposed {
        path: path.display().to_string(),
        others: names.join(", "),
        fix: crate::fix_command(path, kind, &me, &sids),
    }))
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    /// A file created private passes; the same file with Everyone allowed to read is refused,
    /// naming Everyone and the fix, and passes again once protected; a folder created private
    /// passes, its entries inherited by the files created in it.
    #[test]
    fn a_private_file_passes_and_one_everyone_may_read_is_refused() {
        let root = tempfile::tempdir().unwrap();
        let me = current_user().unwrap();
        assert!(me.to_string().starts_with("S-1-5-"), "{me}");

        let file = root.path().join("pos.db");
        let mut created = create_new(&file).unwrap();
        created.write_all(b"secret").unwrap();
        created.sync_all().unwrap();
        drop(created);
        assert_eq!(std::fs::read(&file).unwrap(), b"secret");
        assert_eq!(check(&file, Kind::File).unwrap(), None);
        let again = create_new(&file).unwrap_err();
        assert_eq!(again.kind(), io::ErrorKind::AlreadyExists, "{again}");

        let everyone = Sid::parse("S-1-1-0").unwrap();
        let shared = Private::of(&[
            (&me, FILE_ALL_ACCESS, NO_INHERITANCE),
            (&everyone, 0x0012_0089, 0),
        ])
        .unwrap();
        set_list(&file, shared).unwrap();
        let exposed = check(&file, Kind::File).unwrap().expect("refused");
        assert!(exposed.others.contains("(S-1-1-0)"), "{exposed}");
        assert!(exposed.fix.starts_with("icacls \""), "{exposed}");
        assert!(exposed.fix.contains("/remove:g \"*S-1-1-0\""), "{exposed}");
        protect(&file, Kind::File).unwrap();
        assert_eq!(check(&file, Kind::File).unwrap(), None);

        let folder = root.path().join("store");
        create_dir(&folder).unwrap();
        assert_eq!(check(&folder, Kind::Folder).unwrap(), None);
        // Its entries are inherited by what is created in it (Windows applies them; Wine,
        // which keeps no access lists, does not).
        let (_, entries) = read_list(&folder).unwrap();
        let entries = entries.unwrap();
        assert!(!entries.is_empty());
        for entry in entries {
            assert_eq!(entry.flags & 0x03, 0x03, "{entry:?}");
        }
    }
}
