//! The SRS side: a CRL and an issuer certificate from the authority's addresses. A CRL is
//! read and its signature checked with a fixed CA; any certificate is inspected.
#![no_main]

use libfuzzer_sys::fuzz_target;
use websrm_crypto::{inspect_certificate, verify_crl};

/// The CA of the seed CRLs, made by a websrm authority.
const CA: &[u8] = include_bytes!("../seeds/ca.der");

fuzz_target!(|data: &[u8]| {
    if let Ok(info) = verify_crl(data, CA) {
        assert!(info.revoked.len() <= data.len());
    }
    let _ = inspect_certificate(data);
});
