//! `websrm agent …`: the local service for point-of-sale software in any language.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::Subcommand;
use websrm::domain::Environment;
use websrm_agent::{AgentConfig, Running};

/// Arguments of `websrm agent`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the JSON API until SIGTERM or Ctrl-C (or, with --service, until the Windows
    /// service is stopped).
    Serve(Box<Serve>),
    /// Register `websrm agent serve … --service` as the Windows service `websrm-agent`,
    /// started now and at every boot, running as SYSTEM (Windows only; on Linux use the systemd
    /// unit in docs/AGENT.md).
    InstallService(Box<ServeOptions>),
    /// Stop and remove the Windows service `websrm-agent` (Windows only).
    UninstallService,
    /// Print the OpenAPI description of the API.
    Openapi,
}

#[derive(Debug, clap::Args)]
struct Serve {
    #[command(flatten)]
    options: ServeOptions,
    /// Run under the Windows Service Control Manager, as `install-service` registers it: the
    /// service's stop ends it as Ctrl-C does (Windows only).
    #[arg(long)]
    service: bool,
}

/// What `agent serve` and `agent install-service` take.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct ServeOptions {
    /// The SRS's store (an SQLite file; its key file and the agent's token are kept beside it).
    #[arg(long)]
    pub(crate) store: PathBuf,
    /// Where to listen: loopback unless another address is named explicitly.
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// Also listen on this Unix socket (not on Windows).
    #[arg(long)]
    socket: Option<PathBuf>,
    /// The environment.
    #[arg(long, default_value = "DEV")]
    env: Environment,
    /// The authority's enrolment base URL (default: Revenu Québec's WEB-SRM).
    #[arg(long)]
    authority: Option<String>,
    /// The authority's API base URL.
    #[arg(long)]
    api: Option<String>,
    /// The TLS root of a local authority (its `tls-root.pem`).
    #[arg(long)]
    trust: Option<PathBuf>,
    /// The product identity: a file of six lines IDPARTN, IDSEV, IDVERSI, CODCERTIF, VERSI,
    /// VERSIPARN (default: the test product a local authority registers).
    #[arg(long)]
    product: Option<PathBuf>,
    /// The SRS installation on this device.
    #[arg(long, default_value = "main")]
    installation: String,
    /// Seconds between health checks (default: a day).
    #[arg(long, default_value_t = 24 * 3600)]
    check_every: u64,
}

/// What the service commands answer off Windows.
#[cfg(not(windows))]
const WINDOWS_ONLY: &str =
    "Windows only; on Linux use the systemd unit in docs/AGENT.md (\"As a system service\")";

pub(crate) fn run(args: Args) -> Result<()> {
    match args.command {
        Command::Openapi => {
            println!("{}", websrm_agent::openapi());
            Ok(())
        }
        #[cfg(windows)]
        Command::Serve(serve) if serve.service => crate::winservice::run(serve.options),
        #[cfg(not(windows))]
        Command::Serve(serve) if serve.service => anyhow::bail!("--service: {WINDOWS_ONLY}"),
        Command::Serve(serve) => {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()?;
            runtime.block_on(run_serve(serve.options))
        }
        #[cfg(windows)]
        Command::InstallService(options) => crate::winservice::install(&options),
        #[cfg(windows)]
        Command::UninstallService => crate::winservice::uninstall(),
        #[cfg(not(windows))]
        Command::InstallService(_) => anyhow::bail!("install-service: {WINDOWS_ONLY}"),
        #[cfg(not(windows))]
        Command::UninstallService => anyhow::bail!("uninstall-service: {WINDOWS_ONLY}"),
    }
}

/// The arguments the service is registered with: `agent serve` with `options`, every path made
/// absolute against `cwd` (a service starts in the system folder), then `--service`. Refuses
/// what a service cannot do: a Unix socket, or port 0 (a new port at every start, which no
/// client could find).
#[cfg(any(windows, test))]
pub(crate) fn service_arguments(
    options: &ServeOptions,
    cwd: &std::path::Path,
) -> Result<Vec<std::ffi::OsString>> {
    use std::ffi::OsString;
    if options.socket.is_some() {
        anyhow::bail!(
            "--socket: Unix sockets are not available on Windows; the service listens on --listen"
        );
    }
    if options.listen.port() == 0 {
        anyhow::bail!(
            "--listen: give the service a fixed port, e.g. --listen 127.0.0.1:8765 (port 0 picks a new one at every start, which clients could not find)"
        );
    }
    // Joined to `cwd`, then normalized (on Windows: `\` throughout).
    let absolute = |path: &std::path::Path| -> OsString {
        let joined = cwd.join(path);
        std::path::absolute(&joined)
            .unwrap_or(joined)
            .into_os_string()
    };
    let mut arguments: Vec<OsString> = ["agent", "serve", "--store"]
        .into_iter()
        .map(OsString::from)
        .collect();
    arguments.push(absolute(&options.store));
    arguments.push("--listen".into());
    arguments.push(options.listen.to_string().into());
    arguments.push("--env".into());
    arguments.push(options.env.to_string().into());
    for (flag, value) in [("--authority", &options.authority), ("--api", &options.api)] {
        if let Some(value) = value {
            arguments.push(flag.into());
            arguments.push(value.into());
        }
    }
    for (flag, path) in [("--trust", &options.trust), ("--product", &options.product)] {
        if let Some(path) = path {
            arguments.push(flag.into());
            arguments.push(absolute(path));
        }
    }
    arguments.push("--installation".into());
    arguments.push(options.installation.clone().into());
    arguments.push("--check-every".into());
    arguments.push(options.check_every.to_string().into());
    arguments.push("--service".into());
    Ok(arguments)
}

/// Binds a Unix socket at `path` that only its owner can connect to, from the first instant:
/// it is made 0600 in a new private folder beside `path`, then renamed into place (no window in
/// which it has the umask's mode, and no change of the process's umask). A socket left at
/// `path` by an agent that stopped is replaced; anything else there is refused, never deleted.
#[cfg(unix)]
fn bind_private_socket(path: &std::path::Path) -> Result<tokio::net::UnixListener> {
    use std::os::unix::fs::{DirBuilderExt, FileTypeExt, PermissionsExt};
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_socket() => {}
        Ok(_) => anyhow::bail!(
            "{} exists and is not a socket; the agent does not replace it: choose another --socket",
            path.display()
        ),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    }
    let parent = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or_else(|| std::path::Path::new("."));
    let private = parent.join(format!(".websrm-agent-socket.{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&private);
    std::fs::DirBuilder::new()
        .mode(0o700)
        .create(&private)
        .with_context(|| format!("creating {}", private.display()))?;
    let staged = private.join("socket");
    let bound = (|| -> Result<tokio::net::UnixListener> {
        let socket = tokio::net::UnixListener::bind(&staged)
            .with_context(|| format!("listening on {}", path.display()))?;
        std::fs::set_permissions(&staged, std::fs::Permissions::from_mode(0o600))?;
        std::fs::rename(&staged, path).with_context(|| format!("placing {}", path.display()))?;
        Ok(socket)
    })();
    let _ = std::fs::remove_dir_all(&private);
    bound
}

async fn run_serve(s: ServeOptions) -> Result<()> {
    #[cfg(unix)]
    let shutdown = async {
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending().await } } => {}
        }
    };
    // Windows: Ctrl-C, or the console's close (what a service wrapper sends).
    #[cfg(not(unix))]
    let shutdown = async {
        let mut close = tokio::signal::windows::ctrl_close().ok();
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = async { match close.as_mut() { Some(c) => { c.recv().await; } None => std::future::pending().await } } => {}
        }
    };
    serve_until(s, shutdown, || {}).await
}

/// Starts the agent of `s` and serves until `shutdown` completes; `ready` is called once it
/// listens (the Windows service then reports itself running).
pub(crate) async fn serve_until(
    s: ServeOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
    ready: impl FnOnce(),
) -> Result<()> {
    if !s.listen.ip().is_loopback() {
        eprintln!(
            "warning: the agent listens on {}, not only on this machine: anyone who can reach it and has the token can use the certificates",
            s.listen
        );
    }
    let config = crate::facade::facade_config(
        s.env,
        s.product.as_deref(),
        s.store.clone(),
        &s.installation,
        (s.authority.as_deref(), s.api.as_deref(), s.trust.as_deref()),
    )?;
    let agent = Running::start(
        AgentConfig::new(config, &s.store)
            .with_installation(&s.installation)
            .with_check_every(std::time::Duration::from_secs(s.check_every.max(1))),
    )
    .await
    .context("starting the agent")?;
    let listener = tokio::net::TcpListener::bind(s.listen)
        .await
        .with_context(|| format!("listening on {}", s.listen))?;
    #[cfg(unix)]
    let unix = match &s.socket {
        Some(path) => Some(bind_private_socket(path)?),
        None => None,
    };
    #[cfg(not(unix))]
    if s.socket.is_some() {
        anyhow::bail!("--socket: Unix sockets are not available on this system; use --listen");
    }
    println!("agent listening on http://{}", listener.local_addr()?);
    if let Some(path) = &s.socket {
        println!("agent listening on unix:{}", path.display());
    }
    println!(
        "clients present the token in {}",
        websrm_agent::token_path(&s.store).display()
    );
    ready();
    #[cfg(unix)]
    agent.serve(listener, unix, shutdown).await?;
    #[cfg(not(unix))]
    agent.serve(listener, shutdown).await?;
    if let Some(path) = &s.socket {
        let _ = std::fs::remove_file(path);
    }
    println!("stopped");
    Ok(())
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(subcommand)]
        command: Command,
    }

    #[cfg(unix)]
    fn options(args: &[&str]) -> ServeOptions {
        let cli = Cli::try_parse_from(
            ["agent", "install-service"]
                .into_iter()
                .chain(args.iter().copied()),
        )
        .unwrap();
        match cli.command {
            Command::InstallService(options) => *options,
            other => panic!("{other:?}"),
        }
    }

    /// The service is registered with the serve options it was installed with, its paths made
    /// absolute, and `--service`; what a service cannot do is refused with what to do instead.
    /// (Unix paths in the expected list: the logic is the same on Windows.)
    #[cfg(unix)]
    #[test]
    fn install_service_registers_serve_with_absolute_paths_and_service() {
        let cwd = std::path::Path::new("/install/dir");
        let given = options(&[
            "--store",
            "data/pos.db",
            "--listen",
            "127.0.0.1:8765",
            "--env",
            "PROD",
            "--product",
            "product.txt",
            "--authority",
            "https://127.0.0.1:1",
            "--api",
            "https://127.0.0.1:2",
            "--trust",
            "/etc/root.pem",
        ]);
        let arguments: Vec<String> = service_arguments(&given, cwd)
            .unwrap()
            .into_iter()
            .map(|a| a.into_string().unwrap())
            .collect();
        assert_eq!(
            arguments,
            [
                "agent",
                "serve",
                "--store",
                "/install/dir/data/pos.db",
                "--listen",
                "127.0.0.1:8765",
                "--env",
                "PROD",
                "--authority",
                "https://127.0.0.1:1",
                "--api",
                "https://127.0.0.1:2",
                "--trust",
                "/etc/root.pem",
                "--product",
                "/install/dir/product.txt",
                "--installation",
                "main",
                "--check-every",
                "86400",
                "--service",
            ]
        );
        // The registered arguments parse back into the same options, with --service.
        let cli = Cli::try_parse_from(
            std::iter::once("websrm".to_owned()).chain(arguments.iter().skip(1).cloned()),
        )
        .unwrap();
        let Command::Serve(serve) = cli.command else {
            panic!("not serve")
        };
        assert!(serve.service);
        assert_eq!(serve.options.listen, given.listen);
        assert_eq!(serve.options.env, given.env);

        let random_port = options(&["--store", "pos.db"]);
        let e = service_arguments(&random_port, cwd).unwrap_err();
        assert!(e.to_string().contains("fixed port"), "{e}");
        let socket = options(&[
            "--store",
            "pos.db",
            "--listen",
            "127.0.0.1:8765",
            "--socket",
            "a.sock",
        ]);
        let e = service_arguments(&socket, cwd).unwrap_err();
        assert!(e.to_string().contains("not available on Windows"), "{e}");
    }

    #[cfg(not(windows))]
    #[test]
    fn the_service_commands_say_they_are_for_windows_and_where_the_linux_unit_is() {
        for args in [
            &[
                "agent",
                "install-service",
                "--store",
                "pos.db",
                "--listen",
                "127.0.0.1:8765",
            ][..],
            &["agent", "uninstall-service"],
            &["agent", "serve", "--store", "pos.db", "--service"],
        ] {
            let cli = Cli::try_parse_from(args).unwrap();
            let e = run(Args {
                command: cli.command,
            })
            .unwrap_err();
            assert!(e.to_string().contains("Windows only"), "{e}");
            assert!(e.to_string().contains("docs/AGENT.md"), "{e}");
        }
    }
}
