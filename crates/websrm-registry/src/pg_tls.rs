//! TLS to PostgreSQL. The connection string says what is wanted (`sslmode=disable`, `require`
//! or `verify-full`, and `sslrootcert=FILE`, as libpq reads them); the TLS itself is a
//! [`Connector`] that the caller builds and hands to the registry
//! ([`Registry::open_database_with`](crate::Registry::open_database_with)). The authority builds
//! it over rustls, where its TLS configurations already live; the store keeps no TLS library
//! (nor, through one, any crypto) of its own.

use std::future::Future;
use std::io;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

pub use postgres::Socket;
use postgres::tls::{ChannelBinding, MakeTlsConnect, TlsConnect};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use websrm_domain::Source;

use crate::Error;

/// What the connection string asks of TLS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SslMode {
    /// Plain TCP (or a Unix socket).
    Disable,
    /// Encrypted, the server's certificate not checked: protection from passive eavesdropping
    /// only.
    Require,
    /// Encrypted, the server's certificate checked against `sslrootcert` and the host's name.
    VerifyFull,
}

/// The TLS part of a connection string.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TlsOptions {
    /// The mode: as written, or by default `verify-full` for a host off this machine and
    /// `disable` for loopback and Unix sockets.
    pub mode: SslMode,
    /// The roots (PEM) the server's certificate must chain to, for `verify-full`.
    pub root_cert: Option<PathBuf>,
}

/// A TLS connection to the server, made by the caller's TLS library.
pub trait Stream: AsyncRead + AsyncWrite + Unpin + Send + 'static {}

impl<T: AsyncRead + AsyncWrite + Unpin + Send + 'static> Stream for T {}

/// A TLS handshake in progress.
pub type Handshake = Pin<Box<dyn Future<Output = io::Result<Box<dyn Stream>>> + Send>>;

/// Makes TLS connections to PostgreSQL servers: the caller's TLS library, configured for the
/// connection string's [`TlsOptions`].
pub trait Connector: Send + Sync + 'static {
    /// The TLS handshake over `socket`, with the server named `host` (as the connection string
    /// names it).
    fn connect(&self, host: &str, socket: Socket) -> Handshake;
}

/// The words of a connection string that set TLS: read, and taken out of what the PostgreSQL
/// client parses (it knows neither `verify-full` nor `sslrootcert`).
pub(crate) fn split(text: &str) -> Result<(String, Option<SslMode>, Option<PathBuf>), Error> {
    let mut mode = None;
    let mut root = None;
    let mut take = |key: &str, value: &str| -> Result<bool, Error> {
        match key {
            "sslmode" => {
                mode = Some(match value {
                    "disable" => SslMode::Disable,
                    "require" => SslMode::Require,
                    "verify-full" => SslMode::VerifyFull,
                    other => {
                        return Err(Error::Database {
                            cause: Source::text(format!(
                                "sslmode={other} is not supported: use disable, require or verify-full"
                            )),
                        });
                    }
                });
                Ok(true)
            }
            "sslrootcert" => {
                root = Some(PathBuf::from(value));
                Ok(true)
            }
            _ => Ok(false),
        }
    };
    let rest = if text.starts_with("postgres://") || text.starts_with("postgresql://") {
        match text.split_once('?') {
            None => text.to_owned(),
            Some((base, query)) => {
                let mut kept = Vec::new();
                for pair in query.split('&').filter(|p| !p.is_empty()) {
                    let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
                    if !take(key, &percent_decode(value))? {
                        kept.push(pair);
                    }
                }
                if kept.is_empty() {
                    base.to_owned()
                } else {
                    format!("{base}?{}", kept.join("&"))
                }
            }
        }
    } else {
        let mut kept = Vec::new();
        for word in text.split_whitespace() {
            let (key, value) = word.split_once('=').unwrap_or((word, ""));
            if !take(key.trim(), value.trim_matches('\''))? {
                kept.push(word);
            }
        }
        kept.join(" ")
    };
    Ok((rest, mode, root))
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(byte) = text
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(byte);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The TLS options of the connection string `text`, with their defaults: `verify-full` unless
/// every host is this machine (loopback, `localhost`, a Unix socket), where it is `disable`.
pub fn options(text: &str) -> Result<TlsOptions, Error> {
    let (rest, mode, root_cert) = split(text)?;
    let mode = match mode {
        Some(mode) => mode,
        None => {
            let config: postgres::Config =
                rest.parse().map_err(|e: postgres::Error| Error::Database {
                    cause: Source::text(format!(
                        "the PostgreSQL connection string does not parse: {e}"
                    )),
                })?;
            // A host named by its address (`hostaddr`) counts too: any one off this machine
            // asks for verify-full.
            let addresses_local = config.get_hostaddrs().iter().all(|ip| ip.is_loopback());
            if config.get_hosts().iter().all(is_local) && addresses_local {
                SslMode::Disable
            } else {
                SslMode::VerifyFull
            }
        }
    };
    Ok(TlsOptions { mode, root_cert })
}

fn is_local(host: &postgres::config::Host) -> bool {
    match host {
        postgres::config::Host::Tcp(name) => {
            name == "localhost"
                || name
                    .trim_matches(|c| c == '[' || c == ']')
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback())
        }
        #[cfg(unix)]
        postgres::config::Host::Unix(_) => true,
    }
}

/// The caller's connector as the PostgreSQL client takes it.
#[derive(Clone)]
pub(crate) struct Tls(pub(crate) Arc<dyn Connector>);

impl MakeTlsConnect<Socket> for Tls {
    type Stream = TlsStream;
    type TlsConnect = Connect;
    type Error = io::Error;

    fn make_tls_connect(&mut self, domain: &str) -> Result<Connect, io::Error> {
        Ok(Connect(Arc::clone(&self.0), domain.to_owned()))
    }
}

pub(crate) struct Connect(Arc<dyn Connector>, String);

impl TlsConnect<Socket> for Connect {
    type Stream = TlsStream;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<TlsStream>> + Send>>;

    fn connect(self, socket: Socket) -> Self::Future {
        let handshake = self.0.connect(&self.1, socket);
        Box::pin(async move { handshake.await.map(TlsStream) })
    }
}

/// A TLS connection as the PostgreSQL client uses it. No channel binding: SCRAM
/// authenticates without it, as with libpq's default `channel_binding=prefer` when the TLS
/// library offers none.
pub(crate) struct TlsStream(Box<dyn Stream>);

impl AsyncRead for TlsStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for TlsStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut *self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.0).poll_shutdown(cx)
    }
}

impl postgres::tls::TlsStream for TlsStream {
    fn channel_binding(&self) -> ChannelBinding {
        ChannelBinding::none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_words_are_read_and_taken_out_of_either_form() {
        let (rest, mode, root) = split(
            "postgres://u@db.example:5432/x?application_name=a&sslmode=verify-full&sslrootcert=%2Fetc%2Froot.pem",
        )
        .unwrap();
        assert_eq!(rest, "postgres://u@db.example:5432/x?application_name=a");
        assert_eq!(mode, Some(SslMode::VerifyFull));
        assert_eq!(root, Some(PathBuf::from("/etc/root.pem")));
        let (rest, mode, root) = split("host=db.example user=u sslmode=require dbname=x").unwrap();
        assert_eq!(rest, "host=db.example user=u dbname=x");
        assert_eq!((mode, root), (Some(SslMode::Require), None));
        assert!(split("postgres://u@h/x?sslmode=verify-ca").is_err());
    }

    #[test]
    fn the_default_is_verify_full_off_this_machine_and_disable_on_it() {
        for local in [
            "postgres://u@127.0.0.1:5432/x",
            "postgres://u@localhost/x",
            "postgres://u@[::1]:5432/x",
            "host=/run/postgresql user=u",
        ] {
            assert_eq!(options(local).unwrap().mode, SslMode::Disable, "{local}");
        }
        for remote in [
            "postgres://u@db.internal/x",
            "host=10.0.0.5 user=u",
            "hostaddr=10.0.0.5 user=u",
            "host=localhost hostaddr=10.0.0.5 user=u",
        ] {
            assert_eq!(
                options(remote).unwrap().mode,
                SslMode::VerifyFull,
                "{remote}"
            );
        }
        assert_eq!(
            options("postgres://u@db.internal/x?sslmode=disable")
                .unwrap()
                .mode,
            SslMode::Disable
        );
    }
}
