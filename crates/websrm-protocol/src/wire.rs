//! The JSON bodies of the certificate services, with exactly the protocol's field names.

use serde::{Deserialize, Serialize};
use websrm_domain::{DeviceId, ErrorId, ReturnCode, SerialNumber, TestCase};

use crate::catalogue;

/// The request body: `{"reqCertif": {...}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[allow(clippy::exhaustive_structs)] // The protocol fixes these fields.
pub struct CertificateRequestBody {
    /// The request.
    #[serde(rename = "reqCertif")]
    pub req_certif: ReqCertif,
}

/// `reqCertif`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[allow(clippy::exhaustive_structs)] // The protocol fixes these fields.
pub struct ReqCertif {
    /// `AJO`, `REM` or `SUP`.
    pub modif: String,
    /// The CSR in its wire form (AJO, REM).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub csr: Option<String>,
    /// The serial number of the certificate replaced or deleted (REM, SUP).
    #[serde(rename = "noSerie", skip_serializing_if = "Option::is_none")]
    pub no_serie: Option<String>,
}

/// What a certificate request asks for: the protocol's three `modif` (exhaustive, so that both
/// the client and the authority answer each).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Modification {
    /// `AJO`: a new certificate, with this CSR (wire form).
    Add {
        /// The CSR.
        csr: String,
    },
    /// `REM`: replace the certificate `serial` with one for this CSR.
    Replace {
        /// The CSR.
        csr: String,
        /// The certificate replaced.
        serial: SerialNumber,
    },
    /// `SUP`: delete the certificate `serial`.
    Delete {
        /// The certificate deleted.
        serial: SerialNumber,
    },
}

impl From<&Modification> for CertificateRequestBody {
    fn from(m: &Modification) -> Self {
        let req_certif = match m {
            Modification::Add { csr } => ReqCertif {
                modif: "AJO".into(),
                csr: Some(csr.clone()),
                no_serie: None,
            },
            Modification::Replace { csr, serial } => ReqCertif {
                modif: "REM".into(),
                csr: Some(csr.clone()),
                no_serie: Some(serial.to_string()),
            },
            Modification::Delete { serial } => ReqCertif {
                modif: "SUP".into(),
                csr: None,
                no_serie: Some(serial.to_string()),
            },
        };
        Self { req_certif }
    }
}

/// The response body: `{"retourCertif": {...}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[allow(clippy::exhaustive_structs)] // The protocol fixes these fields.
pub struct CertificateResponseBody {
    /// The response.
    #[serde(rename = "retourCertif")]
    pub retour_certif: RetourCertif,
}

/// `retourCertif`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[allow(clippy::exhaustive_structs)] // The protocol fixes these fields.
pub struct RetourCertif {
    /// The version of the response structure, `01.00`.
    #[serde(rename = "jsonVersi", skip_serializing_if = "Option::is_none")]
    pub json_versi: Option<String>,
    /// The next test case, when the request's was not `000.000`.
    #[serde(rename = "casEssai", skip_serializing_if = "Option::is_none")]
    pub cas_essai: Option<String>,
    /// The new device identifier, when the request carried `0000-0000-0000`.
    #[serde(rename = "idApprl", skip_serializing_if = "Option::is_none")]
    pub id_apprl: Option<String>,
    /// The authority's certificate (PEM), for AJO and REM.
    #[serde(rename = "certifPSI", skip_serializing_if = "Option::is_none")]
    pub certif_psi: Option<String>,
    /// The issued certificate (PEM), or `SUP` for a deletion.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub certif: Option<String>,
    /// The errors, when the request is refused.
    #[serde(rename = "listErr", skip_serializing_if = "Option::is_none")]
    pub list_err: Option<Vec<WireError>>,
}

/// The version of the response structure websrm writes.
pub const JSON_VERSION: &str = "01.00";

/// An entry of `listErr`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[allow(clippy::exhaustive_structs)] // The protocol fixes these fields.
pub struct WireError {
    /// The transaction in error (`noTrans`), in the answers of the transaction service.
    #[serde(rename = "noTrans", default, skip_serializing_if = "Option::is_none")]
    pub no_trans: Option<String>,
    /// `JW00B999nnnE`.
    pub id: String,
    /// The message, in French.
    pub mess: String,
    /// The return code; absent for the companion message.
    #[serde(rename = "codRetour", skip_serializing_if = "Option::is_none")]
    pub cod_retour: Option<String>,
}

impl WireError {
    /// The catalogue's error `code`, its French message filled with `args`.
    pub fn from_catalogue(code: catalogue::ErrorCode, args: &[&str]) -> Self {
        let entry = code.entry();
        Self {
            no_trans: None,
            id: entry.id().to_string(),
            mess: entry.french_with(args),
            cod_retour: entry.return_code().map(|c| c.to_string()),
        }
    }
}

/// An error of `listErr`, read into domain types.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AuthorityError {
    /// The id.
    pub id: ErrorId,
    /// The message the authority sent (French).
    pub message: String,
    /// The return code.
    pub return_code: Option<ReturnCode>,
}

impl AuthorityError {
    /// Whether the same request may be sent again as is.
    pub fn is_retransmittable(&self) -> bool {
        self.return_code.is_some_and(ReturnCode::is_retransmittable)
    }

    /// The English text of the message, with the values of the French one, if the
    /// catalogue knows the id.
    pub fn english(&self) -> Option<String> {
        catalogue::english_for(self.id, &self.message)
    }

    /// The catalogue's name for the error, if it knows the id.
    pub fn code(&self) -> Option<catalogue::ErrorCode> {
        catalogue::ErrorCode::from_id(self.id)
    }
}

impl TryFrom<&WireError> for AuthorityError {
    type Error = websrm_domain::ParseError;

    fn try_from(w: &WireError) -> Result<Self, Self::Error> {
        Ok(Self {
            id: w.id.parse()?,
            message: w.mess.clone(),
            return_code: w.cod_retour.as_deref().map(str::parse).transpose()?,
        })
    }
}

/// A successful answer, read into domain types.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CertificateAnswer {
    /// The issued certificate (PEM); `None` for a deletion.
    pub certificate_pem: Option<String>,
    /// The authority's `certifPSI` (PEM).
    pub certif_psi_pem: Option<String>,
    /// The new device identifier, if one was assigned.
    pub device_id: Option<DeviceId>,
    /// The next test case.
    pub next_test_case: Option<TestCase>,
}

/// Why a response body cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AnswerError {
    /// The authority refused the request.
    #[error("the authority refused the request: {}", .0.iter().map(|e| format!("{} {}", e.id, e.message)).collect::<Vec<_>>().join("; "))]
    Refused(Vec<AuthorityError>),
    /// The body is not a `retourCertif` the protocol describes.
    #[error("the answer is not a valid retourCertif: {0}")]
    Malformed(websrm_domain::Source),
}

/// An issued certificate as an answer carries it: its DER and what it says.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct IssuedCertificate {
    /// The certificate (DER).
    pub der: Vec<u8>,
    /// Its serial number, subject, validity, thumbprint and key.
    pub info: websrm_crypto::CertificateInfo,
}

impl CertificateAnswer {
    /// The issued certificate, read from its PEM text: `None` for a deletion, an error for text
    /// that is not a certificate (an answer the caller refuses; it is not a communication
    /// error, since the same request would be answered the same).
    pub fn certificate(&self) -> Option<Result<IssuedCertificate, websrm_crypto::Error>> {
        let pem = self.certificate_pem.as_deref()?;
        Some(
            websrm_crypto::pem::decode("CERTIFICATE", pem).and_then(|der| {
                let info = websrm_crypto::inspect_certificate(&der)?;
                Ok(IssuedCertificate { der, info })
            }),
        )
    }
}

impl TryFrom<&RetourCertif> for CertificateAnswer {
    type Error = AnswerError;

    fn try_from(r: &RetourCertif) -> Result<Self, Self::Error> {
        if let Some(errors) = r.list_err.as_ref().filter(|l| !l.is_empty()) {
            let errors = errors
                .iter()
                .map(AuthorityError::try_from)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| AnswerError::Malformed(websrm_domain::Source::new(e)))?;
            return Err(AnswerError::Refused(errors));
        }
        let certif = r
            .certif
            .clone()
            .ok_or_else(|| AnswerError::Malformed(websrm_domain::Source::text("no certif")))?;
        let malformed =
            |e: websrm_domain::ParseError| AnswerError::Malformed(websrm_domain::Source::new(e));
        Ok(Self {
            certificate_pem: (certif != "SUP").then_some(certif),
            certif_psi_pem: r.certif_psi.clone(),
            device_id: r
                .id_apprl
                .as_deref()
                .map(str::parse)
                .transpose()
                .map_err(malformed)?,
            next_test_case: r
                .cas_essai
                .as_deref()
                .map(str::parse)
                .transpose()
                .map_err(malformed)?,
        })
    }
}

/// The body of a transaction request: `{"reqTrans": {...}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[allow(clippy::exhaustive_structs)] // The protocol fixes these fields.
pub struct TransactionRequestBody {
    /// The request.
    #[serde(rename = "reqTrans")]
    pub req_trans: ReqTrans,
}

/// `reqTrans`: the current transaction, a batch of transactions recorded offline, or both.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[allow(clippy::exhaustive_structs)] // The protocol fixes these fields.
pub struct ReqTrans {
    /// `transActu`.
    #[serde(rename = "transActu", default, skip_serializing_if = "Option::is_none")]
    pub trans_actu: Option<Transaction>,
    /// `transLot`; absent rather than empty.
    #[serde(rename = "transLot", default, skip_serializing_if = "Option::is_none")]
    pub trans_lot: Option<Vec<Transaction>>,
}

/// A transaction, as far as the certificate rules read it: its number, the thumbprint of the
/// certificate that signed it, and its signatures; every other field is kept as sent.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[allow(clippy::exhaustive_structs)] // The protocol fixes these fields.
pub struct Transaction {
    /// `noTrans`.
    #[serde(rename = "noTrans", default, skip_serializing_if = "Option::is_none")]
    pub no_trans: Option<String>,
    /// `emprCertifSEV`: the thumbprint of the certificate whose key made `actu`.
    #[serde(
        rename = "emprCertifSEV",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub empr_certif_sev: Option<String>,
    /// `signa`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signa: Option<Signa>,
    /// Every other field of the transaction, as sent.
    #[serde(flatten)]
    pub other: serde_json::Map<String, serde_json::Value>,
}

/// `signa`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[allow(clippy::exhaustive_structs)] // The protocol fixes these fields.
pub struct Signa {
    /// `actu`: this transaction's signature (P1363, Base64).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actu: Option<String>,
    /// `preced`: the previous transaction's `actu`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preced: Option<String>,
    /// `datActu`.
    #[serde(rename = "datActu", default, skip_serializing_if = "Option::is_none")]
    pub dat_actu: Option<String>,
}

/// The body of a transaction answer: `{"retourTrans": {...}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[allow(clippy::exhaustive_structs)] // The protocol fixes these fields.
pub struct TransactionResponseBody {
    /// The answer.
    #[serde(rename = "retourTrans")]
    pub retour_trans: RetourTrans,
}

/// `retourTrans`. Errors are never at this level: they go with the current transaction's
/// result or the batch's.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[allow(clippy::exhaustive_structs)] // The protocol fixes these fields.
pub struct RetourTrans {
    /// The version of the answer's structure, `01.00`.
    #[serde(rename = "jsonVersi", skip_serializing_if = "Option::is_none")]
    pub json_versi: Option<String>,
    /// The next test case, when the request's was not `000.000`.
    #[serde(rename = "casEssai", skip_serializing_if = "Option::is_none")]
    pub cas_essai: Option<String>,
    /// The result of the current transaction (and the errors of a request not understood).
    #[serde(rename = "retourTransActu", skip_serializing_if = "Option::is_none")]
    pub retour_trans_actu: Option<RetourTransActu>,
    /// The result of the batch.
    #[serde(rename = "retourTransLot", skip_serializing_if = "Option::is_none")]
    pub retour_trans_lot: Option<RetourTransLot>,
}

/// `retourTransActu`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[allow(clippy::exhaustive_structs)] // The protocol fixes these fields.
pub struct RetourTransActu {
    /// The transaction's `noTrans`.
    #[serde(rename = "noTrans", skip_serializing_if = "Option::is_none")]
    pub no_trans: Option<String>,
    /// The authority's number for it, `XXXX-XXXX-XXXX-XXXX`.
    #[serde(rename = "psiNoTrans", skip_serializing_if = "Option::is_none")]
    pub psi_no_trans: Option<String>,
    /// When the authority received it, `AAAAMMJJhhmmss`.
    #[serde(rename = "psiDatTrans", skip_serializing_if = "Option::is_none")]
    pub psi_dat_trans: Option<String>,
    /// The errors, each with its `noTrans` when it is about a transaction.
    #[serde(rename = "listErr", skip_serializing_if = "Option::is_none")]
    pub list_err: Option<Vec<WireError>>,
}

/// `retourTransLot`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[allow(clippy::exhaustive_structs)] // The protocol fixes these fields.
pub struct RetourTransLot {
    /// The authority's number for the batch, ten digits.
    #[serde(rename = "noLot", skip_serializing_if = "Option::is_none")]
    pub no_lot: Option<String>,
    /// When the authority received it, `AAAAMMJJhhmmss`.
    #[serde(rename = "datLot", skip_serializing_if = "Option::is_none")]
    pub dat_lot: Option<String>,
    /// The errors of the batch's transactions, each with its `noTrans` (conformity
    /// environments only: production returns none for a batch).
    #[serde(rename = "listErr", skip_serializing_if = "Option::is_none")]
    pub list_err: Option<Vec<WireError>>,
}
