//! The online services' inputs: a form body and a `Cookie` header.
#![no_main]

use libfuzzer_sys::fuzz_target;
use websrm_authority::fuzzing::{cookie, form};

fuzz_target!(|data: &[u8]| {
    let fields = form(data);
    for (name, _) in fields.iter().take(4) {
        let _ = name.len();
    }
    if let Ok(text) = std::str::from_utf8(data) {
        for name in ["websrm_session", "websrm_pre", "x"] {
            if let Some(value) = cookie(text, name) {
                assert!(text.contains(value));
            }
        }
    }
});
