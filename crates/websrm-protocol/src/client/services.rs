//! The API host's services beside the certificates URL: transmissions (`transaction`), users
//! (`utilisateur`) and documents (`document`), with mutual TLS.

use websrm_domain::Source;

use super::*;

/// The refusal an answer's `listErr` makes, if it has errors, with its `casEssai`.
pub(super) fn refused(
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
            cause: Source::text(format!(
                "HTTP {status}, an error the protocol does not allow: {e}"
            )),
        })?;
    Err(ClientError::Refused {
        errors,
        next_test_case: cas_essai.and_then(|c| c.parse().ok()),
    })
}

/// The URL of `service` beside `url` (its last segment replaced), as on WEB-SRM's hosts.
pub(super) fn beside(url: &str, service: &str) -> String {
    match url.rsplit_once('/') {
        Some((base, _)) if base.contains("://") && !base.ends_with('/') => {
            format!("{base}/{service}")
        }
        _ => format!("{}/{service}", url.trim_end_matches('/')),
    }
}

impl CertificateClient {
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
                cause: Source::text(format!(
                    "HTTP {status}, the answer is not the protocol's JSON: {e}"
                )),
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
                cause: Source::new(e),
            })?;
        let (status, response) = self.request("POST", &url, tls, &pairs, &body).await?;
        let parsed: crate::user::UserResponseBody =
            serde_json::from_slice(&response).map_err(|e| ClientError::Communication {
                cause: Source::text(format!(
                    "HTTP {status}, the answer is not the protocol's JSON: {e}"
                )),
            })?;
        let retour = parsed.retour_util;
        refused(
            status,
            retour.list_err.as_deref(),
            retour.cas_essai.as_deref(),
        )?;
        if retour.no_tax.is_none() {
            return Err(ClientError::Communication {
                cause: Source::text(format!("HTTP {status}, an answer without noTax or listErr")),
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
                cause: Source::new(e),
            })?;
        let (status, response) = self.request("POST", &url, tls, &pairs, &body).await?;
        let parsed: crate::document::DocumentResponseBody = serde_json::from_slice(&response)
            .map_err(|e| ClientError::Communication {
                cause: Source::text(format!(
                    "HTTP {status}, the answer is not the protocol's JSON: {e}"
                )),
            })?;
        let retour = parsed.retour_doc;
        refused(
            status,
            retour.list_err.as_deref(),
            retour.cas_essai.as_deref(),
        )?;
        if retour.no_doc.is_none() {
            return Err(ClientError::Communication {
                cause: Source::text(format!("HTTP {status}, an answer without noDoc or listErr")),
            });
        }
        Ok(retour)
    }
}
