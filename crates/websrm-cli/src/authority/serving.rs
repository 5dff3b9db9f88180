//! What serving needs beside the authority: the public URLs checked, the TLS identity (the
//! authority's own or one given), its renewal while serving, rotations, and the signal that
//! stops the server.

use super::*;

/// `https://HOST[:PORT]` checked, without a trailing slash, and its host (a name the TLS
/// certificate must cover).
pub(super) fn public_base(url: &str) -> Result<(String, String)> {
    let rest = url
        .strip_prefix("https://")
        .with_context(|| format!("{url}: a public URL is https://HOST[:PORT]"))?
        .trim_end_matches('/');
    if rest.is_empty() || rest.contains(['/', '?', '#', '@', ' ']) {
        anyhow::bail!("{url}: a public URL is https://HOST[:PORT], without a path");
    }
    let host = if let Some(v6) = rest.strip_prefix('[') {
        let (host, after) = v6
            .split_once(']')
            .with_context(|| format!("{url}: an IPv6 address ends with ]"))?;
        if let Some(port) = after.strip_prefix(':') {
            port.parse::<u16>()
                .with_context(|| format!("{url}: the port is not a number"))?;
        } else if !after.is_empty() {
            anyhow::bail!("{url}: a public URL is https://HOST[:PORT]");
        }
        host.to_owned()
    } else {
        let (host, port) = rest.split_once(':').unwrap_or((rest, "443"));
        port.parse::<u16>()
            .with_context(|| format!("{url}: the port is not a number"))?;
        host.to_owned()
    };
    if host.is_empty() || host == "0.0.0.0" || host == "::" {
        anyhow::bail!("{url}: a public URL names a host clients can reach");
    }
    Ok((format!("https://{rest}"), host.to_ascii_lowercase()))
}

/// Rotates what `what` names in the folder `dir`, and says what to do next.
pub(super) fn rotate(
    what: &RotateCommand,
    dir: &std::path::Path,
    database: Option<&websrm_authority::Database>,
    env: Environment,
    serve: &crate::config::ServeConfig,
    now: OffsetDateTime,
) -> Result<()> {
    match what {
        RotateCommand::Ca => {
            let rotated = websrm_authority::rotate_ca(dir, database, env, "cli", now)
                .context("rotating the CA")?;
            println!(
                "CA generation {} issues from now on ({}); the earlier roots stay trusted, each with its CRL",
                rotated.generation,
                dir.join(websrm_authority::names::ca(rotated.generation).0)
                    .display()
            );
            println!(
                "start every process serving this folder again (with a copy of it, for processes on other machines)"
            );
        }
        RotateCommand::Psi => {
            let rotated = websrm_authority::rotate_psi(dir, database, env, "cli", now)
                .context("rotating the certifPSI")?;
            println!(
                "certifPSI generation {} ({}) is returned from now on by processes started after this",
                rotated.generation,
                dir.join(websrm_authority::names::psi(rotated.generation).0)
                    .display()
            );
        }
        RotateCommand::Tls {
            new_root,
            public_url,
            public_api_url,
        } => {
            let public_url = public_url.clone().or_else(|| serve.public_url.clone());
            let public_api_url = public_api_url
                .clone()
                .or_else(|| serve.public_api_url.clone());
            let names = public_url
                .iter()
                .chain(public_api_url.iter())
                .map(|url| public_base(url).map(|(_, host)| host))
                .collect::<Result<Vec<_>>>()?;
            let renewed =
                websrm_authority::rotate_tls(dir, database, env, &names, *new_root, "cli", now)
                    .context("rotating the TLS certificate")?;
            announce(&renewed, dir);
            println!("send SIGHUP to `serve` (or start it again) to present it");
        }
    }
    Ok(())
}

/// The certificate both hosts present: the operator's own, or the generated one, renewed first
/// if it does not cover the public names or expires within 30 days.
pub(super) fn tls_identity(
    dir: &std::path::Path,
    own: Option<&(PathBuf, PathBuf)>,
    public_names: &[String],
    generated: server::LocalTlsIdentity,
) -> Result<server::ServerIdentity> {
    if let Some((cert, key)) = own {
        return own_identity(cert, key);
    }
    let current = match websrm_authority::renew_tls(dir, public_names, OffsetDateTime::now_utc())
        .context("renewing the TLS certificate")?
    {
        Some(renewed) => {
            announce(&renewed, dir);
            renewed.identity
        }
        None => generated,
    };
    Ok(server::ServerIdentity::new(current.chain, &current.key)?)
}

fn own_identity(cert: &std::path::Path, key: &std::path::Path) -> Result<server::ServerIdentity> {
    let chain = std::fs::read(cert).with_context(|| format!("reading {}", cert.display()))?;
    let key_pem = std::fs::read(key).with_context(|| format!("reading {}", key.display()))?;
    server::ServerIdentity::from_pem(&chain, &key_pem).with_context(|| {
        format!(
            "the TLS certificate {} and key {}",
            cert.display(),
            key.display()
        )
    })
}

fn announce(renewed: &websrm_authority::RenewedTls, dir: &std::path::Path) {
    if renewed.new_root {
        println!(
            "a new TLS root was made: clients must trust {}",
            dir.join(websrm_authority::names::TLS_ROOT).display()
        );
    } else {
        println!("the TLS certificate was renewed");
    }
}

/// Keeps the presented certificate current: on SIGHUP, the operator's own is read again (or the
/// generated one renewed if needed), and twice a day the generated one is renewed before it
/// expires.
#[cfg(unix)]
pub(super) async fn keep_tls_current(
    mut hangup: tokio::signal::unix::Signal,
    identity: Arc<server::ServerIdentity>,
    dir: PathBuf,
    own: Option<(PathBuf, PathBuf)>,
    public_names: Vec<String>,
) {
    let mut every = tokio::time::interval(std::time::Duration::from_secs(12 * 3600));
    every.tick().await;
    loop {
        let asked = tokio::select! {
            _ = hangup.recv() => true,
            _ = every.tick() => false,
        };
        let (dir, own, names) = (dir.clone(), own.clone(), public_names.clone());
        let reloaded =
            tokio::task::spawn_blocking(move || -> Result<Option<server::ServerIdentity>> {
                if let Some((cert, key)) = &own {
                    return own_identity(cert, key).map(Some);
                }
                match websrm_authority::renew_tls(&dir, &names, OffsetDateTime::now_utc())? {
                    Some(renewed) => {
                        announce(&renewed, &dir);
                        Ok(Some(server::ServerIdentity::new(
                            renewed.identity.chain,
                            &renewed.identity.key,
                        )?))
                    }
                    // Asked: what the folder holds now (`rotate tls` may have replaced it).
                    None if asked => {
                        let current = websrm_authority::read_tls(&dir)?;
                        Ok(Some(server::ServerIdentity::new(
                            current.chain,
                            &current.key,
                        )?))
                    }
                    None => Ok(None),
                }
            })
            .await;
        match reloaded {
            Ok(Ok(Some(new))) => {
                identity.replace(new);
                println!(
                    "TLS certificate {}",
                    if asked { "reloaded" } else { "renewed" }
                );
            }
            Ok(Ok(None)) => {
                if asked {
                    println!("TLS certificate current");
                }
            }
            // The certificate presented stays: a bad file never stops the service.
            Ok(Err(e)) => eprintln!("error: the TLS certificate was not replaced: {e:#}"),
            Err(e) => eprintln!("error: the TLS certificate was not replaced: {e}"),
        }
    }
}

/// When a new code becomes active, if not at once.
/// ", active from …" when the authority delays new codes; nothing when they work at once.
/// A future that completes on Ctrl-C or SIGTERM; the handlers are installed when this returns.
pub(super) fn shutdown_signal() -> Result<impl Future<Output = ()>> {
    #[cfg(unix)]
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let ctrl_c = tokio::signal::ctrl_c();
    Ok(async move {
        #[cfg(unix)]
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
        #[cfg(not(unix))]
        let _ = ctrl_c.await;
    })
}
