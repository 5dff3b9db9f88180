//! TLS to the registry's PostgreSQL server, over rustls with websrm's TLS configurations: the
//! connector the store takes (it keeps no TLS library of its own), built from the connection
//! string's `sslmode` and `sslrootcert`.

use std::io;
use std::sync::Arc;

use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::pki_types::ServerName;
use websrm_registry::pg_tls::{Connector, Handshake, Socket, SslMode, Stream};

use crate::Error;

/// The connector for the connection string `url`: none for `sslmode=disable` (the default on
/// loopback), one that only encrypts for `require`, one that checks the server's certificate
/// against `sslrootcert` and the host's name for `verify-full` (the default elsewhere).
pub(crate) fn connector(url: &str) -> Result<Option<Arc<dyn Connector>>, Error> {
    let options = websrm_registry::pg_tls::options(url)?;
    let config = match options.mode {
        SslMode::Disable => return Ok(None),
        SslMode::Require => websrm_crypto::tls::client_config_encrypt_only()?,
        _ => {
            let path = options.root_cert.ok_or_else(|| {
                Error::Invalid(
                    "the database connection needs sslrootcert=FILE (the PEM certificate of the CA \
                     that signed the PostgreSQL server's certificate) for sslmode=verify-full, the \
                     default for a host off this machine; or sslmode=require to encrypt without \
                     checking, or sslmode=disable"
                        .into(),
                )
            })?;
            let text =
                std::fs::read_to_string(&path).map_err(|e| Error::io("reading", &path, e))?;
            let roots = websrm_crypto::pem::decode_all("CERTIFICATE", &text)?;
            if roots.is_empty() {
                return Err(Error::Invalid(format!(
                    "sslrootcert {} holds no certificate",
                    path.display()
                )));
            }
            websrm_crypto::tls::client_config(&roots, None)?
        }
    };
    Ok(Some(Arc::new(Rustls(TlsConnector::from(config)))))
}

struct Rustls(TlsConnector);

impl Connector for Rustls {
    fn connect(&self, host: &str, socket: Socket) -> Handshake {
        let connector = self.0.clone();
        let name = ServerName::try_from(host.to_owned());
        Box::pin(async move {
            let name = name.map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
            let stream = connector.connect(name, socket).await?;
            Ok(Box::new(stream) as Box<dyn Stream>)
        })
    }
}
