//! A throw-away PostgreSQL server for the tests and benchmarks of the registry on PostgreSQL:
//! Debian's `postgresql` package (installed when missing, as CI runs as root on Debian),
//! `initdb` in a temporary folder, listening on loopback only, stopped and removed on drop.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

/// The variable that names the server to the tests (`postgres://user@host:port`).
pub(crate) const ENV: &str = "WEBSRM_TEST_POSTGRES";

/// The variable that names the root (PEM) of the server's TLS certificate, made for the run:
/// the server speaks TLS too, for `localhost`, and the role `websrm_tls` may connect only
/// over TLS.
pub(crate) const TLS_ROOT_ENV: &str = "WEBSRM_TEST_POSTGRES_TLS_ROOT";

/// The variable that names the folder of the server's programs (`pg_dump`, `pg_restore`), for
/// the test of a registry's backup on PostgreSQL.
pub(crate) const BIN_ENV: &str = "WEBSRM_TEST_POSTGRES_BIN";

/// A running server; stopped, and its folder removed, on drop.
pub(crate) struct Server {
    /// The folder of the server's programs.
    pub(crate) bin: PathBuf,
    dir: PathBuf,
    user: Option<&'static str>,
    /// `postgres://websrm@127.0.0.1:PORT`, without a database.
    pub(crate) url: String,
    /// The root of the server's TLS certificate (PEM).
    pub(crate) tls_root: PathBuf,
}

impl Server {
    /// Starts a server, installing PostgreSQL first if needed.
    pub(crate) fn start() -> Result<Self> {
        let bin = match binaries() {
            Some(bin) => bin,
            None => {
                install()?;
                binaries().context("PostgreSQL was installed but initdb is not found")?
            }
        };
        // PostgreSQL refuses to run as root: as root, the server runs as Debian's `postgres`
        // user, in a folder it owns under the system's temporary folder (which every user can
        // reach, unlike a checkout under /root).
        let root = crate::is_root();
        let user = root.then_some("postgres");
        let dir = std::env::temp_dir().join(format!("websrm-postgres-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        let tls = dir.join("tls");
        make_tls(&tls)?;
        if let Some(user) = user {
            run(Command::new("chown").arg("-R").arg(user).arg(&dir))?;
        }
        let port = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
            listener.local_addr()?.port()
        };
        let server = Self {
            bin,
            dir,
            user,
            url: format!("postgres://websrm@127.0.0.1:{port}"),
            tls_root: tls.join("root.pem"),
        };
        let data = server.dir.join("data");
        server.as_user(
            "initdb",
            &[
                "-D",
                path(&data)?,
                "-U",
                "websrm",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-locale",
                "--data-checksums",
            ],
        )?;
        // TLS too, with the certificate made for the run; the role `websrm_tls` over TLS only.
        let conf = data.join("postgresql.conf");
        let mut settings = std::fs::read_to_string(&conf)?;
        settings.push_str(&format!(
            "\nssl = on\nssl_cert_file = '{}'\nssl_key_file = '{}'\n",
            path(&tls.join("server.pem"))?,
            path(&tls.join("server.key"))?
        ));
        std::fs::write(&conf, settings)?;
        let hba = data.join("pg_hba.conf");
        let rules = std::fs::read_to_string(&hba)?;
        std::fs::write(
            &hba,
            format!(
                "hostssl all websrm_tls 127.0.0.1/32 trust\nhost all websrm_tls 127.0.0.1/32 reject\n{rules}"
            ),
        )?;
        let options = format!(
            "-h 127.0.0.1 -p {port} -k {} -c fsync=on -c max_connections=200",
            path(&server.dir)?
        );
        let log = server.dir.join("server.log");
        server.as_user(
            "pg_ctl",
            &[
                "-D",
                path(&data)?,
                "-l",
                path(&log)?,
                "-o",
                &options,
                "-w",
                "-t",
                "60",
                "start",
            ],
        )?;
        server.as_user(
            "psql",
            &[
                "-h",
                "127.0.0.1",
                "-p",
                &port.to_string(),
                "-U",
                "websrm",
                "-d",
                "postgres",
                "-q",
                "-c",
                "CREATE ROLE websrm_tls LOGIN SUPERUSER",
            ],
        )?;
        println!(
            "xtask: PostgreSQL listening at {} (TLS too, root {})",
            server.url,
            server.tls_root.display()
        );
        Ok(server)
    }

    /// Runs one of the server's programs, as the server's user when that is not us.
    fn as_user(&self, program: &str, args: &[&str]) -> Result<()> {
        let program = self.bin.join(program);
        let mut command = match self.user {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--"]).arg(&program);
                c
            }
            None => Command::new(&program),
        };
        // Quiet unless it fails; the folder is the working directory (the user can read it).
        let output = command
            .args(args)
            .current_dir(&self.dir)
            .output()
            .with_context(|| format!("could not start {}", program.display()))?;
        if !output.status.success() {
            bail!(
                "{} failed ({}):\n{}{}",
                program.display(),
                output.status,
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            );
        }
        Ok(())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let data = self.dir.join("data");
        if let Some(data) = data.to_str() {
            let _ = self.as_user("pg_ctl", &["-D", data, "-m", "immediate", "-w", "stop"]);
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A root and a server certificate for `localhost` (P-256), made with OpenSSL's command line
/// for this run only; the server's key readable by its owner only.
fn make_tls(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir)?;
    let openssl = |args: &[&str]| -> Result<()> {
        let output = Command::new("openssl")
            .args(args)
            .current_dir(dir)
            .output()
            .context("running openssl")?;
        if !output.status.success() {
            bail!(
                "openssl {args:?} failed:\n{}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        Ok(())
    };
    let key = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    openssl(
        &[
            &["req", "-x509"][..],
            &key,
            &[
                "-keyout",
                "root.key",
                "-out",
                "root.pem",
                "-subj",
                "/CN=websrm test PostgreSQL root",
                "-days",
                "2",
            ],
        ]
        .concat(),
    )?;
    openssl(
        &[
            &["req"][..],
            &key,
            &[
                "-keyout",
                "server.key",
                "-out",
                "server.csr",
                "-subj",
                "/CN=localhost",
            ],
        ]
        .concat(),
    )?;
    std::fs::write(dir.join("server.ext"), "subjectAltName = DNS:localhost\n")?;
    openssl(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "root.pem",
        "-CAkey",
        "root.key",
        "-CAcreateserial",
        "-out",
        "server.pem",
        "-days",
        "2",
        "-extfile",
        "server.ext",
    ])?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(
            dir.join("server.key"),
            std::fs::Permissions::from_mode(0o600),
        )?;
    }
    Ok(())
}

fn path(p: &Path) -> Result<&str> {
    p.to_str()
        .with_context(|| format!("{} is not UTF-8", p.display()))
}

fn run(command: &mut Command) -> Result<()> {
    let status = command.status()?;
    if !status.success() {
        bail!("{command:?} failed ({status})");
    }
    Ok(())
}

/// The folder of `initdb` and `pg_ctl`: Debian's newest `/usr/lib/postgresql/N/bin`, or the
/// one of `pg_config --bindir`.
fn binaries() -> Option<PathBuf> {
    let mut debian: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    debian.sort();
    if let Some((_, bin)) = debian.pop() {
        return Some(bin);
    }
    let output = Command::new("pg_config").arg("--bindir").output().ok()?;
    let bin = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
    bin.join("initdb").exists().then_some(bin)
}

fn install() -> Result<()> {
    crate::apt_install(&["postgresql"], "the PostgreSQL tests")
}
