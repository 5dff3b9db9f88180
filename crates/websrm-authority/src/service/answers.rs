//! Request bodies in, answers out, and refusals as the protocol's error ids.

use super::*;

pub(super) fn findings_refusal(findings: Vec<CsrFinding>) -> Refusal {
    Refusal(
        findings
            .into_iter()
            .map(|f| (finding_code(f), Vec::new()))
            .collect(),
    )
}

/// The catalogue's error for a CSR finding: `CsrFinding::error_id` is the one table from
/// findings to ids, and every id it gives is in the catalogue (tested).
pub(super) fn finding_code(f: CsrFinding) -> E {
    E::from_id(f.error_id()).unwrap_or_else(|| {
        tracing::error!(id = %f.error_id(), "a CSR finding's id is not in the catalogue");
        E::Unexpected
    })
}

pub(super) fn registry_refusal(e: websrm_registry::Error) -> Refusal {
    match e {
        websrm_registry::Error::NicknameInUse(n) => Refusal::one(E::NicknameInUse, &[n.as_str()]),
        other => internal(other),
    }
}

pub(crate) fn internal(e: impl std::fmt::Display) -> Refusal {
    tracing::error!(error = %e, "unexpected error");
    Refusal::one(E::Unexpected, &[])
}

/// `casEssai` after `tc`: the next step of the case, and after a certificate case's last step
/// the case that follows it in the published order (the user cases after the SRS's, the SRS's
/// in server mode after the server administrator's).
pub(crate) fn next_test_case(tc: TestCase) -> Option<String> {
    if tc.is_production() {
        return None;
    }
    let next = match (tc.case(), tc.step()) {
        (1, 8) => TestCase::new(2, 1),
        (501, 8) => TestCase::new(502, 1),
        (500, 4) => TestCase::new(501, 1),
        (case, step) => TestCase::new(case, step + 1),
    };
    Some(next.unwrap_or(tc).to_string())
}

pub(super) fn subject_text(csr: &ValidatedCsr) -> String {
    csr.subject
        .attributes()
        .iter()
        .map(|(a, v)| format!("{}={v}", a.short_name()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// What the audit entry of a refusal is about: the device header, if any.
pub(super) fn subject_hint(request: &Request) -> String {
    request
        .headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("IDAPPRL"))
        .map_or_else(|| "-".to_owned(), |(_, v)| v.chars().take(20).collect())
}

pub(super) fn success(status: u16, retour: RetourCertif) -> Response {
    let body = serde_json::to_vec(&CertificateResponseBody {
        retour_certif: retour,
    })
    .unwrap_or_default();
    Response { status, body }
}

pub(super) fn refusal_response(errors: &[(E, Vec<String>)]) -> Response {
    let mut list: Vec<WireError> = errors
        .iter()
        .map(|(c, args)| {
            WireError::from_catalogue(*c, &args.iter().map(String::as_str).collect::<Vec<_>>())
        })
        .collect();
    if errors.iter().any(|(c, _)| c.entry().has_companion()) {
        list.push(WireError::from_catalogue(E::ContactRetailer, &[]));
    }
    success(
        400,
        RetourCertif {
            list_err: Some(list),
            ..RetourCertif::default()
        },
    )
}
