//! The SRS side: an HTTP answer from the authority (head, length or chunks), then its body as
//! `retourCertif` read into domain types, and as `retourTrans`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use websrm_protocol::fuzzing::parse_response;
use websrm_protocol::wire::{CertificateAnswer, CertificateResponseBody, TransactionResponseBody};

fuzz_target!(|data: &[u8]| {
    let body = match parse_response(data) {
        Some((_, body)) => body,
        None => data.to_vec(),
    };
    if let Ok(parsed) = serde_json::from_slice::<CertificateResponseBody>(&body) {
        if let Ok(answer) = CertificateAnswer::try_from(&parsed.retour_certif) {
            let _ = answer.device_id;
        }
    }
    let _ = serde_json::from_slice::<TransactionResponseBody>(&body);
});
