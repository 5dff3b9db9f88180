//! The client of WEB-SRM: `AJO` on the enrolment host with server-authenticated TLS, `REM` and
//! `SUP` on the API host with mutual TLS, and transmissions to `/transaction` with mutual TLS,
//! over HTTP/1.1 with upper-case header names.
//!
//! `services.rs`: the API host's services beside the certificates URL (`transaction`,
//! `utilisateur`, `document`); `transport.rs`: the HTTP/1.1 exchange over TLS.

use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use websrm_crypto::rustls::pki_types::ServerName;
use websrm_crypto::rustls::{self, RootCertStore};
use websrm_crypto::tls::ClientIdentity;
use websrm_domain::Environment;

use websrm_domain::Source;

use crate::headers::{CertificateHeaders, TransmissionHeaders};
use crate::wire::{
    AnswerError, AuthorityError, CertificateAnswer, CertificateRequestBody,
    CertificateResponseBody, Modification, RetourTrans, TransactionResponseBody,
};

mod services;
#[cfg(test)]
mod tests;
mod transport;

use services::beside;
#[cfg(feature = "fuzzing")]
pub(crate) use transport::parse_response;
use transport::{Target, connect, exchange};

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
    #[error("the request was not sent: {cause}")]
    NotSent {
        /// Why.
        cause: Source,
    },
    /// The request may have reached the authority, but no valid answer came back (time-out,
    /// connection cut, or an answer that is not the protocol's JSON): the protocol calls this a
    /// communication error.
    #[error("communication error (the request may have been processed): {cause}")]
    Communication {
        /// Why.
        cause: Source,
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
    #[error("client configuration: {cause}")]
    Configuration {
        /// Why.
        cause: Source,
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
                    cause: Source::text(
                        "replacing or deleting a certificate needs the current certificate and key",
                    ),
                })?;
                (&self.endpoints.certificates, Some(identity))
            }
        };
        let body =
            serde_json::to_vec(&CertificateRequestBody::from(modification)).map_err(|e| {
                ClientError::Configuration {
                    cause: Source::new(e),
                }
            })?;
        let tls = self.tls_config(identity)?;
        let mut pairs: Vec<(&str, String)> = vec![("CONTENT-TYPE", "application/json".into())];
        pairs.extend(headers.to_pairs());
        let (status, response) = self.request("POST", url, tls, &pairs, &body).await?;
        let parsed: CertificateResponseBody =
            serde_json::from_slice(&response).map_err(|e| ClientError::Communication {
                cause: Source::text(format!(
                    "HTTP {status}, the answer is not the protocol's JSON: {e}"
                )),
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
            AnswerError::Malformed(cause) => ClientError::Communication { cause },
        })
    }

    /// Fetches `url` (e.g. the authority's CRL) with server-authenticated TLS; returns the body
    /// of a `200 OK`.
    pub async fn fetch(&self, url: &str) -> Result<Vec<u8>, ClientError> {
        let tls = self.tls_config(None)?;
        let (status, body) = self.request("GET", url, tls, &[], &[]).await?;
        if status != 200 {
            return Err(ClientError::Communication {
                cause: Source::text(format!("HTTP {status} for {url}")),
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
            cause: Source::text(format!("no answer within {:?}", self.timeout)),
        })?
    }

    fn tls_config(
        &self,
        identity: Option<ClientIdentity<'_>>,
    ) -> Result<Arc<rustls::ClientConfig>, ClientError> {
        let config = |e: websrm_crypto::Error| ClientError::Configuration {
            cause: Source::new(e),
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
