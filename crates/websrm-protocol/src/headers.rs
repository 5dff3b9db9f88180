//! The HTTP headers of a certificate request (`ENVIRN`, `CASESSAI`, `APPRLINIT`, `IDAPPRL`,
//! `IDSEV`, `IDVERSI`, `CODCERTIF`, `IDPARTN`, `VERSI`, `VERSIPARN`), and of a transmission
//! (those, `NOTPS`, `NOTVQ`, `SIGNATRANSM`, `EMPRCERTIFTRANSM`).

use websrm_crypto::Signature;
/// The product identity, which the domain crate holds so that the registry can embed it.
pub use websrm_domain::ProductIdentity;
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

    /// Reads the headers from name/value pairs (names compared without regard to case, values
    /// taken as sent: the protocol forbids leading and trailing spaces), reporting every
    /// missing, repeated or invalid one.
    pub fn from_pairs<'a>(
        pairs: impl IntoIterator<Item = (&'a str, &'a str)> + Clone,
    ) -> Result<Self, Vec<HeaderProblem>> {
        let mut problems = repeated(pairs.clone(), &[]);
        let headers = read_common(pairs, false, &mut problems);
        match headers {
            Some(h) if problems.is_empty() => Ok(h),
            _ => Err(sorted(problems)),
        }
    }
}

/// The one value of `name`, if it is sent exactly once.
fn single<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>, name: &str) -> Option<&'a str> {
    let mut found = pairs
        .into_iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case(name));
    match (found.next(), found.next()) {
        (Some((_, v)), None) => Some(v),
        _ => None,
    }
}

/// Headers sent more than once, and headers of another version of the protocol.
fn repeated<'a>(
    pairs: impl IntoIterator<Item = (&'a str, &'a str)> + Clone,
    extra: &[&'static str],
) -> Vec<HeaderProblem> {
    let mut problems = Vec::new();
    for name in NAMES.iter().chain(extra).chain(NOT_APPLICABLE.iter()) {
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
    problems
}

/// The value of a required header, or a problem (missing, unless already found repeated).
fn required<'a>(
    pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
    name: &'static str,
    problems: &mut Vec<HeaderProblem>,
) -> Option<&'a str> {
    let value = single(pairs, name);
    let repeated = problems.iter().any(|p| p.header == name);
    if value.is_none() && !repeated {
        problems.push(HeaderProblem {
            header: name,
            kind: HeaderProblemKind::Missing,
        });
    }
    value
}

/// `value` parsed, or a problem.
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

/// The problems in the order of the protocol's table of headers (SW-73 table 21), repeated
/// and obsolete headers first.
fn sorted(mut problems: Vec<HeaderProblem>) -> Vec<HeaderProblem> {
    problems.sort_by_key(|p| {
        let first = matches!(
            p.kind,
            HeaderProblemKind::Repeated | HeaderProblemKind::NotApplicable
        );
        let at = TRANSMISSION_ORDER
            .iter()
            .position(|n| *n == p.header)
            .unwrap_or(TRANSMISSION_ORDER.len());
        (!first, at)
    });
    problems
}

/// Every header of a transmission, in the protocol's order (SW-73 table 21).
pub const TRANSMISSION_ORDER: [&str; 14] = [
    "ENVIRN",
    "CASESSAI",
    "NOTPS",
    "NOTVQ",
    "APPRLINIT",
    "IDAPPRL",
    "IDSEV",
    "IDVERSI",
    "CODCERTIF",
    "IDPARTN",
    "VERSI",
    "VERSIPARN",
    "SIGNATRANSM",
    "EMPRCERTIFTRANSM",
];

/// The headers every request carries. A transmission (`transmission`) is always initiated by
/// an SRS (`APPRLINIT` `SEV`, SW-73 table 21) and always names its device.
fn read_common<'a>(
    pairs: impl IntoIterator<Item = (&'a str, &'a str)> + Clone,
    transmission: bool,
    problems: &mut Vec<HeaderProblem>,
) -> Option<CertificateHeaders> {
    let environment = required(pairs.clone(), "ENVIRN", problems);
    let environment = parsed::<Environment>("ENVIRN", environment, problems);
    let test_case = required(pairs.clone(), "CASESSAI", problems);
    let test_case = parsed::<TestCase>("CASESSAI", test_case, problems);
    let initiating_text = required(pairs.clone(), "APPRLINIT", problems);
    let mut initiating = parsed::<InitiatingDevice>("APPRLINIT", initiating_text, problems);
    if transmission && initiating == Some(InitiatingDevice::Server) {
        problems.push(HeaderProblem {
            header: "APPRLINIT",
            kind: HeaderProblemKind::Invalid(initiating_text.unwrap_or_default().to_owned()),
        });
        initiating = None;
    }
    // IDAPPRL: whether it must be present depends on APPRLINIT.
    let device_text = single(pairs.clone(), "IDAPPRL");
    let device = parsed::<DeviceIdState>("IDAPPRL", device_text, problems);
    let device_required = transmission || initiating == Some(InitiatingDevice::Srs);
    if device_required && device_text.is_none() && !problems.iter().any(|p| p.header == "IDAPPRL") {
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
    let srs_id = required(pairs.clone(), "IDSEV", problems);
    let srs_id = parsed::<SrsId>("IDSEV", srs_id, problems);
    let version_id = required(pairs.clone(), "IDVERSI", problems);
    let version_id = parsed::<VersionId>("IDVERSI", version_id, problems);
    let code = required(pairs.clone(), "CODCERTIF", problems);
    let code = parsed::<CertificationCode>("CODCERTIF", code, problems);
    let partner_id = required(pairs.clone(), "IDPARTN", problems);
    let partner_id = parsed::<PartnerId>("IDPARTN", partner_id, problems);
    let version = required(pairs.clone(), "VERSI", problems);
    let version = parsed::<SoftwareVersion>("VERSI", version, problems);
    let parent = required(pairs, "VERSIPARN", problems);
    let parent = parsed::<SoftwareVersion>("VERSIPARN", parent, problems);
    Some(CertificateHeaders {
        environment: environment?,
        test_case: test_case?,
        initiating: initiating?,
        device,
        srs_id: srs_id?,
        version_id: version_id?,
        certification_code: code?,
        partner_id: partner_id?,
        version: version?,
        parent_version: parent?,
    })
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

    /// Reads the headers of a transmission, reporting every missing, repeated or invalid one
    /// in the protocol's order. `APPRLINIT` must be `SEV` and `IDAPPRL` present.
    pub fn from_pairs<'a>(
        pairs: impl IntoIterator<Item = (&'a str, &'a str)> + Clone,
    ) -> Result<Self, Vec<HeaderProblem>> {
        const OWN: [&str; 4] = ["NOTPS", "NOTVQ", "SIGNATRANSM", "EMPRCERTIFTRANSM"];
        let mut problems = repeated(pairs.clone(), &OWN);
        let document = read_document(pairs.clone(), &mut problems);
        let (common, gst, qst) = match document {
            Some(d) => (Some(d.common), Some(d.gst), Some(d.qst)),
            None => (None, None, None),
        };
        let signature = required(pairs.clone(), "SIGNATRANSM", &mut problems);
        let signature = signature.and_then(|s| match Signature::from_base64(s) {
            Ok(sig) if s.len() == 88 => Some(sig),
            _ => {
                problems.push(HeaderProblem {
                    header: "SIGNATRANSM",
                    kind: HeaderProblemKind::Invalid(s.to_owned()),
                });
                None
            }
        });
        let thumbprint = required(pairs, "EMPRCERTIFTRANSM", &mut problems);
        let thumbprint = parsed::<Thumbprint>("EMPRCERTIFTRANSM", thumbprint, &mut problems);
        match (common, gst, qst, signature, thumbprint) {
            (Some(common), Some(gst), Some(qst), Some(signature), Some(thumbprint))
                if problems.is_empty() =>
            {
                Ok(Self {
                    common,
                    gst,
                    qst,
                    signature,
                    thumbprint,
                })
            }
            _ => Err(sorted(problems)),
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

/// The HTTP headers of a `/document` request: those of a transmission but the signature, which
/// the document carries itself (SW-73 table 26).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DocumentHeaders {
    /// `ENVIRN` to `VERSIPARN`, `IDAPPRL` being the device that produced the document.
    pub common: CertificateHeaders,
    /// `NOTPS`.
    pub gst: GstNumber,
    /// `NOTVQ`.
    pub qst: QstNumber,
}

impl DocumentHeaders {
    /// The headers of a document request.
    pub fn new(common: CertificateHeaders, gst: GstNumber, qst: QstNumber) -> Self {
        Self { common, gst, qst }
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
        pairs
    }

    /// Reads the headers of a document request, reporting every missing, repeated or invalid
    /// one in the protocol's order. `APPRLINIT` must be `SEV` and `IDAPPRL` present.
    pub fn from_pairs<'a>(
        pairs: impl IntoIterator<Item = (&'a str, &'a str)> + Clone,
    ) -> Result<Self, Vec<HeaderProblem>> {
        let mut problems = repeated(pairs.clone(), &["NOTPS", "NOTVQ"]);
        match read_document(pairs, &mut problems) {
            Some(h) if problems.is_empty() => Ok(h),
            _ => Err(sorted(problems)),
        }
    }
}

/// The headers of an SRS's request that names its operator: the common ones, `NOTPS` and
/// `NOTVQ`.
fn read_document<'a>(
    pairs: impl IntoIterator<Item = (&'a str, &'a str)> + Clone,
    problems: &mut Vec<HeaderProblem>,
) -> Option<DocumentHeaders> {
    let common = read_common(pairs.clone(), true, problems);
    let gst = required(pairs.clone(), "NOTPS", problems);
    let gst = parsed::<GstNumber>("NOTPS", gst, problems);
    let qst = required(pairs, "NOTVQ", problems);
    let qst = parsed::<QstNumber>("NOTVQ", qst, problems);
    Some(DocumentHeaders {
        common: common?,
        gst: gst?,
        qst: qst?,
    })
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
