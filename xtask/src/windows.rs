//! The Windows build: most Quebec restaurant tills run Windows, so `websrm.exe` (the CLI and the
//! agent) is cross-built for `x86_64-pc-windows-gnu` with MinGW-w64, installing the Rust target
//! (rustup) and the linker (Debian's `gcc-mingw-w64-x86-64`) when missing, and clippy checks the
//! Unix-only code paths have their Windows counterparts.
//!
//! Then, when Wine is present or installable (Debian's `wine64`), the build runs: the access-list
//! tests of `websrm-acl`, `websrm.exe demo`, and the agent walkthrough of docs/AGENT.md
//! (`tests/agent_client.py`, Linux Python against the agent hosted by Wine on loopback), with a
//! local authority hosted by Wine too; then the agent must refuse a token file that Everyone may
//! read; then the agent runs as the Windows service `websrm-agent` (Wine has a Service Control
//! Manager), installed, walked through and uninstalled with `websrm.exe`. Everything runs in a Wine prefix of its own under `target/wine/`, each process with a
//! deadline, and the prefix's processes are all ended at the end, whatever happened.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// The Rust target of the Windows build.
const TARGET: &str = "x86_64-pc-windows-gnu";

/// The MinGW-w64 linker the target uses.
const LINKER: &str = "x86_64-w64-mingw32-gcc";

/// What the demo prints at its end when every step behaved (on Linux as on Windows).
const DEMO_END: [&str; 2] = [
    "Every step behaved as the protocol says",
    "The authority's audit log is intact.",
];

/// Installs what is missing, runs clippy for the Windows target, builds `websrm.exe`, and runs
/// it under Wine when Wine can be had.
pub(crate) fn check(root: &Path) -> Result<()> {
    ensure_target()?;
    if !crate::present(LINKER) {
        crate::apt_install(&["gcc-mingw-w64-x86-64"], "the Windows build")?;
    }
    for args in [
        &["-p", "websrm-cli"][..],
        // The access lists' crate with its tests, which run under Wine below.
        &["-p", "websrm-acl", "--all-targets"],
    ] {
        let mut clippy = vec!["clippy", "--target", TARGET, "--locked"];
        clippy.extend_from_slice(args);
        clippy.extend_from_slice(&["--", "-D", "warnings"]);
        crate::cargo(root, &clippy, &[])?;
    }
    crate::cargo(
        root,
        &["build", "--target", TARGET, "-p", "websrm-cli", "--locked"],
        &[],
    )?;
    let exe = root
        .join("target")
        .join(TARGET)
        .join("debug")
        .join("websrm.exe");
    let head = std::fs::read(&exe)
        .with_context(|| format!("reading {}", exe.display()))?
        .get(..2)
        .map(<[u8]>::to_vec);
    if head.as_deref() != Some(b"MZ") {
        bail!("{} is not a Windows executable", exe.display());
    }
    println!("xtask: built {}", exe.display());
    let Some(wine) = Wine::find_or_install(root)? else {
        println!("xtask: wine is not installable here; websrm.exe was built but not run");
        return Ok(());
    };
    let result = wine.prepare(root).and_then(|()| {
        acl_tests(root, &wine)?;
        demo(&wine, &exe)?;
        walkthrough(root, &wine, &exe)
    });
    // Every process of the prefix ends, whatever happened.
    wine.kill_all();
    result
}

fn ensure_target() -> Result<()> {
    let installed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .context("running rustup")?;
    if String::from_utf8_lossy(&installed.stdout)
        .lines()
        .any(|l| l.trim() == TARGET)
    {
        return Ok(());
    }
    println!("xtask: installing the Rust target {TARGET} (rustup) for the Windows build");
    let status = Command::new("rustup")
        .args(["target", "add", TARGET])
        .status()
        .context("running rustup")?;
    if !status.success() {
        bail!("rustup target add {TARGET} failed ({status})");
    }
    Ok(())
}

/// Wine's 64-bit loader and server, over a prefix of xtask's own.
struct Wine {
    loader: PathBuf,
    server: PathBuf,
    prefix: PathBuf,
}

/// Where Debian puts the loader and the server (`wine64` package); `wine` on the PATH otherwise.
const LOADERS: [&str; 3] = ["/usr/lib/wine/wine64", "wine64", "wine"];
const SERVERS: [&str; 3] = ["/usr/lib/wine/wineserver64", "wineserver64", "wineserver"];

fn first_present(candidates: &[&str]) -> Option<PathBuf> {
    candidates.iter().find_map(|c| {
        let path = Path::new(c);
        if path.is_absolute() {
            path.exists().then(|| path.to_path_buf())
        } else {
            crate::present(c).then(|| PathBuf::from(c))
        }
    })
}

impl Wine {
    /// Wine when present, else installed from Debian's `wine64`; `None` when it cannot be.
    fn find_or_install(root: &Path) -> Result<Option<Self>> {
        let found = || Some((first_present(&LOADERS)?, first_present(&SERVERS)?));
        let (loader, server) = match found() {
            Some(found) => found,
            None => {
                if let Err(e) = crate::apt_install(&["wine64"], "running websrm.exe under Wine") {
                    println!("xtask: {e:#}");
                    return Ok(None);
                }
                match found() {
                    Some(found) => found,
                    None => return Ok(None),
                }
            }
        };
        Ok(Some(Self {
            loader,
            server,
            prefix: root.join("target").join("wine").join("prefix"),
        }))
    }

    /// A command run by Wine in the prefix, quiet, without the .NET and HTML engines (which a
    /// new prefix would otherwise offer to download).
    fn command(&self, program: &Path) -> Command {
        let mut command = Command::new(&self.loader);
        command
            .arg(program)
            .env("WINEPREFIX", &self.prefix)
            .env("WINEDEBUG", "-all")
            .env("WINEDLLOVERRIDES", "mscoree,mshtml=")
            .stdin(Stdio::null());
        command
    }

    /// Creates the prefix if needed and gives it `bcryptprimitives.dll` when Wine has none:
    /// Rust's standard library draws its random numbers from that DLL's `ProcessPrng` (Windows
    /// 10 and later have it; Wine 8 does not). The stand-in, built with MinGW-w64, answers
    /// with Windows' `BCryptGenRandom`. It exists only in this prefix, for these tests.
    fn prepare(&self, root: &Path) -> Result<()> {
        let system32 = self.prefix.join("drive_c").join("windows").join("system32");
        if !system32.join("kernel32.dll").exists() {
            println!(
                "xtask: creating the Wine prefix {} (wineboot)",
                self.prefix.display()
            );
            std::fs::create_dir_all(&self.prefix)?;
            let mut boot = self.command(Path::new("wineboot"));
            boot.arg("--init");
            let out = run(boot, Duration::from_secs(300), self)?;
            if !system32.join("kernel32.dll").exists() {
                bail!(
                    "wineboot did not create the prefix ({}): {}",
                    out.status,
                    String::from_utf8_lossy(&out.stderr)
                );
            }
        }
        let dll = system32.join("bcryptprimitives.dll");
        if !dll.exists() {
            let dir = root.join("target").join("wine");
            let source = dir.join("bcryptprimitives.c");
            std::fs::write(&source, PROCESS_PRNG)?;
            let built = dir.join("bcryptprimitives.dll");
            let status = Command::new(LINKER)
                .args(["-shared", "-O2", "-o"])
                .arg(&built)
                .arg(&source)
                .arg("-lbcrypt")
                .status()
                .with_context(|| format!("running {LINKER}"))?;
            if !status.success() {
                bail!("{LINKER} could not build bcryptprimitives.dll ({status})");
            }
            std::fs::copy(&built, &dll).with_context(|| format!("copying {}", dll.display()))?;
            println!(
                "xtask: Wine has no bcryptprimitives.dll (ProcessPrng, which Rust's standard library needs); a stand-in over BCryptGenRandom is in {}",
                dll.display()
            );
        }
        Ok(())
    }

    /// Ends every process of the prefix.
    fn kill_all(&self) {
        let _ = Command::new(&self.server)
            .arg("-k")
            .env("WINEPREFIX", &self.prefix)
            .status();
    }
}

/// `ProcessPrng` over `BCryptGenRandom`, for a Wine that lacks `bcryptprimitives.dll`.
const PROCESS_PRNG: &str = r#"/* Built by cargo xtask windows for its Wine prefix only (see xtask/src/windows.rs). */
#include <windows.h>
#include <bcrypt.h>

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len)
{
    while (len > 0)
    {
        ULONG chunk = len > 0x40000000 ? 0x40000000 : (ULONG)len;
        if (BCryptGenRandom(NULL, data, chunk, BCRYPT_USE_SYSTEM_PREFERRED_RNG) != 0) return FALSE;
        data += chunk;
        len -= chunk;
    }
    return TRUE;
}
"#;

/// Runs `command` to its end, or kills it (and the prefix's processes) after `limit`.
fn run(mut command: Command, limit: Duration, wine: &Wine) -> Result<Output> {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting {command:?}"))?;
    let stdout = drain(child.stdout.take());
    let stderr = drain(child.stderr.take());
    let deadline = Instant::now() + limit;
    let status = loop {
        if let Some(status) = child.try_wait()? {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            wine.kill_all();
            bail!(
                "{command:?} did not finish within {} s; stopped",
                limit.as_secs()
            );
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    Ok(Output {
        status,
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    })
}

fn drain(pipe: Option<impl Read + Send + 'static>) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        if let Some(mut pipe) = pipe {
            let _ = pipe.read_to_end(&mut bytes);
        }
        bytes
    })
}

/// The tests of `websrm-acl` (the access lists set and read by Windows' own calls), built for
/// Windows and run by Wine.
fn acl_tests(root: &Path, wine: &Wine) -> Result<()> {
    println!("xtask: running the websrm-acl tests for {TARGET} under Wine");
    let built = Command::new(crate::cargo_path())
        .args([
            "test",
            "--target",
            TARGET,
            "-p",
            "websrm-acl",
            "--locked",
            "--no-run",
            "--message-format=json",
        ])
        .current_dir(root)
        .stderr(Stdio::inherit())
        .output()
        .context("building the websrm-acl tests")?;
    if !built.status.success() {
        bail!("building the websrm-acl tests for {TARGET} failed");
    }
    let executables: Vec<PathBuf> = String::from_utf8_lossy(&built.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter_map(|message| message["executable"].as_str().map(PathBuf::from))
        .collect();
    if executables.is_empty() {
        bail!("cargo built no websrm-acl test executable");
    }
    for exe in executables {
        let out = run(wine.command(&exe), Duration::from_secs(120), wine)?;
        let text = String::from_utf8_lossy(&out.stdout);
        let summary = text
            .lines()
            .find(|l| l.starts_with("test result:"))
            .unwrap_or("(no summary)");
        println!("xtask: wine {}: {summary}", exe.display());
        if !out.status.success() || !summary.starts_with("test result: ok") {
            bail!(
                "the websrm-acl tests failed under Wine:\n{text}\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
    Ok(())
}

/// `websrm.exe demo` under Wine: the whole lifecycle against an authority in the same process,
/// on loopback, ending as the Linux demo ends.
fn demo(wine: &Wine, exe: &Path) -> Result<()> {
    println!("xtask: running websrm.exe demo under Wine");
    let mut command = wine.command(exe);
    command.arg("demo");
    let out = run(command, Duration::from_secs(300), wine)?;
    let text = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() || !DEMO_END.iter().all(|end| text.contains(end)) {
        bail!(
            "websrm.exe demo failed under Wine ({}):\n{text}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let last = text
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("");
    println!("xtask: websrm.exe demo under Wine: {}", last.trim());
    Ok(())
}

/// A process hosted by Wine, killed when dropped.
struct Hosted {
    name: &'static str,
    child: Child,
    lines: mpsc::Receiver<String>,
    stderr: Option<std::thread::JoinHandle<Vec<u8>>>,
}

impl Hosted {
    fn start(name: &'static str, mut command: Command) -> Result<Self> {
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("starting {name} under Wine"))?;
        let (send, lines) = mpsc::channel();
        let stdout = child.stdout.take();
        std::thread::spawn(move || {
            if let Some(stdout) = stdout {
                for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                    if send.send(line).is_err() {
                        break;
                    }
                }
            }
        });
        let stderr = Some(drain(child.stderr.take()));
        Ok(Self {
            name,
            child,
            lines,
            stderr,
        })
    }

    /// The next line the process prints that starts with `prefix`, without it; an error (with
    /// what it printed on stderr) if it ends or says nothing of the kind within `limit`.
    fn line(&mut self, prefix: &str, limit: Duration) -> Result<String> {
        let deadline = Instant::now() + limit;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    if let Some(rest) = line.strip_prefix(prefix) {
                        return Ok(rest.trim().to_owned());
                    }
                }
                Err(_) => {
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    let stderr = self
                        .stderr
                        .take()
                        .and_then(|s| s.join().ok())
                        .unwrap_or_default();
                    bail!(
                        "{} under Wine did not print `{prefix}…` within {} s: {}",
                        self.name,
                        limit.as_secs(),
                        String::from_utf8_lossy(&stderr)
                    );
                }
            }
        }
    }
}

impl Drop for Hosted {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The agent walkthrough of docs/AGENT.md under Wine: a local authority and the agent, both
/// `websrm.exe`, and `tests/agent_client.py` on Linux calling the agent on loopback. Then the
/// agent must refuse its token once Everyone may read it (Wine shows a file's Unix mode as its
/// access list: mode 0644 grants Everyone reading).
fn walkthrough(root: &Path, wine: &Wine, exe: &Path) -> Result<()> {
    println!("xtask: running the agent walkthrough against websrm.exe under Wine");
    let dir = root.join("target").join("wine").join("walkthrough");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)?;
    let mut authority = wine.command(exe);
    authority
        .args([
            "authority",
            "--dir",
            "authority",
            "serve",
            "--env",
            "DEV",
            "--seed-test-data",
        ])
        .current_dir(&dir);
    let mut authority = Hosted::start("websrm.exe authority serve", authority)?;
    let enrolment = authority.line("listening on ", Duration::from_secs(120))?;
    let api = authority.line("api listening on ", Duration::from_secs(30))?;
    let agent = |wine: &Wine| {
        let mut agent = wine.command(exe);
        agent
            .args([
                "agent",
                "serve",
                "--store",
                "pos.db",
                "--listen",
                "127.0.0.1:0",
            ])
            .args(["--authority", &enrolment, "--api", &api])
            .args(["--trust", "authority/tls-root.pem"])
            .current_dir(&dir);
        agent
    };
    let mut served = Hosted::start("websrm.exe agent serve", agent(wine))?;
    let url = served.line("agent listening on ", Duration::from_secs(120))?;
    let token = dir.join("pos.db.agent-token");
    let script = root.join("tests").join("agent_client.py");
    let mut python = Command::new("python3");
    python.arg(&script).arg(&url).arg(&token);
    let out = run(python, Duration::from_secs(300), wine)?;
    let text = String::from_utf8_lossy(&out.stdout);
    let summary = text.lines().last().unwrap_or("").to_owned();
    if !out.status.success() || !summary.ends_with(" passed, 0 failed") {
        bail!(
            "the agent walkthrough failed against websrm.exe under Wine:\n{text}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    println!("xtask: agent walkthrough under Wine ({url}): {summary}");
    drop(served);

    // A token others may read is refused, with the command that fixes it.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&token, std::fs::Permissions::from_mode(0o644))?;
        let out = run(agent(wine), Duration::from_secs(120), wine)?;
        let stderr = String::from_utf8_lossy(&out.stderr);
        if out.status.success() || !stderr.contains("Everyone") || !stderr.contains("icacls") {
            bail!(
                "the agent under Wine did not refuse a token Everyone may read ({}):\n{stderr}",
                out.status
            );
        }
        println!(
            "xtask: the agent under Wine refuses a token Everyone may read: {}",
            stderr
                .lines()
                .find(|l| l.contains("icacls"))
                .unwrap_or("")
                .trim()
        );
    }
    service(root, wine, exe, &dir, (&enrolment, &api))?;
    drop(authority);
    Ok(())
}

/// The service mode under Wine's Service Control Manager: `agent install-service` registers and
/// starts it, the walkthrough runs against it, and `agent uninstall-service` stops it (its stop
/// ends the serve loop) and removes it. A service an interrupted run left in the prefix is
/// removed first, and again if anything fails.
fn service(
    root: &Path,
    wine: &Wine,
    exe: &Path,
    dir: &Path,
    (enrolment, api): (&str, &str),
) -> Result<()> {
    println!("xtask: installing websrm.exe as the Windows service websrm-agent under Wine");
    let uninstall = || {
        let mut command = wine.command(exe);
        command
            .args(["agent", "uninstall-service"])
            .current_dir(dir);
        run(command, Duration::from_secs(120), wine)
    };
    let _ = uninstall();
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let listen = format!("127.0.0.1:{port}");
    let result = (|| {
        let mut install = wine.command(exe);
        install
            .args(["agent", "install-service", "--store", "service/pos.db"])
            .args(["--listen", &listen, "--authority", enrolment, "--api", api])
            .args(["--trust", "authority/tls-root.pem"])
            .current_dir(dir);
        let out = run(install, Duration::from_secs(120), wine)?;
        let text = String::from_utf8_lossy(&out.stdout);
        if !out.status.success() || !text.contains("installed the service websrm-agent") {
            bail!(
                "agent install-service failed under Wine ({}):\n{text}\n{}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let address: std::net::SocketAddr = listen.parse()?;
        let deadline = Instant::now() + Duration::from_secs(120);
        while std::net::TcpStream::connect_timeout(&address, Duration::from_secs(1)).is_err() {
            if Instant::now() > deadline {
                bail!("the service websrm-agent did not listen on {listen} within 120 s");
            }
            std::thread::sleep(Duration::from_millis(250));
        }
        let mut python = Command::new("python3");
        python
            .arg(root.join("tests").join("agent_client.py"))
            .arg(format!("http://{listen}"))
            .arg(dir.join("service").join("pos.db.agent-token"));
        let out = run(python, Duration::from_secs(300), wine)?;
        let text = String::from_utf8_lossy(&out.stdout);
        let summary = text.lines().last().unwrap_or("").to_owned();
        if !out.status.success() || !summary.ends_with(" passed, 0 failed") {
            bail!(
                "the agent walkthrough failed against the service under Wine:\n{text}\n{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        println!("xtask: agent walkthrough against the service under Wine: {summary}");
        let out = uninstall()?;
        let text = String::from_utf8_lossy(&out.stdout);
        if !out.status.success() || !text.contains("removed the service websrm-agent") {
            bail!(
                "agent uninstall-service failed under Wine ({}):\n{text}\n{}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            );
        }
        if std::net::TcpStream::connect_timeout(&address, Duration::from_secs(1)).is_ok() {
            bail!("the service websrm-agent still listens on {listen} after uninstall-service");
        }
        println!(
            "xtask: agent uninstall-service under Wine: {}",
            text.lines().collect::<Vec<_>>().join("; ")
        );
        Ok(())
    })();
    if result.is_err() {
        let _ = uninstall();
    }
    result
}
