//! Request headers, as lines `NAME: value`: every problem reported, no panic; accepted headers
//! write back to pairs that parse to the same headers.
#![no_main]

use libfuzzer_sys::fuzz_target;
use websrm_protocol::headers::CertificateHeaders;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let pairs: Vec<(&str, &str)> = text
        .lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim(), v.trim()))
        .collect();
    if let Ok(headers) = CertificateHeaders::from_pairs(pairs.iter().copied()) {
        let written = headers.to_pairs();
        let again = CertificateHeaders::from_pairs(written.iter().map(|(n, v)| (*n, v.as_str())))
            .expect("what was accepted and written back is accepted");
        assert_eq!(again, headers);
    }
});
