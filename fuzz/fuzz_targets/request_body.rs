//! The body of a request to the authority: its structure (one `reqCertif`, `reqTrans`,
//! `reqUtil` or `reqDoc`, duplicates seen), then the typed certificate requests, transactions,
//! user requests and documents: each one read is written back and read again as itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use websrm_protocol::transaction::{Checks, read_request, read_transaction};
use websrm_protocol::document::DocumentRequest;
use websrm_protocol::request::{CertificateRequest, CertificateService, request_fields};
use websrm_protocol::user::UserRequest;
use websrm_protocol::wire::{CertificateRequestBody, TransactionRequestBody};

fuzz_target!(|data: &[u8]| {
    if let Ok(fields) = request_fields(data, "certificats", "reqCertif", &["modif", "csr", "noSerie"]) {
        let mut names: Vec<&str> = fields.iter().map(|(n, _)| n.as_str()).collect();
        let count = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), count, "a repeated field was let through");
    }
    for service in [CertificateService::Enrolment, CertificateService::Certificates] {
        if let Ok(request) = CertificateRequest::read(data, service) {
            let body = CertificateRequestBody::from(&request.modification);
            let again = CertificateRequest::read(&serde_json::to_vec(&body).expect("JSON"), service)
                .map(|again| again.modification);
            assert_eq!(again, Ok(request.modification), "a certificate request read is not written back as itself");
        }
    }
    if let Ok(fields) = request_fields(data, "transaction", "reqTrans", &["transActu", "transLot"]) {
        let object = serde_json::Value::Object(fields.into_iter().collect());
        let _ = serde_json::from_value::<websrm_protocol::wire::ReqTrans>(object);
    }
    if let Ok(body) = serde_json::from_slice::<serde_json::Value>(data)
        && let Ok(request) = read_request(&body, Checks::default().with_sums())
    {
        for t in request.current.into_iter().chain(request.batch).flatten() {
            let again = read_transaction(&t.to_json(), "transActu", Checks::default().with_sums());
            assert_eq!(again.as_ref(), Ok(&t), "a transaction read is not written back as itself");
        }
    }
    if let Ok(fields) = request_fields(data, "utilisateur", "reqUtil", &["modif", "nomUtil", "noTax"])
        && let Ok(user) = UserRequest::read(&fields.into_iter().collect())
    {
        let again = user.to_body();
        let again = UserRequest::read(again["reqUtil"].as_object().expect("an object"));
        assert_eq!(again.as_ref(), Ok(&user), "a user request read is not written back as itself");
    }
    if let Ok(fields) = request_fields(data, "document", "reqDoc", &["typDoc", "doc"])
        && let Ok(document) = DocumentRequest::read(&fields.into_iter().collect())
    {
        let again = document.to_body();
        let again = DocumentRequest::read(again["reqDoc"].as_object().expect("an object"));
        assert_eq!(again.as_ref(), Ok(&document), "a document read is not written back as itself");
    }
    let _ = serde_json::from_slice::<CertificateRequestBody>(data);
    let _ = serde_json::from_slice::<TransactionRequestBody>(data);
});
