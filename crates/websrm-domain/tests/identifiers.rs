//! Every identifier: valid input round-trips, malformed input is rejected precisely.

use std::fmt::Display;
use std::str::FromStr;

use proptest::prelude::*;
use websrm_domain::published::MICHEL_UNTEL;
use websrm_domain::*;

fn round_trip<T>(text: &str) -> T
where
    T: FromStr<Err = ParseError> + Display + PartialEq + std::fmt::Debug,
{
    let value: T = text
        .parse()
        .unwrap_or_else(|e| panic!("{text:?} should parse: {e}"));
    let again: T = value.to_string().parse().expect("display output parses");
    assert_eq!(value, again);
    value
}

fn rejected<T: FromStr<Err = ParseError> + std::fmt::Debug>(text: &str) -> ParseError {
    match text.parse::<T>() {
        Ok(v) => panic!("{text:?} should be rejected, parsed as {v:?}"),
        Err(e) => e,
    }
}

#[test]
fn environment_codes() {
    assert_eq!(round_trip::<Environment>("DEV"), Environment::Dev);
    assert_eq!(round_trip::<Environment>("essai"), Environment::Essai);
    assert_eq!(Environment::Prod.to_string(), "PROD");
    assert!(Environment::Essai.is_conformity() && !Environment::Prod.is_conformity());
    assert_eq!(
        rejected::<Environment>("PRD"),
        ParseError::NotOneOf {
            kind: Kind::Environment,
            allowed: "DEV, ESSAI or PROD",
            found: "PRD".into()
        }
    );
}

#[test]
fn initiating_device_codes() {
    assert_eq!(round_trip::<InitiatingDevice>("SEV"), InitiatingDevice::Srs);
    assert_eq!(
        round_trip::<InitiatingDevice>("SRV"),
        InitiatingDevice::Server
    );
    assert_eq!(
        rejected::<InitiatingDevice>("SRS").kind(),
        Kind::InitiatingDevice
    );
}

#[test]
fn test_case() {
    let tc = round_trip::<TestCase>("001.001");
    assert_eq!((tc.case(), tc.step()), (1, 1));
    assert!(round_trip::<TestCase>("000.000").is_production());
    assert_eq!(TestCase::PRODUCTION.to_string(), "000.000");
    assert_eq!(
        rejected::<TestCase>("1.1"),
        ParseError::Length {
            kind: Kind::TestCase,
            min: 7,
            max: 7,
            found: 3
        }
    );
    assert_eq!(
        rejected::<TestCase>("001-001"),
        ParseError::Character {
            kind: Kind::TestCase,
            position: 4,
            expected: CharClass::Literal('.')
        }
    );
    assert_eq!(TestCase::new(1000, 0), None);
}

#[test]
fn device_id_and_the_unassigned_state() {
    let id = round_trip::<DeviceId>("7654-0955-8558");
    assert_eq!(id.as_u64(), 765_409_558_558);
    assert_eq!(
        round_trip::<DeviceId>("0000-0000-0001").to_string(),
        "0000-0000-0001"
    );
    assert_eq!(
        rejected::<DeviceId>("0000-0000-0000"),
        ParseError::UnassignedDeviceId
    );
    assert_eq!(
        round_trip::<DeviceIdState>("0000-0000-0000"),
        DeviceIdState::Unassigned
    );
    assert_eq!(
        round_trip::<DeviceIdState>("7654-0955-8558").assigned(),
        Some(id)
    );
    assert_eq!(
        rejected::<DeviceId>("7654 0955 8558"),
        ParseError::Character {
            kind: Kind::DeviceId,
            position: 5,
            expected: CharClass::Literal('-')
        }
    );
    assert_eq!(
        rejected::<DeviceId>("7654-0955-855a"),
        ParseError::Character {
            kind: Kind::DeviceId,
            position: 14,
            expected: CharClass::Digit
        }
    );
    assert_eq!(DeviceId::from_u64(0), None);
    assert_eq!(DeviceId::from_u64(DeviceId::MAX + 1), None);
}

#[test]
fn product_identifiers() {
    let p = round_trip::<PartnerId>("0123456789abcdef");
    assert_eq!(p.to_string(), "0123456789ABCDEF");
    assert_eq!(round_trip::<SrsId>("FFFFFFFFFFFFFFFF").as_u64(), u64::MAX);
    assert!(round_trip::<VersionId>("0000000000000000").is_unregistered());
    assert_eq!(
        rejected::<SrsId>("0123456789ABCDE"),
        ParseError::Length {
            kind: Kind::SrsId,
            min: 16,
            max: 16,
            found: 15
        }
    );
    assert_eq!(
        rejected::<VersionId>("0123456789ABCDEG"),
        ParseError::Character {
            kind: Kind::VersionId,
            position: 16,
            expected: CharClass::Hex
        }
    );
}

#[test]
fn certification_code() {
    let c = round_trip::<CertificationCode>("FOB201999999");
    assert!(c.is_test_code() && !c.is_uncertified());
    assert_eq!(c.prefix(), "FOB");
    assert!(round_trip::<CertificationCode>("rbc000000000").is_uncertified());
    assert_eq!(
        rejected::<CertificationCode>("FO1201999999"),
        ParseError::Character {
            kind: Kind::CertificationCode,
            position: 3,
            expected: CharClass::Letter
        }
    );
}

#[test]
fn software_version() {
    assert!(round_trip::<SoftwareVersion>("0").is_initial());
    round_trip::<SoftwareVersion>("1.2.3.beta4");
    round_trip::<SoftwareVersion>("12345678901234567890");
    assert_eq!(
        rejected::<SoftwareVersion>(""),
        ParseError::Length {
            kind: Kind::SoftwareVersion,
            min: 1,
            max: 20,
            found: 0
        }
    );
    assert_eq!(
        rejected::<SoftwareVersion>("123456789012345678901").kind(),
        Kind::SoftwareVersion
    );
    assert_eq!(
        rejected::<SoftwareVersion>("1.0-rc1"),
        ParseError::Character {
            kind: Kind::SoftwareVersion,
            position: 4,
            expected: CharClass::VersionChar
        }
    );
}

#[test]
fn sector() {
    assert_eq!(round_trip::<Sector>("RBC"), Sector::Restaurant);
    assert_eq!(round_trip::<Sector>("TRP"), Sector::Transport);
    assert!(round_trip::<Sector>("FOB").is_server());
    assert_eq!(rejected::<Sector>("ABC").kind(), Kind::Sector);
}

#[test]
fn authorization_code_is_never_debug_printed() {
    let code = round_trip::<AuthorizationCode>("d8t8-w8w8");
    assert_eq!(code.expose(), "D8T8-W8W8");
    assert_eq!(code.to_string(), "D8T8-W8W8");
    let debug = format!("{code:?} {:?}", Some(&code));
    assert!(
        !debug.contains("D8T8") && !debug.contains("W8W8"),
        "{debug}"
    );
    // X9X9-X9X9: letters or digits at odd places, digits at even places.
    round_trip::<AuthorizationCode>("5858-A8T8");
    let e = rejected::<AuthorizationCode>("D8TX-W8W8");
    assert_eq!(
        e,
        ParseError::Character {
            kind: Kind::AuthorizationCode,
            position: 4,
            expected: CharClass::Digit
        }
    );
    assert!(!e.to_string().contains("D8TX"));
}

#[test]
fn operator_numbers() {
    assert_eq!(
        round_trip::<IdentificationNumber>(MICHEL_UNTEL.identification_number).as_str(),
        MICHEL_UNTEL.identification_number
    );
    let qst = round_trip::<QstNumber>("5678912340tq0001");
    assert_eq!(qst.as_str(), "5678912340TQ0001");
    assert_eq!(qst.identification_number(), MICHEL_UNTEL.id());
    round_trip::<GstNumber>("567891234RT0001");
    round_trip::<FileNumber>("ER0001");
    assert_eq!(
        rejected::<QstNumber>("5678912340RT0001"),
        ParseError::Character {
            kind: Kind::QstNumber,
            position: 11,
            expected: CharClass::Literal('T')
        }
    );
    assert_eq!(
        rejected::<GstNumber>("567891234TQ0001").kind(),
        Kind::GstNumber
    );
    assert_eq!(
        rejected::<FileNumber>("E10001"),
        ParseError::Character {
            kind: Kind::FileNumber,
            position: 2,
            expected: CharClass::Letter
        }
    );
    assert_eq!(
        rejected::<IdentificationNumber>("567891234").kind(),
        Kind::IdentificationNumber
    );
}

#[test]
fn nickname() {
    round_trip::<Nickname>("Certificat A");
    round_trip::<Nickname>("Caisse du café #1");
    round_trip::<Nickname>("Terrasse été (2)");
    assert_eq!(
        rejected::<Nickname>("Court"),
        ParseError::Length {
            kind: Kind::Nickname,
            min: 8,
            max: 32,
            found: 5
        }
    );
    assert_eq!(rejected::<Nickname>(&"x".repeat(33)).kind(), Kind::Nickname);
    assert_eq!(
        rejected::<Nickname>(" Certificat A"),
        ParseError::Padding {
            kind: Kind::Nickname
        }
    );
    assert_eq!(
        rejected::<Nickname>("Certificat A "),
        ParseError::Padding {
            kind: Kind::Nickname
        }
    );
    assert_eq!(
        rejected::<Nickname>("Caisse/1 du bar"),
        ParseError::Character {
            kind: Kind::Nickname,
            position: 7,
            expected: CharClass::WebSrmText
        }
    );
    // Outside Latin-1, and the two Latin-1 symbols that are not letters.
    assert_eq!(rejected::<Nickname>("Caisse œuvre").kind(), Kind::Nickname);
    assert_eq!(
        rejected::<Nickname>("Caisse 2×3 bar").kind(),
        Kind::Nickname
    );
}

#[test]
fn utc_offset() {
    assert!(round_trip::<UtcOffset>("-05:00").is_allowed_for_srs());
    assert_eq!(round_trip::<UtcOffset>("-04:00"), UtcOffset::ATLANTIC);
    let server = round_trip::<UtcOffset>("+05:30");
    assert_eq!(server.minutes(), 330);
    assert!(!server.is_allowed_for_srs());
    assert_eq!(UtcOffset::EASTERN.to_string(), "-05:00");
    assert_eq!(rejected::<UtcOffset>("-5:00").kind(), Kind::UtcOffset);
    assert_eq!(
        rejected::<UtcOffset>("-05:60"),
        ParseError::OutOfRange {
            kind: Kind::UtcOffset,
            reason: "hours must be at most 23 and minutes at most 59"
        }
    );
    assert_eq!(
        rejected::<UtcOffset>("05:00"),
        ParseError::Length {
            kind: Kind::UtcOffset,
            min: 6,
            max: 6,
            found: 5
        }
    );
}

#[test]
fn serial_number_and_thumbprint() {
    let lower = "06f6e4a46206f83e36000000000000000000abcd";
    let serial = round_trip::<SerialNumber>(lower);
    assert_eq!(serial.to_string(), lower.to_ascii_uppercase());
    assert_eq!(
        serial,
        lower.to_ascii_uppercase().parse().unwrap(),
        "compare ignores case"
    );
    assert_eq!(serial.as_bytes()[0], 0x06);
    assert_eq!(
        rejected::<SerialNumber>("06:F6:E4"),
        ParseError::Length {
            kind: Kind::SerialNumber,
            min: 40,
            max: 40,
            found: 8
        }
    );
    let t = round_trip::<Thumbprint>("A94A8FE5CCB19BA61C4C0873D391E987982FBBD3");
    assert_eq!(
        format!("{t:?}"),
        "Thumbprint(A94A8FE5CCB19BA61C4C0873D391E987982FBBD3)"
    );
}

fn device_id_text() -> impl Strategy<Value = String> {
    "[0-9]{4}-[0-9]{4}-[0-9]{4}"
}

proptest! {
    #[test]
    fn device_ids_round_trip(text in device_id_text()) {
        let state: DeviceIdState = text.parse().unwrap();
        prop_assert_eq!(text.parse::<DeviceId>().is_ok(), text != "0000-0000-0000");
        prop_assert_eq!(state.to_string(), text);
    }

    #[test]
    fn device_id_numbers_round_trip(n in 1u64..=DeviceId::MAX) {
        let id = DeviceId::from_u64(n).unwrap();
        prop_assert_eq!(id.to_string().parse::<DeviceId>().unwrap(), id);
    }

    #[test]
    fn arbitrary_text_never_panics_and_only_valid_device_ids_parse(text in "\\PC{0,20}") {
        let ok = text.parse::<DeviceIdState>().is_ok();
        let shaped = text.len() == 14
            && text.chars().enumerate().all(|(i, c)| if i == 4 || i == 9 { c == '-' } else { c.is_ascii_digit() });
        prop_assert_eq!(ok, shaped);
    }

    #[test]
    fn serials_round_trip_through_bytes(bytes in proptest::array::uniform20(any::<u8>())) {
        let s = SerialNumber::from_bytes(bytes);
        let text = s.to_string();
        prop_assert_eq!(text.len(), 40);
        prop_assert_eq!(text.to_ascii_lowercase().parse::<SerialNumber>().unwrap(), s);
    }

    #[test]
    fn hex_ids_round_trip(n in any::<u64>()) {
        let id = PartnerId::from_u64(n);
        prop_assert_eq!(id.to_string().parse::<PartnerId>().unwrap(), id);
    }

    #[test]
    fn qst_numbers_round_trip(text in "[0-9]{10}TQ[0-9]{4}") {
        let qst = round_trip::<QstNumber>(&text);
        let id = qst.identification_number();
        prop_assert_eq!(id.as_str(), &text[..10]);
    }

    #[test]
    fn authorization_codes_round_trip(text in "[A-Z0-9][0-9][A-Z0-9][0-9]-[A-Z0-9][0-9][A-Z0-9][0-9]") {
        round_trip::<AuthorizationCode>(&text);
    }

    #[test]
    fn malformed_authorization_codes_are_rejected(text in "[A-Z0-9]{4}-[A-Z]{4}") {
        prop_assert!(text.parse::<AuthorizationCode>().is_err());
    }

    #[test]
    fn nicknames_round_trip(text in "[A-Za-z0-9àéèêçÉ#$%&'()*+,.=?_|~@:!-][A-Za-z0-9 àéèêçÉ@:!-]{6,30}[A-Za-z0-9àéèêç]") {
        round_trip::<Nickname>(&text);
    }

    #[test]
    fn nicknames_with_a_forbidden_character_are_rejected(
        prefix in "[A-Za-z]{4}", bad in "[/\\\\<>\\[\\]{}\"^`;]", suffix in "[A-Za-z]{4}",
    ) {
        let text = format!("{prefix}{bad}{suffix}");
        prop_assert_eq!(
            text.parse::<Nickname>(),
            Err(ParseError::Character { kind: Kind::Nickname, position: 5, expected: CharClass::WebSrmText })
        );
    }

    #[test]
    fn utc_offsets_round_trip(minutes in -1439i16..=1439) {
        let offset = UtcOffset::from_minutes(minutes).unwrap();
        prop_assert_eq!(offset.to_string().parse::<UtcOffset>().unwrap(), offset);
    }

    #[test]
    fn software_versions_round_trip(text in "[A-Za-z0-9.]{1,20}") {
        round_trip::<SoftwareVersion>(&text);
    }

    #[test]
    fn test_cases_round_trip(case in 0u16..1000, step in 0u16..1000) {
        let tc = TestCase::new(case, step).unwrap();
        prop_assert_eq!(tc.to_string().parse::<TestCase>().unwrap(), tc);
    }
}
