//! The client of WEB-SRM: `AJO` on the enrolment host with server-authenticated TLS, `REM` and
//! `SUP` on the API host with mutual TLS, and transmissions to `/transaction` with mutual TLS,
//! over HTTP/1.1 with upper-case header names.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use websrm_crypto::rustls::pki_types::ServerName;
use websrm_crypto::rustls::{self, RootCertStore};
use websrm_crypto::tls::ClientIdentity;
use websrm_domain::Environment;

use crate::headers::{CertificateHeaders, TransmissionHeaders};
use crate::wire::{
    AnswerError, AuthorityError, CertificateAnswer, CertificateRequestBody,
    CertificateResponseBody, Modification, RetourTrans, TransactionResponseBody,
};

/// The two URLs of the certificate services.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Endpoints {
    /// The enrolment URL (`AJO`), server-authenticated TLS.
    pub enrolment: String,
    /// The certificates URL (`REM`, `SUP`), mutual TLS.
    pub certificates: String,
    /// The transactions URL, mutual TLS.
    pub transactions: String,
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
            .with_transactions("https://cnfr.api.rq-fo.ca/transaction")
        } else {
            Self::new(
                "https://certificats.api.rq-fo.ca/enrolement",
                "https://api.rq-fo.ca/certificats",
            )
            .with_transactions("https://api.rq-fo.ca/transaction")
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

    /// Two full URLs; the transactions URL is beside the certificates URL (its last segment
    /// `transaction`), as on WEB-SRM's hosts.
    pub fn new(enrolment: impl Into<String>, certificates: impl Into<String>) -> Self {
        let certificates = certificates.into();
        let transactions = beside(&certificates, "transaction");
        Self {
            enrolment: enrolment.into(),
            certificates,
            transactions,
        }
    }

    /// The same endpoints with another transactions URL.
    pub fn with_transactions(mut self, url: impl Into<String>) -> Self {
        self.transactions = url.into();
        self
    }
}

/// The refusal an answer's `listErr` makes, if it has errors, with its `casEssai`.
fn refused(
    status: u16,
    list: Option<&[crate::wire::WireError]>,
    cas_essai: Option<&str>,
) -> Result<(), ClientError> {
    let Some(list) = list.filter(|l| !l.is_empty()) else {
        return Ok(());
    };
    let errors = list
        .iter()
        .map(AuthorityError::try_from)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ClientError::Communication {
            reason: format!("HTTP {status}, an error the protocol does not allow: {e}"),
        })?;
    Err(ClientError::Refused {
        errors,
        next_test_case: cas_essai.and_then(|c| c.parse().ok()),
    })
}

/// The URL of `service` beside `url` (its last segment replaced), as on WEB-SRM's hosts.
fn beside(url: &str, service: &str) -> String {
    match url.rsplit_once('/') {
        Some((base, _)) if base.contains("://") && !base.ends_with('/') => {
            format!("{base}/{service}")
        }
        _ => format!("{}/{service}", url.trim_end_matches('/')),
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
    #[error("the authority refused the request: {}", .errors.iter().map(|e| format!("{} (codRetour {}) {}", e.id, e.return_code.map(|c| c.to_string()).unwrap_or_default(), e.message)).collect::<Vec<_>>().join("; "))]
    Refused {
        /// The errors, in the authority's order.
        errors: Vec<AuthorityError>,
        /// `casEssai` of the refusal, in a certification run: the step the run expects now
        /// (after a failed step, the first step of its block).
        next_test_case: Option<websrm_domain::TestCase>,
    },
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
    connect_timeout: Duration,
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
            connect_timeout: Duration::from_secs(10),
            environment,
        }
    }

    /// The same client with another limit for connecting and completing the TLS handshake
    /// (default 10 s). Nothing is sent before, so running out of it is "not sent": the protocol's
    /// minimum time-out, which is about waiting for an answer, does not apply.
    pub fn with_connect_timeout(mut self, limit: Duration) -> Self {
        self.connect_timeout = limit;
        self
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
        let (status, response) = self.request("POST", url, tls, &pairs, &body).await?;
        let parsed: CertificateResponseBody =
            serde_json::from_slice(&response).map_err(|e| ClientError::Communication {
                reason: format!("HTTP {status}, the answer is not the protocol's JSON: {e}"),
            })?;
        let next_test_case = parsed
            .retour_certif
            .cas_essai
            .as_deref()
            .and_then(|c| c.parse().ok());
        CertificateAnswer::try_from(&parsed.retour_certif).map_err(|e| match e {
            AnswerError::Refused(errors) => ClientError::Refused {
                errors,
                next_test_case,
            },
            AnswerError::Malformed(reason) => ClientError::Communication { reason },
        })
    }

    /// Sends a `/transaction` request presenting `identity` (the transmitter's certificate):
    /// `body` is the whole `{"reqTrans": …}` as it goes on the wire. Any answer in the
    /// protocol's JSON is returned, refusals included (they are in `retourTransActu.listErr`
    /// and `retourTransLot.listErr`); an answer that is not (a firewall's page, a time-out) is a
    /// communication error, as SW-73 §3.7.6 says.
    pub async fn transmit(
        &self,
        headers: &TransmissionHeaders,
        body: &[u8],
        identity: ClientIdentity<'_>,
    ) -> Result<RetourTrans, ClientError> {
        let tls = self.tls_config(Some(identity))?;
        let mut pairs: Vec<(&str, String)> = vec![("CONTENT-TYPE", "application/json".into())];
        pairs.extend(headers.to_pairs());
        let (status, response) = self
            .request("POST", &self.endpoints.transactions, tls, &pairs, body)
            .await?;
        let parsed: TransactionResponseBody =
            serde_json::from_slice(&response).map_err(|e| ClientError::Communication {
                reason: format!("HTTP {status}, the answer is not the protocol's JSON: {e}"),
            })?;
        Ok(parsed.retour_trans)
    }

    /// Sends a `/utilisateur` request (beside the certificates URL) presenting `identity`: an
    /// SRS declares or removes a user account, a remote server has tax numbers validated. A
    /// refusal is [`ClientError::Refused`], with the step a certification run expects next.
    pub async fn users(
        &self,
        headers: &CertificateHeaders,
        request: &crate::user::UserRequest,
        identity: ClientIdentity<'_>,
    ) -> Result<crate::user::RetourUtil, ClientError> {
        let tls = self.tls_config(Some(identity))?;
        let mut pairs: Vec<(&str, String)> = vec![("CONTENT-TYPE", "application/json".into())];
        pairs.extend(headers.to_pairs());
        let url = beside(&self.endpoints.certificates, "utilisateur");
        let body =
            serde_json::to_vec(&request.to_body()).map_err(|e| ClientError::Configuration {
                reason: e.to_string(),
            })?;
        let (status, response) = self.request("POST", &url, tls, &pairs, &body).await?;
        let parsed: crate::user::UserResponseBody =
            serde_json::from_slice(&response).map_err(|e| ClientError::Communication {
                reason: format!("HTTP {status}, the answer is not the protocol's JSON: {e}"),
            })?;
        let retour = parsed.retour_util;
        refused(
            status,
            retour.list_err.as_deref(),
            retour.cas_essai.as_deref(),
        )?;
        if retour.no_tax.is_none() {
            return Err(ClientError::Communication {
                reason: format!("HTTP {status}, an answer without noTax or listErr"),
            });
        }
        Ok(retour)
    }

    /// Sends a `/document` request (beside the certificates URL) presenting `identity`: a user
    /// report (`RUT`) or a habitual third party's declaration (`HAB`), signed. A refusal is
    /// [`ClientError::Refused`], with the step a certification run expects next.
    pub async fn document(
        &self,
        headers: &crate::headers::DocumentHeaders,
        request: &crate::document::DocumentRequest,
        identity: ClientIdentity<'_>,
    ) -> Result<crate::document::RetourDoc, ClientError> {
        let tls = self.tls_config(Some(identity))?;
        let mut pairs: Vec<(&str, String)> = vec![("CONTENT-TYPE", "application/json".into())];
        pairs.extend(headers.to_pairs());
        let url = beside(&self.endpoints.certificates, "document");
        let body =
            serde_json::to_vec(&request.to_body()).map_err(|e| ClientError::Configuration {
                reason: e.to_string(),
            })?;
        let (status, response) = self.request("POST", &url, tls, &pairs, &body).await?;
        let parsed: crate::document::DocumentResponseBody = serde_json::from_slice(&response)
            .map_err(|e| ClientError::Communication {
                reason: format!("HTTP {status}, the answer is not the protocol's JSON: {e}"),
            })?;
        let retour = parsed.retour_doc;
        refused(
            status,
            retour.list_err.as_deref(),
            retour.cas_essai.as_deref(),
        )?;
        if retour.no_doc.is_none() {
            return Err(ClientError::Communication {
                reason: format!("HTTP {status}, an answer without noDoc or listErr"),
            });
        }
        Ok(retour)
    }

    /// Fetches `url` (e.g. the authority's CRL) with server-authenticated TLS; returns the body
    /// of a `200 OK`.
    pub async fn fetch(&self, url: &str) -> Result<Vec<u8>, ClientError> {
        let tls = self.tls_config(None)?;
        let (status, body) = self.request("GET", url, tls, &[], &[]).await?;
        if status != 200 {
            return Err(ClientError::Communication {
                reason: format!("HTTP {status} for {url}"),
            });
        }
        Ok(body)
    }

    /// Connects (its own time limit: a failure there means nothing was sent), then sends and
    /// waits for the answer (the protocol's time-out: a failure there is a communication
    /// error, the request may have been processed).
    async fn request(
        &self,
        method: &str,
        url: &str,
        tls: Arc<rustls::ClientConfig>,
        headers: &[(&str, String)],
        body: &[u8],
    ) -> Result<(u16, Vec<u8>), ClientError> {
        let target = Target::parse(url)?;
        let mut stream = connect(&target, tls, self.connect_timeout).await?;
        tokio::time::timeout(
            self.timeout,
            exchange(&mut stream, method, &target, headers, body),
        )
        .await
        .map_err(|_| ClientError::Communication {
            reason: format!("no answer within {:?}", self.timeout),
        })?
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

/// Where a request goes: an `https` URL parsed once, with what the request line, the `Host`
/// header, the TCP connection and the TLS server name each need.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Target {
    /// The host to connect to and to verify (an IPv6 address without brackets).
    host: String,
    /// The port, 443 by default.
    port: u16,
    /// The path and query of the request line (a fragment is never sent).
    path: String,
    /// The `Host` header: the host (IPv6 in brackets) and the port when it is not 443.
    host_header: String,
}

impl Target {
    fn parse(url: &str) -> Result<Self, ClientError> {
        let bad = |why: &str| ClientError::Configuration {
            reason: format!("{url}: {why}"),
        };
        // A fragment belongs to the client; it is not part of what is requested.
        let without_fragment = url.split_once('#').map_or(url, |(u, _)| u);
        let uri: http::Uri = without_fragment
            .parse()
            .map_err(|e: http::uri::InvalidUri| bad(&e.to_string()))?;
        if uri.scheme_str() != Some("https") {
            return Err(bad("not an https URL"));
        }
        let authority = uri.authority().ok_or_else(|| bad("no host"))?;
        if authority.as_str().contains('@') {
            return Err(bad("credentials in the URL are not sent; remove them"));
        }
        let bracketed = authority.host();
        let host = bracketed
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(bracketed);
        if host.is_empty() {
            return Err(bad("no host"));
        }
        let port = authority.port_u16().unwrap_or(443);
        let host_header = if port == 443 {
            bracketed.to_owned()
        } else {
            format!("{bracketed}:{port}")
        };
        let path = uri
            .path_and_query()
            .map_or_else(|| "/".to_owned(), |p| p.as_str().to_owned());
        Ok(Self {
            host: host.to_owned(),
            port,
            path: if path.is_empty() {
                "/".to_owned()
            } else {
                path
            },
            host_header,
        })
    }
}

/// Largest answer read.
const MAX_RESPONSE: usize = 1 << 20;

/// Connects to `target` and completes the TLS handshake (offering ALPN `http/1.1` only), within
/// `limit`. Nothing of the request has left yet, so every failure here is [`ClientError::NotSent`].
async fn connect(
    target: &Target,
    tls: Arc<rustls::ClientConfig>,
    limit: Duration,
) -> Result<tokio_rustls::client::TlsStream<TcpStream>, ClientError> {
    let name =
        ServerName::try_from(target.host.clone()).map_err(|e| ClientError::Configuration {
            reason: e.to_string(),
        })?;
    let mut config = Arc::unwrap_or_clone(tls);
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    let handshake = async {
        let tcp = TcpStream::connect((target.host.as_str(), target.port)).await?;
        TlsConnector::from(Arc::new(config))
            .connect(name, tcp)
            .await
    };
    match tokio::time::timeout(limit, handshake).await {
        Ok(Ok(stream)) => Ok(stream),
        Ok(Err(e)) => Err(ClientError::NotSent {
            reason: e.to_string(),
        }),
        Err(_) => Err(ClientError::NotSent {
            reason: format!("no connection within {limit:?}"),
        }),
    }
}

/// Sends `method` with `body` and `headers` (names written exactly as given, upper case for
/// WEB-SRM) over HTTP/1.1 on `stream`, whatever carries it (TLS, or an in-memory pipe in the
/// tests); returns the status and body. `CONNECTION: close` makes the end of the answer the end
/// of the stream.
async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    method: &str,
    target: &Target,
    headers: &[(&str, String)],
    body: &[u8],
) -> Result<(u16, Vec<u8>), ClientError> {
    let mut head = format!(
        "{method} {} HTTP/1.1\r\nHOST: {}\r\n",
        target.path, target.host_header
    );
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
    tracing::debug!(host = %target.host_header, path = %target.path, bytes = body.len(), "request sent");

    let mut response = Vec::new();
    let read = stream
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

pub(crate) fn parse_response(bytes: &[u8]) -> Result<(u16, Vec<u8>), ClientError> {
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

/// The body of a chunked answer: each chunk's size line (httparse's parser, extensions
/// allowed), its data, and the CRLF that must follow it; `None` for anything else.
fn dechunk(mut data: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let Ok(httparse::Status::Complete((consumed, size))) = httparse::parse_chunk_size(data)
        else {
            return None;
        };
        data = &data[consumed..];
        let size = usize::try_from(size).ok()?;
        if size == 0 {
            // The last chunk; trailers, if any, are not read.
            return Some(out);
        }
        if size > MAX_RESPONSE {
            return None;
        }
        out.extend_from_slice(data.get(..size)?);
        data = data.get(size..)?.strip_prefix(b"\r\n")?;
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::{ClientError, Target, connect, dechunk, exchange, parse_response};

    fn target(url: &str) -> (String, u16, String, String) {
        let t = Target::parse(url).unwrap();
        (t.host, t.port, t.path, t.host_header)
    }

    #[test]
    fn the_transactions_url_is_beside_the_certificates_url() {
        use super::Endpoints;
        use websrm_domain::Environment;
        assert_eq!(
            Endpoints::official(Environment::Essai).transactions,
            "https://cnfr.api.rq-fo.ca/transaction"
        );
        assert_eq!(
            Endpoints::official(Environment::Prod).transactions,
            "https://api.rq-fo.ca/transaction"
        );
        assert_eq!(
            Endpoints::local("https://127.0.0.1:1", "https://127.0.0.1:2/").transactions,
            "https://127.0.0.1:2/transaction"
        );
        assert_eq!(
            Endpoints::new("https://a/enrolement", "https://b:8444").transactions,
            "https://b:8444/transaction"
        );
    }

    #[test]
    fn urls_are_parsed_once_into_host_port_path_and_host_header() {
        assert_eq!(
            target("https://cnfr.api.rq-fo.ca/certificats"),
            (
                "cnfr.api.rq-fo.ca".into(),
                443,
                "/certificats".into(),
                "cnfr.api.rq-fo.ca".into()
            )
        );
        assert_eq!(
            target("https://127.0.0.1:8443/enrolement"),
            (
                "127.0.0.1".into(),
                8443,
                "/enrolement".into(),
                "127.0.0.1:8443".into()
            )
        );
        // IPv6: the address without brackets to connect and verify, with them in Host.
        assert_eq!(
            target("https://[::1]:9/x"),
            ("::1".into(), 9, "/x".into(), "[::1]:9".into())
        );
        assert_eq!(
            target("https://[::1]/crl"),
            ("::1".into(), 443, "/crl".into(), "[::1]".into()),
            "an IPv6 address without a port"
        );
        // A fragment is not sent; a query is.
        assert_eq!(target("https://h/crl?x=1#part").2, "/crl?x=1");
        assert_eq!(target("https://h").2, "/");
        for bad in [
            "http://example/x",
            "https://:1/x",
            "https://user:secret@host/x",
            "https://user@host:8443/x",
            "not a url",
        ] {
            assert!(
                matches!(Target::parse(bad), Err(ClientError::Configuration { .. })),
                "{bad}"
            );
        }
    }

    #[test]
    fn responses_with_length_chunks_or_close() {
        let (s, b) =
            parse_response(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 2\r\n\r\n{}").unwrap();
        assert_eq!((s, b.as_slice()), (400, b"{}".as_slice()));
        let (s, b) = parse_response(b"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2;ext=1\r\nde\r\n0\r\n\r\n").unwrap();
        assert_eq!((s, b.as_slice()), (201, b"abcde".as_slice()));
        let (_, b) = parse_response(b"HTTP/1.1 200 OK\r\n\r\nuntil close").unwrap();
        assert_eq!(b, b"until close");
        assert!(parse_response(b"HTTP/1.1 200 OK\r\ncontent-length: 9\r\n\r\nshort").is_err());
        assert!(parse_response(b"garbage").is_err());
        assert_eq!(dechunk(b"zz\r\n"), None);
    }

    /// Each chunk's data must be followed by CRLF: two other bytes are not skipped over.
    #[test]
    fn a_chunk_without_its_crlf_is_malformed() {
        assert_eq!(dechunk(b"3\r\nabcXX2\r\nde\r\n0\r\n\r\n"), None);
        assert_eq!(dechunk(b"3\r\nabc"), None, "cut after the data");
        assert_eq!(
            dechunk(b"3\r\nabc\r\n0\r\n\r\n").as_deref(),
            Some(b"abc".as_slice())
        );
        assert_eq!(
            dechunk(b"ffffffffffffffffff\r\n"),
            None,
            "a size that overflows"
        );
    }

    /// The reason the client writes its own HTTP/1.1: header names reach the wire in upper
    /// case, as WEB-SRM expects. Shown on an in-memory stream, byte for byte.
    #[tokio::test]
    async fn upper_case_header_names_reach_the_wire() {
        let (mut client, mut server) = tokio::io::duplex(64 * 1024);
        let target = Target::parse("https://[::1]:8443/enrolement").unwrap();
        let headers = vec![
            ("CONTENT-TYPE", "application/json".to_owned()),
            ("ENVIRN", "DEV".to_owned()),
            ("IDAPPRL", "0000-0000-0000".to_owned()),
        ];
        let answering = tokio::spawn(async move {
            let mut request = Vec::new();
            let mut buf = [0u8; 4096];
            while !request.ends_with(b"{}") {
                let n = server.read(&mut buf).await.unwrap();
                assert!(n > 0, "the request ended early");
                request.extend_from_slice(&buf[..n]);
            }
            server
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                .await
                .unwrap();
            drop(server);
            String::from_utf8(request).unwrap()
        });
        let (status, body) = exchange(&mut client, "POST", &target, &headers, b"{}")
            .await
            .unwrap();
        assert_eq!((status, body.as_slice()), (200, b"ok".as_slice()));
        let request = answering.await.unwrap();
        assert_eq!(
            request,
            "POST /enrolement HTTP/1.1\r\nHOST: [::1]:8443\r\nCONTENT-TYPE: application/json\r\n\
             ENVIRN: DEV\r\nIDAPPRL: 0000-0000-0000\r\nCONTENT-LENGTH: 2\r\nCONNECTION: close\r\n\r\n{}"
        );
    }

    /// A server that accepts the connection but never completes the handshake: the request was
    /// not sent, which is safe to retry, not a communication error.
    #[tokio::test]
    async fn a_handshake_that_never_ends_is_not_sent() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let silent = tokio::spawn(async move {
            let (socket, _) = listener.accept().await.unwrap();
            tokio::time::sleep(Duration::from_secs(5)).await;
            drop(socket);
        });
        let target = Target::parse(&format!("https://{address}/enrolement")).unwrap();
        let tls = websrm_crypto::tls::client_config(&[], None).unwrap();
        let started = std::time::Instant::now();
        let result = connect(&target, tls, Duration::from_millis(300)).await;
        assert!(
            matches!(result, Err(ClientError::NotSent { .. })),
            "{:?}",
            result.err()
        );
        assert!(started.elapsed() < Duration::from_secs(3));
        silent.abort();
    }

    /// The client offers ALPN `http/1.1` and nothing else: a server that would speak HTTP/2
    /// picks HTTP/1.1, whose upper-case header names WEB-SRM reads.
    #[tokio::test]
    async fn alpn_offers_http_1_1_only() {
        use std::sync::{Arc, Mutex};
        let identity = websrm_crypto::tls::LocalTlsIdentity::generate(
            &["127.0.0.1".to_owned()],
            time::OffsetDateTime::now_utc(),
            1,
        )
        .unwrap();
        let mut server = Arc::unwrap_or_clone(
            websrm_crypto::tls::server_config(
                identity.chain.clone(),
                &identity.key,
                websrm_crypto::tls::ClientAuth::None,
            )
            .unwrap(),
        );
        server.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let negotiated = Arc::new(Mutex::new(None));
        let seen = negotiated.clone();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(server));
        tokio::spawn(async move {
            let (socket, _) = listener.accept().await.unwrap();
            let stream = acceptor.accept(socket).await.unwrap();
            *seen.lock().unwrap() = stream.get_ref().1.alpn_protocol().map(<[u8]>::to_vec);
        });
        let target = Target::parse(&format!("https://{address}/enrolement")).unwrap();
        let tls = websrm_crypto::tls::client_config(std::slice::from_ref(&identity.root_der), None)
            .unwrap();
        let stream = connect(&target, tls, Duration::from_secs(5)).await.unwrap();
        assert_eq!(
            stream.get_ref().1.alpn_protocol(),
            Some(b"http/1.1".as_slice())
        );
        drop(stream);
        tokio::time::sleep(Duration::from_millis(100)).await;
        assert_eq!(
            negotiated.lock().unwrap().as_deref(),
            Some(b"http/1.1".as_slice())
        );
    }
}
