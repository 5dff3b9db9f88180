//! The authority's folder: registry, keys sealed at rest, certificates, written atomically.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use time::OffsetDateTime;
use websrm_crypto::tls::LocalTlsIdentity;
use websrm_crypto::{
    CertificateAuthority, IssuedCertificate, KeyEncryptionKey, PrivateKey, PsiKey, SealedKey, pem,
};
use websrm_domain::Environment;
use websrm_registry::{Database, Registry};
use websrm_store::{FileKeyProtector, KeyProtector};

use crate::Error;

/// Everything the authority keeps in its folder, loaded.
#[derive(Debug)]
pub struct AuthorityFiles {
    /// The folder.
    pub dir: PathBuf,
    /// The registry: `authority.db` in the folder, or the database given at opening.
    pub registry: Registry,
    /// The CA of the environment's family that issues: its newest root.
    pub ca: CertificateAuthority,
    /// The roots it replaced (`rotate ca`), oldest first: the first is generation 1. Their
    /// certificates stay trusted until they expire or are revoked, and each still signs the
    /// CRL of the certificates it issued.
    pub earlier_cas: Vec<CertificateAuthority>,
    /// The `certifPSI` certificate (PEM) returned with every issued certificate.
    pub certif_psi_pem: String,
    /// The TLS identity of both listeners; its root is written to `tls-root.pem` for clients.
    pub tls: LocalTlsIdentity,
    /// The key signing the online services' pre-session cookies, derived from the folder's key
    /// encryption key: every process opening the folder (a copy of it) signs alike.
    pub portal_key: websrm_store::Zeroizing<[u8; 32]>,
}

/// What the registry records of the CA it belongs to.
const CA_BINDING: &str = "CA certificate SHA-256";

/// File names within the folder.
pub mod names {
    /// The registry.
    pub const REGISTRY: &str = "authority.db";
    /// The CA certificate, PEM.
    pub const CA: &str = "ca.pem";
    /// The CA key, sealed.
    pub const CA_KEY: &str = "ca-key.sealed";
    /// The `certifPSI` certificate, PEM.
    pub const PSI: &str = "psi.pem";
    /// The `certifPSI` RSA key, sealed.
    pub const PSI_KEY: &str = "psi-key.sealed";
    /// The TLS root clients trust, PEM.
    pub const TLS_ROOT: &str = "tls-root.pem";
    /// The TLS server certificate, PEM.
    pub const TLS_SERVER: &str = "tls-server.pem";
    /// The TLS server key, sealed.
    pub const TLS_KEY: &str = "tls-server-key.sealed";
    /// The TLS root's key, sealed: what renews the server certificate (folders made before it
    /// was kept get a new root at their first renewal).
    pub const TLS_ROOT_KEY: &str = "tls-root-key.sealed";
    /// The audit log's last entry this process committed: its position and keyed link.
    pub const AUDIT_CHECKPOINT: &str = "audit.checkpoint";
    /// The generation of the CA that issues (absent: 1, the root in [`CA`]); each later root
    /// is in `ca-N.pem` and `ca-N-key.sealed`.
    pub const CA_GENERATION: &str = "ca.generation";
    /// The generation of the `certifPSI` returned (absent: 1, in [`PSI`]); each later one is in
    /// `psi-N.pem` and `psi-N-key.sealed`.
    pub const PSI_GENERATION: &str = "psi.generation";

    /// The certificate and sealed key files of the CA's `generation`.
    pub fn ca(generation: u32) -> (String, String) {
        match generation {
            0 | 1 => (CA.to_owned(), CA_KEY.to_owned()),
            n => (format!("ca-{n}.pem"), format!("ca-{n}-key.sealed")),
        }
    }

    /// The certificate and sealed key files of the `certifPSI`'s `generation`.
    pub fn psi(generation: u32) -> (String, String) {
        match generation {
            0 | 1 => (PSI.to_owned(), PSI_KEY.to_owned()),
            n => (format!("psi-{n}.pem"), format!("psi-{n}-key.sealed")),
        }
    }

    /// Whether `name` is one of the files rotations add (a later root or `certifPSI`, or the
    /// pointer to the current one).
    pub fn is_rotated(name: &str) -> bool {
        if name == CA_GENERATION || name == PSI_GENERATION {
            return true;
        }
        ["ca-", "psi-"].iter().any(|prefix| {
            name.strip_prefix(prefix).is_some_and(|rest| {
                let n = rest
                    .strip_suffix(".pem")
                    .or_else(|| rest.strip_suffix("-key.sealed"));
                n.is_some_and(|n| n.parse::<u32>().is_ok_and(|n| n >= 2))
            })
        })
    }
}

impl AuthorityFiles {
    /// Opens the folder `dir`, creating it with new keys and certificates on first start.
    ///
    /// The CA serves DEV and ESSAI together (the conformity service) or PROD; a folder created
    /// for one family refuses to open for the other.
    pub fn open_or_create(
        dir: &Path,
        environment: Environment,
        now: OffsetDateTime,
    ) -> Result<Self, Error> {
        Self::open_or_create_with(dir, None, environment, now)
    }

    /// Opens the folder `dir` of an authority that has started before: one without its CA is
    /// refused rather than made.
    pub fn open_existing(
        dir: &Path,
        database: Option<&Database>,
        environment: Environment,
        now: OffsetDateTime,
    ) -> Result<Self, Error> {
        if !dir.join(names::CA).exists() {
            return Err(Error::Invalid(format!(
                "{} holds no authority (no {}): start it once first",
                dir.display(),
                names::CA
            )));
        }
        Self::open_or_create_with(dir, database, environment, now)
    }

    /// Like [`open_or_create`](Self::open_or_create), with the registry in `database` (a
    /// PostgreSQL database that several authority processes share, say) rather than in the
    /// folder. The keys and certificates stay in the folder: each process opens a copy of it.
    pub fn open_or_create_with(
        dir: &Path,
        database: Option<&Database>,
        environment: Environment,
        now: OffsetDateTime,
    ) -> Result<Self, Error> {
        // The folder holds the registry, sealed keys and the key-encryption key: its owner's only.
        websrm_store::private_dir(dir)?;
        let registry = match database {
            Some(database @ Database::Postgres(url)) => {
                Registry::open_database_with(database, crate::pg_tls::connector(url)?)?
            }
            Some(database) => Registry::open_database(database)?,
            None => Registry::open(dir.join(names::REGISTRY))?,
        };
        let kek_bytes =
            FileKeyProtector::beside(&dir.join(names::REGISTRY)).key_encryption_key()?;
        let portal_key = websrm_store::Zeroizing::new(websrm_crypto::hmac_sha256(
            kek_bytes.as_slice(),
            b"websrm portal pre-session v1",
        ));
        let kek = KeyEncryptionKey::from_bytes(*kek_bytes);
        let purpose = ca_key_purpose(environment);

        // The registry belongs to one CA: a process with another folder's keys (or an empty
        // folder) must not issue into it.
        let bound = registry.binding(CA_BINDING)?;
        if let Some(recorded) = &bound
            && !dir.join(names::CA).exists()
        {
            return Err(websrm_registry::Error::BoundElsewhere {
                name: CA_BINDING.into(),
                recorded: recorded.clone(),
                presented: format!("a new CA ({} has none)", dir.display()),
            }
            .into());
        }
        let ca_generation = generation(dir, names::CA_GENERATION)?;
        let mut cas = Vec::new();
        if dir.join(names::CA).exists() {
            for g in 1..=ca_generation {
                let (cert, key) = names::ca(g);
                let der = pem::decode("CERTIFICATE", &read(dir, &cert)?)?;
                let key = PrivateKey::open(
                    &SealedKey::from_bytes(read_bytes(dir, &key)?),
                    &kek,
                    &purpose,
                )
                .map_err(|_| Error::WrongFamily {
                    dir: dir.display().to_string(),
                    environment,
                })?;
                cas.push(CertificateAuthority::from_parts(environment, der, key)?);
            }
        } else if ca_generation > 1 {
            return Err(Error::Invalid(format!(
                "{} names CA generation {ca_generation}, but {} has no first CA ({})",
                names::CA_GENERATION,
                dir.display(),
                names::CA
            )));
        } else {
            let ca = CertificateAuthority::generate(environment, now)?;
            write(dir, names::CA_KEY, ca.seal_key(&kek, &purpose)?.as_bytes())?;
            write(
                dir,
                names::CA,
                pem::encode("CERTIFICATE", ca.certificate_der()).as_bytes(),
            )?;
            cas.push(ca);
        }
        let Some(ca) = cas.pop() else {
            unreachable!("at least the first CA")
        };
        let earlier_cas = cas;

        let fingerprint = fingerprint_of(&ca);
        // A registry bound to one of the roots this folder's newest replaced is this authority's:
        // a rotation cut before it bound the registry is finished here.
        let rotated = bound.as_ref().is_some_and(|recorded| {
            earlier_cas
                .iter()
                .any(|earlier| fingerprint_of(earlier) == *recorded)
        });
        if let Some(recorded) = &bound
            && *recorded != fingerprint
            && !rotated
        {
            return Err(websrm_registry::Error::BoundElsewhere {
                name: CA_BINDING.into(),
                recorded: recorded.clone(),
                presented: fingerprint,
            }
            .into());
        }
        // The registry is this authority's: its audit log is keyed from here on, its head
        // anchored in the folder, so that holding the database alone is not enough to rewrite
        // or cut it.
        registry.key_audit_chain(
            websrm_crypto::hmac_sha256(kek_bytes.as_slice(), b"websrm audit chain v2"),
            Some(dir.join(names::AUDIT_CHECKPOINT)),
            now,
        )?;
        // Authorization codes are only ever compared: the registry keeps keyed digests of them,
        // so that reading it reveals none (those an earlier version kept as text included).
        registry.key_authorization_codes(
            websrm_crypto::hmac_sha256(kek_bytes.as_slice(), b"websrm authorization codes v1"),
            now,
        )?;
        if rotated {
            let earlier: Vec<String> = earlier_cas.iter().map(fingerprint_of).collect();
            registry.rebind(
                CA_BINDING,
                &earlier,
                &fingerprint,
                websrm_registry::NewAudit::new(
                    now,
                    "authority",
                    "bind-ca",
                    &fingerprint,
                    format!("the rotation to generation {ca_generation} finished at start"),
                ),
            )?;
        } else if bound.as_deref() != Some(fingerprint.as_str()) {
            registry.bind(
                CA_BINDING,
                &fingerprint,
                websrm_registry::NewAudit::new(
                    now,
                    "authority",
                    "bind-ca",
                    &fingerprint,
                    format!("the registry belongs to this CA (generation {ca_generation})"),
                ),
            )?;
        }

        let psi_generation = generation(dir, names::PSI_GENERATION)?;
        let certif_psi_pem = if dir.join(names::PSI).exists() {
            read(dir, &names::psi(psi_generation).0)?
        } else {
            let psi = PsiKey::generate()?;
            let cert: IssuedCertificate = ca.issue_psi(&psi, now)?;
            write(dir, names::PSI_KEY, psi.seal(&kek, "psi")?.as_bytes())?;
            write(dir, names::PSI, cert.to_pem().as_bytes())?;
            cert.to_pem()
        };

        // The identity is whole only when its three files are there: a first start that stopped
        // between two of them (a crash, a full disk) makes a new identity at the next one.
        let tls_files = [names::TLS_ROOT, names::TLS_KEY, names::TLS_SERVER];
        let tls = if tls_files.iter().all(|name| dir.join(name).exists()) {
            tls_in(dir, &kek)?
        } else {
            new_tls(dir, &kek, &[], now)?
        };
        Ok(Self {
            dir: dir.to_path_buf(),
            registry,
            ca,
            earlier_cas,
            certif_psi_pem,
            tls,
            portal_key,
        })
    }
}

/// The SHA-256 of a root, in capital hex: what the registry records of the CA it belongs to.
fn fingerprint_of(ca: &CertificateAuthority) -> String {
    websrm_crypto::sha256(ca.certificate_der())
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect()
}

/// The generation a pointer file names (absent: 1).
fn generation(dir: &Path, pointer: &str) -> Result<u32, Error> {
    if !dir.join(pointer).exists() {
        return Ok(1);
    }
    let text = read(dir, pointer)?;
    text.trim()
        .parse::<u32>()
        .ok()
        .filter(|g| *g >= 1)
        .ok_or_else(|| {
            Error::Invalid(format!(
                "{} in {} holds {text:?}, not a generation number",
                pointer,
                dir.display()
            ))
        })
}

/// What a rotation made.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Rotated {
    /// The generation now current.
    pub generation: u32,
    /// Its certificate (PEM).
    pub certificate_pem: String,
}

/// Rotates the CA of the folder `dir` (whose registry is in `database`, or in the folder): a
/// new root issues every certificate from now on, while the roots it replaces stay trusted and
/// keep signing the CRLs of the certificates they issued, until these expire or are revoked.
/// The new root is written whole before the folder points to it, and the registry is bound to
/// it (audited) last; a rotation cut anywhere leaves a folder that opens, on the old root or
/// the new. Processes serving the folder take the new root when they start again.
pub fn rotate_ca(
    dir: &Path,
    database: Option<&Database>,
    environment: Environment,
    actor: &str,
    now: OffsetDateTime,
) -> Result<Rotated, Error> {
    let files = AuthorityFiles::open_existing(dir, database, environment, now)?;
    let next = u32::try_from(files.earlier_cas.len() + 2).unwrap_or(u32::MAX);
    let kek = folder_kek(dir)?;
    let ca = CertificateAuthority::generate_generation(environment, now, next)?;
    let (cert, key) = names::ca(next);
    let certificate_pem = pem::encode("CERTIFICATE", ca.certificate_der());
    write(
        dir,
        &key,
        ca.seal_key(&kek, &ca_key_purpose(environment))?.as_bytes(),
    )?;
    write(dir, &cert, certificate_pem.as_bytes())?;
    write(dir, names::CA_GENERATION, format!("{next}\n").as_bytes())?;
    let fingerprint = fingerprint_of(&ca);
    files.registry.rebind(
        CA_BINDING,
        &[fingerprint_of(&files.ca)],
        &fingerprint,
        websrm_registry::NewAudit::new(
            now,
            actor,
            "rotate-ca",
            &fingerprint,
            format!(
                "generation {next} issues from now on; generation {} and earlier stay trusted",
                next - 1
            ),
        ),
    )?;
    Ok(Rotated {
        generation: next,
        certificate_pem,
    })
}

/// Rotates the `certifPSI` of the folder `dir`: a new RSA key and certificate from the current
/// CA, returned with every certificate issued from now on (by processes started after it). The
/// new pair is written whole before the folder points to it; the rotation is audited.
pub fn rotate_psi(
    dir: &Path,
    database: Option<&Database>,
    environment: Environment,
    actor: &str,
    now: OffsetDateTime,
) -> Result<Rotated, Error> {
    let files = AuthorityFiles::open_existing(dir, database, environment, now)?;
    let next = generation(dir, names::PSI_GENERATION)?.saturating_add(1);
    let kek = folder_kek(dir)?;
    let psi = PsiKey::generate()?;
    let issued = files.ca.issue_psi(&psi, now)?;
    let (cert, key) = names::psi(next);
    let certificate_pem = issued.to_pem();
    write(dir, &key, psi.seal(&kek, "psi")?.as_bytes())?;
    write(dir, &cert, certificate_pem.as_bytes())?;
    write(dir, names::PSI_GENERATION, format!("{next}\n").as_bytes())?;
    files.registry.append_audit(websrm_registry::NewAudit::new(
        now,
        actor,
        "rotate-psi",
        issued.serial.to_string(),
        format!("certifPSI generation {next}"),
    ))?;
    Ok(Rotated {
        generation: next,
        certificate_pem,
    })
}

/// Replaces the folder's generated TLS certificate now, with a new key, from its TLS root (a
/// new root too if `new_root`, or if the folder cannot issue from its own): what `serve` then
/// presents after SIGHUP or a restart. Audited.
pub fn rotate_tls(
    dir: &Path,
    database: Option<&Database>,
    environment: Environment,
    public_names: &[String],
    new_root: bool,
    actor: &str,
    now: OffsetDateTime,
) -> Result<RenewedTls, Error> {
    let files = AuthorityFiles::open_existing(dir, database, environment, now)?;
    let renewed = renew(
        dir,
        public_names,
        now,
        if new_root {
            Force::Root
        } else {
            Force::Certificate
        },
    )?
    .unwrap_or_else(|| unreachable!("a forced renewal always renews"));
    files.registry.append_audit(websrm_registry::NewAudit::new(
        now,
        actor,
        "rotate-tls",
        "-",
        if renewed.new_root {
            "a new TLS root and server certificate"
        } else {
            "a new TLS server certificate and key"
        },
    ))?;
    Ok(renewed)
}

/// The folder's generated TLS identity as it is now (what `rotate tls` or a renewal wrote).
pub fn read_tls(dir: &Path) -> Result<LocalTlsIdentity, Error> {
    tls_in(dir, &folder_kek(dir)?)
}

/// The TLS identity of the folder's three files, its key opened with `kek`.
fn tls_in(dir: &Path, kek: &KeyEncryptionKey) -> Result<LocalTlsIdentity, Error> {
    Ok(LocalTlsIdentity {
        root_der: pem::decode("CERTIFICATE", &read(dir, names::TLS_ROOT)?)?,
        chain: vec![pem::decode("CERTIFICATE", &read(dir, names::TLS_SERVER)?)?],
        key: PrivateKey::open(
            &SealedKey::from_bytes(read_bytes(dir, names::TLS_KEY)?),
            kek,
            "tls",
        )?,
    })
}

/// What the CA's sealed key is bound to: its environment family, so that a folder made for one
/// family does not open for the other.
fn ca_key_purpose(environment: Environment) -> String {
    let family = if environment.is_conformity() {
        "conformity"
    } else {
        "production"
    };
    format!("ca {family}")
}

/// The key that opens the folder's sealed keys.
fn folder_kek(dir: &Path) -> Result<KeyEncryptionKey, Error> {
    Ok(KeyEncryptionKey::from_bytes(
        *FileKeyProtector::beside(&dir.join(names::REGISTRY)).key_encryption_key()?,
    ))
}

/// What a renewal must do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Force {
    /// Renew only what needs it.
    IfNeeded,
    /// A new server certificate and key, from the root when it can.
    Certificate,
    /// A new root too.
    Root,
}

/// The names every generated TLS certificate covers.
const LOCAL_NAMES: [&str; 3] = ["localhost", "127.0.0.1", "::1"];
/// How long a generated TLS root lasts, and a server certificate it issues.
const TLS_ROOT_DAYS: i64 = 3650;
const TLS_SERVER_DAYS: i64 = 397;
/// A generated server certificate is renewed when it has less than this left.
const TLS_RENEW_BEFORE_DAYS: i64 = 30;

/// A generated TLS certificate renewed by [`renew_tls`].
#[derive(Debug)]
#[non_exhaustive]
pub struct RenewedTls {
    /// The new identity.
    pub identity: LocalTlsIdentity,
    /// Whether the root is new too (the folder had no root key, or none at all): clients must
    /// then trust the new `tls-root.pem`.
    pub new_root: bool,
}

/// Makes sure the folder's generated TLS certificate covers `names` (besides `localhost`,
/// `127.0.0.1` and `::1`), matches its key and is valid for more than 30 days, issuing a new
/// one from the folder's TLS root when it is not (a new root if the folder has no root key);
/// the new identity, or `None` when the current one is good.
pub fn renew_tls(
    dir: &Path,
    names: &[String],
    now: OffsetDateTime,
) -> Result<Option<RenewedTls>, Error> {
    renew(dir, names, now, Force::IfNeeded)
}

fn renew(
    dir: &Path,
    names: &[String],
    now: OffsetDateTime,
    force: Force,
) -> Result<Option<RenewedTls>, Error> {
    let kek_bytes = FileKeyProtector::beside(&dir.join(names::REGISTRY)).key_encryption_key()?;
    let kek = KeyEncryptionKey::from_bytes(*kek_bytes);
    let wanted = tls_names(names);
    // An identity whose files are all there is read, and any failure to read it is reported
    // (a new root would make every client trust again); one with a file missing is made anew.
    let whole = [names::TLS_ROOT, names::TLS_SERVER, names::TLS_KEY]
        .iter()
        .all(|n| dir.join(n).exists());
    let current = if whole {
        Some(tls_in(dir, &kek)?)
    } else {
        None
    };
    let renew_by = now + time::Duration::days(TLS_RENEW_BEFORE_DAYS);
    if let Some(current) = &current {
        // A key and certificate that do not belong together (a renewal cut between its two
        // files), or a certificate its root did not sign, are renewed too.
        let whole = websrm_crypto::tls::ServerIdentity::new(current.chain.clone(), &current.key)
            .is_ok()
            && websrm_crypto::verify_issued_by(&current.chain[0], &current.root_der).is_ok();
        if force == Force::IfNeeded && whole && current.covers(&wanted, renew_by)? {
            return Ok(None);
        }
    }
    // The root issues the new certificate if its key is there and is the root's own, and the
    // root outlives a whole certificate; otherwise a new root.
    let mut root = None;
    if let Some(current) = &current
        && force != Force::Root
        && dir.join(names::TLS_ROOT_KEY).exists()
    {
        let key = PrivateKey::open(
            &SealedKey::from_bytes(read_bytes(dir, names::TLS_ROOT_KEY)?),
            &kek,
            "tls root",
        )?;
        let info = websrm_crypto::inspect_certificate(&current.root_der)?;
        let own = info.public_key.as_ref() == Some(&key.public_key());
        let lasting = info.validity.not_after()
            > now + time::Duration::days(TLS_SERVER_DAYS + TLS_RENEW_BEFORE_DAYS);
        if own && lasting {
            root = Some((current.root_der.clone(), key));
        }
    }
    let Some((root_der, root_key)) = root else {
        return Ok(Some(RenewedTls {
            identity: new_tls(dir, &kek, names, now)?,
            new_root: true,
        }));
    };
    let identity = LocalTlsIdentity::issue(&root_der, &root_key, &wanted, now, TLS_SERVER_DAYS)?;
    // The key first: a renewal cut after it leaves a pair that does not match, which the next
    // call renews again.
    write(
        dir,
        names::TLS_KEY,
        identity.key.seal(&kek, "tls")?.as_bytes(),
    )?;
    write(
        dir,
        names::TLS_SERVER,
        pem::encode("CERTIFICATE", &identity.chain[0]).as_bytes(),
    )?;
    Ok(Some(RenewedTls {
        identity,
        new_root: false,
    }))
}

fn tls_names(extra: &[String]) -> Vec<String> {
    let mut names: Vec<String> = LOCAL_NAMES.iter().map(|n| (*n).to_owned()).collect();
    for name in extra {
        if !names.iter().any(|n| n.eq_ignore_ascii_case(name)) {
            names.push(name.clone());
        }
    }
    names
}

/// A new TLS root (its key kept sealed) and a server certificate for the local names and
/// `extra`, written to the folder.
fn new_tls(
    dir: &Path,
    kek: &KeyEncryptionKey,
    extra: &[String],
    now: OffsetDateTime,
) -> Result<LocalTlsIdentity, Error> {
    let (root_der, root_key) = LocalTlsIdentity::new_root(now, TLS_ROOT_DAYS)?;
    let tls = LocalTlsIdentity::issue(
        &root_der,
        &root_key,
        &tls_names(extra),
        now,
        TLS_SERVER_DAYS,
    )?;
    write(
        dir,
        names::TLS_ROOT_KEY,
        root_key.seal(kek, "tls root")?.as_bytes(),
    )?;
    write(
        dir,
        names::TLS_ROOT,
        pem::encode("CERTIFICATE", &tls.root_der).as_bytes(),
    )?;
    write(dir, names::TLS_KEY, tls.key.seal(kek, "tls")?.as_bytes())?;
    write(
        dir,
        names::TLS_SERVER,
        pem::encode("CERTIFICATE", &tls.chain[0]).as_bytes(),
    )?;
    Ok(tls)
}

fn read(dir: &Path, name: &str) -> Result<String, Error> {
    let path = dir.join(name);
    fs::read_to_string(&path).map_err(|e| Error::io("reading", &path, e))
}

fn read_bytes(dir: &Path, name: &str) -> Result<Vec<u8>, Error> {
    let path = dir.join(name);
    fs::read(&path).map_err(|e| Error::io("reading", &path, e))
}

/// Writes a file whole or not at all: under a temporary name, synced, then renamed.
pub(crate) fn write(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), Error> {
    let path = dir.join(name);
    let tmp = dir.join(format!(".{name}.tmp"));
    let result = (|| {
        let mut options = fs::OpenOptions::new();
        options.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options.open(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(&tmp, &path)?;
        // Windows cannot flush a folder (it opens one for reading only, and FlushFileBuffers
        // needs write access): NTFS journals the new name itself, and SQLite does no more.
        #[cfg(not(windows))]
        fs::File::open(dir)?.sync_all()?;
        Ok(())
    })();
    result.map_err(|e| Error::io("writing", &path, e))
}

#[cfg(test)]
mod code_tests;
#[cfg(test)]
mod tests;
