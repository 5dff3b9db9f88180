//! The online services' inputs as the authority reads them: a form body (axum's `Form`, into
//! each page's typed form) and a `Cookie` header (axum-extra's `CookieJar`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use websrm_authority::fuzzing::{cookie, form};

fuzz_target!(|data: &[u8]| {
    // Each page's typed form reads the body without panicking, whatever it holds.
    let (_typed, fields) = form(data);
    for (name, _) in fields.iter().take(4) {
        let _ = name.len();
    }
    if let Ok(text) = std::str::from_utf8(data) {
        for name in ["websrm_session", "websrm_pre", "x"] {
            if let Some(value) = cookie(text, name) {
                // Percent-decoded, so not always a substring; never longer than the header.
                assert!(value.len() <= text.len());
            }
        }
    }
});
