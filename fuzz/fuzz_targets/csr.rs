//! A CSR from untrusted bytes: as DER (`validate_csr_der`) and as the `csr` field's text, one
//! line or wrapped PEM (`validate_csr`). Nothing may panic; an accepted CSR's subject is a valid
//! WEB-SRM subject that rebuilds to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use websrm_crypto::{Csr, validate_csr, validate_csr_der};
use websrm_domain::{RawSubject, Subject};

fuzz_target!(|data: &[u8]| {
    if let Ok(validated) = validate_csr_der(Csr::from_der(data.to_vec())) {
        // Its attributes, read again as a CSR's subject, are the same subject.
        let mut raw = RawSubject::new();
        for (attribute, value) in validated.subject.attributes() {
            raw.push(attribute, value);
        }
        assert_eq!(Subject::from_attributes(&raw).as_ref(), Ok(&validated.subject));
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = validate_csr(text);
        let _ = Csr::from_wire(text);
    }
});
