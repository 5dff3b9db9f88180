//! The client of the certificate services: `AJO` on the enrolment host with server-authenticated
//! TLS, `REM` and `SUP` on the API host with mutual TLS, over HTTP/1.1 with upper-case header
//! names.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use websrm_crypto::rustls::pki_types::ServerName;
use websrm_crypto::rustls::{self, RootCertStore};
use websrm_crypto::tls::ClientIdentity;
use websrm_domain::Environment;

use crate::headers::CertificateHeaders;
use crate::wire::{
    AnswerError, AuthorityError, CertificateAnswer, CertificateRequestBody,
    CertificateResponseBody, Modification,
};

/// The two URLs of the certificate services.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Endpoints {
    /// The enrolment URL (`AJO`), server-authenticated TLS.
    pub enrolment: String,
    /// The certificates URL (`REM`, `SUP`), mutual TLS.
    pub certificates: String,
}

impl Endpoints {
    /// Revenu Québec's URLs for `environment`: the conformity hosts for DEV and ESSAI, the
    /// production hosts for PROD.
    pub fn official(environment: Environment) -> Self {
        if environment.is_conformity() {
            Self::new(
                "https://certificats.cnfr.api.rq-fo.ca/enrolement",
                "https://cnfr.api.rq-fo.ca/certificats",
            )
        } else {
            Self::new(
                "https://certificats.api.rq-fo.ca/enrolement",
                "https://api.rq-fo.ca/certificats",
            )
        }
    }

    /// The URLs of another authority (a local one) from its two base URLs, e.g.
    /// `https://127.0.0.1:8443` and `https://127.0.0.1:8444`.
    pub fn local(enrolment_base: &str, api_base: &str) -> Self {
        Self::new(
            format!("{}/enrolement", enrolment_base.trim_end_matches('/')),
            format!("{}/certificats", api_base.trim_end_matches('/')),
        )
    }

    /// Two full URLs.
    pub fn new(enrolment: impl Into<String>, certificates: impl Into<String>) -> Self {
        Self {
            enrolment: enrolment.into(),
            certificates: certificates.into(),
        }
    }
}

/// Which TLS servers the client trusts.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Trust {
    /// The public CAs of the Mozilla root program, as the real WEB-SRM needs.
    PublicRoots,
    /// These certificates only (DER), e.g. a local authority's TLS root.
    Anchors(Vec<Vec<u8>>),
}

/// What went wrong talking to the authority.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The request never reached the authority (connection or handshake refused): sending it
    /// again is safe.
    #[error("the request was not sent: {reason}")]
    NotSent {
        /// Why.
        reason: String,
    },
    /// The request may have reached the authority, but no valid answer came back (time-out,
    /// connection cut, or an answer that is not the protocol's JSON): the protocol calls this a
    /// communication error.
    #[error("communication error (the request may have been processed): {reason}")]
    Communication {
        /// Why.
        reason: String,
    },
    /// The authority refused the request.
    #[error("the authority refused the request: {}", .0.iter().map(|e| format!("{} (codRetour {}) {}", e.id, e.return_code.map(|c| c.to_string()).unwrap_or_default(), e.message)).collect::<Vec<_>>().join("; "))]
    Refused(Vec<AuthorityError>),
    /// The client is misconfigured (a URL it cannot use, a TLS setting).
    #[error("client configuration: {reason}")]
    Configuration {
        /// Why.
        reason: String,
    },
}

/// The client of the certificate services.
#[derive(Debug, Clone)]
pub struct CertificateClient {
    endpoints: Endpoints,
    trust: Trust,
    timeout: Duration,
    environment: Environment,
}

impl CertificateClient {
    /// A client of `endpoints`, trusting `trust`, with the protocol's time-out for `environment`
    /// (10 s in DEV and ESSAI; WEB-SRM asks for at least 5 s in production, websrm uses 10 s too).
    pub fn new(endpoints: Endpoints, trust: Trust, environment: Environment) -> Self {
        Self {
            endpoints,
            trust,
            timeout: Duration::from_secs(10),
            environment,
        }
    }

    /// The same client with another time-out, never under the protocol's minimum: 10 s in DEV
    /// and ESSAI, 5 s in production.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        let minimum = if self.environment.is_conformity() {
            10
        } else {
            5
        };
        self.timeout = timeout.max(Duration::from_secs(minimum));
        self
    }

    /// The endpoints.
    pub fn endpoints(&self) -> &Endpoints {
        &self.endpoints
    }

    /// Sends a certificate request: `AJO` to the enrolment URL without a client certificate;
    /// `REM` and `SUP` to the certificates URL presenting `identity` (the current certificate).
    pub async fn send(
        &self,
        headers: &CertificateHeaders,
        modification: &Modification,
        identity: Option<ClientIdentity<'_>>,
    ) -> Result<CertificateAnswer, ClientError> {
        let (url, identity) = match modification {
            // A host asking for its terminal's identifier presents its own certificate.
            Modification::Add { .. } => (&self.endpoints.enrolment, identity),
            _ => {
                let identity = identity.ok_or_else(|| ClientError::Configuration {
                    reason:
                        "replacing or deleting a certificate needs the current certificate and key"
                            .into(),
                })?;
                (&self.endpoints.certificates, Some(identity))
            }
        };
        let body =
            serde_json::to_vec(&CertificateRequestBody::from(modification)).map_err(|e| {
                ClientError::Configuration {
                    reason: e.to_string(),
                }
            })?;
        let tls = self.tls_config(identity)?;
        let mut pairs: Vec<(&str, String)> = vec![("CONTENT-TYPE", "application/json".into())];
        pairs.extend(headers.to_pairs());
        let (status, response) =
            tokio::time::timeout(self.timeout, exchange("POST", url, tls, &pairs, &body))
                .await
                .map_err(|_| ClientError::Communication {
                    reason: format!("no answer within {:?}", self.timeout),
                })??;
        let parsed: CertificateResponseBody =
            serde_json::from_slice(&response).map_err(|e| ClientError::Communication {
                reason: format!("HTTP {status}, the answer is not the protocol's JSON: {e}"),
            })?;
        CertificateAnswer::try_from(&parsed.retour_certif).map_err(|e| match e {
            AnswerError::Refused(errors) => ClientError::Refused(errors),
            AnswerError::Malformed(reason) => ClientError::Communication { reason },
        })
    }

    /// Fetches `url` (e.g. the authority's CRL) with server-authenticated TLS; returns the body
    /// of a `200 OK`.
    pub async fn fetch(&self, url: &str) -> Result<Vec<u8>, ClientError> {
        let tls = self.tls_config(None)?;
        let (status, body) =
            tokio::time::timeout(self.timeout, exchange("GET", url, tls, &[], &[]))
                .await
                .map_err(|_| ClientError::Communication {
                    reason: format!("no answer within {:?}", self.timeout),
                })??;
        if status != 200 {
            return Err(ClientError::Communication {
                reason: format!("HTTP {status} for {url}"),
            });
        }
        Ok(body)
    }

    fn tls_config(
        &self,
        identity: Option<ClientIdentity<'_>>,
    ) -> Result<Arc<rustls::ClientConfig>, ClientError> {
        let config = |e: websrm_crypto::Error| ClientError::Configuration {
            reason: e.to_string(),
        };
        match &self.trust {
            Trust::Anchors(anchors) => {
                websrm_crypto::tls::client_config(anchors, identity).map_err(config)
            }
            Trust::PublicRoots => {
                let roots = RootCertStore {
                    roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
                };
                websrm_crypto::tls::client_config_with_roots(roots, identity).map_err(config)
            }
        }
    }
}

/// `https://host[:port]/path` split into its parts.
fn split_url(url: &str) -> Result<(String, u16, String), ClientError> {
    let bad = || ClientError::Configuration {
        reason: format!("not an https URL: {url}"),
    };
    let rest = url.strip_prefix("https://").ok_or_else(bad)?;
    let (authority, path) = rest
        .split_once('/')
        .map_or_else(|| (rest, "/".to_owned()), |(a, p)| (a, format!("/{p}")));
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || authority.starts_with('[') => {
            (h.to_owned(), p.parse().map_err(|_| bad())?)
        }
        _ => (authority.to_owned(), 443),
    };
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_owned();
    if host.is_empty() {
        return Err(bad());
    }
    Ok((host, port, path))
}

/// Largest answer read.
const MAX_RESPONSE: usize = 1 << 20;

/// Sends `method` with `body` and `headers` (names written exactly as given) over HTTP/1.1 and
/// TLS; returns the status and body. `Connection: close` makes the end of the answer the end of
/// the stream.
async fn exchange(
    method: &str,
    url: &str,
    tls: Arc<rustls::ClientConfig>,
    headers: &[(&str, String)],
    body: &[u8],
) -> Result<(u16, Vec<u8>), ClientError> {
    let (host, port, path) = split_url(url)?;
    let not_sent = |e: std::io::Error| ClientError::NotSent {
        reason: e.to_string(),
    };
    let tcp = TcpStream::connect((host.as_str(), port))
        .await
        .map_err(not_sent)?;
    let name = ServerName::try_from(host.clone()).map_err(|e| ClientError::Configuration {
        reason: e.to_string(),
    })?;
    let mut stream = TlsConnector::from(tls)
        .connect(name, tcp)
        .await
        .map_err(not_sent)?;

    let host_header = if port == 443 {
        host.clone()
    } else {
        format!("{host}:{port}")
    };
    let mut head = format!("{method} {path} HTTP/1.1\r\nHOST: {host_header}\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!(
        "CONTENT-LENGTH: {}\r\nCONNECTION: close\r\n\r\n",
        body.len()
    ));
    let communication = |e: std::io::Error| ClientError::Communication {
        reason: e.to_string(),
    };
    stream
        .write_all(head.as_bytes())
        .await
        .map_err(communication)?;
    stream.write_all(body).await.map_err(communication)?;
    stream.flush().await.map_err(communication)?;
    tracing::debug!(%url, bytes = body.len(), "request sent");

    let mut response = Vec::new();
    let read = (&mut stream)
        .take(MAX_RESPONSE as u64 + 1)
        .read_to_end(&mut response)
        .await;
    // Servers that close without close_notify are common; what was read is still the answer.
    if let Err(e) = read
        && response.is_empty()
    {
        return Err(communication(e));
    }
    if response.len() > MAX_RESPONSE {
        return Err(ClientError::Communication {
            reason: "the answer is larger than 1 MiB".into(),
        });
    }
    parse_response(&response)
}

fn parse_response(bytes: &[u8]) -> Result<(u16, Vec<u8>), ClientError> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut response = httparse::Response::new(&mut headers);
    let bad = |reason: String| ClientError::Communication { reason };
    let head_len = match response.parse(bytes) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => {
            return Err(bad("the answer ended inside its head".into()));
        }
        Err(e) => return Err(bad(format!("not an HTTP answer: {e}"))),
    };
    let status = response.code.unwrap_or(0);
    let header = |name: &str| {
        response
            .headers
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| String::from_utf8_lossy(h.value).trim().to_owned())
    };
    let rest = &bytes[head_len..];
    let body = if header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        dechunk(rest).ok_or_else(|| bad("malformed chunked body".into()))?
    } else if let Some(len) = header("content-length") {
        let len: usize = len
            .parse()
            .map_err(|_| bad("invalid Content-Length".into()))?;
        rest.get(..len)
            .ok_or_else(|| bad("the answer is shorter than its Content-Length".into()))?
            .to_vec()
    } else {
        rest.to_vec()
    };
    Ok((status, body))
}

fn dechunk(mut data: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = data.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(&data[..line_end]).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        data = &data[line_end + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(data.get(..size)?);
        data = data.get(size + 2..)?;
    }
}

#[cfg(test)]
mod tests {
    use super::{dechunk, parse_response, split_url};

    #[test]
    fn urls_split_into_host_port_and_path() {
        assert_eq!(
            split_url("https://cnfr.api.rq-fo.ca/certificats").unwrap(),
            ("cnfr.api.rq-fo.ca".into(), 443, "/certificats".into())
        );
        assert_eq!(
            split_url("https://127.0.0.1:8443/enrolement").unwrap(),
            ("127.0.0.1".into(), 8443, "/enrolement".into())
        );
        assert_eq!(
            split_url("https://[::1]:9/x").unwrap(),
            ("::1".into(), 9, "/x".into())
        );
        assert!(split_url("http://example/x").is_err());
        assert!(split_url("https://:1/x").is_err());
    }

    #[test]
    fn responses_with_length_chunks_or_close() {
        let (s, b) =
            parse_response(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 2\r\n\r\n{}").unwrap();
        assert_eq!((s, b.as_slice()), (400, b"{}".as_slice()));
        let (s, b) = parse_response(b"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n").unwrap();
        assert_eq!((s, b.as_slice()), (201, b"abcde".as_slice()));
        let (_, b) = parse_response(b"HTTP/1.1 200 OK\r\n\r\nuntil close").unwrap();
        assert_eq!(b, b"until close");
        assert!(parse_response(b"HTTP/1.1 200 OK\r\ncontent-length: 9\r\n\r\nshort").is_err());
        assert!(parse_response(b"garbage").is_err());
        assert_eq!(dechunk(b"zz\r\n"), None);
    }
}
