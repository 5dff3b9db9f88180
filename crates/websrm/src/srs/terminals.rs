//! Terminals of a host device, the history, and resetting an installation.

use super::*;

impl Srs {
    /// Obtains a device identifier for a terminal attached to this device (an order-taking
    /// handheld) that needs no certificate of its own: the host asks on the enrolment URL with
    /// `0000-0000-0000`, presenting its own certificate (that of `operator`) so that the authority
    /// records whose terminal it is, then deletes the certificate that came with the identifier,
    /// so that no unused certificate stays in force.
    pub async fn add_terminal(
        &self,
        label: &str,
        operator: &IdentificationNumber,
    ) -> Result<DeviceId, Error> {
        let host = self.usable_slot(operator)?;
        let host_key = self.open_key(&host.sealed_key, &host.key)?;
        let info = inspect_certificate(&host.material.certificate_der)?;
        let Some(Subject::Srs(srs)) = info.subject else {
            return Err(Error::BadAnswer(
                "the host's certificate is not an SRS certificate".into(),
            ));
        };
        let mut name: String = format!("Terminal {label}").chars().take(32).collect();
        while name.chars().count() < 8 {
            name.push('.');
        }
        let subject = SrsSubject::new(SrsSubjectFields {
            identification_number: srs.identification_number().clone(),
            sector: srs.sector(),
            authorization_code: srs.authorization_code().clone(),
            nickname: name.parse()?,
            qst_number: srs.qst_number().clone(),
            file_number: srs.file_number().clone(),
            utc_offset: srs.utc_offset(),
        })
        .map_err(Error::Subject)?;
        let key = PrivateKey::generate()?;
        let csr = Csr::build(&Subject::Srs(subject), &key)?.to_wire();
        let identity = ClientIdentity {
            chain: vec![host.material.certificate_der.clone()],
            key: &host_key,
        };
        let answer = self
            .client
            .send(
                &self.headers(Some(DeviceIdState::Unassigned)),
                &Modification::Add { csr },
                Some(identity),
            )
            .await
            .map_err(client_error)?;
        let terminal = answer
            .device_id
            .ok_or_else(|| Error::BadAnswer("no device identifier for the terminal".into()))?;
        self.store()
            .add_terminal(label, terminal, false, self.now())?;
        // The certificate that came with the identifier is not needed: delete it at once.
        let IssuedCertificate { der, info, .. } = answer.certificate().ok_or_else(|| {
            Error::BadAnswer("no certificate with the terminal's identifier".into())
        })??;
        let serial = info.serial;
        let identity = ClientIdentity {
            chain: vec![der],
            key: &key,
        };
        self.client
            .send(
                &self.headers(Some(DeviceIdState::Assigned(terminal))),
                &Modification::Delete { serial },
                Some(identity),
            )
            .await
            .map_err(client_error)?;
        Ok(terminal)
    }

    /// The device's history, oldest first: every enrolment, replacement, deletion, revocation
    /// seen and error returned by the authority, for support and audits.
    pub fn history(&self) -> Result<Vec<websrm_store::device::HistoryEntry>, Error> {
        Ok(self.store().history()?)
    }

    /// Resets this SRS installation's data (its certificates and pending requests) on the device.
    /// The device identifier and the terminals stay.
    pub fn reset_installation(&self) -> Result<usize, Error> {
        Ok(self
            .store()
            .reset_installation(&self.config.installation, self.now())?)
    }

    /// Records a terminal that obtained its own identifier and certificate (one that signs and
    /// authenticates itself).
    pub fn record_terminal(&self, label: &str, device_id: DeviceId) -> Result<(), Error> {
        Ok(self
            .store()
            .add_terminal(label, device_id, true, self.now())?)
    }

    /// The terminals attached to this device.
    pub fn terminals(&self) -> Result<Vec<websrm_store::device::Terminal>, Error> {
        Ok(self.store().terminals()?)
    }
}
