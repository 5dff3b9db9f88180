//! The HTTP headers of a certificate request (`ENVIRN`, `CASESSAI`, `APPRLINIT`, `IDAPPRL`,
//! `IDSEV`, `IDVERSI`, `CODCERTIF`, `IDPARTN`, `VERSI`, `VERSIPARN`), and of a transmission
//! (those, `NOTPS`, `NOTVQ`, `SIGNATRANSM`, `EMPRCERTIFTRANSM`).

use websrm_crypto::Signature;
use websrm_domain::{
    CertificationCode, DeviceIdState, Environment, GstNumber, InitiatingDevice, PartnerId,
    QstNumber, SoftwareVersion, SrsId, TestCase, Thumbprint, VersionId,
};

/// The header names, upper case as WEB-SRM expects them, in the protocol's order.
pub const NAMES: [&str; 10] = [
    "ENVIRN",
    "CASESSAI",
    "APPRLINIT",
    "IDAPPRL",
    "IDSEV",
    "IDVERSI",
    "CODCERTIF",
    "IDPARTN",
    "VERSI",
    "VERSIPARN",
];

/// Header names that exist in other versions of the protocol and are refused with this one
/// (`JW00B999328E`).
pub const NOT_APPLICABLE: [&str; 4] = [
    "CODAUTORSEV",
    "CODAUTORSERVR",
    "EMPRCERTIFSERVR",
    "SIGNASERVR",
];

/// The headers of a certificate request, as domain values.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CertificateHeaders {
    /// `ENVIRN`.
    pub environment: Environment,
    /// `CASESSAI`.
    pub test_case: TestCase,
    /// `APPRLINIT`.
    pub initiating: InitiatingDevice,
    /// `IDAPPRL`: required when an SRS initiates, absent when a server does.
    pub device: Option<DeviceIdState>,
    /// `IDSEV`.
    pub srs_id: SrsId,
    /// `IDVERSI`.
    pub version_id: VersionId,
    /// `CODCERTIF`.
    pub certification_code: CertificationCode,
    /// `IDPARTN`.
    pub partner_id: PartnerId,
    /// `VERSI`.
    pub version: SoftwareVersion,
    /// `VERSIPARN`.
    pub parent_version: SoftwareVersion,
}

/// The product identity an SRS sends with every request.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProductIdentity {
    /// `IDPARTN`.
    pub partner_id: PartnerId,
    /// `IDSEV`.
    pub srs_id: SrsId,
    /// `IDVERSI`.
    pub version_id: VersionId,
    /// `CODCERTIF`.
    pub certification_code: CertificationCode,
    /// `VERSI`.
    pub version: SoftwareVersion,
    /// `VERSIPARN`.
    pub parent_version: SoftwareVersion,
}

impl ProductIdentity {
    /// A product identity.
    pub fn new(
        partner_id: PartnerId,
        srs_id: SrsId,
        version_id: VersionId,
        certification_code: CertificationCode,
        version: SoftwareVersion,
        parent_version: SoftwareVersion,
    ) -> Self {
        Self {
            partner_id,
            srs_id,
            version_id,
            certification_code,
            version,
            parent_version,
        }
    }
}

impl CertificateHeaders {
    /// The headers of a request from `initiating` with `device` (which must be `None` for a
    /// server), for `product` in `environment`.
    pub fn new(
        environment: Environment,
        test_case: TestCase,
        initiating: InitiatingDevice,
        device: Option<DeviceIdState>,
        product: &ProductIdentity,
    ) -> Self {
        Self {
            environment,
            test_case,
            initiating,
            device,
            srs_id: product.srs_id,
            version_id: product.version_id,
            certification_code: product.certification_code.clone(),
            partner_id: product.partner_id,
            version: product.version.clone(),
            parent_version: product.parent_version.clone(),
        }
    }

    /// The header name and value pairs, in the protocol's order.
    pub fn to_pairs(&self) -> Vec<(&'static str, String)> {
        let mut pairs = vec![
            ("ENVIRN", self.environment.to_string()),
            ("CASESSAI", self.test_case.to_string()),
            ("APPRLINIT", self.initiating.to_string()),
        ];
        if let Some(device) = self.device {
            pairs.push(("IDAPPRL", device.to_string()));
        }
        pairs.extend([
            ("IDSEV", self.srs_id.to_string()),
            ("IDVERSI", self.version_id.to_string()),
            ("CODCERTIF", self.certification_code.to_string()),
            ("IDPARTN", self.partner_id.to_string()),
            ("VERSI", self.version.to_string()),
            ("VERSIPARN", self.parent_version.to_string()),
        ]);
        pairs
    }

    /// Reads the headers from name/value pairs (names compared without regard to case), reporting
    /// every missing, repeated or invalid one.
    pub fn from_pairs<'a>(
        pairs: impl IntoIterator<Item = (&'a str, &'a str)> + Clone,
    ) -> Result<Self, Vec<HeaderProblem>> {
        let mut problems = Vec::new();
        for name in NAMES.iter().chain(NOT_APPLICABLE.iter()) {
            let count = pairs
                .clone()
                .into_iter()
                .filter(|(n, _)| n.eq_ignore_ascii_case(name))
                .count();
            if count > 1 {
                problems.push(HeaderProblem {
                    header: name,
                    kind: HeaderProblemKind::Repeated,
                });
            } else if count == 1 && NOT_APPLICABLE.contains(name) {
                problems.push(HeaderProblem {
                    header: name,
                    kind: HeaderProblemKind::NotApplicable,
                });
            }
        }
        let get = |name: &'static str| -> Option<&'a str> {
            let mut found = pairs
                .clone()
                .into_iter()
                .filter(|(n, _)| n.eq_ignore_ascii_case(name));
            match (found.next(), found.next()) {
                (Some((_, v)), None) => Some(v.trim()),
                _ => None,
            }
        };
        let field = |name: &'static str, problems: &mut Vec<HeaderProblem>| -> Option<&'a str> {
            let value = get(name);
            let repeated = problems.iter().any(|p| p.header == name);
            if value.is_none() && !repeated {
                problems.push(HeaderProblem {
                    header: name,
                    kind: HeaderProblemKind::Missing,
                });
            }
            value
        };
        fn parsed<T: std::str::FromStr>(
            name: &'static str,
            value: Option<&str>,
            problems: &mut Vec<HeaderProblem>,
        ) -> Option<T> {
            let value = value?;
            match value.parse() {
                Ok(v) => Some(v),
                Err(_) => {
                    problems.push(HeaderProblem {
                        header: name,
                        kind: HeaderProblemKind::Invalid(value.to_owned()),
                    });
                    None
                }
            }
        }
        let environment = field("ENVIRN", &mut problems);
        let environment = parsed::<Environment>("ENVIRN", environment, &mut problems);
        let test_case = field("CASESSAI", &mut problems);
        let test_case = parsed::<TestCase>("CASESSAI", test_case, &mut problems);
        let initiating = field("APPRLINIT", &mut problems);
        let initiating = parsed::<InitiatingDevice>("APPRLINIT", initiating, &mut problems);
        // IDAPPRL is optional here: whether it must be present depends on APPRLINIT.
        let device_text = get("IDAPPRL");
        let device = parsed::<DeviceIdState>("IDAPPRL", device_text, &mut problems);
        if initiating == Some(InitiatingDevice::Srs)
            && device_text.is_none()
            && !problems.iter().any(|p| p.header == "IDAPPRL")
        {
            problems.push(HeaderProblem {
                header: "IDAPPRL",
                kind: HeaderProblemKind::Missing,
            });
        }
        if initiating == Some(InitiatingDevice::Server) && device_text.is_some() {
            problems.push(HeaderProblem {
                header: "IDAPPRL",
                kind: HeaderProblemKind::Forbidden,
            });
        }
        let srs_id = field("IDSEV", &mut problems);
        let srs_id = parsed::<SrsId>("IDSEV", srs_id, &mut problems);
        let version_id = field("IDVERSI", &mut problems);
        let version_id = parsed::<VersionId>("IDVERSI", version_id, &mut problems);
        let code = field("CODCERTIF", &mut problems);
        let code = parsed::<CertificationCode>("CODCERTIF", code, &mut problems);
        let partner_id = field("IDPARTN", &mut problems);
        let partner_id = parsed::<PartnerId>("IDPARTN", partner_id, &mut problems);
        let version = field("VERSI", &mut problems);
        let version = parsed::<SoftwareVersion>("VERSI", version, &mut problems);
        let parent = field("VERSIPARN", &mut problems);
        let parent = parsed::<SoftwareVersion>("VERSIPARN", parent, &mut problems);
        match (
            environment,
            test_case,
            initiating,
            srs_id,
            version_id,
            code,
            partner_id,
            version,
            parent,
        ) {
            (
                Some(environment),
                Some(test_case),
                Some(initiating),
                Some(srs_id),
                Some(version_id),
                Some(certification_code),
                Some(partner_id),
                Some(version),
                Some(parent_version),
            ) if problems.is_empty() => Ok(Self {
                environment,
                test_case,
                initiating,
                device,
                srs_id,
                version_id,
                certification_code,
                partner_id,
                version,
                parent_version,
            }),
            _ => Err(problems),
        }
    }
}

/// The HTTP headers of a `/transaction` request: those of every request, then the operator's
/// tax numbers and the transmitter's signature (SW-73 table 21).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TransmissionHeaders {
    /// `ENVIRN` to `VERSIPARN`, `IDAPPRL` being the device that started the transactions.
    pub common: CertificateHeaders,
    /// `NOTPS`.
    pub gst: GstNumber,
    /// `NOTVQ`.
    pub qst: QstNumber,
    /// `SIGNATRANSM`.
    pub signature: Signature,
    /// `EMPRCERTIFTRANSM`: the thumbprint of the certificate whose key made `SIGNATRANSM`.
    pub thumbprint: Thumbprint,
}

impl TransmissionHeaders {
    /// The headers of a transmission.
    pub fn new(
        common: CertificateHeaders,
        gst: GstNumber,
        qst: QstNumber,
        signature: Signature,
        thumbprint: Thumbprint,
    ) -> Self {
        Self {
            common,
            gst,
            qst,
            signature,
            thumbprint,
        }
    }

    /// The header name and value pairs, in the protocol's order.
    pub fn to_pairs(&self) -> Vec<(&'static str, String)> {
        let mut pairs = self.common.to_pairs();
        let at = pairs
            .iter()
            .position(|(n, _)| *n == "APPRLINIT")
            .unwrap_or(2);
        pairs.insert(at, ("NOTVQ", self.qst.to_string()));
        pairs.insert(at, ("NOTPS", self.gst.to_string()));
        pairs.push(("SIGNATRANSM", self.signature.to_base64()));
        pairs.push(("EMPRCERTIFTRANSM", self.thumbprint.to_string()));
        pairs
    }
}

/// A defect of the headers.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct HeaderProblem {
    /// The header's name.
    pub header: &'static str,
    /// What is wrong with it.
    pub kind: HeaderProblemKind,
}

/// What is wrong with a header.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum HeaderProblemKind {
    /// Absent although required.
    Missing,
    /// Present more than once.
    Repeated,
    /// Its value does not parse.
    Invalid(String),
    /// Present although it must be absent (`IDAPPRL` on a server's request).
    Forbidden,
    /// A header of another version of the protocol.
    NotApplicable,
}
