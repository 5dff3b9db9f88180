//! The agent's API as other languages see it: clients generated from `docs/agent-openapi.json`
//! by the generators their users would pick, each running the walkthrough of `docs/AGENT.md`
//! against a real agent and a local authority.
//!
//! - The document is written fresh by `websrm agent openapi` and must equal the committed one.
//! - Redocly CLI lints it with `clients/redocly.yaml` (the recommended ruleset): an error fails.
//! - TypeScript: `npm ci` in `clients/typescript` (exact versions, `package-lock.json`),
//!   openapi-typescript writes the types, `tsc` (strict) type-checks `walkthrough.ts` against
//!   them and compiles it, node runs it with openapi-fetch.
//! - Python: openapi-python-client (`clients/python/requirements.txt`, in a virtual environment
//!   under `target/`) generates the package `websrm_agent_client`, which `walkthrough.py` uses.
//! - A local authority (`--seed-test-data`) and, for each client, a fresh agent on a fresh store,
//!   all on 127.0.0.1, killed and waited for when the run ends, whether it passed or not.
//!
//! What is generated goes to `clients/*/generated/` (git-ignored), made anew on every run.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// The walkthroughs, each given the agent's URL and its token file; each prints `ok: …` lines
/// and closes with `N passed, M failed`.
const WALKTHROUGHS: [Client; 2] = [Client::TypeScript, Client::Python];

/// How long a service may take to say where it listens.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// Where the generator's virtual environment lives.
fn python_env(root: &Path) -> PathBuf {
    root.join("target").join("clients-python")
}

#[derive(Clone, Copy)]
enum Client {
    TypeScript,
    Python,
}

impl Client {
    fn name(self) -> &'static str {
        match self {
            Self::TypeScript => "typescript",
            Self::Python => "python",
        }
    }
}

/// `cargo xtask clients [--no-build]`: builds `websrm` (unless `--no-build`: the one in
/// `target/debug` is used as it is), then checks, lints, generates and runs as the module says.
/// Returns the walkthroughs' steps passed and failed.
pub(crate) fn check(root: &Path, args: &[String]) -> Result<(u64, u64)> {
    let build = match args {
        [] => true,
        [flag] if flag == "--no-build" => false,
        _ => bail!("usage: cargo xtask clients [--no-build]"),
    };
    if build {
        crate::cargo(root, &["build", "-p", "websrm-cli", "--locked"], &[])?;
    }
    let websrm = root.join("target").join("debug").join("websrm");
    if !websrm.exists() {
        bail!(
            "{} is missing; build it with cargo build -p websrm-cli",
            websrm.display()
        );
    }
    let scratch = Scratch::new()?;
    let document = root.join("docs").join("agent-openapi.json");
    check_document(&websrm, &document, &scratch.0)?;

    let typescript = root.join("clients").join("typescript");
    ensure_node("the TypeScript client")?;
    npm_ci(&typescript, "the TypeScript client")?;
    lint(&typescript, &document)?;
    generate_typescript(&typescript, &document)?;

    let python = root.join("clients").join("python");
    let env = ensure_python_env(root, &python)?;
    generate_python(&python, &env, &document)?;

    let authority_dir = scratch.0.join("authority");
    let (authority, urls) = Service::start(
        "authority",
        Command::new(&websrm)
            .arg("authority")
            .arg("--dir")
            .arg(&authority_dir)
            .args(["serve", "--env", "DEV", "--seed-test-data"]),
        &["listening on ", "api listening on "],
    )?;
    let [enrolment_url, api_url] = &urls[..] else {
        bail!("the authority did not say where it listens");
    };
    let (mut passed, mut failed) = (0, 0);
    for client in WALKTHROUGHS {
        let store = scratch.0.join(format!("pos-{}.db", client.name()));
        let (agent, urls) = Service::start(
            "agent",
            Command::new(&websrm)
                .args(["agent", "serve", "--store"])
                .arg(&store)
                .args(["--listen", "127.0.0.1:0", "--authority", enrolment_url])
                .args(["--api", api_url, "--trust"])
                .arg(authority_dir.join("tls-root.pem")),
            &["agent listening on "],
        )?;
        let [agent_url] = &urls[..] else {
            bail!("the agent did not say where it listens");
        };
        let mut token = store.into_os_string();
        token.push(".agent-token");
        let mut command = match client {
            Client::TypeScript => {
                let mut c = Command::new("node");
                c.arg(Path::new("generated").join("out").join("walkthrough.js"))
                    .current_dir(&typescript);
                c
            }
            Client::Python => {
                let mut c = Command::new(env.join("bin").join("python"));
                c.arg("walkthrough.py")
                    .env("PYTHONPATH", "generated")
                    .current_dir(&python);
                c
            }
        };
        command
            .arg(agent_url)
            .arg(&token)
            // Loopback is never reached through a proxy, whatever the machine sets.
            .env("NO_PROXY", "127.0.0.1,localhost")
            .env("no_proxy", "127.0.0.1,localhost");
        let (p, f) = walkthrough(client, &mut command)?;
        passed += p;
        failed += f;
        drop(agent);
    }
    drop(authority);
    println!("xtask: the TypeScript and Python clients passed the walkthrough");
    Ok((passed, failed))
}

/// Writes the document as `websrm` makes it now, and checks it is the committed one.
fn check_document(websrm: &Path, document: &Path, scratch: &Path) -> Result<()> {
    println!("xtask: running {} agent openapi", websrm.display());
    let output = Command::new(websrm)
        .args(["agent", "openapi"])
        .output()
        .context("running websrm agent openapi")?;
    if !output.status.success() {
        bail!(
            "websrm agent openapi failed ({}):\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    let fresh = scratch.join("agent-openapi.json");
    std::fs::write(&fresh, &output.stdout)?;
    let committed =
        std::fs::read(document).with_context(|| format!("reading {}", document.display()))?;
    if committed != output.stdout {
        bail!(
            "{} differs from what the agent serves ({}); regenerate it with\n  \
             cargo run -p websrm-cli -- agent openapi > docs/agent-openapi.json",
            document.display(),
            fresh.display()
        );
    }
    println!("xtask: docs/agent-openapi.json is what the agent serves");
    Ok(())
}

/// Node.js and npm: Debian's when missing (CI runs as root on Debian).
pub(crate) fn ensure_node(purpose: &str) -> Result<()> {
    if !(crate::present("node") && crate::present("npm")) {
        crate::apt_install(&["nodejs", "npm"], purpose)?;
    }
    println!(
        "xtask: node {}, npm {}",
        version("node", &["--version"]),
        version("npm", &["--version"])
    );
    Ok(())
}

/// Installs the packages of `dir` at the exact versions of its `package-lock.json`.
pub(crate) fn npm_ci(dir: &Path, purpose: &str) -> Result<()> {
    let manifest: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("package.json")).context("reading package.json")?,
    )
    .context("reading package.json")?;
    let tools: Vec<String> = manifest["devDependencies"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(name, version)| format!("{name}@{}", version.as_str().unwrap_or("?")))
        .collect();
    println!(
        "xtask: installing {} (npm) in {} for {purpose}",
        tools.join(", "),
        dir.join("node_modules").display()
    );
    run(Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
        .current_dir(dir))
}

/// Lints the document with Redocly CLI and `clients/redocly.yaml`; an error fails.
fn lint(typescript: &Path, document: &Path) -> Result<()> {
    run(Command::new("npx")
        .args(["--no", "--", "redocly", "lint"])
        .arg(document)
        .args(["--config", "../redocly.yaml", "--format", "stylish"])
        .env("REDOCLY_TELEMETRY", "off")
        .env("REDOCLY_SUPPRESS_UPDATE_NOTICE", "true")
        .current_dir(typescript))
    .context("the OpenAPI document has lint errors (Redocly, clients/redocly.yaml)")
}

/// Generates the TypeScript types and type-checks (strict) and compiles the walkthrough.
fn generate_typescript(dir: &Path, document: &Path) -> Result<()> {
    let generated = dir.join("generated");
    remove_dir(&generated)?;
    run(Command::new("npx")
        .args(["--no", "--", "openapi-typescript"])
        .arg(document)
        // Only `required` makes a member required: a member with a default is optional in a
        // request (`utc_offset`), which openapi-typescript's default reading would not allow.
        .args([
            "--default-non-nullable",
            "false",
            "--output",
            "generated/agent.d.ts",
        ])
        .current_dir(dir))?;
    run(Command::new("npx")
        .args(["--no", "--", "tsc", "-p", "tsconfig.json"])
        .current_dir(dir))
    .context("the TypeScript walkthrough does not type-check against the generated client")
}

/// The generator's virtual environment, made anew when `requirements.txt` changed.
fn ensure_python_env(root: &Path, python: &Path) -> Result<PathBuf> {
    let requirements = python.join("requirements.txt");
    let wanted = std::fs::read_to_string(&requirements)
        .context("reading clients/python/requirements.txt")?;
    let env = python_env(root);
    let marker = env.join("requirements.installed");
    if std::fs::read_to_string(&marker).is_ok_and(|installed| installed == wanted)
        && env.join("bin").join("openapi-python-client").exists()
    {
        return Ok(env);
    }
    let pinned: Vec<&str> = wanted
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect();
    println!(
        "xtask: installing {} (PyPI) in {} for the Python client",
        pinned.join(", "),
        env.display()
    );
    if !(crate::present("python3") && venv_works()) {
        crate::apt_install(&["python3", "python3-venv"], "the Python client")?;
    }
    run(Command::new("python3")
        .args(["-m", "venv", "--clear"])
        .arg(&env))?;
    run(Command::new(env.join("bin").join("pip"))
        .args(["install", "--quiet", "--disable-pip-version-check", "-r"])
        .arg(&requirements))?;
    std::fs::write(&marker, wanted)?;
    Ok(env)
}

/// Whether `python3 -m venv` is there (Debian puts it in a package of its own).
fn venv_works() -> bool {
    Command::new("python3")
        .args(["-m", "venv", "--help"])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Generates the package `websrm_agent_client` into `clients/python/generated`; a warning of the
/// generator (something of the document it cannot express) fails.
fn generate_python(dir: &Path, env: &Path, document: &Path) -> Result<()> {
    let generated = dir.join("generated");
    remove_dir(&generated)?;
    // The generator formats its output with ruff, which it finds on the PATH.
    let path = std::env::var_os("PATH").unwrap_or_default();
    let path =
        std::env::join_paths(std::iter::once(env.join("bin")).chain(std::env::split_paths(&path)))?;
    run(Command::new(env.join("bin").join("openapi-python-client"))
        .arg("generate")
        .arg("--path")
        .arg(document)
        .args(["--meta", "none", "--output-path"])
        .arg(generated.join("websrm_agent_client"))
        .args([
            "--config",
            "openapi-python-client.yaml",
            "--fail-on-warning",
        ])
        .env("PATH", path)
        .current_dir(dir))
    .context("openapi-python-client could not generate the whole client")
}

/// Runs a walkthrough, passing its output through, and reads its closing line.
fn walkthrough(client: Client, command: &mut Command) -> Result<(u64, u64)> {
    println!("xtask: running the {} walkthrough", client.name());
    let mut child = command
        .stdout(Stdio::piped())
        .spawn()
        .with_context(|| format!("could not start the {} walkthrough", client.name()))?;
    let stdout = child
        .stdout
        .take()
        .context("no output of the walkthrough")?;
    let mut counts = None;
    for line in BufReader::new(stdout).lines() {
        let line = line?;
        println!("{}: {line}", client.name());
        counts = closing_line(&line).or(counts);
    }
    let status = child.wait()?;
    match counts {
        Some((passed, 0)) if status.success() => Ok((passed, 0)),
        _ => bail!(
            "the {} walkthrough failed ({status}); see its output above",
            client.name()
        ),
    }
}

/// `N passed, M failed`.
fn closing_line(line: &str) -> Option<(u64, u64)> {
    let (passed, failed) = line.trim().split_once(" passed, ")?;
    let failed = failed.strip_suffix(" failed")?;
    Some((passed.parse().ok()?, failed.parse().ok()?))
}

/// A service this run started: killed, and waited for, when dropped.
struct Service {
    name: &'static str,
    child: Child,
}

impl Service {
    /// Starts `command` and reads its output until it has printed a line starting with each of
    /// `prefixes` (in any order); returns the rest of those lines, in the order of `prefixes`.
    /// Its output goes on being passed through afterwards.
    fn start(
        name: &'static str,
        command: &mut Command,
        prefixes: &[&str],
    ) -> Result<(Self, Vec<String>)> {
        println!("xtask: starting the {name}");
        let child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .with_context(|| format!("could not start the {name}"))?;
        let mut service = Self { name, child };
        let stdout = service
            .child
            .stdout
            .take()
            .with_context(|| format!("no output of the {name}"))?;
        let (lines, received) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                println!("{name}: {line}");
                // Once the service has said where it listens nobody listens here: drain only.
                let _ = lines.send(line);
            }
        });
        let mut found: Vec<Option<String>> = vec![None; prefixes.len()];
        let deadline = Instant::now() + START_TIMEOUT;
        while found.iter().any(Option::is_none) {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = match received.recv_timeout(left) {
                Ok(line) => line,
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    bail!("the {name} did not say where it listens within {START_TIMEOUT:?}")
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    let status = service.child.wait()?;
                    bail!("the {name} stopped before it listened ({status})")
                }
            };
            // The longest prefix that matches: `api listening on ` before `listening on `.
            let matched = prefixes
                .iter()
                .enumerate()
                .filter(|(_, p)| line.starts_with(**p))
                .max_by_key(|(_, p)| p.len());
            if let Some((i, prefix)) = matched {
                found[i] = Some(line[prefix.len()..].trim().to_owned());
            }
        }
        Ok((service, found.into_iter().flatten().collect()))
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        println!("xtask: stopped the {}", self.name);
    }
}

/// A folder for the run (stores, the authority, the fresh document); removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Result<Self> {
        let dir = std::env::temp_dir().join(format!("websrm-clients-{}", std::process::id()));
        remove_dir(&dir)?;
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        Ok(Self(dir))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn remove_dir(dir: &Path) -> Result<()> {
    match std::fs::remove_dir_all(dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(e).with_context(|| format!("removing {}", dir.display()))
        }
        _ => Ok(()),
    }
}

fn version(program: &str, args: &[&str]) -> String {
    Command::new(program)
        .args(args)
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}

/// Runs a command, printing it first, and fails when it does.
fn run(command: &mut Command) -> Result<()> {
    let shown = format!(
        "{} {}",
        command.get_program().to_string_lossy(),
        command
            .get_args()
            .map(|a| a.to_string_lossy())
            .collect::<Vec<_>>()
            .join(" ")
    );
    println!("xtask: running {shown}");
    let status = command
        .status()
        .with_context(|| format!("could not start {shown}"))?;
    if !status.success() {
        bail!("command failed ({status}): {shown}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_closing_line_is_read() {
        assert_eq!(super::closing_line("12 passed, 0 failed"), Some((12, 0)));
        assert_eq!(super::closing_line("3 passed, 1 failed"), Some((3, 1)));
        assert_eq!(super::closing_line("ok: 3 passed"), None);
    }
}
