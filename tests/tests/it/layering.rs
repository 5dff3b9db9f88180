//! The facade and the lower crates speak the same domain types.

use websrm_tests::{websrm, websrm_domain};

#[test]
fn facade_reexports_the_domain_types() {
    let id: websrm::domain::DeviceId = "1717-0955-5555".parse().expect("valid device id");
    let same: websrm_domain::DeviceId = id;
    assert_eq!(same.as_u64(), 171_709_555_555);
}
