//! User accounts and tax numbers: the `utilisateur` service. An SRS declares the users of an
//! operator (`AJO`) and removes them (`SUP`) with that operator's certificate on the device; a
//! remote server has tax numbers validated (`VAL`) with its administrator's certificate.

use websrm_domain::{GstNumber, QstNumber};
use websrm_protocol::user::{RetourUtil, UserRequest};

use super::*;

/// Whether the authority found each tax number valid (`VAL`) for the request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct TaxNumbersAnswer {
    /// `noTPS` `VAL`.
    pub gst_valid: bool,
    /// `noTVQ` `VAL`.
    pub qst_valid: bool,
}

impl TaxNumbersAnswer {
    /// Whether both are valid: only then is a user declared or removed.
    pub fn valid(self) -> bool {
        self.gst_valid && self.qst_valid
    }
}

impl Srs {
    /// Declares the user `name` (first and last name) of the operator whose numbers these are
    /// (`utilisateur` `AJO`), from this device with `operator`'s certificate.
    pub async fn add_user(
        &self,
        operator: &IdentificationNumber,
        name: &str,
        gst: GstNumber,
        qst: QstNumber,
    ) -> Result<TaxNumbersAnswer, Error> {
        let slot = self.usable_slot(operator)?;
        self.send_user(&slot, &UserRequest::add(name, gst, qst))
            .await
    }

    /// Removes the user `name` (`utilisateur` `SUP`); the user must confirm.
    pub async fn remove_user(
        &self,
        operator: &IdentificationNumber,
        name: &str,
        gst: GstNumber,
        qst: QstNumber,
        confirmation: Confirmation,
    ) -> Result<TaxNumbersAnswer, Error> {
        if confirmation != Confirmation::Confirmed {
            return Err(Error::NotConfirmed);
        }
        let slot = self.usable_slot(operator)?;
        self.send_user(&slot, &UserRequest::delete(name, gst, qst))
            .await
    }

    /// Has tax numbers validated by the authority from the remote server (`utilisateur` `VAL`,
    /// `APPRLINIT` `SRV`), with the certificate of the server administrator `server` (see
    /// [`Srs::enrol_server`]).
    pub async fn validate_tax_numbers(
        &self,
        server: &IdentificationNumber,
        gst: GstNumber,
        qst: QstNumber,
    ) -> Result<TaxNumbersAnswer, Error> {
        let mut key = self.slot_key(server);
        key.installation = SERVER_INSTALLATION.to_owned();
        let slot = self.usable_slot_at(key)?;
        self.send_user(&slot, &UserRequest::validate(gst, qst))
            .await
    }

    async fn send_user(
        &self,
        slot: &Slot,
        request: &UserRequest,
    ) -> Result<TaxNumbersAnswer, Error> {
        let key = self.open_key(&slot.sealed_key, &slot.key)?;
        let identity = ClientIdentity {
            chain: vec![slot.material.certificate_der.clone()],
            key: &key,
        };
        // The server's requests name no device; an SRS's name this one.
        let device = if slot.key.installation == SERVER_INSTALLATION {
            None
        } else {
            Some(DeviceIdState::Assigned(self.device_id()?.ok_or_else(
                || Error::NotFound("this device's identifier".into()),
            )?))
        };
        let answer = self
            .client
            .users(&self.headers(device), request, identity)
            .await;
        match answer {
            Ok(retour) => {
                self.follow_user(&retour);
                let valid = |v: Option<&str>| v == Some("VAL");
                let numbers = retour.no_tax.as_ref();
                Ok(TaxNumbersAnswer {
                    gst_valid: valid(numbers.map(|n| n.no_tps.as_str())),
                    qst_valid: valid(numbers.map(|n| n.no_tvq.as_str())),
                })
            }
            Err(ClientError::Refused {
                errors,
                next_test_case,
            }) => Err(self.refused_service(&slot.key, errors, next_test_case)?),
            Err(other) => Err(client_error(other)),
        }
    }

    fn follow_user(&self, retour: &RetourUtil) {
        if let Some(next) = retour.cas_essai.as_deref().and_then(|c| c.parse().ok()) {
            self.set_test_case(next);
        }
    }

    /// A refusal of the user or document service: the step a certification run goes back to
    /// followed, each error logged with its id and `codRetour`.
    pub(super) fn refused_service(
        &self,
        slot: &SlotKey,
        errors: Vec<websrm_protocol::wire::AuthorityError>,
        next_test_case: Option<TestCase>,
    ) -> Result<Error, Error> {
        if let Some(next) = next_test_case {
            self.set_test_case(next);
        }
        let now = self.now();
        let mut store = self.store();
        for e in &errors {
            store.record_authority_error(Some(slot), e.id, e.return_code, &e.message, now)?;
        }
        Ok(Error::Refused {
            retransmittable: retransmittable(&errors),
            errors,
        })
    }
}
