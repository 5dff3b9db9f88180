//! Revocation learned from the CRL before the next bill.

use super::*;

impl Srs {
    /// Checks this device's certificates against their authority's CRL, so that a revocation
    /// is known before the next bill rather than at the next request: every certificate the CRL
    /// lists is marked revoked (and recorded in the history), and the billing guard then
    /// refuses bills.
    ///
    /// The CRL is the one configured ([`Config::with_crl`]), or else the one named in each
    /// certificate (CRL distribution points), verified with the issuer named there (authority
    /// information access), which is accepted only if it signed the certificate. A CRL is
    /// fetched again once its next update has passed. Certificates with no CRL known are
    /// listed in [`RevocationCheck::without_crl`].
    pub async fn refresh_revocations(&self) -> Result<RevocationCheck, Error> {
        let now = self.now();
        let mut check = RevocationCheck::default();
        let slots = self.store().slots()?;
        for slot in slots {
            let Some((url, ca)) = self.crl_source(&slot).await? else {
                check.without_crl.push(slot.nickname.to_string());
                continue;
            };
            let info = self.crl_at(&url, &ca, now).await?;
            if !check.consulted.contains(&url) {
                check.consulted.push(url);
            }
            let listed = info
                .revoked
                .iter()
                .any(|(serial, _)| *serial == slot.material.serial);
            if listed && slot.status != SlotStatus::Revoked {
                self.store().mark_revoked(&slot.key, now)?;
                check.newly_revoked.push(slot.nickname.to_string());
            }
        }
        Ok(check)
    }

    /// Where the CRL of `slot`'s certificate is, and the certificate to verify it with.
    pub(super) async fn crl_source(&self, slot: &Slot) -> Result<Option<(String, Vec<u8>)>, Error> {
        if let Some((url, ca_pem)) = &self.config.crl {
            return Ok(Some((url.clone(), pem::decode("CERTIFICATE", ca_pem)?)));
        }
        let info = inspect_certificate(&slot.material.certificate_der)?;
        let (Some(url), Some(issuer_url)) = (info.crl_urls.first(), info.ca_issuers.first()) else {
            return Ok(None);
        };
        let cached = lock(&self.issuers).get(issuer_url).cloned();
        let issuer = match cached {
            Some(der) => der,
            None => {
                let body = self.fetch(issuer_url).await?;
                let der = if body.starts_with(b"-----BEGIN") {
                    pem::decode("CERTIFICATE", &String::from_utf8_lossy(&body))?
                } else {
                    body
                };
                lock(&self.issuers).insert(issuer_url.clone(), der.clone());
                der
            }
        };
        // Whatever the transport, the issuer is the one whose key signed this certificate.
        if websrm_crypto::verify_issued_by(&slot.material.certificate_der, &issuer).is_err() {
            return Err(Error::BadAnswer(format!(
                "the certificate at {issuer_url} did not issue the certificate {}",
                slot.nickname
            )));
        }
        Ok(Some((url.clone(), issuer)))
    }

    /// The CRL at `url`, verified with `ca`: the cached one until its next update.
    pub(super) async fn crl_at(
        &self,
        url: &str,
        ca: &[u8],
        now: OffsetDateTime,
    ) -> Result<websrm_crypto::CrlInfo, Error> {
        let cached = lock(&self.crls).get(url).cloned();
        if let Some(info) = cached
            && info.next_update.is_some_and(|next| now < next)
        {
            return Ok(info);
        }
        let der = self.fetch(url).await?;
        let info = websrm_crypto::verify_crl(&der, ca)?;
        lock(&self.crls).insert(url.to_owned(), info.clone());
        Ok(info)
    }

    pub(super) async fn fetch(&self, url: &str) -> Result<Vec<u8>, Error> {
        self.client
            .fetch(url)
            .await
            .map_err(|e| Error::Communication {
                cause: Source::new(e),
            })
    }
}
