//! The error catalogue: every id is there once, by name, with consistent messages in both
//! languages, and no rendered message keeps a placeholder.

use websrm_domain::ErrorId;
use websrm_domain::published::MICHEL_UNTEL;
use websrm_protocol::catalogue::{CATALOGUE, ErrorCode, english_for, lookup, values_in};
use websrm_protocol::wire::{AuthorityError, WireError};

#[test]
fn every_code_is_in_the_catalogue_once_under_its_own_number() {
    assert_eq!(ErrorCode::ALL.len(), CATALOGUE.len());
    for code in ErrorCode::ALL {
        let entry = code.entry();
        assert_eq!(entry.code, *code);
        assert_eq!(entry.number, code.number());
        assert_eq!(
            CATALOGUE
                .iter()
                .filter(|e| e.number == code.number())
                .count(),
            1,
            "error {:03}",
            code.number()
        );
        assert_eq!(
            ErrorId::new(code.number()).map(|i| i.number()),
            Some(code.number())
        );
        assert_eq!(code.id().number(), code.number());
        assert_eq!(ErrorCode::from_id(code.id()), Some(*code));
        assert_eq!(lookup(code.id()).map(|e| e.code), Some(*code));
    }
    assert_eq!(
        CATALOGUE.last().map(|e| e.code),
        Some(ErrorCode::ContactRetailer),
        "the companion comes last"
    );
}

#[test]
fn an_id_outside_the_catalogue_is_not_looked_up_as_another() {
    let unknown = ErrorId::new(123).unwrap();
    assert_eq!(lookup(unknown), None);
    assert_eq!(ErrorCode::from_id(unknown), None);
    assert_eq!(english_for(unknown, "Un message."), None);
}

#[test]
fn messages_fit_the_protocol_and_agree_between_languages() {
    for e in CATALOGUE {
        let filled = e.french_with(&["0123456789ABCDEF0123456789ABCDEF01234567", "ESSAI"]);
        assert!(
            (3..=128).contains(&filled.chars().count()),
            "{}: {filled}",
            e.number
        );
        for placeholder in ["{0}", "{1}"] {
            assert_eq!(
                e.french.contains(placeholder),
                e.english.contains(placeholder),
                "{} {placeholder}",
                e.number
            );
        }
        assert_eq!(e.id().to_string().len(), 12);
    }
    assert_eq!(
        ErrorCode::ContactRetailer.entry().return_code(),
        None,
        "the companion has no codRetour"
    );
    assert!(
        ErrorCode::CsrInvalid.entry().has_companion()
            && !ErrorCode::IdentificationNumberUnknown
                .entry()
                .has_companion()
    );
}

/// Whatever values an error was given (none, some, all), neither language shows a raw `{n}`,
/// and the English text of what the authority sent carries the same values.
#[test]
fn no_rendered_message_keeps_a_placeholder() {
    let values = [MICHEL_UNTEL.identification_number, "DEV"];
    for e in CATALOGUE {
        for n in 0..=values.len() {
            let french = e.french_with(&values[..n]);
            let english = e.english_with(&values[..n]);
            for text in [&french, &english] {
                assert!(
                    !text.contains("{0}") && !text.contains("{1}"),
                    "{:03} with {n} values: {text}",
                    e.number
                );
                assert!(!text.contains("  "), "{:03}: {text}", e.number);
            }
            // What a client shows in English for the French message it received.
            let wire = WireError::from_catalogue(e.code, &values[..n]);
            let received = AuthorityError::try_from(&wire).unwrap();
            let shown = received.english().unwrap();
            assert!(!shown.contains('{'), "{:03}: {shown}", e.number);
            if n == values.len() {
                assert_eq!(shown, english, "{:03}", e.number);
            }
        }
    }
}

#[test]
fn the_values_of_a_french_message_give_the_english_one() {
    let e = ErrorCode::CertificateRevoked.entry();
    let french = e.french_with(&["6A1B2C3D4E5F60718293A4B5C6D7E8F901234567"]);
    assert_eq!(
        values_in(e.french, &french),
        Some(vec!["6A1B2C3D4E5F60718293A4B5C6D7E8F901234567".to_owned()])
    );
    assert_eq!(
        english_for(e.id(), &french).as_deref(),
        Some(
            "The certificate 6A1B2C3D4E5F60718293A4B5C6D7E8F901234567 used for authentication is revoked."
        )
    );
    // Another authority's wording: the English text without the values, never a placeholder.
    assert_eq!(
        english_for(e.id(), "Certificat révoqué.").as_deref(),
        Some("The certificate used for authentication is revoked.")
    );
    let two = ErrorCode::CertificationCodeConformity.entry();
    let french = two.french_with(&["RBC000000000", "ESSAI"]);
    assert_eq!(
        english_for(two.id(), &french).as_deref(),
        Some("The certification code RBC000000000 is not valid in the ESSAI environment.")
    );
}
