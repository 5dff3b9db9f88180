//! A throw-away PostgreSQL server for the tests and benchmarks of the registry on PostgreSQL:
//! Debian's `postgresql` package (installed when missing, as CI runs as root on Debian),
//! `initdb` in a temporary folder, listening on loopback only, stopped and removed on drop.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

/// The variable that names the server to the tests (`postgres://user@host:port`).
pub(crate) const ENV: &str = "WEBSRM_TEST_POSTGRES";

/// A running server; stopped, and its folder removed, on drop.
pub(crate) struct Server {
    bin: PathBuf,
    dir: PathBuf,
    user: Option<&'static str>,
    /// `postgres://websrm@127.0.0.1:PORT`, without a database.
    pub(crate) url: String,
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
        if let Some(user) = user {
            run(Command::new("chown").arg(user).arg(&dir))?;
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
        println!("xtask: PostgreSQL listening at {}", server.url);
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
