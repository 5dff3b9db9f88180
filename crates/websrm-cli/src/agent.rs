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
    /// Serve the JSON API until SIGTERM or Ctrl-C.
    Serve(Box<Serve>),
    /// Print the OpenAPI description of the API.
    Openapi,
}

#[derive(Debug, clap::Args)]
struct Serve {
    /// The SRS's store (an SQLite file; its key file and the agent's token are kept beside it).
    #[arg(long)]
    store: PathBuf,
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

pub(crate) fn run(args: Args) -> Result<()> {
    match args.command {
        Command::Openapi => {
            println!("{}", websrm_agent::openapi());
            Ok(())
        }
        Command::Serve(serve) => {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()?;
            runtime.block_on(run_serve(*serve))
        }
    }
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

async fn run_serve(s: Serve) -> Result<()> {
    if !s.listen.ip().is_loopback() {
        eprintln!(
            "warning: the agent listens on {}, not only on this machine: anyone who can reach it and has the token can use the certificates",
            s.listen
        );
    }
    let config = crate::srs::facade_config(
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
