//! The body of a request to the authority: its structure (one `reqCertif` or `reqTrans`,
//! duplicates seen), then the transaction request's wire type.
#![no_main]

use libfuzzer_sys::fuzz_target;
use websrm_authority::fuzzing::request_fields;
use websrm_protocol::wire::{CertificateRequestBody, TransactionRequestBody};

fuzz_target!(|data: &[u8]| {
    if let Ok(fields) = request_fields(data, "certificats", "reqCertif", &["modif", "csr", "noSerie"]) {
        let mut names: Vec<&str> = fields.iter().map(|(n, _)| n.as_str()).collect();
        let count = names.len();
        names.dedup();
        assert_eq!(names.len(), count, "a repeated field was let through");
    }
    if let Ok(fields) = request_fields(data, "transaction", "reqTrans", &["transActu", "transLot"]) {
        let object = serde_json::Value::Object(fields.into_iter().collect());
        let _ = serde_json::from_value::<websrm_protocol::wire::ReqTrans>(object);
    }
    let _ = serde_json::from_slice::<CertificateRequestBody>(data);
    let _ = serde_json::from_slice::<TransactionRequestBody>(data);
});
