//! Error ids and return codes.

use proptest::prelude::*;
use websrm_domain::*;

#[test]
fn error_ids() {
    let id: ErrorId = "JW00B999421E".parse().unwrap();
    assert_eq!(id.number(), 421);
    assert_eq!(id.to_string(), "JW00B999421E");
    assert_eq!(ErrorId::CONTACT_RETAILER.to_string(), "JW00B999999E");
    assert_eq!(ErrorId::new(5).unwrap().to_string(), "JW00B999005E");
    assert_eq!(ErrorId::new(1000), None);
    assert_eq!(
        "JW00B123421E".parse::<ErrorId>(),
        Err(ParseError::Character {
            kind: Kind::ErrorId,
            position: 6,
            expected: CharClass::Literal('9')
        })
    );
    assert_eq!(
        "JW00B999421".parse::<ErrorId>(),
        Err(ParseError::Length {
            kind: Kind::ErrorId,
            min: 12,
            max: 12,
            found: 11
        })
    );
    assert_eq!(
        "JW00B99942XE".parse::<ErrorId>(),
        Err(ParseError::Character {
            kind: Kind::ErrorId,
            position: 11,
            expected: CharClass::Digit
        })
    );
}

#[test]
fn return_code_digits() {
    let code: ReturnCode = "94".parse().unwrap();
    assert_eq!(
        (code.cause(), code.origin()),
        (Cause::Software, Origin::InvalidHeader)
    );
    assert!(!code.is_retransmittable());

    let code: ReturnCode = "16".parse().unwrap();
    assert_eq!(
        (code.cause(), code.origin()),
        (Cause::UserData, Origin::InvalidInformation)
    );
    assert!(!code.is_retransmittable());

    let code: ReturnCode = "00".parse().unwrap();
    assert_eq!(
        (code.cause(), code.origin()),
        (Cause::Unexpected, Origin::Unexpected)
    );
    assert!(code.is_retransmittable());

    assert!("95".parse::<ReturnCode>().unwrap().is_retransmittable());
    assert!("91".parse::<ReturnCode>().unwrap().is_retransmittable());
    let revoked: ReturnCode = "12".parse().unwrap();
    assert_eq!(revoked.origin(), Origin::InvalidCertificate);
    assert!(!revoked.is_retransmittable());
    assert_eq!(ReturnCode::new(7).unwrap().to_string(), "07");
    assert_eq!(ReturnCode::new(55).unwrap().cause(), Cause::Other(5));
    assert_eq!(ReturnCode::new(100), None);
    assert_eq!(
        "9".parse::<ReturnCode>().unwrap_err().kind(),
        Kind::ReturnCode
    );
    assert_eq!(
        "9a".parse::<ReturnCode>().unwrap_err().kind(),
        Kind::ReturnCode
    );
}

proptest! {
    #[test]
    fn return_codes_round_trip_and_retransmission_follows_the_second_digit(v in 0u8..100) {
        let code = ReturnCode::new(v).unwrap();
        prop_assert_eq!(code.to_string().parse::<ReturnCode>().unwrap(), code);
        prop_assert_eq!(code.is_retransmittable(), matches!(v % 10, 0 | 1 | 5));
    }

    #[test]
    fn error_ids_round_trip(n in 0u16..1000) {
        let id = ErrorId::new(n).unwrap();
        prop_assert_eq!(id.to_string().parse::<ErrorId>().unwrap(), id);
    }
}
