//! The HTTP/1.1 exchange: a URL parsed once, the TLS connection, the request with its header
//! names as given, and the answer read (length, chunks, or until close).

use websrm_domain::Source;

use super::*;

/// Where a request goes: an `https` URL parsed once, with what the request line, the `Host`
/// header, the TCP connection and the TLS server name each need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Target {
    /// The host to connect to and to verify (an IPv6 address without brackets).
    pub(super) host: String,
    /// The port, 443 by default.
    pub(super) port: u16,
    /// The path and query of the request line (a fragment is never sent).
    pub(super) path: String,
    /// The `Host` header: the host (IPv6 in brackets) and the port when it is not 443.
    pub(super) host_header: String,
}

impl Target {
    pub(super) fn parse(url: &str) -> Result<Self, ClientError> {
        let bad = |why: &str| ClientError::Configuration {
            cause: Source::text(format!("{url}: {why}")),
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
pub(super) async fn connect(
    target: &Target,
    tls: Arc<rustls::ClientConfig>,
    limit: Duration,
) -> Result<tokio_rustls::client::TlsStream<TcpStream>, ClientError> {
    let name =
        ServerName::try_from(target.host.clone()).map_err(|e| ClientError::Configuration {
            cause: Source::new(e),
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
            cause: Source::new(e),
        }),
        Err(_) => Err(ClientError::NotSent {
            cause: Source::text(format!("no connection within {limit:?}")),
        }),
    }
}

/// Sends `method` with `body` and `headers` (names written exactly as given, upper case for
/// WEB-SRM) over HTTP/1.1 on `stream`, whatever carries it (TLS, or an in-memory pipe in the
/// tests); returns the status and body. `CONNECTION: close` makes the end of the answer the end
/// of the stream.
pub(super) async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(
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
        cause: Source::new(e),
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
            cause: Source::text("the answer is larger than 1 MiB"),
        });
    }
    parse_response(&response)
}

pub(crate) fn parse_response(bytes: &[u8]) -> Result<(u16, Vec<u8>), ClientError> {
    let mut headers = [httparse::EMPTY_HEADER; 64];
    let mut response = httparse::Response::new(&mut headers);
    let bad = |reason: String| ClientError::Communication {
        cause: Source::text(reason),
    };
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
pub(super) fn dechunk(mut data: &[u8]) -> Option<Vec<u8>> {
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
